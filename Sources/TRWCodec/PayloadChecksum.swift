import CTRWCodecKernels

/// The checksum trailer of the checksummed codecs (`pfit16-zstd-v2`, `raw16le-crc32c`,
/// `pcm-fixed-zstd-v2`, `pcm-raw-s32le-crc32c`): the inner codec's bytes, then
/// CRC-32C (Castagnoli, reflected 0x82F63B78, init and final XOR 0xFFFFFFFF) of those
/// bytes as a little-endian UInt32. See schemas/payload-codecs.md.
public enum PayloadChecksum {
    /// Trailer size in bytes.
    public static let size = 4

    /// CRC-32C of `bytes`; `crc32c("123456789") == 0xE3069283`.
    public static func crc32c(_ bytes: some Collection<UInt8>) -> UInt32 {
        if let r = bytes.withContiguousStorageIfAvailable({ trw_crc32c(0, $0.baseAddress, $0.count) }) { return r }
        let copy = Array(bytes)
        return copy.withUnsafeBytes { trw_crc32c(0, $0.baseAddress, $0.count) }
    }

    /// Test hook: the table (hardware false) or SSE4.2 (true, when the CPU has it) variant.
    public static func crc32c(_ bytes: [UInt8], hardware: Bool) -> UInt32 {
        bytes.withUnsafeBytes { trw_crc32c_variant(hardware ? 1 : 0, 0, $0.baseAddress, $0.count) }
    }

    /// Writes the trailer of `dst[0..<count]` after it; returns the size with the trailer.
    static func append(to dst: UnsafeMutableRawBufferPointer, count: Int) -> Int {
        precondition(dst.count >= count + size, "no room for the checksum trailer")
        let c = trw_crc32c(0, dst.baseAddress, count)
        dst[count] = UInt8(truncatingIfNeeded: c)
        dst[count + 1] = UInt8(truncatingIfNeeded: c >> 8)
        dst[count + 2] = UInt8(truncatingIfNeeded: c >> 16)
        dst[count + 3] = UInt8(truncatingIfNeeded: c >> 24)
        return count + size
    }

    static func append(to bytes: inout [UInt8]) {
        let c = crc32c(bytes)
        bytes.append(UInt8(truncatingIfNeeded: c))
        bytes.append(UInt8(truncatingIfNeeded: c >> 8))
        bytes.append(UInt8(truncatingIfNeeded: c >> 16))
        bytes.append(UInt8(truncatingIfNeeded: c >> 24))
    }

    /// Checks the trailer of a checksummed payload. Throws `truncated` when there is no
    /// room for one and `checksumMismatch` when the bytes changed.
    public static func verify(_ bytes: [UInt8], codec: String) throws(CodecError) {
        guard bytes.count >= size else { throw CodecError.truncated(codec: codec, needed: size, got: bytes.count) }
        let n = bytes.count - size
        let stored = UInt32(bytes[n]) | UInt32(bytes[n + 1]) << 8 | UInt32(bytes[n + 2]) << 16 | UInt32(bytes[n + 3]) << 24
        let computed = bytes.withUnsafeBytes { trw_crc32c(0, $0.baseAddress, n) }
        guard stored == computed else { throw CodecError.checksumMismatch(codec: codec, stored: stored, computed: computed) }
    }

    /// Checks a stored payload without decoding it: the trailer of a checksummed codec
    /// (frame or PCM). Returns false for a codec without a checksum (old files: only a
    /// full decode can test those); throws `unknownCodec` for a name no codec has.
    @discardableResult
    public static func verify(_ bytes: [UInt8], storedCodec codec: String) throws(CodecError) -> Bool {
        if let f = FrameCodecName(rawValue: codec) {
            guard f.isChecksummed else { return false }
        } else if let p = PCMCodecName(rawValue: codec) {
            guard p.isChecksummed else { return false }
        } else {
            throw CodecError.unknownCodec(
                name: codec, known: FrameCodecName.allCases.map(\.rawValue) + PCMCodecName.allCases.map(\.rawValue))
        }
        try verify(bytes, codec: codec)
        return true
    }
}
