import Foundation
import TRWCore

/// How an alarm is matched to a run's event (docs/metrics.md).
public enum ScoringProtocol: String, Sendable, CaseIterable {
    /// The default: the window opens at the run's first physical precursor label
    /// (self_heating_onset or venting), never more than `maxEarlyS` before onset; an alarm
    /// on when it opens counts; alarms that rose before it are false alarms.
    case precursor
    /// The old fixed window [onset - earlyS, onset + lateS] on rising edges only, to compare
    /// with tables made before the precursor protocol.
    case fixedWindow = "fixed-window"
}

/// Event-based scoring as the runaway-prediction literature reports it
/// (docs/metrics.md): recall of events within a window around onset, false
/// alarms outside it and on negative runs, lead time, inference latency.
public struct ScoringWindow: Sendable, Equatable {
    public var scoringProtocol: ScoringProtocol
    /// Fixed window: it opens earlyS before onset. Precursor protocol: where the window
    /// opens on a run without a precursor label (capped by `maxEarlyS` too).
    public var earlyS: Double
    /// The window ends lateS after onset (both protocols).
    public var lateS: Double
    /// Precursor protocol: the window never opens more than this before onset.
    public var maxEarlyS: Double

    /// The precursor-anchored window (the default of `trw score`).
    public init(scoringProtocol: ScoringProtocol = .precursor, earlyS: Double = 600, lateS: Double = 10, maxEarlyS: Double = 1800) {
        self.scoringProtocol = scoringProtocol
        self.earlyS = earlyS
        self.lateS = lateS
        self.maxEarlyS = maxEarlyS
    }

    /// The old fixed window [onset - earlyS, onset + lateS].
    public init(earlyS: Double, lateS: Double) {
        self.init(scoringProtocol: .fixedWindow, earlyS: earlyS, lateS: lateS)
    }

    /// One line stating the protocol, for every table.
    public var summary: String {
        switch scoringProtocol {
        case .fixedWindow:
            return "window (fixed): an alarm rising in [onset - \(Self.s(earlyS)) s, onset + \(Self.s(lateS)) s] is a detection; rises before it are false alarms"
        case .precursor:
            return "window (precursor): from the run's first self_heating_onset or venting label (at most \(Self.s(maxEarlyS)) s before onset; "
                + "onset - \(Self.s(Swift.min(earlyS, maxEarlyS))) s without one) to onset + \(Self.s(lateS)) s; an alarm on when it opens counts; "
                + "alarms rising before it are false alarms"
        }
    }

    private static func s(_ v: Double) -> String { v == v.rounded() ? String(Int(v)) : String(format: "%.1f", v) }
}

/// One detector on one run.
public struct RunOutcome: Sendable {
    public var session: String
    public var onsetS: Double?
    /// The run's first physical precursor label (self_heating_onset or venting), s.
    public var precursorS: Double?
    public var durationS: Double
    /// Times where the alarm rose (false -> true).
    public var alarmTimesS: [Double]
    /// Times where the alarm fell (true -> false), in order; an alarm still on at the end
    /// has no fall. Nil: unknown (callers that only know rises), each alarm is taken as one tick.
    public var alarmFallTimesS: [Double]?
    public var latenciesNs: [Int64]
    /// The run's scenario family (chemistry, format, C-rate band or negative-control kind).
    public var family: String

    public init(session: String, onsetS: Double?, precursorS: Double? = nil, durationS: Double, alarmTimesS: [Double],
                alarmFallTimesS: [Double]? = nil, latenciesNs: [Int64], family: String = "") {
        self.session = session
        self.onsetS = onsetS
        self.precursorS = precursorS
        self.durationS = durationS
        self.alarmTimesS = alarmTimesS
        self.alarmFallTimesS = alarmFallTimesS
        self.latenciesNs = latenciesNs
        self.family = family
    }

    /// From a per-tick alarm series: rises and falls.
    public init(session: String, onsetS: Double?, precursorS: Double?, durationS: Double, tickTimesS: [Double], alarms: [Bool],
                latenciesNs: [Int64], family: String) {
        var rises: [Double] = [], falls: [Double] = []
        for i in alarms.indices where i < tickTimesS.count {
            let before = i > 0 && alarms[i - 1]
            if alarms[i] && !before { rises.append(tickTimesS[i]) }
            if !alarms[i] && before { falls.append(tickTimesS[i]) }
        }
        self.init(session: session, onsetS: onsetS, precursorS: precursorS, durationS: durationS, alarmTimesS: rises,
                  alarmFallTimesS: falls, latenciesNs: latenciesNs, family: family)
    }

    /// Where the detection window opens on this run (nil: a run without onset).
    public func windowOpensS(_ w: ScoringWindow) -> Double? {
        guard let o = onsetS else { return nil }
        switch w.scoringProtocol {
        case .fixedWindow:
            return o - w.earlyS
        case .precursor:
            let earliest = o - w.maxEarlyS
            guard let p = precursorS else { return Swift.max(earliest, o - w.earlyS) }
            return Swift.max(earliest, Swift.min(p, o))
        }
    }

    /// The alarm spans (rise, fall or nil when still on at the end).
    var spans: [(rise: Double, fall: Double?)] {
        guard let falls = alarmFallTimesS else { return alarmTimesS.map { ($0, $0) } }
        return alarmTimesS.enumerated().map { i, r in (r, i < falls.count ? falls[i] : nil) }
    }

    /// When the run counts as detected: the first alarm rising inside the window (fixed), or
    /// the first alarm on at any time in the window, counted from when the window opens
    /// (precursor). Nil: missed, or a run without onset.
    public func detection(_ w: ScoringWindow) -> Double? {
        guard let o = onsetS, let open = windowOpensS(w) else { return nil }
        let close = o + w.lateS
        switch w.scoringProtocol {
        case .fixedWindow:
            return alarmTimesS.first { $0 >= open && $0 <= close }
        case .precursor:
            for sp in spans where sp.rise <= close {
                let onAtOpen = sp.fall.map { $0 > open } ?? true
                if sp.rise >= open || onAtOpen { return Swift.max(sp.rise, open) }
            }
            return nil
        }
    }

    /// Alarms that rose before the window (all alarms on a run without onset); alarms after
    /// the window opens are not counted.
    public func falseAlarms(_ w: ScoringWindow) -> Int {
        guard let open = windowOpensS(w) else { return alarmTimesS.count }
        return alarmTimesS.filter { $0 < open }.count
    }

    /// Hours of data where a false alarm could occur.
    public func negativeHours(_ w: ScoringWindow) -> Double {
        guard let open = windowOpensS(w) else { return durationS / 3600 }
        return Swift.max(0, open) / 3600
    }
}

/// A run's scenario family, for per-family tables: the negative-control kind for runs
/// without onset ("negative: control_charge_rest"), else chemistry, format and C-rate band
/// ("NCM pouch 1-2C"). Built from the session's cell, protocol and name.
public enum RunFamily {
    public static func of(chemistry: String?, format: String?, protocolText: String?, sessionName: String, hasOnset: Bool) -> String {
        if !hasOnset {
            var kind = sessionName
            if let r = kind.range(of: #"_v[0-9]+$"#, options: .regularExpression) { kind.removeSubrange(r) }
            return "negative: " + (kind.isEmpty ? "unnamed" : kind)
        }
        let chem = (chemistry?.isEmpty == false ? chemistry! : "?")
        let fmt = (format?.isEmpty == false ? format! : "?")
        return "\(chem) \(fmt) \(cRateBand(protocolText))"
    }

    /// "<0.5C", "0.5-1C", "1-2C", ">=2C" from the first "<number>C" in the protocol text; "C?" when none.
    public static func cRateBand(_ text: String?) -> String {
        guard let text, let r = text.range(of: #"[0-9]+(\.[0-9]+)?C\b"#, options: .regularExpression),
              let c = Double(text[r].dropLast()) else { return "C?" }
        switch c {
        case ..<0.5: return "<0.5C"
        case ..<1: return "0.5-1C"
        case ..<2: return "1-2C"
        default: return ">=2C"
        }
    }
}

public struct DetectorScore: Sendable {
    public var detector: String
    public var runs: Int
    public var positives: Int
    public var detected: Int
    public var falseAlarms: Int
    public var negativeRuns: Int
    public var negativeRunsWithAlarm: Int
    public var negativeHours: Double
    public var leadTimesS: [Double]
    public var latencyP50Us: Double
    public var latencyP99Us: Double

    public var recall: Double { positives > 0 ? Double(detected) / Double(positives) : .nan }
    public var falseAlarmsPerRun: Double { runs > 0 ? Double(falseAlarms) / Double(runs) : .nan }
    public var falseAlarmsPerHour: Double { negativeHours > 0 ? Double(falseAlarms) / negativeHours : .nan }
    public var leadMean: Double { leadTimesS.isEmpty ? .nan : leadTimesS.reduce(0, +) / Double(leadTimesS.count) }
    public var leadStd: Double {
        guard leadTimesS.count > 1 else { return leadTimesS.isEmpty ? .nan : 0 }
        let m = leadMean
        return (leadTimesS.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(leadTimesS.count - 1)).squareRoot()
    }
    public var leadMedian: Double { Scoring.percentile(leadTimesS, 50) }
    /// Interquartile range of the lead times (25th and 75th percentiles).
    public var leadQuartiles: (q1: Double, q3: Double) { (Scoring.percentile(leadTimesS, 25), Scoring.percentile(leadTimesS, 75)) }

    public static func compute(detector: String, outcomes: [RunOutcome], window: ScoringWindow) -> DetectorScore {
        let pos = outcomes.filter { $0.onsetS != nil }
        let neg = outcomes.filter { $0.onsetS == nil }
        let leads = pos.compactMap { o in o.detection(window).map { o.onsetS! - $0 } }
        let lat = outcomes.flatMap(\.latenciesNs).map { Double($0) / 1000 }
        return DetectorScore(
            detector: detector, runs: outcomes.count, positives: pos.count, detected: leads.count,
            falseAlarms: outcomes.map { $0.falseAlarms(window) }.reduce(0, +), negativeRuns: neg.count,
            negativeRunsWithAlarm: neg.filter { !$0.alarmTimesS.isEmpty }.count,
            negativeHours: outcomes.map { $0.negativeHours(window) }.reduce(0, +), leadTimesS: leads,
            latencyP50Us: Scoring.percentile(lat, 50), latencyP99Us: Scoring.percentile(lat, 99))
    }
}

/// Percentile bootstrap confidence intervals over runs (Efron and Tibshirani 1993, ch. 13):
/// positive and negative runs are resampled separately with replacement (a stratified
/// bootstrap: every replicate has the table's numbers of each), the metrics recomputed,
/// and the (1 - level) / 2 and (1 + level) / 2 percentiles of the replicates reported.
/// Deterministic: the draws come from SplitMix64 with a fixed seed.
public struct BootstrapIntervals: Sendable, Equatable {
    public var replicates: Int
    public var level: Double
    public var recall: ClosedRange<Double>?
    public var falseAlarmsPerHour: ClosedRange<Double>?
    public var leadMedian: ClosedRange<Double>?

    public static func compute(outcomes: [RunOutcome], window: ScoringWindow, replicates: Int = 1000, level: Double = 0.95,
                               seed: UInt64 = 0x7472_7763_6921) -> BootstrapIntervals {
        let pos = outcomes.filter { $0.onsetS != nil }, neg = outcomes.filter { $0.onsetS == nil }
        var rng = SplitMix64(seed: seed)
        var recall: [Double] = [], faph: [Double] = [], lead: [Double] = []
        for _ in 0..<max(0, replicates) {
            var sample: [RunOutcome] = []
            sample.reserveCapacity(outcomes.count)
            for _ in pos.indices { sample.append(pos[Int(rng.next() % UInt64(pos.count))]) }
            for _ in neg.indices { sample.append(neg[Int(rng.next() % UInt64(neg.count))]) }
            let sc = DetectorScore.compute(detector: "", outcomes: sample, window: window)
            if sc.recall.isFinite { recall.append(sc.recall) }
            if sc.falseAlarmsPerHour.isFinite { faph.append(sc.falseAlarmsPerHour) }
            if sc.leadMedian.isFinite { lead.append(sc.leadMedian) }
        }
        func ci(_ v: [Double]) -> ClosedRange<Double>? {
            // Fewer finite replicates than half: the interval would describe a different population.
            guard v.count * 2 >= replicates, !v.isEmpty else { return nil }
            let lo = Scoring.percentile(v, 100 * (1 - level) / 2), hi = Scoring.percentile(v, 100 * (1 + level) / 2)
            return lo...hi
        }
        return BootstrapIntervals(replicates: replicates, level: level, recall: ci(recall), falseAlarmsPerHour: ci(faph), leadMedian: ci(lead))
    }
}

public enum Scoring {
    /// Linear-interpolated percentile (numpy's default), NaN for empty input.
    public static func percentile(_ v: [Double], _ p: Double) -> Double {
        guard !v.isEmpty else { return .nan }
        let s = v.sorted()
        let x = p / 100 * Double(s.count - 1)
        let lo = Int(x.rounded(.down)), hi = min(s.count - 1, lo + 1)
        return s[lo] + (s[hi] - s[lo]) * (x - Double(lo))
    }
}
