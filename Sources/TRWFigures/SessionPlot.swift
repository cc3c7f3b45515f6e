import Foundation
import TRWAnalysis
import TRWCore
import TRWStore

/// A stacked time-series SVG of a session: IR max temperature (and BMS cell
/// temperature), voltage, current, AE hit rate; labels and markers drawn as
/// vertical lines. Written without any plotting library.
public enum SessionPlot {
    public struct Series: Sendable {
        public var name: String
        public var unit: String
        public var color: String
        public var points: [(t: Double, v: Double)]
    }

    public struct Panel: Sendable {
        public var title: String
        public var series: [Series]
    }

    /// Reads the session and builds the four panels.
    public static func panels(_ r: SessionReader, hitRateBinS: Double = 1) throws -> [Panel] {
        var temp: [Series] = []
        for s in try r.streams(kind: .thermal) {
            guard let cal = s.calibration else { continue }
            let pts = try r.frameSummaries(streamId: s.id!).map { (Double($0.tNs) / 1e9, cal.celsius(UInt16(clamping: $0.maxCounts))) }
            temp.append(Series(name: "\(s.key) IR max", unit: "°C", color: "#d62728", points: pts))
        }
        // The cell's fields from the cell's BMS, ambient from its role's stream (SerialRoles).
        let roles = try SerialRoles.resolve(r)
        let serial = try r.streams(kind: .bms)
        func samples(_ key: String?) throws -> [BMSSampleRecord] {
            guard let id = serial.first(where: { $0.key == key })?.id else { return [] }
            return try r.bmsSamples(streamId: id)
        }
        let bms = try samples(roles.cell)
        let ambientSamples = roles.ambient == roles.cell ? bms : try samples(roles.ambient)
        let cellT = bms.compactMap { b in b.cellTempC.map { (Double(b.tNs) / 1e9, $0) } }
        if !cellT.isEmpty { temp.append(Series(name: "cell TC", unit: "°C", color: "#ff7f0e", points: cellT)) }
        let ambT = ambientSamples.compactMap { b in b.ambientC.map { (Double(b.tNs) / 1e9, $0) } }
        if !ambT.isEmpty { temp.append(Series(name: "ambient", unit: "°C", color: "#17becf", points: ambT)) }
        let volts = bms.compactMap { b in b.voltageV.map { (Double(b.tNs) / 1e9, $0) } }
        let amps = bms.compactMap { b in b.currentA.map { (Double(b.tNs) / 1e9, $0) } }
        var hitSeries: [Series] = []
        for s in try r.streams(kind: .ae) {
            let hits = try r.aeHits(streamId: s.id!)
            let end = Double(try r.session().endTNs ?? hits.last?.tNs ?? 0) / 1e9
            let bins = max(1, Int((end / hitRateBinS).rounded(.up)))
            var counts = [Double](repeating: 0, count: bins)
            for h in hits {
                let b = min(bins - 1, max(0, Int(Double(h.tNs) / 1e9 / hitRateBinS)))
                counts[b] += 1
            }
            let pts = counts.enumerated().map { (Double($0.offset) * hitRateBinS, $0.element / hitRateBinS) }
            hitSeries.append(Series(name: "\(s.key) AE hits", unit: "hits/s", color: "#9467bd", points: pts))
        }
        return [
            Panel(title: "Temperature (°C)", series: temp),
            Panel(title: "Voltage (V)", series: [Series(name: "voltage", unit: "V", color: "#1f77b4", points: volts)]),
            Panel(title: "Current (A)", series: [Series(name: "current", unit: "A", color: "#2ca02c", points: amps)]),
            Panel(title: "AE hit rate (hits/s)", series: hitSeries),
            Panel(title: "Detector score (alarm above 0.5)", series: try predictionSeries(r)),
        ]
    }

    /// One series per stored prediction run (live or replayed), in storage order.
    static func predictionSeries(_ r: SessionReader) throws -> [Series] {
        let palette = ["#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf", "#1f77b4"]
        var order: [String] = [], points: [String: [(t: Double, v: Double)]] = [:]
        for p in try r.predictions() {
            let key = "\(p.model) (\(p.runId))"
            if points[key] == nil { order.append(key) }
            points[key, default: []].append((Double(p.tNs) / 1e9, p.score))
        }
        return order.enumerated().map { i, k in
            Series(name: k, unit: "score", color: palette[i % palette.count], points: points[k]!.sorted { $0.t < $1.t })
        }
    }

    /// Renders panels and event lines to SVG text.
    public static func svg(title: String, panels: [Panel], events: [(t: Double, label: String, color: String)],
                           width: Int = 1000, panelHeight: Int = 170, range: (from: Double, to: Double)? = nil,
                           spans: [(from: Double, to: Double, label: String)] = []) -> String {
        var panels = panels
        var events = events
        if let range {
            // Keep one point either side of the window so lines run to its edges.
            for i in panels.indices {
                for j in panels[i].series.indices {
                    let p = panels[i].series[j].points
                    let a = max(0, (p.firstIndex { $0.t >= range.from } ?? p.count) - 1)
                    let b = min(p.count, (p.lastIndex { $0.t <= range.to } ?? -1) + 2)
                    panels[i].series[j].points = a < b ? p[a..<b].map { (max(range.from, min(range.to, $0.t)), $0.v) } : []
                }
            }
            events = events.filter { $0.t >= range.from && $0.t <= range.to }
        }
        let left = 70.0, right = 20.0, top = 40.0, gapY = 30.0
        let plotW = Double(width) - left - right
        let allT = panels.flatMap { $0.series.flatMap { $0.points.map(\.t) } } + events.map(\.t)
        let t0 = range?.from ?? 0.0, t1 = range?.to ?? max(allT.max() ?? 1, 1e-9)
        let height = Int(top + Double(panels.count) * (Double(panelHeight) + gapY) + 30)
        var s = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(width)" height="\(height)" font-family="sans-serif" font-size="11">
            <rect width="100%" height="100%" fill="white"/>
            <text x="\(left)" y="22" font-size="14" font-weight="bold" textLength="\(fmt(min(plotW, Double(title.count) * 8)))" lengthAdjust="spacingAndGlyphs">\(esc(title))</text>

            """
        func x(_ t: Double) -> Double { left + (t - t0) / (t1 - t0) * plotW }
        for (i, p) in panels.enumerated() {
            let y0 = top + Double(i) * (Double(panelHeight) + gapY)
            let h = Double(panelHeight)
            let vs = p.series.flatMap { $0.points.map(\.v) }
            var lo = vs.min() ?? 0, hi = vs.max() ?? 1
            if hi - lo < 1e-9 { lo -= 0.5; hi += 0.5 }
            let pad = (hi - lo) * 0.05
            lo -= pad; hi += pad
            func y(_ v: Double) -> Double { y0 + h - (v - lo) / (hi - lo) * h }
            s += "<rect x=\"\(left)\" y=\"\(y0)\" width=\"\(plotW)\" height=\"\(h)\" fill=\"none\" stroke=\"#888\"/>\n"
            s += "<text x=\"\(left + 4)\" y=\"\(y0 + 13)\" font-weight=\"bold\">\(esc(p.title))</text>\n"
            let digits = max(0, min(6, Int((-log10((hi - lo) / 4)).rounded(.up)) + 1))
            for k in 0...4 {
                let v = lo + (hi - lo) * Double(k) / 4
                s += "<text x=\"\(left - 6)\" y=\"\(fmt(y(v) + 4))\" text-anchor=\"end\">\(fmt(v, digits))</text>\n"
                s += "<line x1=\"\(left)\" x2=\"\(left + plotW)\" y1=\"\(fmt(y(v)))\" y2=\"\(fmt(y(v)))\" stroke=\"#eee\"/>\n"
            }
            if vs.isEmpty {
                s += "<text x=\"\(left + plotW / 2)\" y=\"\(y0 + h / 2)\" text-anchor=\"middle\" fill=\"#999\">no data</text>\n"
            }
            for (j, ser) in p.series.enumerated() {
                let pts = decimate(ser.points, maxPoints: Int(plotW) * 2)
                guard !pts.isEmpty else { continue }
                let d = pts.map { "\(fmt(x($0.t))),\(fmt(y($0.v)))" }.joined(separator: " ")
                s += "<polyline fill=\"none\" stroke=\"\(ser.color)\" stroke-width=\"1.3\" points=\"\(d)\"/>\n"
                s += "<text x=\"\(left + plotW - 4)\" y=\"\(y0 + 13 + Double(j) * 13)\" text-anchor=\"end\" fill=\"\(ser.color)\">\(esc(ser.name))</text>\n"
            }
            for sp in spans where sp.to >= t0 && sp.from <= t1 {
                let a = x(max(t0, sp.from)), b = x(min(t1, sp.to))
                s += "<rect x=\"\(fmt(a))\" y=\"\(y0)\" width=\"\(fmt(max(0.5, b - a)))\" height=\"\(h)\" fill=\"#999\" fill-opacity=\"0.18\"/>\n"
                if i == 0 { s += "<text x=\"\(fmt(a + 3))\" y=\"\(y0 + 26)\" fill=\"#666\">\(esc(sp.label))</text>\n" }
            }
            // Labels closer than 12 px share one caption (the first, with how many more).
            var lastTextX = -Double.infinity
            let sorted = events.sorted { $0.t < $1.t }
            for (k, e) in sorted.enumerated() {
                s += "<line x1=\"\(fmt(x(e.t)))\" x2=\"\(fmt(x(e.t)))\" y1=\"\(y0)\" y2=\"\(y0 + h)\" stroke=\"\(e.color)\" stroke-dasharray=\"4 3\"/>\n"
                if i == 0 && x(e.t) - lastTextX >= 12 {
                    let near = sorted[(k + 1)...].prefix { x($0.t) - x(e.t) < 12 }.count
                    let text = e.label + (near > 0 ? " +\(near)" : "")
                    s += "<text x=\"\(fmt(x(e.t) - 3))\" y=\"\(y0 + h - 4)\" fill=\"\(e.color)\" transform=\"rotate(-90 \(fmt(x(e.t) - 3)) \(y0 + h - 4))\">\(esc(text))</text>\n"
                    lastTextX = x(e.t)
                }
            }
        }
        let yb = top + Double(panels.count) * (Double(panelHeight) + gapY) - gapY + 16
        for k in 0...8 {
            let t = t0 + (t1 - t0) * Double(k) / 8
            s += "<text x=\"\(fmt(x(t)))\" y=\"\(fmt(yb))\" text-anchor=\"middle\">\(fmt(t, t1 > 100 ? 0 : 1))</text>\n"
        }
        s += "<text x=\"\(left + plotW / 2)\" y=\"\(fmt(yb + 14))\" text-anchor=\"middle\">session time (s)</text>\n</svg>\n"
        return s
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

    static func fmt(_ v: Double, _ d: Int = 1) -> String { String(format: "%.\(d)f", v) }
    static func esc(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }

    /// Panel keys for `channels`: temperature, voltage, current, ae.
    public static let panelKeys = ["temperature", "voltage", "current", "ae", "score"]

    static func labelColor(_ label: String) -> String {
        switch label {
        case "runaway_onset": "#d62728"
        case "venting": "#e377c2"
        case "self_heating_onset": "#ff7f0e"
        default: "#555"
        }
    }

    /// Panels + labels + markers of a session, as SVG; optionally a time window and a subset of panels.
    public static func render(_ r: SessionReader, from: Double? = nil, to: Double? = nil, channels: [String]? = nil) throws -> String {
        let sess = try r.session()
        var events: [(t: Double, label: String, color: String)] = []
        var spans: [(from: Double, to: Double, label: String)] = []
        for a in try r.annotations() {
            if let e = a.endTNs, e > a.startTNs {
                spans.append((Double(a.startTNs) / 1e9, Double(e) / 1e9, "\(a.label) (\(a.labelSet))"))
            } else {
                events.append((Double(a.startTNs) / 1e9, "\(a.label) (\(a.method))", labelColor(a.label)))
            }
        }
        for m in try r.markers() { events.append((Double(m.tNs) / 1e9, m.text, "#1f77b4")) }
        // The first alarm of each stored prediction run, where people look for it.
        var alarmed = Set<String>()
        for p in try r.predictions() where p.alarm && alarmed.insert(p.model + "\u{0}" + p.runId).inserted {
            events.append((Double(p.tNs) / 1e9, "\(p.model) alarm", "#8c564b"))
        }
        let cell = sess.cell.map { " — \($0.chemistry) \(String(format: "%.1f", $0.capacityAh)) Ah \($0.format)" } ?? ""
        var ps = try panels(r)
        if let channels {
            for c in channels where !panelKeys.contains(c) {
                throw SessionStoreError.notASession(path: r.path, reason: "no panel '\(c)' to plot; panels: \(panelKeys.joined(separator: ", "))")
            }
            ps = zip(panelKeys, ps).filter { channels.contains($0.0) }.map(\.1)
        } else if ps.last?.series.isEmpty == true {
            ps.removeLast()  // no stored predictions: no score panel unless asked for
        }
        let end = Double(sess.endTNs ?? 0) / 1e9
        let range: (Double, Double)? = (from != nil || to != nil) ? (from ?? 0, to ?? max(end, (from ?? 0) + 1)) : nil
        return svg(title: "\(sess.name)\(cell)\(sess.protocol.map { ", \($0)" } ?? "")", panels: ps, events: events, range: range, spans: spans)
    }
}
