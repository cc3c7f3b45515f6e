import Testing
import TRWCodec
import TRWTestSupport

/// Issue 17 item 3: a stored payload that changed after it was written never
/// decodes to values; it fails with `checksumMismatch` (or another CodecError).
@Suite struct PayloadChecksumFaultTests {
    @Test func crc32cTestVectors() {
        #expect(PayloadChecksum.crc32c(Array("123456789".utf8)) == 0xE306_9283)
        #expect(PayloadChecksum.crc32c([UInt8]()) == 0)
        // RFC 3720 B.4: 32 bytes of zeros, and of 0xFF.
        #expect(PayloadChecksum.crc32c([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)
        #expect(PayloadChecksum.crc32c([UInt8](repeating: 0xFF, count: 32)) == 0x62A8_AB43)
    }

    @Test func hardwareAndTableVariantsAgree() {
        var rng = SplitMix64(seed: 17)
        for n in [0, 1, 3, 7, 8, 9, 15, 16, 63, 64, 65, 1000, 4099] {
            let bytes = (0..<n).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            #expect(PayloadChecksum.crc32c(bytes, hardware: false) == PayloadChecksum.crc32c(bytes, hardware: true), "length \(n)")
            // Unaligned start.
            if n > 1 {
                let tail = Array(bytes.dropFirst())
                #expect(PayloadChecksum.crc32c(tail, hardware: false) == PayloadChecksum.crc32c(tail, hardware: true))
            }
        }
    }

    /// Every single-bit flip anywhere in a checksummed frame payload is caught.
    @Test(arguments: [FrameCodecName.planeFitZstdChecked, .raw16Checked])
    func everySingleBitFlipInAFrameIsCaught(codec: FrameCodecName) throws {
        let px = TestFrames.thermal(width: 12, height: 8, seed: 3)
        let good = try FrameEncoder(codec: codec).encode(px, width: 12, height: 8)
        let dec = try FrameDecoder()
        #expect(try dec.decode(good, codec: codec.rawValue, width: 12, height: 8) == px)
        for bit in 0..<(good.count * 8) {
            var bad = good
            bad[bit / 8] ^= UInt8(1 << (bit % 8))
            #expect(throws: CodecError.self, "bit \(bit)") { _ = try dec.decode(bad, codec: codec.rawValue, width: 12, height: 8) }
        }
    }

    @Test(arguments: [PCMCodecName.fixedZstdChecked, .rawS32Checked])
    func everySingleBitFlipInAChunkIsCaught(codec: PCMCodecName) throws {
        let samples: [Int32] = (0..<64).map { Int32(truncatingIfNeeded: ($0 * 7919) % 5000 - 2500) }
        let good = try PCMEncoder(codec: codec).encode(samples, channels: 2)
        let dec = try PCMDecoder()
        #expect(try dec.decode(good, codec: codec.rawValue, channels: 2, frameCount: 32) == samples)
        for bit in 0..<(good.count * 8) {
            var bad = good
            bad[bit / 8] ^= UInt8(1 << (bit % 8))
            #expect(throws: CodecError.self, "bit \(bit)") { _ = try dec.decode(bad, codec: codec.rawValue, channels: 2, frameCount: 32) }
        }
    }

    /// The issue's fault: two bit flips per 640x480 frame blob, and 8 KB overwritten.
    @Test func twoBitFlipsAndAnOverwrittenBlockAreChecksumMismatches() throws {
        let px = TestFrames.thermal(width: 640, height: 480, seed: 9, noiseCounts: 20)
        let good = try FrameEncoder().encode(px, width: 640, height: 480)
        let dec = try FrameDecoder()
        var rng = SplitMix64(seed: 1)
        for _ in 0..<20 {
            var bad = good
            for _ in 0..<2 {
                let bit = Int(rng.next() % UInt64(good.count * 8))
                bad[bit / 8] ^= UInt8(1 << (bit % 8))
            }
            if bad == good { continue }  // two flips of the same bit cancel
            #expect(throws: CodecError.self) { _ = try dec.decode(bad, codec: "pfit16-zstd-v2", width: 640, height: 480) }
        }
        var page = good
        let start = good.count / 3
        for i in start..<min(good.count, start + 8192) { page[i] = 0xA5 }
        let result = Result { () throws(CodecError) -> [UInt16] in try dec.decode(page, codec: "pfit16-zstd-v2", width: 640, height: 480) }
        switch result {
        case .success: Issue.record("an overwritten block decoded")
        case .failure(let e):
            #expect(e == .checksumMismatch(codec: "pfit16-zstd-v2", stored: storedTrailer(page), computed: PayloadChecksum.crc32c(page.dropLast(4))))
            #expect(e.description.contains("damaged pfit16-zstd-v2 payload"))
        }
    }

    func storedTrailer(_ p: [UInt8]) -> UInt32 {
        let n = p.count - 4
        return UInt32(p[n]) | UInt32(p[n + 1]) << 8 | UInt32(p[n + 2]) << 16 | UInt32(p[n + 3]) << 24
    }

    @Test func verifyWithoutDecodingNamesUnchecksummedCodecs() throws {
        let px = TestFrames.thermal(width: 8, height: 4, seed: 1)
        let v1 = try FrameEncoder(codec: .planeFitZstd).encode(px, width: 8, height: 4)
        let v2 = try FrameEncoder(codec: .planeFitZstdChecked).encode(px, width: 8, height: 4)
        #expect(try PayloadChecksum.verify(v1, storedCodec: "pfit16-zstd-v1") == false)
        #expect(try PayloadChecksum.verify(v2, storedCodec: "pfit16-zstd-v2") == true)
        #expect(throws: CodecError.self) { try PayloadChecksum.verify(v2, storedCodec: "no-such-codec") }
        #expect(throws: CodecError.self) { try PayloadChecksum.verify([1, 2], storedCodec: "pfit16-zstd-v2") }
    }
}
