import Foundation
import TRWAnalysis
import TRWCodec
import TRWCore
import TRWStore

/// The version of the replay / live JSON Lines format (schemas/replay.schema.json), in
/// the session line's `format_version`. Raised when a line's meaning or a required field
/// changes; adding optional fields or line types keeps it. Lines without it were written
/// before issue 21 (same content as version 1).
public enum ReplayFormat {
    public static let version = 1
}

/// One line of the replay stream (schemas/replay.schema.json).
public struct ReplayEvent: Sendable {
    public enum Kind: Int, Sendable, Comparable {
        // At equal times: samples and events first, the tick that summarises them last.
        case session = 0, gap, marker, label, aeHit, frame, tick, end
        public static func < (a: Kind, b: Kind) -> Bool { a.rawValue < b.rawValue }
    }
    public var kind: Kind
    public var tS: Double
    public var json: String
}

public struct ReplayOptions: Sendable {
    public var features = FeatureOptions()
    /// Frame events: none, references (id, statistics), or references plus a downsampled array (°C).
    public enum Frames: Sendable, Equatable { case none, references, arrays(width: Int, height: Int) }
    public var frames: Frames = .none
    /// Include labels (ground truth) as events; predictors being scored should not read them.
    public var includeLabels = true
    public init() {}
}

/// Builds the time-ordered replay of a session. The live recorder publishes
/// the same kinds of lines.
public enum ReplayBuilder {
    public static func events(_ r: SessionReader, options o: ReplayOptions = ReplayOptions()) throws -> [ReplayEvent] {
        let sess = try r.session()
        let table = try FeatureExtractor.extract(r, options: o.features)
        var damaged = table.damaged
        var ev: [ReplayEvent] = []
        var head = JSONLine()
        head.add("type", "session"); head.add("format_version", Double(ReplayFormat.version)); head.add("uuid", sess.uuid); head.add("name", sess.name)
        head.add("start_utc", sess.startUtc); head.add("rate_hz", o.features.rateHz)
        head.addRaw("feature_names", "[" + table.names.map { JSONLine.quote($0) }.joined(separator: ",") + "]")
        if let c = sess.cell {
            head.addRaw("cell", "{\"chemistry\":\(JSONLine.quote(c.chemistry)),\"capacity_ah\":\(JSONLine.number(c.capacityAh)),\"format\":\(JSONLine.quote(c.format))}")
        }
        if let p = sess.protocol { head.add("protocol", p) }
        ev.append(ReplayEvent(kind: .session, tS: 0, json: head.text))
        for (k, t) in table.tickTimesS.enumerated() {
            var l = JSONLine()
            l.add("type", "tick"); l.add("t", t); l.add("k", Double(k))
            let row = table.row(k)
            l.addRaw("features", "{" + zip(table.names, row).map { "\(JSONLine.quote($0)):\(JSONLine.number(Double($1)))" }.joined(separator: ",") + "}")
            ev.append(ReplayEvent(kind: .tick, tS: t, json: l.text))
        }
        let streams = try r.streams()
        let keyOf = Dictionary(uniqueKeysWithValues: streams.map { ($0.id!, $0.key) })
        for h in try r.aeHits() {
            var l = JSONLine()
            let t = Double(h.tNs) / 1e9
            l.add("type", "ae_hit"); l.add("t", t); l.add("stream", keyOf[h.streamId] ?? "?"); l.add("channel", Double(h.channel))
            l.add("amplitude_db", h.amplitudeDb); l.add("rise_time_s", h.riseTimeS); l.add("duration_s", h.durationS)
            l.add("counts", Double(h.counts)); l.add("energy_v2s", h.energyV2s)
            ev.append(ReplayEvent(kind: .aeHit, tS: t, json: l.text))
        }
        for m in try r.markers() {
            var l = JSONLine()
            l.add("type", "marker"); l.add("t", Double(m.tNs) / 1e9); l.add("text", m.text)
            ev.append(ReplayEvent(kind: .marker, tS: Double(m.tNs) / 1e9, json: l.text))
        }
        for g in try r.gaps() {
            var l = JSONLine()
            l.add("type", "gap"); l.add("t", Double(g.startTNs) / 1e9); l.add("stream", g.streamId.flatMap { keyOf[$0] } ?? "recorder")
            l.add("kind", g.kind); l.add("lost", Double(g.lostCount))
            ev.append(ReplayEvent(kind: .gap, tS: Double(g.startTNs) / 1e9, json: l.text))
        }
        if o.includeLabels {
            for a in try r.annotations() {
                var l = JSONLine()
                l.add("type", "label"); l.add("t", Double(a.startTNs) / 1e9)
                if let e = a.endTNs { l.add("end", Double(e) / 1e9) }
                l.add("label", a.label); l.add("method", a.method); l.add("author", a.author); l.add("set", a.labelSet)
                ev.append(ReplayEvent(kind: .label, tS: Double(a.startTNs) / 1e9, json: l.text))
            }
        }
        if o.frames != .none {
            let dec = try FrameDecoder()
            for st in streams where st.kind == StreamKind.thermal.rawValue {
                let cal = st.calibration ?? .tLinear10mK
                for f in try r.frameSummaries(streamId: st.id!) {
                    var l = JSONLine()
                    let t = Double(f.tNs) / 1e9
                    l.add("type", "frame"); l.add("t", t); l.add("stream", st.key); l.add("id", Double(f.id)); l.add("sequence", Double(f.sequence))
                    l.add("max_c", cal.celsius(UInt16(clamping: f.maxCounts))); l.add("min_c", cal.celsius(UInt16(clamping: f.minCounts)))
                    l.addRaw("hotspot", "[\(f.hotspotX),\(f.hotspotY)]")
                    if case .arrays(let w, let h) = o.frames, let fw = st.width, let fh = st.height,
                       let rec = try r.frame(streamId: st.id!, nearest: f.tNs) {
                        do throws(DamagedPayload) {
                            let px = try r.pixels(of: rec, stream: st, decoder: dec)
                            let cells = IRDownsample.blockMeanCelsius(px, width: fw, height: fh, calibration: cal, toWidth: w, toHeight: h)
                                .map { $0.map { JSONLine.number($0, digits: 4) } ?? "null" }
                            l.addRaw("pixels_c", "{\"width\":\(w),\"height\":\(h),\"data\":[" + cells.joined(separator: ",") + "]}")
                        } catch {
                            // No pixels from a damaged payload: the frame line goes without them, a gap line says why.
                            damaged.record(error)
                        }
                    }
                    ev.append(ReplayEvent(kind: .frame, tS: t, json: l.text))
                }
            }
        }
        for d in damaged.items {
            var l = JSONLine()
            l.add("type", "gap"); l.add("t", Double(d.tNs) / 1e9); l.add("stream", d.streamKey)
            l.add("kind", DamagedPayload.gapKind); l.add("lost", Double(d.lostCount))
            l.add("detail", "\(d.table) row \(d.rowId): \(d.reason)")
            ev.append(ReplayEvent(kind: .gap, tS: Double(d.tNs) / 1e9, json: l.text))
        }
        let endT = max(table.tickTimesS.last ?? 0, Double(sess.endTNs ?? 0) / 1e9)
        ev.append(ReplayEvent(kind: .end, tS: endT, json: "{\"type\":\"end\",\"t\":\(JSONLine.number(endT))}"))
        ev.sort { ($0.tS, $0.kind) < ($1.tS, $1.kind) }
        // The session header is always first.
        if let i = ev.firstIndex(where: { $0.kind == .session }), i != 0 { ev.insert(ev.remove(at: i), at: 0) }
        return ev
    }

    /// How many `damaged_payload` gap events `events` holds (payloads skipped as damaged).
    public static func damagedPayloadCount(_ events: [ReplayEvent]) -> Int {
        events.filter { $0.kind == .gap && $0.json.contains("\"kind\":\"\(DamagedPayload.gapKind)\"") }.count
    }

    /// Writes events paced at `speed` times real time (nil: as fast as possible).
    public static func play(_ events: [ReplayEvent], speed: Double?, write: (String) throws -> Void) throws {
        let start = HostClock.monotonicNanoseconds()
        let t0 = events.first { $0.kind != .session }?.tS ?? 0
        for e in events {
            if let s = speed, e.kind != .session {
                let due = start + Int64((e.tS - t0) / s * 1e9)
                let now = HostClock.monotonicNanoseconds()
                if due > now { usleep(UInt32(min(Int64(UInt32.max / 2), (due - now) / 1000))) }
            }
            try write(e.json + "\n")
        }
    }
}
