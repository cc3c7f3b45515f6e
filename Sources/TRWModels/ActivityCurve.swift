import Foundation

/// The DP-LSTM paper's Figure 3(a): active cells against input complexity.
/// Complexity of a tick = dT/s_dT + dV/s_dV (the mask drive, in units of the
/// training runs' pre-onset standard deviations). Ticks are put in
/// log-spaced complexity bins; each bin reports the mean and standard
/// deviation of the active-cell fraction and the mean fraction of the dense
/// LSTM's multiply-adds actually done.
public struct ActivityCurve: Sendable {
    public struct Bin: Sendable {
        public var lo: Double, hi: Double, count: Int
        public var meanComplexity: Double, meanActive: Double, stdActive: Double, meanWork: Double
    }
    public var bins: [Bin]

    public init(complexity: [Double], activeFraction: [Double], workFraction: [Double], binCount: Int = 10) {
        let floor = 1e-2
        let c = complexity.map { max($0, floor) }
        guard let mx = c.max(), mx > floor else {
            bins = []
            return
        }
        let lmin = log10(floor), lmax = log10(mx) + 1e-9
        var acc = Array(repeating: (n: 0, c: 0.0, a: 0.0, a2: 0.0, w: 0.0), count: binCount)
        for i in c.indices {
            let b = min(binCount - 1, Int((log10(c[i]) - lmin) / (lmax - lmin) * Double(binCount)))
            acc[b].n += 1; acc[b].c += complexity[i]; acc[b].a += activeFraction[i]
            acc[b].a2 += activeFraction[i] * activeFraction[i]; acc[b].w += workFraction[i]
        }
        bins = acc.enumerated().compactMap { b, x in
            guard x.n > 0 else { return nil }
            let m = x.a / Double(x.n)
            let lo = pow(10, lmin + (lmax - lmin) * Double(b) / Double(binCount))
            let hi = pow(10, lmin + (lmax - lmin) * Double(b + 1) / Double(binCount))
            return Bin(lo: lo, hi: hi, count: x.n, meanComplexity: x.c / Double(x.n), meanActive: m,
                       stdActive: max(0, x.a2 / Double(x.n) - m * m).squareRoot(), meanWork: x.w / Double(x.n))
        }
    }

    public var table: String {
        var lines = ["complexity bin (|dT|/s + |dV|/s)     ticks   active cells (mean ± std)   MACs vs dense"]
        for b in bins {
            lines.append(String(format: "[%9.3g, %9.3g)", b.lo, b.hi) + String(repeating: " ", count: 12)
                         + String(format: "%8d   %8.3f ± %.3f", b.count, b.meanActive, b.stdActive)
                         + String(repeating: " ", count: 10) + String(format: "%6.3f", b.meanWork))
        }
        return lines.joined(separator: "\n")
    }
}
