import TRWCore

/// Counts -> temperature for a camera, as written in the rig file.
///
/// In the rig file: `"tlinear-10mk"`, `"tlinear-100mk"`, `"none"`, or a table
/// `{ kelvin_per_count = 0.04, offset_kelvin = 0, emissivity = 0.95 }`.
public enum V4L2Radiometry: Sendable, Equatable, Codable {
    /// TLinear, 0.01 K per count (Boson / Lepton high gain).
    case tLinear10mK
    /// TLinear, 0.1 K per count (low gain).
    case tLinear100mK
    /// T[K] = counts * kelvinPerCount + offsetKelvin.
    case linear(kelvinPerCount: Double, offsetKelvin: Double, emissivity: Double)
    /// Not radiometric (AGC'd picture): counts are stored, no temperatures.
    case none

    /// The calibration stored with the stream, nil when not radiometric.
    public var calibration: ThermalCalibration? {
        switch self {
        case .tLinear10mK: .tLinear10mK
        case .tLinear100mK: .tLinear100mK
        case .linear(let k, let o, let e): ThermalCalibration(kelvinPerCount: k, offsetKelvin: o, emissivity: e)
        case .none: nil
        }
    }

    private enum Keys: String, CodingKey {
        case kelvinPerCount = "kelvin_per_count", offsetKelvin = "offset_kelvin", emissivity
    }

    public init(from decoder: any Decoder) throws {
        if let single = try? decoder.singleValueContainer(), let text = try? single.decode(String.self) {
            switch text.lowercased() {
            case "tlinear-10mk", "tlinear_10mk", "tlinear-0.01": self = .tLinear10mK
            case "tlinear-100mk", "tlinear_100mk", "tlinear-0.1": self = .tLinear100mK
            case "none": self = .none
            default:
                throw DecodingError.dataCorruptedError(
                    in: single,
                    debugDescription: "radiometry \"\(text)\" is not one of \"tlinear-10mk\", \"tlinear-100mk\", \"none\" or a table { kelvin_per_count, offset_kelvin, emissivity }")
            }
            return
        }
        let c = try decoder.container(keyedBy: Keys.self)
        let k = try c.decode(Double.self, forKey: .kelvinPerCount)
        guard k > 0, k.isFinite else {
            throw DecodingError.dataCorruptedError(forKey: .kelvinPerCount, in: c,
                                                   debugDescription: "kelvin_per_count is \(k), expected a positive number such as 0.01")
        }
        self = .linear(kelvinPerCount: k,
                       offsetKelvin: try c.decodeIfPresent(Double.self, forKey: .offsetKelvin) ?? 0,
                       emissivity: try c.decodeIfPresent(Double.self, forKey: .emissivity) ?? 1)
    }

    public func encode(to encoder: any Encoder) throws {
        switch self {
        case .tLinear10mK: var s = encoder.singleValueContainer(); try s.encode("tlinear-10mk")
        case .tLinear100mK: var s = encoder.singleValueContainer(); try s.encode("tlinear-100mk")
        case .none: var s = encoder.singleValueContainer(); try s.encode("none")
        case .linear(let k, let o, let e):
            var c = encoder.container(keyedBy: Keys.self)
            try c.encode(k, forKey: .kelvinPerCount)
            try c.encode(o, forKey: .offsetKelvin)
            try c.encode(e, forKey: .emissivity)
        }
    }
}

/// One V4L2 camera of the rig, as the rig file describes it. Every field but
/// `device` has a default, so `{ device = "/dev/video0" }` is a complete entry.
public struct V4L2CameraConfig: Sendable, Equatable, Codable {
    /// Stream key in the session ("ir0").
    public var key: String
    /// Device node ("/dev/video0", or a stable /dev/v4l/by-id/... link).
    public var device: String
    public var width: Int
    public var height: Int
    /// Frame rate asked of the device (S_PARM); what it grants is recorded.
    public var fps: Double
    public var pixelFormat: V4L2PixelFormat
    /// mmap buffers requested (4-8; the driver may grant a different count, recorded).
    public var bufferCount: Int
    public var radiometry: V4L2Radiometry
    /// No frame for this long is a `.timeout` gap and a warning.
    public var pollTimeoutMs: Int
    /// After an unplug (ENODEV / EIO), how many times to try opening the device again.
    public var reopenAttempts: Int
    /// Wait between reopen attempts.
    public var reopenIntervalMs: Int
    /// Drivers whose buffer timestamps are not CLOCK_MONOTONIC are refused unless
    /// this is set; then the dequeue time replaces the device timestamp (recorded).
    public var allowNonMonotonicTimestamps: Bool

    public init(
        key: String = "ir0", device: String, width: Int = 640, height: Int = 480, fps: Double = 50,
        pixelFormat: V4L2PixelFormat = .y16, bufferCount: Int = 4, radiometry: V4L2Radiometry = .tLinear10mK,
        pollTimeoutMs: Int = 1000, reopenAttempts: Int = 0, reopenIntervalMs: Int = 1000,
        allowNonMonotonicTimestamps: Bool = false
    ) {
        self.key = key
        self.device = device
        self.width = width
        self.height = height
        self.fps = fps
        self.pixelFormat = pixelFormat
        self.bufferCount = bufferCount
        self.radiometry = radiometry
        self.pollTimeoutMs = pollTimeoutMs
        self.reopenAttempts = reopenAttempts
        self.reopenIntervalMs = reopenIntervalMs
        self.allowNonMonotonicTimestamps = allowNonMonotonicTimestamps
    }

    private enum Keys: String, CodingKey {
        case key, device, width, height, fps
        case pixelFormat = "pixel_format", bufferCount = "buffer_count", radiometry
        case pollTimeoutMs = "poll_timeout_ms", reopenAttempts = "reopen_attempts"
        case reopenIntervalMs = "reopen_interval_ms"
        case allowNonMonotonicTimestamps = "allow_non_monotonic_timestamps"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Keys.self)
        let d = V4L2CameraConfig(device: "")
        self.init(
            key: try c.decodeIfPresent(String.self, forKey: .key) ?? d.key,
            device: try c.decode(String.self, forKey: .device),
            width: try c.decodeIfPresent(Int.self, forKey: .width) ?? d.width,
            height: try c.decodeIfPresent(Int.self, forKey: .height) ?? d.height,
            fps: try c.decodeIfPresent(Double.self, forKey: .fps) ?? d.fps,
            pixelFormat: try c.decodeIfPresent(V4L2PixelFormat.self, forKey: .pixelFormat) ?? d.pixelFormat,
            bufferCount: try c.decodeIfPresent(Int.self, forKey: .bufferCount) ?? d.bufferCount,
            radiometry: try c.decodeIfPresent(V4L2Radiometry.self, forKey: .radiometry) ?? d.radiometry,
            pollTimeoutMs: try c.decodeIfPresent(Int.self, forKey: .pollTimeoutMs) ?? d.pollTimeoutMs,
            reopenAttempts: try c.decodeIfPresent(Int.self, forKey: .reopenAttempts) ?? d.reopenAttempts,
            reopenIntervalMs: try c.decodeIfPresent(Int.self, forKey: .reopenIntervalMs) ?? d.reopenIntervalMs,
            allowNonMonotonicTimestamps: try c.decodeIfPresent(Bool.self, forKey: .allowNonMonotonicTimestamps)
                ?? d.allowNonMonotonicTimestamps)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Keys.self)
        try c.encode(key, forKey: .key)
        try c.encode(device, forKey: .device)
        try c.encode(width, forKey: .width)
        try c.encode(height, forKey: .height)
        try c.encode(fps, forKey: .fps)
        try c.encode(pixelFormat, forKey: .pixelFormat)
        try c.encode(bufferCount, forKey: .bufferCount)
        try c.encode(radiometry, forKey: .radiometry)
        try c.encode(pollTimeoutMs, forKey: .pollTimeoutMs)
        try c.encode(reopenAttempts, forKey: .reopenAttempts)
        try c.encode(reopenIntervalMs, forKey: .reopenIntervalMs)
        try c.encode(allowNonMonotonicTimestamps, forKey: .allowNonMonotonicTimestamps)
    }

    /// Checks the values a device never sees; throws `.invalidConfig` naming the field.
    public func validate() throws(V4L2Error) {
        func bad(_ what: String) -> V4L2Error { V4L2Error(.invalidConfig, device: device, message: what) }
        if device.isEmpty { throw bad("device is empty, expected a path such as /dev/video0") }
        if !(1...8192).contains(width) || !(1...8192).contains(height) {
            throw bad("size \(width)x\(height), expected width and height in 1...8192 such as 640x480")
        }
        if !(fps > 0 && fps.isFinite && fps <= 1000) { throw bad("fps \(fps), expected a frame rate in (0, 1000] such as 50") }
        if !(2...32).contains(bufferCount) { throw bad("buffer_count \(bufferCount), expected 2...32 (4-8 recommended)") }
        if !(1...600_000).contains(pollTimeoutMs) { throw bad("poll_timeout_ms \(pollTimeoutMs), expected 1...600000 milliseconds") }
        if !(0...1_000_000).contains(reopenAttempts) { throw bad("reopen_attempts \(reopenAttempts), expected 0...1000000") }
        if !(0...3_600_000).contains(reopenIntervalMs) { throw bad("reopen_interval_ms \(reopenIntervalMs), expected 0...3600000 milliseconds") }
        if case .linear(let k, let o, let e) = radiometry {
            if !(k.isFinite && k > 0 && k <= 10) { throw bad("radiometry.kelvin_per_count \(k), expected a number in (0, 10]") }
            if !(o.isFinite && abs(o) <= 10_000) { throw bad("radiometry.offset_kelvin \(o), expected a finite number within ±10000 K") }
            if !(e.isFinite && e > 0 && e <= 1) { throw bad("radiometry.emissivity \(e), expected a number in (0, 1]") }
        }
    }
}
