import Testing
import TRWCodec

/// Codec names and bitstreams are stored in session files: a rename or a
/// changed bitstream would make old files unreadable. These payloads were
/// written by the first version of each codec; they must decode forever.
@Suite struct FormatStabilityTests {
    @Test func codecNamesAreStable() {
        #expect(FrameCodecName.allCases.map(\.rawValue) == ["raw16le", "delta16-shuffle-zstd1", "pfit16-zstd-v1",
                                                           "pfit16-zstd-v2", "raw16le-crc32c"])
        #expect(PCMCodecName.allCases.map(\.rawValue) == ["pcm-raw-s32le", "pcm-fixed-zstd-v1", "pcm-fixed-zstd-v2",
                                                         "pcm-raw-s32le-crc32c"])
        #expect(FrameCodecName.default.rawValue == "pfit16-zstd-v2" && PCMCodecName.default.rawValue == "pcm-fixed-zstd-v2")
    }

    static let pixels: [UInt16] = (0..<45).map { i in
        UInt16(truncatingIfNeeded: 29_800 + (i % 9) * 37 + (i / 9) * 101 + (i * 7919) % 13)
    }

    static let pfitPayload: [UInt8] = [
        1, 1, 9, 0, 0, 0, 5, 0, 0, 0, 40, 181, 47, 253, 32, 45, 105, 1, 0, 208, 78, 78, 78, 78, 78, 78, 52, 78, 212,
        144, 144, 144, 118, 132, 132, 144, 144, 212, 144, 118, 9, 1, 6, 144, 144, 118, 186, 132, 144, 6, 6, 8, 118,
        132, 144, 212, 144, 144, 17, 9, 3, 144, 144, 144, 40, 181, 47, 253, 32, 45, 105, 1, 0, 232,
    ] + [UInt8](repeating: 0, count: 44)

    static let deltaPayload: [UInt8] = [
        40, 181, 47, 253, 32, 90, 45, 1, 0, 184, 208, 78, 52, 78, 212, 78, 78, 78, 52, 78, 78, 78, 78, 212, 78, 52,
        186, 78, 78, 212, 78, 232, 0, 5, 0, 224, 204, 232, 233, 6, 192, 67, 101, 210, 5, 176,
    ]

    static let pcmPayload: [UInt8] = [
        1, 2, 5, 0, 0, 0, 3, 0, 40, 181, 47, 253, 32, 10, 81, 0, 0, 0, 208, 159, 254, 191, 10, 44, 14, 252, 1, 40,
        181, 47, 253, 32, 10, 81, 0, 0, 0, 7, 15, 255, 224, 0, 209, 0, 211, 0, 40, 181, 47, 253, 32, 10, 81, 0, 0,
        0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 40, 181, 47, 253, 32, 10, 81, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ]

    @Test func storedFramePayloadsStillDecode() throws {
        let decoder = try FrameDecoder()
        #expect(try decoder.decode(Self.pfitPayload, codec: "pfit16-zstd-v1", width: 9, height: 5) == Self.pixels)
        #expect(try decoder.decode(Self.deltaPayload, codec: "delta16-shuffle-zstd1", width: 9, height: 5) == Self.pixels)
    }

    @Test func storedPCMPayloadStillDecodes() throws {
        let samples: [Int32] = [0, 1000, -2000, 32767, -32768, 5, 6, 7, 123_456, -1]
        #expect(try PCMDecoder().decode(Self.pcmPayload, codec: "pcm-fixed-zstd-v1", channels: 2, frameCount: 5) == samples)
    }

    // Issue 17: the checksummed ids are the v1 bytes plus CRC-32C (LE). The trailers
    // below were computed with an independent bit-by-bit CRC-32C (Python), not with trw.
    static let pfitV2Payload = pfitPayload + [9, 121, 41, 22]
    static let pcmV2Payload = pcmPayload + [142, 143, 178, 230]

    @Test func storedChecksummedPayloadsDecodeAndEncodeIdentically() throws {
        let samples: [Int32] = [0, 1000, -2000, 32767, -32768, 5, 6, 7, 123_456, -1]
        #expect(try FrameDecoder().decode(Self.pfitV2Payload, codec: "pfit16-zstd-v2", width: 9, height: 5) == Self.pixels)
        // The v2 encoder writes exactly the v1 bitstream plus its CRC-32C.
        let v2 = try FrameEncoder(codec: .planeFitZstdChecked).encode(Self.pixels, width: 9, height: 5)
        let v1 = try FrameEncoder(codec: .planeFitZstd).encode(Self.pixels, width: 9, height: 5)
        #expect(Array(v2.dropLast(4)) == v1)
        let c = PayloadChecksum.crc32c(v1)
        #expect(Array(v2.suffix(4)) == [UInt8(c & 0xFF), UInt8(c >> 8 & 0xFF), UInt8(c >> 16 & 0xFF), UInt8(c >> 24)])
        #expect(try PCMDecoder().decode(Self.pcmV2Payload, codec: "pcm-fixed-zstd-v2", channels: 2, frameCount: 5) == samples)
        #expect(try PCMEncoder(codec: .fixedZstdChecked).encode(samples, channels: 2) == Self.pcmV2Payload)
        // raw16le-crc32c of the 2x1 frame [0x0102, 0x0304] (schemas/payload-codecs.md).
        #expect(try FrameEncoder(codec: .raw16Checked).encode([0x0102, 0x0304], width: 2, height: 1) == [2, 1, 4, 3, 16, 104, 155, 15])
    }
}
