import Foundation
import TRWAnalysis
import TRWCore
import TRWStore

/// A stacked time-series figure of one session or of several runs overlaid: IR max (and BMS
/// cell and ambient) temperature, voltage, current, AE hit rate and stored detector scores, with
/// labels, markers, first alarms, excluded intervals and data gaps. Rendering (SVG, no plotting
/// library) is in SessionPlot+SVG.swift.
public enum SessionPlot {
    public struct Series: Sendable {
        /// The legend's name ("ir0 IR max").
        public var name: String
        /// What is measured, without the stream ("IR max"): the legend of an overlay.
        public var quantity: String
        public var unit: String
        public var color: String
        /// SVG stroke-dasharray (nil: solid).
        public var dash: String? = nil
        public var points: [(t: Double, v: Double)]

        public init(name: String, quantity: String? = nil, unit: String, color: String, dash: String? = nil,
                    points: [(t: Double, v: Double)]) {
            self.name = name; self.quantity = quantity ?? name; self.unit = unit; self.color = color; self.dash = dash
            self.points = points
        }
    }

    /// A horizontal reference line (IR saturation, alarm threshold).
    public struct Limit: Sendable {
        public var value: Double
        public var label: String
        public var color: String
    }

    public struct Panel: Sendable {
        /// One of `panelKeys`.
        public var key: String
        public var title: String
        public var unit: String
        public var rule: Axis.RangeRule
        public var series: [Series]
        public var limits: [Limit] = []
        /// Intervals drawn as a red band on the panel's top edge (IR frames at saturation).
        public var marks: [(from: Double, to: Double)] = []
        /// What `marks` means, for the legend.
        public var marksLabel = ""
    }

    /// How a label or marker line is drawn: by who made it.
    public enum EventKind: Sendable {
        case manual, groundTruth, detector, marker, alarm, alignment
        var dash: String? {
            switch self {
            case .manual, .alignment: nil
            case .groundTruth: "6 3"
            case .detector, .alarm: "2 2"
            case .marker: "1 3"
            }
        }
        var legend: String {
            switch self {
            case .manual: "label (manual)"
            case .groundTruth: "simulator ground truth"
            case .detector: "label by a detector"
            case .marker: "marker"
            case .alarm: "first alarm of a stored prediction"
            case .alignment: "time zero of the aligned runs"
            }
        }
        static func of(method: String) -> EventKind {
            method == LabelSetSelection.groundTruthMethod ? .groundTruth : method.hasPrefix("detector") ? .detector : .manual
        }
    }

    public struct Event: Sendable {
        public var t: Double
        public var label: String
        public var color: String
        public var kind: EventKind
    }

    /// A shaded interval: an excluded interval label or a gap in a stream's data.
    public struct Span: Sendable {
        public var from: Double
        public var to: Double
        public var label: String
        public var isGap: Bool
    }

    public struct Figure: Sendable {
        public var title: String
        public var subtitle: String
        public var panels: [Panel]
        public var events: [Event]
        public var spans: [Span]
        /// The time axis title without its unit ("session time", "time from runaway_onset").
        public var timeTitle = "session time"
        /// Runs of an overlay, with their colours (empty for one session).
        public var runs: [(name: String, color: String)] = []
        public var range: (from: Double, to: Double)?
    }

    /// Panel keys for `channels`.
    public static let panelKeys = ["temperature", "voltage", "current", "ae", "score"]

    /// The detector score above which a stored prediction is an alarm.
    static let alarmThreshold = 0.5

    /// Reads the session and builds the five panels (the score panel may be empty).
    public static func panels(_ r: SessionReader, hitRateBinS: Double = 1) throws -> [Panel] {
        var temp: [Series] = []
        var limits: [Limit] = [], marks: [(from: Double, to: Double)] = []
        for s in try r.streams(kind: .thermal) {
            guard let cal = s.calibration else { continue }
            let frames = try r.frameSummaries(streamId: s.id!)
            temp.append(Series(name: "\(s.key) IR max", quantity: "IR max", unit: "°C", color: "#d62728",
                               points: frames.map { (Double($0.tNs) / 1e9, cal.celsius(UInt16(clamping: $0.maxCounts))) }))
            // A camera whose calibrated range ends below the 16-bit top says where (stream property
            // `saturation_counts`, e.g. the simulator's 0.1 K mode clamped at 1500 °C).
            let top = UInt16(clamping: Int(s.properties["saturation_counts"] ?? "") ?? Int(UInt16.max))
            let saturated = frames.filter { $0.maxCounts >= Int(top) }.map { Double($0.tNs) / 1e9 }
            if !saturated.isEmpty {
                limits.append(Limit(value: cal.celsius(top), label: "\(s.key) saturates at \(fmt(cal.celsius(top))) °C", color: "#d62728"))
                marks += intervals(saturated, joinWithin: 1)
            }
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
            hitSeries.append(Series(name: "\(s.key) AE hits", quantity: "AE hits", unit: "hits/s", color: "#9467bd", points: pts))
        }
        return [
            Panel(key: "temperature", title: "Temperature", unit: "°C", rule: .data(minimumSpan: 2, relativeSpan: 0.05),
                  series: temp, limits: limits, marks: marks, marksLabel: "IR frames at saturation"),
            Panel(key: "voltage", title: "Voltage", unit: "V", rule: .data(minimumSpan: 0.05, relativeSpan: 0.05),
                  series: [Series(name: "voltage", unit: "V", color: "#1f77b4", points: volts)]),
            Panel(key: "current", title: "Current", unit: "A", rule: .data(minimumSpan: 0.1, relativeSpan: 0.1),
                  series: [Series(name: "current", unit: "A", color: "#2ca02c", points: amps)]),
            Panel(key: "ae", title: "AE hit rate", unit: "hits/s", rule: .fromZero(minimumSpan: 1), series: hitSeries),
            Panel(key: "score", title: "Detector score", unit: "score", rule: .fixed(0, 1), series: try predictionSeries(r),
                  limits: [Limit(value: alarmThreshold, label: "alarm threshold \(alarmThreshold)", color: "#555")]),
        ]
    }

    /// Sorted times joined into intervals where consecutive times are within `joinWithin` seconds.
    static func intervals(_ ts: [Double], joinWithin: Double) -> [(from: Double, to: Double)] {
        var out: [(from: Double, to: Double)] = []
        for t in ts.sorted() {
            if let last = out.last, t - last.to <= joinWithin { out[out.count - 1].to = t } else { out.append((t, t)) }
        }
        return out
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
            Series(name: k, quantity: k, unit: "score", color: palette[i % palette.count], points: points[k]!.sorted { $0.t < $1.t })
        }
    }

    static func labelColor(_ label: String) -> String {
        switch label {
        case "runaway_onset": "#d62728"
        case "venting": "#e377c2"
        case "self_heating_onset": "#ff7f0e"
        default: "#555"
        }
    }

    /// Labels, markers, first alarms, excluded intervals and gaps of a session.
    static func labelEvents(_ r: SessionReader) throws -> (events: [Event], spans: [Span]) {
        var events: [Event] = [], spans: [Span] = []
        for a in try r.annotations() {
            if let e = a.endTNs, e > a.startTNs {
                spans.append(Span(from: Double(a.startTNs) / 1e9, to: Double(e) / 1e9, label: "\(a.label) (\(a.labelSet))", isGap: false))
            } else {
                events.append(Event(t: Double(a.startTNs) / 1e9, label: a.label, color: labelColor(a.label), kind: .of(method: a.method)))
            }
        }
        for m in try r.markers() { events.append(Event(t: Double(m.tNs) / 1e9, label: m.text, color: "#1f77b4", kind: .marker)) }
        // The first alarm of each stored prediction run, where people look for it.
        var alarmed = Set<String>()
        for p in try r.predictions() where p.alarm && alarmed.insert(p.model + "\u{0}" + p.runId).inserted {
            events.append(Event(t: Double(p.tNs) / 1e9, label: "\(p.model) alarm", color: "#8c564b", kind: .alarm))
        }
        let end = Double(try r.session().endTNs ?? 0) / 1e9
        for g in try r.gaps() {
            let a = Double(g.startTNs) / 1e9
            spans.append(Span(from: a, to: g.endTNs.map { Double($0) / 1e9 } ?? max(a, end), label: g.kind, isGap: true))
        }
        return (events, spans)
    }

    static func title(_ r: SessionReader) throws -> (String, String) {
        let sess = try r.session()
        let cell = sess.cell.map { "\($0.chemistry) \(String(format: "%.1f", $0.capacityAh)) Ah \($0.format)" }
        return (sess.name, [cell, sess.protocol].compactMap { $0 }.joined(separator: ", "))
    }

    static func selectPanels(_ ps: [Panel], channels: [String]?, path: String) throws -> [Panel] {
        if let channels {
            for c in channels where !panelKeys.contains(c) {
                throw SessionStoreError.notASession(path: path, reason: "no panel '\(c)' to plot; panels: \(panelKeys.joined(separator: ", "))")
            }
            return ps.filter { channels.contains($0.key) }
        }
        return ps.filter { $0.key != "score" || !$0.series.isEmpty }  // no stored predictions: no score panel unless asked for
    }

    /// The figure of one session; optionally a time window and a subset of panels.
    public static func figure(_ r: SessionReader, from: Double? = nil, to: Double? = nil, channels: [String]? = nil) throws -> Figure {
        let (t, sub) = try title(r)
        let (events, spans) = try labelEvents(r)
        let ps = try selectPanels(try panels(r), channels: channels, path: r.path)
        let end = Double(try r.session().endTNs ?? 0) / 1e9
        let range: (Double, Double)? = (from != nil || to != nil) ? (from ?? 0, to ?? max(end, (from ?? 0) + 1)) : nil
        return Figure(title: t, subtitle: sub, panels: ps, events: events, spans: spans, range: range)
    }

    /// SVG of one session (see `figure`).
    public static func render(_ r: SessionReader, from: Double? = nil, to: Double? = nil, channels: [String]? = nil) throws -> String {
        svg(try figure(r, from: from, to: to, channels: channels))
    }

    /// Where overlaid runs are aligned.
    public enum Alignment: Sendable, Equatable {
        /// Each run's current label of this name (its first, if several) is time zero.
        case label(String)
        /// Session start is time zero (no alignment).
        case start
    }

    public struct OverlayError: Error, CustomStringConvertible {
        public var description: String
    }

    /// Several runs overlaid on one time axis, aligned at `align`. Colours tell runs apart; line
    /// styles tell the quantities of a panel apart (IR max solid, cell TC dashed, ambient dotted).
    public static func overlay(_ readers: [SessionReader], align: Alignment, from: Double? = nil, to: Double? = nil,
                               channels: [String]? = nil) throws -> Figure {
        let palette = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"]
        let dashes: [String?] = [nil, "6 3", "2 2", "8 2 2 2"]
        var merged: [Panel] = [], events: [Event] = [], runs: [(String, String)] = []
        var earliest = 0.0, latestEnd = 0.0
        for (i, r) in readers.enumerated() {
            let color = palette[i % palette.count]
            let name = try r.session().name
            let zero: Double
            switch align {
            case .start: zero = 0
            case .label(let l):
                guard let a = try r.annotations().first(where: { $0.label == l && $0.endTNs == nil }) else {
                    let have = Set(try r.annotations().map(\.label)).sorted()
                    throw OverlayError(description: "\(r.path) has no '\(l)' label to align at (it has: \(have.isEmpty ? "no labels" : have.joined(separator: ", "))); use --align start or another label")
                }
                zero = Double(a.startTNs) / 1e9
            }
            earliest = min(earliest, -zero)
            latestEnd = max(latestEnd, Double(try r.session().endTNs ?? 0) / 1e9 - zero)
            runs.append((name, color))
            var ps = try selectPanels(try panels(r), channels: channels ?? panelKeys, path: r.path)
            if channels == nil { ps = ps.filter { $0.key != "score" } }
            for (k, var p) in ps.enumerated() {
                for j in p.series.indices {
                    p.series[j].name = p.series[j].quantity
                    p.series[j].color = color
                    p.series[j].dash = dashes[j % dashes.count]
                    p.series[j].points = p.series[j].points.map { ($0.t - zero, $0.v) }
                }
                p.limits = p.limits.map { var l = $0; l.color = color; return l }
                p.marks = p.marks.map { ($0.from - zero, $0.to - zero) }
                if k < merged.count { merged[k].series += p.series; merged[k].limits += p.limits; merged[k].marks += p.marks }
                else { merged.append(p) }
            }
            for e in try labelEvents(r).events where e.kind != .marker && e.kind != .alarm {
                if case .label(let l) = align, e.label == l { continue }
                events.append(Event(t: e.t - zero, label: "\(i + 1): \(e.label)", color: color, kind: e.kind))
            }
        }
        let alignedAt: String
        switch align {
        case .label(let l):
            events.append(Event(t: 0, label: l, color: "#000", kind: .alignment))
            alignedAt = "time from \(l)"
        case .start: alignedAt = "session time"
        }
        let range = (from: from ?? earliest, to: to ?? max(latestEnd, (from ?? earliest) + 1))
        let title = "\(readers.count) runs" + { if case .label(let l) = align { " aligned at \(l)" } else { "" } }()
        return Figure(title: title, subtitle: "", panels: merged, events: events, spans: [], timeTitle: alignedAt,
                      runs: runs, range: range)
    }

    static func fmt(_ v: Double, _ d: Int = 1) -> String { String(format: "%.\(d)f", v) }
}
