import Foundation
import TRWStore

/// Self-heating onset: the cell heats faster than its external heat explains.
///
/// During the first `calibrationS` seconds with data, the cell temperature's rate
/// is fitted by least squares as dT/dt = a·I² + b·(T_amb − T) + c (Joule heat and
/// exchange with the chamber: the external heat). Afterwards the residual rate
/// (measured minus fitted) is the heat the cell makes itself; the score is 0.5
/// when it reaches `thresholdCPerMin` and an alarm needs it held for `holdS`.
public struct SelfHeatingDetector: OnlineDetector {
    public var name: String { "self_heating" }
    public var thresholdCPerMin: Double
    public var windowS: Double
    public var holdS: Double
    public var calibrationS: Double
    var rate: RateTracker
    var t0: Double?
    var ata = [Double](repeating: 0, count: 9), atb = [Double](repeating: 0, count: 3)
    var fit: [Double]?
    var since: Double?
    /// Start of the residual rise that led to the alarm (the suggested onset).
    public private(set) var riseStartS: Double?

    public init(thresholdCPerMin: Double = 1.0, windowS: Double = 30, holdS: Double = 20, calibrationS: Double = 120) {
        self.thresholdCPerMin = thresholdCPerMin
        self.windowS = windowS
        self.holdS = holdS
        self.calibrationS = calibrationS
        rate = RateTracker(windowS: windowS)
    }

    public var parameters: [String: Double] {
        ["threshold_c_per_min": thresholdCPerMin, "window_s": windowS, "hold_s": holdS, "calibration_s": calibrationS]
    }

    public mutating func step(t: Double, features f: [String: Double]) -> Double {
        guard let temp = f["cell_temp_c"], temp.isFinite, let r = rate.add(t: t, v: temp) else { return 0 }
        let i = f["current_a"].flatMap { $0.isFinite ? $0 : nil } ?? 0
        let amb = f["ambient_c"].flatMap { $0.isFinite ? $0 : nil } ?? temp
        let x = [i * i, amb - temp, 1.0]
        if t0 == nil { t0 = t }
        if t - t0! <= calibrationS {
            for a in 0..<3 {
                atb[a] += x[a] * r
                for b in 0..<3 { ata[a * 3 + b] += x[a] * x[b] }
            }
            return 0
        }
        if fit == nil { fit = Self.solve3(ata, atb) }
        let c = fit!
        let expected: Double = c[0] * x[0] + c[1] * x[1] + c[2] * x[2]
        let residualPerMin = (r - expected) * 60
        if residualPerMin >= thresholdCPerMin {
            since = since ?? t
        } else {
            since = nil
        }
        if let s = since, t - s >= holdS {
            riseStartS = riseStartS ?? (s - windowS / 2)
            return 1
        }
        return min(0.49, max(0, residualPerMin / thresholdCPerMin * 0.49))
    }

    /// Least squares with a ridge so that a column without variation (constant current) is harmless.
    static func solve3(_ a: [Double], _ b: [Double]) -> [Double] {
        var m = a
        let scale = max(1e-12, (m[0] + m[4] + m[8]) / 3)
        for d in 0..<3 { m[d * 4] += 1e-6 * scale }
        var aug: [[Double]] = []
        for r in 0..<3 { aug.append([m[r * 3], m[r * 3 + 1], m[r * 3 + 2], b[r]]) }
        for c in 0..<3 {
            let p = (c..<3).max { abs(aug[$0][c]) < abs(aug[$1][c]) }!
            aug.swapAt(c, p)
            guard abs(aug[c][c]) > 1e-300 else { return [0, 0, 0] }
            for r in 0..<3 where r != c {
                let k = aug[r][c] / aug[c][c]
                for j in c..<4 { aug[r][j] -= k * aug[c][j] }
            }
        }
        return (0..<3).map { aug[$0][3] / aug[$0][$0] }
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
        for name in names {
            guard var d: any OnlineDetector = name == "self_heating" ? SelfHeatingDetector() : DetectorRegistry.make(name) else {
                throw FeatureExtractionError.badOption("unknown suggestion detector '\(name)'; known: \(detectors.joined(separator: ", "))")
            }
            for k in 0..<table.count {
                var f: [String: Double] = [:]
                for (c, n) in table.names.enumerated() {
                    let v = table.values[k * table.names.count + c]
                    if !v.isNaN { f[n] = Double(v) }
                }
                let t = table.tickTimesS[k]
                guard d.step(t: t, features: f) >= 0.5 else { continue }
                var s = Suggestion(label: label(for: name), tS: t, detectedS: t, detector: name, parameters: d.parameters, note: "")
                switch d {
                case let g as GB38031Detector:
                    s.tS = (g.riseSince ?? t) - g.rate.windowS
                    s.note = "dT/dt held >= \(g.rateCPerS) degC/s for \(g.holdS) s with a voltage drop or >= \(g.maxTempC) degC"
                case let x as DTDTDetector:
                    s.tS = t - x.windowS / 2
                    s.note = "dT/dt >= \(x.thresholdCPerS) degC/s over \(x.windowS) s"
                case let v as VoltageDropDetector:
                    s.tS = v.lastNearMaxS ?? t
                    s.note = "voltage fell \(v.dropV) V below its running maximum (internal short)"
                case let sh as SelfHeatingDetector:
                    s.tS = sh.riseStartS ?? t
                    s.note = "heating >= \(sh.thresholdCPerMin) degC/min above the Joule and chamber heat fitted over the first \(Int(sh.calibrationS)) s"
                case let a as AEBurstDetector:
                    s.tS = t - period
                    s.note = "AE hit rate >= \(a.hitsPerS) /s (gas release)"
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
