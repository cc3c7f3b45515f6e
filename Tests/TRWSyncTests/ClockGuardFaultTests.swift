import Foundation
import TRWCore
import Testing
@testable import TRWSync

/// Faults of device clocks (issue 17): no single device value may move the session clock.
@Suite struct ClockGuardFaultTests {
    static let start: Int64 = 1_000_000_000_000  // host CLOCK_MONOTONIC at the session start

    /// A BMS at `rateHz` lines/s over `count` lines, device clock = host time + 100 s with
    /// exponential arrival delay (mean 3 ms); `device` may rewrite the device time of line i.
    static func bmsLines(count: Int, rateHz: Double = 10, seed: UInt64 = 1,
                         device: (Int, Double) -> Double? = { $1 }) -> (samples: [BMSSample], truth: [Int64]) {
        var d = Draw(seed: seed)
        var out: [BMSSample] = [], truth: [Int64] = []
        for i in 0..<count {
            let t = start + Int64(Double(i) / rateHz * 1e9)
            let raw = "t=000000.000 V=4.100 I=1.500"
            let arrival = t + SerialClock.transmissionTimeNs(bytes: raw.utf8.count + 1, baud: 115_200) + Int64(d.exponential(mean: 3e6))
            let dev = device(i, (Double(t - start) / 1e9 + 100))
            out.append(BMSSample(hostArrivalNs: arrival, deviceTimeS: dev, voltageV: 4.1, raw: raw))
            truth.append(t)
        }
        return (out, truth)
    }

    static var bmsTiming: StreamTiming { .bms(SerialClockConfig(), deviceResolutionNs: 1) }

    static func runOnline(_ samples: [BMSSample]) -> (times: [Int64], clock: OnlineStreamClock, events: [OnlineStreamClock.ClockEvent]) {
        var clock = OnlineStreamClock(timing: bmsTiming)
        var times: [Int64] = [], events: [OnlineStreamClock.ClockEvent] = []
        for s in samples {
            times.append(clock.time(sample: s))
            events += clock.takeClockEvents()
        }
        clock.finish()
        events += clock.takeClockEvents()
        return (times, clock, events)
    }

    static func resync(_ samples: [BMSSample], stored: [Int64]) -> ResyncPlan {
        ResyncPlanner.bms(
            readings: zip(samples, stored).map {
                StoredReadingTime(hostArrivalNs: $0.hostArrivalNs, deviceTimeS: $0.deviceTimeS, lineBytes: $0.raw.utf8.count + 1, tNs: $1 - start)
            },
            config: SerialClockConfig(), deviceResolutionNs: 1, oldModel: nil, sessionStartMonotonicNs: start)
    }

    /// One corrupted device time (the t = 922,611 s) among 600 good lines: every time stays
    /// within 20 ms of truth, exactly that line is one `clock_outlier`, no fallback; resync is the same.
    @Test(arguments: [0, 12, 116, 599]) func singleDeviceTimeSpike(at index: Int) {
        let (samples, truth) = Self.bmsLines(count: 600) { i, t in i == index ? 922_611.0 : t }
        let (times, clock, events) = Self.runOnline(samples)
        for i in times.indices { #expect(abs(times[i] - truth[i]) <= 20_000_000, "line \(i): \(Double(times[i] - truth[i]) / 1e9) s") }
        #expect(clock.fallback == nil)
        let outliers = events.filter { $0.kind == ClockGuard.outlierGapKind }
        #expect(outliers.count == 1 && outliers.allSatisfy { $0.detail.contains("922611.000 s") }, "\(events)")
        #expect(outliers.first?.hostNs == samples[index].hostArrivalNs - SerialClock.transmissionTimeNs(bytes: samples[index].raw.utf8.count + 1, baud: 115_200))
        #expect(clock.model.outliers == 1 && clock.model.pairsSeen == 600)
        #expect(clock.model.segments.allSatisfy { abs($0.driftPpm) < 600 })

        let plan = Self.resync(samples, stored: times)
        #expect(plan.newModel.fallback == nil)
        #expect(plan.newModel.outliers == 1)
        for i in truth.indices { #expect(abs(plan.newTNs[i] + Self.start - truth[i]) <= 20_000_000, "resync line \(i)") }
        #expect(plan.newModel.segments.allSatisfy { abs($0.driftPpm) < 100 }, "\(plan.newModel.segments.map(\.driftPpm))")
    }

    /// The resync case: 13 lines, the last one corrupted. Resync no longer crushes the
    /// 12 good ones into microseconds (the old fit gave 83e9 ppm): they keep their 0.1 s spacing.
    @Test func resyncOfAShortSessionWithASpikeStaysSane() {
        let (samples, truth) = Self.bmsLines(count: 13) { i, t in i == 12 ? 922_611.0 : t }
        let plan = Self.resync(samples, stored: truth)
        for i in truth.indices { #expect(abs(plan.newTNs[i] + Self.start - truth[i]) <= 20_000_000) }
        for i in 1..<13 { #expect(plan.newTNs[i] - plan.newTNs[i - 1] > 50_000_000) }
        #expect(plan.newModel.segments.allSatisfy { abs($0.driftPpm) < 1e4 }, "\(plan.newModel.segments.map(\.driftPpm))")
    }

    /// Device times in ms read as s (a `ts` field mapped without unit = "ms"), and a log
    /// replayed 100x fast: the stream falls back to arrival after a few lines, names the
    /// measured rate, and every time is the corrected arrival (monotone, never jumping).
    @Test(arguments: [(1000.0, "ms read as s"), (100.0, "replayed 100x")])
    func persistentRateMismatchFallsBackToArrival(factor: Double, what: String) {
        let (samples, _) = Self.bmsLines(count: 200) { _, t in t * factor }
        let (times, clock, events) = Self.runOnline(samples)
        let f = try! #require(clock.fallback, "\(what)")
        #expect(f.reason == .rateMismatch)
        #expect(abs(f.deviceRateRatio! / factor - 1) < 0.02, "\(f.deviceRateRatio!)")
        #expect(events.filter { $0.kind == ClockGuard.fallbackGapKind }.count == 1)
        let outliers = events.filter { $0.kind == ClockGuard.outlierGapKind }.count
        #expect(outliers >= 4 && outliers <= 6, "\(outliers)")
        for (i, s) in samples.enumerated() {
            let corrected = SerialClock.correctedArrival(arrivalNs: s.hostArrivalNs, lineBytes: s.raw.utf8.count + 1, config: SerialClockConfig())
            #expect(abs(times[i] - corrected) <= 500_000_000)
            if i >= 6 { #expect(times[i] == corrected) }
        }
        #expect(zip(times, times.dropFirst()).allSatisfy { $0 < $1 }, "times are monotone")
        let text = f.text(stream: "bms0", kind: .lines)
        #expect(text.contains("bms0") && text.contains("timed by arrival") && text.contains("lines/s"), "\(text)")
        #expect(text.contains(String(format: "%.4gx", f.deviceRateRatio!)))

        // Resync applies the same rule: arrival for every line.
        let plan = Self.resync(samples, stored: times)
        #expect(plan.newModel.fallback?.reason == .rateMismatch)
        for (i, s) in samples.enumerated() {
            let corrected = SerialClock.correctedArrival(arrivalNs: s.hostArrivalNs, lineBytes: s.raw.utf8.count + 1, config: SerialClockConfig())
            #expect(plan.newTNs[i] + Self.start == corrected)
        }
        let report = SyncReport(models: [("bms0", plan.newModel)], units: ["bms0": (.lines, nil)])
        #expect(report.text.contains("ARRIVAL TIME") && report.text.contains("bms0: device clock disagrees"), "\(report.text)")
    }

    /// A device clock that is set once (+10 s) is a jump, not a fallback: a new segment, and
    /// times stay within 20 ms of truth on both sides.
    @Test func aClockStepIsAJumpNotAFallback() {
        let (samples, truth) = Self.bmsLines(count: 300) { i, t in i >= 150 ? t + 10 : t }
        let (times, clock, events) = Self.runOnline(samples)
        #expect(clock.fallback == nil)
        #expect(clock.model.segments.map(\.reason).contains(.jump))
        for i in times.indices { #expect(abs(times[i] - truth[i]) <= 20_000_000, "line \(i)") }
        #expect(events.filter { $0.kind == ClockGuard.outlierGapKind }.isEmpty, "the held lines were a step, not outliers")
    }

    /// Values that are not even times (NaN, 1e300 s) do not trap; they are outliers.
    @Test func unrepresentableDeviceTimesAreOutliers() {
        let (samples, truth) = Self.bmsLines(count: 50) { i, t in i == 10 ? .nan : (i == 20 ? 1e300 : (i == 30 ? -1e300 : t)) }
        let (times, clock, _) = Self.runOnline(samples)
        for i in times.indices { #expect(abs(times[i] - truth[i]) <= 20_000_000) }
        #expect(clock.outliers == 3 && clock.fallback == nil)
        let plan = Self.resync(samples, stored: times)
        #expect(plan.newModel.outliers == 3)
    }

    /// An unpaced AE device (an ALSA `file`/`null` plugin with no clock behind it): 1024-sample
    /// chunks at a nominal 48 kHz arrive every 2.13 ms (10x). Before, the fit sat at its
    /// +-500 ppm limit and showed "drift 500.250 ppm" as if measured; now the stream falls back
    /// to arrival, names the delivered sample rate, and the report does not print a drift.
    @Test func unpacedAEDeviceFallsBackAndSaysSo() throws {
        let rate = 48_000.0
        var clock = OnlineStreamClock(timing: .ae(nominalRateHz: rate, oneSided: true))
        var times: [Int64] = [], arrivals: [Int64] = []
        var events: [OnlineStreamClock.ClockEvent] = []
        for k in 0..<3000 {
            let first = Int64(k) * 1024
            let arrival = Self.start + Int64(Double(k + 1) * 1024 / (10 * rate) * 1e9)
            let chunk = AudioChunk(firstSampleIndex: first, channels: 1, format: .s16le, samples: [Int32](repeating: 0, count: 1024),
                                   hostArrivalNs: arrival, clockPair: AudioClockPair(sampleIndex: first + 1024, hostNs: arrival - 20_000))
            times.append(clock.time(chunk: chunk))
            arrivals.append(arrival)
            events += clock.takeClockEvents()
        }
        let f = try #require(clock.fallback)
        #expect(abs(f.deviceRateRatio! - 10) < 0.5, "\(f.deviceRateRatio!)")
        #expect(abs(f.deliveredPerSecond(units: .samples, nominalRateHz: rate)! - 480_000) < 25_000)
        let length = Int64((1024 / rate * 1e9).rounded())
        for i in times.indices {
            #expect(times[i] <= arrivals[i] + 500_000_000 && times[i] >= arrivals[i] - length - 2_500_000_000)
        }
        #expect(times.suffix(2000).enumerated().allSatisfy { $0.element == arrivals[1000 + $0.offset] - length })
        #expect(events.contains { $0.kind == ClockGuard.fallbackGapKind && $0.detail.contains("samples/s") })
        let report = SyncReport(models: [("ae0", clock.model)], units: ["ae0": (.samples, rate)])
        #expect(!report.text.contains("500.250"), "\(report.text)")
        #expect(report.text.contains("ARRIVAL TIME") && report.text.contains("nominal 48000"), "\(report.text)")
    }

    /// A device clock 1500 ppm fast (beyond the online limit, within the rate tolerance): the
    /// online slope is clamped and the report says "clamped", not a measured drift.
    @Test func clampedDriftIsReportedAsClamped() {
        let (samples, _) = Self.bmsLines(count: 200, rateHz: 10) { _, t in t * 1.0015 }
        var clock = OnlineStreamClock(timing: Self.bmsTiming)
        for s in samples { _ = clock.time(sample: s) }
        #expect(clock.fallback == nil)
        let m = clock.model
        #expect(m.segments.contains { $0.slopeClamped == true })
        let text = SyncReport(models: [("bms0", m)]).text
        #expect(text.contains("clamped") && text.contains("a bound, not a measurement"), "\(text)")
        // A model written before this field existed decodes with it absent.
        let json = try! m.jsonText().replacingOccurrences(of: ",\"slopeClamped\":true", with: "")
            .replacingOccurrences(of: "\"slopeClamped\":true,", with: "")
        #expect(!json.contains("slopeClamped"))
        #expect(try! ClockModel.fromJSONText(json).segments.allSatisfy { $0.slopeClamped == nil })
    }

    /// Healthy clocks are untouched: no outliers, no fallback (the existing accuracy tests
    /// cover the times themselves).
    @Test func healthyStreamHasNoOutliers() {
        let (samples, _) = Self.bmsLines(count: 600)
        let (_, clock, events) = Self.runOnline(samples)
        #expect(clock.outliers == 0 && clock.fallback == nil && events.isEmpty)
    }
}
