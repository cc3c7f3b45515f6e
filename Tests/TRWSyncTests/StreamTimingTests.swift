import Foundation
import TRWCore
import Testing
@testable import TRWSync

/// The per-stream façades the recorder (online) and `trw resync` (offline) call.
@Suite struct StreamTimingTests {
    /// 50 Hz camera, frame clock -120 ppm, monotonic end-of-frame driver timestamps with
    /// 100 us Gaussian jitter, 0.5 % dropped frames, exposure-to-timestamp 8 ms.
    static func camera(seed: UInt64, count: Int = 9000) -> (frames: [ThermalFrame], exposure: [Double]) {
        var d = Draw(seed: seed)
        var frames: [ThermalFrame] = [], exposure: [Double] = []
        for n in 0..<count {
            if d.uniform() < 0.005 { continue }
            let tExp = 2e9 + Double(n) * 20e6 / (1 - 120e-6)
            let stamp = Int64((tExp + 8e6 + 100_000 * d.gaussian()).rounded())
            frames.append(ThermalFrame(width: 1, height: 1, pixels: [0], sequence: Int64(n), deviceTimestampNs: stamp,
                                       hostArrivalNs: stamp + 3_000_000 + Int64(d.exponential(mean: 1e6))))
            exposure.append(tExp)
        }
        return (frames, exposure)
    }

    /// Sequence dejitter: offline, every frame's exposure start within 10 us of truth
    /// (raw driver timestamps are off by 100 us rms), drift within 0.5 ppm, no break at drops;
    /// online (causal), within 50 us after the first 30 s.
    @Test func cameraSequenceDejitter() {
        let (frames, exposure) = Self.camera(seed: 3)
        let cfg = VideoClockConfig(timebase: .sequenceDejitter, exposureToTimestampNs: 8_000_000, nominalFps: 50)
        let stored = frames.map { StoredFrameTime(sequence: $0.sequence, deviceTimestampNs: $0.deviceTimestampNs,
                                                  hostArrivalNs: $0.hostArrivalNs, tNs: 0) }
        let plan = ResyncPlanner.thermal(frames: stored, config: cfg, oldModel: nil, sessionStartMonotonicNs: 0)
        #expect(plan.newModel.segments.count == 1)
        #expect(abs(plan.newModel.segments[0].driftPpm - (-120)) <= 0.5)
        var worst = 0.0
        for (i, t) in plan.newTNs.enumerated() { worst = max(worst, abs(Double(t) - exposure[i])) }
        #expect(worst <= 10_000, "offline exposure error \(worst) ns")

        var online = OnlineStreamClock(timing: .thermal(cfg))
        var worstOnline = 0.0
        for (i, f) in frames.enumerated() {
            let t = online.time(frame: f)
            if f.sequence > 1500 { worstOnline = max(worstOnline, abs(Double(t) - exposure[i])) }
            if i > 0 && f.sequence != frames[i - 1].sequence + 1 {
                online.gap(GapEvent(kind: .frameDrop, startHostNs: f.hostArrivalNs, lostCount: 1, detail: ""))
            }
        }
        #expect(worstOnline <= 50_000, "online exposure error \(worstOnline) ns")
        #expect(online.model.segments.count == 1)
    }

    /// AE through the recorder façade: chunks of 1024 samples at 96 kHz with an htstamp
    /// pair each, xrun GapEvent before a chunk whose samples start 0.5 s later than the index
    /// says. The online chunk times stay within 100 us of truth after 20 s and after the
    /// xrun's first 20 s; the offline resync is within 50 us everywhere and keeps the two segments.
    @Test func audioFacadeWithXrun() {
        var d = Draw(seed: 9)
        let rate = 96_000.0, eff = rate * (1 + 40e-6)
        let xrunIndex: Int64 = 1024 * 5000
        func truth(_ i: Int64) -> Double { 1e9 + Double(i) / eff * 1e9 + (i >= xrunIndex ? 0.5e9 : 0) }
        var online = OnlineStreamClock(timing: .ae(nominalRateHz: rate, oneSided: true))
        var chunks: [StoredChunkTime] = [], pairs: [AudioClockPair] = []
        for k in 0..<10_000 {
            let first = Int64(k) * 1024
            if first == xrunIndex { online.gap(GapEvent(kind: .xrun, startHostNs: 0, lostCount: 48_000, detail: "")) }
            let pair = AudioClockPair(sampleIndex: first + 1024, hostNs: Int64(truth(first + 1024) + d.exponential(mean: 150_000)))
            let chunk = AudioChunk(firstSampleIndex: first, channels: 1, format: .s16le, samples: [Int32](repeating: 0, count: 1024),
                                   hostArrivalNs: pair.hostNs + 200_000, clockPair: pair)
            let t = online.time(chunk: chunk)
            let sinceStart = Double(first % xrunIndex) / rate
            if sinceStart > 20 { #expect(abs(Double(t) - truth(first)) <= 100_000, "online chunk \(k)") }
            chunks.append(StoredChunkTime(firstSampleIndex: first, hostArrivalNs: chunk.hostArrivalNs, tNs: t - 1_000_000))
            pairs.append(pair)
        }
        #expect(online.model.segments.map(\.reason) == [.start, .xrun])
        // The xrun's sample index recovered from its gap's host time and the stored chunks.
        #expect(ResyncPlanner.xrunSampleIndices(xrunGapStartHostNs: [chunks[4999].hostArrivalNs + 1], chunks: chunks) == [xrunIndex])
        let plan = ResyncPlanner.audio(chunks: chunks, pairs: pairs, xrunSampleIndices: [xrunIndex], nominalRateHz: rate,
                                       oldModel: online.model, sessionStartMonotonicNs: 1_000_000)
        #expect(plan.newModel.segments.map(\.reason) == [.start, .xrun])
        var worst = 0.0
        for (i, c) in chunks.enumerated() { worst = max(worst, abs(Double(plan.newTNs[i] + 1_000_000) - truth(c.firstSampleIndex))) }
        #expect(worst <= 50_000, "offline chunk error \(worst) ns")
        #expect(plan.moved.segments.map(\.samples) == [5000, 5000])
    }

    /// Serial resync with some lines lacking the device clock: those get arrival minus
    /// transmission time exactly; the others go through the fitted model (within 750 us of
    /// truth: 500 us of it the ms resolution).
    @Test func serialMixedResync() {
        var d = Draw(seed: 4)
        let cfg = SerialClockConfig(baud: 9_600)
        var readings: [StoredReadingTime] = [], truth: [Double] = []
        for i in 0..<900 {
            let t = 5e9 + Double(i) * 1e9
            let bytes = 40
            let arrival = Int64(t) + SerialClock.transmissionTimeNs(bytes: bytes, baud: 9_600) + Int64(d.exponential(mean: 3e6))
            let dev: Double? = i % 10 == 3 ? nil : ((100 + t / 1e9 * (1 - 70e-6)) * 1e3).rounded() / 1e3
            readings.append(StoredReadingTime(hostArrivalNs: arrival, deviceTimeS: dev, lineBytes: bytes, tNs: arrival))
            truth.append(t)
        }
        let plan = ResyncPlanner.bms(readings: readings, config: cfg, deviceResolutionNs: 1_000_000, oldModel: nil,
                                     sessionStartMonotonicNs: 0)
        #expect(plan.newModel.segments.count == 1)
        #expect(abs(plan.newModel.segments[0].driftPpm - (-70)) <= 2)
        for (i, r) in readings.enumerated() {
            if r.deviceTimeS == nil {
                #expect(plan.newTNs[i] == r.hostArrivalNs - SerialClock.transmissionTimeNs(bytes: 40, baud: 9_600))
            } else {
                #expect(abs(Double(plan.newTNs[i]) - truth[i]) <= 750_000)
            }
        }
        #expect(plan.moved.samples == 900)
        #expect(plan.moved.maxAbsDeltaNs == zip(plan.newTNs, readings).map { abs($0 - $1.tNs) }.max())
    }

    /// The report shows drift, offset, jitter and segments per stream, and the predicted
    /// alignment: sigma_ab = sqrt(sigma_a^2 + sigma_b^2) with the given unmodelled parts.
    @Test func report() throws {
        let c = TrueClock(deviceAtZero: 2e9, unitsPerNs: 1, driftPpm: 25)
        let pairs = makePairs(clock: c, startNs: 0, periodNs: 20e6, count: 3000, jitter: .gaussian(sigmaNs: 60_000), seed: 2)
        let m = ClockFitter(mode: .symmetric).fit(pairs, breaks: [ClockBreak(.pairIndex(1500), reason: .gap)])
        // A 1 ms device clock: uniform rounding, 1 ms / sqrt(12) = 288.7 us.
        let bmsTiming = StreamTiming.bms(SerialClockConfig(), deviceResolutionNs: 1_000_000)
        #expect(abs(bmsTiming.unmodelledNs - 288_675.13) < 0.01)
        let r = SyncReport(models: [("ir0", m), ("bms0", .identity)], unmodelledNs: ["bms0": 300_000])
        #expect(r.streams.count == 2)
        #expect(abs(r.streams[0].driftPpm - 25) <= 1)
        #expect(abs(r.streams[0].residualRmsNs - 60_000) <= 6_000)
        #expect(r.streams[0].segmentReasons == [.start, .gap])
        #expect(r.alignment.count == 1)
        let expected = (r.streams[0].timeStdErrNs * r.streams[0].timeStdErrNs + 300_000.0 * 300_000).squareRoot()
        #expect(abs(r.alignment[0].sigmaNs - expected) < 1e-6)
        let text = r.text
        #expect(text.contains("ir0") && text.contains("segments start at: start, gap") && text.contains("alignment ir0-bms0"))
        let data = try JSONEncoder().encode(r)
        #expect(try JSONDecoder().decode(SyncReport.self, from: data) == r)
    }
}
