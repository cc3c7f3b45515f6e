/// Why a payload could not be encoded or decoded. Each case names the input
/// and what was expected, so a message read in a log is enough to act on.
public enum CodecError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The codec name stored with a row is not one this build knows.
    case unknownCodec(name: String, known: [String])
    /// Width/height do not describe the pixel buffer (or are not positive).
    case invalidGeometry(width: Int, height: Int, pixelCount: Int)
    /// Channel count out of range, or samples not a whole number of frames.
    case invalidChannels(channels: Int, sampleCount: Int)
    /// The payload ended before the codec had what it needed.
    case truncated(codec: String, needed: Int, got: Int)
    /// The payload is structurally wrong for its codec.
    case corrupt(codec: String, reason: String)
    /// The payload's CRC-32C trailer does not match its bytes: the stored row was damaged
    /// after it was written (disk, copy, or tampering). Its values must not be used.
    case checksumMismatch(codec: String, stored: UInt32, computed: UInt32)
    /// libzstd reported an error (`ZSTD_isError`); `message` is `ZSTD_getErrorName`.
    case zstd(operation: String, code: Int, message: String)

    public var description: String {
        switch self {
        case let .unknownCodec(name, known):
            return "unknown codec \"\(name)\"; expected one of: \(known.joined(separator: ", "))"
        case let .invalidGeometry(width, height, pixelCount):
            return "frame geometry \(width)x\(height) with \(pixelCount) pixels; expected width >= 1, height >= 1, width*height == pixel count <= \(codecMaxElements)"
        case let .invalidChannels(channels, sampleCount):
            return "\(sampleCount) samples in \(channels) channels; expected 1...255 channels, a whole number of frames and at most \(codecMaxElements) samples"
        case let .truncated(codec, needed, got):
            return "\(codec) payload truncated: needed at least \(needed) bytes, got \(got)"
        case let .corrupt(codec, reason):
            return "corrupt \(codec) payload: \(reason)"
        case let .checksumMismatch(codec, stored, computed):
            return "damaged \(codec) payload: CRC-32C is \(hex32(computed)), the payload says \(hex32(stored)) (the stored bytes changed after they were written)"
        case let .zstd(operation, code, message):
            return "zstd \(operation) failed (code \(code)): \(message)"
        }
    }
}

/// Largest frame (pixels) or chunk (samples) a codec accepts: 2^28, far above
/// any camera or audio chunk, low enough that a damaged row's geometry cannot
/// make a decoder allocate unbounded memory.
let codecMaxElements = 1 << 28

/// 0x-prefixed 8-digit upper-case hex.
func hex32(_ v: UInt32) -> String {
    let digits = String(v, radix: 16, uppercase: true)
    return "0x" + String(repeating: "0", count: 8 - digits.count) + digits
}
