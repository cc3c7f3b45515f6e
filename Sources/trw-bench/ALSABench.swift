import Foundation
import Logging
@_spi(Testing) import TRWALSA
import TRWAcoustics
import TRWCore
import TRWRecorder
import TRWStore

/// Counts frames and, optionally, runs the AE hit detector on the capture
/// thread itself (as the recorder's live tap would): one core does both.
private final class BenchSink: SampleSink, @unchecked Sendable {
    // @unchecked: `emit` is called only from the source's capture thread, which
    // is the thread that runs `run(into:)` here; the fields are read after it returns.
    var detector: AEHitDetector?
    var frames = 0
    var hits = 0
    var gaps = 0
    init(detector: AEHitDetector?) { self.detector = detector }
    func emit(_ event: SourceEvent, stream: String, mode: EmitMode) -> Bool {
        switch event {
        case let .audio(chunk):
            frames += chunk.frameCount
            if detector != nil { hits += detector!.process(chunk).count }
        case .gap:
            gaps += 1
        default:
            break
        }
        return true
    }
}

/// `make bench` for issue 6: AE capture (real alsa-lib, `file` plugin on a
/// `null` slave, unpaced) and live hit detection for 2 channels at 192 kHz
/// S32_LE, as multiples of real time on one core. Storage is the recorder's
/// and is measured there. Prints one line per measurement; best of 5 runs.
func runALSABench() throws {
    let rate = 192_000, channels = 2, format = SampleFormat.s32le
    let seconds = 20
    let settings = AEDetectorSettings(thresholdDbAE: 40, hdtS: 200e-6, pdtS: 50e-6, hltS: 1e-3,
                                      adcFullScaleV: 1, preampGainDb: 40)
    // One second with 50 bursts per channel (45–85 dB_AE) on 5 µV of noise, tiled.
    var bursts: [[AEBurst]] = [[], []]
    var seed: UInt64 = 42
    func next() -> Double {
        seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return Double(seed >> 11) / Double(1 << 53)
    }
    for ch in 0..<channels {
        for k in 0..<50 {
            bursts[ch].append(AEBurst(startS: Double(k) * 0.02 + 0.015 * next(), peakDbAE: 45 + 40 * next(),
                                      riseS: 10e-6 + 90e-6 * next(), decayS: 200e-6 + 2e-3 * next(),
                                      carrierHz: 20_000 + 60_000 * next()))
        }
    }
    let second = AESignal.render(frames: rate, channels: channels, sampleRate: Double(rate), format: format,
                                 settings: settings, bursts: bursts, noiseV: 5e-6, seed: 7)
    var raw = [UInt8]()
    raw.reserveCapacity(second.count * 4)
    for s in second {
        let v = UInt32(bitPattern: s)
        raw.append(UInt8(truncatingIfNeeded: v)); raw.append(UInt8(truncatingIfNeeded: v >> 8))
        raw.append(UInt8(truncatingIfNeeded: v >> 16)); raw.append(UInt8(truncatingIfNeeded: v >> 24))
    }
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("trw-alsa-bench-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let infile = dir.appendingPathComponent("ae.raw")
    var all = Data(capacity: raw.count * seconds)
    for _ in 0..<seconds { all.append(contentsOf: raw) }
    try all.write(to: infile)
    let conf = dir.appendingPathComponent("asound.conf").path
    try """
        pcm.trw_bench { type file slave.pcm { type null } file "/dev/null" infile "\(infile.path)" format "raw" }

        """.write(toFile: conf, atomically: true, encoding: .utf8)

    var quiet = Logger(label: "trw.bench.alsa")
    quiet.logLevel = .warning  // the source logs start/stop at info
    let audioS = Double(seconds)
    func report(_ what: String, _ bestNs: Int64, _ extra: String) {
        let x = audioS / (Double(bestNs) / 1e9)
        print(String(format: "alsa: %@: %.0f s of 2 ch 192 kHz S32_LE in %.3f s = %.0fx real time%@",
                     what, audioS, Double(bestNs) / 1e9, x, extra))
    }

    // 1. Detector alone, on 20 ms chunks already in memory.
    let chunkFrames = rate / 50
    var chunks: [AudioChunk] = []
    for c in 0..<(seconds * 50) {
        let off = (c % 50) * chunkFrames * channels
        chunks.append(AudioChunk(firstSampleIndex: Int64(c * chunkFrames), channels: channels, format: format,
                                 samples: Array(second[off..<(off + chunkFrames * channels)]), hostArrivalNs: 0))
    }
    var best = Int64.max
    var hitCount = 0
    for _ in 0..<5 {
        var det = AEHitDetector(channels: channels, sampleRate: Double(rate), format: format, settings: settings)
        let t0 = HostClock.monotonicNanoseconds()
        var n = 0
        for c in chunks { n += det.process(c).count }
        n += det.flush().count
        best = min(best, HostClock.monotonicNanoseconds() - t0)
        hitCount = n
    }
    report("hit detection", best, String(format: " (%d hits, goal >= 50x)", hitCount))

    // 2. and 3. Capture through alsa-lib, without and with detection on the capture thread.
    for detect in [false, true] {
        var bestCapture = Int64.max
        var hits = 0
        for _ in 0..<5 {
            let source = try ALSACaptureSource(
                config: ALSACaptureConfig(device: "trw_bench", rateHz: rate, channels: channels, format: format,
                                          frameLimit: Int64(rate * seconds)),
                alsaConfigOverlay: conf, logger: quiet)
            let sink = BenchSink(detector: detect ? AEHitDetector(stream: source.streams[0], settings: settings) : nil)
            let t0 = HostClock.monotonicNanoseconds()
            try source.run(into: sink)
            if var d = sink.detector { sink.hits += d.flush().count }
            bestCapture = min(bestCapture, HostClock.monotonicNanoseconds() - t0)
            precondition(sink.frames == rate * seconds && sink.gaps == 0, "bench capture lost frames")
            hits = sink.hits
            // Captured through alsa-lib, the data gives exactly the hits it gives in memory.
            precondition(!detect || hits == hitCount, "capture + detection found \(hits) hits, in memory \(hitCount)")
        }
        report(detect ? "capture + hit detection" : "capture", bestCapture,
               detect ? String(format: " (%d hits, goal >= 50x)", hits) : "")
    }

    // 4. Capture + hit detection + storage: the recorder (lane: clock, levels,
    //    hits; PCM codec; writer) into a session file, as when recording.
    do {
        var best = Int64.max
        var storedHits = 0, bytes: Int64 = 0
        for _ in 0..<3 {
            var cfg = ALSACaptureConfig(device: "trw_bench", rateHz: rate, channels: channels, format: format,
                                        frameLimit: Int64(rate * seconds))
            cfg.detector = settings
            let source = try ALSACaptureSource(config: cfg, alsaConfigOverlay: conf, logger: quiet)
            let dir = NSTemporaryDirectory() + "trw-bench-alsa-\(getpid())-\(UUID().uuidString.prefix(6))"
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: dir) }
            var o = RecorderOptions(name: "alsa-bench", outputPath: dir + "/a.sqlite", rigName: "alsa file plugin")
            o.realTime = false
            let rec = Recorder(sources: [source], options: o, logger: quiet)
            let t0 = HostClock.monotonicNanoseconds()
            try rec.start()
            let res = rec.wait()
            best = min(best, HostClock.monotonicNanoseconds() - t0)
            precondition(res.status == .complete, "bench recording failed: \(res.detail)")
            let summary = try SessionReader(path: o.outputPath).summary()
            let ae = summary.streams.first { $0.stream.kind == "ae" }!
            precondition(ae.sampleFrames == Int64(rate * seconds) && ae.lostTotal == 0, "bench recording lost frames")
            storedHits = ae.hits
            bytes = ae.payloadBytes
        }
        report("capture + hit detection + storage", best,
               String(format: " (%d hits stored, PCM stored at %.2fx, goal >= 50x)", storedHits,
                      Double(rate * seconds * channels * 4) / Double(max(bytes, 1))))
    }
}
