import CALSA
import TRWCore

/// What an ALSA capture device can do, read from `snd_pcm_hw_params_any`.
public struct ALSACapabilities: Sendable, Equatable, Codable, CustomStringConvertible {
    /// Rate range, Hz (`snd_pcm_hw_params_get_rate_min/max`).
    public var minRateHz: Int
    public var maxRateHz: Int
    /// Channel range (`snd_pcm_hw_params_get_channels_min/max`).
    public var minChannels: Int
    public var maxChannels: Int
    /// The trw formats the device accepts (`snd_pcm_hw_params_test_format`).
    public var formats: [SampleFormat]

    public init(minRateHz: Int, maxRateHz: Int, minChannels: Int, maxChannels: Int, formats: [SampleFormat]) {
        self.minRateHz = minRateHz
        self.maxRateHz = maxRateHz
        self.minChannels = minChannels
        self.maxChannels = maxChannels
        self.formats = formats
    }

    public var description: String {
        let f = formats.isEmpty ? "none of S16_LE, S24_LE, S32_LE, FLOAT_LE" : formats.map(\.rawValue).joined(separator: ", ")
        return "rates \(minRateHz)–\(maxRateHz) Hz, formats \(f), channels \(minChannels)–\(maxChannels)"
    }
}

/// Errors of the ALSA driver. Each names the device and what was expected.
public enum ALSAError: Error, Equatable, CustomStringConvertible {
    /// An alsa-lib call returned a negative error code.
    case call(function: String, device: String, code: Int32, message: String)
    /// The device refuses the asked configuration; `capabilities` is what it offers.
    case unsupported(device: String, asked: String, capabilities: ALSACapabilities)
    /// The configuration itself is out of trw's range.
    case invalidConfiguration(device: String, reason: String)

    public var description: String {
        switch self {
        case let .call(function, device, code, message):
            return "ALSA \(function) on \(device) failed: \(message) (\(code))"
        case let .unsupported(device, asked, caps):
            return "\(device) cannot capture \(asked); it offers \(caps)"
        case let .invalidConfiguration(device, reason):
            return "AE capture config for \(device) is invalid: \(reason)"
        }
    }

    /// The ALSA error text for a negative return code (`snd_strerror`).
    static func text(_ code: Int32) -> String {
        guard let s = snd_strerror(code) else { return "error \(code)" }
        return String(cString: s)
    }
}

/// Turns a negative alsa-lib return code into a thrown `ALSAError.call`.
@discardableResult
@inline(__always)
func check(_ rc: Int32, _ function: @autoclosure () -> String, device: String) throws(ALSAError) -> Int32 {
    if rc < 0 {
        throw ALSAError.call(function: function(), device: device, code: rc, message: ALSAError.text(rc))
    }
    return rc
}
