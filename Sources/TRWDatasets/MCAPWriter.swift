import CZlib
import CZstd
import Foundation

/// A writer of MCAP files (https://mcap.dev/spec, major version 0), written from the
/// specification: magic, header, data section of schema and channel records followed by
/// uncompressed chunks (each with its message indexes), data end, summary section (schemas,
/// channels, statistics, chunk indexes), summary offsets, footer, magic. Every CRC is filled.
/// Little-endian integers; strings and byte arrays u32-length-prefixed.
public final class MCAPWriter {
    public enum Failure: Error, CustomStringConvertible {
        case write(String, String)
        case state(String)
        public var description: String {
            switch self {
            case .write(let p, let m): "cannot write \(p): \(m)"
            case .state(let m): "MCAP writer: \(m)"
            }
        }
    }

    static let magic: [UInt8] = [0x89, 0x4D, 0x43, 0x41, 0x50, 0x30, 0x0D, 0x0A]
    enum Op: UInt8 {
        case header = 0x01, footer = 0x02, schema = 0x03, channel = 0x04, message = 0x05, chunk = 0x06
        case messageIndex = 0x07, chunkIndex = 0x08, statistics = 0x0B, metadata = 0x0C, metadataIndex = 0x0D
        case summaryOffset = 0x0E, dataEnd = 0x0F
    }

    let path: String
    let out: FileHandle
    /// Bytes written so far (the file offset of the next record).
    private(set) var offset: UInt64 = 0
    private var dataCRC = UInt32(0)
    private var schemas: [[UInt8]] = []
    private var channels: [[UInt8]] = []
    private var chunkIndexes: [[UInt8]] = []
    private var metadataIndexes: [[UInt8]] = []
    private var channelCounts: [UInt16: UInt64] = [:]
    private var messageCount: UInt64 = 0
    private var firstTime = UInt64.max, lastTime = UInt64(0)
    private var sequence: [UInt16: UInt32] = [:]
    // The open chunk.
    private var chunk: [UInt8] = []
    private var chunkIndex: [UInt16: [(UInt64, UInt64)]] = [:]
    private var chunkStart = UInt64.max, chunkEnd = UInt64(0)
    /// A chunk is closed when its records pass this size.
    public var chunkBytes = 4 << 20
    /// Chunk compression: "zstd" (level 3; every MCAP reader has it) or "" (none).
    public var compression = "zstd"
    private var finished = false

    public init(path: String, profile: String = "", library: String) throws {
        self.path = path
        guard FileManager.default.createFile(atPath: path, contents: nil), let h = FileHandle(forWritingAtPath: path) else {
            throw Failure.write(path, "cannot create the file")
        }
        out = h
        try emit(Self.magic, data: true)
        var r = Record(.header)
        r.string(profile); r.string(library)
        try emit(r.bytes, data: true)
    }

    deinit { try? out.close() }

    /// Registers a schema (written at once in the data section and again in the summary).
    public func schema(name: String, encoding: String, data: [UInt8]) throws -> UInt16 {
        let id = UInt16(schemas.count + 1)
        var r = Record(.schema)
        r.u16(id); r.string(name); r.string(encoding); r.bytes32(data)
        schemas.append(r.bytes)
        try emit(r.bytes, data: true)
        return id
    }

    public func channel(topic: String, schema: UInt16, messageEncoding: String, metadata: [String: String] = [:]) throws -> UInt16 {
        let id = UInt16(channels.count)
        var r = Record(.channel)
        r.u16(id); r.u16(schema); r.string(topic); r.string(messageEncoding); r.map(metadata)
        channels.append(r.bytes)
        try emit(r.bytes, data: true)
        return id
    }

    /// A metadata record (data section) with its index (summary).
    public func metadata(name: String, _ values: [String: String]) throws {
        try closeChunk()
        var r = Record(.metadata)
        r.string(name); r.map(values)
        var idx = Record(.metadataIndex)
        idx.u64(offset); idx.u64(UInt64(r.bytes.count)); idx.string(name)
        metadataIndexes.append(idx.bytes)
        try emit(r.bytes, data: true)
    }

    /// Appends a message (`logTime`: ns) to the open chunk.
    public func message(channel: UInt16, logTime: UInt64, publishTime: UInt64? = nil, data: [UInt8]) throws {
        guard !finished else { throw Failure.state("message after finish") }
        guard Int(channel) < channels.count else { throw Failure.state("message on unknown channel \(channel)") }
        let seq = sequence[channel, default: 0]
        sequence[channel] = seq &+ 1
        chunkIndex[channel, default: []].append((logTime, UInt64(chunk.count)))
        var r = Record(.message, reserve: 22 + data.count)
        r.u16(channel); r.u32(seq); r.u64(logTime); r.u64(publishTime ?? logTime); r.raw(data)
        chunk += r.bytes
        chunkStart = min(chunkStart, logTime); chunkEnd = max(chunkEnd, logTime)
        firstTime = min(firstTime, logTime); lastTime = max(lastTime, logTime)
        messageCount += 1
        channelCounts[channel, default: 0] += 1
        if chunk.count >= chunkBytes { try closeChunk() }
    }

    private func closeChunk() throws {
        guard !chunk.isEmpty else { return }
        let crc = Self.crc(chunk, 0)
        var stored = chunk
        if compression == "zstd" { stored = try Self.zstd(chunk, path: path) }
        var r = Record(.chunk, reserve: 40 + stored.count)
        r.u64(chunkStart); r.u64(chunkEnd); r.u64(UInt64(chunk.count)); r.u32(crc); r.string(compression)
        r.u64(UInt64(stored.count)); r.raw(stored)
        let chunkOffset = offset
        try emit(r.bytes, data: true)
        let chunkLength = offset - chunkOffset
        var indexOffsets: [(UInt16, UInt64)] = []
        let indexStart = offset
        for ch in chunkIndex.keys.sorted() {
            var m = Record(.messageIndex)
            m.u16(ch)
            let entries = chunkIndex[ch]!
            m.u32(UInt32(entries.count * 16))
            for (t, o) in entries { m.u64(t); m.u64(o) }
            indexOffsets.append((ch, offset))
            try emit(m.bytes, data: true)
        }
        var ci = Record(.chunkIndex)
        ci.u64(chunkStart); ci.u64(chunkEnd); ci.u64(chunkOffset); ci.u64(chunkLength)
        ci.u32(UInt32(indexOffsets.count * 10))
        for (ch, o) in indexOffsets { ci.u16(ch); ci.u64(o) }
        ci.u64(offset - indexStart); ci.string(compression); ci.u64(UInt64(stored.count)); ci.u64(UInt64(chunk.count))
        chunkIndexes.append(ci.bytes)
        chunk.removeAll(keepingCapacity: true)
        chunkIndex = [:]
        chunkStart = .max; chunkEnd = 0
    }

    /// Closes the last chunk, writes data end, the summary, its offsets, the footer and the magic.
    public func finish() throws {
        guard !finished else { return }
        try closeChunk()
        var de = Record(.dataEnd)
        de.u32(dataCRC)
        try emit(de.bytes, data: false)
        finished = true
        let summaryStart = offset
        var summary: [UInt8] = []
        var groups: [(Op, UInt64, UInt64)] = []
        func group(_ op: Op, _ records: [[UInt8]]) {
            guard !records.isEmpty else { return }
            let start = summaryStart + UInt64(summary.count)
            for r in records { summary += r }
            groups.append((op, start, summaryStart + UInt64(summary.count) - start))
        }
        group(.schema, schemas)
        group(.channel, channels)
        var st = Record(.statistics)
        st.u64(messageCount); st.u16(UInt16(schemas.count)); st.u32(UInt32(channels.count)); st.u32(0)
        st.u32(UInt32(metadataIndexes.count)); st.u32(UInt32(chunkIndexes.count))
        st.u64(messageCount == 0 ? 0 : firstTime); st.u64(lastTime)
        st.u32(UInt32(channelCounts.count * 10))
        for ch in channelCounts.keys.sorted() { st.u16(ch); st.u64(channelCounts[ch]!) }
        group(.statistics, [st.bytes])
        group(.chunkIndex, chunkIndexes)
        group(.metadataIndex, metadataIndexes)
        let summaryOffsetStart = summaryStart + UInt64(summary.count)
        for (op, start, length) in groups {
            var so = Record(.summaryOffset)
            so.u8(op.rawValue); so.u64(start); so.u64(length)
            summary += so.bytes
        }
        // Footer: the summary CRC covers the summary, the offsets and the footer up to its CRC field.
        var footerHead: [UInt8] = [Op.footer.rawValue]
        footerHead += le(UInt64(8 + 8 + 4))
        footerHead += le(summaryStart)
        footerHead += le(summaryOffsetStart)
        let crc = Self.crc(footerHead, Self.crc(summary, 0))
        try emit(summary, data: false)
        try emit(footerHead + le(crc), data: false)
        try emit(Self.magic, data: false)
        try out.synchronize()
        try out.close()
    }

    private func emit(_ bytes: [UInt8], data: Bool) throws {
        do { try out.write(contentsOf: Data(bytes)) } catch { throw Failure.write(path, "\(error)") }
        if data { dataCRC = Self.crc(bytes, dataCRC) }
        offset += UInt64(bytes.count)
    }

    /// One zstd frame (level 3) holding `src`.
    static func zstd(_ src: [UInt8], path: String) throws -> [UInt8] {
        var dst = [UInt8](repeating: 0, count: ZSTD_compressBound(src.count))
        let n = src.withUnsafeBytes { s in
            dst.withUnsafeMutableBytes { d in ZSTD_compress(d.baseAddress, d.count, s.baseAddress, s.count, 3) }
        }
        if ZSTD_isError(n) != 0 { throw Failure.write(path, "zstd: " + String(cString: ZSTD_getErrorName(n))) }
        return Array(dst.prefix(n))
    }

    static func crc(_ bytes: [UInt8], _ running: UInt32) -> UInt32 {
        bytes.withUnsafeBufferPointer { b in
            guard !b.isEmpty else { return running }
            var c = uLong(running)
            var p = b.baseAddress!, n = b.count
            while n > 0 {
                let k = min(n, Int(UInt32.max >> 1))
                c = crc32(c, p, uInt(k))
                p += k; n -= k
            }
            return UInt32(truncatingIfNeeded: c)
        }
    }

    /// One record being built: opcode, u64 length (patched), content.
    struct Record {
        var bytes: [UInt8]
        init(_ op: Op, reserve: Int = 64) {
            bytes = []
            bytes.reserveCapacity(reserve + 9)
            bytes.append(op.rawValue)
            bytes += [UInt8](repeating: 0, count: 8)
        }
        mutating func patch() {
            let n = UInt64(bytes.count - 9)
            for i in 0..<8 { bytes[1 + i] = UInt8(truncatingIfNeeded: n >> (8 * UInt64(i))) }
        }
        mutating func u8(_ v: UInt8) { bytes.append(v); patch() }
        mutating func u16(_ v: UInt16) { bytes += le(v); patch() }
        mutating func u32(_ v: UInt32) { bytes += le(v); patch() }
        mutating func u64(_ v: UInt64) { bytes += le(v); patch() }
        mutating func string(_ s: String) { let u = Array(s.utf8); bytes += le(UInt32(u.count)); bytes += u; patch() }
        mutating func bytes32(_ d: [UInt8]) { bytes += le(UInt32(d.count)); bytes += d; patch() }
        mutating func raw(_ d: [UInt8]) { bytes += d; patch() }
        mutating func map(_ m: [String: String]) {
            var body: [UInt8] = []
            for k in m.keys.sorted() {
                let ku = Array(k.utf8), vu = Array(m[k]!.utf8)
                body += le(UInt32(ku.count)) + ku + le(UInt32(vu.count)) + vu
            }
            bytes += le(UInt32(body.count)); bytes += body; patch()
        }
    }
}

@inline(__always)
func le<T: FixedWidthInteger>(_ v: T) -> [UInt8] {
    withUnsafeBytes(of: v.littleEndian) { Array($0) }
}
