import TRWCore

/// The PCM codecs this build can read, by the name stored in each `audio_chunk` row.
/// The bitstreams are defined on interleaved `Int32` samples (S16/S24 sign-extended,
/// FLOAT_LE as its bit pattern); every codec round-trips all 2^32 values exactly. The
/// encoder also takes S16 as captured (`Int16`, `PCMSamples.int16`): it widens each
/// sample as it reads it, and writes the same bytes as for the sign-extended `Int32`.
public enum PCMCodecName: String, Sendable, CaseIterable {
    /// Uncompressed: each sample as 4 little-endian bytes, interleaved.
    case rawS32 = "pcm-raw-s32le"
    /// Per channel, the best of the fixed polynomial predictors of order 0...4
    /// (FLAC's "fixed" subframes, chosen per chunk by least absolute residual),
    /// zigzag, four byte planes each as its own zstd frame (level 1).
    /// Header: version, channels, frame count (UInt32 LE), one order byte per channel.
    case fixedZstd = "pcm-fixed-zstd-v1"
    /// `pcm-fixed-zstd-v1` bytes followed by their CRC-32C (UInt32 LE): every read verifies it.
    case fixedZstdChecked = "pcm-fixed-zstd-v2"
    /// `pcm-raw-s32le` bytes followed by their CRC-32C (UInt32 LE).
    case rawS32Checked = "pcm-raw-s32le-crc32c"

    /// What the recorder writes unless told otherwise (checksummed).
    public static let `default`: PCMCodecName = .fixedZstdChecked

    /// Whether payloads of this codec end with a CRC-32C trailer (see `PayloadChecksum`).
    public var isChecksummed: Bool { self == .fixedZstdChecked || self == .rawS32Checked }

    /// The bitstream inside the checksum trailer (itself for unchecksummed codecs).
    var inner: PCMCodecName {
        switch self {
        case .fixedZstdChecked: .fixedZstd
        case .rawS32Checked: .rawS32
        default: self
        }
    }

    /// Looks up a stored name; unknown names throw `CodecError.unknownCodec`.
    public init(stored name: String) throws(CodecError) {
        guard let c = PCMCodecName(rawValue: name) else {
            throw CodecError.unknownCodec(name: name, known: PCMCodecName.allCases.map(\.rawValue))
        }
        self = c
    }
}

private let fixedVersion: UInt8 = 1
private let maxOrder = 4

@inline(__always)
private func checkChannels(_ channels: Int, count: Int) throws(CodecError) {
    guard (1...255).contains(channels), count >= 0, count <= codecMaxElements, count % channels == 0 else {
        throw CodecError.invalidChannels(channels: channels, sampleCount: count)
    }
}

/// Fixed polynomial predictors in wrapping Int32 arithmetic (mod 2^32, so
/// encoder and decoder agree for every input, including Int32.min/max).
enum FixedPredictor {
    @inline(__always)
    static func predict(_ order: Int, _ x1: Int32, _ x2: Int32, _ x3: Int32, _ x4: Int32) -> Int32 {
        switch order {
        case 0: return 0
        case 1: return x1
        case 2: return 2 &* x1 &- x2
        case 3: return 3 &* (x1 &- x2) &+ x3
        default: return 4 &* (x1 &+ x3) &- 6 &* x2 &- x4
        }
    }

    @inline(__always)
    static func zigzag(_ e: Int32) -> UInt32 { UInt32(bitPattern: (e &<< 1) ^ (e >> 31)) }

    @inline(__always)
    static func unzigzag(_ z: UInt32) -> Int32 { Int32(bitPattern: (z >> 1) ^ (0 &- (z & 1))) }

    /// The order 0...4 whose residuals have the least total magnitude on channel `ch`.
    static func bestOrder<S: FixedWidthInteger & SignedInteger>(_ s: UnsafePointer<S>, frames n: Int, channels c: Int,
                                                               channel ch: Int) -> Int {
        var sums = (UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0))
        var x1: Int32 = 0, x2: Int32 = 0, x3: Int32 = 0, x4: Int32 = 0
        var i = 0
        var p = ch
        // Warm-up samples count the same for every order; start at maxOrder.
        while i < min(n, maxOrder) {
            x4 = x3; x3 = x2; x2 = x1; x1 = Int32(truncatingIfNeeded: s[p])
            p += c
            i += 1
        }
        while i < n {
            let x = Int32(truncatingIfNeeded: s[p])
            let e0 = x
            let e1 = x &- x1
            let e2 = e1 &- (x1 &- x2)
            let e3 = e2 &- (x1 &- 2 &* x2 &+ x3)
            let e4 = e3 &- (x1 &- 3 &* x2 &+ 3 &* x3 &- x4)
            sums.0 &+= UInt64(e0.magnitude)
            sums.1 &+= UInt64(e1.magnitude)
            sums.2 &+= UInt64(e2.magnitude)
            sums.3 &+= UInt64(e3.magnitude)
            sums.4 &+= UInt64(e4.magnitude)
            x4 = x3; x3 = x2; x2 = x1; x1 = x
            p += c
            i += 1
        }
        let all = [sums.0, sums.1, sums.2, sums.3, sums.4]
        var best = 0
        for k in 1...maxOrder where all[k] < all[best] { best = k }
        return best
    }
}

/// Compresses PCM chunks. Owns a reusable `ZSTD_CCtx`: one per compressor thread.
public final class PCMEncoder {
    /// The codec this encoder writes; store `codec.rawValue` with each payload.
    public let codec: PCMCodecName
    private let zstd: ZstdCompressor
    private let planes = ScratchBytes()
    private let output = ScratchBytes()

    /// - Parameter codec: the bitstream to write (its zstd tuning comes with it).
    public init(codec: PCMCodecName = .default) throws(CodecError) {
        self.codec = codec
        zstd = try ZstdCompressor([.level(1)])
    }

    /// Encodes interleaved samples of `channels` channels (1...255).
    public func encode(_ samples: [Int32], channels: Int) throws(CodecError) -> [UInt8] {
        try withEncoded(.int32(samples), channels: channels) { Array($0) }
    }

    /// Encodes interleaved samples in their capture width (S16 as `Int16`): the same
    /// bytes as for the samples widened to `Int32`.
    public func encode(_ samples: PCMSamples, channels: Int) throws(CodecError) -> [UInt8] {
        try withEncoded(samples, channels: channels) { Array($0) }
    }

    /// Encodes and hands the payload (checksum included) to `body`, which copies it where
    /// it goes (a row's `Data`): one copy from the encoder's buffer, none in between.
    /// The bytes are valid only during `body`.
    public func withEncoded<R>(_ samples: PCMSamples, channels: Int, _ body: (UnsafeRawBufferPointer) -> R) throws(CodecError) -> R {
        try checkChannels(channels, count: samples.count)
        let (dst, size) = switch samples {
        case .int16(let s): try s.withUnsafeBufferPointer { (p) throws(CodecError) in try encodeChecked(p, channels: channels) }
        case .int32(let s): try s.withUnsafeBufferPointer { (p) throws(CodecError) in try encodeChecked(p, channels: channels) }
        }
        return body(UnsafeRawBufferPointer(rebasing: dst[0..<size]))
    }

    /// The payload in `output` (the buffer and the payload's size, trailer included).
    private func encodeChecked<S: FixedWidthInteger & SignedInteger>(_ s: UnsafeBufferPointer<S>, channels: Int)
        throws(CodecError) -> (UnsafeMutableRawBufferPointer, Int) {
        let inner = codec.inner
        let count = s.count
        let most = switch inner {
        case .rawS32, .rawS32Checked: 4 * count
        case .fixedZstd, .fixedZstdChecked: 6 + channels + ZstdCompressor.bound(4 * count, planeSize: count)
        }
        let dst = output.reserve(most + PayloadChecksum.size)
        var size = try encodeInner(inner, s, channels: channels, into: dst)
        if codec.isChecksummed { size = PayloadChecksum.append(to: dst, count: size) }
        return (dst, size)
    }

    /// Writes the inner codec's bytes at the start of `dst`; returns their count. Each
    /// sample is read as `Int32` (sign-extended from `Int16`): the bitstream is the same.
    private func encodeInner<S: FixedWidthInteger & SignedInteger>(_ inner: PCMCodecName, _ samples: UnsafeBufferPointer<S>,
                                                                   channels: Int, into dst: UnsafeMutableRawBufferPointer)
        throws(CodecError) -> Int {
        let count = samples.count
        switch inner {
        case .rawS32Checked, .fixedZstdChecked:
            preconditionFailure("inner codec is never checksummed")
        case .rawS32:
            for i in 0..<count {
                let v = UInt32(bitPattern: Int32(truncatingIfNeeded: samples[i]))
                dst[4 * i] = UInt8(truncatingIfNeeded: v)
                dst[4 * i + 1] = UInt8(truncatingIfNeeded: v >> 8)
                dst[4 * i + 2] = UInt8(truncatingIfNeeded: v >> 16)
                dst[4 * i + 3] = UInt8(truncatingIfNeeded: v >> 24)
            }
            return 4 * count
        case .fixedZstd:
            let frames = count / channels
            var header = ByteWriter()
            header.u8(fixedVersion)
            header.u8(UInt8(channels))
            header.u32(UInt32(frames))
            if count == 0 {
                for _ in 0..<channels { header.u8(0) }
                for (i, b) in header.bytes.enumerated() { dst[i] = b }
                return header.bytes.count
            }
            let buf = planes.reserve(4 * count)
            let p0 = buf.baseAddress!.assumingMemoryBound(to: UInt8.self)
            let s = samples.baseAddress!
            for ch in 0..<channels {
                let order = FixedPredictor.bestOrder(s, frames: frames, channels: channels, channel: ch)
                header.u8(UInt8(order))
                var x1: Int32 = 0, x2: Int32 = 0, x3: Int32 = 0, x4: Int32 = 0
                var p = ch
                for i in 0..<frames {
                    let x = Int32(truncatingIfNeeded: s[p])
                    let z = FixedPredictor.zigzag(x &- FixedPredictor.predict(min(i, order), x1, x2, x3, x4))
                    p0[p] = UInt8(truncatingIfNeeded: z)
                    p0[count + p] = UInt8(truncatingIfNeeded: z >> 8)
                    p0[2 * count + p] = UInt8(truncatingIfNeeded: z >> 16)
                    p0[3 * count + p] = UInt8(truncatingIfNeeded: z >> 24)
                    x4 = x3; x3 = x2; x2 = x1; x1 = x
                    p += channels
                }
            }
            let hsize = header.bytes.count
            for (i, b) in header.bytes.enumerated() { dst[i] = b }
            let size = try zstd.compress(planes: UnsafeRawBufferPointer(buf), planeSize: count,
                                         into: UnsafeMutableRawBufferPointer(rebasing: dst[hsize...]))
            return hsize + size
        }
    }

    /// Encodes the chunk's samples (in their capture width) with its channel count.
    public func encode(_ chunk: AudioChunk) throws(CodecError) -> [UInt8] {
        try encode(chunk.pcm, channels: chunk.channels)
    }
}

@available(*, unavailable, message: "one PCMEncoder per compressor thread")
extension PCMEncoder: Sendable {}

/// Decompresses PCM chunks of any codec in `PCMCodecName`. Owns a reusable
/// `ZSTD_DCtx`: one per reader thread.
public final class PCMDecoder {
    private let zstd: ZstdDecompressor
    private let planes = ScratchBytes()

    /// Creates a decoder with its own `ZSTD_DCtx`; throws only if zstd cannot allocate it.
    public init() throws(CodecError) {
        zstd = try ZstdDecompressor()
    }

    /// Decodes a payload stored with codec name `codec` holding `frameCount`
    /// frames of `channels` channels, to interleaved samples. Throws
    /// `unknownCodec`, `truncated` or `corrupt`; never traps on bad input.
    public func decode(_ bytes: [UInt8], codec: String, channels: Int, frameCount: Int) throws(CodecError) -> [Int32] {
        let name = try PCMCodecName(stored: codec)
        guard frameCount >= 0 else { throw CodecError.invalidChannels(channels: channels, sampleCount: frameCount) }
        let (count, overflow) = frameCount.multipliedReportingOverflow(by: channels)
        guard !overflow else { throw CodecError.invalidChannels(channels: channels, sampleCount: frameCount) }
        try checkChannels(channels, count: count)
        if name.isChecksummed {
            try PayloadChecksum.verify(bytes, codec: codec)
            return try decodeInner(name.inner, Array(bytes.dropLast(PayloadChecksum.size)), codec: codec,
                                   channels: channels, frameCount: frameCount, count: count)
        }
        return try decodeInner(name, bytes, codec: codec, channels: channels, frameCount: frameCount, count: count)
    }

    private func decodeInner(_ name: PCMCodecName, _ bytes: [UInt8], codec: String, channels: Int, frameCount: Int,
                             count: Int) throws(CodecError) -> [Int32] {
        switch name {
        case .rawS32Checked, .fixedZstdChecked:
            preconditionFailure("inner codec is never checksummed")
        case .rawS32:
            guard bytes.count == 4 * count else {
                if bytes.count < 4 * count { throw CodecError.truncated(codec: codec, needed: 4 * count, got: bytes.count) }
                throw CodecError.corrupt(codec: codec, reason: "\(bytes.count) bytes, expected \(4 * count) for \(frameCount) frames of \(channels) channels")
            }
            var out = [Int32](repeating: 0, count: count)
            for i in 0..<count {
                out[i] = Int32(bitPattern: UInt32(bytes[4 * i]) | UInt32(bytes[4 * i + 1]) << 8
                    | UInt32(bytes[4 * i + 2]) << 16 | UInt32(bytes[4 * i + 3]) << 24)
            }
            return out
        case .fixedZstd:
            let buf = planes.reserve(4 * count)
            let orders = try withBytes(bytes) { (raw) throws(CodecError) -> [Int] in
                var r = ByteReader(raw, codec: codec)
                let version = try r.u8()
                guard version == fixedVersion else {
                    throw CodecError.corrupt(codec: codec, reason: "header version \(version), expected \(fixedVersion)")
                }
                let c = Int(try r.u8()), n = Int(try r.u32())
                guard c == channels, n == frameCount else {
                    throw CodecError.corrupt(codec: codec, reason: "payload holds \(n) frames of \(c) channels, expected \(frameCount) of \(channels)")
                }
                var orders: [Int] = []
                for _ in 0..<c {
                    let o = Int(try r.u8())
                    guard o <= maxOrder else {
                        throw CodecError.corrupt(codec: codec, reason: "predictor order \(o), expected 0...\(maxOrder)")
                    }
                    orders.append(o)
                }
                if count == 0 {
                    guard r.remaining == 0 else {
                        throw CodecError.corrupt(codec: codec, reason: "\(r.remaining) bytes after an empty chunk, expected none")
                    }
                } else {
                    guard r.remaining > 0 else { throw CodecError.truncated(codec: codec, needed: r.offset + 1, got: raw.count) }
                    try zstd.decompress(planes: r.rest(), planeSize: count, into: buf, codec: codec)
                }
                return orders
            }
            if count == 0 { return [] }
            let p0 = UnsafePointer(buf.baseAddress!.assumingMemoryBound(to: UInt8.self))
            return [Int32](unsafeUninitializedCapacity: count) { out, initialized in
                let d = out.baseAddress!
                for ch in 0..<channels {
                    let order = orders[ch]
                    var x1: Int32 = 0, x2: Int32 = 0, x3: Int32 = 0, x4: Int32 = 0
                    var p = ch
                    for i in 0..<frameCount {
                        let z = UInt32(p0[p]) | UInt32(p0[count + p]) << 8
                            | UInt32(p0[2 * count + p]) << 16 | UInt32(p0[3 * count + p]) << 24
                        let x = FixedPredictor.unzigzag(z) &+ FixedPredictor.predict(min(i, order), x1, x2, x3, x4)
                        d[p] = x
                        x4 = x3; x3 = x2; x2 = x1; x1 = x
                        p += channels
                    }
                }
                initialized = count
            }
        }
    }
}

@available(*, unavailable, message: "one PCMDecoder per reader thread")
extension PCMDecoder: Sendable {}
