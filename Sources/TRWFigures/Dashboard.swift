import Foundation
import TRWCore
import TRWRecorder

/// The live recording dashboard as plain text lines (no terminal control), so
/// it is testable and the CLI decides how to draw it (redraw on a TTY, a log
/// line otherwise). Rates come from the difference of two snapshots.
public struct Dashboard {
    public var title: String
    public var presetMarkers: [String]
    /// Recent snapshots; rates are taken over the last `rateWindowS` seconds, so that one
    /// commit more or less in the window does not make the figures jump.
    private var history: [(status: RecorderStatus, at: Double)] = []
    private var previous: (status: RecorderStatus, at: Double)? { history.first }
    public var lastMarker: (text: String, tS: Double)?
    public var markerCount = 0
    public var typing: String?
    /// Seconds of history the rates are taken over.
    public var rateWindowS = 5.0

    public init(title: String, presetMarkers: [String] = ["vent seen", "smoke", "supply off", "flame"]) {
        self.title = title
        self.presetMarkers = presetMarkers
    }

    /// Renders `s` taken at wall time `now` (seconds); `freeBytes` is the disk space left.
    public mutating func render(_ s: RecorderStatus, now: Double, freeBytes: Int64?, width: Int = 80) -> [String] {
        let dt = previous.map { now - $0.at } ?? 0
        func rate(_ key: String, _ f: (StreamStatus) -> Int64) -> Double? {
            guard dt > 0, let p = previous?.status.streams.first(where: { $0.key == key }),
                  let c = s.streams.first(where: { $0.key == key }) else { return nil }
            return Double(f(c) - f(p)) / dt
        }
        var lines: [String] = []
        lines.append(clip("\(title)   elapsed \(hms(s.elapsedWallS))   t = \(String(format: "%.1f", s.sessionTimeS)) s", width))
        // Columns sized so that a stream's last values (cell temperature included) fit in 80.
        let keyW = max(6, s.streams.map(\.key.count).max() ?? 0)
        lines.append(clip("stream".padded(to: keyW) + " kind     rate/s   events  lost queue     last values", width))
        for st in s.streams {
            let r = rate(st.key) { $0.events }.map { String(format: "%7.1f", $0) } ?? "      -"
            let q = "\(st.queueFill)/\(st.queueCapacity)"
            var last: [String] = []
            if let v = st.lastValues["max_c"] { last.append(String(format: "max %.1f °C", v)) }
            if let v = st.lastValues["voltage_v"] { last.append(String(format: "%.3f V", v)) }
            if let v = st.lastValues["current_a"] { last.append(String(format: "%.3f A", v)) }
            if let v = st.lastValues["cell_c"] { last.append(String(format: "cell %.1f °C", v)) }
            if let v = st.lastValues["rms"] { last.append(String(format: "rms %.4f FS", v)) }
            if let h = st.lastValues["hits_total"] {
                let hr = rate(st.key) { Int64($0.lastValues["hits_total"] ?? 0) }
                last.append(hr.map { String(format: "hits %.1f/s", $0) } ?? String(format: "hits %.0f", h))
            }
            let lost = st.droppedInQueue > 0 ? String(format: "%4d!", st.droppedInQueue) : String(format: "%4d ", 0)
            lines.append(clip(st.key.padded(to: keyW) + " " + st.kind.rawValue.padded(to: 7) + " " + r + " " + String(format: "%8d", st.events)
                              + " " + lost + " " + q.padded(to: 9) + " " + last.joined(separator: " "), width))
        }
        // Streams timed by arrival because their device clock disagrees with it (docs/timebase.md).
        for st in s.streams {
            if let note = st.clockFallback {
                lines.append(clip("CLOCK " + note, width))
            } else if st.clockOutliers > 0 {
                lines.append(clip("clock \(st.key): \(st.clockOutliers) device times left out of the fit (clock_outlier gaps)", width))
            }
        }
        let wr = previous.map { dt > 0 ? Double(s.fileBytes - $0.status.fileBytes) / dt : 0 } ?? 0
        var disk = "data \(InfoReport.bytes(s.fileBytes))   write \(dt > 0 ? InfoReport.bytes(Int64(max(0, wr))) + "/s" : "-")"
        if let free = freeBytes {
            disk += "   disk free \(InfoReport.bytes(free))"
            if wr > 0 { disk += String(format: " (~%.1f h at this rate)", Double(free) / wr / 3600) }
        }
        lines.append(clip(disk, width))
        if let e = s.writerError { lines.append(clip("WRITER ERROR: \(e)", width)) }
        if !s.detectors.isEmpty {
            let cells = s.detectors.map { d in
                d.name + " " + (d.score.isFinite ? String(format: "%.2f", d.score) : "-") + (d.alarm ? " ALARM" : "")
            }
            lines.append(clip("detect  " + cells.joined(separator: "   "), width))
            for d in s.detectors where d.alarm {
                let acts = (["marker"] + s.alarmActions).joined(separator: ", ")
                lines.append(clip(Self.alarmPrefix + "ALARM \(d.name) since t = " + String(format: "%.1f s", d.firstAlarmS ?? 0)
                                  + " — actions: \(acts) " + Self.alarmPrefix.trimmingCharacters(in: .whitespaces), width))
            }
        }
        if !s.stopRules.isEmpty { lines.append(clip("stop: " + s.stopRules.joined(separator: "; "), width)) }
        let keys = presetMarkers.enumerated().map { "[\($0.offset + 1)] \($0.element)" }.joined(separator: " ")
        lines.append(clip("keys: \(keys) [m] text [q] stop", width))
        if let t = typing {
            lines.append(clip("marker text: \(t)_   (Enter to add, Esc to cancel)", width))
        } else if let m = lastMarker {
            lines.append(clip("markers: \(markerCount) (last: \"\(m.text)\" at \(String(format: "%.1f", m.tS)) s)", width))
        } else {
            lines.append("markers: 0")
        }
        history.append((s, now))
        while history.count > 2, now - history[1].at >= rateWindowS { history.removeFirst() }
        return lines
    }

    /// Lines that start with this are alarms (a terminal draws them in red).
    public static let alarmPrefix = "!!! "

    func hms(_ s: Double) -> String { String(format: "%02d:%02d:%02d", Int(s) / 3600, Int(s) % 3600 / 60, Int(s) % 60) }
    func clip(_ s: String, _ w: Int) -> String { s.count <= w ? s : String(s.prefix(w - 1)) + "…" }
}
