import Foundation
import GRDB
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
                      to path: String) throws -> SessionExportReport {
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
                        INSERT INTO ae_data (SetType, Time, Chan, Status, ParamID, Thr, Amp, RiseT, Dur, Eny, RMS, Counts)
                        VALUES (2, ?, ?, 0, ?, ?, ?, ?, ?, ?, ?, ?)
                        """, arguments: [
                            ticks(t), chan, chan, thrDb.map { counts(microVolts(db: $0)) }, counts(microVolts(db: h.amplitudeDb)),
                            seconds(h.riseTimeS), seconds(h.durationS), Int64((h.energyV2s / 1e-14 / adcEnergyUnits).rounded()),
                            Int64((h.rmsBeforeV * 1e6 / (0.0065536 * adcMicroVolt)).rounded()), h.counts,
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
        }
        try q.close()
        if aeStreams.isEmpty { report.notes.append("the session has no AE stream: the pridb holds markers only") }
        return report
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
