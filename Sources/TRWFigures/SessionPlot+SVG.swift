import Foundation

/// Layout and SVG of a `SessionPlot.Figure`. All text sits outside the data: the title and
/// subtitle on their own lines, label and marker captions in a strip above the first panel,
/// each panel's name and legend on a header line above its box, tick labels and axis titles
/// outside the boxes. Curves are clipped to their boxes; text that would not fit is shortened
/// with an ellipsis, never squeezed or overlapped.
extension SessionPlot {
    /// Rough advance widths of the sans-serif font at the sizes used (px per character).
    static let charWidth11 = 6.4, charWidth15Bold = 9.0

    /// `s` cut to at most `maxChars` characters, with an ellipsis when cut.
    static func fit(_ s: String, maxChars: Int) -> String {
        guard s.count > maxChars else { return s }
        return maxChars <= 1 ? "…" : String(s.prefix(maxChars - 1)) + "…"
    }

    public static func svg(_ f: Figure, width: Int = 1000, panelHeight: Int = 150) -> String {
        let W = Double(width), left = 82.0, right = 24.0
        let plotW = W - left - right
        let panelH = Double(panelHeight), headerH = 20.0, panelGap = 10.0
        // The time span: the window, or every point and event (never shorter than 1 s).
        let allT = f.panels.flatMap { $0.series.flatMap { $0.points.map(\.t) } } + f.events.map(\.t)
        var t0 = f.range?.from ?? min(0, allT.min() ?? 0)
        var t1 = f.range?.to ?? (allT.max() ?? 1)
        if !(t1 > t0) { t1 = t0 + 1 }
        if !t0.isFinite { t0 = 0 }
        let events = f.events.filter { $0.t >= t0 && $0.t <= t1 }.sorted { $0.t < $1.t }
        let spans = f.spans.filter { $0.to >= t0 && $0.from <= t1 }
        func x(_ t: Double) -> Double { left + (t - t0) / (t1 - t0) * plotW }

        var body = ""
        var y = 24.0
        body += "<text x=\"20\" y=\"\(y)\" font-size=\"15\" font-weight=\"bold\">\(esc(fit(f.title, maxChars: Int((W - 40) / charWidth15Bold))))</text>\n"
        if !f.subtitle.isEmpty {
            y += 18
            body += "<text x=\"20\" y=\"\(y)\" font-size=\"12\" fill=\"#444\">\(esc(fit(f.subtitle, maxChars: Int((W - 40) / 6.9))))</text>\n"
        }
        // Runs of an overlay: one colour each, wrapped over as many rows as they need.
        if !f.runs.isEmpty {
            y += 20
            var cx = 20.0
            for (i, run) in f.runs.enumerated() {
                let text = "\(i + 1): " + fit(run.name, maxChars: 40)
                let w = 22 + Double(text.count) * charWidth11 + 14
                if cx + w > W - right, cx > 20 { cx = 20; y += 16 }
                body += "<line x1=\"\(fmt(cx))\" x2=\"\(fmt(cx + 18))\" y1=\"\(fmt(y - 4))\" y2=\"\(fmt(y - 4))\" stroke=\"\(run.color)\" stroke-width=\"3\"/>"
                body += "<text x=\"\(fmt(cx + 22))\" y=\"\(fmt(y))\">\(esc(text))</text>\n"
                cx += w
            }
        }
        y += 10
        // Caption strip: labels, markers, first alarms and excluded intervals, rotated, above the panels.
        let captionChars = 19
        let strip = events.isEmpty && !spans.contains(where: { !$0.isGap }) ? 0.0 : Double(captionChars) * charWidth11 + 8
        let stripBottom = y + strip
        if strip > 0 {
            var captions: [(x: Double, text: String, color: String)] = events.map { (x($0.t), $0.label, $0.color) }
            captions += spans.filter { !$0.isGap }.map { (x(max(t0, $0.from)), $0.label, "#666") }
            captions.sort { $0.x < $1.x }
            var lastX = -Double.infinity
            for (k, c) in captions.enumerated() where c.x - lastX >= 12 {
                let near = captions[(k + 1)...].prefix { $0.x - c.x < 12 }.count
                let more = near > 0 ? " +\(near)" : ""
                let text = fit(c.text, maxChars: captionChars - more.count) + more
                let tx = c.x + 4
                body += "<text x=\"\(fmt(tx))\" y=\"\(fmt(stripBottom - 2))\" fill=\"\(c.color)\" transform=\"rotate(-90 \(fmt(tx)) \(fmt(stripBottom - 2)))\">\(esc(text))</text>\n"
                lastX = c.x
            }
        }
        y = stripBottom
        var usedKinds = Set<String>()
        var hasGaps = false
        for (i, p) in f.panels.enumerated() {
            let boxTop = y + headerH, h = panelH
            let axis = Axis.valueAxis(p.series.flatMap { s in visible(s.points, t0, t1).map(\.v) }, rule: p.rule)
            func yv(_ v: Double) -> Double { boxTop + h - (v - axis.lo) / (axis.hi - axis.lo) * h }
            // Header: name and unit left, legend right.
            let name = "\(p.title) (\(p.unit))"
            body += "<text x=\"\(left)\" y=\"\(fmt(boxTop - 6))\" font-weight=\"bold\">\(esc(name))</text>\n"
            var legend: [(text: String, color: String, dash: String?, block: Bool)] = []
            var seen = Set<String>()
            for s in p.series where seen.insert(s.name + (s.dash ?? "")).inserted {
                legend.append((s.name, f.runs.isEmpty ? s.color : "#333", s.dash, false))
            }
            for l in p.limits where seen.insert(l.label).inserted { legend.append((l.label, l.color, "5 3", false)) }
            if !p.marks.isEmpty { legend.append((p.marksLabel, "#d62728", nil, true)) }
            var lx = left + plotW
            let minX = left + Double(name.count) * charWidth11 + 24
            for (k, e) in legend.enumerated().reversed() {
                let text = fit(e.text, maxChars: 34)
                let w = 22 + Double(text.count) * charWidth11
                if lx - w < minX {
                    body += "<text x=\"\(fmt(lx))\" y=\"\(fmt(boxTop - 6))\" text-anchor=\"end\" fill=\"#666\">+\(k + 1) more</text>\n"
                    break
                }
                lx -= w
                let sy = boxTop - 10
                if e.block {
                    body += "<rect x=\"\(fmt(lx))\" y=\"\(fmt(sy - 3))\" width=\"18\" height=\"6\" fill=\"\(e.color)\"/>"
                } else {
                    body += "<line x1=\"\(fmt(lx))\" x2=\"\(fmt(lx + 18))\" y1=\"\(fmt(sy))\" y2=\"\(fmt(sy))\" stroke=\"\(e.color)\" stroke-width=\"2\"\(e.dash.map { " stroke-dasharray=\"\($0)\"" } ?? "")/>"
                }
                body += "<text x=\"\(fmt(lx + 22))\" y=\"\(fmt(boxTop - 6))\" fill=\"\(e.color)\">\(esc(text))</text>\n"
                lx -= 12
            }
            // Box, grid, value ticks and the unit.
            body += "<clipPath id=\"panel\(i)\"><rect x=\"\(left)\" y=\"\(fmt(boxTop))\" width=\"\(fmt(plotW))\" height=\"\(fmt(h))\"/></clipPath>\n"
            for v in axis.ticks {
                body += "<line x1=\"\(left)\" x2=\"\(fmt(left + plotW))\" y1=\"\(fmt(yv(v)))\" y2=\"\(fmt(yv(v)))\" stroke=\"#eee\"/>"
                body += "<text x=\"\(fmt(left - 6))\" y=\"\(fmt(yv(v) + 4))\" text-anchor=\"end\">\(axis.label(v))</text>\n"
            }
            for t in Axis.timeAxis(t0, t1).ticks {
                body += "<line x1=\"\(fmt(x(t)))\" x2=\"\(fmt(x(t)))\" y1=\"\(fmt(boxTop))\" y2=\"\(fmt(boxTop + h))\" stroke=\"#f3f3f3\"/>\n"
            }
            let uy = boxTop + h / 2
            body += "<text x=\"16\" y=\"\(fmt(uy))\" text-anchor=\"middle\" transform=\"rotate(-90 16 \(fmt(uy)))\">\(esc(p.unit))</text>\n"
            // Shaded intervals: excluded (grey), gaps in data (red); gaps closer than a pixel merge.
            for sp in spans where !sp.isGap {
                let a = x(max(t0, sp.from)), b = x(min(t1, sp.to))
                body += "<rect x=\"\(fmt(a))\" y=\"\(fmt(boxTop))\" width=\"\(fmt(max(0.5, b - a)))\" height=\"\(fmt(h))\" fill=\"#999\" fill-opacity=\"0.18\"/>\n"
            }
            let gaps = spans.filter(\.isGap).map { (max(t0, $0.from), min(t1, $0.to)) }
            for g in intervals(gaps, joinWithinPx: 1, x: x) {
                hasGaps = true
                body += "<rect x=\"\(fmt(g.0))\" y=\"\(fmt(boxTop))\" width=\"\(fmt(max(1, g.1 - g.0)))\" height=\"\(fmt(h))\" fill=\"#d62728\" fill-opacity=\"0.10\"/>\n"
            }
            if p.series.allSatisfy({ visible($0.points, t0, t1).isEmpty }) {
                body += "<text x=\"\(fmt(left + plotW / 2))\" y=\"\(fmt(boxTop + h / 2))\" text-anchor=\"middle\" fill=\"#999\">no data</text>\n"
            }
            for s in p.series {
                let pts = decimate(visible(s.points, t0, t1).filter { $0.v.isFinite }, maxPoints: Int(plotW) * 2)
                guard !pts.isEmpty else { continue }
                let d = pts.map { "\(fmt(x($0.t))),\(fmt(yv($0.v)))" }.joined(separator: " ")
                body += "<polyline clip-path=\"url(#panel\(i))\" fill=\"none\" stroke=\"\(s.color)\" stroke-width=\"1.3\"\(s.dash.map { " stroke-dasharray=\"\($0)\"" } ?? "") points=\"\(d)\"/>\n"
            }
            for l in p.limits where l.value >= axis.lo && l.value <= axis.hi {
                body += "<line x1=\"\(left)\" x2=\"\(fmt(left + plotW))\" y1=\"\(fmt(yv(l.value)))\" y2=\"\(fmt(yv(l.value)))\" stroke=\"\(l.color)\" stroke-dasharray=\"5 3\"/>\n"
            }
            for m in p.marks where m.to >= t0 && m.from <= t1 {
                let a = x(max(t0, m.from)), b = x(min(t1, m.to))
                body += "<rect x=\"\(fmt(a))\" y=\"\(fmt(boxTop))\" width=\"\(fmt(max(1, b - a)))\" height=\"4\" fill=\"#d62728\"/>\n"
            }
            for e in events {
                usedKinds.insert(e.kind.legend)
                body += "<line x1=\"\(fmt(x(e.t)))\" x2=\"\(fmt(x(e.t)))\" y1=\"\(fmt(boxTop))\" y2=\"\(fmt(boxTop + h))\" stroke=\"\(e.color)\"\(e.kind.dash.map { " stroke-dasharray=\"\($0)\"" } ?? "")/>\n"
                if i == 0, strip > 0 {
                    body += "<line x1=\"\(fmt(x(e.t)))\" x2=\"\(fmt(x(e.t)))\" y1=\"\(fmt(stripBottom - 4))\" y2=\"\(fmt(boxTop))\" stroke=\"\(e.color)\" stroke-opacity=\"0.5\"/>\n"
                }
            }
            body += "<rect x=\"\(left)\" y=\"\(fmt(boxTop))\" width=\"\(fmt(plotW))\" height=\"\(fmt(h))\" fill=\"none\" stroke=\"#888\"/>\n"
            y = boxTop + h + panelGap
        }
        // Time axis under the last panel.
        let ta = Axis.timeAxis(t0, t1)
        let base = y - panelGap
        for t in ta.ticks {
            body += "<line x1=\"\(fmt(x(t)))\" x2=\"\(fmt(x(t)))\" y1=\"\(fmt(base))\" y2=\"\(fmt(base + 4))\" stroke=\"#888\"/>"
            body += "<text x=\"\(fmt(x(t)))\" y=\"\(fmt(base + 16))\" text-anchor=\"middle\">\(ta.label(t))</text>\n"
        }
        y = base + 32
        body += "<text x=\"\(fmt(left + plotW / 2))\" y=\"\(fmt(y))\" text-anchor=\"middle\">\(esc(f.timeTitle)) (\(ta.unit))</text>\n"
        // Line styles of labels and markers, and the shading, when present.
        var keys: [(text: String, dash: String?, fill: String?)] = []
        for k in [EventKind.manual, .groundTruth, .detector, .alarm, .marker, .alignment] where usedKinds.contains(k.legend) {
            keys.append((k.legend, k.dash, nil))
        }
        if spans.contains(where: { !$0.isGap }) { keys.append(("excluded interval", nil, "#999")) }
        if hasGaps { keys.append(("gap in recorded data", nil, "#f2c4c4")) }
        if !keys.isEmpty {
            y += 20
            var cx = left
            for k in keys {
                let w = 22 + Double(k.text.count) * charWidth11 + 16
                if cx + w > W - right, cx > left { cx = left; y += 16 }
                if let fill = k.fill {
                    body += "<rect x=\"\(fmt(cx))\" y=\"\(fmt(y - 9))\" width=\"18\" height=\"10\" fill=\"\(fill)\" fill-opacity=\"0.6\"/>"
                } else {
                    body += "<line x1=\"\(fmt(cx))\" x2=\"\(fmt(cx + 18))\" y1=\"\(fmt(y - 4))\" y2=\"\(fmt(y - 4))\" stroke=\"#333\"\(k.dash.map { " stroke-dasharray=\"\($0)\"" } ?? "")/>"
                }
                body += "<text x=\"\(fmt(cx + 22))\" y=\"\(fmt(y))\">\(esc(k.text))</text>\n"
                cx += w
            }
        }
        let height = Int((y + 14).rounded(.up))
        return """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(width)" height="\(height)" viewBox="0 0 \(width) \(height)" font-family="DejaVu Sans, sans-serif" font-size="11">
            <rect width="100%" height="100%" fill="white"/>

            """ + body + "</svg>\n"
    }

    /// The points in [t0, t1] plus one either side, so lines run to the window's edges (clipped there).
    static func visible(_ p: [(t: Double, v: Double)], _ t0: Double, _ t1: Double) -> [(t: Double, v: Double)] {
        guard let first = p.firstIndex(where: { $0.t >= t0 }) else { return p.last.map { $0.t >= t0 - 1e-9 ? [$0] : [] } ?? [] }
        let last = p.lastIndex { $0.t <= t1 } ?? -1
        let a = max(0, first - 1), b = min(p.count, last + 2)
        return a < b ? Array(p[a..<b]) : []
    }

    /// Intervals in pixels, joined where they are within `joinWithinPx` of each other.
    static func intervals(_ ts: [(Double, Double)], joinWithinPx: Double, x: (Double) -> Double) -> [(Double, Double)] {
        var out: [(Double, Double)] = []
        for (a, b) in ts.map({ (x($0.0), x($0.1)) }).sorted(by: { $0.0 < $1.0 }) {
            if let l = out.last, a - l.1 <= joinWithinPx { out[out.count - 1].1 = max(l.1, b) } else { out.append((a, b)) }
        }
        return out
    }

    /// Min/max decimation per pixel column: keeps spikes visible.
    static func decimate(_ p: [(t: Double, v: Double)], maxPoints: Int) -> [(t: Double, v: Double)] {
        guard p.count > maxPoints, maxPoints >= 2 else { return p }
        let per = Int((Double(p.count) / Double(maxPoints / 2)).rounded(.up))
        var out: [(t: Double, v: Double)] = []
        var i = 0
        while i < p.count {
            let chunk = p[i..<min(p.count, i + per)]
            let lo = chunk.min { $0.v < $1.v }!, hi = chunk.max { $0.v < $1.v }!
            if lo.t <= hi.t { out += [lo, hi] } else { out += [hi, lo] }
            i += per
        }
        return out
    }

    static func esc(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }
}
