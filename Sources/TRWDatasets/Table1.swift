import Foundation
import TRWAnalysis
import TRWCore

/// `--detectors` entries may carry a label: `LABEL=SPEC` (LABEL without ':' or
/// blanks), e.g. `dp-lstm@1=dplstm:runs/dp-lstm/s1`. Labels `NAME@SEED` are
/// grouped by NAME in the Table-1 layout (mean ± std over the seeds).
public enum DetectorLabel {
    static func splitLabel(_ d: String) -> (String, String)? {
        guard let eq = d.firstIndex(of: "=") else { return nil }
        let l = d[..<eq]
        guard !l.isEmpty, !l.contains(":"), !l.contains(where: \.isWhitespace) else { return nil }
        return (String(l), String(d[d.index(after: eq)...]))
    }
    public static func label(_ d: String) -> String { splitLabel(d)?.0 ?? d }
    public static func spec(_ d: String) -> String { splitLabel(d)?.1 ?? d }
    /// NAME of NAME@SEED (the label itself without '@').
    public static func group(_ label: String) -> String {
        guard let at = label.lastIndex(of: "@") else { return label }
        return String(label[..<at])
    }
}

/// One detector's per-tick output on one run.
public struct TickScores: Sendable {
    public var session: String
    public var onsetS: Double?
    public var tS: [Double]
    public var scores: [Double]
    public var alarms: [Bool]
    public var latenciesNs: [Int64]
}

/// Per-tick classification metrics of one detector over a set of runs (Table 1 of the DP-LSTM paper):
/// a tick is positive when onset is at most `horizonS` ahead (or past); ticks later than
/// onset + window.lateS are not scored (the cell is gone); the prediction is the alarm.
public struct TickMetrics: Sendable {
    public var accuracy = Double.nan, precision = Double.nan, recall = Double.nan, f1 = Double.nan
    public var auc = Double.nan, falseAlarmRate = Double.nan
    public var ticks = 0, positives = 0

    public static func compute(_ runs: [TickScores], horizonS: Double, lateS: Double) -> TickMetrics {
        var tp = 0, fp = 0, tn = 0, fn = 0
        var pos: [Double] = [], neg: [Double] = []
        for r in runs {
            for i in r.tS.indices {
                let t = r.tS[i]
                var y = false
                if let o = r.onsetS {
                    if t > o + lateS { continue }
                    y = t >= o - horizonS
                }
                let a = r.alarms[i]
                switch (y, a) {
                case (true, true): tp += 1
                case (true, false): fn += 1
                case (false, true): fp += 1
                case (false, false): tn += 1
                }
                if y { pos.append(r.scores[i]) } else { neg.append(r.scores[i]) }
            }
        }
        var m = TickMetrics()
        m.ticks = tp + fp + tn + fn
        m.positives = tp + fn
        guard m.ticks > 0 else { return m }
        m.accuracy = Double(tp + tn) / Double(m.ticks)
        m.precision = tp + fp > 0 ? Double(tp) / Double(tp + fp) : 0
        m.recall = tp + fn > 0 ? Double(tp) / Double(tp + fn) : .nan
        m.f1 = m.precision + m.recall > 0 ? 2 * m.precision * m.recall / (m.precision + m.recall) : 0
        m.falseAlarmRate = fp + tn > 0 ? Double(fp) / Double(fp + tn) : .nan
        m.auc = rocAUC(positives: pos, negatives: neg)
        return m
    }

    /// Mann–Whitney AUC with ties counted one half; NaN without both classes.
    public static func rocAUC(positives: [Double], negatives: [Double]) -> Double {
        guard !positives.isEmpty, !negatives.isEmpty else { return .nan }
        let all = (positives.map { ($0, true) } + negatives.map { ($0, false) }).sorted { $0.0 < $1.0 }
        var rankSumPos = 0.0
        var i = 0
        while i < all.count {
            var j = i
            while j + 1 < all.count && all[j + 1].0 == all[i].0 { j += 1 }
            let rank = Double(i + j) / 2 + 1
            for k in i...j where all[k].1 { rankSumPos += rank }
            i = j + 1
        }
        let np = Double(positives.count), nn = Double(negatives.count)
        return (rankSumPos - np * (np + 1) / 2) / (np * nn)
    }
}

/// Table 1: one row per detector group, mean ± std over its members (seeds).
public struct Table1: Sendable {
    public struct Row: Sendable {
        public var method: String
        public var members: Int
        public var values: [String: [Double]]  // metric -> one value per member
    }
    public var rows: [Row]
    public var horizonS: Double
    /// Which label set defined onset on the runs (ScoreReport.labelSetLine).
    public var labels: String = ""
    public static let metrics = ["accuracy", "precision", "recall", "f1", "auc", "far", "event_recall", "lead_s", "fa_per_h", "us_per_step"]
    static let headers = ["Acc", "Prec", "Rec", "F1", "AUC", "FAR", "events", "lead s", "FA/h", "µs/step"]

    public static func mean(_ v: [Double]) -> Double {
        let f = v.filter(\.isFinite)
        return f.isEmpty ? .nan : f.reduce(0, +) / Double(f.count)
    }
    public static func std(_ v: [Double]) -> Double {
        let f = v.filter(\.isFinite)
        guard f.count > 1 else { return f.isEmpty ? .nan : 0 }
        let m = mean(f)
        return (f.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(f.count - 1)).squareRoot()
    }

    static func cell(_ v: [Double], _ digits: Int) -> String {
        let m = mean(v)
        guard m.isFinite else { return "-" }
        let s = std(v)
        return String(format: "%.\(digits)f", m) + (v.count > 1 && s.isFinite ? "±" + String(format: "%.\(digits)f", s) : "")
    }

    public var text: String {
        let digits = [3, 3, 3, 3, 3, 4, 2, 1, 2, 1]
        let widths = [14, 14, 14, 14, 14, 16, 12, 14, 13, 14]
        var lines = ["Table 1 (per tick: positive = onset within \(Int(horizonS)) s or past; alarm = prediction; FAR = FP/(FP+TN) per tick; events = event recall; lead = mean warning time of detected runs; mean ± std over seeds)"]
        if !labels.isEmpty { lines.append(labels) }
        var head = "method".padded(to: 14) + "n".leftPadded(to: 3)
        for (h, w) in zip(Self.headers, widths) { head += h.leftPadded(to: w) }
        lines.append(head)
        for r in rows {
            var l = r.method.padded(to: 14) + "\(r.members)".leftPadded(to: 3)
            for (k, m) in Self.metrics.enumerated() { l += Self.cell(r.values[m] ?? [], digits[k]).leftPadded(to: widths[k]) }
            lines.append(l)
        }
        return lines.joined(separator: "\n")
    }

    public var csv: String {
        var out = "method,members," + Self.metrics.flatMap { ["\($0)_mean", "\($0)_std"] }.joined(separator: ",") + "\n"
        for r in rows {
            out += r.method + ",\(r.members),"
            out += Self.metrics.map { m in
                let v = r.values[m] ?? []
                return String(format: "%.6g,%.6g", Self.mean(v), Self.std(v))
            }.joined(separator: ",") + "\n"
        }
        return out
    }
}

extension ScoreReport {
    /// The paper's Table 1 over the scored runs, detectors grouped by label NAME@SEED.
    public func table1(horizonS: Double = 60) -> Table1 {
        var order: [String] = []
        var rows: [String: Table1.Row] = [:]
        for (k, d) in options.detectors.enumerated() {
            let g = DetectorLabel.group(DetectorLabel.label(d))
            if rows[g] == nil { order.append(g); rows[g] = Table1.Row(method: g, members: 0, values: [:]) }
            let tm = TickMetrics.compute(ticks[d] ?? [], horizonS: horizonS, lateS: options.window.lateS)
            let sc = scores[k]
            let lat = (ticks[d] ?? []).flatMap(\.latenciesNs)
            let usPerStep = lat.isEmpty ? Double.nan : Double(lat.reduce(0, +)) / Double(lat.count) / 1000
            let vals: [String: Double] = ["accuracy": tm.accuracy, "precision": tm.precision, "recall": tm.recall, "f1": tm.f1,
                                          "auc": tm.auc, "far": tm.falseAlarmRate, "event_recall": sc.recall, "lead_s": sc.leadMean,
                                          "fa_per_h": sc.falseAlarmsPerHour, "us_per_step": usPerStep]
            rows[g]!.members += 1
            for (m, v) in vals { rows[g]!.values[m, default: []].append(v) }
        }
        return Table1(rows: order.map { rows[$0]! }, horizonS: horizonS, labels: labelSetLine)
    }
}
