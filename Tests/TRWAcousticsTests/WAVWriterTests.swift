import Foundation
import Testing
import TRWAcoustics
import TRWCore
import TRWTestSupport

@Suite struct WAVWriterTests {
    /// The file sox reads back has the rate, channels, bits, encoding and
    /// sample count written, and its samples (as raw from sox) are ours.
    @Test(arguments: [
        (SampleFormat.s16le, 1), (.s16le, 2), (.s16le, 4), (.s24le, 2), (.s32le, 1), (.s32le, 8),
        (.floatle, 1), (.floatle, 2), (.floatle, 3),
    ])
    func soxReadsBack(format: SampleFormat, channels: Int) throws {
        let dir = try ExternalTool.temporaryDirectory("wav")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("ae.wav").path
        let rate = 192_000
        let settings = AEDetectorSettings()
        let bursts = (0..<channels).map { ch in
            [AEBurst(startS: 1e-3, peakDbAE: 78 + Double(ch), riseS: 1e-3, decayS: 2e-3, carrierHz: 5_000 + 1_000 * Double(ch))]
        }
        let frames = 1_000
        let samples = AESignal.render(frames: frames, channels: channels, sampleRate: Double(rate), format: format,
                                      settings: settings, bursts: bursts, noiseV: 1e-5, seed: 11)
        let w = try WAVWriter(path: path, sampleRate: rate, channels: channels, format: format)
        // Two writes: the writer streams.
        try w.write(Array(samples[0..<(300 * channels)]))
        try w.write(Array(samples[(300 * channels)...]))
        try w.finish()
        #expect(w.framesWritten == Int64(frames))

        let info = try ExternalTool.run("soxi", [path])
        func field(_ name: String) -> String? {
            info.split(separator: "\n").first { $0.hasPrefix(name) }.map {
                String($0.split(separator: ":", maxSplits: 1)[1]).trimmingCharacters(in: .whitespaces)
            }
        }
        #expect(field("Channels") == "\(channels)")
        #expect(field("Sample Rate") == "\(rate)")
        #expect(field("Precision") == "\(format == .s16le ? 16 : format == .s24le ? 24 : format == .floatle ? 25 : 32)-bit")
        #expect(try ExternalTool.run("soxi", ["-s", path]).trimmingCharacters(in: .whitespacesAndNewlines) == "\(frames)")
        let encoding = try ExternalTool.run("soxi", ["-e", path]).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(encoding == (format == .floatle ? "Floating Point PCM" : "Signed Integer PCM"))

        // Samples back through sox as raw little-endian of the same width.
        let raw = dir.appendingPathComponent("back.raw").path
        try ExternalTool.run("sox", ["-D", path, "-t", "raw", "-L", raw])
        let back = [UInt8](try Data(contentsOf: URL(fileURLWithPath: raw)))
        let width = format == .s16le ? 2 : format == .s24le ? 3 : 4
        #expect(back.count == samples.count * width, "sox read back \(back.count) bytes")
        guard back.count == samples.count * width else { return }
        var mismatches = 0
        for (i, s) in samples.enumerated() {
            var v: UInt32 = 0
            for k in 0..<width { v |= UInt32(back[i * width + k]) << (8 * UInt32(k)) }
            if format == .floatle {
                // sox converts float through its integer sample type (measured: 1e-5 comes back as
                // 1.00136e-5), so float is checked to 2^-23 of full scale, one 24-bit LSB.
                let got = Float(bitPattern: v), want = Float(bitPattern: UInt32(bitPattern: s))
                if abs(got - want) > 0x1p-23 { mismatches += 1 }
            } else {
                let shift = UInt32(32 - 8 * width)
                let got = Int32(bitPattern: v << shift) >> shift
                if got != s { mismatches += 1 }
            }
        }
        #expect(mismatches == 0, "\(mismatches) of \(samples.count) samples differ after sox read the file back")
    }

    @Test func refusesPartialFrames() throws {
        let dir = try ExternalTool.temporaryDirectory("wav")
        defer { try? FileManager.default.removeItem(at: dir) }
        let w = try WAVWriter(path: dir.appendingPathComponent("x.wav").path, sampleRate: 96_000, channels: 2, format: .s16le)
        #expect(throws: WAVWriterError.self) { try w.write([1, 2, 3]) }
        let mono = AudioChunk(firstSampleIndex: 0, channels: 1, format: .s16le, samples: [1, 2], hostArrivalNs: 0)
        #expect(throws: WAVWriterError.self) { try w.write(mono) }
        #expect(throws: WAVWriterError.self) {
            try WAVWriter(path: dir.appendingPathComponent("missing/dir/x.wav").path, sampleRate: 96_000, channels: 2, format: .s16le)
        }
    }
}
