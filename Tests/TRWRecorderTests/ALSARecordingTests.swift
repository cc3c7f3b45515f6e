import Foundation
import Testing
import TRWAcoustics
import TRWCodec
import TRWCore
import TRWStore
import TRWTestSupport
import TRWSimulator
@_spi(Testing) import TRWALSA
@testable import TRWRecorder

/// Issue 6: a known AE signal through real alsa-lib (the `file` plugin on a
/// test-only configuration), through the recorder into the session: the stored
/// PCM is byte-exact and the stored hits are the hits of the known signal.
@Suite struct ALSARecordingTests {
    /// Records `signal` (interleaved S32) through alsa-lib's `file` plugin and the recorder;
    /// returns the reader and the AE stream.
    func recordThroughALSA(_ signal: [Int32], rate: Int, channels ch: Int, settings: AEDetectorSettings,
                           dir: TemporaryDirectory) throws -> (SessionReader, StreamRecord) {
        var raw = [UInt8]()
        raw.reserveCapacity(signal.count * 4)
        for s in signal { let u = UInt32(bitPattern: s); raw += [UInt8(u & 0xFF), UInt8((u >> 8) & 0xFF), UInt8((u >> 16) & 0xFF), UInt8(u >> 24)] }
        try Data(raw).write(to: URL(fileURLWithPath: dir.file("in.raw")))
        try """
            pcm.trw_rec_test {
                type file
                slave.pcm { type null }
                file "/dev/null"
                infile "\(dir.file("in.raw"))"
                format "raw"
            }

            """.write(toFile: dir.file("asound.conf"), atomically: true, encoding: .utf8)
        var cfg = ALSACaptureConfig(streamKey: "ae0", device: "trw_rec_test", rateHz: rate, channels: ch, format: .s32le)
        cfg.frameLimit = Int64(signal.count / ch)  // the file plugin has no end of file
        cfg.detector = settings
        let source = try ALSACaptureSource(config: cfg, alsaConfigOverlay: dir.file("asound.conf"))
        var o = RecorderOptions(name: "alsa", outputPath: dir.file("a.sqlite"), rigName: "alsa file plugin")
        o.realTime = false
        let rec = Recorder(sources: [source], options: o)
        try rec.start()
        #expect(rec.wait().status == .complete)
        let reader = try SessionReader(path: o.outputPath)
        return (reader, try #require(try reader.stream(key: "ae0")))
    }

    func storedPCM(_ reader: SessionReader, _ ae: StreamRecord, channels ch: Int) throws -> [Int32] {
        let dec = try PCMDecoder()
        var out: [Int32] = []
        var next: Int64 = 0
        for c in try reader.audioChunks(streamId: ae.id!) {
            #expect(c.firstSampleIndex == next, "chunks are contiguous")
            next += Int64(c.frameCount)
            out += try dec.decode([UInt8](c.payload), codec: c.codec, channels: ch, frameCount: c.frameCount)
        }
        return out
    }

    /// The simulator's AE (background noise, gas-driven bursts, a venting impulse
    /// and hiss) through alsa-lib into the session: byte-exact, hits as offline.
    @Test func simulatorAEThroughALSAIsStoredExactly() throws {
        let rate = 192_000, ch = 2
        var synth = AESynthesizer(sampleRate: rate, channels: ch, format: .s32le, seed: 7)
        var signal: [Int32] = []
        let chunk = 9_600  // 50 ms
        for k in 0..<8 {
            let t0 = Double(k * chunk) / Double(rate)
            let d = AESynthesizer.Drivers(gasRateMolPerS: 2e-4, reactionPowerW: 20, hissStart: k >= 4 ? 0.5 : 0,
                                          hissEnd: k >= 4 ? 0.4 : 0, impulses: k == 4 ? [t0 + 0.01] : [])
            signal += synth.synthesize(frames: chunk, startTime: t0, samplePeriod: 1 / Double(rate), drivers: d)
        }
        let settings = AEDetectorSettings()
        let dir = TemporaryDirectory()
        let (reader, ae) = try recordThroughALSA(signal, rate: rate, channels: ch, settings: settings, dir: dir)
        #expect(try storedPCM(reader, ae, channels: ch) == signal, "stored PCM differs from the simulator's")
        var offline = AEHitDetector(channels: ch, sampleRate: Double(rate), format: .s32le, settings: settings)
        let expected = offline.process(AudioChunk(firstSampleIndex: 0, channels: ch, format: .s32le, samples: signal, hostArrivalNs: 0))
            + offline.flush()
        #expect(!expected.isEmpty, "the simulated signal must contain hits")
        let hits = try reader.aeHits(streamId: ae.id!)
        #expect(hits.map(\.sampleIndex).sorted() == expected.map(\.firstCrossingSampleIndex).sorted())
    }

    @Test func storedPCMAndHitsMatchTheKnownSignal() throws {
        let rate = 192_000, ch = 2, frames = rate / 2  // 0.5 s
        let settings = AEDetectorSettings()
        let bursts: [[AEBurst]] = [
            [AEBurst(startS: 0.05, peakDbAE: 70, riseS: 20e-6, decayS: 300e-6, carrierHz: 45_000),
             AEBurst(startS: 0.30, peakDbAE: 60, riseS: 40e-6, decayS: 500e-6, carrierHz: 30_000)],
            [AEBurst(startS: 0.20, peakDbAE: 65, riseS: 10e-6, decayS: 200e-6, carrierHz: 80_000)],
        ]
        let signal = AESignal.render(frames: frames, channels: ch, sampleRate: Double(rate), format: .s32le,
                                     settings: settings, bursts: bursts, noiseV: 5e-6)
        let dir = TemporaryDirectory()
        let (reader, ae) = try recordThroughALSA(signal, rate: rate, channels: ch, settings: settings, dir: dir)
        #expect(ae.aeDetector == settings)
        #expect(ae.properties["alsa.granted_rate"] == "\(rate)")
        let stored = try storedPCM(reader, ae, channels: ch)
        #expect(stored.count == signal.count)
        #expect(stored == signal, "stored PCM differs from the input")

        var offline = AEHitDetector(channels: ch, sampleRate: Double(rate), format: .s32le, settings: settings)
        let expected = offline.process(AudioChunk(firstSampleIndex: 0, channels: ch, format: .s32le, samples: signal, hostArrivalNs: 0))
            + offline.flush()
        let hits = try reader.aeHits(streamId: ae.id!)
        #expect(expected.count == 3)
        #expect(hits.map(\.channel).sorted() == expected.map(\.channel).sorted())
        #expect(Set(hits.map(\.sampleIndex)) == Set(expected.map(\.firstCrossingSampleIndex)))
        for h in hits {
            let e = try #require(expected.first { $0.firstCrossingSampleIndex == h.sampleIndex })
            #expect(abs(h.amplitudeDb - e.amplitudeDbAE) < 1e-9 && h.counts == e.counts && abs(h.energyV2s - e.energyV2s) <= 1e-12 * max(1, e.energyV2s))
        }
        // A hit's time is its chunk's time plus its offset in samples through the rate (never arrival).
        // (The file plugin is unpaced, so chunk times follow its htstamps, not 192 kHz.) Bound: 1 µs rounding.
        let chunks = try reader.audioChunks(streamId: ae.id!)
        for h in hits {
            let c = try #require(chunks.last { $0.firstSampleIndex <= h.sampleIndex })
            let expectedT = c.tNs + Int64((Double(h.sampleIndex - c.firstSampleIndex) / Double(rate) * 1e9).rounded())
            #expect(abs(h.tNs - expectedT) <= 1_000, "hit at sample \(h.sampleIndex): t \(h.tNs) vs \(expectedT)")
        }
    }
}
