import CZstd

/// Turns a zstd return code into a thrown `CodecError` (`ZSTD_isError`).
@inline(__always)
func checkZstd(_ code: Int, _ operation: String) throws(CodecError) -> Int {
    if ZSTD_isError(code) != 0 {
        let name = ZSTD_getErrorName(code).map { String(cString: $0) } ?? "unknown error"
        throw CodecError.zstd(operation: operation, code: code, message: name)
    }
    return code
}

/// How a compressor spends its time.
enum ZstdTuning {
    /// A plain zstd level (`ZSTD_c_compressionLevel`).
    case level(Int32)
    /// For prediction residuals, which have no repeats worth finding: the
    /// sparsest match search (level -1000, min match 7, hash log 6) with Huffman
    /// literal compression forced on (`ZSTD_c_literalCompressionMode` =
    /// `ZSTD_ps_enable`), so zstd is little more than its Huffman coder (plus
    /// RLE for all-zero planes). On residual planes this is both faster and
    /// smaller than level 1, which finds short, costly matches in low-entropy
    /// noise (smooth frames: 3.18x vs 2.84x on the low byte plane).
    case entropyOnly
}

/// Owns one `ZSTD_CCtx`. Not thread-safe: one per compressor thread.
final class ZstdCompressor {
    private let cctx: OpaquePointer
    /// Tuning of plane i; planes past the end use the last entry.
    let tunings: [ZstdTuning]
    private var configured: Int? = nil

    init(_ tunings: [ZstdTuning]) throws(CodecError) {
        precondition(!tunings.isEmpty)
        guard let c = ZSTD_createCCtx() else {
            throw CodecError.zstd(operation: "ZSTD_createCCtx", code: 0, message: "out of memory")
        }
        cctx = c
        self.tunings = tunings
    }

    /// `ZSTD_c_literalCompressionMode` (`ZSTD_c_experimentalParam5` = 1002 in zstd.h).
    private static let literalCompressionMode = ZSTD_cParameter(rawValue: 1002)
    /// `ZSTD_ps_enable`.
    private static let paramSwitchEnable: Int32 = 1

    private func configure(_ index: Int) throws(CodecError) {
        if configured == index { return }
        configured = nil
        _ = try checkZstd(ZSTD_CCtx_reset(cctx, ZSTD_reset_session_and_parameters), "ZSTD_CCtx_reset")
        switch tunings[index] {
        case .level(let level):
            _ = try checkZstd(ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, level), "set compression level")
        case .entropyOnly:
            _ = try checkZstd(ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, -1000), "set compression level")
            _ = try checkZstd(ZSTD_CCtx_setParameter(cctx, ZSTD_c_minMatch, 7), "set min match")
            _ = try checkZstd(ZSTD_CCtx_setParameter(cctx, ZSTD_c_hashLog, 6), "set hash log")
            _ = try checkZstd(ZSTD_CCtx_setParameter(cctx, Self.literalCompressionMode, Self.paramSwitchEnable),
                              "set literal compression mode")
        }
        _ = try checkZstd(ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 0), "set checksum flag")
        configured = index
    }

    // ZSTD_freeCCtx/ZSTD_freeDCtx only fail for a context still in use by a
    // static allocation, which these never are.
    deinit { _ = ZSTD_freeCCtx(cctx) }

    /// Upper bound of `compress(planes:planeSize:into:)`'s output for `size` bytes.
    static func bound(_ size: Int, planeSize: Int) -> Int {
        let step = max(planeSize, 1)
        let full = size / step, rest = size % step
        return full * ZSTD_compressBound(step) + (rest > 0 ? ZSTD_compressBound(rest) : 0)
    }

    /// Compresses `src` plane by plane, each plane of `planeSize` bytes (the
    /// last may be shorter) as its own zstd frame (`ZSTD_compress2`) with its
    /// own tuning, so each plane gets its own entropy tables; the frames are
    /// concatenated into `dst`. Returns the number of bytes written.
    func compress(planes src: UnsafeRawBufferPointer, planeSize: Int,
                  into dst: UnsafeMutableRawBufferPointer) throws(CodecError) -> Int {
        guard let source = src.baseAddress, let target = dst.baseAddress else { return 0 }
        var offset = 0, written = 0, plane = 0
        let step = max(planeSize, 1)
        while offset < src.count {
            try configure(min(plane, tunings.count - 1))
            plane += 1
            let size = min(step, src.count - offset)
            written += try checkZstd(
                ZSTD_compress2(cctx, target + written, dst.count - written, source + offset, size), "ZSTD_compress2")
            offset += size
        }
        return written
    }
}

/// Owns one `ZSTD_DCtx`. Not thread-safe: one per reader thread.
final class ZstdDecompressor {
    private let dctx: OpaquePointer

    init() throws(CodecError) {
        guard let d = ZSTD_createDCtx() else {
            throw CodecError.zstd(operation: "ZSTD_createDCtx", code: 0, message: "out of memory")
        }
        dctx = d
    }

    deinit { _ = ZSTD_freeDCtx(dctx) }

    /// Inverse of `ZstdCompressor.compress(planes:planeSize:into:)`: `src` must
    /// hold exactly the frames that fill `dst`, `planeSize` bytes each (the last
    /// may be shorter). Anything else — a short, long, damaged or missing
    /// frame, trailing bytes — throws.
    func decompress(planes src: UnsafeRawBufferPointer, planeSize: Int,
                    into dst: UnsafeMutableRawBufferPointer, codec: String) throws(CodecError) {
        guard let target = dst.baseAddress else { return }
        guard let source = src.baseAddress else {
            throw CodecError.truncated(codec: codec, needed: 1, got: 0)
        }
        var inOffset = 0, outOffset = 0
        while outOffset < dst.count {
            let want = min(max(planeSize, 1), dst.count - outOffset)
            guard inOffset < src.count else {
                throw CodecError.truncated(codec: codec, needed: inOffset + 1, got: src.count)
            }
            let frame = source + inOffset, available = src.count - inOffset
            let frameSize = try checkZstd(ZSTD_findFrameCompressedSize(frame, available), "ZSTD_findFrameCompressedSize")
            let declared = ZSTD_getFrameContentSize(frame, frameSize)
            // ZSTD_CONTENTSIZE_UNKNOWN is UInt64.max, ZSTD_CONTENTSIZE_ERROR is UInt64.max - 1.
            guard declared == UInt64(want) || declared == UInt64.max else {
                throw CodecError.corrupt(codec: codec, reason: "zstd frame at byte \(inOffset) holds \(declared) bytes, expected \(want)")
            }
            let n = try checkZstd(ZSTD_decompressDCtx(dctx, target + outOffset, want, frame, frameSize), "ZSTD_decompressDCtx")
            guard n == want else {
                throw CodecError.corrupt(codec: codec, reason: "zstd frame at byte \(inOffset) decoded to \(n) bytes, expected \(want)")
            }
            inOffset += frameSize
            outOffset += want
        }
        guard inOffset == src.count else {
            throw CodecError.corrupt(codec: codec, reason: "\(src.count - inOffset) bytes after the last zstd frame, expected none")
        }
    }
}

/// The libzstd this build runs (`ZSTD_versionString`). Decoding does not depend on it; the
/// bytes an encoder writes may differ between libzstd versions (the published test vectors
/// name the one that wrote them).
public enum ZstdInfo {
    public static var version: String { String(cString: ZSTD_versionString()) }
}
