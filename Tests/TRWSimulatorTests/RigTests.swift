import Foundation
import Testing
import TRWCore
@testable import TRWSimulator

/// Collects everything a source emits (single producer thread; read after `run` returns).
final class CollectingSink: SampleSink, @unchecked Sendable {
    var events: [(String, SourceEvent, EmitMode)] = []
    func emit(_ event: SourceEvent, stream: String, mode: EmitMode) -> Bool {
        events.append((stream, event, mode))
        return true
    }
    var frames: [ThermalFrame] { events.compactMap { if case let .thermal(f) = $0.1 { f } else { nil } } }
    var chunks: [AudioChunk] { events.compactMap { if case let .audio(c) = $0.1 { c } else { nil } } }
    var bms: [BMSSample] { events.compactMap { if case let .bms(b) = $0.1 { b } else { nil } } }
    var annotations: [AnnotationEvent] { events.compactMap { if case let .annotation(a) = $0.1 { a } else { nil } } }

    /// FNV-1a over every payload and timestamp, in emission order.
    var digest: UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        func mix(_ v: UInt64) { h = (h ^ v) &* 0x100_0000_01b3 }
        for (stream, e, _) in events {
            for b in stream.utf8 { mix(UInt64(b)) }
            switch e {
            case let .thermal(f):
                mix(UInt64(bitPattern: f.sequence)); mix(UInt64(bitPattern: f.deviceTimestampNs)); mix(UInt64(bitPattern: f.hostArrivalNs))
                for p in f.pixels { mix(UInt64(p)) }
            case let .audio(c):
                mix(UInt64(bitPattern: c.firstSampleIndex)); mix(UInt64(bitPattern: c.hostArrivalNs))
                mix(UInt64(bitPattern: c.clockPair?.hostNs ?? 0))
                for s in c.samples { mix(UInt64(UInt32(bitPattern: s))) }
            case let .bms(b):
                mix(UInt64(bitPattern: b.hostArrivalNs)); for u in b.raw.utf8 { mix(UInt64(u)) }
            case let .annotation(a):
                mix(UInt64(bitPattern: a.startHostNs)); for u in (a.label + a.parametersJSON).utf8 { mix(UInt64(u)) }
            default: mix(0xdead)
            }
        }
        return h
    }
}

/// A demo-like scenario that runs away within ~2 simulated minutes, with tiny sensors.
func quickRig(seed: UInt64 = 7, capS: Double = 40, startSOC: Double = 1.55) throws -> SimulatedRig {
    var s = try loadScenario("demo")
    s.testProtocol.startSOC = startSOC
    s.ambient.temperatureC = 90   // start warm so the run is short
    return SimulatedRig(scenario: s, options: SimulatedRig.Options(
        pacing: .max, irWidth: 32, irHeight: 24, irFPS: 2, aeRateHz: 8000, aeChannels: 2, bmsRateHz: 2, durationCapS: capS,
        gridNX: 16, gridNY: 10, seed: seed, startMonotonicNs: 1_000_000_000))
}

@Suite struct RigTests {
    @Test func emitsAllThreeStreamsWithDeclaredGeometry() throws {
        let rig = try quickRig(capS: 10)
        let sink = CollectingSink()
        try rig.run(into: sink)
        #expect(rig.streams.map(\.key) == ["ir0", "ae0", "bms0"])
        #expect(rig.streams[0].calibration == ThermalCalibration(kelvinPerCount: 0.01, offsetKelvin: 0, emissivity: 0.95))
        #expect(rig.streams[0].properties["sim.clock_drift_ppm"] == "35.0")
        #expect(rig.cell?.chemistry == "NCM")
        #expect(rig.testProtocol?.contains("overcharge 2.0C") == true)
        // 10 s at 2 Hz from t = 0: frames 0...19 (frame 20 falls just after the cap).
        #expect(sink.frames.count >= 20 && sink.frames.count <= 21)
        #expect(sink.frames.allSatisfy { $0.width == 32 && $0.height == 24 })
        #expect(sink.frames.map(\.sequence) == Array(0..<Int64(sink.frames.count)))
        #expect(sink.chunks.allSatisfy { $0.channels == 2 && $0.format == .s16le })
        #expect(sink.bms.count >= 19)
        #expect(sink.events.allSatisfy { $0.2 == .blockIfFull }, "max mode must block, not drop")
        // Host times are virtual: start + simulated time; all within the 10 s run (+ transport delay).
        for f in sink.frames { #expect(f.hostArrivalNs >= 1_000_000_000 && f.hostArrivalNs < 11_010_000_000) }
        // AE sample indices are contiguous.
        var next: Int64 = 0
        for c in sink.chunks { #expect(c.firstSampleIndex == next); next += Int64(c.frameCount) }
        // BMS line format and quantisation.
        let b = try #require(sink.bms.first)
        // "t=<s.ms> V=<V.mV> I=<A.mA> T1=<degC.d> Tamb=<degC.d>", instrument clock offset 1000 s.
        let keys = b.raw.split(separator: " ").map { $0.split(separator: "=")[0] }
        #expect(keys == ["t", "V", "I", "T1", "Tamb"], "line \(b.raw)")
        #expect(b.raw.hasPrefix("t=1000."))
        #expect(abs((b.currentA ?? 0) - 4.0) < 0.003, "2C of 2 Ah, line \(b.raw)")
        let decimals = b.raw.split(separator: " ").map { $0.split(separator: ".").last?.count ?? 0 }
        #expect(decimals == [3, 3, 3, 1, 1], "line \(b.raw)")
        #expect(b.cellTempsC.count == 1 && b.ambientC != nil)
    }

    /// Camera timestamps follow the camera clock: a least-squares fit of device vs true
    /// frame time recovers the 35 ppm drift (tolerance 2 ppm over 60 s at 150 us jitter)
    /// and the AE clock pairs recover the -42 ppm sample-rate error (tolerance 1 ppm).
    @Test func sensorClocksCarryTheirDrift() throws {
        let rig = try quickRig(capS: 60, startSOC: 1.0)
        let sink = CollectingSink()
        try rig.run(into: sink)
        func slope(_ xs: [Double], _ ys: [Double]) -> Double {
            let mx = xs.reduce(0, +) / Double(xs.count), my = ys.reduce(0, +) / Double(ys.count)
            var num = 0.0, den = 0.0
            for (x, y) in zip(xs, ys) { num += (x - mx) * (y - my); den += (x - mx) * (x - mx) }
            return num / den
        }
        let frames = sink.frames
        // True capture time = host arrival minus transport latency (2 ms + exp(0.5 ms)), so fit against
        // the sequence: device time per frame / nominal period.
        let dev = frames.map { Double($0.deviceTimestampNs) / 1e9 }
        let host = frames.map { Double($0.hostArrivalNs) / 1e9 }
        let drift = (slope(host, dev) - 1) * 1e6
        #expect(abs(drift - 35) < 30, "camera drift \(drift) ppm (host arrival carries ~0.5 ms exponential latency)")
        // Exact relation for frame k: device = offset + k / fps (camera clock ticks), within jitter.
        for f in frames {
            let ideal = 1_234_500_000 + f.sequence * 500_000_000
            #expect(abs(f.deviceTimestampNs - ideal) < 1_000_000)
        }
        let pairs = sink.chunks.compactMap(\.clockPair)
        let rate = 1 / slope(pairs.map { Double($0.sampleIndex) }, pairs.map { Double($0.hostNs) / 1e9 })
        let ppm = (rate / 8000 - 1) * 1e6
        #expect(abs(ppm - (-42)) < 1, "AE rate error \(ppm) ppm")
    }

    @Test func sameSeedGivesIdenticalSessionAndOtherSeedDiffers() throws {
        let a = CollectingSink(), b = CollectingSink(), c = CollectingSink()
        try quickRig(seed: 7, capS: 20).run(into: a)
        try quickRig(seed: 7, capS: 20).run(into: b)
        try quickRig(seed: 8, capS: 20).run(into: c)
        #expect(a.events.count == b.events.count)
        #expect(a.digest == b.digest)
        #expect(a.digest != c.digest)
    }

    /// The demo-like quick run goes through venting and runaway; the ground truth is emitted
    /// on bms0 as simulator ground truth, stamped at the time it occurred, and the run stops
    /// by itself after the peak.
    @Test func groundTruthAnnotations() throws {
        let rig = try quickRig(capS: 600)
        let sink = CollectingSink()
        try rig.run(into: sink)
        let truth = try #require(rig.groundTruth)
        let onset = try #require(truth.runawayOnsetS)
        // Ground truth only (the sensor-truth set, e.g. IR saturation, is on the streams concerned).
        let ann = Dictionary(uniqueKeysWithValues: sink.annotations.filter { $0.method == SimulatedRig.truthMethod }.map { ($0.label, $0) })
        let r = try #require(ann["runaway_onset"])
        #expect(r.method == "simulator_ground_truth" && r.author == "trw-sim")
        #expect(r.startHostNs == 1_000_000_000 + Nanoseconds.fromSeconds(onset))
        #expect(r.parametersJSON.contains("GB 38031") && r.parametersJSON.contains("\"sustain_s\":3.0"))
        #expect(ann["venting"] != nil && ann["self_heating_onset"] != nil)
        #expect(sink.events.filter { if case let .annotation(a) = $0.1 { a.method == SimulatedRig.truthMethod } else { false } }.allSatisfy { $0.0 == "bms0" })
        // Stopped by itself: within stopAfterPeak (+ one step) of the peak, well before the cap.
        let lastFrame = try #require(sink.frames.last)
        let endS = Double(lastFrame.hostArrivalNs - 1_000_000_000) / 1e9
        #expect(endS < truth.peakS + 30 + 1 && endS >= truth.peakS + 29)
        // The voltage sags when the separator fails, before the runaway peak.
        let volts = sink.bms.map { ($0.hostArrivalNs, $0.voltageV ?? 0) }
        let before = volts.filter { Double($0.0 - 1_000_000_000) / 1e9 < onset - 2 }.map(\.1)
        let after = volts.filter { Double($0.0 - 1_000_000_000) / 1e9 > truth.peakS }.map(\.1)
        #expect((before.last ?? 0) > 4.5 && (after.first ?? 9) < 1.0, "V before \(before.last ?? 0), after \(after.first ?? -1)")
    }

    /// Paced mode never blocks the recorder (drop-if-full, like a device) and keeps
    /// the same virtual time base; 4 simulated s at 400x take ~10 ms of sleeping.
    @Test func pacedModeDropsInsteadOfBlocking() throws {
        var s = try loadScenario("demo")
        s.testProtocol.startSOC = 1.0
        let rig = SimulatedRig(scenario: s, options: SimulatedRig.Options(
            pacing: .realTime(speed: 400), irWidth: 16, irHeight: 12, irFPS: 5, aeRateHz: 4000, durationCapS: 4,
            gridNX: 8, gridNY: 5, startMonotonicNs: 0))
        let sink = CollectingSink()
        try rig.run(into: sink)
        #expect(!sink.events.isEmpty)
        #expect(sink.events.allSatisfy { $0.2 == .dropIfFull })
        #expect(sink.frames.count == 20 || sink.frames.count == 21)
        #expect(sink.frames.last!.hostArrivalNs < 4_100_000_000)
    }

    @Test func stopEndsTheRun() throws {
        let rig = try quickRig(capS: 3600, startSOC: 1.0)
        let sink = StoppingSink(rig: rig, after: 50)
        try rig.run(into: sink)
        #expect(sink.count >= 50 && sink.count < 200)
    }
}

/// Calls `stop()` on the rig after `after` events.
final class StoppingSink: SampleSink, @unchecked Sendable {
    let rig: SimulatedRig
    let after: Int
    var count = 0
    init(rig: SimulatedRig, after: Int) { self.rig = rig; self.after = after }
    func emit(_ event: SourceEvent, stream: String, mode: EmitMode) -> Bool {
        count += 1
        if count == after { rig.stop() }
        return true
    }
}
