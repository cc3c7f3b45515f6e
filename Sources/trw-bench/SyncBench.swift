// Synchronisation benchmark: a simulated 10-minute run whose three clocks have
// known drift, offset and jitter, with common events seen by all streams.
// Prints per-stream fit vs truth and the cross-stream alignment error after
// sync, against references measured in the same run (raw arrival / raw driver
// timestamps), and the online (causal) vs offline difference.
import Foundation
import TRWCore
import TRWSync

/// Deterministic draws (SplitMix64, Box-Muller) for the simulated clocks.
private struct SyncBenchRandom {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func uniform() -> Double { Double(next() >> 11) / Double(1 << 53) }
    mutating func gaussian() -> Double {
        let u1 = max(uniform(), 1e-300), u2 = uniform()
        return (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
    }
    mutating func exponential(mean: Double) -> Double { -mean * log(max(1 - uniform(), 1e-300)) }
}

/// Error statistics of a set of time errors, ns.
private struct SyncErrorStats {
    var values: [Double] = []
    mutating func add(_ v: Double) { values.append(v) }
    var meanAbs: Double { values.isEmpty ? 0 : values.reduce(0) { $0 + abs($1) } / Double(values.count) }
    var maxAbs: Double { values.map { abs($0) }.max() ?? 0 }
    var rms: Double { values.isEmpty ? 0 : (values.reduce(0) { $0 + $1 * $1 } / Double(values.count)).squareRoot() }
    var p99Abs: Double {
        guard !values.isEmpty else { return 0 }
        let a = values.map { abs($0) }.sorted()
        return a[min(a.count - 1, Int(Double(a.count) * 0.99))]
    }
    var text: String {
        String(format: "mean |e| %8.1f us  rms %8.1f us  p99 %8.1f us  max %8.1f us", meanAbs / 1e3, rms / 1e3, p99Abs / 1e3,
               maxAbs / 1e3)
    }
}


private func syncSegmentLines(_ model: ClockModel) -> [String] {
    model.segments.enumerated().map { i, s in
        String(format: "    seg %d (%@, %@): %d pairs, drift %+.3f ppm (+-%.3f), resid rms %.1f us max %.1f us",
               i, s.reason.rawValue, s.method.rawValue, s.pairCount, s.driftPpm, s.driftStdErrPpm,
               s.residualRmsNs / 1e3, s.residualMaxAbsNs / 1e3)
    }
}

/// One run to evaluate: each stream's raw times as the recorder stores them,
/// with the truth. `makeSyntheticSyncRun()` makes one from synthetic clocks; a
/// simulated session (whose simulator knows the true times) can fill the same.
struct SyncBenchRun {
    var durationS: Double
    /// Host CLOCK_MONOTONIC of t = 0.
    var sessionStart: Int64
    /// Common events (venting: IR cooling step, AE burst, BMS voltage glitch), true session times, s.
    var eventTimesS: [Double]
    // Thermal camera
    var camConfig: VideoClockConfig
    var camTrueDriftPpm: Double
    var camSeq: [Int64], camStamp: [Int64], camArrival: [Int64]
    /// True session time of each frame's start of exposure, ns.
    var camTrueExposure: [Double]
    // AE
    var aeRate: Double
    var aeTrueDriftPpm: Double
    var aePairs: [AudioClockPair]
    var aeXrunSampleIndices: [Int64]
    /// True session time of a sample index, ns (monotone in the index).
    var aeTrueTime: (Int64) -> Double
    // BMS
    var serial: SerialClockConfig
    var bmsDeviceResolutionNs: Int64
    var bmsTrueDriftPpm: Double
    var bmsSamples: [BMSSample]
    /// True session time of each reading, ns.
    var bmsTrue: [Double]
}

/// Runs the synchronisation benchmark and prints labelled figures.
func runSyncBench() throws {
    let run = makeSyntheticSyncRun()
    print("sync: synthetic \(Int(run.durationS)) s run, \(run.eventTimesS.count) common events; goals: audio residual <= 0.05 ms, drift within 1 ppm, cross-stream < 1 ms mean")
    evaluateSyncRun(run)
}

/// Three streams on synthetic clocks with known drift, offset and jitter.
func makeSyntheticSyncRun() -> SyncBenchRun {
    let durationS = 600.0
    let sessionStart: Int64 = 1_000_000_000_000  // host CLOCK_MONOTONIC of t = 0
    var rng = SyncBenchRandom(state: 0x5EED_2026)
    // Common events (venting, bursts, glitches) at known true session times, s.
    let eventTimesS: [Double] = [37.123_456, 121.5, 250.000_3, 333.333_333, 471.9, 512.25, 599.0]

    // ---- Thermal camera: 50 Hz, frame clock +35 ppm, V4L2 monotonic end-of-frame
    // timestamps with 100 us Gaussian IRQ jitter and 0.5 % late outliers (+2..10 ms),
    // exposure-to-timestamp 8 ms (configured), dequeue 3 ms + Exp(1 ms) later. 0.3 % frames dropped.
    let camDrift = 35.0, camFps = 50.0, camExpToStamp = 8_000_000.0
    let camStartS = 0.013
    var camSeq: [Int64] = [], camStamp: [Int64] = [], camArrival: [Int64] = [], camTrueExposure: [Double] = []
    do {
        var n: Int64 = 0
        while true {
            let tExp = camStartS * 1e9 + Double(n) * 1e9 / (camFps * (1 + camDrift * 1e-6))
            if tExp > durationS * 1e9 { break }
            defer { n += 1 }
            if rng.uniform() < 0.003 { continue }  // dropped frame
            var stamp = tExp + camExpToStamp + 100_000 * rng.gaussian()
            if rng.uniform() < 0.005 { stamp += 2e6 + 8e6 * rng.uniform() }
            camSeq.append(n)
            camStamp.append(sessionStart + Int64(stamp.rounded()))
            camArrival.append(sessionStart + Int64((tExp + camExpToStamp + 3e6 + rng.exponential(mean: 1e6)).rounded()))
            camTrueExposure.append(tExp)
        }
    }
    let camConfig = VideoClockConfig(timebase: .sequenceDejitter, exposureToTimestampNs: Int64(camExpToStamp), nominalFps: camFps)

    // ---- AE: 192 kHz, -80 ppm, sample 0 at t = 0.25 s; htstamp every 1024-sample period,
    // late by Exp(100 us) (interrupt latency, one-sided) plus 3 us Gaussian (timer read).
    // One xrun at t ~ 300 s loses 0.2 s.
    let aeRate = 192_000.0, aeDrift = -80.0, aeStartS = 0.25
    let aeEff = aeRate * (1 + aeDrift * 1e-6)
    let xrunAtIndex: Int64 = 1024 * Int64((300 * aeEff / 1024).rounded())
    let xrunLostS = 0.2
    func aeTrueTime(_ idx: Int64) -> Double {  // true session time of sample idx, ns
        aeStartS * 1e9 + Double(idx) / aeEff * 1e9 + (idx >= xrunAtIndex ? xrunLostS * 1e9 : 0)
    }
    var aePairs: [AudioClockPair] = []
    do {
        var idx: Int64 = 0
        while aeTrueTime(idx) < durationS * 1e9 {
            aePairs.append(AudioClockPair(sampleIndex: idx,
                                          hostNs: sessionStart + Int64((aeTrueTime(idx) + rng.exponential(mean: 100_000)
                                                                        + 3_000 * rng.gaussian()).rounded())))
            idx += 1024
        }
    }

    // ---- BMS: 1 Hz over 115200 baud, device clock (ms resolution) +150 ppm with offset 5321.7 s,
    // arrival after transmission + Exp(2 ms) USB latency, 1 % stalls of +40 ms.
    let bmsDrift = 150.0, bmsDeviceAtZeroS = 5321.7
    let serial = SerialClockConfig(baud: 115_200)
    var bmsSamples: [BMSSample] = [], bmsTrue: [Double] = []
    for i in 0..<Int(durationS) {
        let t = (Double(i) + 0.4) * 1e9
        let devS = ((bmsDeviceAtZeroS + t / 1e9 * (1 + bmsDrift * 1e-6)) * 1e3).rounded() / 1e3
        let line = String(format: "t=%.3f;U=%.4f;I=%.3f;T1=%.2f", devS, 4.2 + 0.0001 * Double(i % 50), 2.5, 25 + Double(i) / 60)
        let tx = Double(SerialClock.transmissionTimeNs(bytes: line.utf8.count + 1, baud: serial.baud))
        var late = rng.exponential(mean: 2e6)
        if rng.uniform() < 0.01 { late += 40e6 }
        bmsSamples.append(BMSSample(hostArrivalNs: sessionStart + Int64((t + tx + late).rounded()), deviceTimeS: devS, raw: line))
        bmsTrue.append(t)
    }

    return SyncBenchRun(
        durationS: durationS, sessionStart: sessionStart, eventTimesS: eventTimesS,
        camConfig: camConfig, camTrueDriftPpm: camDrift, camSeq: camSeq, camStamp: camStamp, camArrival: camArrival,
        camTrueExposure: camTrueExposure,
        aeRate: aeRate, aeTrueDriftPpm: aeDrift, aePairs: aePairs, aeXrunSampleIndices: [xrunAtIndex], aeTrueTime: aeTrueTime,
        serial: serial, bmsDeviceResolutionNs: 1_000_000, bmsTrueDriftPpm: bmsDrift, bmsSamples: bmsSamples, bmsTrue: bmsTrue)
}

/// Fits every stream offline and online and prints the figures against truth.
func evaluateSyncRun(_ run: SyncBenchRun) {
    let (sessionStart, durationS, eventTimesS) = (run.sessionStart, run.durationS, run.eventTimesS)
    let (camConfig, camSeq, camStamp, camArrival, camTrueExposure) = (run.camConfig, run.camSeq, run.camStamp, run.camArrival, run.camTrueExposure)
    let camExpToStamp = Double(camConfig.exposureToTimestampNs)
    let (aeRate, aePairs, aeTrueTime) = (run.aeRate, run.aePairs, run.aeTrueTime)
    let (serial, bmsSamples, bmsTrue) = (run.serial, run.bmsSamples, run.bmsTrue)
    let (camDrift, aeDrift, bmsDrift) = (run.camTrueDriftPpm, run.aeTrueDriftPpm, run.bmsTrueDriftPpm)
    let xrunBreaks = run.aeXrunSampleIndices

    let camModel = VideoClock.fit(sequences: camSeq, deviceTimestampsNs: camStamp, hostArrivalsNs: camArrival, config: camConfig)
    let aeClock = AudioClock.fit(pairs: aePairs, xrunSampleIndices: xrunBreaks, nominalRateHz: aeRate)
    let bmsPairs = SerialClock.pairs(samples: bmsSamples, config: serial)
    let bmsModel = SerialClock.fitter(deviceResolutionNs: run.bmsDeviceResolutionNs).fit(bmsPairs)

    // Per-sample time errors after sync, and of the raw references.
    var camErr = SyncErrorStats(), camRawErr = SyncErrorStats()
    for i in camSeq.indices {
        let t = VideoClock.exposureStart(sequence: camSeq[i], deviceTimestampNs: camStamp[i], arrivalHostNs: camArrival[i],
                                         model: camModel, config: camConfig)
        camErr.add(Double(t - sessionStart) - camTrueExposure[i])
        camRawErr.add(Double(camStamp[i] - Int64(camExpToStamp) - sessionStart) - camTrueExposure[i])
    }
    var aeErr = SyncErrorStats(), aeRawErr = SyncErrorStats()
    for p in aePairs {
        aeErr.add(Double(aeClock.hostTime(sampleIndex: p.sampleIndex) - sessionStart) - aeTrueTime(p.sampleIndex))
        aeRawErr.add(Double(p.hostNs - sessionStart) - aeTrueTime(p.sampleIndex))
    }
    var bmsErr = SyncErrorStats(), bmsRawErr = SyncErrorStats()
    for (i, s) in bmsSamples.enumerated() {
        bmsErr.add(Double(bmsModel.hostTime(device: SerialClock.deviceNs(seconds: s.deviceTimeS!)) - sessionStart) - bmsTrue[i])
        bmsRawErr.add(Double(s.hostArrivalNs - sessionStart) - bmsTrue[i])
    }

    func report(_ name: String, _ model: ClockModel, trueDrift: Double, err: SyncErrorStats, raw: SyncErrorStats, rawName: String) {
        let w = model.segments.reduce(0.0) { $0 + Double($1.pairCount) }
        let drift = model.segments.reduce(0.0) { $0 + $1.driftPpm * Double($1.pairCount) } / max(w, 1)
        print(String(format: "sync %@: drift est %+.3f ppm, truth %+.3f ppm, |error| %.3f ppm; %d segment(s)",
                     name, drift, trueDrift, abs(drift - trueDrift), model.segments.count))
        for l in syncSegmentLines(model) { print(l) }
        print("  \(name) time error after sync: \(err.text)")
        print("  \(name) reference (\(rawName)):  \(raw.text)  -> sync/raw rms ratio \(String(format: "%.3f", err.rms / max(raw.rms, 1)))")
    }
    report("ir0 ", camModel, trueDrift: camDrift, err: camErr, raw: camRawErr, rawName: "raw driver timestamps")
    report("ae0 ", aeClock.model, trueDrift: aeDrift, err: aeErr, raw: aeRawErr, rawName: "raw htstamps")
    report("bms0", bmsModel, trueDrift: bmsDrift, err: bmsErr, raw: bmsRawErr, rawName: "raw arrival")

    // ================= Common events
    var obs: [Alignment.Observation] = []
    var rawObs: [Alignment.Observation] = []
    for (k, te) in eventTimesS.enumerated() {
        let tns = te * 1e9
        // IR: the first frame whose exposure starts at or after the event.
        if let i = camTrueExposure.firstIndex(where: { $0 >= tns }) {
            let t = VideoClock.exposureStart(sequence: camSeq[i], deviceTimestampNs: camStamp[i], arrivalHostNs: camArrival[i],
                                             model: camModel, config: camConfig) - sessionStart
            obs.append(.init(stream: "ir0", event: k, estimatedNs: t, trueNs: Int64(camTrueExposure[i].rounded())))
            rawObs.append(.init(stream: "ir0", event: k, estimatedNs: camStamp[i] - Int64(camExpToStamp) - sessionStart,
                                trueNs: Int64(camTrueExposure[i].rounded())))
        }
        // AE: the sample at the burst onset.
        var lo: Int64 = 0, hi: Int64 = Int64(durationS * aeRate * 1.01)
        while lo < hi { let m = (lo + hi) / 2; if aeTrueTime(m) >= tns { hi = m } else { lo = m + 1 } }
        let aeT = aeClock.hostTime(sampleIndex: lo) - sessionStart
        obs.append(.init(stream: "ae0", event: k, estimatedNs: aeT, trueNs: Int64(aeTrueTime(lo).rounded())))
        // Raw AE reference: the arrival time of the chunk's pair (sample time from arrival).
        let chunk = aePairs.last(where: { $0.sampleIndex <= lo })!
        rawObs.append(.init(stream: "ae0", event: k,
                            estimatedNs: chunk.hostNs - sessionStart + Int64(Double(lo - chunk.sampleIndex) / aeRate * 1e9),
                            trueNs: Int64(aeTrueTime(lo).rounded())))
        // BMS: the first reading at or after the event (voltage glitch).
        if let i = bmsTrue.firstIndex(where: { $0 >= tns }) {
            let t = bmsModel.hostTime(device: SerialClock.deviceNs(seconds: bmsSamples[i].deviceTimeS!)) - sessionStart
            obs.append(.init(stream: "bms0", event: k, estimatedNs: t, trueNs: Int64(bmsTrue[i].rounded())))
            rawObs.append(.init(stream: "bms0", event: k, estimatedNs: bmsSamples[i].hostArrivalNs - sessionStart,
                                trueNs: Int64(bmsTrue[i].rounded())))
        }
    }
    let m = Alignment.measure(obs)
    let mRaw = Alignment.measure(rawObs)
    print(String(format: "sync cross-stream alignment error after sync: mean %.1f us, max %.1f us over %d stream pairs (goal < 1000 us mean): %@",
                 m.meanAbsPairNs / 1e3, m.maxAbsPairNs / 1e3, m.pairCount, m.meanAbsPairNs < 1e6 ? "MET" : "NOT MET"))
    print(String(format: "sync cross-stream alignment reference (raw times):  mean %.1f us, max %.1f us -> sync/raw ratio %.3f",
                 mRaw.meanAbsPairNs / 1e3, mRaw.maxAbsPairNs / 1e3, m.meanAbsPairNs / max(mRaw.meanAbsPairNs, 1)))
    for key in ["ir0", "ae0", "bms0"] {
        if let e = m.perStream[key] {
            print(String(format: "  %-4@ event error: mean %+.1f us, mean |e| %.1f us, max %.1f us", key, e.meanNs / 1e3,
                         e.meanAbsNs / 1e3, e.maxAbsNs / 1e3))
        }
    }
    // Predicted from the models (formula in Alignment.estimate); unmodelled: the BMS
    // minimum USB latency is unseen (0 here), camera exposure offset assumed exact.
    let unc = [
        Alignment.uncertainty(stream: "ir0", model: camModel),
        Alignment.uncertainty(stream: "ae0", model: aeClock.model),
        Alignment.uncertainty(stream: "bms0", model: bmsModel, unmodelledNs: Double(run.bmsDeviceResolutionNs) / 12.0.squareRoot()),
    ]
    for p in Alignment.estimate(unc) {
        print(String(format: "  predicted %@-%@: sigma %.1f us, E|e| %.1f us", p.a, p.b, p.sigmaNs / 1e3, p.expectedAbsNs / 1e3))
    }
    let aeGoal = aeErr.maxAbs <= 50_000
    let aeDriftErr = aeClock.model.segments.map { abs($0.driftPpm - aeDrift) }.max() ?? .infinity
    print(String(format: "sync goals: audio residual max %.1f us (<= 50 us: %@); audio drift error %.3f ppm (<= 1: %@)",
                 aeErr.maxAbs / 1e3, aeGoal ? "MET" : "NOT MET", aeDriftErr, aeDriftErr <= 1 ? "MET" : "NOT MET"))

    // ================= Online (causal) vs offline
    // The recorder's per-stream clocks, fed in order as the recorder would.
    var camOnline = OnlineStreamClock(timing: .thermal(camConfig))
    var onCam = SyncErrorStats(), onCamVsOff = SyncErrorStats()
    for i in camSeq.indices {
        if i > 0 && camSeq[i] != camSeq[i - 1] + 1 {
            camOnline.gap(GapEvent(kind: .frameDrop, startHostNs: camArrival[i], lostCount: camSeq[i] - camSeq[i - 1] - 1, detail: ""))
        }
        let frame = ThermalFrame(width: 1, height: 1, pixels: [0], sequence: camSeq[i], deviceTimestampNs: camStamp[i],
                                 hostArrivalNs: camArrival[i])
        let t = camOnline.time(frame: frame)
        let off = VideoClock.exposureStart(sequence: camSeq[i], deviceTimestampNs: camStamp[i], arrivalHostNs: camArrival[i],
                                           model: camModel, config: camConfig)
        onCam.add(Double(t - sessionStart) - camTrueExposure[i])
        onCamVsOff.add(Double(t - off))
    }
    var aeOnline = OnlineAudioClock(nominalRateHz: aeRate, oneSided: true)
    var onAe = SyncErrorStats(), onAeVsOff = SyncErrorStats()
    for p in aePairs {
        if let x = xrunBreaks.first(where: { $0 == p.sampleIndex }) { aeOnline.xrun(nextSampleIndex: x) }
        let t = aeOnline.add(p)
        onAe.add(Double(t - sessionStart) - aeTrueTime(p.sampleIndex))
        onAeVsOff.add(Double(t - aeClock.hostTime(sampleIndex: p.sampleIndex)))
    }
    var bmsOnline = OnlineStreamClock(timing: .bms(serial, deviceResolutionNs: run.bmsDeviceResolutionNs))
    var onBms = SyncErrorStats(), onBmsVsOff = SyncErrorStats()
    for (i, smp) in bmsSamples.enumerated() {
        let t = bmsOnline.time(sample: smp)
        let off = smp.deviceTimeS.map { bmsModel.hostTime(device: SerialClock.deviceNs(seconds: $0)) }
            ?? SerialClock.correctedArrival(arrivalNs: smp.hostArrivalNs, lineBytes: smp.raw.utf8.count + 1, config: serial)
        onBms.add(Double(t - sessionStart) - bmsTrue[i])
        onBmsVsOff.add(Double(t - off))
    }
    print("sync online (causal) vs truth and vs offline:")
    print("  ir0  online vs truth:   \(onCam.text)")
    print("  ir0  online vs offline: \(onCamVsOff.text)")
    print("  ae0  online vs truth:   \(onAe.text)")
    print("  ae0  online vs offline: \(onAeVsOff.text)")
    print("  bms0 online vs truth:   \(onBms.text)")
    print("  bms0 online vs offline: \(onBmsVsOff.text)")

    // ================= Resync of the AE stream: stored causal t_ns -> offline
    var aeOnline2 = OnlineAudioClock(nominalRateHz: aeRate, oneSided: true)
    var raw: [RawSampleTime] = []
    for p in aePairs {
        if let x = xrunBreaks.first(where: { $0 == p.sampleIndex }) { aeOnline2.xrun(nextSampleIndex: x) }
        let t = aeOnline2.add(p)
        raw.append(RawSampleTime(device: p.sampleIndex, arrivalHostNs: p.hostNs, storedTNs: t - sessionStart))
    }
    let clock0 = Date()
    let plan = ResyncPlanner.plan(pairs: aePairs.map { ClockPair(device: $0.sampleIndex, host: $0.hostNs) },
                                  breaks: xrunBreaks.map { ClockBreak(.device($0), reason: .xrun) }, samples: raw,
                                  oldModel: aeOnline2.model, fitter: AudioClock.fitter(nominalRateHz: aeRate),
                                  sessionStartMonotonicNs: sessionStart)
    let planS = Date().timeIntervalSince(clock0)
    print(String(format: "sync resync ae0: %d samples, moved mean |dt| %.1f us, max %.1f us, %d changed; %d -> %d segments; plan %.3f s (%.0f pairs/s)",
                 plan.moved.samples, plan.moved.meanAbsDeltaNs / 1e3, Double(plan.moved.maxAbsDeltaNs) / 1e3, plan.moved.changed,
                 plan.moved.oldSegmentCount, plan.moved.newSegmentCount, planS, Double(aePairs.count) / max(planS, 1e-9)))
}
