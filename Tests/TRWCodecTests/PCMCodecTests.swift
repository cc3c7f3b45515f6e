import Foundation
import Testing
import TRWCodec
import TRWCore
import TRWTestSupport

/// AE-like interleaved PCM: Gaussian background plus decaying sinusoid bursts,
/// scaled to `format` (FLOAT_LE as bit patterns).
func aeSignal(format: SampleFormat, channels: Int, frames: Int, seed: UInt64) -> [Int32] {
    var rng = SplitMix64(seed: seed)
    func gauss() -> Double {
        let u1 = max(Double(rng.next() >> 11) / Double(1 << 53), 1e-12)
        let u2 = Double(rng.next() >> 11) / Double(1 << 53)
        return (-2 * Foundation.log(u1)).squareRoot() * Foundation.cos(2 * Double.pi * u2)
    }
    var out = [Int32](repeating: 0, count: frames * channels)
    for ch in 0..<channels {
        let f = 20_000.0 + 10_000.0 * Double(ch)
        for i in 0..<frames {
            let t = Double(i % 4000) / 192_000
            let burst = 0.3 * Foundation.exp(-t * 3000) * Foundation.sin(2 * Double.pi * f * t)
            let v = burst + 0.002 * gauss()
            switch format {
            case .floatle: out[i * channels + ch] = Int32(bitPattern: Float(v).bitPattern)
            default:
                let s = (v * format.fullScale).rounded()
                out[i * channels + ch] = Int32(clamping: Int64(max(-format.fullScale, min(format.fullScale - 1, s))))
            }
        }
    }
    return out
}

struct PCMCase: Sendable, CustomTestStringConvertible {
    let name: String
    let channels: Int
    let samples: [Int32]
    var testDescription: String { "\(name) \(channels)ch \(samples.count / max(channels, 1)) frames" }

    static var all: [PCMCase] {
        var cases: [PCMCase] = []
        for format in SampleFormat.allCases {
            for channels in 1...8 {
                cases.append(PCMCase(name: "AE \(format.rawValue)", channels: channels,
                                     samples: aeSignal(format: format, channels: channels, frames: 999, seed: UInt64(channels))))
            }
        }
        let extremes: [Int32] = [.min, .max, 0, -1, 1, .min, .min, .max, .max, .min, 0, .max, -1, .min]
        cases.append(PCMCase(name: "Int32 extremes", channels: 1, samples: extremes + extremes.reversed()))
        cases.append(PCMCase(name: "Int32 extremes", channels: 2, samples: extremes + extremes.reversed()))
        cases.append(PCMCase(name: "S16 extremes", channels: 3,
                             samples: (0..<300).map { i in [Int32(Int16.min), Int32(Int16.max), 0][i % 3 == 0 ? (i / 3) % 3 : (i + 1) % 3] }))
        cases.append(PCMCase(name: "S24 full scale square", channels: 1,
                             samples: (0..<500).map { $0 % 2 == 0 ? -8_388_608 : 8_388_607 }))
        var rng = SplitMix64(seed: 5)
        cases.append(PCMCase(name: "uniform random Int32", channels: 4,
                             samples: (0..<4000).map { _ in Int32(truncatingIfNeeded: rng.next()) }))
        let specials: [Float] = [.nan, .infinity, -.infinity, -0.0, 0, .leastNonzeroMagnitude, .greatestFiniteMagnitude, 1, -1]
        cases.append(PCMCase(name: "float specials", channels: 1, samples: specials.map { Int32(bitPattern: $0.bitPattern) }))
        cases.append(PCMCase(name: "single frame", channels: 8, samples: (0..<8).map { Int32($0) &* 0x1234_5678 }))
        for channels in [1, 4, 8] {
            cases.append(PCMCase(name: "zero-length", channels: channels, samples: []))
        }
        return cases
    }
}

@Suite struct PCMCodecTests {
    @Test(arguments: PCMCodecName.allCases, PCMCase.all)
    func roundTripIsBitExact(codec: PCMCodecName, chunk: PCMCase) throws {
        let payload = try PCMEncoder(codec: codec).encode(chunk.samples, channels: chunk.channels)
        let back = try PCMDecoder().decode(payload, codec: codec.rawValue, channels: chunk.channels,
                                           frameCount: chunk.samples.count / chunk.channels)
        #expect(back == chunk.samples)
    }

    @Test func encodesAudioChunks() throws {
        let samples = aeSignal(format: .s24le, channels: 2, frames: 4096, seed: 9)
        let chunk = AudioChunk(firstSampleIndex: 0, channels: 2, format: .s24le, samples: samples, hostArrivalNs: 0)
        let encoder = try PCMEncoder()
        let payload = try encoder.encode(chunk)
        let back = try PCMDecoder().decode(payload, codec: encoder.codec.rawValue, channels: 2, frameCount: chunk.frameCount)
        #expect(back == samples)
        // Measured about 1.9x against 4-byte samples; bound chosen well below.
        #expect(Double(samples.count * 4) / Double(payload.count) > 1.5)
    }

    @Test func unknownCodecAndBadShapeThrow() throws {
        let decoder = try PCMDecoder()
        let error = #expect(throws: CodecError.self) {
            try decoder.decode([], codec: "flac", channels: 1, frameCount: 0)
        }
        #expect(error?.description.contains("flac") == true)
        #expect(error?.description.contains(PCMCodecName.fixedZstd.rawValue) == true)
        #expect(throws: CodecError.invalidChannels(channels: 2, sampleCount: 3)) {
            try PCMEncoder().encode([1, 2, 3], channels: 2)
        }
        #expect(throws: CodecError.self) { try PCMEncoder().encode([1], channels: 0) }
        for (channels, frames) in [(2, 1 << 40), (1, -1), (8, Int.max), (256, 1)] {
            #expect(throws: CodecError.self, "\(channels) x \(frames)") {
                try decoder.decode([1, 2, 0, 0, 0, 0], codec: PCMCodecName.fixedZstd.rawValue, channels: channels, frameCount: frames)
            }
        }
        let payload = try PCMEncoder().encode([1, 2, 3, 4], channels: 2)
        #expect(throws: CodecError.self) {
            try decoder.decode(payload, codec: PCMCodecName.fixedZstd.rawValue, channels: 1, frameCount: 4)
        }
    }

    @Test(arguments: PCMCodecName.allCases)
    func everyTruncationThrows(codec: PCMCodecName) throws {
        let samples = aeSignal(format: .s16le, channels: 2, frames: 300, seed: 3)
        let payload = try PCMEncoder(codec: codec).encode(samples, channels: 2)
        let decoder = try PCMDecoder()
        for cut in 0..<payload.count {
            #expect(throws: CodecError.self, "cut at \(cut) of \(payload.count)") {
                try decoder.decode(Array(payload[0..<cut]), codec: codec.rawValue, channels: 2, frameCount: 300)
            }
        }
    }

    @Test func corruptPayloadNeverTraps() throws {
        let samples = aeSignal(format: .s32le, channels: 3, frames: 500, seed: 4)
        let codec = PCMCodecName.fixedZstd
        let payload = try PCMEncoder(codec: codec).encode(samples, channels: 3)
        let decoder = try PCMDecoder()
        var rng = SplitMix64(seed: 17)
        var thrown = 0
        for _ in 0..<300 {
            var bad = payload
            let i = Int(rng.next() % UInt64(bad.count))
            bad[i] ^= UInt8(truncatingIfNeeded: rng.next() | 1)
            do {
                let out = try decoder.decode(bad, codec: codec.rawValue, channels: 3, frameCount: 500)
                #expect(out.count == samples.count)
            } catch {
                thrown += 1
            }
        }
        #expect(thrown > 0)
    }
}
