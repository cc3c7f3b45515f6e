import Foundation
import TRWCodec

/// A stored frame or PCM payload that cannot be used: its checksum does not match
/// (bytes changed after writing) or it does not decode. Names the file, stream,
/// row and session time, so a person can find it; readers skip such rows and
/// count them (a `damaged_payload` gap in their report), never use their values.
public struct DamagedPayload: Error, Sendable, Equatable, CustomStringConvertible {
    public var path: String
    public var streamKey: String
    public var streamId: Int64
    /// "thermal_frame" or "audio_chunk".
    public var table: String
    public var rowId: Int64
    public var tNs: Int64
    /// Frames: 1; audio chunks: the chunk's frame count.
    public var lostCount: Int64
    public var reason: String
    /// Whether the checksum proved the damage (false: the payload did not decode).
    public var checksumMismatch: Bool

    /// The gap kind readers and `trw repair` use for a damaged payload.
    public static let gapKind = "damaged_payload"

    public var description: String {
        "\(path): stream \(streamKey), \(table) row \(rowId) at t = \(String(format: "%.3f", Double(tNs) / 1e9)) s: \(reason)"
    }

    /// As a `gap` row (for `trw repair` and reports).
    public var gap: GapRecord {
        GapRecord(streamId: streamId, kind: Self.gapKind, startTNs: tNs, endTNs: tNs, lostCount: lostCount,
                  detail: "\(table) row \(rowId): \(reason)")
    }
}

/// Damaged payloads a reader skipped, for its report.
public struct DamageTally: Sendable, Equatable {
    public private(set) var items: [DamagedPayload] = []
    private var seen: Set<String> = []
    public init() {}
    public var count: Int { items.count }
    public var isEmpty: Bool { items.isEmpty }
    /// Records a damaged row once (a row met again, e.g. the nearest frame of two ticks, is not counted twice).
    public mutating func record(_ d: DamagedPayload) {
        if seen.insert("\(d.path)|\(d.table)|\(d.rowId)").inserted { items.append(d) }
    }
    public mutating func merge(_ other: DamageTally) { for d in other.items { record(d) } }
    /// One line for a command's output: "2 damaged payloads skipped (counted as gaps): first ..."
    public var summary: String {
        guard let first = items.first else { return "no damaged payloads" }
        let frames = items.filter { $0.table == "thermal_frame" }.count
        let chunks = items.count - frames
        var parts: [String] = []
        if frames > 0 { parts.append("\(frames) thermal frame\(frames == 1 ? "" : "s")") }
        if chunks > 0 { parts.append("\(chunks) audio chunk\(chunks == 1 ? "" : "s")") }
        return "skipped \(parts.joined(separator: " and ")) with damaged payloads (counted as \(DamagedPayload.gapKind) gaps); first: \(first)"
    }
}

extension SessionReader {
    /// Decodes a frame row of `stream`, verifying its checksum. Throws `DamagedPayload`
    /// naming the file, stream, row and time when the payload is damaged.
    public func pixels(of rec: ThermalFrameRecord, stream: StreamRecord, decoder: FrameDecoder) throws(DamagedPayload) -> [UInt16] {
        do {
            return try decoder.decode([UInt8](rec.payload), codec: rec.codec, width: stream.width ?? 0, height: stream.height ?? 0)
        } catch {
            throw damage(error, stream: stream, table: "thermal_frame", rowId: rec.id ?? -1, tNs: rec.tNs, lost: 1)
        }
    }

    /// Decodes an audio chunk of `stream` to interleaved samples, verifying its checksum.
    public func samples(of c: AudioChunkRecord, stream: StreamRecord, decoder: PCMDecoder) throws(DamagedPayload) -> [Int32] {
        do {
            return try decoder.decode([UInt8](c.payload), codec: c.codec, channels: stream.channels ?? 1, frameCount: c.frameCount)
        } catch {
            throw damage(error, stream: stream, table: "audio_chunk", rowId: c.id ?? -1, tNs: c.tNs, lost: Int64(max(1, c.frameCount)))
        }
    }

    func damage(_ error: CodecError, stream: StreamRecord, table: String, rowId: Int64, tNs: Int64, lost: Int64) -> DamagedPayload {
        damage(error, streamKey: stream.key, streamId: stream.id ?? -1, table: table, rowId: rowId, tNs: tNs, lost: lost)
    }

    func damage(_ error: CodecError, streamKey: String, streamId: Int64, table: String, rowId: Int64, tNs: Int64, lost: Int64) -> DamagedPayload {
        var mismatch = false
        if case .checksumMismatch = error { mismatch = true }
        return DamagedPayload(path: path, streamKey: streamKey, streamId: streamId, table: table, rowId: rowId,
                              tNs: tNs, lostCount: lost, reason: error.description, checksumMismatch: mismatch)
    }
}
