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

/// The recorder's per-stream causal clock: give it every event of one stream,
/// in order, on that stream's thread; it returns the host CLOCK_MONOTONIC
/// time to store (t_ns = that - session start) and keeps the running model.
///
/// * thermal: time of the start of exposure of the frame;
/// * ae: time of the chunk's first sample (the chunk's htstamp pair feeds the
///   model first; an xrun gap restarts the segment at the next chunk);
/// * bms: the reading's time, from its device clock if the line carries one,
///   else arrival corrected for transmission time and device latency.
public struct OnlineStreamClock: Sendable {
    public let timing: StreamTiming
    private var estimator: OnlineClockEstimator
    private var pendingBreak: SegmentReason? = nil

    public init(timing: StreamTiming) {
        self.timing = timing
        switch timing {
        case .thermal(let c):
            switch c.timebase {
            case .sequenceDejitter:
                estimator = OnlineClockEstimator(.init(mode: .symmetric, nominalSlope: 1e9 / c.nominalFps))
            case .deviceClock, .hostMonotonic:
                estimator = OnlineClockEstimator(.init(mode: .oneSided, nominalSlope: 1, jumpThresholdNs: 5_000_000))
            }
        case .ae(let rate, let oneSided):
            estimator = OnlineClockEstimator(.init(mode: oneSided ? .oneSided : .symmetric, nominalSlope: 1e9 / rate,
                                                   jumpThresholdNs: 1_000_000))
        case .bms:
            estimator = OnlineClockEstimator(.init(mode: .oneSided, nominalSlope: 1, bucketNs: 8_000_000_000,
                                                   windowBuckets: 40, jumpThresholdNs: 50_000_000))
        }
    }

    /// The running model (the causal fit, stored with the session when it ends).
    public var model: ClockModel {
        if case .thermal(let c) = timing, c.timebase == .hostMonotonic { return .identity }
        return estimator.model
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
        switch c.timebase {
        case .hostMonotonic:
            return frame.deviceTimestampNs - c.exposureToTimestampNs
        case .deviceClock:
            if !frame.isErroneous { estimator.add(device: frame.deviceTimestampNs, host: frame.hostArrivalNs) }
            // Nothing fitted yet (an erroneous first frame): arrival is all we have.
            let mapped = estimator.pairsInSegment == 0
                ? frame.hostArrivalNs : estimator.hostTime(device: frame.deviceTimestampNs)
            return mapped - c.minimumDequeueLatencyNs - c.exposureToTimestampNs
        case .sequenceDejitter:
            if !frame.isErroneous { estimator.add(device: frame.sequence, host: frame.deviceTimestampNs) }
            let mapped = estimator.pairsInSegment == 0 ? frame.deviceTimestampNs : estimator.hostTime(device: frame.sequence)
            return mapped - c.exposureToTimestampNs
        }
    }

    /// Host time of the first sample of `chunk`.
    public mutating func time(chunk: AudioChunk) -> Nanoseconds {
        guard case .ae = timing else { preconditionFailure("time(chunk:) on a \(timing) stream") }
        applyBreak(atDevice: chunk.firstSampleIndex)
        if let p = chunk.clockPair { estimator.add(device: p.sampleIndex, host: p.hostNs) }
        if estimator.pairsInSegment == 0 {
            // Nothing fitted yet: the chunk was read after its last sample; step back at the nominal rate.
            guard case .ae(let rate, _) = timing else { return chunk.hostArrivalNs }
            return chunk.hostArrivalNs - Int64((Double(chunk.frameCount) / rate * 1e9).rounded())
        }
        return estimator.hostTime(device: chunk.firstSampleIndex)
    }

    /// Host time of the reading `sample`; `lineBytes` defaults to the raw line plus a 1-byte terminator.
    public mutating func time(sample: BMSSample, lineBytes: Int? = nil) -> Nanoseconds {
        guard case .bms(let c, _) = timing else { preconditionFailure("time(sample:) on a \(timing) stream") }
        let corrected = SerialClock.correctedArrival(arrivalNs: sample.hostArrivalNs,
                                                     lineBytes: lineBytes ?? sample.raw.utf8.count + 1, config: c)
        guard let d = sample.deviceTimeS else { return corrected }
        applyBreak(atDevice: nil)
        let dev = SerialClock.deviceNs(seconds: d)
        return estimator.add(device: dev, host: corrected)
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
    /// Re-fit of a camera stream.
    public static func thermal(frames: [StoredFrameTime], config: VideoClockConfig, oldModel: ClockModel?,
                               sessionStartMonotonicNs: Nanoseconds) -> ResyncPlan {
        let good = frames  // erroneous buffers are not stored as frames
        let model = VideoClock.fit(sequences: good.map(\.sequence), deviceTimestampsNs: good.map(\.deviceTimestampNs),
                                   hostArrivalsNs: good.map(\.hostArrivalNs), config: config)
        let corr = VideoClock.correctionNs(config: config)
        let samples = frames.map {
            RawSampleTime(device: VideoClock.modelDevice(sequence: $0.sequence, deviceTimestampNs: $0.deviceTimestampNs, config: config),
                          arrivalHostNs: $0.hostArrivalNs, correctionNs: corr, storedTNs: $0.tNs)
        }
        return apply(model: model, samples: samples, oldModel: oldModel, sessionStartMonotonicNs: sessionStartMonotonicNs)
    }

    /// Re-fit of an AE stream from its htstamp pairs; `xrunSampleIndices`: first index after each xrun.
    public static func audio(chunks: [StoredChunkTime], pairs: [AudioClockPair], xrunSampleIndices: [Int64],
                             nominalRateHz: Double, oldModel: ClockModel?, sessionStartMonotonicNs: Nanoseconds) -> ResyncPlan {
        let clock = AudioClock.fit(pairs: pairs, xrunSampleIndices: xrunSampleIndices, nominalRateHz: nominalRateHz)
        let samples = chunks.map {
            RawSampleTime(device: $0.firstSampleIndex, arrivalHostNs: $0.hostArrivalNs, correctionNs: 0, storedTNs: $0.tNs)
        }
        return apply(model: clock.model, samples: samples, oldModel: oldModel, sessionStartMonotonicNs: sessionStartMonotonicNs)
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
    public static func bms(readings: [StoredReadingTime], config: SerialClockConfig, deviceResolutionNs: Int64,
                           breaks: [ClockBreak] = [], oldModel: ClockModel?, sessionStartMonotonicNs: Nanoseconds) -> ResyncPlan {
        var pairs: [ClockPair] = []
        for r in readings {
            guard let d = r.deviceTimeS else { continue }
            pairs.append(ClockPair(device: SerialClock.deviceNs(seconds: d),
                                   host: SerialClock.correctedArrival(arrivalNs: r.hostArrivalNs, lineBytes: r.lineBytes, config: config)))
        }
        let model = pairs.isEmpty ? ClockModel.identity
            : SerialClock.fitter(deviceResolutionNs: deviceResolutionNs).fit(pairs, breaks: breaks)
        let samples = readings.map { r -> RawSampleTime in
            if let d = r.deviceTimeS, !pairs.isEmpty {
                return RawSampleTime(device: SerialClock.deviceNs(seconds: d), arrivalHostNs: r.hostArrivalNs, correctionNs: 0,
                                     storedTNs: r.tNs)
            }
            // identity model on the arrival, corrected
            let corr = r.hostArrivalNs - SerialClock.correctedArrival(arrivalNs: r.hostArrivalNs, lineBytes: r.lineBytes, config: config)
            return RawSampleTime(device: r.hostArrivalNs, arrivalHostNs: r.hostArrivalNs, correctionNs: corr, storedTNs: r.tNs)
        }
        if pairs.isEmpty || readings.allSatisfy({ $0.deviceTimeS != nil }) {
            return apply(model: model, samples: samples, oldModel: oldModel, sessionStartMonotonicNs: sessionStartMonotonicNs)
        }
        // Mixed: map the two kinds separately, then merge in input order.
        let withClock = readings.indices.filter { readings[$0].deviceTimeS != nil }
        let without = readings.indices.filter { readings[$0].deviceTimeS == nil }
        let a = apply(model: model, samples: withClock.map { samples[$0] }, oldModel: oldModel,
                      sessionStartMonotonicNs: sessionStartMonotonicNs)
        let b = apply(model: .identity, samples: without.map { samples[$0] }, oldModel: nil,
                      sessionStartMonotonicNs: sessionStartMonotonicNs)
        var t = [Nanoseconds](repeating: 0, count: readings.count)
        for (k, i) in withClock.enumerated() { t[i] = a.newTNs[k] }
        for (k, i) in without.enumerated() { t[i] = b.newTNs[k] }
        let all = readings.indices.map { i in
            RawSampleTime(device: 0, arrivalHostNs: 0, correctionNs: -t[i] - sessionStartMonotonicNs, storedTNs: readings[i].tNs)
        }
        // Summary over all readings: identity-at-0 with the correction carrying the new time.
        var merged = apply(model: .identity, samples: all, oldModel: oldModel, sessionStartMonotonicNs: sessionStartMonotonicNs)
        merged.newModel = model
        merged.moved.newSegmentCount = model.segments.count
        merged.moved.segments = a.moved.segments
        return merged
    }
}
