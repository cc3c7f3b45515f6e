import Foundation
import TRWCore

// TRWSync in one page.
//
// Every stream has a clock model (`ClockModel`: segments of host = f(device)).
// While recording, the recorder keeps one `OnlineStreamClock` per stream on the
// stream's own thread and stores, for each frame / chunk / reading, its raw
// device-side times and t_ns = clock.time(...) - session.startMonotonicNs; gaps
// go to `gap(_:)`. At the end it stores `clock.model.jsonText()` as the
// stream's causal model. `trw resync` reads each stream's raw times, calls
// `ResyncPlanner.thermal / .audio / .bms` (or `plan` / `apply` for custom
// cases), writes `plan.newTNs` and `plan.newModel`, keeps `plan.oldModel` in
// the history and prints `plan.moved`. `trw info` / `trw sync-report` build a
// `SyncReport` from the stored models and print `report.text`.

/// How one stream is timed: the per-stream settings the recorder and
/// `trw resync` share (stored with the stream so a re-fit uses the same ones).
public enum StreamTiming: Sendable, Codable, Equatable {
    /// IR camera frames.
    case thermal(VideoClockConfig)
    /// AE PCM: sample index -> time through the fitted effective rate.
    /// `oneSided`: htstamps are only ever late (interrupt latency); offline, the
    /// fitter also decides from the data (`.automatic`).
    case ae(nominalRateHz: Double, oneSided: Bool)
    /// Serial readings; `deviceResolutionNs` is the resolution of the device
    /// clock in the lines (ignored when they carry none).
    case bms(SerialClockConfig, deviceResolutionNs: Int64)

    /// What the fit cannot see, ns, for `SyncReport` / `Alignment.uncertainty`: the
    /// rounding of a serial device clock (uniform, resolution / sqrt(12)); 0 otherwise
    /// (a mis-set exposure offset or minimum latency is a bias no fit can reveal).
    public var unmodelledNs: Double {
        switch self {
        case .bms(_, let resolution): Double(resolution) / 12.0.squareRoot()
        case .thermal, .ae: 0
        }
    }

    /// A sensible default per stream kind.
    public static func defaultFor(_ d: StreamDescriptor) -> StreamTiming {
        switch d.kind {
        case .thermal: .thermal(VideoClockConfig(timebase: .sequenceDejitter, nominalFps: d.nominalRateHz))
        case .ae: .ae(nominalRateHz: d.nominalRateHz, oneSided: true)
        case .bms: .bms(SerialClockConfig(), deviceResolutionNs: 1_000_000)
        }
    }
}

extension StreamTiming {
    /// The online estimator's settings and the arrival guard's for this stream (the
    /// recorder and `trw resync` use the same ones).
    public func clockSettings(_ base: ClockGuard.Configuration = ClockGuard.Configuration())
        -> (estimator: OnlineClockEstimator.Configuration, guard: ClockGuard.Configuration)
    {
        var gc = base
        switch self {
        case .thermal(let c):
            gc.jitterNs = 20_000_000
            switch c.timebase {
            case .sequenceDejitter:
                return (.init(mode: .symmetric, nominalSlope: 1e9 / c.nominalFps), gc)
            case .deviceClock, .hostMonotonic:
                return (.init(mode: .oneSided, nominalSlope: 1, jumpThresholdNs: 5_000_000), gc)
            }
        case .ae(let rate, let oneSided):
            gc.jitterNs = 20_000_000
            return (.init(mode: oneSided ? .oneSided : .symmetric, nominalSlope: 1e9 / rate, jumpThresholdNs: 1_000_000), gc)
        case .bms(_, let res):
            // A device clock of coarse resolution (a time of day in whole seconds) scatters by its resolution.
            gc.boundNs += 2 * res
            gc.jitterNs = 50_000_000 + 2 * Double(res)
            return (.init(mode: .oneSided, nominalSlope: 1, bucketNs: 8_000_000_000, windowBuckets: 40, jumpThresholdNs: 50_000_000), gc)
        }
    }
}

/// The recorder's per-stream causal clock: give it every event of one stream,
/// in order, on that stream's thread; it returns the host CLOCK_MONOTONIC
/// time to store (t_ns = that - session start) and keeps the running model.
///
/// * thermal: time of the start of exposure of the frame;
/// * ae: time of the chunk's first sample (the chunk's htstamp pair feeds the
///   model first; an xrun gap restarts the segment at the next chunk);
/// * bms: the reading's time, from its device clock if the line carries one,
///   else arrival corrected for transmission time and device latency.
///
/// No device value is trusted on its own (`ClockGuard`, docs/timebase.md): a
/// pair enters the fit only when it agrees with the current model within the
/// guard's bound (500 ms), and every returned time is checked against the
/// sample's host arrival: when the model's time for it is further than the
/// bound from arrival (plus the chunk's length for audio), the sample is timed
/// by arrival instead and reported by `takeClockEvents()` as a `clock_outlier`.
/// A stream whose device clock persistently disagrees with arrival is timed by
/// arrival from then on (`fallback`), so the session clock never jumps.
public struct OnlineStreamClock: Sendable {
    /// Something the recorder stores as a gap row (`ClockGuard.outlierGapKind` or `.fallbackGapKind`).
    public struct ClockEvent: Sendable, Equatable {
        public var kind: String
        /// Host CLOCK_MONOTONIC of the sample concerned, ns.
        public var hostNs: Nanoseconds
        public var count: Int64
        public var detail: String
    }

    public let timing: StreamTiming
    private var estimator: OnlineClockEstimator
    private var arrivalGuard: ClockGuard
    private var pendingBreak: SegmentReason? = nil
    private var events: [ClockEvent] = []
    private var fallbackReported = false
    /// Samples timed by arrival because their model time disagreed with it (pair not at fault).
    public private(set) var arrivalTimed: Int = 0

    public init(timing: StreamTiming, guardConfiguration: ClockGuard.Configuration = ClockGuard.Configuration()) {
        self.timing = timing
        let (ec, gc) = timing.clockSettings(guardConfiguration)
        estimator = OnlineClockEstimator(ec)
        arrivalGuard = ClockGuard(nominalSlope: ec.nominalSlope, configuration: gc)
    }

    /// The running model (the causal fit, stored with the session when it ends), with
    /// the guard's counts and fallback.
    public var model: ClockModel {
        var m: ClockModel
        if case .thermal(let c) = timing, c.timebase == .hostMonotonic { m = .identity } else { m = estimator.model }
        m.fallback = arrivalGuard.fallbackMeasuredToNow
        m.pairsSeen = arrivalGuard.pairs
        m.outliers = arrivalGuard.outliers + arrivalTimed
        return m
    }

    /// Set once the stream's device clock was found to disagree persistently with arrival.
    public var fallback: ClockFallback? { arrivalGuard.fallback }
    /// Samples left out of the fit or timed by arrival so far.
    public var outliers: Int { arrivalGuard.outliers + arrivalTimed }
    /// The guard's bound, ns.
    public var boundNs: Int64 { arrivalGuard.configuration.boundNs }

    /// Gap rows to store: outliers and the fallback, each once.
    public mutating func takeClockEvents() -> [ClockEvent] {
        collect()
        defer { events.removeAll() }
        return events
    }

    /// End of the stream: undecided suspects become outliers.
    public mutating func finish() {
        arrivalGuard.finish()
    }

    /// A gap of this stream: xruns and losses start a new clock segment.
    public mutating func gap(_ g: GapEvent) {
        switch g.kind {
        case .xrun: pendingBreak = .xrun
        case .deviceLoss, .timeout, .queueOverflow, .frameDrop:
            // Dropped frames keep their sequence numbers: no break for a sequence-timed camera.
            if case .thermal(let c) = timing, c.timebase == .sequenceDejitter, g.kind != .deviceLoss { return }
            if case .ae = timing, g.kind == .queueOverflow { return }  // the index still counts every sample
            pendingBreak = .gap
        case .parseError, .deviceError: return
        }
    }

    /// Host time of the start of exposure of `frame`.
    public mutating func time(frame: ThermalFrame) -> Nanoseconds {
        guard case .thermal(let c) = timing else { preconditionFailure("time(frame:) on a \(timing) stream") }
        applyBreak(atDevice: nil)
        let bound = Double(arrivalGuard.configuration.boundNs)
        let arrival = frame.hostArrivalNs
        switch c.timebase {
        case .hostMonotonic:
            let dis = Double(arrival) - Double(frame.deviceTimestampNs)
            let out = abs(dis) > bound || arrivalGuard.fallback != nil
            _ = arrivalGuard.noteDirect(ClockPair(device: frame.deviceTimestampNs, host: arrival), outlier: abs(dis) > bound,
                                        disagreementNs: dis)
            return (out ? arrival : frame.deviceTimestampNs) - c.exposureToTimestampNs
        case .deviceClock:
            let byArrival = arrival - c.minimumDequeueLatencyNs - c.exposureToTimestampNs
            var rejected = false
            if !frame.isErroneous {
                rejected = arrivalGuard.add(ClockPair(device: frame.deviceTimestampNs, host: arrival), to: &estimator) != .accepted
            }
            // Nothing fitted yet (an erroneous first frame): arrival is all we have.
            guard estimator.pairsInSegment > 0, arrivalGuard.fallback == nil else { return byArrival }
            let mapped = estimator.hostTime(device: frame.deviceTimestampNs)
            guard !rejected, checked(mapped, arrival: arrival, early: 0) else { return byArrival }
            return mapped - c.minimumDequeueLatencyNs - c.exposureToTimestampNs
        case .sequenceDejitter:
            let byArrival = arrival - c.exposureToTimestampNs
            let stamp = frame.deviceTimestampNs
            var rejected = false
            if !frame.isErroneous {
                if abs(Double(arrival) - Double(stamp)) <= bound {
                    rejected = arrivalGuard.add(ClockPair(device: frame.sequence, host: stamp), to: &estimator) != .accepted
                } else {
                    rejected = true
                    // The driver's timestamp itself is not a host time.
                    _ = arrivalGuard.noteDirect(ClockPair(device: frame.sequence, host: stamp), outlier: true,
                                                disagreementNs: Double(arrival) - Double(stamp))
                }
            }
            guard estimator.pairsInSegment > 0, arrivalGuard.fallback == nil else { return byArrival }
            let mapped = estimator.hostTime(device: frame.sequence)
            guard !rejected, checked(mapped, arrival: arrival, early: 0) else { return byArrival }
            return mapped - c.exposureToTimestampNs
        }
    }

    /// Host time of the first sample of `chunk`.
    public mutating func time(chunk: AudioChunk) -> Nanoseconds {
        guard case .ae(let rate, _) = timing else { preconditionFailure("time(chunk:) on a \(timing) stream") }
        applyBreak(atDevice: chunk.firstSampleIndex)
        let length = Int64((Double(chunk.frameCount) / rate * 1e9).rounded())
        let byArrival = chunk.hostArrivalNs - length
        if let p = chunk.clockPair {
            let dis = Double(chunk.hostArrivalNs) - Double(p.hostNs)
            let late = arrivalGuard.configuration.boundNs + length + arrivalGuard.configuration.audioBufferAllowanceNs
            if dis >= -Double(arrivalGuard.configuration.boundNs) && dis <= Double(late) {
                _ = arrivalGuard.add(ClockPair(device: p.sampleIndex, host: p.hostNs), to: &estimator)
            } else {
                _ = arrivalGuard.noteDirect(ClockPair(device: p.sampleIndex, host: p.hostNs), outlier: true, disagreementNs: dis)
            }
        }
        // Nothing fitted yet: the chunk was read after its last sample; step back at the nominal rate.
        guard estimator.pairsInSegment > 0, arrivalGuard.fallback == nil else { return byArrival }
        let mapped = estimator.hostTime(device: chunk.firstSampleIndex)
        return checked(mapped, arrival: chunk.hostArrivalNs, early: length + arrivalGuard.configuration.audioBufferAllowanceNs)
            ? mapped : byArrival
    }

    /// Host time of the reading `sample`; `lineBytes` defaults to the raw line plus a 1-byte terminator.
    public mutating func time(sample: BMSSample, lineBytes: Int? = nil) -> Nanoseconds {
        guard case .bms(let c, _) = timing else { preconditionFailure("time(sample:) on a \(timing) stream") }
        let corrected = SerialClock.correctedArrival(arrivalNs: sample.hostArrivalNs,
                                                     lineBytes: lineBytes ?? sample.raw.utf8.count + 1, config: c)
        guard let d = sample.deviceTimeS else { return corrected }
        applyBreak(atDevice: nil)
        guard let dev = SerialClock.checkedDeviceNs(seconds: d) else {
            // Not even a representable time (NaN, 1e300 s): an outlier without a model check.
            _ = arrivalGuard.noteDirect(ClockPair(device: 0, host: corrected), outlier: true, disagreementNs: .infinity)
            return corrected
        }
        let rejected = arrivalGuard.add(ClockPair(device: dev, host: corrected), to: &estimator) != .accepted
        guard estimator.pairsInSegment > 0, arrivalGuard.fallback == nil else { return corrected }
        let mapped = estimator.hostTime(device: dev)
        // A held or rejected device time is not trusted: the reading is timed by its arrival.
        return !rejected && checked(mapped, arrival: corrected, early: 0) ? mapped : corrected
    }

    /// Whether a model time agrees with the sample's arrival: not later than arrival +
    /// bound, not earlier than arrival - `early` - bound. Counts and reports it when not
    /// (unless the guard already holds the pair as a suspect).
    private mutating func checked(_ mapped: Nanoseconds, arrival: Nanoseconds, early: Int64, pairRejected: Bool = false) -> Bool {
        let bound = arrivalGuard.configuration.boundNs
        let d = Double(arrival) - Double(mapped)
        if d <= Double(early + bound) && d >= -Double(bound) { return true }
        if pairRejected { return false }  // the guard counts it (or re-admits it as part of a jump)
        arrivalTimed += 1
        events.append(ClockEvent(kind: ClockGuard.outlierGapKind, hostNs: arrival, count: 1,
                                 detail: "model time \(Self.seconds(-d)) from arrival (bound \(Self.seconds(Double(bound)))): timed by arrival"))
        return false
    }

    private mutating func collect() {
        for o in arrivalGuard.takeOutliers() {
            events.append(ClockEvent(kind: ClockGuard.outlierGapKind, hostNs: o.pair.host, count: 1,
                                     detail: "device time \(deviceText(o.pair.device)) disagrees with the clock model by "
                                         + "\(Self.seconds(-o.disagreementNs)) (bound \(Self.seconds(Double(arrivalGuard.configuration.boundNs)))): "
                                         + "left out of the fit, kept raw"))
        }
        if let f = arrivalGuard.fallback, !fallbackReported {
            fallbackReported = true
            events.append(ClockEvent(kind: ClockGuard.fallbackGapKind, hostNs: f.sinceHostNs, count: 0,
                                     detail: f.text(stream: "stream", nominalRateHz: nominalRateHz, kind: kindWord)
                                         + "; device times from here on are kept raw but not used"))
        }
    }

    private var nominalRateHz: Double? {
        if case .ae(let r, _) = timing { return r }
        return nil
    }

    private var kindWord: ClockFallback.Units {
        switch timing {
        case .ae: .samples
        case .thermal: .frames
        case .bms: .lines
        }
    }

    private func deviceText(_ d: Int64) -> String {
        switch timing {
        case .ae: "sample index \(d)"
        case .thermal(let c) where c.timebase == .sequenceDejitter: "frame \(d)"
        case .thermal: String(format: "%.6f s", Double(d) / 1e9)
        case .bms: String(format: "%.3f s", Double(d) / 1e9)
        }
    }

    static func seconds(_ ns: Double) -> String {
        guard ns.isFinite else { return "an unrepresentable amount" }
        return String(format: "%+.3f s", ns / 1e9)
    }

    private mutating func applyBreak(atDevice d: Int64?) {
        if let r = pendingBreak {
            estimator.startSegment(reason: r, atDevice: d)
            pendingBreak = nil
        }
    }
}

// MARK: - Offline re-fit per stream kind (what `trw resync` calls)

/// Stored raw times of one thermal frame.
public struct StoredFrameTime: Sendable, Equatable {
    public var sequence: Int64
    public var deviceTimestampNs: Nanoseconds
    public var hostArrivalNs: Nanoseconds
    public var tNs: Nanoseconds
    public init(sequence: Int64, deviceTimestampNs: Nanoseconds, hostArrivalNs: Nanoseconds, tNs: Nanoseconds) {
        self.sequence = sequence
        self.deviceTimestampNs = deviceTimestampNs
        self.hostArrivalNs = hostArrivalNs
        self.tNs = tNs
    }
}

/// Stored raw times of one audio chunk.
public struct StoredChunkTime: Sendable, Equatable {
    public var firstSampleIndex: Int64
    public var hostArrivalNs: Nanoseconds
    public var tNs: Nanoseconds
    public init(firstSampleIndex: Int64, hostArrivalNs: Nanoseconds, tNs: Nanoseconds) {
        self.firstSampleIndex = firstSampleIndex
        self.hostArrivalNs = hostArrivalNs
        self.tNs = tNs
    }
}

/// Stored raw times of one serial reading.
public struct StoredReadingTime: Sendable, Equatable {
    public var hostArrivalNs: Nanoseconds
    public var deviceTimeS: Double?
    /// Bytes of the line on the wire (terminator included).
    public var lineBytes: Int
    public var tNs: Nanoseconds
    public init(hostArrivalNs: Nanoseconds, deviceTimeS: Double?, lineBytes: Int, tNs: Nanoseconds) {
        self.hostArrivalNs = hostArrivalNs
        self.deviceTimeS = deviceTimeS
        self.lineBytes = lineBytes
        self.tNs = tNs
    }
}

extension ResyncPlanner {
    /// Re-fit of a camera stream, with the recorder's arrival guard: frames whose
    /// time disagrees with their arrival beyond the bound are timed by arrival.
    public static func thermal(frames: [StoredFrameTime], config: VideoClockConfig, oldModel: ClockModel?,
                               sessionStartMonotonicNs: Nanoseconds) -> ResyncPlan {
        let timing = StreamTiming.thermal(config)
        let (ec, gc) = timing.clockSettings()
        let bound = gc.boundNs
        let corr = VideoClock.correctionNs(config: config)
        var screen: GuardScreen
        var model: ClockModel
        switch config.timebase {
        case .hostMonotonic:
            var g = ClockGuard(nominalSlope: 1, configuration: gc)
            for f in frames {
                let dis = Double(f.hostArrivalNs) - Double(f.deviceTimestampNs)
                _ = g.noteDirect(ClockPair(device: f.deviceTimestampNs, host: f.hostArrivalNs), outlier: abs(dis) > Double(bound),
                                 disagreementNs: dis)
            }
            screen = GuardScreen(accepted: [], fallback: g.fallback, outliers: g.outliers, pairs: frames.count)
            model = .identity
        case .deviceClock:
            let (p, b) = VideoClock.pairs(sequences: frames.map(\.sequence), deviceTimestampsNs: frames.map(\.deviceTimestampNs),
                                          hostArrivalsNs: frames.map(\.hostArrivalNs))
            screen = ClockGuard.screen(p, estimator: ec, configuration: gc, breaks: b)
            model = screen.fallback != nil ? .identity : VideoClock.fitter().fit(screen.kept(p), breaks: screen.remap(b))
        case .sequenceDejitter:
            let usable = frames.indices.filter { abs(Double(frames[$0].hostArrivalNs) - Double(frames[$0].deviceTimestampNs)) <= Double(bound) }
            let p = usable.map { ClockPair(device: frames[$0].sequence, host: frames[$0].deviceTimestampNs) }
            screen = ClockGuard.screen(p, estimator: ec, configuration: gc, breaks: [])
            screen.outliers += frames.count - usable.count
            screen.pairs = frames.count
            model = screen.fallback != nil || p.isEmpty ? .identity
                : VideoClock.sequenceFitter(fps: config.nominalFps).fit(screen.kept(p))
        }
        var times: [GuardedTime] = []
        times.reserveCapacity(frames.count)
        var arrivalTimed = 0
        for (i, f) in frames.enumerated() {
            let byArrival = f.hostArrivalNs - (config.timebase == .deviceClock ? corr : config.exposureToTimestampNs)
            if screen.fallback != nil {
                times.append(GuardedTime(host: byArrival, segment: nil))
                continue
            }
            let dev = VideoClock.modelDevice(sequence: f.sequence, deviceTimestampNs: f.deviceTimestampNs, config: config)
            let k = model.segmentIndex(device: dev, arrivalHost: f.hostArrivalNs)
            let mapped = config.timebase == .hostMonotonic ? f.deviceTimestampNs : (k.map { model.segments[$0].hostTime(device: dev) } ?? dev)
            let d = Double(f.hostArrivalNs) - Double(mapped)
            if abs(d) <= Double(bound) {
                times.append(GuardedTime(host: mapped - corr, segment: k))
            } else {
                // A deviceClock frame whose pair the screen rejected is counted there already.
                if !(config.timebase == .deviceClock && !screen.accepted.isEmpty && !screen.accepted[i]) { arrivalTimed += 1 }
                times.append(GuardedTime(host: byArrival, segment: nil))
            }
        }
        return finish(model: screen.annotate(model, arrivalTimed: arrivalTimed), times: times, stored: frames.map(\.tNs),
                      oldModel: oldModel, sessionStartMonotonicNs: sessionStartMonotonicNs)
    }

    /// Re-fit of an AE stream from its htstamp pairs; `xrunSampleIndices`: first index after each xrun.
    /// Pairs the recorder's arrival guard rejects stay out of the fit; a chunk whose
    /// model time is not within the bound of (arrival - its length) is timed by arrival.
    public static func audio(chunks: [StoredChunkTime], pairs: [AudioClockPair], xrunSampleIndices: [Int64],
                             nominalRateHz: Double, oldModel: ClockModel?, sessionStartMonotonicNs: Nanoseconds) -> ResyncPlan {
        let timing = StreamTiming.ae(nominalRateHz: nominalRateHz, oneSided: true)
        let (ec, gc) = timing.clockSettings()
        let cp = pairs.map { ClockPair(device: $0.sampleIndex, host: $0.hostNs) }
        let breaks = xrunSampleIndices.map { ClockBreak(.device($0), reason: .xrun) }
        let screen = ClockGuard.screen(cp, estimator: ec, configuration: gc, breaks: breaks)
        let kept = screen.kept(cp).map { AudioClockPair(sampleIndex: $0.device, hostNs: $0.host) }
        let clock = screen.fallback != nil || kept.isEmpty
            ? AudioClock(nominalRateHz: nominalRateHz, model: .identity)
            : AudioClock.fit(pairs: kept, xrunSampleIndices: xrunSampleIndices, nominalRateHz: nominalRateHz)
        var times: [GuardedTime] = []
        var arrivalTimed = 0
        for (i, c) in chunks.enumerated() {
            // The chunk's length from the next chunk's first index (the previous chunk's for the last one).
            let frames = i + 1 < chunks.count ? chunks[i + 1].firstSampleIndex - c.firstSampleIndex
                : (i > 0 ? c.firstSampleIndex - chunks[i - 1].firstSampleIndex : 0)
            let length = Int64((Double(max(0, frames)) / nominalRateHz * 1e9).rounded())
            let byArrival = c.hostArrivalNs - length
            guard screen.fallback == nil, !kept.isEmpty, let k = clock.model.segmentIndex(device: c.firstSampleIndex) else {
                times.append(GuardedTime(host: byArrival, segment: nil))
                continue
            }
            let mapped = clock.model.segments[k].hostTime(device: c.firstSampleIndex)
            let d = Double(c.hostArrivalNs) - Double(mapped)
            if d <= Double(length + gc.audioBufferAllowanceNs + gc.boundNs) && d >= -Double(gc.boundNs) {
                times.append(GuardedTime(host: mapped, segment: k))
            } else {
                arrivalTimed += 1
                times.append(GuardedTime(host: byArrival, segment: nil))
            }
        }
        return finish(model: screen.annotate(clock.model, arrivalTimed: arrivalTimed), times: times, stored: chunks.map(\.tNs),
                      oldModel: oldModel, sessionStartMonotonicNs: sessionStartMonotonicNs)
    }

    /// The first sample index after each xrun, from the xrun gaps' host times
    /// (`GapEvent.startHostNs`) and the stored chunks: the first chunk that
    /// arrived after the gap started.
    public static func xrunSampleIndices(xrunGapStartHostNs: [Nanoseconds], chunks: [StoredChunkTime]) -> [Int64] {
        xrunGapStartHostNs.compactMap { g in chunks.first(where: { $0.hostArrivalNs >= g })?.firstSampleIndex }
    }

    /// Re-fit of a serial stream. Readings with a device clock go through the
    /// fitted model; readings without one get the corrected arrival time.
    /// `breaks`: known gaps (e.g. `ClockBreak(gap:)` of the stream's gap rows).
    /// The recorder's arrival guard applies: outlier pairs stay out of the fit, a
    /// reading whose model time is beyond the bound from its corrected arrival is timed
    /// by that arrival, and a stream whose device clock persistently disagrees is timed
    /// by arrival throughout.
    public static func bms(readings: [StoredReadingTime], config: SerialClockConfig, deviceResolutionNs: Int64,
                           breaks: [ClockBreak] = [], oldModel: ClockModel?, sessionStartMonotonicNs: Nanoseconds) -> ResyncPlan {
        let timing = StreamTiming.bms(config, deviceResolutionNs: deviceResolutionNs)
        let (ec, gc) = timing.clockSettings()
        var pairs: [ClockPair] = []
        var pairOf = [Int?](repeating: nil, count: readings.count)
        var unusable = 0
        for (i, r) in readings.enumerated() {
            guard let s = r.deviceTimeS else { continue }
            guard let d = SerialClock.checkedDeviceNs(seconds: s) else { unusable += 1; continue }
            pairOf[i] = pairs.count
            pairs.append(ClockPair(device: d,
                                   host: SerialClock.correctedArrival(arrivalNs: r.hostArrivalNs, lineBytes: r.lineBytes, config: config)))
        }
        var screen = ClockGuard.screen(pairs, estimator: ec, configuration: gc, breaks: breaks)
        screen.outliers += unusable
        screen.pairs += unusable
        let kept = screen.kept(pairs)
        let useClock = screen.fallback == nil && !kept.isEmpty
        let model = useClock ? SerialClock.fitter(deviceResolutionNs: deviceResolutionNs).fit(kept, breaks: breaks) : .identity
        var times: [GuardedTime] = []
        times.reserveCapacity(readings.count)
        var arrivalTimed = 0
        for (i, r) in readings.enumerated() {
            let corrected = SerialClock.correctedArrival(arrivalNs: r.hostArrivalNs, lineBytes: r.lineBytes, config: config)
            guard useClock, let s = r.deviceTimeS, let d = SerialClock.checkedDeviceNs(seconds: s),
                  let k = model.segmentIndex(device: d, arrivalHost: r.hostArrivalNs) else {
                times.append(GuardedTime(host: corrected, segment: nil))
                continue
            }
            let mapped = model.segments[k].hostTime(device: d)
            if abs(Double(corrected) - Double(mapped)) <= Double(gc.boundNs) {
                times.append(GuardedTime(host: mapped, segment: k))
            } else {
                if let p = pairOf[i], screen.accepted.isEmpty || screen.accepted[p] { arrivalTimed += 1 }  // else counted by the screen
                times.append(GuardedTime(host: corrected, segment: nil))
            }
        }
        return finish(model: screen.annotate(model, arrivalTimed: arrivalTimed), times: times, stored: readings.map(\.tNs),
                      oldModel: oldModel, sessionStartMonotonicNs: sessionStartMonotonicNs)
    }
}

/// What `ClockGuard.screen` decided over a stream's stored pairs.
public struct GuardScreen: Sendable, Equatable {
    /// Per pair: in the fit (false: an outlier, or after the fallback).
    public var accepted: [Bool]
    public var fallback: ClockFallback?
    public var outliers: Int
    public var pairs: Int

    /// The accepted pairs, in order.
    public func kept(_ p: [ClockPair]) -> [ClockPair] {
        accepted.isEmpty ? p : p.indices.filter { accepted[$0] }.map { p[$0] }
    }

    /// Breaks by pair index moved to the kept pairs' indices.
    public func remap(_ breaks: [ClockBreak]) -> [ClockBreak] {
        guard !accepted.isEmpty else { return breaks }
        var newIndex = [Int](repeating: 0, count: accepted.count + 1)
        var n = 0
        for i in accepted.indices {
            newIndex[i] = n
            if accepted[i] { n += 1 }
        }
        newIndex[accepted.count] = n
        return breaks.map { b in
            if case .pairIndex(let i) = b.position { return ClockBreak(.pairIndex(newIndex[min(max(i, 0), accepted.count)]), reason: b.reason) }
            return b
        }
    }

    /// `model` with the guard's findings; a fallback model is described as arrival time.
    public func annotate(_ model: ClockModel, arrivalTimed: Int) -> ClockModel {
        var m = model
        if fallback != nil { m.fitter = "arrival time (ClockGuard fallback; " + model.fitter + ")" }
        m.fallback = fallback.map { f in var g = f; g.reason = f.reason; return g }
        m.pairsSeen = pairs
        m.outliers = outliers + arrivalTimed
        return m
    }
}

extension ClockGuard {
    /// The recorder's guard over a stream's stored pairs, in order (what `trw resync`
    /// applies before fitting): which pairs enter the fit, and whether the stream falls
    /// back to arrival. `breaks` at host or device positions, or pair indices, start
    /// segments as the recorder's gaps did.
    public static func screen(_ pairs: [ClockPair], estimator ec: OnlineClockEstimator.Configuration,
                              configuration gc: ClockGuard.Configuration, breaks: [ClockBreak]) -> GuardScreen {
        var est = OnlineClockEstimator(ec)
        var g = ClockGuard(nominalSlope: ec.nominalSlope, configuration: gc)
        var accepted = [Bool](repeating: true, count: pairs.count)
        var waiting: [ClockPair: [Int]] = [:]
        var breakAt = Set<Int>()
        var fellBack = false
        for b in breaks {
            switch b.position {
            case .pairIndex(let i): breakAt.insert(i)
            case .host(let h): if let i = pairs.firstIndex(where: { $0.host >= h }), i > 0 { breakAt.insert(i) }
            case .device(let d):
                if let i = (1..<max(1, pairs.count)).first(where: { pairs[$0 - 1].device < d && pairs[$0].device >= d }) { breakAt.insert(i) }
            }
        }
        for (i, p) in pairs.enumerated() {
            if breakAt.contains(i) { est.startSegment(reason: .gap) }
            waiting[p, default: []].append(i)
            let outcome = g.add(p, to: &est)
            if outcome == .fallback && !fellBack {
                fellBack = true
                for j in i..<pairs.count { accepted[j] = false }
            }
            for o in g.takeOutliers() {
                if var q = waiting[o.pair], !q.isEmpty {
                    accepted[q.removeFirst()] = false
                    waiting[o.pair] = q
                }
            }
        }
        g.finish()
        for o in g.takeOutliers() {
            if var q = waiting[o.pair], !q.isEmpty {
                accepted[q.removeFirst()] = false
                waiting[o.pair] = q
            }
        }
        return GuardScreen(accepted: accepted, fallback: g.fallbackMeasuredToNow, outliers: g.outliers, pairs: pairs.count)
    }
}

/// A sample's new host time and the model segment it came from (nil: timed by arrival).
struct GuardedTime: Sendable {
    var host: Nanoseconds
    var segment: Int?
}
