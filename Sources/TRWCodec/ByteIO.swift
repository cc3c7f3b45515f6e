/// Little-endian header writing and bounds-checked reading.
struct ByteWriter {
    var bytes: [UInt8] = []
    mutating func u8(_ v: UInt8) { bytes.append(v) }
    mutating func u32(_ v: UInt32) {
        bytes.append(UInt8(truncatingIfNeeded: v))
        bytes.append(UInt8(truncatingIfNeeded: v >> 8))
        bytes.append(UInt8(truncatingIfNeeded: v >> 16))
        bytes.append(UInt8(truncatingIfNeeded: v >> 24))
    }
}

struct ByteReader {
    let bytes: UnsafeRawBufferPointer
    let codec: String
    var offset = 0

    init(_ bytes: UnsafeRawBufferPointer, codec: String) {
        self.bytes = bytes
        self.codec = codec
    }

    var remaining: Int { bytes.count - offset }

    mutating func need(_ n: Int) throws(CodecError) {
        if remaining < n { throw CodecError.truncated(codec: codec, needed: offset + n, got: bytes.count) }
    }
    mutating func u8() throws(CodecError) -> UInt8 {
        try need(1)
        defer { offset += 1 }
        return bytes[offset]
    }
    mutating func u32() throws(CodecError) -> UInt32 {
        try need(4)
        defer { offset += 4 }
        return UInt32(bytes[offset]) | UInt32(bytes[offset + 1]) << 8
            | UInt32(bytes[offset + 2]) << 16 | UInt32(bytes[offset + 3]) << 24
    }
    /// The rest of the payload.
    mutating func rest() -> UnsafeRawBufferPointer {
        defer { offset = bytes.count }
        return UnsafeRawBufferPointer(rebasing: bytes[offset...])
    }
}

/// `withUnsafeBytes` that keeps the typed error.
@inline(__always)
func withBytes<R>(_ array: [UInt8], _ body: (UnsafeRawBufferPointer) throws(CodecError) -> R) throws(CodecError) -> R {
    let result: Result<R, CodecError> = array.withUnsafeBytes { raw in
        Result { () throws(CodecError) -> R in try body(raw) }
    }
    return try result.get()
}
