import ArgumentParser
import Foundation
import TRWAnalysis
import TRWDatasets
import TRWStore

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

struct ScoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "score",
        abstract: "Score detectors on sessions side by side: event recall, false alarms, lead time, latency (docs/metrics.md).")

    @Argument(help: "Session files (runs with and without a runaway_onset label).") var sessions: [String]
    @Option(name: .long, help: "Comma-separated detectors (built-in names, dplstm:MODEL_DIR or exec:COMMAND), each optionally LABEL=SPEC; labels NAME@SEED are grouped in --table1.") var detectors: String = "gb38031,dtdt,vdrop"
    @Option(name: .long, help: "The label set defining onset on every run (trw label sets lists them). Default, per run: \(LabelSetSelection.precedence).") var labelSet: String?
    @Option(name: .long, help: "Only labels of this method define onset, e.g. simulator_ground_truth or manual.") var labelMethod: String?
    @Option(name: .long, help: "Detection window starts this many seconds before onset.") var early: Double = 600
    @Option(name: .long, help: "Detection window ends this many seconds after onset.") var late: Double = 10
    @Option(name: .long, help: "Alarm after K consecutive ticks above 0.5.") var alarmK: Int = 1
    @Option(name: .long, help: "Tick rate, Hz.") var rate: Double = 1
    @Option(name: .long, help: "Also write the table as CSV.") var csv: String?
    @Option(name: .long, help: "Also write JSON (with every lead time).") var json: String?
    @Option(name: .long, help: "Also write the lead-time figure (SVG).") var svg: String?
    @Flag(name: .long, help: "Also print the DP-LSTM paper's Table 1 (per-tick accuracy, precision, recall, F1, AUC, false-alarm rate; lead time; time per step), mean ± std over NAME@SEED groups.") var table1 = false
    @Option(name: .long, help: "Table 1: a tick is positive when onset is at most this many seconds ahead (the export's horizon).") var horizon: Double = 60
    @Option(name: .long, help: "Also write Table 1 as CSV.") var table1Csv: String?
    @Option(name: .long, help: "exec: detectors: frame events none, ref, or WxH downsampled arrays in °C (image models such as mm-serve).") var frames: String = "none"
    @OptionGroup var external: ExternalDetectorOptions

    func validate() throws {
        try OptionCheck.number(early, "--early", OptionCheck.secondsRange, unit: "seconds")
        try OptionCheck.number(late, "--late", OptionCheck.secondsRange, unit: "seconds")
        try OptionCheck.integer(alarmK, "--alarm-k", 1...1_000_000, unit: "ticks")
        try OptionCheck.tickRate(rate)
        try OptionCheck.number(horizon, "--horizon", OptionCheck.secondsRange, openLower: true, unit: "seconds")
        if frames != "none" && frames != "ref" && ExportCommand.size(frames) == nil { throw ValidationError("--frames must be none, ref or WxH (1x1 to 1024x1024), got '\(frames)'") }
    }

    func run() throws {
        var o = ScoreOptions()
        o.detectors = detectors.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        o.window = ScoringWindow(earlyS: early, lateS: late)
        o.alarm = AlarmRule(k: alarmK)
        o.features.rateHz = rate
        o.labelSet = labelSet
        o.labelMethod = labelMethod
        o.frames = try ReplayCommand.parseFrames(frames)
        o.externalLimits = external.limits
        let report = try ScoreReport.run(sessions: sessions, options: o) { printErr("scoring \($0)") }
        for n in report.notes { printErr("note: \(n)") }
        print(report.table)
        if !report.damaged.isEmpty { print("warning: " + report.damaged.summary) }
        if let csv { try report.csv.write(toFile: csv, atomically: true, encoding: .utf8) }
        if let json { try report.json.write(toFile: json, atomically: true, encoding: .utf8) }
        if let svg { try report.svg.write(toFile: svg, atomically: true, encoding: .utf8) }
        if table1 || table1Csv != nil {
            let t = report.table1(horizonS: horizon)
            if table1 { print("\n" + t.text) }
            if let table1Csv { try t.csv.write(toFile: table1Csv, atomically: true, encoding: .utf8) }
        }
        for n in report.notes { printErr("warning: \(n)") }
        if !report.failures.isEmpty {
            for f in report.failures { printErr("error: \(f)") }
            printErr("error: \(report.failures.count) exec: detector run(s) failed part-way; their scores up to the failure are counted above")
            throw ExitCode.failure
        }
    }
}
