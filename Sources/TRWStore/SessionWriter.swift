import Foundation
import GRDB
import Synchronization
import TRWCore

/// Rows to write in one transaction.
public struct WriteBatch: Sendable {
    public var frames: [ThermalFrameRecord] = []
    public var audio: [AudioChunkRecord] = []
    public var hits: [AEHitRecord] = []
    public var bms: [BMSSampleRecord] = []
    public var gaps: [GapRecord] = []
    public var markers: [MarkerRecord] = []
    public var annotations: [AnnotationRecord] = []
    public var sensing: [SensingEventRecord] = []
    /// Scores of live detectors (`trw record --detect`).
    public var predictions: [PredictionRecord] = []

    public init() {}

    public var isEmpty: Bool {
        frames.isEmpty && audio.isEmpty && hits.isEmpty && bms.isEmpty && gaps.isEmpty && markers.isEmpty
            && annotations.isEmpty && sensing.isEmpty && predictions.isEmpty
    }
    public var rowCount: Int {
        frames.count + audio.count + hits.count + bms.count + gaps.count + markers.count + annotations.count + sensing.count + predictions.count
    }
    /// Payload bytes (frames and audio), for batch sizing.
    public var payloadBytes: Int {
        frames.reduce(0) { $0 + $1.payload.count } + audio.reduce(0) { $0 + $1.payload.count }
    }
    /// Latest sample time (frames, audio, hits, serial) in the batch; -1 when it holds none.
    public var maxSampleTNs: Int64 {
        max(frames.map(\.tNs).max() ?? -1, audio.map(\.tNs).max() ?? -1, hits.map(\.tNs).max() ?? -1, bms.map(\.tNs).max() ?? -1)
    }
    /// Earliest sample time in the batch, nil when it holds none.
    public var minSampleTNs: Int64? {
        [frames.map(\.tNs).min(), audio.map(\.tNs).min(), hits.map(\.tNs).min(), bms.map(\.tNs).min()].compactMap { $0 }.min()
    }
    public mutating func append(contentsOf other: WriteBatch) {
        frames += other.frames
        audio += other.audio
        hits += other.hits
        bms += other.bms
        gaps += other.gaps
        markers += other.markers
        annotations += other.annotations
        sensing += other.sensing
        predictions += other.predictions
    }
}

/// Writes one session file. Every method is one SQLite transaction through a
/// serialized `DatabaseQueue`, so the writer is safe to share; the recorder
/// nevertheless calls it from its single writer thread.
public final class SessionWriter: Sendable {
    public let path: String
    let dbQueue: DatabaseQueue
    /// Held while a new recording is written (see `SessionLock`); released by `close()`.
    let liveLock: SessionLock?
    private let closed = Mutex(false)
    /// Space set aside while recording (NAME.sqlite-reserve) so that a recording that
    /// fills the disk can still be finalized honestly; freed on disk full and on close.
    private let reserve: SpaceReserve?

    /// Creates a new session file (never overwrites one), in WAL mode with
    /// synchronous=NORMAL, migrated to the current schema, status `recording`.
    /// `reserveBytes` > 0 sets that much disk space aside beside it (NAME.sqlite-reserve)
    /// for the final commit after a disk-full error.
    public init(creating path: String, session: NewSession, softwareVersion: String, reserveBytes: Int = 0) throws {
        self.path = path
        if FileManager.default.fileExists(atPath: path) { throw SessionStoreError.alreadyExists(path: path) }
        let dir = (path as NSString).deletingLastPathComponent
        if !dir.isEmpty { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
        guard SessionFile.folderWritable(of: path) else {
            throw SessionStoreError.readOnly(path: path, detail: "cannot create the session: its folder is not writable (read-only medium or no write permission)")
        }
        do {
            dbQueue = try DatabaseQueue(path: path, configuration: SessionFile.configuration(readonly: false))
            liveLock = try SessionLock.acquire(path: path)
            reserve = reserveBytes > 0 ? SpaceReserve(path: path + "-reserve", bytes: reserveBytes) : nil
            try dbQueue.writeWithoutTransaction { db in
                // Large pages: frames are 100-600 kB blobs; fewer overflow pages per row.
                try db.execute(sql: "PRAGMA page_size = 65536")
                try db.execute(sql: "PRAGMA journal_mode = WAL")
                try SessionSchema.migrate(db)
            }
            try dbQueue.write { db in
                var row = SessionRecord(
                    uuid: session.uuid.uuidString.lowercased(), name: session.name, operator: session.operatorName,
                    cellChemistry: session.cell?.chemistry, cellCapacityAh: session.cell?.capacityAh,
                    cellFormat: session.cell?.format, cellMaker: session.cell?.maker, cellSerial: session.cell?.serial,
                    protocol: session.testProtocol, rigName: session.rigName, rigConfig: session.rigConfig,
                    softwareVersion: softwareVersion, hostName: ProcessInfo.processInfo.hostName,
                    startMonotonicNs: session.clock.startMonotonicNs, startRealtimeNs: session.clock.startRealtimeNs,
                    startUtc: ISOTime.string(realtimeNs: session.clock.startRealtimeNs), endTNs: nil,
                    status: .recording, statusDetail: "")
                row.id = 1
                try row.insert(db)
            }
        } catch {
            throw SessionStoreError.wrap(error, path: path)
        }
    }

    /// Creates a new, empty session file (schema only, no session row) in rollback-journal
    /// mode, for `trw repair --out`. Never overwrites a file.
    public init(creatingEmpty path: String) throws {
        self.path = path
        if FileManager.default.fileExists(atPath: path) { throw SessionStoreError.alreadyExists(path: path) }
        let dir = (path as NSString).deletingLastPathComponent
        if !dir.isEmpty { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
        liveLock = nil
        reserve = nil
        do {
            var config = SessionFile.configuration(readonly: false)
            config.foreignKeysEnabled = false  // rows are copied as they are, references included
            dbQueue = try DatabaseQueue(path: path, configuration: config)
            try dbQueue.writeWithoutTransaction { db in
                try db.execute(sql: "PRAGMA page_size = 65536")
                try db.execute(sql: "PRAGMA journal_mode = DELETE")
                try SessionSchema.migrate(db)
            }
        } catch {
            throw SessionStoreError.wrap(error, path: path)
        }
    }

    /// Opens an existing session to append (markers, annotations, resync, repair).
    /// `refuseLive`: fail with `liveRecording` if a recorder is writing it now (repair).
    public init(appendingTo path: String, refuseLive: Bool = false) throws {
        self.path = path
        try SessionFile.checkReadable(path: path)
        if refuseLive && SessionLock.isHeld(path: path) { throw SessionStoreError.liveRecording(path: path) }
        liveLock = nil
        reserve = nil
        dbQueue = try SessionFile.openExisting(path: path, readonly: false)
    }

    deinit {
        // Every writer path ends here at the latest: the session becomes one file again.
        _ = try? close()
    }

    /// Registers a stream and returns its id.
    public func addStream(_ descriptor: StreamDescriptor, aeDetector: AEDetectorSettings? = nil) throws -> Int64 {
        try guarded {
            try dbQueue.write { db in
                var row = StreamRecord(descriptor, aeDetector: aeDetector)
                try row.insert(db)
                return row.id!
            }
        }
    }

    /// Updates what a stream's driver reported after it started (granted values, warnings).
    public func updateStreamProperties(streamId: Int64, properties: [String: String]) throws {
        try guarded {
            try dbQueue.write { db in
                try db.execute(sql: "UPDATE stream SET properties_json = ? WHERE id = ?",
                               arguments: [JSONText.encode(properties), streamId])
            }
        }
    }

    /// Writes a batch in one transaction.
    public func write(_ batch: WriteBatch) throws {
        if batch.isEmpty { return }
        try guarded {
            try dbQueue.write { db in
                for var r in batch.frames { try r.insert(db) }
                for var r in batch.audio { try r.insert(db) }
                for var r in batch.hits { try r.insert(db) }
                for var r in batch.bms { try r.insert(db) }
                for var r in batch.gaps { try r.insert(db) }
                for var r in batch.markers { try r.insert(db) }
                for var r in batch.annotations { try r.insert(db) }
                for var r in batch.sensing { try r.insert(db) }
                for var r in batch.predictions { try r.insert(db) }
            }
        }
    }

    /// Adds an operator marker.
    @discardableResult
    public func addMarker(_ marker: MarkerRecord) throws -> Int64 {
        try guarded {
            try dbQueue.write { db in
                var m = marker
                try m.insert(db)
                return m.id!
            }
        }
    }

    /// Adds a label. If `annotation.supersedesId` is set, the named row must be current.
    @discardableResult
    public func addAnnotation(_ annotation: AnnotationRecord) throws -> Int64 {
        try guarded {
            try dbQueue.write { db in
                if let old = annotation.supersedesId {
                    let supersededAlready = try AnnotationRecord.filter { $0.supersedesId == old }.fetchCount(db)
                    guard try AnnotationRecord.fetchOne(db, key: old) != nil, supersededAlready == 0 else {
                        throw SessionStoreError.notASession(
                            path: path, reason: "annotation \(old) does not exist or was already edited; edit its latest version")
                    }
                }
                var a = annotation
                try a.insert(db)
                return a.id!
            }
        }
    }

    /// Adds a detector's score stream.
    public func addPredictions(_ rows: [PredictionRecord]) throws {
        try guarded {
            try dbQueue.write { db in
                for var r in rows { try r.insert(db) }
            }
        }
    }

    /// Stores a new current clock model for a stream; older ones stay as history.
    @discardableResult
    public func setClockModel(streamId: Int64, method: String, modelJSON: String) throws -> Int64 {
        try guarded {
            try dbQueue.write { db in
                try db.execute(sql: "UPDATE clock_model SET is_current = 0 WHERE stream_id = ?", arguments: [streamId])
                var row = ClockModelRecord(streamId: streamId, method: method, modelJson: modelJSON, createdUtc: ISOTime.now())
                try row.insert(db)
                return row.id!
            }
        }
    }

    /// Rewrites session times (resync). `updates` are (table, row id, new t_ns).
    public func updateTimes(table: String, updates: [(id: Int64, tNs: Int64)]) throws {
        precondition(["thermal_frame", "audio_chunk", "bms_sample", "ae_hit"].contains(table), "not a sample table: \(table)")
        try guarded {
            try dbQueue.write { db in
                let stmt = try db.makeStatement(sql: "UPDATE \(table) SET t_ns = ? WHERE id = ?")
                for u in updates { try stmt.execute(arguments: [u.tNs, u.id]) }
            }
        }
    }

    /// Ends the recording: status, end time and `gaps` in one transaction, then `close()` so
    /// the file is self-contained. `endTNs` replaces the stored end time (nil keeps it).
    @discardableResult
    public func finalize(status: SessionRecord.Status, endTNs: Int64?, detail: String = "", gaps: [GapRecord] = []) throws -> CloseOutcome {
        try guarded {
            try dbQueue.write { db in
                for var g in gaps { try g.insert(db) }
                try db.execute(sql: "UPDATE session SET status = ?, end_t_ns = COALESCE(?, end_t_ns), status_detail = ? WHERE id = 1",
                               arguments: [status.rawValue, endTNs, detail])
            }
        }
        return try close()
    }

    /// How `close()` left the file.
    public enum CloseOutcome: Equatable, Sendable {
        /// One self-contained file in rollback-journal mode (no -wal, no -shm).
        case selfContained
        /// Already closed earlier.
        case alreadyClosed
        /// A live recorder (another process) writes the file: left in WAL mode for it.
        case liveRecorderActive
        /// The WAL could not be merged or left (disk full, another open connection): `reason` says which.
        case walKept(reason: String)
    }

    /// The one place where every writer path ends (record, repair, resync, label, mark,
    /// predict, annotate save; also run from `deinit`): merges the WAL into the main file
    /// (`wal_checkpoint(TRUNCATE)`) and leaves WAL mode (`journal_mode=DELETE`), so that
    /// NAME.sqlite alone holds everything and opens on read-only media. Skipped while
    /// another process records the session (it still needs WAL). Releases the recorder lock last.
    /// The connection stays usable (later writes go through a rollback journal, still one file).
    @discardableResult
    public func close() throws -> CloseOutcome {
        let first = closed.withLock { c -> Bool in
            defer { c = true }
            return !c
        }
        guard first else { return .alreadyClosed }
        defer { liveLock?.release() }
        reserve?.release()
        if liveLock == nil && SessionLock.isHeld(path: path) { return .liveRecorderActive }
        var outcome = CloseOutcome.selfContained
        do {
            try dbQueue.writeWithoutTransaction { db in
                let mode = try String.fetchOne(db, sql: "PRAGMA journal_mode") ?? ""
                guard mode.lowercased() == "wal" else { return }
                // Do not wait for other connections: if one is open, the WAL stays (still consistent).
                try db.execute(sql: "PRAGMA busy_timeout = 0")
                defer { try? db.execute(sql: "PRAGMA busy_timeout = 5000") }
                let ck = try Row.fetchOne(db, sql: "PRAGMA wal_checkpoint(TRUNCATE)")
                let busy: Int = ck?[0] ?? 0
                if busy != 0 {
                    outcome = .walKept(reason: "another connection is reading the session; its write-ahead log is merged when that one closes")
                    return
                }
                let newMode = (try? String.fetchOne(db, sql: "PRAGMA journal_mode = DELETE")) ?? nil
                if newMode?.lowercased() != "delete" {
                    outcome = .walKept(reason: "another connection has the session open; it stays in WAL mode (the log is empty)")
                }
            }
        } catch {
            let wrapped = SessionStoreError.wrap(error, path: path)
            if case SessionStoreError.diskFull = wrapped {
                outcome = .walKept(reason: "disk full: the write-ahead log could not be merged; keep \((path as NSString).lastPathComponent)-wal beside the file, free space and run `trw repair` to merge it")
            } else {
                outcome = .walKept(reason: "\(wrapped)")
            }
        }
        return outcome
    }

    /// PRAGMA wal_checkpoint(TRUNCATE).
    public func checkpoint() throws {
        try guarded {
            try dbQueue.writeWithoutTransaction { db in
                try db.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)")
            }
        }
    }

    /// File size including WAL, bytes.
    public func fileBytes() -> Int64 { SessionFile.bytes(path: path) }

    /// The database's size as its last commit left it (pages in use times page size, pages still in
    /// the write-ahead log included): what the file measures once finalised. Unlike `fileBytes()`
    /// it grows steadily, without the write-ahead log's jumps up to its checkpoint size and back.
    public func dataBytes() -> Int64 {
        (try? dbQueue.read { db in
            try Int64.fetchOne(db, sql: "SELECT p.page_count * s.page_size FROM pragma_page_count() AS p, pragma_page_size() AS s")
        }) ?? fileBytes()
    }

    private func guarded<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch {
            let e = SessionStoreError.wrap(error, path: path)
            // Disk full: free the reserve now, so that finalization has room.
            if case SessionStoreError.diskFull = e { reserve?.release() }
            throw e
        }
    }
}

/// Disk space set aside in a file of its own (allocated with posix_fallocate), given
/// back when `release()` removes it. Best effort: where space cannot be reserved,
/// nothing is.
final class SpaceReserve: Sendable {
    let path: String
    private let held = Mutex(false)

    init(path: String, bytes: Int) {
        self.path = path
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return }
        var rc: Int32
        repeat { rc = posix_fallocate(fd, 0, off_t(bytes)) } while rc == EINTR
        _ = close(fd)
        if rc == 0 { held.withLock { $0 = true } } else { _ = unlink(path) }
    }

    deinit { release() }

    func release() {
        let was = held.withLock { h -> Bool in
            defer { h = false }
            return h
        }
        if was { _ = unlink(path) }
    }

    /// Removes a reserve left by a recorder that was killed (nobody holds it any more).
    static func removeStale(besides session: String) {
        _ = unlink(session + "-reserve")
    }
}
