// TEMPORARY raw codecs so the store builds before the codec branch lands.
import TRWCore
public enum FrameCodecName: String, Sendable { case raw16le = "raw16le" }
public enum CodecError: Error { case badPayload(String) }
public final class FrameEncoder {
    public init() {}
    public var codecName: String { "raw16le" }
    public func encode(_ pixels: [UInt16], width: Int, height: Int) throws -> [UInt8] {
        var out = [UInt8](); out.reserveCapacity(pixels.count * 2)
        for p in pixels { out.append(UInt8(p & 0xFF)); out.append(UInt8(p >> 8)) }
        return out
    }
}
public final class FrameDecoder {
    public init() {}
    public func decode(_ bytes: [UInt8], codec: String, width: Int, height: Int) throws -> [UInt16] {
        guard codec == "raw16le", bytes.count == width * height * 2 else { throw CodecError.badPayload(codec) }
        return (0..<(width * height)).map { UInt16(bytes[2 * $0]) | UInt16(bytes[2 * $0 + 1]) << 8 }
    }
}
public final class AudioEncoder {
    public init() {}
    public func codecName(format: SampleFormat) -> String { "pcm-raw-s32le" }
    public func encode(_ samples: [Int32], channels: Int, format: SampleFormat) throws -> [UInt8] {
        var out = [UInt8](); out.reserveCapacity(samples.count * 4)
        for s in samples { let u = UInt32(bitPattern: s); out += [UInt8(u & 0xFF), UInt8((u >> 8) & 0xFF), UInt8((u >> 16) & 0xFF), UInt8(u >> 24)] }
        return out
    }
}
public final class AudioDecoder {
    public init() {}
    public func decode(_ bytes: [UInt8], codec: String, channels: Int, frameCount: Int) throws -> [Int32] {
        guard codec == "pcm-raw-s32le", bytes.count == channels * frameCount * 4 else { throw CodecError.badPayload(codec) }
        var out = [Int32](repeating: 0, count: channels * frameCount)
        for i in 0..<out.count {
            var u = UInt32(bytes[4 * i])
            u |= UInt32(bytes[4 * i + 1]) << 8
            u |= UInt32(bytes[4 * i + 2]) << 16
            u |= UInt32(bytes[4 * i + 3]) << 24
            out[i] = Int32(bitPattern: u)
        }
        return out
    }
}
