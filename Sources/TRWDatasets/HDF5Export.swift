import Foundation
import TRWAnalysis
import TRWCodec
import TRWCore
import TRWHDF5
import TRWStore

/// `trw export --format hdf5`: one session, lossless, as plain HDF5 datasets and attributes
/// (h5py, MATLAB h5read, HDFView). Layout: schemas/export-hdf5.md.
enum HDF5Export {
    static let format = "trw-hdf5-1"

    static func write(_ r: SessionReader, range: Range<Int64>, options o: SessionExportOptions,
                      to path: String) throws -> SessionExportReport {
        var report = SessionExportReport(path: path, format: .hdf5, range: range)
        // Every HDF5 object is released (and the file closed) when this scope ends, before the rename.
        do {
            let file = try HDF5File(creating: path)
            let root = file.root
            let s = try r.session()
            try root.setAttribute("format", format)
            try root.setAttribute("session_uuid", s.uuid)
            try root.setAttribute("session_name", s.name)
            try root.setAttribute("session_start_utc", s.startUtc)
            try root.setAttribute("session_start_realtime_ns", s.startRealtimeNs)
            try root.setAttribute("session_status", s.status.rawValue)
            try root.setAttribute("operator", s.operator)
            try root.setAttribute("rig", s.rigName)
            try root.setAttribute("cell_chemistry", s.cellChemistry ?? "")
            try root.setAttribute("cell_format", s.cellFormat ?? "")
            try root.setAttribute("cell_capacity_ah", s.cellCapacityAh ?? .nan)
            try root.setAttribute("protocol", s.protocol ?? "")
            try root.setAttribute("recorded_by", s.softwareVersion)
            try root.setAttribute("from_t_ns", range.lowerBound)
            try root.setAttribute("to_t_ns", range.upperBound)
            try root.setAttribute("time_base", "t_ns: int64 ns of session time since the session's start (CLOCK_MONOTONIC); wall clock = session_start_realtime_ns + t_ns")
            try root.setAttribute("hdf5_library", hdf5LibraryVersion)

            let streams = try r.streams()
            let thermal = try root.group("thermal")
            for st in streams where st.kind == StreamKind.thermal.rawValue {
                report.frames += try writeThermal(r, st, range: range, into: thermal.group(st.key), damaged: &report.damaged)
            }
            let ae = try root.group("ae")
            for st in streams where st.kind == StreamKind.ae.rawValue {
                let g = try ae.group(st.key)
                report.pcmFrames += try writePCM(r, st, range: range, into: g, damaged: &report.damaged)
                report.hits += try writeHits(r, st, range: range, into: g.group("hits"))
            }
            let bms = try root.group("bms")
            for st in streams where st.kind == StreamKind.bms.rawValue {
                report.bmsSamples += try writeBMS(r, st, range: range, into: bms.group(st.key))
            }
            let labels = try SessionExport.labels(r, set: o.labelSet, range: range)
            try writeLabels(labels, into: root.group("labels"), set: o.labelSet)
            report.labels = labels.count
            let markers = try r.markers().filter { range.contains($0.tNs) }
            let mg = try root.group("markers")
            try mg.write("t_ns", markers.map(\.tNs))
            try mg.writeStrings("text", markers.map(\.text))
            try mg.writeStrings("author", markers.map(\.author))

            let keyOf = Dictionary(uniqueKeysWithValues: streams.compactMap { st in st.id.map { ($0, st.key) } })
            report.predictions = try writePredictions(try r.predictions(range: range), into: root.group("predictions"))
            let gaps = try r.gaps().filter { ($0.endTNs ?? $0.startTNs) >= range.lowerBound && $0.startTNs < range.upperBound }
            try writeGaps(gaps, streamKeys: keyOf, into: root.group("gaps"))
            let events = try r.sensingEvents().filter { range.contains($0.tNs) }
            try writeSensingEvents(events, streamKeys: keyOf, into: root.group("sensing_events"))
            report.notes += gaps.isEmpty ? [] : ["\(gaps.count) recorded gaps (/gaps)"]

            let fg = try root.group("features")
            if let table = try SessionExport.features(r, range: range, options: o.features) {
                report.damaged.merge(table.damaged)
                try fg.write("values", table.values, shape: [table.count, table.names.count])
                try fg.writeStrings("names", table.names)
                try fg.write("t_s", table.tickTimesS)
                report.ticks = table.count
                if let n = table.serialRoles.note { report.notes.append(n) }
            } else {
                try fg.write("values", [Float](), shape: [0, FeatureExtractor.names(o.features).count])
                try fg.writeStrings("names", FeatureExtractor.names(o.features))
                try fg.write("t_s", [Double]())
                report.notes.append("the window holds no whole feature tick; /features is empty")
            }
            try fg.setAttribute("rate_hz", o.features.rateHz)
            try fg.setAttribute("layout", "schemas/export-npz.md (Features): tick k covers (from + k/rate, from + (k+1)/rate] s; t_s is its end; NaN = not available")
            try root.setAttribute("damaged_payloads_skipped", Int64(report.damaged.count))
            try file.flush()
        }
        return report
    }

    static func writeThermal(_ r: SessionReader, _ st: StreamRecord, range: Range<Int64>, into g: HDF5Group,
                             damaged: inout DamageTally) throws -> Int {
        guard let w = st.width, let h = st.height, w > 0, h > 0 else {
            throw SessionExportError.badField(file: r.path, stream: st.key, field: "width x height", value: "\(st.width.map(String.init) ?? "none") x \(st.height.map(String.init) ?? "none")", expected: "a frame size")
        }
        let frames = try g.appendable("frames", of: UInt16.self, trailing: [h, w], chunkRows: 1)
        var tNs: [Int64] = [], seq: [Int64] = [], dev: [Int64] = [], host: [Int64] = []
        let dec = try FrameDecoder()
        try r.forEachFrame(streamId: st.id!, range: range) { f in
            let px: [UInt16]
            do throws(DamagedPayload) { px = try r.pixels(of: f, stream: st, decoder: dec) } catch {
                damaged.record(error)
                return
            }
            try frames.append(px)
            tNs.append(f.tNs); seq.append(f.sequence); dev.append(f.deviceTsNs); host.append(f.hostArrivalNs)
        }
        try g.write("t_ns", tNs)
        try g.write("sequence", seq)
        try g.write("device_ts_ns", dev)
        try g.write("host_arrival_ns", host)
        let cal = st.calibration
        try frames.dataset.setAttribute("kelvin_per_count", cal?.kelvinPerCount ?? .nan)
        try frames.dataset.setAttribute("offset_kelvin", cal?.offsetKelvin ?? .nan)
        try frames.dataset.setAttribute("emissivity", cal?.emissivity ?? .nan)
        try frames.dataset.setAttribute("celsius", "celsius = counts * kelvin_per_count + offset_kelvin - 273.15")
        try frames.dataset.setAttribute("layout", "frames[i, y, x], row 0 at the top; MATLAB h5read gives x, y, i")
        for a in [g] {
            try a.setAttribute("device", st.device)
            try a.setAttribute("format", st.format)
            try a.setAttribute("nominal_rate_hz", st.nominalRateHz)
            try a.setAttribute("width", Int32(w))
            try a.setAttribute("height", Int32(h))
        }
        return frames.rows
    }

    static func writePCM(_ r: SessionReader, _ st: StreamRecord, range: Range<Int64>, into g: HDF5Group,
                         damaged: inout DamageTally) throws -> Int64 {
        guard let fmt = SampleFormat(rawValue: st.sampleFormat ?? "") else {
            throw SessionExportError.badField(file: r.path, stream: st.key, field: "sample_format", value: "'\(st.sampleFormat ?? "")'",
                                    expected: "one of " + SampleFormat.allCases.map(\.rawValue).joined(separator: ", "))
        }
        guard let ch = st.channels, (1...64).contains(ch) else {
            throw SessionExportError.badField(file: r.path, stream: st.key, field: "channels", value: st.channels.map(String.init) ?? "none", expected: "1 to 64")
        }
        let rowsPerChunk = max(1, 32768 / ch)
        let dec = try PCMDecoder()
        var chunkT: [Int64] = [], chunkFirst: [Int64] = [], chunkRow: [Int64] = [], chunkFrames: [Int32] = []
        var written: Int64 = 0
        func each(_ body: ([Int32], AudioChunkRecord) throws -> Void) throws {
            try r.forEachAudioChunk(streamId: st.id!, range: range) { c in
                let s: [Int32]
                do throws(DamagedPayload) { s = try r.samples(of: c, stream: st, decoder: dec) } catch {
                    damaged.record(error)
                    return
                }
                chunkT.append(c.tNs); chunkFirst.append(c.firstSampleIndex); chunkRow.append(written)
                chunkFrames.append(Int32(c.frameCount))
                try body(s, c)
                written += Int64(c.frameCount)
            }
        }
        switch fmt {
        case .s16le:
            let pcm = try g.appendable("pcm", of: Int16.self, trailing: [ch], chunkRows: rowsPerChunk)
            try each { s, _ in try pcm.append(s.map { Int16(truncatingIfNeeded: $0) }) }
        case .s24le, .s32le:
            let pcm = try g.appendable("pcm", of: Int32.self, trailing: [ch], chunkRows: rowsPerChunk)
            try each { s, _ in try pcm.append(s) }
        case .floatle:
            let pcm = try g.appendable("pcm", of: Float.self, trailing: [ch], chunkRows: rowsPerChunk)
            try each { s, _ in try pcm.append(s.map { Float(bitPattern: UInt32(bitPattern: $0)) }) }
        }
        try g.write("chunk_t_ns", chunkT)
        try g.write("chunk_first_sample_index", chunkFirst)
        try g.write("chunk_row", chunkRow)
        try g.write("chunk_frames", chunkFrames)
        try g.setAttribute("sample_rate_hz", st.nominalRateHz)
        try g.setAttribute("channels", Int32(ch))
        try g.setAttribute("sample_format", fmt.rawValue)
        try g.setAttribute("full_scale", fmt.fullScale)
        try g.setAttribute("device", st.device)
        try g.setAttribute("start_t_ns", chunkT.first ?? -1)
        return written
    }

    static func writeHits(_ r: SessionReader, _ st: StreamRecord, range: Range<Int64>, into g: HDF5Group) throws -> Int {
        let hits = try r.aeHits(streamId: st.id!, range: range)
        try g.write("t_ns", hits.map(\.tNs))
        try g.write("channel", hits.map { Int32($0.channel) })
        try g.write("sample_index", hits.map(\.sampleIndex))
        try g.write("amplitude_db", hits.map(\.amplitudeDb))
        try g.write("rise_time_s", hits.map(\.riseTimeS))
        try g.write("duration_s", hits.map(\.durationS))
        try g.write("counts", hits.map { Int32(clamping: $0.counts) })
        try g.write("energy_v2s", hits.map(\.energyV2s))
        try g.write("rms_before_v", hits.map(\.rmsBeforeV))
        if let d = st.aeDetectorJson { try g.setAttribute("detector_settings_json", d) }
        return hits.count
    }

    static func writeBMS(_ r: SessionReader, _ st: StreamRecord, range: Range<Int64>, into g: HDF5Group) throws -> Int {
        let b = try r.bmsSamples(streamId: st.id!, range: range)
        try g.write("t_ns", b.map(\.tNs))
        try g.write("host_arrival_ns", b.map(\.hostArrivalNs))
        try g.write("device_time_s", b.map { $0.deviceTimeS ?? .nan })
        try g.write("voltage_v", b.map { $0.voltageV ?? .nan })
        try g.write("current_a", b.map { $0.currentA ?? .nan })
        try g.write("cell_temp_c", b.map { $0.cellTempC ?? .nan })
        try g.write("ambient_c", b.map { $0.ambientC ?? .nan })
        try g.write("soc", b.map { $0.soc ?? .nan })
        try g.writeStrings("raw", b.map(\.raw))
        try g.setAttribute("role", st.role ?? "")
        try g.setAttribute("device", st.device)
        try g.setAttribute("missing", "NaN: the line did not carry the field")
        return b.count
    }

    /// Every prediction in the window, one row each (model names are data, never group names).
    static func writePredictions(_ p: [PredictionRecord], into g: HDF5Group) throws -> Int {
        try g.write("t_ns", p.map(\.tNs))
        try g.writeStrings("model", p.map(\.model))
        try g.writeStrings("model_version", p.map(\.modelVersion))
        try g.writeStrings("run_id", p.map(\.runId))
        try g.write("score", p.map(\.score))
        try g.write("alarm", p.map { Int8($0.alarm ? 1 : 0) })
        try g.write("latency_ns", p.map { $0.latencyNs ?? -1 })
        try g.writeStrings("parameters_json", p.map(\.parametersJson))
        try g.setAttribute("which", "every prediction row with from_t_ns <= t_ns < to_t_ns, ordered by model, run_id, t_ns; latency_ns -1: not measured")
        return p.count
    }

    /// The recorded gaps (dropped frames, xruns, parse errors, clock outliers, device loss,
    /// damaged payloads) overlapping the window.
    static func writeGaps(_ gaps: [GapRecord], streamKeys: [Int64: String], into g: HDF5Group) throws {
        try g.write("start_t_ns", gaps.map(\.startTNs))
        try g.write("end_t_ns", gaps.map { $0.endTNs ?? $0.startTNs })
        try g.write("is_interval", gaps.map { Int8($0.endTNs == nil ? 0 : 1) })
        try g.writeStrings("kind", gaps.map(\.kind))
        try g.writeStrings("stream", gaps.map { $0.streamId.flatMap { streamKeys[$0] } ?? "" })
        try g.write("lost_count", gaps.map(\.lostCount))
        try g.writeStrings("detail", gaps.map(\.detail))
        try g.setAttribute("which", "every gap row overlapping the window (end_t_ns >= from_t_ns and start_t_ns < to_t_ns); stream '' = the whole session")
    }

    /// Sensing-setting changes (AE threshold, gain, ...) in the window.
    static func writeSensingEvents(_ e: [SensingEventRecord], streamKeys: [Int64: String], into g: HDF5Group) throws {
        try g.write("t_ns", e.map(\.tNs))
        try g.writeStrings("stream", e.map { $0.streamId.flatMap { streamKeys[$0] } ?? "" })
        try g.writeStrings("setting", e.map(\.setting))
        try g.write("value", e.map(\.value))
        try g.write("previous", e.map { $0.previous ?? .nan })
        try g.writeStrings("origin", e.map(\.origin))
        try g.write("skipped", e.map(\.skipped))
        try g.writeStrings("detail", e.map(\.detail))
        try g.setAttribute("which", "every sensing event with from_t_ns <= t_ns < to_t_ns, in time order; previous NaN: none before")
    }

    static func writeLabels(_ labels: [AnnotationRecord], into g: HDF5Group, set: String?) throws {
        try g.write("start_t_ns", labels.map(\.startTNs))
        try g.write("end_t_ns", labels.map { $0.endTNs ?? $0.startTNs })
        try g.write("is_interval", labels.map { Int8($0.endTNs == nil ? 0 : 1) })
        try g.writeStrings("label", labels.map(\.label))
        try g.writeStrings("label_set", labels.map(\.labelSet))
        try g.writeStrings("author", labels.map(\.author))
        try g.writeStrings("method", labels.map(\.method))
        try g.writeStrings("note", labels.map(\.note))
        try g.setAttribute("which", set.map { "current labels of label set \($0)" } ?? "every current label (not superseded, not deleted) of every label set; label_set names each row's set")
    }
}
