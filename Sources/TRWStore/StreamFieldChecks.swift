import Foundation
import TRWCore

/// A number stored in a session that no reader can use (a damaged or hand-edited
/// file: `nominal_rate_hz = 0`, a frame size of 100000x100000, NaN in a
/// calibration). Readers refuse the stream with this error (exit 1) instead of
/// dividing by zero or allocating beyond memory.
public struct SessionFieldError: Error, CustomStringConvertible, Equatable, Sendable {
    public var file: String
    public var stream: String
    public var field: String
    public var value: String
    public var expected: String
    public var description: String {
        "\(file): stream \(stream): \(field) is \(value); expected \(expected) (the file is damaged or was edited by hand)"
    }
}

extension StreamRecord {
    /// Bounds on a stream's numeric fields as read back from a session.
    public enum Limits {
        /// Highest nominal rate, Hz (AE converters run up to a few MHz).
        public static let maxRateHz: Double = 10_000_000
        /// Largest frame side, pixels, and largest frame, pixels (4096x4096).
        public static let maxSide = 16_384
        public static let maxPixels = 4096 * 4096
        public static let channels = 1...64
    }

    /// Throws `SessionFieldError` (file, stream, field, value, expected) for a
    /// numeric field a reader would trap on.
    public func checkNumbers(file: String) throws(SessionFieldError) {
        func bad(_ field: String, _ value: String, _ expected: String) -> SessionFieldError {
            SessionFieldError(file: file, stream: key, field: field, value: value, expected: expected)
        }
        guard nominalRateHz.isFinite, nominalRateHz > 0, nominalRateHz <= Limits.maxRateHz else {
            throw bad("nominal_rate_hz", "\(nominalRateHz)", "a rate in (0, \(Int(Limits.maxRateHz))] Hz")
        }
        if let w = width, !(1...Limits.maxSide).contains(w) { throw bad("width", "\(w)", "1...\(Limits.maxSide) pixels") }
        if let h = height, !(1...Limits.maxSide).contains(h) { throw bad("height", "\(h)", "1...\(Limits.maxSide) pixels") }
        if let w = width, let h = height, w * h > Limits.maxPixels {
            throw bad("width x height", "\(w)x\(h)", "at most \(Limits.maxPixels) pixels")
        }
        if streamKind == .thermal, width == nil || height == nil {
            throw bad("width/height", "missing", "the frame size of a thermal stream")
        }
        if let c = channels, !Limits.channels.contains(c) {
            throw bad("channels", "\(c)", "\(Limits.channels.lowerBound)...\(Limits.channels.upperBound)")
        }
        if calibrationJson != nil {
            guard let cal = calibration else { throw bad("calibration_json", "unreadable", "{kelvin_per_count, offset_kelvin, emissivity}") }
            guard cal.kelvinPerCount.isFinite, cal.kelvinPerCount > 0, cal.kelvinPerCount <= 10 else {
                throw bad("calibration kelvin_per_count", "\(cal.kelvinPerCount)", "a number in (0, 10]")
            }
            guard cal.offsetKelvin.isFinite, abs(cal.offsetKelvin) <= 10_000 else {
                throw bad("calibration offset_kelvin", "\(cal.offsetKelvin)", "a finite number within ±10000 K")
            }
            guard cal.emissivity.isFinite, cal.emissivity > 0, cal.emissivity <= 1 else {
                throw bad("calibration emissivity", "\(cal.emissivity)", "a number in (0, 1]")
            }
        }
    }
}
