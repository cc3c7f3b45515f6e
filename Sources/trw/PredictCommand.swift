import ArgumentParser
import Foundation
import TRWAnalysis
import TRWDatasets
import TRWStore

struct PredictCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "predict",
        abstract: "Run a detector online over a session (causal) and store its scores and alarms in the session.",
        discussion: """
            Built-in detectors: \(DetectorRegistry.builtIn.joined(separator: ", ")). An external detector is any \
            program given as exec:COMMAND that reads the replay stream on stdin and answers each tick with \
            {"t": T, "score": S} on stdout (schemas/predictor-protocol.md).
            """)

    @Argument(help: "The session file.") var session: String
    @Option(name: .long, help: "Detector name, dplstm:MODEL_DIR (the DP-LSTM run in Swift) or exec:COMMAND.") var detector: String
    @Option(name: .long, help: "Tick rate, Hz.") var rate: Double = 1
    @Option(name: .long, help: "Alarm when the score is above 0.5 for K consecutive ticks.") var alarmK: Int = 1
    @Option(name: .long, help: "Run id stored with the scores (default: a timestamp).") var runId: String?
    @Option(name: .long, help: "exec: detectors: frame events none, ref, or WxH downsampled arrays in °C (image models such as mm-serve).") var frames: String = "none"

    func validate() throws {
        if !detector.hasPrefix("exec:") && !DetectorRegistry.isKnown(detector) {
            throw ValidationError("unknown detector '\(detector)'; built-in: \(DetectorRegistry.builtIn.joined(separator: ", ")), or exec:COMMAND")
        }
        if alarmK < 1 { throw ValidationError("--alarm-k must be at least 1") }
    }

    func run() throws {
        let r = try SessionReader(path: session)
        var fo = FeatureOptions()
        fo.rateHz = rate
        let id = runId ?? ISOTime.now()
        let run: PredictionRun
        if detector.hasPrefix("exec:") {
            var ro = ReplayOptions()
            ro.features = fo
            ro.includeLabels = false
            ro.frames = try ReplayCommand.parseFrames(frames)
            run = try Predictor.runExternal(command: String(detector.dropFirst(5)), events: try ReplayBuilder.events(r, options: ro),
                                            alarm: AlarmRule(k: alarmK), runId: id)
        } else {
            let table = try FeatureExtractor.extract(r, options: fo)
            if let n = table.serialRoles.note { printErr("note: \(session): \(n)") }
            run = try Predictor.runBuiltIn(detector, table: table, alarm: AlarmRule(k: alarmK), runId: id)
        }
        try Predictor.store(run, in: session)
        let lat = run.latenciesNs.map { Double($0) / 1000 }
        print("\(run.detector): \(run.scores.count) scores stored (run \(id)); alarms at: "
              + (run.alarmTimesS.isEmpty ? "none" : run.alarmTimesS.map { String(format: "%.1f s", $0) }.joined(separator: ", "))
              + String(format: "; latency p50 %.1f µs, p99 %.1f µs", Scoring.percentile(lat, 50), Scoring.percentile(lat, 99)))
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

    func run() throws {
        var o = ScoreOptions()
        o.detectors = detectors.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        o.window = ScoringWindow(earlyS: early, lateS: late)
        o.alarm = AlarmRule(k: alarmK)
        o.features.rateHz = rate
        o.labelSet = labelSet
        o.labelMethod = labelMethod
        o.frames = try ReplayCommand.parseFrames(frames)
        let report = try ScoreReport.run(sessions: sessions, options: o) { printErr("scoring \($0)") }
        for n in report.notes { printErr("note: \(n)") }
        print(report.table)
        if let csv { try report.csv.write(toFile: csv, atomically: true, encoding: .utf8) }
        if let json { try report.json.write(toFile: json, atomically: true, encoding: .utf8) }
        if let svg { try report.svg.write(toFile: svg, atomically: true, encoding: .utf8) }
        if table1 || table1Csv != nil {
            let t = report.table1(horizonS: horizon)
            if table1 { print("\n" + t.text) }
            if let table1Csv { try t.csv.write(toFile: table1Csv, atomically: true, encoding: .utf8) }
        }
    }
}
