import Foundation
import GRDB
import TRWCodec
import TRWCore

/// What `trw repair` found and did.
public struct RepairReport: Sendable {
    public struct StreamEnd: Sendable {
        public var key: String
        public var rows: Int
        public var lastTNs: Int64?
        /// Thermal only: frames missing inside the committed range (sequence holes not already recorded as gaps).
        public var sequenceHoles: Int64
    }
    public var path: String
    public var previousStatus: SessionRecord.Status
    public var newStatus: SessionRecord.Status
    public var integrity: String
    public var streams: [StreamEnd]
    /// Last committed session time over all streams.
    public var lastTNs: Int64?
    /// Whether anything was changed.
    public var changed: Bool
    /// Payloads that fail their checksum or do not decode (repair in place does not
    /// change them; `salvage` copies the good rows to a new file).
    public var damaged: [DamagedPayload] = []
    /// Whether the session is now one file (see `SessionWriter.close()`).
    public var closeOutcome: SessionWriter.CloseOutcome = .selfContained
}

public enum SessionRepair {
    /// Marks a session whose recorder died (status `recording`) as `recovered`:
    /// replays the WAL (SQLite does on open), checks integrity, reports each
    /// stream's last committed time, records the unclean end as a gap, and
    /// checkpoints. A session that is complete/aborted is only checked.
    /// Refuses (`liveRecording`) a session a live recorder holds. Reports damaged payloads
    /// (see `salvage` to copy the good rows into a new file). Ends with the file self-contained.
    public static func repair(path: String) throws -> RepairReport {
        let writer = try SessionWriter(appendingTo: path, refuseLive: true)
        defer { _ = try? writer.close() }
        SpaceReserve.removeStale(besides: path)
        do {
            var report = try writer.dbQueue.write { db in
                let integrity = try String.fetchAll(db, sql: "PRAGMA integrity_check").joined(separator: "; ")
                guard let s = try SessionRecord.fetchOne(db, key: 1) else {
                    throw SessionStoreError.notASession(path: path, reason: "it has no session row")
                }
                var ends: [RepairReport.StreamEnd] = []
                for st in try StreamRecord.order(\.id).fetchAll(db) {
                    let table: String = switch st.kind {
                    case "thermal": "thermal_frame"
                    case "ae": "audio_chunk"
                    default: "bms_sample"
                    }
                    let row = try Row.fetchOne(db, sql: "SELECT COUNT(*), MAX(t_ns) FROM \(table) WHERE stream_id = ?",
                                               arguments: [st.id!])!
                    var holes: Int64 = 0
                    if st.kind == "thermal" {
                        let span = try Row.fetchOne(db, sql: "SELECT MIN(sequence), MAX(sequence), COUNT(*) FROM thermal_frame WHERE stream_id = ?",
                                                    arguments: [st.id!])!
                        if let lo: Int64 = span[0], let hi: Int64 = span[1] {
                            let n: Int64 = span[2]
                            let recorded = try Int64.fetchOne(db, sql: "SELECT COALESCE(SUM(lost_count),0) FROM gap WHERE stream_id = ? AND kind IN ('frame_drop','queue_overflow')",
                                                              arguments: [st.id!]) ?? 0
                            holes = max(0, (hi - lo + 1) - n - recorded)
                        }
                    }
                    ends.append(.init(key: st.key, rows: row[0], lastTNs: row[1], sequenceHoles: holes))
                }
                let last = ends.compactMap(\.lastTNs).max()
                var changed = false
                var newStatus = s.status
                if s.status == .recording {
                    newStatus = .recovered
                    let detail = "recorder ended without finalizing (killed or power loss); data kept up to its last commit"
                        + (last.map { String(format: " at t = %.3f s", Double($0) / 1e9) } ?? "")
                    try db.execute(sql: "UPDATE session SET status = 'recovered', end_t_ns = ?, status_detail = ? WHERE id = 1",
                                   arguments: [last, detail])
                    var g = GapRecord(streamId: nil, kind: "recorder_loss", startTNs: last ?? 0, endTNs: nil, lostCount: 0,
                                      detail: "unclean end of recording: anything after the last commit (at most the last commit interval) was not written")
                    try g.insert(db)
                    changed = true
                }
                return RepairReport(path: path, previousStatus: s.status, newStatus: newStatus, integrity: integrity,
                                    streams: ends, lastTNs: last, changed: changed)
            }
            report.closeOutcome = try writer.close()
            report.damaged = try SessionVerifier.verify(path: path).damagedPayloads
            return report
        } catch {
            throw SessionStoreError.wrap(error, path: path)
        }
    }
}

/// What `trw repair --out` copied.
public struct SalvageReport: Sendable {
    public struct TableCopy: Sendable {
        public var table: String
        public var copied: Int
        /// Rows SQLite could not read (damaged b-tree pages).
        public var unreadable: Int
    }
    public var source: String
    public var destination: String
    public var integrity: [String]
    public var tables: [TableCopy]
    /// Frames and chunks left out because their payload is damaged (each a `damaged_payload` gap in the new file).
    public var damaged: [DamagedPayload]
    public var previousStatus: SessionRecord.Status?
    public var newStatus: SessionRecord.Status?
    public var copiedRows: Int { tables.reduce(0) { $0 + $1.copied } }
    public var unreadableRows: Int { tables.reduce(0) { $0 + $1.unreadable } }
}

extension SessionRepair {
    /// Tables copied first (rows of later tables refer to them).
    static let tableOrder = ["session", "stream", "clock_model", "thermal_frame", "audio_chunk", "ae_hit", "bms_sample",
                             "gap", "marker", "annotation", "prediction", "sensing_event"]

    /// Copies every readable row of `path` into a NEW session file `out` (never
    /// overwritten), leaving the original untouched: frames and audio chunks whose
    /// payload is damaged are left out and recorded as `damaged_payload` gaps, rows
    /// SQLite cannot read are counted as an `unreadable_rows` gap per table. A session
    /// whose recorder was killed (status `recording`) is marked `recovered` in the copy,
    /// as `repair` does. Refuses a session a live recorder holds.
    public static func salvage(path: String, to out: String) throws -> SalvageReport {
        try SessionFile.checkReadable(path: path)
        if SessionLock.isHeld(path: path) { throw SessionStoreError.liveRecording(path: path) }
        if FileManager.default.fileExists(atPath: out) { throw SessionStoreError.alreadyExists(path: out) }
        if (try? FileManager.default.destinationOfSymbolicLink(atPath: out)) != nil { throw SessionStoreError.alreadyExists(path: out) }
        let src = try SessionReader(path: path)
        let dst = try SessionWriter(creatingEmpty: out)
        var ok = false
        defer {
            _ = try? dst.close()
            if !ok { try? FileManager.default.removeItem(atPath: out) }
        }
        let fdec = try FrameDecoder(), pdec = try PCMDecoder()
        var damaged: [DamagedPayload] = []
        var tables: [SalvageReport.TableCopy] = []
        let integrity = (try? src.read { try String.fetchAll($0, sql: "PRAGMA integrity_check") }) ?? ["integrity_check could not run"]
        let streams = Dictionary((try? src.streams())?.map { ($0.id!, $0) } ?? [], uniquingKeysWith: { a, _ in a })
        let srcTables = try src.read { db in
            try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
        }
        let order = tableOrder.filter(srcTables.contains) + srcTables.filter { !tableOrder.contains($0) }.sorted()
        var previous: SessionRecord.Status?
        do {
            for table in order {
                let dstCols = try dst.dbQueue.read { db in try db.columns(in: table).map(\.name) }
                if dstCols.isEmpty { continue }  // a table this trw does not know: not copied
                let srcCols = try src.read { db in try db.columns(in: table).map(\.name) }
                let cols = srcCols.filter(dstCols.contains)
                let maxId = (try? src.read { try Int64.fetchOne($0, sql: "SELECT MAX(rowid) FROM \(table)") } ?? 0) ?? 0
                let minId = (try? src.read { try Int64.fetchOne($0, sql: "SELECT MIN(rowid) FROM \(table)") } ?? 1) ?? 1
                var copy = SalvageReport.TableCopy(table: table, copied: 0, unreadable: 0)
                let select = "SELECT rowid AS _rowid_salvage, \(cols.map { "\"\($0)\"" }.joined(separator: ", ")) FROM \(table) WHERE rowid BETWEEN ? AND ? ORDER BY rowid"
                let insert = "INSERT INTO \(table) (\(cols.map { "\"\($0)\"" }.joined(separator: ", "))) VALUES (\(cols.map { _ in "?" }.joined(separator: ", ")))"
                var lo = minId
                let step: Int64 = 256
                while lo <= maxId {
                    let hi = min(maxId, lo + step - 1)
                    var rows: [Row] = []
                    if let all = try? src.read({ try Row.fetchAll($0, sql: select, arguments: [lo, hi]) }) {
                        rows = all
                    } else {
                        // A damaged page: read the range row by row; what cannot be read is counted.
                        for id in lo...hi {
                            // Inside a range that failed, a row id that returns nothing is counted too:
                            // the damaged page may have hidden it (rows are never deleted from these tables).
                            do {
                                if let r = try src.read({ try Row.fetchOne($0, sql: select, arguments: [id, id]) }) {
                                    rows.append(r)
                                } else {
                                    copy.unreadable += 1
                                }
                            } catch {
                                copy.unreadable += 1
                            }
                        }
                    }
                    var batch: [[DatabaseValue]] = []
                    for r in rows {
                        if table == "thermal_frame" || table == "audio_chunk",
                           let d = payloadDamage(r, table: table, streams: streams, reader: src, fdec: fdec, pdec: pdec) {
                            damaged.append(d)
                            continue
                        }
                        if table == "session" { previous = SessionRecord.Status(rawValue: r["status"] ?? "") }
                        batch.append(cols.map { r[$0] as DatabaseValue })
                    }
                    try dst.dbQueue.write { db in
                        let st = try db.makeStatement(sql: insert)
                        for values in batch { try st.execute(arguments: StatementArguments(values)) }
                    }
                    copy.copied += batch.count
                    lo = hi + 1
                }
                tables.append(copy)
            }
            var newStatus = previous
            try dst.dbQueue.write { db in
                for d in damaged { var g = d.gap; try g.insert(db) }
                for t in tables where t.unreadable > 0 {
                    var g = GapRecord(streamId: nil, kind: "unreadable_rows", startTNs: 0, endTNs: nil, lostCount: Int64(t.unreadable),
                                      detail: "trw repair --out: \(t.unreadable) rows of \(t.table) could not be read from \(path)")
                    try g.insert(db)
                }
                if previous == .recording {
                    let last = try Int64.fetchOne(db, sql: """
                        SELECT MAX(m) FROM (SELECT MAX(t_ns) AS m FROM thermal_frame UNION ALL SELECT MAX(t_ns) FROM audio_chunk
                                            UNION ALL SELECT MAX(t_ns) FROM bms_sample)
                        """)
                    try db.execute(sql: "UPDATE session SET status = 'recovered', end_t_ns = ?, status_detail = ? WHERE id = 1",
                                   arguments: [last, "recorder ended without finalizing; salvaged by trw repair --out from \(path)"])
                    var g = GapRecord(streamId: nil, kind: "recorder_loss", startTNs: last ?? 0, endTNs: nil, lostCount: 0,
                                      detail: "unclean end of recording: anything after the last commit was not written")
                    try g.insert(db)
                    newStatus = .recovered
                } else if !damaged.isEmpty || tables.contains(where: { $0.unreadable > 0 }) {
                    try db.execute(sql: "UPDATE session SET status_detail = status_detail || ? WHERE id = 1",
                                   arguments: [(previous == nil ? "" : "; ") + "salvaged by trw repair --out from \(path): \(damaged.count) damaged payloads and \(tables.reduce(0) { $0 + $1.unreadable }) unreadable rows left out (see gaps)"])
                }
            }
            ok = true
            return SalvageReport(source: path, destination: out, integrity: integrity, tables: tables, damaged: damaged,
                                 previousStatus: previous, newStatus: newStatus)
        } catch {
            throw SessionStoreError.wrap(error, path: out)
        }
    }

    static func payloadDamage(_ r: Row, table: String, streams: [Int64: StreamRecord], reader: SessionReader,
                              fdec: FrameDecoder, pdec: PCMDecoder) -> DamagedPayload? {
        let streamId: Int64 = r["stream_id"] ?? -1
        let rowId: Int64 = r["_rowid_salvage"]
        let tNs: Int64 = r["t_ns"] ?? 0
        let codec: String = r["codec"] ?? ""
        let payload: [UInt8] = (r["payload"] as Data?).map { [UInt8]($0) } ?? []
        let st = streams[streamId]
        do {
            if table == "thermal_frame" {
                _ = try fdec.decode(payload, codec: codec, width: st?.width ?? 0, height: st?.height ?? 0)
            } else {
                _ = try pdec.decode(payload, codec: codec, channels: st?.channels ?? 1, frameCount: r["frame_count"] ?? 0)
            }
            return nil
        } catch {
            let n: Int = r["frame_count"] ?? 1
            return reader.damage(error, streamKey: st?.key ?? "stream \(streamId)", streamId: streamId, table: table, rowId: rowId,
                                 tNs: tNs, lost: table == "thermal_frame" ? 1 : Int64(max(1, n)))
        }
    }
}
