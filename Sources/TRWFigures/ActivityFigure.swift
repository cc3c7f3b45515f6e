import Foundation
import TRWModels

extension ActivityCurve {
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
