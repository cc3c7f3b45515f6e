import Foundation
import TRWDatasets

extension ScoreReport {
    /// Lead-time distribution per detector (strip plot), SVG.
    public var svg: String {
        let w = 800.0, rowH = 40.0, left = 120.0, right = 30.0, top = 40.0
        let all = scores.flatMap(\.leadTimesS)
        let lo = min(0, all.min() ?? 0), hi = max(1, all.max() ?? 1)
        func x(_ v: Double) -> Double { left + (v - lo) / (hi - lo) * (w - left - right) }
        let h = top + rowH * Double(scores.count) + 50
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(w))\" height=\"\(Int(h))\" font-family=\"sans-serif\" font-size=\"12\">\n"
        s += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/><text x=\"\(left)\" y=\"22\" font-weight=\"bold\">Lead time before labelled onset (s), per detector</text>\n"
        for (i, sc) in scores.enumerated() {
            let y = top + rowH * Double(i) + rowH / 2
            s += "<text x=\"\(left - 8)\" y=\"\(y + 4)\" text-anchor=\"end\">\(sc.detector) (\(sc.detected)/\(sc.positives))</text>\n"
            s += "<line x1=\"\(left)\" x2=\"\(w - right)\" y1=\"\(y)\" y2=\"\(y)\" stroke=\"#ddd\"/>\n"
            for v in sc.leadTimesS { s += "<circle cx=\"\(Self.f(x(v), 1))\" cy=\"\(y)\" r=\"4\" fill=\"#1f77b4\" fill-opacity=\"0.7\"/>\n" }
            if sc.leadMedian.isFinite { s += "<line x1=\"\(Self.f(x(sc.leadMedian), 1))\" x2=\"\(Self.f(x(sc.leadMedian), 1))\" y1=\"\(y - 10)\" y2=\"\(y + 10)\" stroke=\"#d62728\" stroke-width=\"2\"/>\n" }
        }
        let yb = top + rowH * Double(scores.count) + 15
        for k in 0...5 {
            let v = lo + (hi - lo) * Double(k) / 5
            s += "<text x=\"\(Self.f(x(v), 1))\" y=\"\(yb)\" text-anchor=\"middle\">\(Self.f(v, 0))</text>\n"
        }
        s += "<text x=\"\(left + (w - left - right) / 2)\" y=\"\(yb + 18)\" text-anchor=\"middle\">seconds before onset (red: median)</text>\n</svg>\n"
        return s
    }
}
