import Foundation

/// Event-based scoring as the runaway-prediction literature reports it
/// (docs/metrics.md): recall of events within a window around onset, false
/// alarms outside it and on negative runs, lead time, inference latency.
public struct ScoringWindow: Sendable, Equatable {
    /// An alarm counts as a detection inside [onset - earlyS, onset + lateS].
    public var earlyS: Double = 600
    public var lateS: Double = 10
    public init(earlyS: Double = 600, lateS: Double = 10) { self.earlyS = earlyS; self.lateS = lateS }
}

/// One detector on one run.
public struct RunOutcome: Sendable {
    public var session: String
    public var onsetS: Double?
    public var durationS: Double
    /// Times where the alarm rose (false -> true).
    public var alarmTimesS: [Double]
    public var latenciesNs: [Int64]
    public init(session: String, onsetS: Double?, durationS: Double, alarmTimesS: [Double], latenciesNs: [Int64]) {
        self.session = session
        self.onsetS = onsetS
        self.durationS = durationS
        self.alarmTimesS = alarmTimesS
        self.latenciesNs = latenciesNs
    }

    /// The first alarm inside the window, if any.
    public func detection(_ w: ScoringWindow) -> Double? {
        guard let o = onsetS else { return nil }
        return alarmTimesS.first { $0 >= o - w.earlyS && $0 <= o + w.lateS }
    }
    /// Alarms outside the window (all alarms on a run without onset), until
    /// the end of the window (alarms after a detection are not counted).
    public func falseAlarms(_ w: ScoringWindow) -> Int {
        guard let o = onsetS else { return alarmTimesS.count }
        return alarmTimesS.filter { $0 < o - w.earlyS }.count
    }
    /// Hours of data where a false alarm could occur.
    public func negativeHours(_ w: ScoringWindow) -> Double {
        guard let o = onsetS else { return durationS / 3600 }
        return max(0, o - w.earlyS) / 3600
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
