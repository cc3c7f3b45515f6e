import TRWCore
import Foundation

/// An online detector: fed ticks in time order, one at a time; returns a
/// score in [0, 1] for each (alarm threshold 0.5). It only ever sees the past.
public protocol OnlineDetector {
    var name: String { get }
    /// Parameters, recorded with every score and every accepted suggestion.
    var parameters: [String: Double] { get }
    mutating func step(t: Double, features: [String: Double]) -> Double
}

/// Hottest observed temperature of a tick: IR max, else the cell thermocouple.
@inlinable func hottest(_ f: [String: Double]) -> Double? {
    let vals = [f["ir_max_c"], f["cell_temp_c"]].compactMap { $0 }.filter { $0.isFinite }
    return vals.max()
}

/// dT/dt over a sliding window of ticks (°C/s).
public struct RateTracker {
    public var windowS: Double
    var hist: [(t: Double, v: Double)] = []
    public init(windowS: Double = 1) { self.windowS = windowS }
    public mutating func add(t: Double, v: Double) -> Double? {
        hist.append((t, v))
        while hist.count > 2, t - hist[1].t >= windowS { hist.removeFirst() }
        guard let f = hist.first, t - f.t > 0 else { return nil }
        return (v - f.v) / (t - f.t)
    }
}

/// GB 38031-2020 (annex C) thermal-runaway determination: dT/dt >= 1 °C/s for
/// at least 3 s at the monitoring point, together with a voltage drop (here:
/// more than `voltageDropFraction` below the run's highest voltage) or the
/// temperature reaching the maximum working temperature.
public struct GB38031Detector: OnlineDetector {
    public let name = "gb38031"
    public var voltageDropFraction = 0.25, maxTempC = 60.0
    /// trw's one GB 38031 temperature-rate criterion (TRWCore), shared with the simulator's
    /// ground truth and the stop rules.
    public private(set) var criterion = GB38031RateCriterion()
    var vmax = -Double.infinity
    public init() {}
    public var rateCPerS: Double { criterion.rateCPerS }
    public var holdS: Double { criterion.sustainS }
    public var parameters: [String: Double] {
        ["rate_c_per_s": criterion.rateCPerS, "hold_s": criterion.sustainS, "window_s": criterion.windowS,
         "voltage_drop_fraction": voltageDropFraction, "max_temp_c": maxTempC]
    }
    public mutating func step(t: Double, features f: [String: Double]) -> Double {
        if let v = f["voltage_v"], v.isFinite { vmax = max(vmax, v) }
        guard let temp = hottest(f) else { return 0 }
        criterion.feed(t: t, celsius: temp)
        guard let r = criterion.rate else { return 0 }
        let vDrop = f["voltage_v"].map { $0.isFinite && vmax > 0 && $0 < vmax * (1 - voltageDropFraction) } ?? false
        let hot = temp >= maxTempC
        if criterion.isSustained && (vDrop || hot) { return 1 }
        return min(0.49, max(0, r / criterion.rateCPerS) * 0.49)
    }
}

/// Plain dT/dt threshold on the hottest temperature: score 0.5 at the threshold.
public struct DTDTDetector: OnlineDetector {
    public var name: String { "dtdt" }
    public var thresholdCPerS: Double
    public var windowS: Double
    var rate: RateTracker
    public init(thresholdCPerS: Double = 0.5, windowS: Double = 2) {
        self.thresholdCPerS = thresholdCPerS
        self.windowS = windowS
        rate = RateTracker(windowS: windowS)
    }
    public var parameters: [String: Double] { ["threshold_c_per_s": thresholdCPerS, "window_s": windowS] }
    public mutating func step(t: Double, features f: [String: Double]) -> Double {
        guard let temp = hottest(f), let r = rate.add(t: t, v: temp) else { return 0 }
        return min(1, max(0, r / thresholdCPerS * 0.5))
    }
}

/// Voltage drop from the run's running maximum: score 0.5 at `dropV`.
public struct VoltageDropDetector: OnlineDetector {
    public var name: String { "vdrop" }
    public var dropV: Double
    var vmax = -Double.infinity
    /// Last time the voltage was within a tenth of `dropV` of its running maximum: where the drop began.
    public private(set) var lastNearMaxS: Double?
    public init(dropV: Double = 0.3) { self.dropV = dropV }
    public var parameters: [String: Double] { ["drop_v": dropV] }
    public mutating func step(t: Double, features f: [String: Double]) -> Double {
        guard let v = f["voltage_v"], v.isFinite else { return 0 }
        vmax = max(vmax, v)
        if v >= vmax - dropV / 10 { lastNearMaxS = t }
        return min(1, max(0, (vmax - v) / dropV * 0.5))
    }
}

/// AE burst onset: hit rate above `hitsPerS`, score 0.5 at the threshold.
/// With `windowS` > 0 the rate is averaged over that many seconds of ticks first.
public struct AEBurstDetector: OnlineDetector {
    public var name: String { "ae_burst" }
    public var hitsPerS: Double
    public var windowS: Double
    var recent: [(t: Double, rate: Double)] = []
    public init(hitsPerS: Double = 20, windowS: Double = 0) { self.hitsPerS = hitsPerS; self.windowS = windowS }
    public var parameters: [String: Double] { ["hits_per_s": hitsPerS, "window_s": windowS] }
    public mutating func step(t: Double, features f: [String: Double]) -> Double {
        guard let h = f["ae_hit_rate_hz"], h.isFinite else { return 0 }
        var rate = h
        if windowS > 0 {
            recent.append((t, h))
            while let first = recent.first, first.t <= t - windowS { recent.removeFirst() }
            rate = recent.reduce(0) { $0 + $1.rate } / Double(recent.count)
        }
        return min(1, max(0, rate / hitsPerS * 0.5))
    }
}

public enum DetectorRegistry {
    public static let builtIn = ["gb38031", "dtdt", "vdrop", "ae_burst", "precursor"]
    public static func make(_ name: String) -> (any OnlineDetector)? {
        switch name {
        case "gb38031": GB38031Detector()
        case "dtdt": DTDTDetector()
        case "vdrop": VoltageDropDetector()
        case "ae_burst": AEBurstDetector()
        case "precursor": PrecursorDetector()
        default: nil
        }
    }
}

/// The alarm rule: score > threshold for `k` consecutive ticks.
public struct AlarmRule: Sendable {
    public var threshold = 0.5
    public var k = 1
    var run = 0
    public init(threshold: Double = 0.5, k: Int = 1) { self.threshold = threshold; self.k = k }
    public mutating func step(_ score: Double) -> Bool {
        run = score > threshold ? run + 1 : 0
        return run >= k
    }
}
