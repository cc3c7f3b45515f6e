import Foundation
import Testing
import TRWCodec
import TRWTestSupport

/// The published test vectors of schemas/payload-codecs.md (schemas/test-vectors/): small
/// payloads written once by trw's own encoders, and their decoded values. Every vector must
/// decode to exactly its values, and encoding the values must give exactly its bytes (the
/// zstd stage was written by the libzstd named in vectors.json; decoding does not depend on
/// it). python/tests/test_vectors.py checks the same files with the Python reader.
///
/// To write them (only when a codec is added; a shipped vector never changes):
/// `TRW_WRITE_TEST_VECTORS=1 swift test --filter TestVectorTests`.
@Suite(.serialized) struct TestVectorTests {
    enum Values {
        case frame(width: Int, height: Int, pixels: [UInt16])
        case pcm(channels: Int, samples: [Int32], note: String)
    }

    struct Vector {
        let name: String
        let codec: String
        let note: String
        let values: Values
    }

    /// Deterministic pseudo-random numbers (64-bit LCG, Knuth's MMIX constants).
    struct LCG {
        var state: UInt64
        mutating func next() -> UInt32 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return UInt32(truncatingIfNeeded: state >> 32)
        }
    }

    static let vectors: [Vector] = {
        var r = LCG(state: 21)
        var v: [Vector] = []
        // Frames.
        v.append(Vector(name: "frame-1x1-zero", codec: "pfit16-zstd-v2", note: "the smallest frame; pixel (0,0) is predicted as 0",
                        values: .frame(width: 1, height: 1, pixels: [0])))
        v.append(Vector(name: "frame-3x2-extremes", codec: "pfit16-zstd-v2",
                        note: "narrower than 7: border predictors only; 0 and 65535 side by side (residuals wrap mod 2^16)",
                        values: .frame(width: 3, height: 2, pixels: [0, 65535, 0, 65535, 0, 65535])))
        let smooth: [UInt16] = (0..<(9 * 5)).map { i in
            let x = i % 9, y = i / 9
            return UInt16(29_800 + 37 * x + 101 * y + Int(r.next() % 13))
        }
        var edges = smooth
        edges[9 * 2 + 4] = 65535  // an interior pixel at full scale
        edges[9 * 3 + 5] = 0      // and one at zero
        v.append(Vector(name: "frame-9x5-interior", codec: "pfit16-zstd-v2",
                        note: "rows 2..4 use the 17-tap interior predictor at x = 3..5; one interior pixel 65535, one 0",
                        values: .frame(width: 9, height: 5, pixels: edges)))
        v.append(Vector(name: "frame-13x7-random-v1", codec: "pfit16-zstd-v1",
                        note: "uniform random counts over the full range (worst case for the predictor); no checksum",
                        values: .frame(width: 13, height: 7, pixels: (0..<91).map { _ in UInt16(truncatingIfNeeded: r.next()) })))
        v.append(Vector(name: "frame-17x3-saturated", codec: "pfit16-zstd-v2",
                        note: "a saturated frame (65535 everywhere but a cold column of 0): the all-zero high plane",
                        values: .frame(width: 17, height: 3, pixels: (0..<51).map { $0 % 17 == 8 ? 0 : 65535 })))
        v.append(Vector(name: "frame-5x3-raw", codec: "raw16le", note: "uncompressed",
                        values: .frame(width: 5, height: 3, pixels: (0..<15).map { UInt16($0 * 4369) })))
        v.append(Vector(name: "frame-2x1-raw-crc", codec: "raw16le-crc32c", note: "the example of schemas/payload-codecs.md",
                        values: .frame(width: 2, height: 1, pixels: [0x0102, 0x0304])))
        v.append(Vector(name: "frame-7x4-delta", codec: "delta16-shuffle-zstd1", note: "the prototype codec",
                        values: .frame(width: 7, height: 4, pixels: (0..<28).map { i in UInt16(1000 + 3 * i + Int(r.next() % 5)) })))
        // PCM.
        let mono16: [Int32] = (0..<37).map { i in
            i == 10 ? -32768 : i == 11 ? 32767 : Int32(12_000 * sin(Double(i) * 0.4)) + Int32(r.next() % 7) - 3
        }
        v.append(Vector(name: "pcm-mono-s16", codec: "pcm-fixed-zstd-v2",
                        note: "1 channel, S16 range including -32768 and 32767", values: .pcm(channels: 1, samples: mono16, note: "S16")))
        var stereo16: [Int32] = []
        for i in 0..<25 {
            stereo16.append(Int32(Int(r.next() % 65536) - 32768))         // noise: order 0
            stereo16.append(Int32(-32768 + 2600 * i))                      // a ramp: order 2 predicts it exactly
        }
        v.append(Vector(name: "pcm-stereo-s16", codec: "pcm-fixed-zstd-v2",
                        note: "2 channels, S16 range: noise on channel 0, a ramp on channel 1 (different orders per channel)",
                        values: .pcm(channels: 2, samples: stereo16, note: "S16")))
        var stereo32: [Int32] = [Int32.min, Int32.max, Int32.max, Int32.min, 0, -1]
        for i in 0..<16 {
            stereo32.append(Int32(bitPattern: r.next()))
            stereo32.append(Int32(truncatingIfNeeded: Int64(i) * Int64(i) * 7_000_000 - 900_000_000))  // a parabola: order 3
        }
        v.append(Vector(name: "pcm-stereo-s32", codec: "pcm-fixed-zstd-v2",
                        note: "2 channels, full Int32 range including Int32.min and Int32.max (predictions wrap mod 2^32)",
                        values: .pcm(channels: 2, samples: stereo32, note: "S32")))
        v.append(Vector(name: "pcm-mono-3frames-v1", codec: "pcm-fixed-zstd-v1",
                        note: "fewer frames than the warm-up of order 4; no checksum",
                        values: .pcm(channels: 1, samples: [8_388_607, -8_388_608, 5], note: "S24")))
        v.append(Vector(name: "pcm-empty-2ch", codec: "pcm-fixed-zstd-v2", note: "a chunk of 0 frames: header only, no zstd frames",
                        values: .pcm(channels: 2, samples: [], note: "S16")))
        let three: [Int32] = (0..<(3 * 11)).map { i in
            let f = Int32(i / 3), c = i % 3
            return c == 0 ? f * f * f - 40 * f : c == 1 ? 7 : Int32(bitPattern: r.next()) >> 8
        }
        v.append(Vector(name: "pcm-3ch-orders", codec: "pcm-fixed-zstd-v2",
                        note: "3 channels: a cubic (order 4), a constant (order 1), S24-range noise (order 0)",
                        values: .pcm(channels: 3, samples: three, note: "S24")))
        v.append(Vector(name: "pcm-raw-crc-2ch", codec: "pcm-raw-s32le-crc32c", note: "uncompressed with checksum",
                        values: .pcm(channels: 2, samples: [1, -1, Int32.max, Int32.min], note: "S32")))
        v.append(Vector(name: "pcm-raw-mono", codec: "pcm-raw-s32le", note: "uncompressed",
                        values: .pcm(channels: 1, samples: [0, 256, -256], note: "S32")))
        return v
    }()

    static let directory = repositoryRoot() + "/schemas/test-vectors"

    static func encode(_ v: Vector) throws -> [UInt8] {
        switch v.values {
        case let .frame(width, height, pixels):
            return try FrameEncoder(codec: FrameCodecName(stored: v.codec)).encode(pixels, width: width, height: height)
        case let .pcm(channels, samples, _):
            return try PCMEncoder(codec: PCMCodecName(stored: v.codec)).encode(samples, channels: channels)
        }
    }

    static func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

    static func json(_ v: Vector, payload: [UInt8]) -> String {
        var l = "    {\"name\": \"\(v.name)\", \"codec\": \"\(v.codec)\", \"file\": \"\(v.name).bin\", \"payload_bytes\": \(payload.count),\n"
        l += "     \"note\": \"\(v.note)\",\n"
        switch v.values {
        case let .frame(width, height, pixels):
            l += "     \"table\": \"thermal_frame\", \"width\": \(width), \"height\": \(height),\n"
            l += "     \"pixels\": [" + pixels.map(String.init).joined(separator: ", ") + "]}"
        case let .pcm(channels, samples, range):
            l += "     \"table\": \"audio_chunk\", \"channels\": \(channels), \"frame_count\": \(samples.count / channels), \"sample_range\": \"\(range)\",\n"
            l += "     \"samples\": [" + samples.map(String.init).joined(separator: ", ") + "]}"
        }
        return l
    }

    /// Writes the vectors (TRW_WRITE_TEST_VECTORS=1 only).
    @Test func writeWhenAsked() throws {
        guard ProcessInfo.processInfo.environment["TRW_WRITE_TEST_VECTORS"] == "1" else { return }
        try FileManager.default.createDirectory(atPath: Self.directory, withIntermediateDirectories: true)
        var entries: [String] = []
        for v in Self.vectors {
            let payload = try Self.encode(v)
            try Data(payload).write(to: URL(fileURLWithPath: Self.directory + "/" + v.name + ".bin"))
            entries.append(Self.json(v, payload: payload))
        }
        let text = "{\"format\": \"trw-codec-test-vectors-1\",\n \"written_by\": \"Tests/TRWCodecTests/TestVectorTests.swift with libzstd \(ZstdInfo.version)\",\n"
            + " \"vectors\": [\n" + entries.joined(separator: ",\n") + "\n]}\n"
        try text.write(toFile: Self.directory + "/vectors.json", atomically: true, encoding: .utf8)
    }

    struct Stored {
        let name: String, codec: String, table: String, file: String
        let width: Int?, height: Int?, channels: Int?, frameCount: Int?
        let values: [Int64]
    }

    static func stored() throws -> [Stored] {
        let data = try Data(contentsOf: URL(fileURLWithPath: directory + "/vectors.json"))
        let root = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(root["format"] as? String == "trw-codec-test-vectors-1")
        let list = try #require(root["vectors"] as? [[String: Any]])
        return try list.map { d in
            let table = try #require(d["table"] as? String)
            let values = try #require((d[table == "thermal_frame" ? "pixels" : "samples"] as? [NSNumber])?.map(\.int64Value))
            return Stored(name: try #require(d["name"] as? String), codec: try #require(d["codec"] as? String), table: table,
                          file: try #require(d["file"] as? String), width: d["width"] as? Int, height: d["height"] as? Int,
                          channels: d["channels"] as? Int, frameCount: d["frame_count"] as? Int, values: values)
        }
    }

    @Test func everyCodecHasAVector() throws {
        let codecs = Set(try Self.stored().map(\.codec))
        #expect(codecs == Set(FrameCodecName.allCases.map(\.rawValue) + PCMCodecName.allCases.map(\.rawValue)))
        #expect(try Self.stored().map(\.name) == Self.vectors.map(\.name))
    }

    @Test func vectorsDecodeExactlyAndReencodeToTheSameBytes() throws {
        let frames = try FrameDecoder(), pcm = try PCMDecoder()
        for s in try Self.stored() {
            let payload = [UInt8](try Data(contentsOf: URL(fileURLWithPath: Self.directory + "/" + s.file)))
            let vector = try #require(Self.vectors.first { $0.name == s.name })
            #expect(vector.codec == s.codec, "\(s.name)")
            switch vector.values {
            case let .frame(width, height, pixels):
                #expect(s.width == width && s.height == height, "\(s.name)")
                #expect(s.values == pixels.map(Int64.init), "\(s.name): vectors.json values")
                let decoded = try frames.decode(payload, codec: s.codec, width: width, height: height)
                #expect(decoded == pixels, "\(s.name): decoded values")
            case let .pcm(channels, samples, _):
                #expect(s.channels == channels && s.frameCount == samples.count / channels, "\(s.name)")
                #expect(s.values == samples.map(Int64.init), "\(s.name): vectors.json values")
                let decoded = try pcm.decode(payload, codec: s.codec, channels: channels, frameCount: samples.count / channels)
                #expect(decoded == samples, "\(s.name): decoded values")
            }
            #expect(try Self.encode(vector) == payload, "\(s.name): re-encoded bytes")
        }
    }

    @Test func aFlippedBitInAChecksummedVectorIsCaught() throws {
        for s in try Self.stored() where s.codec.hasSuffix("-v2") || s.codec.hasSuffix("-crc32c") {
            var payload = [UInt8](try Data(contentsOf: URL(fileURLWithPath: Self.directory + "/" + s.file)))
            payload[payload.count / 2] ^= 0x10
            #expect(throws: CodecError.self, "\(s.name)") {
                if s.table == "thermal_frame" {
                    _ = try FrameDecoder().decode(payload, codec: s.codec, width: s.width ?? 0, height: s.height ?? 0)
                } else {
                    _ = try PCMDecoder().decode(payload, codec: s.codec, channels: s.channels ?? 0, frameCount: s.frameCount ?? 0)
                }
            }
        }
    }
}
