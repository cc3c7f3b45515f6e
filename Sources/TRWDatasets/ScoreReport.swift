import TRWCore
import TRWLive
import Foundation
import TRWAnalysis
import TRWStore

/// `trw score`: detectors side by side on a set of runs.
public struct ScoreOptions: Sendable {
    public var detectors: [String] = ["gb38031", "dtdt", "vdrop"]
    public var window = ScoringWindow()
    public var alarm = AlarmRule()
    public var features = FeatureOptions()
    /// The label set that defines onset on every run (nil: per run by `LabelSetSelection.precedence`).
    public var labelSet: String?
    /// Only labels of this method count (e.g. simulator_ground_truth).
    public var labelMethod: String?
    /// Frame events in the replay that exec: detectors read (arrays for image models).
    public var frames: ReplayOptions.Frames = .none
    /// Time limits on exec: detectors.
    public var externalLimits = ExternalDetectorLimits()
    /// Bootstrap replicates for the confidence intervals over runs (0: none).
    public var bootstrapReplicates = 1000
    public init() {}
}

public struct ScoreReport: Sendable {
    public var scores: [DetectorScore]
    /// Per detector (in `scores` order), the bootstrap confidence intervals over runs.
    public var intervals: [BootstrapIntervals] = []
    public var outcomes: [String: [RunOutcome]]
    public var options: ScoreOptions
    /// Per-tick scores of every detector on every run (keyed like `outcomes`), for `table1`.
    public var ticks: [String: [TickScores]] = [:]
    /// Frames and audio chunks skipped because their payload was damaged (features NaN there).
    public var damaged = DamageTally()
    /// exec: detectors that failed part-way on a session (their scores before the failure
    /// are counted; the ticks after it are not), and ones that had to be terminated.
    public var failures: [String] = []
    /// The label set that defined onset on each run, in the order of the sessions.
    public var labelSets: [(session: String, choice: LabelSetChoice)] = []
    /// Things the user should know (e.g. how the cell's serial stream was chosen without roles).
    public var notes: [String] = []

    public static func run(sessions: [String], options o: ScoreOptions, progress: ((String) -> Void)? = nil) throws -> ScoreReport {
        var outcomes: [String: [RunOutcome]] = [:]
        var ticks: [String: [TickScores]] = [:]
        var damaged = DamageTally()
        var failures: [String] = [], notes: [String] = []
        var choices: [(session: String, choice: LabelSetChoice)] = []
        for path in sessions {
            progress?(path)
            let r = try SessionReader(path: path)
            let table = try FeatureExtractor.extract(r, options: o.features)
            damaged.merge(table.damaged)
            let choice = try LabelSetSelection.choose(try r.annotations(), requested: o.labelSet, method: o.labelMethod, session: path)
            choices.append((path, choice))
            if let n = table.serialRoles.note { notes.append("\(path): \(n)") }
            if let n = choice.note { notes.append("\(path): \(n)") }
            let onset = choice.onsetS
            let precursor = choice.labels.filter { $0.label == "self_heating_onset" || $0.label == "venting" }
                .map { Double($0.startTNs) / 1e9 }.min()
            let info = try r.session()
            let family = RunFamily.of(chemistry: info.cellChemistry, format: info.cellFormat, protocolText: info.protocol,
                                      sessionName: info.name, hasOnset: onset != nil)
            let dur = table.tickTimesS.last ?? 0
            var noLabels = ReplayOptions()
            noLabels.features = o.features
            noLabels.includeLabels = false
            noLabels.frames = o.frames
            var replay: [ReplayEvent]?
            for d in o.detectors {
                let run: PredictionRun
                let spec = DetectorLabel.spec(d)
                if spec.hasPrefix("exec:") {
                    if replay == nil { replay = try ReplayBuilder.events(r, options: noLabels) }
                    run = try Predictor.runExternal(command: String(spec.dropFirst(5)), events: replay!, alarm: o.alarm, runId: "score",
                                                    limits: o.externalLimits)
                    if let f = run.failure { failures.append("\(path): \(f)") }
                    if let n = run.exitNote { notes.append("\(path): \(n)") }
                } else {
                    run = try Predictor.runBuiltIn(spec, table: table, alarm: o.alarm, runId: "score")
                }
                ticks[d, default: []].append(TickScores(session: path, onsetS: onset, tS: run.tS, scores: run.scores,
                                                        alarms: run.alarms, latenciesNs: run.latenciesNs))
                outcomes[d, default: []].append(RunOutcome(session: path, onsetS: onset, precursorS: precursor, durationS: dur,
                                                           tickTimesS: run.tS, alarms: run.alarms, latenciesNs: run.latenciesNs,
                                                           family: family))
            }
        }
        let scores = o.detectors.map { DetectorScore.compute(detector: DetectorLabel.label($0), outcomes: outcomes[$0] ?? [], window: o.window) }
        var report = ScoreReport(scores: scores, outcomes: outcomes, options: o)
        report.intervals = o.bootstrapReplicates > 0
            ? o.detectors.map { BootstrapIntervals.compute(outcomes: outcomes[$0] ?? [], window: o.window, replicates: o.bootstrapReplicates) }
            : []
        report.ticks = ticks
        report.damaged = damaged
        report.failures = failures
        report.labelSets = choices
        report.notes = notes
        return report
    }

    package static func f(_ v: Double, _ d: Int = 2) -> String { v.isFinite ? String(format: "%.\(d)f", v) : "-" }

    /// "labels: set trw-sim (simulator ground truth) on 3 runs; set reviewed (reviewed set) on 1 run".
    public var labelSetLine: String {
        var order: [String] = [], count: [String: Int] = [:]
        for (_, c) in labelSets {
            if count[c.summary] == nil { order.append(c.summary) }
            count[c.summary, default: 0] += 1
        }
        if order.isEmpty { return "labels: no runs" }
        return "labels: " + order.map { "set \($0) on \(count[$0]!) run\(count[$0]! == 1 ? "" : "s")" }.joined(separator: "; ")
            + (options.labelSet == nil ? " [precedence: \(LabelSetSelection.precedence)]" : "")
    }

    /// The protocol and alarm rule, stated above every table.
    public var protocolLines: [String] {
        [options.window.summary,
         "alarm: score > \(options.alarm.threshold) for K = \(options.alarm.k) consecutive tick(s) at \(Self.f(options.features.rateHz, 2)) Hz"
            + (intervals.isEmpty ? "" : "; [lo, hi]: \(Int((intervals[0].level * 100).rounded())) % bootstrap intervals over runs (\(intervals[0].replicates) replicates, positives and negatives resampled separately)")]
    }

    public var table: String {
        var lines = [labelSetLine] + protocolLines + [
            "detector".padded(to: 12) + "runs".leftPadded(to: 5) + "pos".leftPadded(to: 5) + "recall".leftPadded(to: 8) + "FA".leftPadded(to: 5)
                + "FA/run".leftPadded(to: 8) + "FA/h".leftPadded(to: 8) + "neg alarmed".leftPadded(to: 13) + "lead s mean±std".leftPadded(to: 18)
                + "median".leftPadded(to: 8) + "IQR".leftPadded(to: 14) + "lat p50/p99 µs".leftPadded(to: 16),
        ]
        for s in scores {
            let q = s.leadQuartiles
            lines.append(s.detector.padded(to: 12) + ("\(s.runs)").leftPadded(to: 5) + ("\(s.positives)").leftPadded(to: 5)
                         + ("\(s.detected)/\(s.positives)").leftPadded(to: 8) + ("\(s.falseAlarms)").leftPadded(to: 5)
                         + (Self.f(s.falseAlarmsPerRun)).leftPadded(to: 8) + (Self.f(s.falseAlarmsPerHour)).leftPadded(to: 8)
                         + ("\(s.negativeRunsWithAlarm)/\(s.negativeRuns)").leftPadded(to: 13)
                         + (Self.f(s.leadMean, 1) + "±" + Self.f(s.leadStd, 1)).leftPadded(to: 18) + (Self.f(s.leadMedian, 1)).leftPadded(to: 8)
                         + (Self.f(q.q1, 0) + ".." + Self.f(q.q3, 0)).leftPadded(to: 14)
                         + (Self.f(s.latencyP50Us, 1) + "/" + Self.f(s.latencyP99Us, 1)).leftPadded(to: 16))
        }
        if !intervals.isEmpty {
            lines.append("")
            lines.append("detector".padded(to: 12) + "recall [lo, hi]".leftPadded(to: 22) + "FA/h [lo, hi]".leftPadded(to: 22) + "lead median s [lo, hi]".leftPadded(to: 30))
            func r(_ v: Double, _ ci: ClosedRange<Double>?, _ d: Int) -> String {
                Self.f(v, d) + " " + (ci.map { "[\(Self.f($0.lowerBound, d)), \(Self.f($0.upperBound, d))]" } ?? "[-]")
            }
            for (s, ci) in zip(scores, intervals) {
                lines.append(s.detector.padded(to: 12) + r(s.recall, ci.recall, 2).leftPadded(to: 22)
                             + r(s.falseAlarmsPerHour, ci.falseAlarmsPerHour, 2).leftPadded(to: 22) + r(s.leadMedian, ci.leadMedian, 1).leftPadded(to: 30))
            }
        }
        let families = familyScores
        if families.count > 1 {
            let fw = max(20, (families.map(\.family.count).max() ?? 0) + 2)
            lines.append("")
            lines.append("per scenario family".padded(to: fw) + "detector".padded(to: 12) + "runs".leftPadded(to: 5) + "recall".leftPadded(to: 8)
                         + "FA/h".leftPadded(to: 8) + "neg alarmed".leftPadded(to: 13) + "lead median".leftPadded(to: 13))
            for (family, rows) in families {
                for s in rows {
                    lines.append(family.padded(to: fw) + s.detector.padded(to: 12) + ("\(s.runs)").leftPadded(to: 5)
                                 + (s.positives > 0 ? "\(s.detected)/\(s.positives)" : "-").leftPadded(to: 8)
                                 + Self.f(s.falseAlarmsPerHour).leftPadded(to: 8)
                                 + (s.negativeRuns > 0 ? "\(s.negativeRunsWithAlarm)/\(s.negativeRuns)" : "-").leftPadded(to: 13)
                                 + Self.f(s.leadMedian, 1).leftPadded(to: 13))
                }
            }
        }
        for f in failures { lines.append("FAILED (partial scores counted): " + f) }
        return lines.joined(separator: "\n")
    }

    /// Scores per scenario family (sorted by family), every detector in each.
    public var familyScores: [(family: String, scores: [DetectorScore])] {
        let names = Set(outcomes.values.flatMap { $0.map(\.family) }).sorted()
        return names.map { fam in
            (fam, options.detectors.map { d in
                DetectorScore.compute(detector: DetectorLabel.label(d), outcomes: (outcomes[d] ?? []).filter { $0.family == fam }, window: options.window)
            })
        }
    }

    public var csv: String {
        var out = "detector,runs,positives,detected,recall,false_alarms,false_alarms_per_run,false_alarms_per_hour,negative_runs,negative_runs_with_alarm,lead_mean_s,lead_std_s,lead_median_s,lead_q1_s,lead_q3_s,latency_p50_us,latency_p99_us,protocol,alarm_k\n"
        for s in scores {
            out += [s.detector, "\(s.runs)", "\(s.positives)", "\(s.detected)", Self.f(s.recall, 4), "\(s.falseAlarms)",
                    Self.f(s.falseAlarmsPerRun, 4), Self.f(s.falseAlarmsPerHour, 4), "\(s.negativeRuns)", "\(s.negativeRunsWithAlarm)",
                    Self.f(s.leadMean, 3), Self.f(s.leadStd, 3), Self.f(s.leadMedian, 3), Self.f(s.leadQuartiles.q1, 3),
                    Self.f(s.leadQuartiles.q3, 3), Self.f(s.latencyP50Us, 2),
                    Self.f(s.latencyP99Us, 2), options.window.scoringProtocol.rawValue, "\(options.alarm.k)"].joined(separator: ",") + "\n"
        }
        return out
    }

    /// The `--json` report (docs/json-reports.md): one object with `format_version`, the label set
    /// per run and one row per detector; numbers typed, a value that does not exist (a lead time
    /// without a detection, an interval without replicates) is null.
    public var json: String {
        let rows = scores.enumerated().map { i, s in
            ScoreJSON.Row(score: s, interval: i < intervals.count ? intervals[i] : nil, options: options)
        }
        let report = ScoreJSON(scores: rows, labelSets: labelSets.map { ScoreJSON.RunLabelSet(session: $0.session, labelSet: $0.choice.name) },
                               notes: notes, failures: failures)
        return ((try? ReportJSON.text(report)) ?? "{}") + "\n"
    }
}

/// `trw score --json`.
struct ScoreJSON: Encodable {
    struct RunLabelSet: Encodable {
        var session: String
        var labelSet: String
    }
    struct Row: Encodable {
        var score: DetectorScore
        var interval: BootstrapIntervals?
        var options: ScoreOptions

        enum K: String, CodingKey {
            case detector, `protocol`, window, alarmK, alarmThreshold, runs, positives, detected, recall, falseAlarms, falseAlarmsPerRun,
                 falseAlarmsPerHour, negativeRuns, negativeRunsWithAlarm, leadMeanS, leadStdS, leadMedianS, leadQ1S, leadQ3S, leadTimesS,
                 latencyP50Us, latencyP99Us, recallCi, falseAlarmsPerHourCi, leadMedianCiS, bootstrapReplicates
        }
        func encode(to encoder: Encoder) throws {
            func v(_ x: Double) -> Double? { x.isFinite ? x : nil }
            func r(_ x: ClosedRange<Double>?) -> [Double?]? { x.map { [v($0.lowerBound), v($0.upperBound)] } }
            var c = encoder.container(keyedBy: K.self)
            let s = score
            try c.encode(s.detector, forKey: .detector)
            try c.encode(options.window.scoringProtocol.rawValue, forKey: .protocol)
            try c.encode(options.window.summary, forKey: .window)
            try c.encode(options.alarm.k, forKey: .alarmK)
            try c.encode(v(options.alarm.threshold), forKey: .alarmThreshold)
            try c.encode(s.runs, forKey: .runs)
            try c.encode(s.positives, forKey: .positives)
            try c.encode(s.detected, forKey: .detected)
            try c.encode(v(s.recall), forKey: .recall)
            try c.encode(s.falseAlarms, forKey: .falseAlarms)
            try c.encode(v(s.falseAlarmsPerRun), forKey: .falseAlarmsPerRun)
            try c.encode(v(s.falseAlarmsPerHour), forKey: .falseAlarmsPerHour)
            try c.encode(s.negativeRuns, forKey: .negativeRuns)
            try c.encode(s.negativeRunsWithAlarm, forKey: .negativeRunsWithAlarm)
            try c.encode(v(s.leadMean), forKey: .leadMeanS)
            try c.encode(v(s.leadStd), forKey: .leadStdS)
            try c.encode(v(s.leadMedian), forKey: .leadMedianS)
            try c.encode(v(s.leadQuartiles.q1), forKey: .leadQ1S)
            try c.encode(v(s.leadQuartiles.q3), forKey: .leadQ3S)
            try c.encode(s.leadTimesS.map(v), forKey: .leadTimesS)
            try c.encode(v(s.latencyP50Us), forKey: .latencyP50Us)
            try c.encode(v(s.latencyP99Us), forKey: .latencyP99Us)
            try c.encode(r(interval?.recall), forKey: .recallCi)
            try c.encode(r(interval?.falseAlarmsPerHour), forKey: .falseAlarmsPerHourCi)
            try c.encode(r(interval?.leadMedian), forKey: .leadMedianCiS)
            try c.encode(interval?.replicates ?? 0, forKey: .bootstrapReplicates)
        }
    }
    var scores: [Row]
    var labelSets: [RunLabelSet]
    var notes: [String]
    var failures: [String]
}