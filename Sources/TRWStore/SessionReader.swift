import Foundation
import GRDB
import TRWCore

/// Read access to a session file, shared by `info`, `annotate`, `export`,
/// `replay`, `resync`. Opens read-only; safe to use while a recorder writes
/// (WAL readers see the last commit).
public final class SessionReader: Sendable {
    public let path: String
    let dbQueue: DatabaseQueue

    /// Opens read-only. A file written by an older trw is first brought to the current
    /// schema (additive migrations only) when it is writable. A read-only file (read-only
    /// media) of schema `SessionSchema.oldestReadableAsIs` or newer is read as it is; an
    /// older read-only file is an error that says so.
    public init(path: String) throws {
        self.path = path
        let q = try SessionFile.openExisting(path: path, readonly: true)
        let version = try q.read { try Int.fetchOne($0, sql: "PRAGMA user_version") ?? 0 }
        if version < SessionSchema.currentVersion {
            let writable = FileManager.default.isWritableFile(atPath: path)
            if !writable && version >= SessionSchema.oldestReadableAsIs {
                // Read-only media: the newer migrations add nothing the reader's queries use.
                dbQueue = q
                return
            }
            try q.close()
            guard writable else {
                throw SessionStoreError.notASession(
                    path: path, reason: "it has schema version \(version) and is read-only; trw needs version \(SessionSchema.oldestReadableAsIs) or newer (make it writable once to upgrade it)")
            }
            _ = try SessionFile.openExisting(path: path, readonly: false)
            dbQueue = try SessionFile.openExisting(path: path, readonly: true)
        } else {
            dbQueue = q
        }
    }

    func read<T>(_ body: (Database) throws -> T) throws -> T {
        do { return try dbQueue.read(body) } catch { throw SessionStoreError.wrap(error, path: path) }
    }

    public func session() throws -> SessionRecord {
        guard let s = try read({ try SessionRecord.fetchOne($0, key: 1) }) else {
            throw SessionStoreError.notASession(path: path, reason: "it has no session row")
        }
        return s
    }

    /// Every stream; a numeric field no reader can use (rate 0, NaN calibration, ...) throws `SessionFieldError`.
    public func streams() throws -> [StreamRecord] {
        let all = try read { try StreamRecord.order(\.id).fetchAll($0) }
        for s in all { try s.checkNumbers(file: path) }
        return all
    }

    public func stream(key: String) throws -> StreamRecord? {
        let s = try read { try StreamRecord.filter { $0.key == key }.fetchOne($0) }
        try s?.checkNumbers(file: path)
        return s
    }

    public func streams(kind: StreamKind) throws -> [StreamRecord] {
        try streams().filter { $0.kind == kind.rawValue }
    }

    // MARK: thermal

    /// Frame statistics (no payload) in a half-open session-time range.
    public func frameSummaries(streamId: Int64, range: Range<Int64>? = nil) throws -> [ThermalFrameSummary] {
        try read { db in
            try ThermalFrameSummary.fetchAll(
                db,
                sql: """
                    SELECT id, sequence, t_ns, min_counts, max_counts, mean_counts, hotspot_x, hotspot_y, flags
                    FROM thermal_frame WHERE stream_id = ? AND t_ns >= ? AND t_ns < ? ORDER BY t_ns
                    """,
                arguments: [streamId, range?.lowerBound ?? Int64.min, range?.upperBound ?? Int64.max])
        }
    }

    /// The SQL of `forEachFrameStatistic`: answered from the covering index `thermal_frame_stats`.
    public static let frameStatisticSQL = """
        SELECT t_ns, min_counts, max_counts, mean_counts, hotspot_x, hotspot_y
        FROM thermal_frame INDEXED BY thermal_frame_stats WHERE stream_id = ? ORDER BY t_ns
        """

    /// The reference path for benchmarks: the same statistics read from the table rows, not the index.
    public func forEachFrameStatisticFromTable(streamId: Int64, _ body: () throws -> Void) throws {
        try read { db in
            let rows = try Row.fetchCursor(db, sql: """
                SELECT t_ns, min_counts, max_counts, mean_counts, hotspot_x, hotspot_y
                FROM thermal_frame NOT INDEXED WHERE stream_id = ? ORDER BY rowid
                """, arguments: [streamId])
            while try rows.next() != nil { try body() }
        }
    }

    /// SQLite's plan for `frameStatisticSQL` (the overview's cost rests on it naming the covering index).
    public func frameStatisticQueryPlan() throws -> [String] {
        try read { db in try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + Self.frameStatisticSQL, arguments: [1]).map { $0["detail"] } }
    }

    /// Visits every frame's statistics in time order (t_ns, min, max, mean counts, hotspot x, y)
    /// without materialising records: hours of 50 Hz frames in a fraction of a second.
    public func forEachFrameStatistic(streamId: Int64,
                                      _ body: (Int64, Int64, Int64, Double, Int, Int) throws -> Void) throws {
        try read { db in
            let rows = try Row.fetchCursor(db, sql: Self.frameStatisticSQL, arguments: [streamId])
            while let r = try rows.next() {
                try body(r[0], r[1], r[2], r[3], r[4], r[5])
            }
        }
    }

    /// Frames with payloads in a range. For long ranges use `forEachFrame`.
    public func frames(streamId: Int64, range: Range<Int64>? = nil) throws -> [ThermalFrameRecord] {
        try read { db in
            try ThermalFrameRecord
                .filter(ThermalFrameRecord.Columns.streamId == streamId)
                .filter(ThermalFrameRecord.Columns.tNs >= (range?.lowerBound ?? Int64.min))
                .filter(ThermalFrameRecord.Columns.tNs < (range?.upperBound ?? Int64.max))
                .order(ThermalFrameRecord.Columns.tNs).fetchAll(db)
        }
    }

    /// Visits frames one at a time (bounded memory).
    public func forEachFrame(streamId: Int64, range: Range<Int64>? = nil,
                             _ body: (ThermalFrameRecord) throws -> Void) throws {
        try read { db in
            let cursor = try ThermalFrameRecord
                .filter(ThermalFrameRecord.Columns.streamId == streamId)
                .filter(ThermalFrameRecord.Columns.tNs >= (range?.lowerBound ?? Int64.min))
                .filter(ThermalFrameRecord.Columns.tNs < (range?.upperBound ?? Int64.max))
                .order(ThermalFrameRecord.Columns.tNs).fetchCursor(db)
            while let f = try cursor.next() { try body(f) }
        }
    }

    /// The frame nearest in time to `tNs` (either side; the earlier one on a tie); nil
    /// when the stream has none.
    public func frame(streamId: Int64, closestTo tNs: Int64) throws -> ThermalFrameRecord? {
        try read { db in
            let before = try ThermalFrameRecord.fetchOne(
                db, sql: "SELECT * FROM thermal_frame WHERE stream_id = ? AND t_ns <= ? ORDER BY t_ns DESC LIMIT 1",
                arguments: [streamId, tNs])
            let after = try ThermalFrameRecord.fetchOne(
                db, sql: "SELECT * FROM thermal_frame WHERE stream_id = ? AND t_ns > ? ORDER BY t_ns LIMIT 1",
                arguments: [streamId, tNs])
            guard let b = before else { return after }
            guard let a = after else { return b }
            return a.tNs - tNs < tNs - b.tNs ? a : b
        }
    }

    /// The last frame at or before `tNs` (causal: what a live reader had), else the first frame.
    public func frame(streamId: Int64, nearest tNs: Int64) throws -> ThermalFrameRecord? {
        try read { db in
            if let f = try ThermalFrameRecord.fetchOne(
                db, sql: "SELECT * FROM thermal_frame WHERE stream_id = ? AND t_ns <= ? ORDER BY t_ns DESC LIMIT 1",
                arguments: [streamId, tNs]) { return f }
            return try ThermalFrameRecord.fetchOne(
                db, sql: "SELECT * FROM thermal_frame WHERE stream_id = ? ORDER BY t_ns LIMIT 1", arguments: [streamId])
        }
    }

    /// One frame row by id.
    public func frame(id: Int64) throws -> ThermalFrameRecord? {
        try read { try ThermalFrameRecord.fetchOne($0, key: id) }
    }

    /// Ids of the `limit` frames of a stream nearest in time to `tNs` (nearest first).
    public func frameIdsNearest(streamId: Int64, to tNs: Int64, limit: Int) throws -> [Int64] {
        try read { db in
            let before = try Row.fetchAll(db, sql: "SELECT id, t_ns FROM thermal_frame WHERE stream_id = ? AND t_ns <= ? ORDER BY t_ns DESC LIMIT ?",
                                          arguments: [streamId, tNs, limit])
            let after = try Row.fetchAll(db, sql: "SELECT id, t_ns FROM thermal_frame WHERE stream_id = ? AND t_ns > ? ORDER BY t_ns LIMIT ?",
                                         arguments: [streamId, tNs, limit])
            let all: [(Int64, Int64)] = (before + after).map { ($0[0], $0[1]) }
            return all.sorted { abs($0.1 - tNs) < abs($1.1 - tNs) }.prefix(limit).map(\.0)
        }
    }

    /// Raw times of every frame (no payload), for resync.
    public func rawFrameTimes(streamId: Int64) throws -> [(id: Int64, sequence: Int64, deviceTsNs: Int64, hostArrivalNs: Int64, tNs: Int64)] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT id, sequence, device_ts_ns, host_arrival_ns, t_ns FROM thermal_frame WHERE stream_id = ? ORDER BY sequence, id",
                             arguments: [streamId]).map { ($0[0], $0[1], $0[2], $0[3], $0[4]) }
        }
    }

    /// Raw times of every audio chunk (no payload), for resync.
    public func rawChunkTimes(streamId: Int64) throws
        -> [(id: Int64, firstSampleIndex: Int64, frameCount: Int, hostArrivalNs: Int64, pairSampleIndex: Int64?, pairHostNs: Int64?, tNs: Int64)] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT id, first_sample_index, frame_count, host_arrival_ns, pair_sample_index, pair_host_ns, t_ns FROM audio_chunk WHERE stream_id = ? ORDER BY first_sample_index, id",
                             arguments: [streamId]).map { ($0[0], $0[1], $0[2], $0[3], $0[4], $0[5], $0[6]) }
        }
    }

    // MARK: audio, hits, bms

    public func audioChunks(streamId: Int64, range: Range<Int64>? = nil) throws -> [AudioChunkRecord] {
        try read { db in
            try AudioChunkRecord.fetchAll(
                db, sql: "SELECT * FROM audio_chunk WHERE stream_id = ? AND t_ns >= ? AND t_ns < ? ORDER BY first_sample_index",
                arguments: [streamId, range?.lowerBound ?? Int64.min, range?.upperBound ?? Int64.max])
        }
    }

    public func forEachAudioChunk(streamId: Int64, range: Range<Int64>? = nil,
                                  _ body: (AudioChunkRecord) throws -> Void) throws {
        try read { db in
            let c = try AudioChunkRecord.fetchCursor(
                db, sql: "SELECT * FROM audio_chunk WHERE stream_id = ? AND t_ns >= ? AND t_ns < ? ORDER BY first_sample_index",
                arguments: [streamId, range?.lowerBound ?? Int64.min, range?.upperBound ?? Int64.max])
            while let r = try c.next() { try body(r) }
        }
    }

    public func aeHits(streamId: Int64? = nil, range: Range<Int64>? = nil) throws -> [AEHitRecord] {
        try read { db in
            try AEHitRecord.fetchAll(
                db, sql: "SELECT * FROM ae_hit WHERE (? IS NULL OR stream_id = ?) AND t_ns >= ? AND t_ns < ? ORDER BY t_ns",
                arguments: [streamId, streamId, range?.lowerBound ?? Int64.min, range?.upperBound ?? Int64.max])
        }
    }

    public func bmsSamples(streamId: Int64? = nil, range: Range<Int64>? = nil) throws -> [BMSSampleRecord] {
        try read { db in
            try BMSSampleRecord.fetchAll(
                db, sql: "SELECT * FROM bms_sample WHERE (? IS NULL OR stream_id = ?) AND t_ns >= ? AND t_ns < ? ORDER BY t_ns",
                arguments: [streamId, streamId, range?.lowerBound ?? Int64.min, range?.upperBound ?? Int64.max])
        }
    }

    /// A BMS column a feature hold carries (`lastBMSSample`).
    public enum BMSHoldColumn: String, CaseIterable, Sendable {
        case voltageV = "voltage_v", currentA = "current_a", cellTempC = "cell_temp_c", soc = "soc", ambientC = "ambient_c"
    }

    /// The latest row of a BMS stream at or before `tNs` whose `column` is not NULL: the value a
    /// held feature carries into a window that starts at `tNs` (one indexed lookup, read backwards).
    public func lastBMSSample(streamId: Int64, atOrBefore tNs: Int64, nonNull column: BMSHoldColumn) throws -> BMSSampleRecord? {
        try read { db in
            try BMSSampleRecord.fetchOne(
                db, sql: "SELECT * FROM bms_sample WHERE stream_id = ? AND t_ns <= ? AND \(column.rawValue) IS NOT NULL ORDER BY t_ns DESC LIMIT 1",
                arguments: [streamId, tNs])
        }
    }

    /// Session time of the last row of `table` (thermal_frame, audio_chunk) of a stream at or before `tNs`.
    public func lastRowTime(_ table: StreamKind, streamId: Int64, atOrBefore tNs: Int64) throws -> Int64? {
        let name: String
        switch table {
        case .thermal: name = "thermal_frame"
        case .ae: name = "audio_chunk"
        case .bms: name = "bms_sample"
        }
        return try read { db in
            try Int64.fetchOne(db, sql: "SELECT MAX(t_ns) FROM \(name) WHERE stream_id = ? AND t_ns <= ?", arguments: [streamId, tNs])
        }
    }

    /// For an AE stream's chunks from session time `fromTNs` on: the first one's sample index, and
    /// the sample index at which its contiguous run began (the first chunk after the last hole in
    /// the sample indices before it, else the stream's first chunk). The STFT windows of the
    /// features restart at each hole, so a reader starting mid-run keeps their phase with this.
    public func audioRun(streamId: Int64, fromTNs: Int64) throws -> (firstSampleIndex: Int64, runStart: Int64)? {
        try read { db in
            guard let first = try Int64.fetchOne(
                db, sql: "SELECT first_sample_index FROM audio_chunk WHERE stream_id = ? AND t_ns >= ? ORDER BY first_sample_index LIMIT 1",
                arguments: [streamId, fromTNs]) else { return nil }
            let start = try Int64.fetchOne(db, sql: """
                SELECT first_sample_index FROM (
                    SELECT first_sample_index, LAG(first_sample_index + frame_count) OVER (ORDER BY first_sample_index) AS expected
                    FROM audio_chunk WHERE stream_id = ? AND first_sample_index <= ?)
                WHERE expected IS NULL OR expected != first_sample_index
                ORDER BY first_sample_index DESC LIMIT 1
                """, arguments: [streamId, first])
            return (first, start ?? first)
        }
    }

    // MARK: events

    public func gaps(streamId: Int64? = nil) throws -> [GapRecord] {
        try read { db in
            try GapRecord.fetchAll(
                db, sql: "SELECT * FROM gap WHERE (? IS NULL OR stream_id = ?) ORDER BY start_t_ns, id",
                arguments: [streamId, streamId])
        }
    }

    /// Sensing-setting changes in time order.
    public func sensingEvents() throws -> [SensingEventRecord] {
        try read { try SensingEventRecord.order { [$0.tNs, $0.id] }.fetchAll($0) }
    }

    /// Current markers (not removed) in time order, or every row (removals included) with `includeHistory`.
    public func markers(includeHistory: Bool = false) throws -> [MarkerRecord] {
        try read { db in
            let q = includeHistory ? MarkerRecord.order(\.id) : MarkerRecord.all().current().orderedByTime()
            return try q.fetchAll(db)
        }
    }

    /// Current labels (not superseded, not deleted), or every row with `includeHistory`;
    /// only those of one label set when `set` is given.
    public func annotations(includeHistory: Bool = false, set: String? = nil) throws -> [AnnotationRecord] {
        try read { db in
            var q = includeHistory ? AnnotationRecord.order(\.id) : AnnotationRecord.all().current().orderedByTime()
            if let set { q = q.filter { $0.labelSet == set } }
            return try q.fetchAll(db)
        }
    }

    /// The session's time extent as label checks see it (`LabelRules`): from min(0, first
    /// data) to the later of the stored end and the last data (up to now while recording).
    public func extentNs() throws -> ClosedRange<Int64> {
        try read { try LabelRules.extent($0) }
    }

    /// The label sets in the file with their current label counts.
    public func labelSets() throws -> [(set: String, labels: Int)] {
        try read { db in
            try AnnotationRecord.all().current()
                .select { [$0.labelSet, count($0.id)] }
                .group(\.labelSet)
                .order(\.labelSet)
                .asRequest(of: Row.self)
                .fetchAll(db).map { ($0[0], $0[1]) }
        }
    }

    public func clockModels(streamId: Int64, includeHistory: Bool = false) throws -> [ClockModelRecord] {
        try read { db in
            try ClockModelRecord.fetchAll(
                db, sql: "SELECT * FROM clock_model WHERE stream_id = ? AND (? OR is_current = 1) ORDER BY id",
                arguments: [streamId, includeHistory])
        }
    }

    /// Predictions (only `model`'s when given; only those with `range.contains(t_ns)` when given).
    public func predictions(model: String? = nil, range: Range<Int64>? = nil) throws -> [PredictionRecord] {
        try read { db in
            try PredictionRecord.fetchAll(
                db, sql: "SELECT * FROM prediction WHERE (? IS NULL OR model = ?) AND t_ns >= ? AND t_ns < ? ORDER BY model, run_id, t_ns",
                arguments: [model, model, range?.lowerBound ?? Int64.min, range?.upperBound ?? Int64.max])
        }
    }

    // MARK: summary

    /// Per-stream counts, time spans and payload sizes, gaps by kind, labels.
    public func summary() throws -> SessionSummary {
        let s = try session()
        let streamRows = try streams()
        return try read { db in
            var out: [SessionSummary.StreamSummary] = []
            for st in streamRows {
                let id = st.id!
                var ss = SessionSummary.StreamSummary(stream: st)
                switch st.kind {
                case StreamKind.thermal.rawValue:
                    if let row = try Row.fetchOne(db, sql: """
                        SELECT COUNT(*), MIN(t_ns), MAX(t_ns), COALESCE(SUM(LENGTH(payload)),0), MAX(max_counts),
                               GROUP_CONCAT(DISTINCT codec)
                        FROM thermal_frame WHERE stream_id = ?
                        """, arguments: [id]) {
                        ss.count = row[0]
                        ss.firstTNs = row[1]
                        ss.lastTNs = row[2]
                        ss.payloadBytes = row[3]
                        ss.rawBytes = Int64(ss.count) * Int64((st.width ?? 0) * (st.height ?? 0) * 2)
                        if let mc: Int = row[4], let cal = st.calibration { ss.peakValue = cal.celsius(UInt16(clamping: mc)) }
                        ss.codecs = (row[5] as String?) ?? ""
                    }
                case StreamKind.ae.rawValue:
                    if let row = try Row.fetchOne(db, sql: """
                        SELECT COUNT(*), MIN(t_ns), MAX(t_ns), COALESCE(SUM(LENGTH(payload)),0), COALESCE(SUM(frame_count),0),
                               MAX(peak), GROUP_CONCAT(DISTINCT codec)
                        FROM audio_chunk WHERE stream_id = ?
                        """, arguments: [id]) {
                        ss.count = row[0]
                        ss.firstTNs = row[1]
                        ss.lastTNs = row[2]
                        ss.payloadBytes = row[3]
                        let frames: Int64 = row[4]
                        ss.sampleFrames = frames
                        ss.rawBytes = frames * Int64(st.channels ?? 1)
                            * Int64(SampleFormat(rawValue: st.sampleFormat ?? "")?.bytesPerSample ?? 4)
                        ss.peakValue = row[5]
                        ss.codecs = (row[6] as String?) ?? ""
                    }
                    ss.hits = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM ae_hit WHERE stream_id = ?", arguments: [id]) ?? 0
                default:
                    if let row = try Row.fetchOne(db, sql: """
                        SELECT COUNT(*), MIN(t_ns), MAX(t_ns), MAX(voltage_v), MAX(cell_temp_c) FROM bms_sample WHERE stream_id = ?
                        """, arguments: [id]) {
                        ss.count = row[0]
                        ss.firstTNs = row[1]
                        ss.lastTNs = row[2]
                        ss.peakVoltage = row[3]
                        ss.peakValue = row[4]
                    }
                }
                let gapRows = try Row.fetchAll(
                    db, sql: "SELECT kind, COUNT(*), SUM(lost_count) FROM gap WHERE stream_id = ? GROUP BY kind ORDER BY kind",
                    arguments: [id])
                ss.gaps = gapRows.map { SessionSummary.GapCount(kind: $0[0], events: $0[1], lost: $0[2]) }
                out.append(ss)
            }
            let globalGaps = try Row.fetchAll(
                db, sql: "SELECT kind, COUNT(*), SUM(lost_count) FROM gap WHERE stream_id IS NULL GROUP BY kind ORDER BY kind")
            let markers = try MarkerRecord.all().current().fetchCount(db)
            let labels = try AnnotationRecord.all().current().orderedByTime().fetchAll(db)
            return SessionSummary(
                session: s, streams: out,
                recorderGaps: globalGaps.map { SessionSummary.GapCount(kind: $0[0], events: $0[1], lost: $0[2]) },
                markerCount: markers, labels: labels, fileBytes: SessionFile.bytes(path: path))
        }
    }
}

/// What `trw info` and `trw ls` print.
public struct SessionSummary: Sendable {
    public struct GapCount: Sendable, Equatable {
        public var kind: String
        public var events: Int
        public var lost: Int64
    }
    public struct StreamSummary: Sendable {
        public var stream: StreamRecord
        public var count: Int = 0
        public var firstTNs: Int64?
        public var lastTNs: Int64?
        public var payloadBytes: Int64 = 0
        public var rawBytes: Int64 = 0
        public var sampleFrames: Int64 = 0
        public var hits: Int = 0
        public var peakValue: Double?
        public var peakVoltage: Double?
        public var codecs: String = ""
        public var gaps: [GapCount] = []

        public var durationNs: Int64 { (lastTNs ?? 0) - (firstTNs ?? 0) }
        public var compressionRatio: Double? { payloadBytes > 0 && rawBytes > 0 ? Double(rawBytes) / Double(payloadBytes) : nil }
        public var lostTotal: Int64 { gaps.reduce(0) { $0 + $1.lost } }
    }
    public var session: SessionRecord
    public var streams: [StreamSummary]
    public var recorderGaps: [GapCount]
    public var markerCount: Int
    public var labels: [AnnotationRecord]
    public var fileBytes: Int64
}
