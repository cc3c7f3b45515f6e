import ArgumentParser
import Foundation
import TRWAnalysis
import TRWDatasets
import TRWStore
import TRWLive

struct ScoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "score",
        abstract: "Score detectors on sessions side by side: event recall, false alarms, lead time, latency (docs/metrics.md).")

    @Argument(help: "Session files (runs with and without a runaway_onset label).") var sessions: [String]
    @Option(name: .long, help: "Comma-separated detectors (built-in names, dplstm:MODEL_DIR or exec:COMMAND), each optionally LABEL=SPEC; labels NAME@SEED are grouped in --table1.") var detectors: String = "gb38031,dtdt,vdrop"
    @Option(name: .long, help: "The label set defining onset on every run (trw label sets lists them). Default, per run: \(LabelSetSelection.precedence).") var labelSet: String?
    @Option(name: .long, help: "Only labels of this method define onset, e.g. simulator_ground_truth or manual.") var labelMethod: String?
    @Option(name: .long, help: ArgumentHelp("Scoring protocol: precursor (the window opens at the run's first self_heating_onset or venting label) or fixed-window (the old [onset - early, onset + late]); docs/metrics.md.", valueName: "precursor|fixed-window"))
    var scoringProtocol: String = ScoringProtocol.precursor.rawValue
    @Option(name: .long, help: "fixed-window: the window starts this many seconds before onset; precursor: where it starts on a run without a precursor label.") var early: Double = 600
    @Option(name: .long, help: "precursor: the window never opens more than this many seconds before onset.") var maxEarly: Double = 1800
    @Option(name: .long, help: "The window ends this many seconds after onset.") var late: Double = 10
    @Option(name: .long, help: "Alarm after K consecutive ticks above 0.5 (stated in every table).") var alarmK: Int = 3
    @Option(name: .long, help: "Bootstrap replicates for the confidence intervals over runs (0: none).") var bootstrap: Int = 1000
    @Option(name: .long, help: "Tick rate, Hz.") var rate: Double = 1
    @Option(name: .long, help: "Also write the table as CSV.") var csv: String?
    @Flag(name: .long, help: "Print the report as one JSON object (with every lead time) on stdout instead of the table (docs/json-reports.md).") var json = false
    @Option(name: .long, help: "Also write the JSON report to this file (the table stays on stdout).") var jsonOut: String?
    @Option(name: .long, help: "Also write the lead-time figure (SVG).") var svg: String?
    @Flag(name: .long, help: "Also print the DP-LSTM paper's Table 1 (per-tick accuracy, precision, recall, F1, AUC, false-alarm rate; lead time; time per step), mean ± std over NAME@SEED groups.") var table1 = false
    @Option(name: .long, help: "Table 1: a tick is positive when onset is at most this many seconds ahead (the export's horizon).") var horizon: Double = 60
    @Option(name: .long, help: "Also write Table 1 as CSV.") var table1Csv: String?
    @Option(name: .long, help: "exec: detectors: frame events none, ref, or WxH downsampled arrays in °C (image models such as mm-serve).") var frames: String = "none"
    @OptionGroup var external: ExternalDetectorOptions

    func validate() throws {
        try OptionCheck.number(early, "--early", OptionCheck.secondsRange, unit: "seconds")
        try OptionCheck.number(late, "--late", OptionCheck.secondsRange, unit: "seconds")
        try OptionCheck.number(maxEarly, "--max-early", OptionCheck.secondsRange, unit: "seconds")
        try OptionCheck.integer(bootstrap, "--bootstrap", 0...100_000, unit: "replicates")
        if ScoringProtocol(rawValue: scoringProtocol) == nil {
            throw ValidationError("--scoring-protocol must be \(ScoringProtocol.allCases.map(\.rawValue).joined(separator: " or ")), got '\(scoringProtocol)'")
        }
        try OptionCheck.integer(alarmK, "--alarm-k", 1...1_000_000, unit: "ticks")
        try OptionCheck.tickRate(rate)
        try OptionCheck.number(horizon, "--horizon", OptionCheck.secondsRange, openLower: true, unit: "seconds")
        if let j = sessions.first(where: { $0.hasSuffix(".json") }) {
            throw ValidationError("'\(j)' is not a session: --json is a flag that prints the report on stdout; write it to a file with --json-out \(j)")
        }
        if frames != "none" && frames != "ref" && ExportCommand.size(frames) == nil { throw ValidationError("--frames must be none, ref or WxH (1x1 to 1024x1024), got '\(frames)'") }
    }

    func run() throws {
        var o = ScoreOptions()
        o.detectors = detectors.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        o.window = ScoringWindow(scoringProtocol: ScoringProtocol(rawValue: scoringProtocol) ?? .precursor, earlyS: early, lateS: late,
                                 maxEarlyS: maxEarly)
        o.bootstrapReplicates = bootstrap
        o.alarm = AlarmRule(k: alarmK)
        o.features.rateHz = rate
        o.labelSet = labelSet
        o.labelMethod = labelMethod
        o.frames = try ReplayCommand.parseFrames(frames)
        o.externalLimits = external.limits
        let report = try ScoreReport.run(sessions: sessions, options: o) { printErr("scoring \($0)") }
        for n in report.notes { printErr("note: \(n)") }
        // --json: stdout holds the one JSON object and nothing else; the text goes to stderr.
        let say: (String) -> Void = json ? { printErr($0) } : { print($0) }
        if json { print(report.json, terminator: "") } else { print(report.table) }
        if !report.damaged.isEmpty { say("warning: " + report.damaged.summary) }
        if let csv { try report.csv.write(toFile: csv, atomically: true, encoding: .utf8) }
        if let jsonOut { try report.json.write(toFile: jsonOut, atomically: true, encoding: .utf8) }
        if let svg { try report.svg.write(toFile: svg, atomically: true, encoding: .utf8) }
        if table1 || table1Csv != nil {
            let t = report.table1(horizonS: horizon)
            if table1 { say("\n" + t.text) }
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
