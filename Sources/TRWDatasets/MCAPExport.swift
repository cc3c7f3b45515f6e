import Foundation
import TRWAnalysis
import TRWCodec
import TRWCore
import TRWStore

/// `trw export --format mcap`: one session for Foxglove, JSON-encoded messages with JSON
/// schemas on session time (log_time = t_ns). Layout: schemas/export-mcap.md.
enum MCAPExport {
    static func write(_ r: SessionReader, range requested: Range<Int64>, options o: SessionExportOptions,
                      to path: String) throws -> SessionExportReport {
        // MCAP times are unsigned: data before session time 0 (a clock fit can put a first
        // sample there) is left out, and the report says so.
        let range = max(0, requested.lowerBound)..<max(1, requested.upperBound)
        var report = SessionExportReport(path: path, format: .mcap, range: range)
        if requested.lowerBound < 0 {
            report.notes.append("MCAP log times are unsigned: data before session time 0 is not exported")
        }
        let s = try r.session()
        let w = try MCAPWriter(path: path, profile: "", library: "trw \(s.softwareVersion)")
        try w.metadata(name: "trw.session", [
            "format": "trw-mcap-1", "session_uuid": s.uuid, "session_name": s.name, "session_start_utc": s.startUtc,
            "session_start_realtime_ns": String(s.startRealtimeNs), "status": s.status.rawValue, "rig": s.rigName,
            "cell_chemistry": s.cellChemistry ?? "", "cell_format": s.cellFormat ?? "",
            "cell_capacity_ah": s.cellCapacityAh.map { "\($0)" } ?? "", "protocol": s.protocol ?? "",
            "from_t_ns": String(range.lowerBound), "to_t_ns": String(range.upperBound),
            "time_base": "log_time = publish_time = session time t_ns (ns since the session's start)",
        ])
        // Small messages (everything but frames) are gathered, then merged with the frames in time order.
        var small: [(t: UInt64, ch: UInt16, data: [UInt8])] = []
        func add(_ t: Int64, _ ch: UInt16, _ j: JSONObject) { small.append((UInt64(t), ch, j.bytes)) }

        let streams = try r.streams()
        for st in streams where st.kind == StreamKind.bms.rawValue {
            let sid = try w.schema(name: "trw.BMSSample", encoding: "jsonschema", data: Schemas.bms)
            let ch = try w.channel(topic: "/bms/\(st.key)", schema: sid, messageEncoding: "json",
                                   metadata: ["role": st.role ?? "", "device": st.device])
            for b in try r.bmsSamples(streamId: st.id!, range: range) {
                var j = JSONObject(t: b.tNs)
                j.int("t_ns", b.tNs); j.num("voltage_v", b.voltageV); j.num("current_a", b.currentA)
                j.num("cell_temp_c", b.cellTempC); j.num("ambient_c", b.ambientC); j.num("soc", b.soc)
                j.nums("cell_temps_c", b.cellTempsC)
                add(b.tNs, ch, j)
                report.bmsSamples += 1
            }
        }
        for st in streams where st.kind == StreamKind.ae.rawValue {
            let sid = try w.schema(name: "trw.AEHit", encoding: "jsonschema", data: Schemas.hit)
            let ch = try w.channel(topic: "/ae/\(st.key)/hits", schema: sid, messageEncoding: "json",
                                   metadata: ["device": st.device, "sample_rate_hz": "\(st.nominalRateHz)",
                                              "detector_settings_json": st.aeDetectorJson ?? ""])
            for h in try r.aeHits(streamId: st.id!, range: range) {
                var j = JSONObject(t: h.tNs)
                j.int("t_ns", h.tNs); j.int("channel", Int64(h.channel)); j.int("sample_index", h.sampleIndex)
                j.num("amplitude_db", h.amplitudeDb); j.num("rise_time_s", h.riseTimeS); j.num("duration_s", h.durationS)
                j.int("counts", Int64(h.counts)); j.num("energy_v2s", h.energyV2s); j.num("rms_before_v", h.rmsBeforeV)
                add(h.tNs, ch, j)
                report.hits += 1
            }
        }
        let labels = try SessionExport.labels(r, set: o.labelSet, range: range)
        if !labels.isEmpty {
            let sid = try w.schema(name: "trw.Label", encoding: "jsonschema", data: Schemas.label)
            let ch = try w.channel(topic: "/labels", schema: sid, messageEncoding: "json")
            for a in labels {
                let t = max(a.startTNs, range.lowerBound)
                var j = JSONObject(t: t)
                j.str("label", a.label); j.int("start_t_ns", a.startTNs); j.int("end_t_ns", a.endTNs ?? a.startTNs)
                j.bool("is_interval", a.endTNs != nil)
                j.str("label_set", a.labelSet); j.str("author", a.author); j.str("method", a.method); j.str("note", a.note)
                add(t, ch, j)
            }
            report.labels = labels.count
        }
        let markers = try r.markers().filter { range.contains($0.tNs) }
        if !markers.isEmpty {
            let sid = try w.schema(name: "trw.Marker", encoding: "jsonschema", data: Schemas.marker)
            let ch = try w.channel(topic: "/markers", schema: sid, messageEncoding: "json")
            for m in markers {
                var j = JSONObject(t: m.tNs)
                j.int("t_ns", m.tNs); j.str("text", m.text); j.str("author", m.author)
                add(m.tNs, ch, j)
            }
        }
        let preds = try r.predictions(range: range)
        var predChannels: [String: UInt16] = [:]
        let predSchema = preds.isEmpty ? 0 : try w.schema(name: "trw.Prediction", encoding: "jsonschema", data: Schemas.prediction)
        for p in preds {
            let ch: UInt16
            if let c = predChannels[p.model] { ch = c } else {
                ch = try w.channel(topic: "/predictions/\(p.model)", schema: predSchema, messageEncoding: "json")
                predChannels[p.model] = ch
            }
            var j = JSONObject(t: p.tNs)
            j.int("t_ns", p.tNs); j.str("model", p.model); j.str("model_version", p.modelVersion); j.str("run_id", p.runId)
            j.num("score", p.score); j.bool("alarm", p.alarm)
            add(p.tNs, ch, j)
            report.predictions += 1
        }
        if let table = try SessionExport.features(r, range: range, options: o.features) {
            report.damaged.merge(table.damaged)
            let sid = try w.schema(name: "trw.TickFeatures", encoding: "jsonschema", data: Schemas.features(table.names))
            let ch = try w.channel(topic: "/features", schema: sid, messageEncoding: "json",
                                   metadata: ["rate_hz": "\(o.features.rateHz)", "layout": "schemas/export-npz.md (Features)"])
            for k in 0..<table.count {
                let tNs = Int64((table.tickTimesS[k] * 1e9).rounded())
                var j = JSONObject(t: tNs)
                j.num("t_s", table.tickTimesS[k])
                for (i, n) in table.names.enumerated() {
                    let v = table.values[k * table.names.count + i]
                    j.num(n, v.isNaN ? nil : Double(v))
                }
                add(tNs, ch, j)
            }
            report.ticks = table.count
        }
        small.sort { ($0.t, $0.ch) < ($1.t, $1.ch) }
        var next = 0
        func flushSmall(upTo t: UInt64) throws {
            while next < small.count, small[next].t <= t {
                try w.message(channel: small[next].ch, logTime: small[next].t, data: small[next].data)
                next += 1
            }
        }
        // Frames, streamed in time order.
        for st in streams where st.kind == StreamKind.thermal.rawValue {
            guard let wd = st.width, let ht = st.height else { continue }
            let cal = st.calibration
            let sid = try w.schema(name: "foxglove.RawImage", encoding: "jsonschema", data: Schemas.rawImage)
            let ch = try w.channel(topic: "/thermal/\(st.key)", schema: sid, messageEncoding: "json", metadata: [
                "encoding": "mono16 little-endian radiometric counts",
                "kelvin_per_count": cal.map { "\($0.kelvinPerCount)" } ?? "", "offset_kelvin": cal.map { "\($0.offsetKelvin)" } ?? "",
                "emissivity": cal.map { "\($0.emissivity)" } ?? "",
                "celsius": "counts * kelvin_per_count + offset_kelvin - 273.15",
            ])
            let dec = try FrameDecoder()
            try r.forEachFrame(streamId: st.id!, range: range) { f in
                let px: [UInt16]
                do throws(DamagedPayload) { px = try r.pixels(of: f, stream: st, decoder: dec) } catch {
                    report.damaged.record(error)
                    return
                }
                try flushSmall(upTo: UInt64(f.tNs))
                var bytes = [UInt8](repeating: 0, count: px.count * 2)
                for (i, v) in px.enumerated() { bytes[2 * i] = UInt8(v & 0xFF); bytes[2 * i + 1] = UInt8(v >> 8) }
                var j = JSONObject(t: f.tNs)
                j.str("frame_id", st.key); j.int("width", Int64(wd)); j.int("height", Int64(ht)); j.str("encoding", "mono16")
                j.int("step", Int64(wd * 2)); j.str("data", Data(bytes).base64EncodedString())
                j.int("sequence", f.sequence)
                try w.message(channel: ch, logTime: UInt64(f.tNs), data: j.bytes)
                report.frames += 1
            }
        }
        try flushSmall(upTo: .max)
        try w.finish()
        return report
    }

    /// A JSON object written by hand: numbers print as Swift's shortest round-trip text
    /// (the value read back is the value written), non-finite numbers and absent values as null.
    struct JSONObject {
        var text = "{"
        init(t: Int64) {
            let tt = max(0, t)
            text += "\"timestamp\":{\"sec\":\(tt / 1_000_000_000),\"nsec\":\(tt % 1_000_000_000)}"
        }
        mutating func key(_ k: String) { text += ",\"\(k)\":" }
        mutating func int(_ k: String, _ v: Int64) { key(k); text += String(v) }
        mutating func num(_ k: String, _ v: Double?) {
            key(k)
            if let v, v.isFinite { text += "\(v)" } else { text += "null" }
        }
        mutating func nums(_ k: String, _ v: [Double]) {
            key(k)
            text += "[" + v.map { $0.isFinite ? "\($0)" : "null" }.joined(separator: ",") + "]"
        }
        mutating func bool(_ k: String, _ v: Bool) { key(k); text += v ? "true" : "false" }
        mutating func str(_ k: String, _ v: String) { key(k); text += Self.quote(v) }
        var bytes: [UInt8] { Array((text + "}").utf8) }
        /// JSON string escaping, as every JSON trw writes (TRWCore.JSONLine).
        static func quote(_ s: String) -> String { JSONLine.quote(s) }
    }

    /// JSON schemas of the channels (Foxglove shows the fields; `foxglove.RawImage` is Foxglove's own).
    enum Schemas {
        static let time = #""timestamp":{"type":"object","properties":{"sec":{"type":"integer","minimum":0},"nsec":{"type":"integer","minimum":0,"maximum":999999999}}}"#
        static func object(_ title: String, _ props: String) -> [UInt8] {
            Array(#"{"title":"\#(title)","type":"object","properties":{\#(time),\#(props)}}"#.utf8)
        }
        static let num = #"{"type":["number","null"]}"#
        static let int = #"{"type":"integer"}"#
        static let str = #"{"type":"string"}"#
        static let rawImage = object("foxglove.RawImage", #""frame_id":\#(str),"width":\#(int),"height":\#(int),"encoding":\#(str),"step":\#(int),"data":{"type":"string","contentEncoding":"base64"},"sequence":\#(int)"#)
        static let bms = object("trw.BMSSample", #""t_ns":\#(int),"voltage_v":\#(num),"current_a":\#(num),"cell_temp_c":\#(num),"ambient_c":\#(num),"soc":\#(num),"cell_temps_c":{"type":"array","items":\#(num)}"#)
        static let hit = object("trw.AEHit", #""t_ns":\#(int),"channel":\#(int),"sample_index":\#(int),"amplitude_db":\#(num),"rise_time_s":\#(num),"duration_s":\#(num),"counts":\#(int),"energy_v2s":\#(num),"rms_before_v":\#(num)"#)
        static let label = object("trw.Label", #""label":\#(str),"start_t_ns":\#(int),"end_t_ns":\#(int),"is_interval":{"type":"boolean"},"label_set":\#(str),"author":\#(str),"method":\#(str),"note":\#(str)"#)
        static let marker = object("trw.Marker", #""t_ns":\#(int),"text":\#(str),"author":\#(str)"#)
        static let prediction = object("trw.Prediction", #""t_ns":\#(int),"model":\#(str),"model_version":\#(str),"run_id":\#(str),"score":\#(num),"alarm":{"type":"boolean"}"#)
        static func features(_ names: [String]) -> [UInt8] {
            object("trw.TickFeatures", #""t_s":{"type":"number"},"# + names.map { "\"\($0)\":\(num)" }.joined(separator: ","))
        }
    }
}
