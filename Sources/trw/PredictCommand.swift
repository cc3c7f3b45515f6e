import ArgumentParser
import Foundation
import TRWAnalysis
import TRWDatasets
import TRWStore
import TRWLive

struct PredictCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "predict",
        abstract: "Run a detector online over a session (causal) and store its scores and alarms in the session.",
        discussion: """
            Built-in detectors: \(DetectorRegistry.builtIn.joined(separator: ", ")). An external detector is any \
            program given as exec:COMMAND that reads the replay stream on stdin and answers each tick with \
            {"t": T, "score": S} on stdout (schemas/predictor-protocol.md). Every wait on it is bounded \
            (--answer-timeout, --startup-timeout, --exit-timeout); a detector that fails part-way is stopped, \
            the scores it gave before are stored, the ticks it did not score are a detector_failure gap, and \
            trw exits 1. Scores must be in [0, 1].
            """)

    @Argument(help: "The session file.") var session: String
    @Option(name: .long, help: "Detector name, dplstm:MODEL_DIR (the DP-LSTM run in Swift) or exec:COMMAND.") var detector: String
    @Option(name: .long, help: "Tick rate, Hz.") var rate: Double = 1
    @Option(name: .long, help: "Alarm when the score is above 0.5 for K consecutive ticks.") var alarmK: Int = 1
    @Option(name: .long, help: "Run id stored with the scores (default: a timestamp).") var runId: String?
    @Option(name: .long, help: "exec: detectors: frame events none, ref, or WxH downsampled arrays in °C (image models such as mm-serve).") var frames: String = "none"
    @OptionGroup var external: ExternalDetectorOptions

    func validate() throws {
        if !detector.hasPrefix("exec:") && !DetectorRegistry.isKnown(detector) {
            throw ValidationError("unknown detector '\(detector)'; built-in: \(DetectorRegistry.builtIn.joined(separator: ", ")), or exec:COMMAND")
        }
        try OptionCheck.integer(alarmK, "--alarm-k", 1...1_000_000, unit: "ticks")
        try OptionCheck.tickRate(rate)
        if frames != "none" && frames != "ref" && ExportCommand.size(frames) == nil { throw ValidationError("--frames must be none, ref or WxH (1x1 to 1024x1024), got '\(frames)'") }
    }

    func run() throws {
        let r = try SessionReader(path: session)
        var fo = FeatureOptions()
        fo.rateHz = rate
        let id = runId ?? ISOTime.now()
        let run: PredictionRun
        var damagedNote = ""
        if detector.hasPrefix("exec:") {
            var ro = ReplayOptions()
            ro.features = fo
            ro.includeLabels = false
            ro.frames = try ReplayCommand.parseFrames(frames)
            let events = try ReplayBuilder.events(r, options: ro)
            let n = ReplayBuilder.damagedPayloadCount(events)
            if n > 0 { damagedNote = "skipped \(n) damaged payload(s) (sent as damaged_payload gap events)" }
            run = try Predictor.runExternal(command: String(detector.dropFirst(5)), events: events,
                                            alarm: AlarmRule(k: alarmK), runId: id, limits: external.limits)
        } else {
            let table = try FeatureExtractor.extract(r, options: fo)
            if !table.damaged.isEmpty { damagedNote = table.damaged.summary }
            if let n = table.serialRoles.note { printErr("note: \(session): \(n)") }
            run = try Predictor.runBuiltIn(detector, table: table, alarm: AlarmRule(k: alarmK), runId: id)
        }
        if !damagedNote.isEmpty { print("warning: " + damagedNote) }
        try Predictor.store(run, in: session)
        let lat = run.latenciesNs.map { Double($0) / 1000 }
        print("\(run.detector): \(run.scores.count) scores stored (run \(id)); alarms at: "
              + (run.alarmTimesS.isEmpty ? "none" : run.alarmTimesS.map { String(format: "%.1f s", $0) }.joined(separator: ", "))
              + String(format: "; latency p50 %.1f µs, p99 %.1f µs", Scoring.percentile(lat, 50), Scoring.percentile(lat, 99)))
        if let n = run.exitNote { printErr("warning: \(n)") }
        if let f = run.failure {
            printErr("error: \(f). The \(run.scores.count) scores are stored (run \(id)); the \(run.unscoredTicks) unscored ticks are a detector_failure gap.")
            throw ExitCode.failure
        }
    }
}
