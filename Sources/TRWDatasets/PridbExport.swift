import Foundation
import GRDB
import TRWCodec
import TRWCore
import TRWStore

/// `trw export --format pridb`: the session's AE hits as a Vallen pridb (the AE community's
/// SQLite file that VisualAE and Python's `vallenae` open), with the acquisition settings,
/// a date-time marker at session time 0 and the labels as label markers.
/// Layout, units and quantisation: schemas/export-pridb.md.
enum PridbExport {
    /// Ticks per second of `Time`, `RiseT`, `Dur` (Vallen's own: 100 ns).
    static let timeBase: Int64 = 10_000_000
    /// µV per `Amp`, `Thr` and `RMS / 0.0065536` count (1 nV).
    static let adcMicroVolt = 1e-3
    /// eu (1e-14 V²s) per `Eny` count.
    static let adcEnergyUnits = 1e-6

    static func write(_ r: SessionReader, range: Range<Int64>, options o: SessionExportOptions,
                      to path: String, tradb: String? = nil) throws -> SessionExportReport {
        var report = SessionExportReport(path: path, format: .pridb, range: range)
        let s = try r.session()
        let aeStreams = try r.streams(kind: .ae)
        // Vallen channels are numbered from 1 over every AE stream in stream order.
        var firstChan: [Int64: Int] = [:]
        var next = 1
        var params: [(chan: Int, stream: StreamRecord, channel: Int)] = []
        for st in aeStreams {
            let n = st.channels ?? 1
            guard (1...64).contains(n) else {
                throw SessionExportError.badField(file: r.path, stream: st.key, field: "channels", value: String(n), expected: "1 to 64")
            }
            firstChan[st.id!] = next
            for c in 0..<n { params.append((next + c, st, c)) }
            next += n
        }
        enum Row { case hit(AEHitRecord), label(AnnotationRecord) }
        var rows: [(t: Int64, row: Row)] = []
        for st in aeStreams {
            for h in try r.aeHits(streamId: st.id!, range: range) {
                guard h.channel >= 0, h.channel < (st.channels ?? 1) else {
                    throw SessionExportError.badField(file: r.path, stream: st.key, field: "ae_hit \(h.id ?? -1) channel", value: String(h.channel),
                                            expected: "0 to \((st.channels ?? 1) - 1)")
                }
                rows.append((h.tNs, .hit(h)))
            }
        }
        let labels = try SessionExport.labels(r, set: o.labelSet, range: range)
        for a in labels { rows.append((max(a.startTNs, range.lowerBound), .label(a))) }
        rows.sort { $0.t < $1.t }
        // Waveforms first: a hit gets a TRAI only when its transient is in the tradb.
        var trai: [Int64: Int64] = [:]
        if let tradb {
            var hits: [AEHitRecord] = []
            for x in rows { if case .hit(let h) = x.row { hits.append(h) } }
            let w = try TradbExport.write(r, hits: hits, streams: aeStreams, firstChan: firstChan, session: s, to: tradb)
            trai = w.trai
            report.damaged.merge(w.damaged)
            report.waveforms = w.trai.count
            if w.skipped > 0 {
                report.notes.append("\(w.skipped) hits have no waveform in the tradb (their window crosses a gap, a damaged chunk or the window's edge; \(w.reason))")
            }
        }

        let q = try DatabaseQueue(path: path)
        try q.write { db in
            try db.execute(sql: schema)
            try db.execute(sql: "INSERT INTO acq_setup (ID, Data) VALUES (1, ?)", arguments: [acquisitionSetup(s, aeStreams)])
            for p in params {
                try db.execute(sql: #"INSERT INTO ae_params (ID, SetupID, Chan, "ADC_µV", ADC_TE, ADC_SS) VALUES (?, 1, ?, ?, ?, NULL)"#,
                               arguments: [p.chan, p.chan, adcMicroVolt, adcEnergyUnits])
            }
            // Date-time marker (SetType 5) at session time 0: vallenae's to_datetime and VisualAE's clock.
            try db.execute(sql: "INSERT INTO ae_data (SetType, Time) VALUES (5, 0)")
            try db.execute(sql: "INSERT INTO ae_markers (SetID, Number, Data) VALUES (?, NULL, ?)",
                           arguments: [db.lastInsertedRowID, dateTime(s.startRealtimeNs)])
            for (t, row) in rows {
                switch row {
                case .hit(let h):
                    let st = aeStreams.first { $0.id == h.streamId }!
                    let chan = firstChan[h.streamId]! + h.channel
                    let thrDb = st.aeDetector?.thresholdDbAE
                    try db.execute(sql: """
                        INSERT INTO ae_data (SetType, Time, Chan, Status, ParamID, Thr, Amp, RiseT, Dur, Eny, RMS, Counts, TRAI)
                        VALUES (2, ?, ?, 0, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                        """, arguments: [
                            ticks(t), chan, chan, thrDb.map { counts(microVolts(db: $0)) }, counts(microVolts(db: h.amplitudeDb)),
                            seconds(h.riseTimeS), seconds(h.durationS), Int64((h.energyV2s / 1e-14 / adcEnergyUnits).rounded()),
                            Int64((h.rmsBeforeV * 1e6 / (0.0065536 * adcMicroVolt)).rounded()), h.counts, trai[h.id!],
                        ])
                    report.hits += 1
                case .label(let a):
                    try db.execute(sql: "INSERT INTO ae_data (SetType, Time) VALUES (4, ?)", arguments: [ticks(t)])
                    var text = "\(a.label) [set \(a.labelSet), \(a.author), \(a.method)]"
                    if let e = a.endTNs { text += String(format: " until %.7f s", Double(e) / 1e9) }
                    try db.execute(sql: "INSERT INTO ae_markers (SetID, Number, Data) VALUES (?, NULL, ?)",
                                   arguments: [db.lastInsertedRowID, text])
                    report.labels += 1
                }
            }
            let sets = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM ae_data") ?? 0
            try db.execute(sql: "UPDATE ae_globalinfo SET Value = ? WHERE Key = 'ValidSets'", arguments: [sets])
            try db.execute(sql: "UPDATE ae_globalinfo SET Value = ? WHERE Key = 'FileID'", arguments: [s.uuid.uppercased()])
            try db.execute(sql: "UPDATE ae_globalinfo SET Value = ? WHERE Key = 'TRAI'", arguments: [trai.values.max() ?? 0])
        }
        try q.close()
        if aeStreams.isEmpty { report.notes.append("the session has no AE stream: the pridb holds markers only") }
        return report
    }

    /// µV at the sensor per unit of the detector's ADC (`AEDetectorSettings`): full scale and preamp gain.
    static func sensorMicroVoltsPerFullScale(_ d: AEDetectorSettings?) -> Double {
        let d = d ?? AEDetectorSettings()
        return d.adcFullScaleV * 1e6 / pow(10, d.preampGainDb / 20)
    }

    static func ticks(_ tNs: Int64) -> Int64 {
        let per = 1_000_000_000 / timeBase
        // Round half away from zero to the 100 ns tick.
        return tNs >= 0 ? (tNs + per / 2) / per : -((-tNs + per / 2) / per)
    }
    static func seconds(_ s: Double) -> Int64 { Int64((s * Double(timeBase)).rounded()) }
    /// dB_AE (0 dB = 1 µV at the sensor) to µV.
    static func microVolts(db: Double) -> Double { pow(10, db / 20) }
    static func counts(_ microVolts: Double) -> Int64 { Int64((microVolts / adcMicroVolt).rounded()) }

    static func dateTime(_ realtimeNs: Int64) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyy-MM-dd HH:mm:ss"
        return f.string(from: Date(timeIntervalSince1970: Double(realtimeNs) / 1e9))
    }

    /// The acquisition settings as Vallen-style XML text in `acq_setup`.
    static func acquisitionSetup(_ s: SessionRecord, _ streams: [StreamRecord]) -> String {
        func esc(_ x: String) -> String {
            x.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
                .replacingOccurrences(of: "\"", with: "&quot;")
        }
        var x = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<AcqSetup writer=\"trw \(esc(s.softwareVersion))\" session=\"\(esc(s.uuid))\" name=\"\(esc(s.name))\" start_utc=\"\(esc(s.startUtc))\">\n"
        for st in streams {
            let d = st.aeDetector
            x += "  <Stream key=\"\(esc(st.key))\" device=\"\(esc(st.device))\" sample_rate_hz=\"\(st.nominalRateHz)\" channels=\"\(st.channels ?? 1)\" sample_format=\"\(esc(st.sampleFormat ?? ""))\""
            if let d {
                x += " threshold_db_ae=\"\(d.thresholdDbAE)\" hdt_s=\"\(d.hdtS)\" pdt_s=\"\(d.pdtS)\" hlt_s=\"\(d.hltS)\" adc_full_scale_v=\"\(d.adcFullScaleV)\" preamp_gain_db=\"\(d.preampGainDb)\""
            }
            x += "/>\n"
        }
        return x + "</AcqSetup>\n"
    }

    /// The pridb tables and views vallenae and VisualAE read (Vallen pridb, version 1), with
    /// `TimeBase` 10 MHz. Written from the format's description in schemas/export-pridb.md.
    static let schema = """
        CREATE TABLE acq_setup (ID INTEGER PRIMARY KEY, Data TEXT);
        CREATE TABLE ae_data (
            SetID INTEGER PRIMARY KEY, SetType INT, Time INT, Chan INT, Status INT, ParamID INT,
            Thr INT, Amp INT, RiseT INT, Dur INT, Eny INT, SS INT, RMS INT, Counts INT, TRAI INT,
            CCnt INT, CEny INT, CSS INT, CHits INT, PCTD INT, PCTA INT);
        CREATE TABLE ae_fieldinfo (field, Unit, SetTypes, Parameter, Factor);
        CREATE TABLE ae_globalinfo (Key UNIQUE, Value);
        CREATE TABLE ae_markers (SetID INT UNIQUE, Number INT, Data TEXT);
        CREATE TABLE ae_params (ID INTEGER PRIMARY KEY, SetupID INT, Chan INT, "ADC_µV" REAL, ADC_TE REAL, ADC_SS REAL);
        CREATE TABLE data_integrity (TableName TEXT PRIMARY KEY UNIQUE, HashV1 INT, LastRow INT);
        CREATE INDEX idx_SetupID_Chan ON ae_params (SetupID, Chan);
        CREATE VIEW view_ae_data AS SELECT
            d.SetID AS SetID, d.SetType AS SetType, (d.Time * 1.0 / \(timeBase)) AS Time, d.Chan AS Chan, d.Status AS Status,
            (d.Thr * p."ADC_µV") AS Thr, (d.Amp * p."ADC_µV") AS Amp, (d.RiseT * 1e6 / \(timeBase)) AS RiseT,
            (d.Dur * 1e6 / \(timeBase)) AS Dur, (d.Eny * p.ADC_TE) AS Eny, (d.SS * p.ADC_SS) AS SS,
            (d.RMS * 0.0065536 * p."ADC_µV") AS RMS, d.Counts AS Counts, d.TRAI AS TRAI, d.CCnt AS CCnt,
            (d.CEny * p.ADC_TE) AS CEny, (d.CSS * p.ADC_SS) AS CSS, d.CHits AS CHits, d.PCTD AS PCTD, d.PCTA AS PCTA
            FROM ae_data d LEFT JOIN ae_params p ON p.ID = d.ParamID;
        CREATE VIEW view_ae_markers AS SELECT m.*, l.SetType, (l.Time * 1.0 / \(timeBase)) AS Time
            FROM ae_markers m CROSS JOIN ae_data l ON l.SetID = m.SetID;
        INSERT INTO ae_fieldinfo VALUES
            ('Time', '[s]', NULL, NULL, 1.0 / \(timeBase)), ('Chan', NULL, 12, NULL, NULL), ('Status', NULL, 14, NULL, NULL),
            ('ParamID', NULL, 14, NULL, NULL), ('Thr', '[µV]', 12, 'ADC_µV', NULL), ('Amp', '[µV]', 4, 'ADC_µV', NULL),
            ('RiseT', '[µs]', 4, NULL, 1e6 / \(timeBase)), ('Dur', '[µs]', 4, NULL, 1e6 / \(timeBase)),
            ('Eny', '[eu]', 12, 'ADC_TE', NULL), ('SS', '[nVs]', 12, 'ADC_SS', NULL), ('RMS', '[µV]', 12, 'ADC_µV', 0.0065536),
            ('Counts', NULL, 4, NULL, NULL), ('TRAI', NULL, 4, NULL, NULL);
        INSERT INTO ae_globalinfo (Key, Value) VALUES
            ('Version', 1), ('FileStatus', 0), ('TimeBase', \(timeBase)), ('WriterID', 'trw'), ('FileID', NULL),
            ('ValidSets', 0), ('TRAI', 0);
        """
}

/// The tradb beside the pridb: for each hit, a fixed window of its channel's samples
/// (`pretrigger` before the first threshold crossing, `samples` in all) as Vallen's
/// 16-bit transient data, uncompressed (DataFormat 0). Layout: schemas/export-pridb.md.
enum TradbExport {
    static let pretrigger = 256
    static let samples = 2048

    struct Written {
        var trai: [Int64: Int64] = [:]
        var skipped = 0
        var reason = ""
        var damaged = DamageTally()
    }

    /// The int16 that holds a sample of `format` (S24 and S32 keep their top 16 bits, an
    /// arithmetic shift; S16 as is).
    static func int16(_ s: Int32, _ format: SampleFormat) -> Int16 {
        switch format {
        case .s16le: Int16(truncatingIfNeeded: s)
        case .s24le: Int16(truncatingIfNeeded: s >> 8)
        case .s32le, .floatle: Int16(truncatingIfNeeded: s >> 16)
        }
    }

    static func write(_ r: SessionReader, hits: [AEHitRecord], streams: [StreamRecord], firstChan: [Int64: Int],
                      session s: SessionRecord, to path: String) throws -> Written {
        var out = Written()
        var reasons = Set<String>()
        let q = try DatabaseQueue(path: path)
        try q.write { db in
            try db.execute(sql: schema)
            for st in streams {
                guard let fmt = SampleFormat(rawValue: st.sampleFormat ?? ""), fmt != .floatle else { continue }
                let trMilliVolt = PridbExport.sensorMicroVoltsPerFullScale(st.aeDetector) / 1000 / 32768
                for c in 0..<(st.channels ?? 1) {
                    let chan = firstChan[st.id!]! + c
                    try db.execute(sql: #"INSERT INTO tr_params (ID, SetupID, Chan, "ADC_µV", TR_mV) VALUES (?, 1, ?, ?, ?)"#,
                                   arguments: [chan, chan, PridbExport.adcMicroVolt, trMilliVolt])
                }
            }
            let dec = try PCMDecoder()
            var next: Int64 = 1
            for h in hits {
                guard let st = streams.first(where: { $0.id == h.streamId }), let fmt = SampleFormat(rawValue: st.sampleFormat ?? "") else { continue }
                if fmt == .floatle { out.skipped += 1; reasons.insert("FLOAT_LE PCM has no 16-bit form"); continue }
                let ch = st.channels ?? 1
                let start = h.sampleIndex - Int64(pretrigger), end = start + Int64(samples)
                let margin = Int64((Double(samples) / st.nominalRateHz + 0.5) * 1e9)
                let chunks = try r.audioChunks(streamId: st.id!, range: (h.tNs - margin)..<(h.tNs + margin))
                    .filter { $0.firstSampleIndex < end && $0.firstSampleIndex + Int64($0.frameCount) > start }
                // The window must be covered without a hole.
                var covered = start
                for c in chunks where c.firstSampleIndex <= covered { covered = max(covered, c.firstSampleIndex + Int64(c.frameCount)) }
                guard let first = chunks.first, first.firstSampleIndex <= start, covered >= end else {
                    out.skipped += 1; reasons.insert("gap or edge"); continue
                }
                var wave = [Int16](repeating: 0, count: samples)
                var ok = true
                for c in chunks {
                    let x: [Int32]
                    do throws(DamagedPayload) { x = try r.samples(of: c, stream: st, decoder: dec) } catch {
                        out.damaged.record(error); ok = false; break
                    }
                    for k in 0..<c.frameCount {
                        let idx = c.firstSampleIndex + Int64(k)
                        guard idx >= start, idx < end else { continue }
                        wave[Int(idx - start)] = int16(x[k * ch + h.channel], fmt)
                    }
                }
                guard ok else { out.skipped += 1; reasons.insert("damaged chunk"); continue }
                let chan = firstChan[st.id!]! + h.channel
                let blob = wave.withUnsafeBytes { Data($0) }  // little-endian int16 on every platform trw builds for
                try db.execute(sql: """
                    INSERT INTO tr_data (Time, TRAI, Status, ParamID, Chan, Pretrigger, Thr, SampleRate, Samples, DataFormat, Data)
                    VALUES (?, ?, 0, ?, ?, ?, ?, ?, ?, 0, ?)
                    """, arguments: [
                        PridbExport.ticks(h.tNs), next, chan, chan, pretrigger,
                        st.aeDetector.map { PridbExport.counts(PridbExport.microVolts(db: $0.thresholdDbAE)) },
                        Int(st.nominalRateHz.rounded()), samples, blob,
                    ])
                out.trai[h.id!] = next
                next += 1
            }
            try db.execute(sql: "UPDATE tr_globalinfo SET Value = ? WHERE Key = 'ValidSets'", arguments: [next - 1])
            try db.execute(sql: "UPDATE tr_globalinfo SET Value = ? WHERE Key = 'TRAI'", arguments: [next - 1])
            try db.execute(sql: "UPDATE tr_globalinfo SET Value = ? WHERE Key = 'FileID'", arguments: [s.uuid.uppercased() + "-TR"])
            try db.execute(sql: "UPDATE tr_globalinfo SET Value = ? WHERE Key = 'ReferenceID'", arguments: [s.uuid.uppercased()])
        }
        try q.close()
        out.reason = reasons.sorted().joined(separator: ", ")
        return out
    }

    /// The tradb tables and view vallenae reads (version 1, TimeBase 10 MHz, 2 bytes per sample).
    static let schema = """
        CREATE TABLE tr_data (SetID INTEGER PRIMARY KEY, Time INT, TRAI INT, Status INT, ParamID INT, Chan INT,
            Pretrigger INT, Thr INT, SampleRate INT, Samples INT, DataFormat INT, Data BLOB);
        CREATE TABLE tr_fieldinfo (field, Unit, Parameter);
        CREATE TABLE tr_globalinfo (Key UNIQUE, Value);
        CREATE TABLE tr_params (ID INTEGER PRIMARY KEY, SetupID INT, Chan INT, "ADC_µV" REAL, TR_mV REAL);
        CREATE INDEX idx_TRAI ON tr_data (TRAI);
        CREATE INDEX idx_SetupID_Chan ON tr_params (SetupID, Chan);
        CREATE VIEW view_tr_data AS SELECT
            d.SetID AS SetID, (d.Time * 1.0 / \(PridbExport.timeBase)) AS Time, d.TRAI AS TRAI, d.Status AS Status,
            d.Chan AS Chan, d.Pretrigger AS Pretrigger, (d.Thr * p."ADC_µV") AS Thr, d.SampleRate AS SampleRate,
            d.Samples AS Samples, d.DataFormat AS DataFormat, p.TR_mV AS TR_mV, d.Data AS Data
            FROM tr_data d LEFT JOIN tr_params p ON p.ID = d.ParamID;
        INSERT INTO tr_fieldinfo VALUES ('Time', '[s]', NULL), ('Thr', '[µV]', 'ADC_µV'), ('SampleRate', '[Hz]', NULL),
            ('Data', NULL, 'TR_mV');
        INSERT INTO tr_globalinfo (Key, Value) VALUES
            ('Version', 1), ('FileStatus', 0), ('TimeBase', \(PridbExport.timeBase)), ('BytesPerSample', 2), ('WriterID', 'trw'),
            ('FileID', NULL), ('ReferenceID', NULL), ('ValidSets', 0), ('TRAI', 0);
        """
}
