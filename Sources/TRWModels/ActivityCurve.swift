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

    /// SVG: active fraction (mean ± std, blue) and work fraction (red) against complexity (log axis).
    public func svg(title: String) -> String {
        let w = 720.0, h = 420.0, l = 70.0, r = 20.0, t = 40.0, b = 60.0
        guard let first = bins.first, let last = bins.last else {
            return "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"200\" height=\"40\"><text x=\"10\" y=\"25\">no ticks</text></svg>\n"
        }
        let x0 = log10(first.lo), x1 = log10(last.hi)
        func x(_ v: Double) -> Double { l + (log10(max(v, first.lo)) - x0) / (x1 - x0) * (w - l - r) }
        func y(_ v: Double) -> Double { t + (1 - v) * (h - t - b) }
        func f(_ v: Double) -> String { String(format: "%.1f", v) }
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(w))\" height=\"\(Int(h))\" font-family=\"sans-serif\" font-size=\"12\">\n"
        s += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        s += "<text x=\"\(l)\" y=\"22\" font-weight=\"bold\">\(title)</text>\n"
        s += "<line x1=\"\(l)\" y1=\"\(y(0))\" x2=\"\(w - r)\" y2=\"\(y(0))\" stroke=\"black\"/><line x1=\"\(l)\" y1=\"\(y(0))\" x2=\"\(l)\" y2=\"\(y(1))\" stroke=\"black\"/>\n"
        for k in 0...5 {
            let v = Double(k) / 5
            s += "<line x1=\"\(l)\" x2=\"\(w - r)\" y1=\"\(f(y(v)))\" y2=\"\(f(y(v)))\" stroke=\"#eee\"/>"
            s += "<text x=\"\(l - 6)\" y=\"\(f(y(v) + 4))\" text-anchor=\"end\">\(String(format: "%.1f", v))</text>\n"
        }
        var e = floor(x0)
        while e <= ceil(x1) {
            if e >= x0 - 1e-9 && e <= x1 + 1e-9 {
                let xv = pow(10, e)
                s += "<line x1=\"\(f(x(xv)))\" x2=\"\(f(x(xv)))\" y1=\"\(y(0))\" y2=\"\(y(0) + 5)\" stroke=\"black\"/>"
                s += "<text x=\"\(f(x(xv)))\" y=\"\(y(0) + 18)\" text-anchor=\"middle\">\(String(format: "%g", xv))</text>\n"
            }
            e += 1
        }
        s += "<text x=\"\((l + w - r) / 2)\" y=\"\(h - 18)\" text-anchor=\"middle\">input complexity |dT|/s_dT + |dV|/s_dV (log scale; s = pre-onset std)</text>\n"
        s += "<text x=\"16\" y=\"\((t + h - b) / 2)\" transform=\"rotate(-90 16 \((t + h - b) / 2))\" text-anchor=\"middle\">fraction</text>\n"
        var pa = "", pw = ""
        for (i, bn) in bins.enumerated() {
            let xc = x(bn.meanComplexity)
            s += "<line x1=\"\(f(xc))\" x2=\"\(f(xc))\" y1=\"\(f(y(min(1, bn.meanActive + bn.stdActive))))\" y2=\"\(f(y(max(0, bn.meanActive - bn.stdActive))))\" stroke=\"#1f77b4\"/>\n"
            s += "<circle cx=\"\(f(xc))\" cy=\"\(f(y(bn.meanActive)))\" r=\"4\" fill=\"#1f77b4\"/>\n"
            pa += (i == 0 ? "M" : "L") + "\(f(xc)),\(f(y(bn.meanActive))) "
            pw += (i == 0 ? "M" : "L") + "\(f(xc)),\(f(y(bn.meanWork))) "
        }
        s += "<path d=\"\(pa)\" fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"2\"/>\n"
        s += "<path d=\"\(pw)\" fill=\"none\" stroke=\"#d62728\" stroke-width=\"2\" stroke-dasharray=\"5,3\"/>\n"
        s += "<text x=\"\(w - r - 260)\" y=\"\(t + 14)\" fill=\"#1f77b4\">● active cells / all cells (± std)</text>\n"
        s += "<text x=\"\(w - r - 260)\" y=\"\(t + 30)\" fill=\"#d62728\">- - multiply-adds / dense LSTM step</text>\n"
        return s + "</svg>\n"
    }
}
