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
    let tuning: ZstdTuning

    init(_ tuning: ZstdTuning) throws(CodecError) {
        guard let c = ZSTD_createCCtx() else {
            throw CodecError.zstd(operation: "ZSTD_createCCtx", code: 0, message: "out of memory")
        }
        cctx = c
        self.tuning = tuning
    }

    /// `ZSTD_c_literalCompressionMode` (`ZSTD_c_experimentalParam5` = 1002 in zstd.h).
    private static let literalCompressionMode = ZSTD_cParameter(rawValue: 1002)
    /// `ZSTD_ps_enable`.
    private static let paramSwitchEnable: Int32 = 1

    private func configure() throws(CodecError) {
        _ = try checkZstd(ZSTD_CCtx_reset(cctx, ZSTD_reset_session_and_parameters), "ZSTD_CCtx_reset")
        switch tuning {
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
    }

    deinit { ZSTD_freeCCtx(cctx) }

    /// Upper bound of the compressed size of `size` bytes split into `planes` blocks.
    static func bound(_ size: Int, planes: Int) -> Int { ZSTD_compressBound(size) + 16 * planes + 32 }

    /// Compresses `src` as one zstd frame, ending a block after every plane of
    /// `planeSize` bytes so that each plane gets its own entropy tables.
    /// Writes into `dst` and returns the number of bytes written.
    func compress(planes src: UnsafeRawBufferPointer, planeSize: Int,
                  into dst: UnsafeMutableRawBufferPointer) throws(CodecError) -> Int {
        try configure()
        _ = try checkZstd(ZSTD_CCtx_setPledgedSrcSize(cctx, UInt64(src.count)), "ZSTD_CCtx_setPledgedSrcSize")
        var output = ZSTD_outBuffer(dst: dst.baseAddress, size: dst.count, pos: 0)
        var offset = 0
        let step = max(planeSize, 1)
        repeat {
            let end = min(src.count, offset + step)
            let last = end == src.count
            var input = ZSTD_inBuffer(src: src.baseAddress.map { $0 + offset }, size: end - offset, pos: 0)
            while true {
                let remaining = try checkZstd(
                    ZSTD_compressStream2(cctx, &output, &input, last ? ZSTD_e_end : ZSTD_e_flush),
                    "ZSTD_compressStream2")
                if remaining == 0 && input.pos == input.size { break }
                if output.pos == output.size {
                    throw CodecError.zstd(operation: "ZSTD_compressStream2", code: 0,
                                          message: "output buffer of \(dst.count) bytes too small")
                }
            }
            offset = end
        } while offset < src.count
        return output.pos
    }

    /// One-shot `ZSTD_compress2` (used by the prototype codec).
    func compressOneShot(_ src: UnsafeRawBufferPointer, into dst: UnsafeMutableRawBufferPointer) throws(CodecError) -> Int {
        try configure()
        return try checkZstd(
            ZSTD_compress2(cctx, dst.baseAddress, dst.count, src.baseAddress, src.count), "ZSTD_compress2")
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

    deinit { ZSTD_freeDCtx(dctx) }

    /// Decompresses exactly one frame filling `dst` completely; anything else is corruption.
    func decompress(_ src: UnsafeRawBufferPointer, into dst: UnsafeMutableRawBufferPointer,
                    codec: String) throws(CodecError) {
        let declared = ZSTD_getFrameContentSize(src.baseAddress, src.count)
        // ZSTD_CONTENTSIZE_ERROR == 0 &- 2, ZSTD_CONTENTSIZE_UNKNOWN == 0 &- 1
        if declared == UInt64.max &- 1 {
            throw CodecError.corrupt(codec: codec, reason: "zstd frame header not recognised")
        }
        if declared != UInt64.max && declared != UInt64(dst.count) {
            throw CodecError.corrupt(codec: codec, reason: "zstd frame holds \(declared) bytes, expected \(dst.count)")
        }
        let n = try checkZstd(
            ZSTD_decompressDCtx(dctx, dst.baseAddress, dst.count, src.baseAddress, src.count),
            "ZSTD_decompressDCtx")
        if n != dst.count {
            throw CodecError.corrupt(codec: codec, reason: "zstd frame decoded to \(n) bytes, expected \(dst.count)")
        }
    }
}
