import Foundation
import TRWCore
import TRWSimulator
import TRWV4L2
import TRWALSA
import Logging

/// Turns a rig choice into sources.
public enum RigBuilder {
    public struct Built: Sendable {
        public var sources: [any Source]
        /// Whether the rig runs in real time (so a duration is also wall-clock time).
        public var realTime: Bool
        /// The rig configuration as recorded in the session.
        public var configText: String
        /// The rig file, when the rig came from one (stop rules, cell, protocol).
        public var rigFile: RigFile? = nil

        public init(sources: [any Source], realTime: Bool, configText: String, rigFile: RigFile? = nil) {
            self.sources = sources
            self.realTime = realTime
            self.configText = configText
            self.rigFile = rigFile
        }
    }

    public static func build(_ choice: RigChoice, speed: RigSpeed, durationS: Double?) throws -> Built {
        switch choice {
        case .synthetic:
            var o = SyntheticSource.Options()
            o.durationS = durationS
            o.paced = speed != .max
            return Built(sources: [SyntheticSource(options: o)], realTime: o.paced,
                         configText: "rig = \"synthetic\"\n# \(o.width)x\(o.height) @ \(o.fps) fps, AE \(o.aeRateHz) Hz x \(o.aeChannels), BMS \(o.bmsRateHz) Hz\n")
        case .file(let path):
            let rig = try RigFile.load(path: path)
            return Built(sources: try rig.makeSources(), realTime: true, configText: rig.text, rigFile: rig)
        case .sim(let name):
            let scenario = try Scenario.named(name ?? "demo")
            var o = SimulatedRig.Options()
            switch speed {
            case .max: o.pacing = .max
            case .realTime(let n): o.pacing = .realTime(speed: n)
            }
            if let d = durationS { o.durationCapS = d }
            let rig = SimulatedRig(scenario: scenario, options: o)
            return Built(sources: [rig], realTime: speed == .realTime(1),
                         configText: "rig = \"\(choice.name)\"\n# scenario \(scenario.name), seed \(scenario.seed)\n")
        }
    }
}
