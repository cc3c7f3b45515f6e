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
            "\(path): \(bytes) bytes of audio exceed what a 64-bit RF64 size can hold"
        }
    }
}

/// Streams interleaved PCM to a RIFF/WAVE file that sox and Audacity open, or an RF64
/// file (EBU Tech 3306) when the audio does not fit RIFF's 32-bit sizes.
///
/// Header choice: S16 with 1–2 channels is plain `WAVE_FORMAT_PCM`; FLOAT_LE
/// with 1–2 channels is `WAVE_FORMAT_IEEE_FLOAT` with a `fact` chunk; S24,
/// S32 and anything with more than 2 channels is `WAVE_FORMAT_EXTENSIBLE`
/// (valid bits, channel mask, PCM or IEEE-float sub-format). S24 is written
/// packed in 3 bytes. Sizes are patched by `finish()`; until then the header
/// holds sizes for zero frames.
///
/// Layout: `RIFF size WAVE`, a 28-byte `JUNK` chunk reserved for RF64's `ds64`, `fmt `,
/// `fact` (plain float only), `LIST`/`INFO` when `info` is given (ICMT, INAM, ISFT,
/// ICRD, ...: text a player shows), then `data`. When the file would exceed 4 GiB
/// (or `forceRF64`), `finish()` turns it into RF64 in place: `RIFF` becomes `RF64`,
/// `JUNK` becomes `ds64` with the 64-bit RIFF size, data size and sample count, and the
/// 32-bit RIFF and data sizes (and `fact`'s count) become 0xFFFFFFFF, as EBU Tech 3306
/// says. libsndfile (soundfile, sox) and ffmpeg read both.
///
/// One owner of the file descriptor: `deinit` closes it (without patching) if
/// `finish()` was not called.
public final class WAVWriter {
    public let path: String
    public let sampleRate: Int
    public let channels: Int
    public let format: SampleFormat
    public private(set) var framesWritten: Int64 = 0
    /// Metadata written as a `LIST`/`INFO` chunk: (four-letter id, text) pairs.
    public let info: [(String, String)]
    /// Write RF64 even below 4 GiB (tests of the RF64 header, players that want it).
    public let forceRF64: Bool
    /// Whether `finish()` wrote RF64 (set by `finish()`).
    public private(set) var isRF64 = false

    private var fd: Int32
    private let headerBytes: Int
    private let bytesPerSampleOut: Int
    private var buffer: [UInt8] = []

    /// Creates (truncates) `path` and writes the header.
    public init(path: String, sampleRate: Int, channels: Int, format: SampleFormat,
                info: [(String, String)] = [], forceRF64: Bool = false) throws(WAVWriterError) {
        guard sampleRate > 0, sampleRate <= Int(UInt32.max), channels >= 1, channels <= 18 else {
            throw .badSamples(path: path, reason: "rate \(sampleRate) Hz and \(channels) channels; expected rate > 0 and 1–18 channels")
        }
        for (id, _) in info where id.utf8.count != 4 || !id.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) {
            throw .badSamples(path: path, reason: "INFO id '\(id)' is not four printable ASCII characters")
        }
        self.info = info
        self.forceRF64 = forceRF64
        self.path = path
        self.sampleRate = sampleRate
        self.channels = channels
        self.format = format
        bytesPerSampleOut = format == .s24le ? 3 : format.bytesPerSample
        let header = Self.header(sampleRate: sampleRate, channels: channels, format: format, bytesPerSample: bytesPerSampleOut, frames: 0,
                                 info: info, rf64: false)
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
        let (newBytes, overflow) = UInt64(framesWritten + Int64(samples.count / channels))
            .multipliedReportingOverflow(by: UInt64(channels * bytesPerSampleOut))
        guard !overflow, newBytes <= UInt64(Int64.max) - UInt64(headerBytes) else { throw .tooLarge(path: path, bytes: newBytes) }
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

    /// Patches the RIFF, data (and fact) sizes, or turns the file into RF64 when it
    /// exceeds 4 GiB (or `forceRF64`), and closes the file.
    public func finish() throws(WAVWriterError) {
        guard fd >= 0 else { return }
        let rf64 = forceRF64 || Self.needsRF64(headerBytes: headerBytes, dataBytes: UInt64(framesWritten) * UInt64(channels * bytesPerSampleOut))
        let header = Self.header(sampleRate: sampleRate, channels: channels, format: format,
                                 bytesPerSample: bytesPerSampleOut, frames: framesWritten, info: info, rf64: rf64)
        precondition(header.count == headerBytes, "WAV header changed size between init and finish")
        isRF64 = rf64
        // RIFF chunks are word-aligned: an odd-sized data chunk gets a pad byte.
        if (UInt64(framesWritten) * UInt64(channels * bytesPerSampleOut)) & 1 == 1 { try writeAll([0]) }
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

    /// Whether a file of this header and data size needs RF64: RIFF's size field (file size
    /// minus 8, with the data's pad byte) must fit 32 bits.
    static func needsRF64(headerBytes: Int, dataBytes: UInt64) -> Bool {
        UInt64(headerBytes) - 8 + dataBytes + (dataBytes & 1) > UInt64(UInt32.max)
    }

    /// The header for `frames` frames: RIFF with a JUNK chunk, or RF64 with `ds64` (same size).
    static func header(sampleRate: Int, channels: Int, format: SampleFormat, bytesPerSample: Int, frames: Int64,
                       info: [(String, String)] = [], rf64: Bool = false) -> [UInt8] {
        var h: [UInt8] = []
        func u16(_ v: Int) { h.append(UInt8(v & 0xFF)); h.append(UInt8((v >> 8) & 0xFF)) }
        func u32(_ v: UInt64) { for k in 0..<4 { h.append(UInt8((v >> (8 * UInt64(k))) & 0xFF)) } }
        func u64(_ v: UInt64) { for k in 0..<8 { h.append(UInt8((v >> (8 * UInt64(k))) & 0xFF)) } }
        func tag(_ s: String) { h.append(contentsOf: Array(s.utf8)) }
        let isFloat = format == .floatle
        let extensible = format == .s24le || format == .s32le || channels > 2
        let blockAlign = channels * bytesPerSample
        let dataBytes = UInt64(frames) * UInt64(blockAlign)
        let fmtSize: Int = extensible ? 40 : (isFloat ? 18 : 16)
        let factBytes: Int = (isFloat && !extensible) ? 12 : 0
        // LIST/INFO: each sub-chunk's text zero-terminated and padded to an even size.
        var list: [UInt8] = []
        for (id, text) in info {
            var t = Array(text.utf8) + [0]
            if t.count % 2 == 1 { t.append(0) }
            list += Array(id.utf8)
            for k in 0..<4 { list.append(UInt8((UInt64(t.count) >> (8 * UInt64(k))) & 0xFF)) }
            list += t
        }
        let listBytes = info.isEmpty ? 0 : 12 + list.count
        // Everything after "RIFF" size: "WAVE", JUNK/ds64, fmt, fact, LIST, data header, data, pad.
        let riffSize: UInt64 = UInt64(4 + 36 + 8 + fmtSize + factBytes + listBytes + 8) + dataBytes + (dataBytes & 1)
        tag(rf64 ? "RF64" : "RIFF"); u32(rf64 ? 0xFFFF_FFFF : riffSize); tag("WAVE")
        if rf64 {
            tag("ds64"); u32(28)
            u64(riffSize); u64(dataBytes); u64(UInt64(frames)); u32(0)  // no table of other chunks' sizes
        } else {
            tag("JUNK"); u32(28); h.append(contentsOf: [UInt8](repeating: 0, count: 28))
        }
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
        if factBytes > 0 { tag("fact"); u32(4); u32(rf64 ? 0xFFFF_FFFF : UInt64(frames) & 0xFFFF_FFFF) }
        if !info.isEmpty {
            tag("LIST"); u32(UInt64(4 + list.count)); tag("INFO"); h += list
        }
        tag("data"); u32(rf64 ? 0xFFFF_FFFF : dataBytes)
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
