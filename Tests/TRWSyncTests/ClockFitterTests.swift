import Foundation
import TRWCore
import Testing
@testable import TRWSync

/// Offline fitter on synthetic clocks with known offset, drift and jitter.
@Suite struct ClockFitterTests {
    static let drifts: [Double] = [-200, -50, 0, 50, 200]

    /// 50 Hz pairs for 120 s, Gaussian jitter sigma = 100 us, offset 3.2 s.
    /// Bounds: |drift error| <= 0.3 ppm (predicted s.e. ~0.04 ppm);
    /// max |time error| over the run <= 10 us (predicted ~1.3 us at the centre).
    @Test(arguments: drifts)
    func gaussianJitterHuber(driftPpm: Double) {
        let clock = TrueClock(deviceAtZero: 3.2e9, unitsPerNs: 1, driftPpm: driftPpm)
        let pairs = makePairs(clock: clock, startNs: 0, periodNs: 20e6, count: 6000,
                              jitter: .gaussian(sigmaNs: 100_000), seed: 1 + UInt64(driftPpm + 1000))
        let model = ClockFitter(mode: .symmetric).fit(pairs)
        #expect(model.segments.count == 1)
        let s = model.segments[0]
        #expect(s.method == .huber)
        let expectedDrift = driftPpm
        #expect(abs(s.driftPpm - expectedDrift) <= 0.3, "drift \(s.driftPpm) vs \(expectedDrift)")
        let err = maxError(s, clock: clock, from: pairs.first!.device, to: pairs.last!.device)
        #expect(err <= 10_000, "max time error \(err) ns")
        // Residual statistics describe the jitter: RMS within 10 % of 100 us.
        #expect(abs(s.residualRmsNs - 100_000) <= 10_000)
        #expect(s.offsetStdErrNs > 0 && s.offsetStdErrNs < 5_000)
    }

    /// One-sided exponential delay, mean 1 ms, 50 Hz for 120 s.
    /// Plain least squares is biased by the mean delay (~1 ms); the lower envelope
    /// must be within 50 us everywhere, and at least 10x better than least squares.
    @Test(arguments: drifts)
    func oneSidedLowerEnvelopeBeatsLeastSquares(driftPpm: Double) {
        let clock = TrueClock(deviceAtZero: -7.5e9, unitsPerNs: 1, driftPpm: driftPpm)
        let pairs = makePairs(clock: clock, startNs: 0, periodNs: 20e6, count: 6000,
                              jitter: .exponential(meanNs: 1_000_000), seed: 77 + UInt64(driftPpm + 1000))
        let env = ClockFitter(mode: .oneSided).fit(pairs)
        #expect(env.segments.count == 1 && env.segments[0].method == .lowerEnvelope)
        let envErr = maxError(env, clock: clock, from: pairs.first!.device, to: pairs.last!.device)

        // Plain least squares on the same pairs.
        let x = pairs.map { Double($0.device - pairs[0].device) }
        let y = pairs.indices.map { Double(pairs[$0].host - pairs[0].host) - x[$0] }
        let ls = LineFit.weightedLS(x: x, y: y, w: [Double](repeating: 1, count: x.count))!
        var lsErr = 0.0
        for p in pairs {
            let xx = Double(p.device - pairs[0].device)
            let h = Double(pairs[0].host) + xx + ls.yc + ls.c * (xx - ls.xc)
            lsErr = max(lsErr, abs(h - clock.host(ofDevice: p.device)))
        }
        #expect(envErr <= 50_000, "envelope max error \(envErr) ns")
        #expect(envErr * 10 < lsErr, "envelope \(envErr) ns vs least squares \(lsErr) ns")
        let expectedDrift = driftPpm
        #expect(abs(env.segments[0].driftPpm - expectedDrift) <= 1, "drift \(env.segments[0].driftPpm)")
        // Automatic mode recognises the one-sided delay.
        #expect(ClockFitter(mode: .automatic).fit(pairs).segments[0].method == .lowerEnvelope)
    }

    /// 1 % outliers of +-(20..70) ms on Gaussian jitter sigma = 100 us.
    /// Huber stays within 10 us of truth and 0.3 ppm of drift; plain least squares does not (> 10 us).
    @Test(arguments: [-200.0, 0, 200])
    func outliersHuber(driftPpm: Double) {
        let clock = TrueClock(deviceAtZero: 1e9, unitsPerNs: 1, driftPpm: driftPpm)
        var pairs = makePairs(clock: clock, startNs: 0, periodNs: 20e6, count: 6000,
                              jitter: .gaussian(sigmaNs: 100_000), seed: 5)
        var d = Draw(seed: 99)
        var outliers = 0
        for i in pairs.indices where d.uniform() < 0.01 {
            // Outliers mostly late (a stall), some early, so least squares is pulled.
            let size = (20 + 50 * d.uniform()) * 1e6 * (d.uniform() < 0.8 ? 1 : -1)
            pairs[i].host += Int64(size)
            outliers += 1
        }
        #expect(outliers > 30)
        let model = ClockFitter(mode: .symmetric).fit(pairs)
        #expect(model.segments.count == 1)
        let err = maxError(model, clock: clock, from: pairs.first!.device, to: pairs.last!.device)
        #expect(err <= 10_000, "Huber max error \(err) ns")
        let expectedDrift = driftPpm
        #expect(abs(model.segments[0].driftPpm - expectedDrift) <= 0.3)
        #expect(model.segments[0].inlierCount <= pairs.count - outliers)
        // `.automatic` is not fooled by the (mostly late) outliers into a one-sided fit.
        #expect(ClockFitter(mode: .automatic).fit(pairs).segments[0].method == .huber)
        // Least squares is worse than the bound (so the test can tell the two apart).
        let x = pairs.map { Double($0.device - pairs[0].device) }
        let y = pairs.indices.map { Double(pairs[$0].host - pairs[0].host) - x[$0] }
        let ls = LineFit.weightedLS(x: x, y: y, w: [Double](repeating: 1, count: x.count))!
        let mid = pairs[3000]
        let xm = Double(mid.device - pairs[0].device)
        let lsMid = Double(pairs[0].host) + xm + ls.yc + ls.c * (xm - ls.xc)
        #expect(abs(lsMid - clock.host(ofDevice: mid.device)) > 10_000)
    }

    /// A known gap (given as a host-time break) splits the run; both segments
    /// are fitted on their own and each is within 10 us of truth. The clock
    /// keeps running through the gap, so both drifts agree with the truth (0.5 ppm).
    @Test func knownGapSplits() {
        let clock = TrueClock(deviceAtZero: 42e9, unitsPerNs: 1, driftPpm: 80)
        let a = makePairs(clock: clock, startNs: 0, periodNs: 20e6, count: 3000, jitter: .gaussian(sigmaNs: 50_000), seed: 2)
        let b = makePairs(clock: clock, startNs: 90e9, periodNs: 20e6, count: 3000, jitter: .gaussian(sigmaNs: 50_000), seed: 3)
        let model = ClockFitter(mode: .symmetric).fit(a + b, breaks: [ClockBreak(.host(80_000_000_000), reason: .gap)])
        #expect(model.segments.count == 2)
        #expect(model.segments.map(\.reason) == [.start, .gap])
        #expect(model.segments.map(\.pairCount) == [3000, 3000])
        #expect(maxError(model.segments[0], clock: clock, from: a.first!.device, to: a.last!.device) <= 10_000)
        #expect(maxError(model.segments[1], clock: clock, from: b.first!.device, to: b.last!.device) <= 10_000)
        let expectedDrift = 80.0
        for s in model.segments { #expect(abs(s.driftPpm - expectedDrift) <= 0.5) }
    }

    /// The device resets mid-run (its clock restarts near 0 with a new drift):
    /// two segments, reason .reset found automatically, each within 10 us of its truth;
    /// sample lookup with the arrival time picks the right one although device times repeat.
    @Test(arguments: [ClockFitter.Mode.symmetric, .automatic])
    func deviceResetMidRun(mode: ClockFitter.Mode) {
        let c1 = TrueClock(deviceAtZero: 0, unitsPerNs: 1, driftPpm: 120)
        let a = makePairs(clock: c1, startNs: 0, periodNs: 20e6, count: 3000, jitter: .gaussian(sigmaNs: 30_000), seed: 4)
        // After reset at true t = 60 s, the device counts from 0 again.
        let c2 = TrueClock(deviceAtZero: -60e9 * (1 - 40e-6), unitsPerNs: 1, driftPpm: -40)
        let b = makePairs(clock: c2, startNs: 60e9 + 5e6, periodNs: 20e6, count: 3000, jitter: .gaussian(sigmaNs: 30_000), seed: 5)
        let model = ClockFitter(mode: mode).fit(a + b)
        #expect(model.segments.count == 2)
        #expect(model.segments.map(\.reason) == [.start, .reset])
        #expect(maxError(model.segments[0], clock: c1, from: a.first!.device, to: a.last!.device) <= 10_000)
        #expect(maxError(model.segments[1], clock: c2, from: b.first!.device, to: b.last!.device) <= 10_000)
        // A device time that occurs in both segments (both count from about 0),
        // disambiguated by the arrival time of the sample.
        let d = b[1000].device
        #expect(d > a.first!.device && d < a.last!.device)
        let t2 = model.hostTime(device: d, arrivalHost: b[1000].host + 3_000_000)
        #expect(abs(Double(t2) - c2.host(ofDevice: d)) <= 10_000)
        let t1 = model.hostTime(device: d, arrivalHost: Int64(c1.host(ofDevice: d)) + 3_000_000)
        #expect(abs(Double(t1) - c1.host(ofDevice: d)) <= 10_000)
    }

    /// The device clock is set forward by 25 ms, or back by 15 ms (less than the 20 ms pair
    /// period, so device time still increases: not a reset), at t = 70 s: the jump is found
    /// in the residuals and split there (within 1 pair); each side within 10 us of truth.
    @Test(arguments: [25_000_000.0, -15_000_000.0])
    func clockJump(stepNs: Double) {
        let c1 = TrueClock(deviceAtZero: 9e9, unitsPerNs: 1, driftPpm: -150)
        let a = makePairs(clock: c1, startNs: 0, periodNs: 20e6, count: 3500, jitter: .gaussian(sigmaNs: 80_000), seed: 6)
        var c2 = c1
        c2.deviceAtZero += stepNs
        let b = makePairs(clock: c2, startNs: 70e9, periodNs: 20e6, count: 3000, jitter: .gaussian(sigmaNs: 80_000), seed: 7)
        let model = ClockFitter(mode: .symmetric).fit(a + b)
        #expect(model.segments.count == 2)
        #expect(model.segments.map(\.reason) == [.start, .jump])
        #expect(abs(model.segments[0].pairCount - 3500) <= 1)
        #expect(maxError(model.segments[0], clock: c1, from: a.first!.device, to: a[3490].device) <= 10_000)
        #expect(maxError(model.segments[1], clock: c2, from: b[10].device, to: b.last!.device) <= 10_000)
    }

    /// Few pairs after a break: the short segment gets an offset only, with the
    /// neighbour's slope; its error stays within 3 sigma of the jitter (150 us) plus slope error.
    @Test func shortSegmentOffsetOnly() {
        let clock = TrueClock(deviceAtZero: 0, unitsPerNs: 1, driftPpm: 100)
        let a = makePairs(clock: clock, startNs: 0, periodNs: 20e6, count: 3000, jitter: .gaussian(sigmaNs: 50_000), seed: 8)
        let b = makePairs(clock: clock, startNs: 61e9, periodNs: 20e6, count: 5, jitter: .gaussian(sigmaNs: 50_000), seed: 9)
        let model = ClockFitter(mode: .symmetric).fit(a + b, breaks: [ClockBreak(.pairIndex(3000), reason: .gap)])
        #expect(model.segments.count == 2)
        #expect(model.segments[1].method == .offsetOnly)
        #expect(abs(model.segments[1].slope - model.segments[0].slope) < 1e-12)
        #expect(maxError(model.segments[1], clock: clock, from: b.first!.device, to: b.last!.device) <= 150_000)
    }

    /// A device-position break between two pairs: samples from the break on (even
    /// before the new segment's first pair) map through the new segment, within 10 us,
    /// with or without the arrival hint; samples before it through the old one.
    @Test func breakBetweenPairs() {
        let rate = 48_000.0
        let c1 = TrueClock(deviceAtZero: 0, unitsPerNs: rate / 1e9, driftPpm: 20)
        var c2 = c1
        c2.deviceAtZero -= 0.25 * rate  // 0.25 s of samples lost and not counted
        let breakAt: Int64 = 1024 * 3000 + 500
        var pairs: [ClockPair] = []
        var d = Draw(seed: 31)
        for k in 0..<6000 {
            let idx = Int64(k) * 1024
            let c = idx >= breakAt ? c2 : c1
            pairs.append(ClockPair(device: idx, host: Int64(c.host(ofDevice: idx) + 20_000 * d.gaussian())))
        }
        var f = ClockFitter.Configuration(mode: .symmetric, nominalSlope: 1e9 / rate)
        f.jumpThresholdNs = 1e12  // only the known break
        let model = ClockFitter(f).fit(pairs, breaks: [ClockBreak(.device(breakAt), reason: .xrun)])
        #expect(model.segments.map(\.reason) == [.start, .xrun])
        #expect(model.segments[1].deviceStart == breakAt && model.segments[1].firstPairDevice == 1024 * 3001)
        for idx: Int64 in [breakAt - 1, breakAt, breakAt + 100, 1024 * 3001 - 1] {
            let c = idx >= breakAt ? c2 : c1
            #expect(abs(Double(model.hostTime(device: idx)) - c.host(ofDevice: idx)) <= 10_000, "index \(idx)")
            let arrival = Int64(c.host(ofDevice: idx)) + 5_000_000
            #expect(abs(Double(model.hostTime(device: idx, arrivalHost: arrival)) - c.host(ofDevice: idx)) <= 10_000,
                    "index \(idx) with arrival")
        }
    }

    /// The model survives the store: JSON text round trip is lossless.
    @Test func jsonRoundTrip() throws {
        let clock = TrueClock(deviceAtZero: 1e9, unitsPerNs: 1, driftPpm: 33)
        let pairs = makePairs(clock: clock, startNs: 0, periodNs: 1e8, count: 500, jitter: .gaussian(sigmaNs: 1e4), seed: 10)
        let model = ClockFitter().fit(pairs, breaks: [ClockBreak(.pairIndex(250), reason: .xrun)])
        let text = try model.jsonText()
        #expect(text.contains("\"driftPpm\""))
        #expect(try ClockModel.fromJSONText(text) == model)
        #expect(try ClockModel.fromJSONText(ClockModel.identity.jsonText()) == .identity)
    }
}
