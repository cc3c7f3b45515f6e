import Foundation
import Testing
@testable import TRWAcoustics
import TRWCore
import TRWTestSupport

/// RF64 (EBU Tech 3306) beyond 4 GiB, the LIST/INFO metadata, and the audible AE methods.
@Suite struct WAVRF64Tests {
    static func u32(_ b: [UInt8], _ at: Int) -> UInt64 { (0..<4).reduce(0) { $0 | UInt64(b[at + $1]) << (8 * UInt64($1)) } }
    static func u64(_ b: [UInt8], _ at: Int) -> UInt64 { (0..<8).reduce(0) { $0 | UInt64(b[at + $1]) << (8 * UInt64($1)) } }

    /// The switch point: RIFF's size field (file size - 8) must fit 32 bits.
    @Test func rf64ExactlyWhenRIFFSizesOverflow() {
        let header = WAVWriter.header(sampleRate: 192_000, channels: 2, format: .s32le, bytesPerSample: 4, frames: 0).count
        let limit = UInt64(UInt32.max) - UInt64(header) + 8  // largest data size RIFF can describe
        let even = limit & ~1
        #expect(!WAVWriter.needsRF64(headerBytes: header, dataBytes: even))
        #expect(WAVWriter.needsRF64(headerBytes: header, dataBytes: even + 2))
        // A 47-minute 2 ch 192 kHz S32 run (issue 21): 4.33 GB.
        #expect(WAVWriter.needsRF64(headerBytes: header, dataBytes: 47 * 60 * 192_000 * 8))
    }

    /// The RF64 header of a >4 GiB file, built without writing 4 GiB: ds64 holds the 64-bit
    /// sizes, the 32-bit ones are 0xFFFFFFFF, and it is as long as the RIFF header it replaces.
    @Test func rf64HeaderForFiveGiB() {
        let frames: Int64 = 5 << 30 / 8  // 5 GiB of 2 ch S32
        let info = [("ICMT", "a comment")]
        let riff = WAVWriter.header(sampleRate: 192_000, channels: 2, format: .s32le, bytesPerSample: 4, frames: frames, info: info)
        let rf = WAVWriter.header(sampleRate: 192_000, channels: 2, format: .s32le, bytesPerSample: 4, frames: frames, info: info, rf64: true)
        #expect(riff.count == rf.count)
        #expect(Array(rf[0..<4]) == Array("RF64".utf8) && Self.u32(rf, 4) == 0xFFFF_FFFF && Array(rf[8..<16]) == Array("WAVEds64".utf8))
        #expect(Self.u32(rf, 16) == 28)
        let data = UInt64(frames) * 8
        #expect(Self.u64(rf, 20) == UInt64(rf.count) - 8 + data)  // RIFF size: the whole file minus 8
        #expect(Self.u64(rf, 28) == data && Self.u64(rf, 36) == UInt64(frames) && Self.u32(rf, 44) == 0)
        #expect(Array(rf[(rf.count - 8)..<(rf.count - 4)]) == Array("data".utf8) && Self.u32(rf, rf.count - 4) == 0xFFFF_FFFF)
        #expect(Array(riff[12..<16]) == Array("JUNK".utf8))
    }

    /// A forced RF64 file read back by sox with its samples, and the INFO comment by soxi.
    @Test func forcedRF64ReadsBackWithSox() throws {
        let dir = try ExternalTool.temporaryDirectory("rf64")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("x.wav").path
        let samples: [Int32] = (0..<2001).map { Int32(truncatingIfNeeded: $0 &* 2_654_435_761) >> 8 }  // odd count of S24 mono: a pad byte
        let w = try WAVWriter(path: path, sampleRate: 96_000, channels: 1, format: .s24le, info: [("ICMT", "trw test comment")], forceRF64: true)
        try w.write(samples)
        try w.finish()
        #expect(w.isRF64)
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        #expect(bytes.count % 2 == 0 && Self.u64(bytes, 20) == UInt64(bytes.count - 8))
        #expect(try ExternalTool.run("soxi", ["-s", path]).trimmingCharacters(in: .whitespacesAndNewlines) == "2001")
        let raw = dir.appendingPathComponent("back.raw").path
        try ExternalTool.run("sox", ["-D", path, "-t", "raw", "-L", raw])
        let back = [UInt8](try Data(contentsOf: URL(fileURLWithPath: raw)))
        #expect(back.count == samples.count * 3)
        let got = (0..<samples.count).map { i in Int32(bitPattern: (UInt32(back[3 * i]) | UInt32(back[3 * i + 1]) << 8 | UInt32(back[3 * i + 2]) << 16) << 8) >> 8 }
        #expect(got == samples)
    }

    @Test func infoIdsMustBeFourCharacters() {
        #expect(throws: WAVWriterError.self) {
            _ = try WAVWriter(path: "/tmp/never-\(getpid()).wav", sampleRate: 48_000, channels: 1, format: .s16le, info: [("COMMENT", "x")])
        }
    }

    @Test(arguments: ["heterodyne", "heterodyne:45", "stretch", "stretch:12.5"])
    func audibleMethodsParse(text: String) throws {
        let m = try AudibleMethod(parsing: text)
        switch m {
        case .heterodyne(let lo): #expect(lo == (text.hasSuffix("45") ? 45_000 : 40_000))
        case .stretch(let f): #expect(f == (text.hasSuffix("12.5") ? 12.5 : 10))
        }
    }

    @Test(arguments: ["heterodyne:0", "heterodyne:x", "stretch:1", "stretch:inf", "bat", ""])
    func badAudibleMethodsAreRefused(text: String) {
        #expect(throws: AudibleError.self) { _ = try AudibleMethod(parsing: text) }
    }

    /// A 40 kHz tone at 96 kHz, heterodyned at 45 kHz, is a 5 kHz tone at 48 kHz of the same
    /// amplitude (within 2 %), with no image at 85 kHz folded to 11 kHz (below 1 %, single
    /// sideband); fed in uneven pieces, the output is identical to one piece; an oscillator
    /// beyond the input's Nyquist frequency is refused.
    @Test func heterodyneShiftsATone() throws {
        let rate = 96_000, n = 96_000 / 2
        let x: [Int32] = (0..<n).map { Int32((10_000 * sin(2 * Double.pi * 40_000 * Double($0) / Double(rate))).rounded()) }
        var p = HeterodyneProcessor(inputRate: rate, loHz: 45_000, channels: 1, format: .s16le)
        var y = p.process(x) + p.finish()
        #expect(y.count == n / 2)
        var q = HeterodyneProcessor(inputRate: rate, loHz: 45_000, channels: 1, format: .s16le)
        var pieces: [Int32] = []
        var i = 0, k = 1
        while i < n { let e = min(n, i + k * 97); pieces += q.process(Array(x[i..<e])); i = e; k += 1 }
        pieces += q.finish()
        #expect(pieces == y)
        // Away from the edges: amplitudes at 5 kHz and 11 kHz (projection on sin/cos).
        y = Array(y[2000..<22000])
        func amplitude(_ f: Double) -> Double {
            var s = 0.0, c = 0.0
            for (j, v) in y.enumerated() {
                let ph = 2 * Double.pi * f * Double(j + 2000) / 48_000
                s += Double(v) * sin(ph); c += Double(v) * cos(ph)
            }
            return 2 * (s * s + c * c).squareRoot() / Double(y.count)
        }
        let a5 = amplitude(5_000), a11 = amplitude(11_000)
        #expect(abs(a5 - 10_000) < 200, "5 kHz amplitude \(a5)")
        #expect(a11 < 100, "11 kHz image amplitude \(a11)")
        #expect(throws: AudibleError.self) { try AudibleMethod.heterodyne(loHz: 100_000).check(inputRate: 192_000, stream: "ae0") }
    }
}
