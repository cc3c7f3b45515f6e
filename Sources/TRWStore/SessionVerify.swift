import Foundation
import GRDB
import TRWCodec

/// What `trw verify` found. `isDamaged` is true when the SQLite structure is not
/// intact, a payload fails its checksum or does not decode, or samples are missing
/// inside a stream without a `gap` row that accounts for them.
public struct VerifyReport: Sendable {
    public struct StreamCheck: Sendable {
        public var key: String
        public var kind: String
        public var rows: Int = 0
        /// Payloads whose checksum was verified (checksummed codecs).
        public var checksummed: Int = 0
        /// Payloads of older codecs without a checksum: verified by a full decode only.
        public var unchecksummed: Int = 0
        public var damaged: [DamagedPayload] = []
        /// Discontinuities: frame sequence or audio sample-index jumps forward.
        public var discontinuities: Int = 0
        /// Frames or sample frames missing inside the recorded range.
        public var missing: Int64 = 0
        /// Rows whose sequence / sample index repeats or goes backwards.
        public var overlaps: Int = 0
        /// What the stream's `gap` rows account for (frames or sample frames lost).
        public var recordedLost: Int64 = 0
        public var gapEvents: Int = 0
        /// SQLite errors met while reading the stream's rows (damaged b-tree pages): rows after them were not checked.
        public var readErrors: [String] = []
        /// Missing frames/samples no gap row accounts for.
        public var unexplained: Int64 { max(0, missing - recordedLost) }
    }
    public var path: String
    public var integrity: [String]
    public var status: SessionRecord.Status?
    public var statusDetail: String = ""
    public var endTNs: Int64?
    public var liveRecorder: Bool
    public var journalMode: String
    public var walBytes: Int64
    public var streams: [StreamCheck]
    public var problems: [String] {
        var p: [String] = []
        if integrity != ["ok"] { p.append("SQLite integrity_check: " + integrity.prefix(5).joined(separator: "; ")) }
        for s in streams {
            if !s.damaged.isEmpty { p.append("\(s.key): \(s.damaged.count) damaged payload(s); first: \(s.damaged[0])") }
            if s.unexplained > 0 {
                p.append("\(s.key): \(s.unexplained) \(s.kind == "thermal" ? "frames" : "sample frames") missing in \(s.discontinuities) discontinuities without a gap row")
            }
            if s.overlaps > 0 { p.append("\(s.key): \(s.overlaps) rows repeat or go back in sequence") }
            for e in s.readErrors { p.append("\(s.key): rows could not be read: \(e)") }
        }
        return p
    }
    public var isDamaged: Bool { !problems.isEmpty }
    public var damagedPayloads: [DamagedPayload] { streams.flatMap(\.damaged) }
}

public enum SessionVerifier {
    /// Checks a session without changing it: SQLite structure, every payload's checksum
    /// (and a full decode of payloads without one), frame sequence and audio sample-index
    /// continuity against the recorded gaps, and the status. Opens read-only.
    /// `fullDecode`: also decode checksummed payloads (slower; catches an encoder fault
    /// that happened before the checksum was computed). Payloads without a checksum are always decoded.
    public static func verify(path: String, fullDecode: Bool = false, progress: ((String) -> Void)? = nil) throws -> VerifyReport {
        let live = SessionLock.isHeld(path: path)
        let reader = try SessionReader(path: path)
        let walBytes = (try? FileManager.default.attributesOfItem(atPath: path + "-wal")[.size] as? NSNumber)?.int64Value ?? 0
        // Each part in its own read: an SQLite error (damaged page) fails that read only.
        let integrity = (try? reader.read { try String.fetchAll($0, sql: "PRAGMA integrity_check") }) ?? ["integrity_check could not run"]
        let mode = (try? reader.read { try String.fetchOne($0, sql: "PRAGMA journal_mode") }) ?? nil
        let session = (try? reader.read { try SessionRecord.fetchOne($0, key: 1) }) ?? nil
        let streams = (try? reader.read { try StreamRecord.order(\.id).fetchAll($0) }) ?? []
        var checks: [VerifyReport.StreamCheck] = []
        let fdec = try FrameDecoder(), pdec = try PCMDecoder()
        for st in streams {
            progress?(st.key)
            var c = VerifyReport.StreamCheck(key: st.key, kind: st.kind)
            let id = st.id!
            do {
              try reader.read { db in
                if let g = try? Row.fetchOne(db, sql: "SELECT COUNT(*), COALESCE(SUM(lost_count), 0) FROM gap WHERE stream_id = ?",
                                             arguments: [id]) {
                    c.gapEvents = g[0]
                    c.recordedLost = g[1]
                }
                do {
                switch st.kind {
                case "thermal":
                    // Continuity from the sequence numbers alone (a sort of integers, never of payloads).
                    var prev: Int64?
                    let seqs = try Int64.fetchCursor(db, sql: "SELECT sequence FROM thermal_frame WHERE stream_id = ? ORDER BY sequence",
                                                     arguments: [id])
                    while let seq = try seqs.next() {
                        if let p = prev {
                            if seq <= p { c.overlaps += 1 } else if seq > p + 1 { c.discontinuities += 1; c.missing += seq - p - 1 }
                        }
                        prev = max(prev ?? seq, seq)
                    }
                    // Payloads in storage order (streamed, bounded memory).
                    let rows = try Row.fetchCursor(db, sql: "SELECT id, t_ns, codec, payload FROM thermal_frame NOT INDEXED WHERE stream_id = ? ORDER BY id",
                                                   arguments: [id])
                    while let r = try rows.next() {
                        c.rows += 1
                        let rowId: Int64 = r[0], t: Int64 = r[1], codec: String = r[2]
                        let payload: [UInt8] = (r[3] as Data?).map { [UInt8]($0) } ?? []
                        check(&c, reader: reader, st: st, table: "thermal_frame", rowId: rowId, tNs: t, codec: codec, payload: payload,
                              fullDecode: fullDecode, lost: 1) { () throws(CodecError) in
                            _ = try fdec.decode(payload, codec: codec, width: st.width ?? 0, height: st.height ?? 0)
                        }
                    }
                case "ae":
                    var next: Int64?
                    let spans = try Row.fetchCursor(db, sql: "SELECT first_sample_index, frame_count FROM audio_chunk WHERE stream_id = ? ORDER BY first_sample_index",
                                                    arguments: [id])
                    while let r = try spans.next() {
                        let first: Int64 = r[0], n: Int64 = r[1]
                        if let e = next {
                            if first < e { c.overlaps += 1 } else if first > e { c.discontinuities += 1; c.missing += first - e }
                        }
                        next = max(next ?? 0, first + n)
                    }
                    let rows = try Row.fetchCursor(db, sql: "SELECT id, frame_count, t_ns, codec, payload FROM audio_chunk NOT INDEXED WHERE stream_id = ? ORDER BY id",
                                                   arguments: [id])
                    while let r = try rows.next() {
                        c.rows += 1
                        let rowId: Int64 = r[0], n: Int = r[1], t: Int64 = r[2], codec: String = r[3]
                        let payload: [UInt8] = (r[4] as Data?).map { [UInt8]($0) } ?? []
                        check(&c, reader: reader, st: st, table: "audio_chunk", rowId: rowId, tNs: t, codec: codec, payload: payload,
                              fullDecode: fullDecode, lost: Int64(max(1, n))) { () throws(CodecError) in
                            _ = try pdec.decode(payload, codec: codec, channels: st.channels ?? 1, frameCount: n)
                        }
                    }
                default:
                    c.rows = (try? Int.fetchOne(db, sql: "SELECT COUNT(*) FROM bms_sample WHERE stream_id = ?", arguments: [id])) ?? 0
                    // Serial lines carry no sequence number: their losses are the parse-error and timeout gaps.
                }
                } catch {
                    c.readErrors.append("\(SessionStoreError.wrap(error, path: path))")
                }
              }
            } catch {
                if c.readErrors.isEmpty { c.readErrors.append("\(error)") }
            }
            checks.append(c)
        }
        return VerifyReport(path: path, integrity: integrity, status: session?.status, statusDetail: session?.statusDetail ?? "",
                            endTNs: session?.endTNs, liveRecorder: live, journalMode: mode ?? "?", walBytes: walBytes, streams: checks)
    }

    /// Checksum first (cheap, and proves damage); a full decode for payloads without one.
    private static func check(_ c: inout VerifyReport.StreamCheck, reader: SessionReader, st: StreamRecord, table: String,
                              rowId: Int64, tNs: Int64, codec: String, payload: [UInt8], fullDecode: Bool, lost: Int64,
                              decode: () throws(CodecError) -> Void) {
        do {
            // The decoders verify the checksum before decoding.
            let hasChecksum = try PayloadChecksum.verify(payload, storedCodec: codec)
            if !hasChecksum || fullDecode { try decode() }
            if hasChecksum { c.checksummed += 1 } else { c.unchecksummed += 1 }
        } catch {
            c.damaged.append(reader.damage(error, stream: st, table: table, rowId: rowId, tNs: tNs, lost: lost))
        }
    }
}
