import TRWCore

/// One AE capture stream as the rig file describes it. Decodes with defaults
/// for every field but `device`, `rateHz`, `channels` and `format`.
public struct ALSACaptureConfig: Sendable, Codable, Equatable {
    /// Stream key in the session ("ae0").
    public var streamKey: String
    /// Any PCM name: "hw:1,0", "plughw:CARD=Pro,DEV=0", "default", ...
    public var device: String
    /// Sample rate, Hz (44 100 ... 384 000).
    public var rateHz: Int
    /// Channels (1 ... 8).
    public var channels: Int
    public var format: SampleFormat
    /// Period time asked for, µs (5–10 ms suits high rates).
    public var periodTimeUs: Int
    /// Periods per buffer asked for (>= 4).
    public var periods: Int
    /// Periods read per `AudioChunk`.
    public var periodsPerChunk: Int
    /// Allow alsa-lib's rate conversion (plug devices). Off by default: AE
    /// wants the converter's true rate, so a rate the hardware lacks is refused.
    public var allowResampling: Bool
    /// No data for this long is recorded as a `.timeout` gap (a stalled device), ms.
    public var stallTimeoutMs: Int
    /// Stop after this many frames (needed for sources without an end, such as
    /// the `file` plugin; nil: until `stop()`).
    public var frameLimit: Int64?
    /// AE hit detector settings stored on the stream (nil: no live detection).
    public var detector: AEDetectorSettings?

    public static let rateRange = 44_100...384_000
    public static let channelRange = 1...8

    public init(
        streamKey: String = "ae0", device: String, rateHz: Int, channels: Int, format: SampleFormat,
        periodTimeUs: Int = 5_000, periods: Int = 8, periodsPerChunk: Int = 4, allowResampling: Bool = false,
        stallTimeoutMs: Int = 2_000, frameLimit: Int64? = nil, detector: AEDetectorSettings? = nil
    ) {
        self.streamKey = streamKey
        self.device = device
        self.rateHz = rateHz
        self.channels = channels
        self.format = format
        self.periodTimeUs = periodTimeUs
        self.periods = periods
        self.periodsPerChunk = periodsPerChunk
        self.allowResampling = allowResampling
        self.stallTimeoutMs = stallTimeoutMs
        self.frameLimit = frameLimit
        self.detector = detector
    }

    enum CodingKeys: String, CodingKey {
        case streamKey, device, rateHz, channels, format, periodTimeUs, periods, periodsPerChunk
        case allowResampling, stallTimeoutMs, frameLimit, detector
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            streamKey: try c.decodeIfPresent(String.self, forKey: .streamKey) ?? "ae0",
            device: try c.decode(String.self, forKey: .device),
            rateHz: try c.decode(Int.self, forKey: .rateHz),
            channels: try c.decode(Int.self, forKey: .channels),
            format: try c.decode(SampleFormat.self, forKey: .format),
            periodTimeUs: try c.decodeIfPresent(Int.self, forKey: .periodTimeUs) ?? 5_000,
            periods: try c.decodeIfPresent(Int.self, forKey: .periods) ?? 8,
            periodsPerChunk: try c.decodeIfPresent(Int.self, forKey: .periodsPerChunk) ?? 4,
            allowResampling: try c.decodeIfPresent(Bool.self, forKey: .allowResampling) ?? false,
            stallTimeoutMs: try c.decodeIfPresent(Int.self, forKey: .stallTimeoutMs) ?? 2_000,
            frameLimit: try c.decodeIfPresent(Int64.self, forKey: .frameLimit),
            detector: try c.decodeIfPresent(AEDetectorSettings.self, forKey: .detector))
    }

    /// Checks the ranges trw supports; the error names the field, the value and the range.
    public func validate() throws(ALSAError) {
        func bad(_ reason: String) -> ALSAError { .invalidConfiguration(device: device, reason: reason) }
        if device.isEmpty { throw bad("device is empty; expected a PCM name such as hw:1,0") }
        if !Self.rateRange.contains(rateHz) {
            throw bad("rateHz \(rateHz) is outside \(Self.rateRange.lowerBound)–\(Self.rateRange.upperBound)")
        }
        if !Self.channelRange.contains(channels) {
            throw bad("channels \(channels) is outside \(Self.channelRange.lowerBound)–\(Self.channelRange.upperBound)")
        }
        if !(1_000...100_000).contains(periodTimeUs) { throw bad("periodTimeUs \(periodTimeUs) is outside 1000–100000") }
        if !(4...64).contains(periods) { throw bad("periods \(periods) is outside 4–64 (periods per buffer)") }
        if !(1...64).contains(periodsPerChunk) { throw bad("periodsPerChunk \(periodsPerChunk) is outside 1–64") }
        if !(100...600_000).contains(stallTimeoutMs) { throw bad("stallTimeoutMs \(stallTimeoutMs) is outside 100–600000") }
        if let frameLimit, frameLimit <= 0 { throw bad("frameLimit \(frameLimit) must be positive") }
        if let p = detector?.problem { throw bad(p) }
    }
}

/// What the device granted, read back after `snd_pcm_hw_params`.
public struct ALSAGrantedParameters: Sendable, Equatable, Codable {
    public var rateHz: Int
    public var channels: Int
    public var format: SampleFormat
    public var periodFrames: Int
    public var bufferFrames: Int
    public init(rateHz: Int, channels: Int, format: SampleFormat, periodFrames: Int, bufferFrames: Int) {
        self.rateHz = rateHz
        self.channels = channels
        self.format = format
        self.periodFrames = periodFrames
        self.bufferFrames = bufferFrames
    }
}
