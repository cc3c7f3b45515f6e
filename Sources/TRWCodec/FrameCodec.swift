import CTRWCodecKernels
import TRWCore

/// The thermal frame codecs this build can read, by the name stored in each
/// `thermal_frame` row. Names are never reused for a different bitstream.
public enum FrameCodecName: String, Sendable, CaseIterable {
    /// Uncompressed: width*height little-endian UInt16.
    case raw16 = "raw16le"
    /// The prototype: horizontal delta, zigzag, byte-plane shuffle, one zstd
    /// level-1 frame. Kept as a reference and for files that used it.
    case deltaShuffleZstd = "delta16-shuffle-zstd1"
    /// Plane-fit 17-tap predictor (see `PlaneFit`), zigzag, low/high byte
    /// planes each as its own zstd frame. Header: version, predictor id,
    /// width, height (UInt32 LE).
    case planeFitZstd = "pfit16-zstd-v1"
    /// `pfit16-zstd-v1` bytes followed by their CRC-32C (UInt32 LE): every read verifies it.
    case planeFitZstdChecked = "pfit16-zstd-v2"
    /// `raw16le` bytes followed by their CRC-32C (UInt32 LE).
    case raw16Checked = "raw16le-crc32c"

    /// What the recorder writes unless told otherwise (checksummed).
    public static let `default`: FrameCodecName = .planeFitZstdChecked

    /// Whether payloads of this codec end with a CRC-32C trailer (see `PayloadChecksum`).
    public var isChecksummed: Bool { self == .planeFitZstdChecked || self == .raw16Checked }

    /// The bitstream inside the checksum trailer (itself for unchecksummed codecs).
    var inner: FrameCodecName {
        switch self {
        case .planeFitZstdChecked: .planeFitZstd
        case .raw16Checked: .raw16
        default: self
        }
    }

    /// Looks up a stored name; unknown names throw `CodecError.unknownCodec`.
    public init(stored name: String) throws(CodecError) {
        guard let c = FrameCodecName(rawValue: name) else {
            throw CodecError.unknownCodec(name: name, known: FrameCodecName.allCases.map(\.rawValue))
        }
        self = c
    }
}

@inline(__always)
func checkGeometry(width: Int, height: Int, count: Int) throws(CodecError) {
    guard width >= 1, height >= 1, count <= codecMaxElements,
          width.multipliedReportingOverflow(by: height) == (count, false) else {
        throw CodecError.invalidGeometry(width: width, height: height, pixelCount: count)
    }
}

private let pfitVersion: UInt8 = 1
private let pfitPredictor: UInt8 = 1
private let pfitHeaderSize = 10

/// Reusable growable byte buffer (owned by one encoder or decoder).
final class ScratchBytes {
    private(set) var pointer: UnsafeMutableRawPointer
    private(set) var capacity: Int
    init() {
        capacity = 64
        pointer = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 64)
    }
    deinit { pointer.deallocate() }
    func reserve(_ n: Int) -> UnsafeMutableRawBufferPointer {
        if n > capacity {
            pointer.deallocate()
            capacity = max(n, capacity * 2)
            pointer = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 64)
        }
        return UnsafeMutableRawBufferPointer(start: pointer, count: n)
    }
}

/// Compresses thermal frames. Owns a reusable `ZSTD_CCtx` and scratch buffers:
/// create one per compressor thread and do not share it between threads.
public final class FrameEncoder {
    /// The codec this encoder writes; store `codec.rawValue` with each payload.
    public let codec: FrameCodecName
    private let zstd: ZstdCompressor
    private let planes = ScratchBytes()
    private let output = ScratchBytes()
    private let rows = ScratchBytes()

    /// Which predictor kernels this machine runs: "avx2" (x86-64 with AVX2,
    /// chosen at run time) or "baseline". Both write identical bytes.
    public static var kernelVariant: String { trw_codec_kernels_avx2() != 0 ? "avx2" : "baseline" }

    /// - Parameter codec: the bitstream to write (its zstd tuning comes with it).
    public init(codec: FrameCodecName = .default) throws(CodecError) {
        self.codec = codec
        // Low bytes of residuals are noise: Huffman only. High bytes are mostly
        // zero with rare outliers (edges, hot spots): level 1 codes the zero
        // runs as matches, where Huffman alone cannot go below 1 bit per byte.
        zstd = try ZstdCompressor(codec == .deltaShuffleZstd ? [.level(1)] : [.entropyOnly, .level(1)])
    }

    /// Encodes one frame of row-major counts. Throws `invalidGeometry` if
    /// `pixels.count != width * height` or a side is not positive.
    public func encode(_ pixels: [UInt16], width: Int, height: Int) throws(CodecError) -> [UInt8] {
        try withEncoded(pixels, width: width, height: height) { Array($0) }
    }

    /// Encodes one frame and hands its payload (checksum included) to `body`, which
    /// copies it where it goes (a row's `Data`): one copy from the encoder's buffer,
    /// none in between. The bytes are valid only during `body`.
    public func withEncoded<R>(_ pixels: [UInt16], width: Int, height: Int,
                               _ body: (UnsafeRawBufferPointer) -> R) throws(CodecError) -> R {
        try checkGeometry(width: width, height: height, count: pixels.count)
        let dst = output.reserve(Self.maxPayloadSize(codec.inner, pixels: pixels.count))
        var size = try encodeInner(codec.inner, pixels, width: width, height: height, into: dst)
        if codec.isChecksummed { size = PayloadChecksum.append(to: dst, count: size) }
        return body(UnsafeRawBufferPointer(rebasing: dst[0..<size]))
    }

    /// Largest payload of `n` pixels, checksum trailer included.
    private static func maxPayloadSize(_ inner: FrameCodecName, pixels n: Int) -> Int {
        let body = switch inner {
        case .raw16, .raw16Checked: 2 * n
        case .deltaShuffleZstd: ZstdCompressor.bound(2 * n, planeSize: 2 * n)
        case .planeFitZstd, .planeFitZstdChecked: pfitHeaderSize + ZstdCompressor.bound(2 * n, planeSize: n)
        }
        return body + PayloadChecksum.size
    }

    /// Writes the inner codec's bytes at the start of `dst`; returns their count.
    private func encodeInner(_ inner: FrameCodecName, _ pixels: [UInt16], width: Int, height: Int,
                             into dst: UnsafeMutableRawBufferPointer) throws(CodecError) -> Int {
        let n = pixels.count
        switch inner {
        case .raw16Checked, .planeFitZstdChecked:
            preconditionFailure("inner codec is never checksummed")
        case .raw16:
            for i in 0..<n {
                dst[2 * i] = UInt8(truncatingIfNeeded: pixels[i])
                dst[2 * i + 1] = UInt8(truncatingIfNeeded: pixels[i] >> 8)
            }
            return 2 * n
        case .deltaShuffleZstd:
            let buf = planes.reserve(2 * n)
            let lo = buf.baseAddress!.assumingMemoryBound(to: UInt8.self)
            pixels.withUnsafeBufferPointer { px in
                DeltaShuffle.encode(px.baseAddress!, width: width, height: height, lo: lo, hi: lo + n)
            }
            return try zstd.compress(planes: UnsafeRawBufferPointer(buf), planeSize: 2 * n, into: dst)
        case .planeFitZstd:
            let buf = planes.reserve(2 * n)
            let lo = buf.baseAddress!.assumingMemoryBound(to: UInt8.self)
            let scratch = rows.reserve(5 * width * 4).baseAddress!.assumingMemoryBound(to: Int32.self)
            pixels.withUnsafeBufferPointer { px in
                PlaneFit.encode(px.baseAddress!, width: width, height: height, lo: lo, hi: lo + n, scratch: scratch)
            }
            var header = ByteWriter()
            header.u8(pfitVersion)
            header.u8(pfitPredictor)
            header.u32(UInt32(width))
            header.u32(UInt32(height))
            for (i, b) in header.bytes.enumerated() { dst[i] = b }
            let size = try zstd.compress(
                planes: UnsafeRawBufferPointer(buf), planeSize: n,
                into: UnsafeMutableRawBufferPointer(rebasing: dst[pfitHeaderSize...]))
            return pfitHeaderSize + size
        }
    }

    /// Encodes `frame.pixels` with the frame's own geometry.
    public func encode(_ frame: ThermalFrame) throws(CodecError) -> [UInt8] {
        try encode(frame.pixels, width: frame.width, height: frame.height)
    }
}

@available(*, unavailable, message: "one FrameEncoder per compressor thread")
extension FrameEncoder: Sendable {}

/// Decompresses thermal frames of any codec in `FrameCodecName`. Owns a
/// reusable `ZSTD_DCtx`: one per reader thread.
public final class FrameDecoder {
    private let zstd: ZstdDecompressor
    private let planes = ScratchBytes()
    private let rows = ScratchBytes()

    /// Creates a decoder with its own `ZSTD_DCtx`; throws only if zstd cannot allocate it.
    public init() throws(CodecError) {
        zstd = try ZstdDecompressor()
    }

    /// Decodes a payload stored with codec name `codec` for a `width` x `height` frame.
    /// Throws `unknownCodec` for a name this build does not know, `truncated` or
    /// `corrupt` for a payload that does not decode to exactly that frame; never traps.
    public func decode(_ bytes: [UInt8], codec: String, width: Int, height: Int) throws(CodecError) -> [UInt16] {
        let name = try FrameCodecName(stored: codec)
        try checkGeometry(width: width, height: height, count: width.multipliedReportingOverflow(by: height).partialValue)
        if name.isChecksummed {
            try PayloadChecksum.verify(bytes, codec: codec)
            return try decodeInner(name.inner, Array(bytes.dropLast(PayloadChecksum.size)), codec: codec, width: width, height: height)
        }
        return try decodeInner(name, bytes, codec: codec, width: width, height: height)
    }

    private func decodeInner(_ name: FrameCodecName, _ bytes: [UInt8], codec: String, width: Int, height: Int) throws(CodecError) -> [UInt16] {
        let n = width * height
        switch name {
        case .raw16Checked, .planeFitZstdChecked:
            preconditionFailure("inner codec is never checksummed")
        case .raw16:
            guard bytes.count == 2 * n else {
                if bytes.count < 2 * n { throw CodecError.truncated(codec: codec, needed: 2 * n, got: bytes.count) }
                throw CodecError.corrupt(codec: codec, reason: "\(bytes.count) bytes, expected \(2 * n) for \(width)x\(height)")
            }
            var out = [UInt16](repeating: 0, count: n)
            for i in 0..<n { out[i] = UInt16(bytes[2 * i]) | UInt16(bytes[2 * i + 1]) << 8 }
            return out
        case .deltaShuffleZstd:
            let buf = planes.reserve(2 * n)
            try withBytes(bytes) { (src) throws(CodecError) in
                try zstd.decompress(planes: src, planeSize: 2 * n, into: buf, codec: codec)
            }
            let lo = UnsafePointer(buf.baseAddress!.assumingMemoryBound(to: UInt8.self))
            return [UInt16](unsafeUninitializedCapacity: n) { out, count in
                DeltaShuffle.decode(lo: lo, hi: lo + n, width: width, height: height, into: out.baseAddress!)
                count = n
            }
        case .planeFitZstd:
            let buf = planes.reserve(2 * n)
            try withBytes(bytes) { (raw) throws(CodecError) in
                var r = ByteReader(raw, codec: codec)
                let version = try r.u8(), predictor = try r.u8()
                guard version == pfitVersion, predictor == pfitPredictor else {
                    throw CodecError.corrupt(codec: codec, reason: "header version \(version) predictor \(predictor), expected version \(pfitVersion) predictor \(pfitPredictor)")
                }
                let w = try r.u32(), h = try r.u32()
                guard Int(w) == width, Int(h) == height else {
                    throw CodecError.corrupt(codec: codec, reason: "payload is \(w)x\(h), expected \(width)x\(height)")
                }
                guard r.remaining > 0 else { throw CodecError.truncated(codec: codec, needed: r.offset + 1, got: raw.count) }
                try zstd.decompress(planes: r.rest(), planeSize: n, into: buf, codec: codec)
            }
            let lo = UnsafePointer(buf.baseAddress!.assumingMemoryBound(to: UInt8.self))
            let scratch = rows.reserve(5 * width * 4).baseAddress!.assumingMemoryBound(to: Int32.self)
            return [UInt16](unsafeUninitializedCapacity: n) { out, count in
                PlaneFit.decode(lo: lo, hi: lo + n, width: width, height: height, into: out.baseAddress!, scratch: scratch)
                count = n
            }
        }
    }
}

@available(*, unavailable, message: "one FrameDecoder per reader thread")
extension FrameDecoder: Sendable {}
