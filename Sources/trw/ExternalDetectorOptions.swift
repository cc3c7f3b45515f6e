import ArgumentParser
import Foundation
import TRWAnalysis
import TRWDatasets
import TRWStore
import TRWLive

/// Time limits on exec: detectors (schemas/predictor-protocol.md), shared by predict and score.
struct ExternalDetectorOptions: ParsableArguments {
    @Option(name: .long, help: "exec: detectors: seconds to wait for the answer to one tick (and for the detector to take one input line) before it is stopped as hung.")
    var answerTimeout: Double = ExternalDetectorLimits().answerTimeoutS
    @Option(name: .long, help: "exec: detectors: seconds to wait for the first answer (program start, model loading).")
    var startupTimeout: Double = ExternalDetectorLimits().startupTimeoutS
    @Option(name: .long, help: "exec: detectors: seconds a detector has to exit after the end of its input before it gets SIGTERM (then SIGKILL after 2 s).")
    var exitTimeout: Double = ExternalDetectorLimits().exitTimeoutS

    static let range = 0.001...86_400.0

    func validate() throws {
        for (name, v) in [("--answer-timeout", answerTimeout), ("--startup-timeout", startupTimeout), ("--exit-timeout", exitTimeout)] {
            guard v.isFinite, Self.range.contains(v) else {
                throw ValidationError("\(name) must be a number of seconds in [\(Self.range.lowerBound), \(Int(Self.range.upperBound))], got \(v)")
            }
        }
    }

    var limits: ExternalDetectorLimits {
        var l = ExternalDetectorLimits()
        l.answerTimeoutS = answerTimeout
        l.startupTimeoutS = startupTimeout
        l.exitTimeoutS = exitTimeout
        return l
    }
}
