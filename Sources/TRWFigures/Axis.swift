import Foundation

/// Axis ticks and ranges shared by the figures and the terminal screens.
public enum Axis {
    /// Round tick values covering [lo, hi] (steps 1, 2, 2.5, 5 times a power of ten).
    public static func niceTicks(_ lo: Double, _ hi: Double, count: Int) -> [Double] {
        guard lo.isFinite, hi.isFinite, hi > lo, count > 0 else { return lo.isFinite ? [lo] : [] }
        return ticks(lo, hi, step: niceStep((hi - lo) / Double(count)))
    }

    /// The smallest step of 1, 2, 2.5 or 5 times a power of ten that is at least `raw`.
    public static func niceStep(_ raw: Double) -> Double {
        guard raw.isFinite, raw > 0 else { return 1 }
        let mag = pow(10, floor(log10(raw)))
        return [1.0, 2, 2.5, 5, 10].map { $0 * mag }.first { $0 >= raw * (1 - 1e-12) } ?? 10 * mag
    }

    /// Multiples of `step` in [lo, hi], computed as k * step so that no rounding error accumulates.
    static func ticks(_ lo: Double, _ hi: Double, step: Double) -> [Double] {
        let first = (lo / step - 1e-9).rounded(.up), last = (hi / step + 1e-9).rounded(.down)
        guard first <= last, last - first < 10_000 else { return [] }
        return stride(from: first, through: last, by: 1).map { $0 == 0 ? 0 : $0 * step }
    }

    public static func formatTick(_ v: Double) -> String {
        v == v.rounded() ? String(Int(v)) : String(format: "%.1f", v)
    }

    /// A tick label with as many decimals as `step` needs (0.25 -> 2, 2.5 -> 1, 5 -> 0); never "-0".
    public static func formatTick(_ v: Double, step: Double) -> String {
        var d = 0
        while d < 6, abs((step * pow(10, Double(d))).rounded() - step * pow(10, Double(d))) > 1e-6 * max(1, step * pow(10, Double(d))) { d += 1 }
        let s = String(format: "%.\(d)f", v)
        return Double(s) == 0 ? String(format: "%.\(d)f", 0.0) : s
    }

    /// A time axis in the unit its span reads best in: seconds up to 10 minutes, minutes up to
    /// 3 hours, hours beyond; ticks on round values of that unit (1-2-5 s; 1, 2, 5, 10, 15, 20,
    /// 30 min; 0.25, 0.5, 1, 2, 3, 6, 12 h).
    public struct TimeAxis: Sendable, Equatable {
        /// "s", "min" or "h".
        public var unit: String
        /// Seconds per unit.
        public var seconds: Double
        /// Tick positions in seconds.
        public var ticks: [Double]
        /// Tick step in the unit.
        public var step: Double

        /// The tick's label in the axis unit ("12", "1.5").
        public func label(_ tS: Double) -> String { Axis.formatTick(tS / seconds, step: step) }
    }

    public static func timeAxis(_ t0: Double, _ t1: Double, count: Int = 8) -> TimeAxis {
        let span = t1 - t0
        guard t0.isFinite, t1.isFinite, span > 0, count > 0 else {
            return TimeAxis(unit: "s", seconds: 1, ticks: t0.isFinite ? [t0] : [], step: 1)
        }
        let (unit, seconds, steps): (String, Double, [Double]) =
            span <= 600 ? ("s", 1, [])
            : span <= 3 * 3600 ? ("min", 60, [1, 2, 5, 10, 15, 20, 30, 60])
            : ("h", 3600, [0.25, 0.5, 1, 2, 3, 6, 12, 24])
        let raw = span / seconds / Double(count)
        let step = steps.first { $0 >= raw } ?? niceStep(raw)
        let ts = ticks(t0 / seconds, t1 / seconds, step: step).map { $0 * seconds }
        return TimeAxis(unit: unit, seconds: seconds, ticks: ts, step: step)
    }

    /// How a panel's value range is chosen.
    public enum RangeRule: Sendable, Equatable {
        /// The data's range, widened to at least `minimumSpan` or `relativeSpan` times the largest
        /// magnitude (so ±1 mA of noise on a 4 A current is drawn as the flat line it is).
        case data(minimumSpan: Double, relativeSpan: Double)
        /// From zero (a rate or count: never negative) to the data's maximum.
        case fromZero(minimumSpan: Double)
        /// A fixed range (scores in [0, 1]).
        case fixed(Double, Double)
    }

    /// A value axis: the drawn range (on tick multiples) and its ticks.
    public struct ValueAxis: Sendable, Equatable {
        public var lo: Double
        public var hi: Double
        public var ticks: [Double]
        public var step: Double
        public func label(_ v: Double) -> String { Axis.formatTick(v, step: step) }
    }

    /// The range for `values` (non-finite values ignored) under `rule`, extended to round ticks.
    public static func valueAxis(_ values: [Double], rule: RangeRule, count: Int = 4) -> ValueAxis {
        let finite = values.filter(\.isFinite)
        var lo: Double, hi: Double
        switch rule {
        case .fixed(let a, let b):
            lo = a; hi = b
        case .fromZero(let minimumSpan):
            lo = min(0, finite.min() ?? 0)
            hi = max(finite.max() ?? 0, lo + minimumSpan)
        case .data(let minimumSpan, let relativeSpan):
            lo = finite.min() ?? 0; hi = finite.max() ?? 1
            let need = max(minimumSpan, relativeSpan * max(abs(lo), abs(hi)))
            if hi - lo < need {
                let mid = (lo + hi) / 2
                lo = mid - need / 2; hi = mid + need / 2
            }
        }
        if !(hi > lo) { hi = lo + 1 }
        let step = niceStep((hi - lo) / Double(count))
        if case .fixed = rule {} else {
            lo = (lo / step + 1e-9).rounded(.down) * step
            hi = (hi / step - 1e-9).rounded(.up) * step
            if case .fromZero = rule, lo > 0 { lo = 0 }
        }
        return ValueAxis(lo: lo, hi: hi, ticks: ticks(lo, hi, step: step), step: step)
    }
}
