import Foundation
import GRDB
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
}

public enum SessionRepair {
    /// Marks a session whose recorder died (status `recording`) as `recovered`:
    /// replays the WAL (SQLite does on open), checks integrity, reports each
    /// stream's last committed time, records the unclean end as a gap, and
    /// checkpoints. A session that is complete/aborted is only checked.
    public static func repair(path: String) throws -> RepairReport {
        let writer = try SessionWriter(appendingTo: path)
        do {
            return try writer.dbQueue.write { db in
                let integrity = try String.fetchAll(db, sql: "PRAGMA integrity_check").joined(separator: "; ")
                guard let s = try SessionRecord.fetchOne(db, key: 1) else {
                    throw SessionStoreError.notASession(path: path, reason: "it has no session row")
                }
                var ends: [RepairReport.StreamEnd] = []
                for st in try StreamRecord.order(Column("id")).fetchAll(db) {
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
        } catch {
            throw SessionStoreError.wrap(error, path: path)
        }
    }
}
