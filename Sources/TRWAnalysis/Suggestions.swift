import Foundation
import TRWStore

/// Self-heating onset: the cell's heating accelerates while nothing outside it changes.
///
/// Under a steady current and a steady chamber a passive cell approaches equilibrium, so
/// its heating rate only falls. When the rate (cell thermocouple, `windowS` slope) instead
/// climbs `thresholdCPerMin` above its lowest value since the external heat last changed,
/// stays there `holdS`, and the cell is heating (>= `minRateCPerMin`), the extra heat is
/// the cell's own. The suggested onset is where the rate turned (its minimum). A change of
/// current (> 5 %) or chamber temperature (> `steadyAmbientCPerMin`) restarts the search.
public struct SelfHeatingDetector: OnlineDetector {
    public var name: String { "self_heating" }
    public var thresholdCPerMin: Double
    public var minRateCPerMin: Double
    public var windowS: Double
    public var holdS: Double
    public var steadyAmbientCPerMin: Double
    var rate: RateTracker
    var ambientRate: RateTracker
    var firstT: Double?
    var currentRef: Double?
    var minRate = Double.infinity
    var minRateT = 0.0
    var since: Double?
    /// Where the heating rate turned upwards before the alarm (the suggested onset).
    public private(set) var riseStartS: Double?

    public init(thresholdCPerMin: Double = 1.0, minRateCPerMin: Double = 0.5, windowS: Double = 60, holdS: Double = 20,
                steadyAmbientCPerMin: Double = 0.5) {
        self.thresholdCPerMin = thresholdCPerMin
        self.minRateCPerMin = minRateCPerMin
        self.windowS = windowS
        self.holdS = holdS
        self.steadyAmbientCPerMin = steadyAmbientCPerMin
        rate = RateTracker(windowS: windowS)
        ambientRate = RateTracker(windowS: windowS)
    }

    public var parameters: [String: Double] {
        ["threshold_c_per_min": thresholdCPerMin, "min_rate_c_per_min": minRateCPerMin, "window_s": windowS, "hold_s": holdS,
         "steady_ambient_c_per_min": steadyAmbientCPerMin, "steady_current_fraction": 0.05]
    }

    public mutating func step(t: Double, features f: [String: Double]) -> Double {
        guard let temp = f["cell_temp_c"], temp.isFinite, let r0 = rate.add(t: t, v: temp) else { return 0 }
        if firstT == nil { firstT = t }
        let r = r0 * 60
        let ra = f["ambient_c"].flatMap { $0.isFinite ? ambientRate.add(t: t, v: $0) : nil }.map { $0 * 60 } ?? 0
        let i = f["current_a"].flatMap { $0.isFinite ? $0 : nil } ?? 0
        let currentSteady = currentRef.map { abs(i - $0) <= max(0.05, 0.05 * abs($0)) } ?? false
        guard t - firstT! >= windowS, currentSteady, abs(ra) < steadyAmbientCPerMin else {
            currentRef = i
            minRate = r; minRateT = t; since = nil
            return 0
        }
        if r < minRate { minRate = r; minRateT = t }
        let rise = r - minRate
        if rise >= thresholdCPerMin && r >= minRateCPerMin { since = since ?? t } else { since = nil }
        if let s = since, t - s >= holdS {
            riseStartS = riseStartS ?? minRateT
            return 1
        }
        return min(0.49, max(0, rise / thresholdCPerMin * 0.49))
    }
}

/// A label proposed by a detector, for a person to accept (`trw label accept`,
/// the `a` key in `trw annotate`).
public struct Suggestion: Sendable, Equatable, Codable {
    /// The label it proposes: runaway_onset, venting, self_heating_onset.
    public var label: String
    /// The proposed event time, session seconds (the start of the rise the detector confirmed).
    public var tS: Double
    /// When the detector, running online, confirmed it.
    public var detectedS: Double
    public var detector: String
    public var parameters: [String: Double]
    public var note: String
    public var method: String { "detector:\(detector)" }

    /// Parameters as stored with an accepted label.
    public var parametersJSON: String {
        var p: [String: Any] = parameters
        p["detected_s"] = detectedS
        p["detector"] = detector
        let data = (try? JSONSerialization.data(withJSONObject: p, options: [.sortedKeys])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}

/// Runs the suggestion detectors over a session's stored statistics (no payload
/// decoding) and returns at most one suggestion per detector: its first alarm.
public enum SuggestionEngine {
    public static let detectors = ["gb38031", "dtdt", "self_heating", "vdrop", "ae_burst"]

    /// How long a detector's score must stay at or above 0.5 before it suggests (its own
    /// hold aside): a one-tick blip (sensor hand-over at start, one noisy tick) is not an event.
    public static let confirmS: [String: Double] = ["dtdt": 2, "vdrop": 1]

    /// The detectors as configured for suggestions: the AE rule looks for the vent's burst
    /// (50 hits/s over 2 s, an order of magnitude above gas-evolution activity), not the
    /// hit-rate alarm the scoring baseline uses.
    public static func makeDetector(_ name: String) -> (any OnlineDetector)? {
        switch name {
        case "self_heating": SelfHeatingDetector()
        case "ae_burst": AEBurstDetector(hitsPerS: 50, windowS: 2)
        default: DetectorRegistry.make(name)
        }
    }

    /// What each detector proposes.
    public static func label(for detector: String) -> String {
        switch detector {
        case "self_heating": "self_heating_onset"
        case "ae_burst": "venting"
        default: "runaway_onset"
        }
    }

    public static func suggest(_ r: SessionReader, detectors names: [String] = detectors, rateHz: Double = 4) throws -> [Suggestion] {
        var o = FeatureOptions()
        o.rateHz = rateHz
        o.decodePayloads = false
        o.aeBandEdgesHz = []
        o.irAreaThresholdsC = []
        let table = try FeatureExtractor.extract(r, options: o)
        return try suggest(table: table, detectors: names)
    }

    public static func suggest(table: FeatureTable, detectors names: [String] = detectors) throws -> [Suggestion] {
        var out: [Suggestion] = []
        let period = table.count > 1 ? table.tickTimesS[1] - table.tickTimesS[0] : 1
        // The ticks as the detectors take them, built once for all of them.
        let rows: [[String: Double]] = (0..<table.count).map { k in
            var f: [String: Double] = [:]
            for (c, n) in table.names.enumerated() {
                let v = table.values[k * table.names.count + c]
                if !v.isNaN { f[n] = Double(v) }
            }
            return f
        }
        for name in names {
            guard var d = makeDetector(name) else {
                throw FeatureExtractionError.badOption("unknown suggestion detector '\(name)'; known: \(detectors.joined(separator: ", "))")
            }
            let hold = confirmS[name] ?? 0
            var since: Double?
            for k in 0..<table.count {
                let t = table.tickTimesS[k]
                guard d.step(t: t, features: rows[k]) >= 0.5 else { since = nil; continue }
                since = since ?? t
                guard t - since! >= hold - 1e-9 else { continue }
                var p = d.parameters
                if hold > 0 { p["confirm_s"] = hold }
                var s = Suggestion(label: label(for: name), tS: since!, detectedS: t, detector: name, parameters: p, note: "")
                switch d {
                case let g as GB38031Detector:
                    s.tS = g.criterion.riseStartS ?? t
                    s.note = "dT/dt held >= \(g.rateCPerS) degC/s for \(g.holdS) s with a voltage drop or >= \(g.maxTempC) degC"
                case let x as DTDTDetector:
                    s.tS = since! - x.windowS / 2
                    s.note = "dT/dt >= \(x.thresholdCPerS) degC/s over \(x.windowS) s"
                case let v as VoltageDropDetector:
                    s.tS = v.lastNearMaxS ?? t
                    s.note = "voltage fell \(v.dropV) V below its running maximum (internal short)"
                case let sh as SelfHeatingDetector:
                    s.tS = sh.riseStartS ?? t
                    s.note = "heating rate rose \(sh.thresholdCPerMin) degC/min above its minimum at steady current and chamber"
                case let a as AEBurstDetector:
                    s.tS = since! - period
                    s.note = "AE hit rate >= \(a.hitsPerS) /s over \(a.windowS) s (the vent's burst)"
                default:
                    break
                }
                out.append(s)
                break
            }
        }
        return out.sorted { $0.tS < $1.tS }
    }
}
