import TRWCore

/// Audio clock: sample index -> host CLOCK_MONOTONIC through the fitted
/// effective sample rate and offset, never through arrival time.
///
/// This is LSL's "dejitter" idea (liblsl `postproc_dejitter`: a regression of
/// time stamps on sample index gives the effective rate, and each sample's
/// time is read off the line) applied to ALSA's (sample index, htstamp)
/// status pairs. Every xrun starts a new segment, because after an overrun
/// the index no longer counts every sample period.
public struct AudioClock: Sendable, Codable, Equatable {
    public var nominalRateHz: Double
    public var model: ClockModel

    /// A fitter for audio pairs at `nominalRateHz`. `.automatic` picks the
    /// lower envelope when the htstamp jitter is one-sided (interrupt latency)
    /// and Huber when it is symmetric.
    public static func fitter(nominalRateHz: Double, mode: ClockFitter.Mode = .automatic) -> ClockFitter {
        var c = ClockFitter.Configuration(mode: mode, nominalSlope: 1e9 / nominalRateHz)
        c.minimumPairsForSlope = 16
        c.envelopeWindow = 16
        c.jumpThresholdNs = 1_000_000
        return ClockFitter(c)
    }

    /// Offline fit from all (sample index, htstamp) pairs of a stream;
    /// `xrunSampleIndices` are the first sample indices after each xrun.
    public static func fit(pairs: [AudioClockPair], xrunSampleIndices: [Int64] = [], nominalRateHz: Double,
                           mode: ClockFitter.Mode = .automatic) -> AudioClock {
        let cp = pairs.map { ClockPair(device: $0.sampleIndex, host: $0.hostNs) }
        let breaks = xrunSampleIndices.map { ClockBreak(.device($0), reason: .xrun) }
        let model = fitter(nominalRateHz: nominalRateHz, mode: mode).fit(cp, breaks: breaks)
        return AudioClock(nominalRateHz: nominalRateHz, model: model)
    }

    public init(nominalRateHz: Double, model: ClockModel) {
        self.nominalRateHz = nominalRateHz
        self.model = model
    }

    /// Host time of sample `index` (per channel).
    public func hostTime(sampleIndex index: Int64) -> Nanoseconds { model.hostTime(device: index) }

    /// Effective sample rate of the segment that holds `index`, Hz.
    public func effectiveRateHz(sampleIndex index: Int64) -> Double {
        guard let i = model.segmentIndex(device: index) else { return nominalRateHz }
        return model.segments[i].effectiveRateHz
    }
}

/// Causal audio clock for the recorder: feed every chunk's htstamp pair, call
/// `xrun(nextSampleIndex:)` on every overrun, read sample times with `hostTime`.
public struct OnlineAudioClock: Sendable {
    public private(set) var estimator: OnlineClockEstimator
    public let nominalRateHz: Double

    public init(nominalRateHz: Double, oneSided: Bool = false, windowSeconds: Int = 120) {
        self.nominalRateHz = nominalRateHz
        self.estimator = OnlineClockEstimator(.init(
            mode: oneSided ? .oneSided : .symmetric, nominalSlope: 1e9 / nominalRateHz,
            bucketNs: 1_000_000_000, windowBuckets: windowSeconds, jumpThresholdNs: 1_000_000))
    }

    /// Adds a status pair; returns the host time of its sample index on the updated model.
    @discardableResult
    public mutating func add(_ pair: AudioClockPair) -> Nanoseconds {
        estimator.add(device: pair.sampleIndex, host: pair.hostNs)
    }

    /// An overrun: samples from `nextSampleIndex` on belong to a new segment.
    public mutating func xrun(nextSampleIndex: Int64) {
        estimator.startSegment(reason: .xrun, atDevice: nextSampleIndex)
    }

    public func hostTime(sampleIndex: Int64) -> Nanoseconds { estimator.hostTime(device: sampleIndex) }
    public var model: ClockModel { estimator.model }
}

/// Per-camera timing of V4L2 frames.
public struct VideoClockConfig: Sendable, Codable, Equatable {
    /// Where the driver timestamp comes from.
    public enum Timebase: String, Sendable, Codable {
        /// The buffer timestamp already is CLOCK_MONOTONIC
        /// (V4L2_BUF_FLAG_TIMESTAMP_MONOTONIC, as UVC and most drivers set).
        case hostMonotonic = "host_monotonic"
        /// The camera's own clock: fitted against dequeue time (lower envelope,
        /// since dequeue is always after capture).
        case deviceClock = "device_clock"
        /// Monotonic driver timestamps with interrupt/USB jitter, dejittered
        /// through the sequence number: the camera's frame clock is a crystal,
        /// so frame n is at a fitted offset + n / (effective frame rate) (the
        /// LSL dejitter idea, as for audio). Dropped frames keep their sequence
        /// numbers, so they need no break; a sequence going back is a reset.
        case sequenceDejitter = "sequence_dejitter"
    }

    public var timebase: Timebase
    /// Start of exposure to the instant the driver timestamps, ns: e.g.
    /// exposure + readout for end-of-frame timestamps
    /// (V4L2_BUF_FLAG_TSTAMP_SRC_EOF), about 0 for start-of-exposure ones
    /// (V4L2_BUF_FLAG_TSTAMP_SRC_SOE). Subtracted from the mapped timestamp.
    public var exposureToTimestampNs: Int64
    /// For `.deviceClock`: the least dequeue latency (timestamp to DQBUF), ns,
    /// which the lower envelope cannot see and which is subtracted as well.
    public var minimumDequeueLatencyNs: Int64

    /// Nominal frame rate, for `.sequenceDejitter`.
    public var nominalFps: Double

    public init(timebase: Timebase = .hostMonotonic, exposureToTimestampNs: Int64 = 0, minimumDequeueLatencyNs: Int64 = 0,
                nominalFps: Double = 50) {
        self.timebase = timebase
        self.nominalFps = nominalFps
        self.exposureToTimestampNs = exposureToTimestampNs
        self.minimumDequeueLatencyNs = minimumDequeueLatencyNs
    }
}

/// Video clock helpers: pairs and breaks from frames, and frame times.
public enum VideoClock {
    /// Clock pairs (driver timestamp, dequeue time) and breaks at sequence jumps
    /// (dropped frames, as `.gap`) and erroneous buffers are skipped.
    public static func pairs(sequences: [Int64], deviceTimestampsNs: [Nanoseconds], hostArrivalsNs: [Nanoseconds])
        -> (pairs: [ClockPair], breaks: [ClockBreak])
    {
        precondition(sequences.count == deviceTimestampsNs.count && sequences.count == hostArrivalsNs.count)
        var pairs: [ClockPair] = []
        var breaks: [ClockBreak] = []
        pairs.reserveCapacity(sequences.count)
        for i in sequences.indices {
            if i > 0 && sequences[i] != sequences[i - 1] + 1 {
                breaks.append(ClockBreak(.pairIndex(pairs.count), reason: sequences[i] < sequences[i - 1] ? .reset : .gap))
            }
            pairs.append(ClockPair(device: deviceTimestampsNs[i], host: hostArrivalsNs[i]))
        }
        return (pairs, breaks)
    }

    /// The same from frames.
    public static func pairs(frames: [ThermalFrame]) -> (pairs: [ClockPair], breaks: [ClockBreak]) {
        pairs(sequences: frames.map(\.sequence), deviceTimestampsNs: frames.map(\.deviceTimestampNs),
              hostArrivalsNs: frames.map(\.hostArrivalNs))
    }

    /// A fitter for a camera's own clock (one-sided: dequeue is always late).
    public static func fitter() -> ClockFitter {
        ClockFitter(.init(mode: .oneSided, nominalSlope: 1, jumpThresholdNs: 5_000_000))
    }

    /// A fitter for (sequence, monotonic driver timestamp) pairs at `fps`.
    public static func sequenceFitter(fps: Double) -> ClockFitter {
        ClockFitter(.init(mode: .automatic, nominalSlope: 1e9 / fps, jumpThresholdNs: 2_000_000))
    }

    /// Offline model from (driver timestamp, dequeue time) pairs: identity for
    /// monotonic driver timestamps, else a lower-envelope fit. For
    /// `.sequenceDejitter` use `fit(sequences:deviceTimestampsNs:hostArrivalsNs:config:)`.
    public static func fit(_ pairs: [ClockPair], breaks: [ClockBreak], config: VideoClockConfig) -> ClockModel {
        switch config.timebase {
        case .hostMonotonic: return .identity
        case .deviceClock, .sequenceDejitter: return fitter().fit(pairs, breaks: breaks)
        }
    }

    /// Offline model of a camera for any timebase, from the raw per-frame times.
    public static func fit(sequences: [Int64], deviceTimestampsNs: [Nanoseconds], hostArrivalsNs: [Nanoseconds],
                           config: VideoClockConfig) -> ClockModel {
        if config.timebase == .sequenceDejitter {
            let p = zip(sequences, deviceTimestampsNs).map { ClockPair(device: $0.0, host: $0.1) }
            return sequenceFitter(fps: config.nominalFps).fit(p)
        }
        let (p, b) = pairs(sequences: sequences, deviceTimestampsNs: deviceTimestampsNs, hostArrivalsNs: hostArrivalsNs)
        return fit(p, breaks: b, config: config)
    }

    /// The value a frame is looked up by in its model: the sequence number for
    /// `.sequenceDejitter`, the driver timestamp otherwise.
    public static func modelDevice(sequence: Int64, deviceTimestampNs: Nanoseconds, config: VideoClockConfig) -> Int64 {
        config.timebase == .sequenceDejitter ? sequence : deviceTimestampNs
    }

    /// Host CLOCK_MONOTONIC of the start of exposure of a frame.
    public static func exposureStart(sequence: Int64, deviceTimestampNs: Nanoseconds, arrivalHostNs: Nanoseconds? = nil,
                                     model: ClockModel, config: VideoClockConfig) -> Nanoseconds {
        let mapped: Nanoseconds
        switch config.timebase {
        case .hostMonotonic: mapped = deviceTimestampNs
        case .deviceClock:
            mapped = model.hostTime(device: deviceTimestampNs, arrivalHost: arrivalHostNs) - config.minimumDequeueLatencyNs
        case .sequenceDejitter: mapped = model.hostTime(device: sequence, arrivalHost: arrivalHostNs)
        }
        return mapped - config.exposureToTimestampNs
    }

    /// Host CLOCK_MONOTONIC of the start of exposure of a frame (timebases other than `.sequenceDejitter`).
    public static func exposureStart(deviceTimestampNs: Nanoseconds, arrivalHostNs: Nanoseconds? = nil,
                                     model: ClockModel, config: VideoClockConfig) -> Nanoseconds {
        exposureStart(sequence: 0, deviceTimestampNs: deviceTimestampNs, arrivalHostNs: arrivalHostNs, model: model,
                      config: config)
    }

    /// The per-sample correction (ns subtracted after the model) used by `ResyncPlanner`.
    public static func correctionNs(config: VideoClockConfig) -> Int64 {
        config.exposureToTimestampNs + (config.timebase == .deviceClock ? config.minimumDequeueLatencyNs : 0)
    }
}

/// Serial-line timing (BMS, power supply, DAQ).
public struct SerialClockConfig: Sendable, Codable, Equatable {
    public var baud: Int
    /// Bits per character on the wire: start + data + parity + stop (8N1 = 10).
    public var bitsPerChar: Int
    /// Instrument latency from measuring to starting to send, ns (from its manual), subtracted.
    public var deviceLatencyNs: Int64

    public init(baud: Int = 115_200, bitsPerChar: Int = 10, deviceLatencyNs: Int64 = 0) {
        self.baud = baud
        self.bitsPerChar = bitsPerChar
        self.deviceLatencyNs = deviceLatencyNs
    }
}

public enum SerialClock {
    /// Time on the wire of `bytes` characters at `baud`: bytes * bitsPerChar / baud, ns.
    public static func transmissionTimeNs(bytes: Int, baud: Int, bitsPerChar: Int = 10) -> Nanoseconds {
        precondition(baud > 0 && bytes >= 0 && bitsPerChar > 0)
        return Int64((Double(bytes * bitsPerChar) * 1e9 / Double(baud)).rounded())
    }

    /// Host time at which the instrument started sending a line of `lineBytes`
    /// bytes (terminator included) completed at `arrivalNs`, minus its
    /// configured latency: the best arrival-only estimate of the reading's time.
    public static func correctedArrival(arrivalNs: Nanoseconds, lineBytes: Int, config: SerialClockConfig) -> Nanoseconds {
        arrivalNs - transmissionTimeNs(bytes: lineBytes, baud: config.baud, bitsPerChar: config.bitsPerChar)
            - config.deviceLatencyNs
    }

    /// A fitter for a device clock carried in the lines: lower envelope, since
    /// arrival (even after the transmission correction) is never early; USB
    /// serial adapters add up to their latency timer (FTDI: 16 ms default).
    /// `deviceResolutionNs` is the resolution of the device clock in the line (1 ms for "12.345 s").
    public static func fitter(envelopeWindow: Int = 8, deviceResolutionNs: Int64 = 0) -> ClockFitter {
        ClockFitter(.init(mode: .oneSided, nominalSlope: 1, jumpThresholdNs: 50_000_000, jumpScaleFactor: 10,
                          jumpConfirmPairs: 5, minimumPairsForSlope: 8, envelopeWindow: envelopeWindow,
                          deviceResolution: Double(deviceResolutionNs)))
    }

    /// Device time in seconds (as `BMSSample.deviceTimeS`) to the fitter's device unit (ns).
    public static func deviceNs(seconds: Double) -> Int64 { checkedDeviceNs(seconds: seconds) ?? 0 }

    /// Device time in seconds to ns, nil when it is not finite or beyond +-9.2e9 s
    /// (a corrupted value must not trap the recorder).
    public static func checkedDeviceNs(seconds: Double) -> Int64? {
        let ns = (seconds * 1e9).rounded()
        guard ns.isFinite, abs(ns) < 9.2e18 else { return nil }
        return Int64(ns)
    }

    /// Clock pairs for samples that carry a device clock: (device time, corrected arrival).
    /// `lineBytes` gives each raw line's length on the wire (raw.utf8.count + terminator by default).
    public static func pairs(samples: [BMSSample], config: SerialClockConfig, terminatorBytes: Int = 1) -> [ClockPair] {
        samples.compactMap { s in
            guard let d = s.deviceTimeS.flatMap({ checkedDeviceNs(seconds: $0) }) else { return nil }
            return ClockPair(device: d,
                             host: correctedArrival(arrivalNs: s.hostArrivalNs, lineBytes: s.raw.utf8.count + terminatorBytes,
                                                    config: config))
        }
    }
}
