import TRWCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Errors of `WAVWriter`, naming the file and what went wrong.
public enum WAVWriterError: Error, Equatable, CustomStringConvertible {
    case system(call: String, path: String, errno: Int32)
    case badSamples(path: String, reason: String)
    case tooLarge(path: String, bytes: UInt64)

    public var description: String {
        switch self {
        case let .system(call, path, e): "\(call)(\(path)) failed: \(String(cString: strerror(e))) (errno \(e))"
        case let .badSamples(path, reason): "cannot write samples to \(path): \(reason)"
        case let .tooLarge(path, bytes):
            "\(path): \(bytes) bytes of audio exceed the 4 GiB RIFF limit; split the export"
        }
    }
}

/// Streams interleaved PCM to a RIFF/WAVE file that sox and Audacity open.
///
/// Header choice: S16 with 1–2 channels is plain `WAVE_FORMAT_PCM`; FLOAT_LE
/// with 1–2 channels is `WAVE_FORMAT_IEEE_FLOAT` with a `fact` chunk; S24,
/// S32 and anything with more than 2 channels is `WAVE_FORMAT_EXTENSIBLE`
/// (valid bits, channel mask, PCM or IEEE-float sub-format). S24 is written
/// packed in 3 bytes. Sizes are patched by `finish()`; until then the header
/// holds sizes for zero frames.
///
/// One owner of the file descriptor: `deinit` closes it (without patching) if
/// `finish()` was not called.
public final class WAVWriter {
    public let path: String
    public let sampleRate: Int
    public let channels: Int
    public let format: SampleFormat
    public private(set) var framesWritten: Int64 = 0

    private var fd: Int32
    private let headerBytes: Int
    private let bytesPerSampleOut: Int
    private var buffer: [UInt8] = []

    /// Creates (truncates) `path` and writes the header.
    public init(path: String, sampleRate: Int, channels: Int, format: SampleFormat) throws(WAVWriterError) {
        guard sampleRate > 0, channels >= 1, channels <= 18 else {
            throw .badSamples(path: path, reason: "rate \(sampleRate) Hz and \(channels) channels; expected rate > 0 and 1–18 channels")
        }
        self.path = path
        self.sampleRate = sampleRate
        self.channels = channels
        self.format = format
        bytesPerSampleOut = format == .s24le ? 3 : format.bytesPerSample
        let header = Self.header(sampleRate: sampleRate, channels: channels, format: format, bytesPerSample: bytesPerSampleOut, frames: 0)
        headerBytes = header.count
        let f = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard f >= 0 else { throw .system(call: "open", path: path, errno: errno) }
        fd = f
        try writeAll(header)
    }

    deinit {
        if fd >= 0 { _ = close(fd) }  // only after a failure or without finish(); nothing to report to
    }

    /// Appends interleaved samples (`frames * channels` of them) in trw's Int32
    /// representation of `format`.
    public func write(_ samples: [Int32]) throws(WAVWriterError) {
        guard fd >= 0 else { throw .badSamples(path: path, reason: "write after finish()") }
        guard samples.count % channels == 0 else {
            throw .badSamples(path: path, reason: "\(samples.count) samples is not a whole number of \(channels)-channel frames")
        }
        let newBytes = UInt64(framesWritten + Int64(samples.count / channels)) * UInt64(channels * bytesPerSampleOut)
        guard newBytes + UInt64(headerBytes) <= UInt64(UInt32.max) else { throw .tooLarge(path: path, bytes: newBytes) }
        buffer.removeAll(keepingCapacity: true)
        buffer.reserveCapacity(samples.count * bytesPerSampleOut)
        switch format {
        case .s16le:
            for s in samples {
                let v = UInt16(bitPattern: Int16(truncatingIfNeeded: s))
                buffer.append(UInt8(truncatingIfNeeded: v)); buffer.append(UInt8(truncatingIfNeeded: v >> 8))
            }
        case .s24le:
            for s in samples {
                let v = UInt32(bitPattern: s)
                buffer.append(UInt8(truncatingIfNeeded: v)); buffer.append(UInt8(truncatingIfNeeded: v >> 8))
                buffer.append(UInt8(truncatingIfNeeded: v >> 16))
            }
        case .s32le, .floatle:
            for s in samples {
                let v = UInt32(bitPattern: s)
                buffer.append(UInt8(truncatingIfNeeded: v)); buffer.append(UInt8(truncatingIfNeeded: v >> 8))
                buffer.append(UInt8(truncatingIfNeeded: v >> 16)); buffer.append(UInt8(truncatingIfNeeded: v >> 24))
            }
        }
        try writeAll(buffer)
        framesWritten += Int64(samples.count / channels)
    }

    /// Appends one captured chunk; its channels and format must be the file's.
    public func write(_ chunk: AudioChunk) throws(WAVWriterError) {
        guard chunk.channels == channels, chunk.format == format else {
            throw .badSamples(path: path, reason: "chunk at sample \(chunk.firstSampleIndex) is \(chunk.channels) ch \(chunk.format.rawValue); the file is \(channels) ch \(format.rawValue)")
        }
        try write(chunk.samples)
    }

    /// Patches the RIFF, data (and fact) sizes and closes the file.
    public func finish() throws(WAVWriterError) {
        guard fd >= 0 else { return }
        let header = Self.header(sampleRate: sampleRate, channels: channels, format: format,
                                 bytesPerSample: bytesPerSampleOut, frames: framesWritten)
        guard lseek(fd, 0, SEEK_SET) == 0 else { throw .system(call: "lseek", path: path, errno: errno) }
        try writeAll(header)
        let f = fd
        fd = -1
        guard close(f) == 0 else { throw .system(call: "close", path: path, errno: errno) }
    }

    private func writeAll(_ bytes: [UInt8]) throws(WAVWriterError) {
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeBytes { p in systemWrite(fd, p.baseAddress! + off, p.count - off) }
            if n < 0 {
                if errno == EINTR { continue }
                throw .system(call: "write", path: path, errno: errno)
            }
            off += n
        }
    }

    /// The RIFF header for `frames` frames.
    static func header(sampleRate: Int, channels: Int, format: SampleFormat, bytesPerSample: Int, frames: Int64) -> [UInt8] {
        var h: [UInt8] = []
        func u16(_ v: Int) { h.append(UInt8(v & 0xFF)); h.append(UInt8((v >> 8) & 0xFF)) }
        func u32(_ v: UInt64) { for k in 0..<4 { h.append(UInt8((v >> (8 * UInt64(k))) & 0xFF)) } }
        func tag(_ s: String) { h.append(contentsOf: Array(s.utf8)) }
        let isFloat = format == .floatle
        let extensible = format == .s24le || format == .s32le || channels > 2
        let blockAlign = channels * bytesPerSample
        let dataBytes = UInt64(frames) * UInt64(blockAlign)
        let fmtSize: Int = extensible ? 40 : (isFloat ? 18 : 16)
        let factBytes: Int = (isFloat && !extensible) ? 12 : 0
        let riffSize: UInt64 = UInt64(4 + 8 + fmtSize + factBytes + 8) + dataBytes
        tag("RIFF"); u32(riffSize); tag("WAVE")
        tag("fmt "); u32(UInt64(fmtSize))
        u16(extensible ? 0xFFFE : (isFloat ? 3 : 1))
        u16(channels)
        u32(UInt64(sampleRate))
        u32(UInt64(sampleRate * blockAlign))
        u16(blockAlign)
        u16(bytesPerSample * 8)
        if extensible {
            u16(22)
            u16(format == .s24le ? 24 : bytesPerSample * 8)  // valid bits per sample
            // Speaker positions for up to 18 channels: the first `channels` bits.
            u32(UInt64((1 << channels) - 1))
            // Sub-format GUID: 0000000X-0000-0010-8000-00aa00389b71 (1 PCM, 3 IEEE float).
            u16(isFloat ? 3 : 1); u16(0); u16(0); u16(0x10)
            h.append(contentsOf: [0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71])
        } else if isFloat {
            u16(0)
        }
        if factBytes > 0 { tag("fact"); u32(4); u32(UInt64(frames)) }
        tag("data"); u32(dataBytes)
        return h
    }
}

@inline(__always)
private func systemWrite(_ fd: Int32, _ p: UnsafeRawPointer, _ n: Int) -> Int {
    #if canImport(Glibc)
    Glibc.write(fd, p, n)
    #else
    Darwin.write(fd, p, n)
    #endif
}
