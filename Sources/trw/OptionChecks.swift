import ArgumentParser
import Foundation
import TRWCore

/// Range checks for numeric options, used from every command's `validate()`:
/// NaN, ±inf, 1e300, 0, negatives and sizes beyond memory are usage errors
/// (exit 64) that name the option and the allowed range, never a trap later.
enum OptionCheck {
    /// `value` must be finite and in `range`; `openLower`: the lower bound itself is excluded ("(0, 1000]").
    static func number(_ value: Double, _ option: String, _ range: ClosedRange<Double>, openLower: Bool = false, unit: String = "") throws {
        let ok = value.isFinite && range.contains(value) && !(openLower && value == range.lowerBound)
        guard ok else {
            throw ValidationError("\(option) must be \(describe(range, openLower: openLower))\(unit.isEmpty ? "" : " " + unit), got \(value)")
        }
    }

    static func number(_ value: Double?, _ option: String, _ range: ClosedRange<Double>, openLower: Bool = false, unit: String = "") throws {
        if let value { try number(value, option, range, openLower: openLower, unit: unit) }
    }

    static func integer(_ value: Int, _ option: String, _ range: ClosedRange<Int>, unit: String = "") throws {
        guard range.contains(value) else {
            throw ValidationError("\(option) must be in \(range.lowerBound)...\(range.upperBound)\(unit.isEmpty ? "" : " " + unit), got \(value)")
        }
    }

    static func integer(_ value: Int?, _ option: String, _ range: ClosedRange<Int>, unit: String = "") throws {
        if let value { try integer(value, option, range, unit: unit) }
    }

    static func describe(_ r: ClosedRange<Double>, openLower: Bool) -> String {
        "in \(openLower ? "(" : "[")\(format(r.lowerBound)), \(format(r.upperBound))]"
    }

    static func format(_ v: Double) -> String { String(format: "%g", v) }

    /// Tick rates of the feature pipeline (export, replay, predict, score, suggest), Hz.
    static let tickRateHz: ClosedRange<Double> = 0.001...1000
    static func tickRate(_ v: Double, _ option: String = "--rate") throws {
        try number(v, option, tickRateHz, unit: "ticks per second")
    }

    /// --speed of rigs and replays: N times real time.
    static let speedRange: ClosedRange<Double> = 0.001...100_000
    /// --duration: positive seconds up to the session-time bound.
    static let durationRange: ClosedRange<Double> = 0...SessionTimeLimit.maxAbsSeconds
    /// Seconds-long windows and horizons (--early, --late, --horizon, --span).
    static let secondsRange: ClosedRange<Double> = 0...SessionTimeLimit.maxAbsSeconds

    /// `COLSxROWS` / `WxH` within bounds; nil when it does not parse or is out of range.
    static func size(_ s: String, width: ClosedRange<Int>, height: ClosedRange<Int>) -> (width: Int, height: Int)? {
        let p = s.lowercased().split(separator: "x", omittingEmptySubsequences: false).map { Int($0) }
        guard p.count == 2, let w = p[0], let h = p[1], width.contains(w), height.contains(h) else { return nil }
        return (w, h)
    }
}
