import Foundation
import TRWCore
import TRWStore

/// The text of `trw info`: what a lab engineer checks after a run.
public enum InfoReport {
    public static func render(_ s: SessionSummary, path: String) -> String {
        var out: [String] = []
        let sess = s.session
        let dur = Double(sess.endTNs ?? s.streams.compactMap(\.lastTNs).max() ?? 0) / 1e9
        out.append("session   \(sess.name)  (\(path))")
        out.append("id        \(sess.uuid)")
        out.append("status    \(sess.status.rawValue)\(sess.statusDetail.isEmpty ? "" : " — \(sess.statusDetail)")")
        out.append("started   \(sess.startUtc)   duration \(duration(dur))   rig \(sess.rigName)")
        if let cell = sess.cell {
            out.append("cell      \(cell.chemistry) \(fmt(cell.capacityAh, 2)) Ah \(cell.format)"
                       + "\(cell.maker.isEmpty ? "" : " \(cell.maker)")\(cell.serial.isEmpty ? "" : " s/n \(cell.serial)")")
        }
        if let p = sess.protocol { out.append("protocol  \(p)") }
        if !sess.operator.isEmpty { out.append("operator  \(sess.operator)") }
        out.append("file      \(bytes(s.fileBytes))   software \(sess.softwareVersion)")
        out.append("")
        out.append("streams")
        for st in s.streams {
            let r = st.stream
            var line = "  \(r.key.padded(to: 6)) \(r.kind.padded(to: 8)) \(r.device.padded(to: 16)) "
            let span = st.durationNs > 0 ? Double(st.durationNs) / 1e9 : 0
            switch r.kind {
            case StreamKind.thermal.rawValue:
                let rate = span > 0 ? Double(st.count - 1) / span : 0
                line += "\(r.width ?? 0)x\(r.height ?? 0) \(r.format) \(st.count) frames, \(fmt(rate, 1)) fps"
                if let p = st.peakValue { line += ", max \(fmt(p, 1)) °C" }
            case StreamKind.ae.rawValue:
                line += "\(r.channels ?? 1) ch \(r.sampleFormat ?? "") @ \(Int(r.nominalRateHz)) Hz, \(st.count) chunks, "
                line += "\(duration(Double(st.sampleFrames) / max(r.nominalRateHz, 1))) of audio, \(st.hits) AE hits"
            default:
                let rate = span > 0 ? Double(st.count - 1) / span : 0
                line += "\(r.format) \(st.count) samples, \(fmt(rate, 2)) Hz"
                if let v = st.peakVoltage { line += ", max \(fmt(v, 3)) V" }
                if let t = st.peakValue { line += ", max cell \(fmt(t, 1)) °C" }
            }
            out.append(line)
            if st.payloadBytes > 0 {
                let ratio = st.compressionRatio.map { "ratio \(fmt($0, 2))x" } ?? ""
                out.append("         stored \(bytes(st.payloadBytes)) (\(st.codecs)) \(ratio)")
            }
            if st.gaps.isEmpty {
                out.append("         gaps: none")
            } else {
                let g = st.gaps.map { g -> String in
                    switch g.kind {
                    // The clock guard's rows lose no sample: only a device time was not used.
                    case "clock_outlier": "\(g.kind) \(g.lost) (device times not used, samples kept)"
                    case "clock_fallback": "\(g.kind) (timed by arrival)"
                    default: "\(g.kind) \(g.events) (\(g.lost) lost)"
                    }
                }.joined(separator: ", ")
                out.append("         gaps: \(g)")
            }
        }
        if !s.recorderGaps.isEmpty {
            out.append("  recorder gaps: " + s.recorderGaps.map { "\($0.kind) \($0.events) (\($0.lost) lost)" }.joined(separator: ", "))
        }
        if let r = try? SessionReader(path: path), let ev = try? r.sensingEvents(), !ev.isEmpty {
            let keys = Dictionary(uniqueKeysWithValues: s.streams.compactMap { st in st.stream.id.map { ($0, st.stream.key) } })
            let changes = ev.filter { $0.origin != "end" }
            var skipped: [String: Int64] = [:]
            for e in ev { skipped[keys[e.streamId ?? -1] ?? "-", default: 0] += e.skipped }
            let origins = Set(changes.map(\.origin)).sorted().joined(separator: ", ")
            out.append("sensing   \(changes.count) setting changes (\(origins)); not kept by lowered rates (by choice, not lost): "
                       + skipped.keys.sorted().map { "\($0) \(skipped[$0]!)" }.joined(separator: ", "))
            for e in changes.prefix(6) {
                out.append("  t = \(fmt(Double(e.tNs) / 1e9, 1)) s  \((keys[e.streamId ?? -1] ?? "-").padded(to: 6)) \(e.setting) \(e.previous.map { fmt($0, 1) } ?? "native") -> \(fmt(e.value, 1))  (\(e.origin))")
            }
            if changes.count > 6 { out.append("  ... \(changes.count - 6) more (trw info lists the first 6)") }
        }
        out.append("")
        out.append("markers   \(s.markerCount)")
        if s.labels.isEmpty {
            out.append("labels    none")
        } else {
            out.append("labels")
            for a in s.labels {
                let end = a.endTNs.map { " – \(fmt(Double($0) / 1e9, 3)) s" } ?? ""
                out.append("  \(a.label.padded(to: 20)) t = \(fmt(Double(a.startTNs) / 1e9, 3)) s\(end)   \(a.method) by \(a.author)")
            }
        }
        return out.joined(separator: "\n")
    }

    static func fmt(_ v: Double, _ digits: Int) -> String { String(format: "%.\(digits)f", v) }
    public static func bytes(_ n: Int64) -> String {
        let d = Double(n)
        if d >= 1e9 { return String(format: "%.2f GB", d / 1e9) }
        if d >= 1e6 { return String(format: "%.1f MB", d / 1e6) }
        if d >= 1e3 { return String(format: "%.1f kB", d / 1e3) }
        return "\(n) B"
    }
    /// "8m14.3s", "2h05m07s", "4.2s": rounded once at the printed precision first, so
    /// 1799.96 s is "30m00.0s", never "29m60.0s".
    public static func duration(_ s: Double) -> String {
        guard s.isFinite else { return "-" }
        if s >= 3600 - 0.5 {
            let whole = Int(s.rounded())
            return String(format: "%dh%02dm%02ds", whole / 3600, whole % 3600 / 60, whole % 60)
        }
        if s >= 60 - 0.05 {
            let tenths = Int((s * 10).rounded())
            return String(format: "%dm%02d.%ds", tenths / 600, tenths % 600 / 10, tenths % 10)
        }
        return String(format: "%.1fs", s)
    }
}
