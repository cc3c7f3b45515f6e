/// One radiometric frame as captured, before it reaches the session time base.
public struct ThermalFrame: Sendable {
    public var width: Int
    public var height: Int
    /// Row-major counts, `width * height` of them.
    public var pixels: [UInt16]
    /// Driver sequence number (V4L2 `sequence`); a jump is a dropped frame.
    public var sequence: Int64
    /// Device-side timestamp as captured (V4L2 buffer timestamp, camera clock), ns.
    public var deviceTimestampNs: Nanoseconds
    /// Host CLOCK_MONOTONIC when the frame was dequeued, ns.
    public var hostArrivalNs: Nanoseconds
    /// The driver flagged the buffer as erroneous (V4L2_BUF_FLAG_ERROR).
    public var isErroneous: Bool

    public init(
        width: Int, height: Int, pixels: [UInt16], sequence: Int64,
        deviceTimestampNs: Nanoseconds, hostArrivalNs: Nanoseconds, isErroneous: Bool = false
    ) {
        precondition(pixels.count == width * height, "frame has \(pixels.count) pixels, expected \(width)x\(height)")
        self.width = width
        self.height = height
        self.pixels = pixels
        self.sequence = sequence
        self.deviceTimestampNs = deviceTimestampNs
        self.hostArrivalNs = hostArrivalNs
        self.isErroneous = isErroneous
    }
}

/// Interleaved PCM samples in the width they were captured in: S16 stays 16-bit from
/// the device to the encoder (which writes the same bytes as for the sign-extended
/// `Int32`); S24 (sign-extended), S32 and FLOAT_LE (its bit pattern) are `Int32`.
public enum PCMSamples: Sendable, Equatable {
    /// S16_LE samples as captured.
    case int16([Int16])
    /// S24_LE sign-extended, S32_LE, FLOAT_LE as its bit pattern (and S16 widened, as read back).
    case int32([Int32])

    public var count: Int {
        switch self {
        case .int16(let s): s.count
        case .int32(let s): s.count
        }
    }

    public var isEmpty: Bool { count == 0 }

    /// The samples as `Int32` (S16 sign-extended): a copy for `int16`, the array itself for `int32`.
    public var widened: [Int32] {
        switch self {
        case .int16(let s): s.map { Int32($0) }
        case .int32(let s): s
        }
    }

    /// Sample `i` as `Int32` (S16 sign-extended).
    public subscript(i: Int) -> Int32 {
        switch self {
        case .int16(let s): Int32(s[i])
        case .int32(let s): s[i]
        }
    }
}

/// A block of interleaved PCM from an AE device.
public struct AudioChunk: Sendable {
    /// Index (per channel) of the first frame in this chunk since the stream started.
    public var firstSampleIndex: Int64
    public var channels: Int
    public var format: SampleFormat
    /// Interleaved samples, `frameCount * channels` of them, in their capture width (see `SampleFormat`).
    public var pcm: PCMSamples
    /// Host CLOCK_MONOTONIC when the chunk was read, ns (arrival; not used for sample time).
    public var hostArrivalNs: Nanoseconds
    /// A (sample index, host timestamp) pair reported by the device (ALSA status htstamp),
    /// the raw material of the audio clock model.
    public var clockPair: AudioClockPair?

    /// The samples as `Int32` (S16 sign-extended; a copy when they are held as `Int16`).
    /// The recorder's hot path reads `pcm` instead.
    public var samples: [Int32] {
        get { pcm.widened }
        set { pcm = .int32(newValue) }
    }

    public var frameCount: Int { channels == 0 ? 0 : pcm.count / channels }

    /// A chunk of `Int32` samples (S16 and S24 sign-extended, FLOAT_LE as its bit pattern).
    public init(
        firstSampleIndex: Int64, channels: Int, format: SampleFormat, samples: [Int32],
        hostArrivalNs: Nanoseconds, clockPair: AudioClockPair? = nil
    ) {
        self.init(firstSampleIndex: firstSampleIndex, channels: channels, format: format, pcm: .int32(samples),
                  hostArrivalNs: hostArrivalNs, clockPair: clockPair)
    }

    /// A chunk of samples in their capture width; `.int16` only for S16_LE.
    public init(
        firstSampleIndex: Int64, channels: Int, format: SampleFormat, pcm: PCMSamples,
        hostArrivalNs: Nanoseconds, clockPair: AudioClockPair? = nil
    ) {
        precondition(channels > 0 && pcm.count % channels == 0, "samples not a whole number of frames")
        if case .int16 = pcm { precondition(format == .s16le, "Int16 samples are S16_LE only, not \(format.rawValue)") }
        self.firstSampleIndex = firstSampleIndex
        self.channels = channels
        self.format = format
        self.pcm = pcm
        self.hostArrivalNs = hostArrivalNs
        self.clockPair = clockPair
    }
}

/// The device reported that sample `sampleIndex` was at host time `hostNs`.
public struct AudioClockPair: Sendable, Equatable, Codable {
    public var sampleIndex: Int64
    public var hostNs: Nanoseconds
    public init(sampleIndex: Int64, hostNs: Nanoseconds) {
        self.sampleIndex = sampleIndex
        self.hostNs = hostNs
    }
}

/// One reading from a BMS, power supply or DAQ.
public struct BMSSample: Sendable, Equatable {
    /// Host CLOCK_MONOTONIC when the line/frame was complete, ns (before transmission-time correction).
    public var hostArrivalNs: Nanoseconds
    /// The instrument's own clock if the data carries one, seconds.
    public var deviceTimeS: Double?
    public var voltageV: Double?
    public var currentA: Double?
    /// Cell temperature channels, degC (several thermocouples allowed).
    public var cellTempsC: [Double]
    public var ambientC: Double?
    public var soc: Double?
    /// Any other decoded field, by name.
    public var extra: [String: Double]
    /// The raw line or frame the sample was decoded from.
    public var raw: String

    public init(
        hostArrivalNs: Nanoseconds, deviceTimeS: Double? = nil, voltageV: Double? = nil, currentA: Double? = nil,
        cellTempsC: [Double] = [], ambientC: Double? = nil, soc: Double? = nil, extra: [String: Double] = [:],
        raw: String
    ) {
        self.hostArrivalNs = hostArrivalNs
        self.deviceTimeS = deviceTimeS
        self.voltageV = voltageV
        self.currentA = currentA
        self.cellTempsC = cellTempsC
        self.ambientC = ambientC
        self.soc = soc
        self.extra = extra
        self.raw = raw
    }
}

/// Something lost: nothing is lost silently.
public struct GapEvent: Sendable, Equatable {
    public enum Kind: String, Sendable, Codable, CaseIterable {
        /// Frames the driver dropped (sequence jump).
        case frameDrop = "frame_drop"
        /// ALSA overrun; `lostCount` is frames lost.
        case xrun
        /// A line/frame that did not decode; `detail` holds it.
        case parseError = "parse_error"
        /// Device unplugged / ENODEV / EIO: the stream ends or reopens.
        case deviceLoss = "device_loss"
        /// A bounded queue in the recorder was full; `lostCount` events lost.
        case queueOverflow = "queue_overflow"
        /// Data stopped arriving for longer than the configured timeout.
        case timeout
        /// The driver flagged an erroneous buffer, or any other device fault.
        case deviceError = "device_error"
    }

    public var kind: Kind
    /// Host CLOCK_MONOTONIC of the start of the gap, ns.
    public var startHostNs: Nanoseconds
    /// End of the gap if known, ns.
    public var endHostNs: Nanoseconds?
    /// Frames / samples / lines lost.
    public var lostCount: Int64
    public var detail: String

    public init(kind: Kind, startHostNs: Nanoseconds, endHostNs: Nanoseconds? = nil, lostCount: Int64, detail: String) {
        self.kind = kind
        self.startHostNs = startHostNs
        self.endHostNs = endHostNs
        self.lostCount = lostCount
        self.detail = detail
    }
}

/// A label produced by a source (the simulator's ground truth) or a detector.
public struct AnnotationEvent: Sendable, Equatable {
    /// runaway_onset, venting, self_heating_onset, exclude, ...
    public var label: String
    public var startHostNs: Nanoseconds
    public var endHostNs: Nanoseconds?
    /// "manual", "simulator_ground_truth", "detector:gb38031", ...
    public var method: String
    /// Parameters of the method, JSON text.
    public var parametersJSON: String
    public var author: String

    public init(label: String, startHostNs: Nanoseconds, endHostNs: Nanoseconds? = nil, method: String,
                parametersJSON: String = "{}", author: String) {
        self.label = label
        self.startHostNs = startHostNs
        self.endHostNs = endHostNs
        self.method = method
        self.parametersJSON = parametersJSON
        self.author = author
    }
}

/// Everything a source can hand to the recorder.
public enum SourceEvent: Sendable {
    case thermal(ThermalFrame)
    case audio(AudioChunk)
    case bms(BMSSample)
    case gap(GapEvent)
    /// Operator marker text at a host time.
    case marker(text: String, hostNs: Nanoseconds)
    case annotation(AnnotationEvent)
}
