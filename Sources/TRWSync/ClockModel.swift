import Foundation
import TRWCore

/// One (device time, host time) observation of a stream's clock.
///
/// `device` is in the stream's device unit: nanoseconds of the device clock
/// (camera, BMS), or a sample index (audio). `host` is the host
/// CLOCK_MONOTONIC in nanoseconds at which the device time was observed
/// (buffer dequeue, ALSA status htstamp, serial line arrival).
public struct ClockPair: Sendable, Equatable, Codable, Hashable {
    public var device: Int64
    public var host: Nanoseconds

    public init(device: Int64, host: Nanoseconds) {
        self.device = device
        self.host = host
    }
}

/// Why a clock segment started.
public enum SegmentReason: String, Sendable, Codable, CaseIterable {
    /// First segment of the stream.
    case start
    /// A known gap (dropped frames, lost lines, device loss, timeout).
    case gap
    /// An ALSA overrun: the sample index no longer counts every sample period.
    case xrun
    /// The device clock went backwards (device reset, counter wrap).
    case reset
    /// The offset stepped by more than the jump threshold (clock set, firmware resync).
    case jump
}

/// How a segment's line was fitted.
public enum FitMethod: String, Sendable, Codable, CaseIterable {
    /// Huber M-estimator by iteratively reweighted least squares (symmetric jitter).
    case huber
    /// Lower envelope (minimum-delay filter + convex-hull LP), for one-sided transport delay.
    case lowerEnvelope = "lower_envelope"
    /// Too few pairs for a slope: offset only, slope taken from a neighbour or the nominal rate.
    case offsetOnly = "offset_only"
    /// Device time already is host time (e.g. V4L2 monotonic timestamps): slope 1, offset 0.
    case identity
    /// An imported file (`trw import`): offsets found by cross-correlating a signal the file
    /// shares with a recorded stream, window by window, and a least-squares line through them.
    case crossCorrelation = "cross_correlation"
    /// An imported file (`trw import`): the file's absolute timestamps against the session's
    /// realtime anchor; slope nominal (drift not measured), offset error as declared.
    case timestamps
}

/// One piece of a clock model: a straight line host = f(device) valid over a
/// contiguous run of pairs.
///
/// `host(d) = referenceHost + slope * (d - referenceDevice)`, with the
/// reference point at the (weighted) centroid of the fitted pairs so that the
/// offset and slope errors are uncorrelated.
public struct ClockSegment: Sendable, Codable, Equatable {
    /// Why this segment started.
    public var reason: SegmentReason
    /// How the line was fitted.
    public var method: FitMethod
    /// Device time from which this segment applies (the break position, or the first pair).
    public var deviceStart: Int64
    /// Device times of the first and last pair in the segment.
    public var firstPairDevice: Int64
    public var lastPairDevice: Int64
    /// Host times of the first and last pair in the segment.
    public var firstPairHost: Nanoseconds
    public var lastPairHost: Nanoseconds
    /// Reference point of the line.
    public var referenceDevice: Int64
    public var referenceHost: Nanoseconds
    /// Host nanoseconds per device unit (about 1 for a ns clock, 1e9/rate for a sample index).
    public var slope: Double
    /// The nominal slope the drift is measured against.
    public var nominalSlope: Double
    /// Rate error of the device clock, ppm: (nominalSlope / slope - 1) * 1e6, positive when
    /// the device runs fast (for audio: (effective rate / nominal rate - 1) * 1e6).
    public var driftPpm: Double
    /// host - nominalSlope * device at the reference point, ns: the clock offset.
    public var offsetNs: Double
    /// Pairs in the segment, and pairs that carried weight in the final fit.
    public var pairCount: Int
    public var inlierCount: Int
    /// Residuals host - model over all pairs of the segment, ns.
    public var residualRmsNs: Double
    public var residualMaxAbsNs: Double
    /// Mean residual, ns (for a lower envelope this is the mean transport delay above the minimum).
    public var residualMeanNs: Double
    /// Estimated standard error of the line at the reference point, ns, and of the drift, ppm
    /// (the drift one to first order in slope - nominalSlope).
    public var offsetStdErrNs: Double
    public var driftStdErrPpm: Double
    /// True when the slope hit the online estimator's limit (+-500 ppm from nominal):
    /// `driftPpm` is then a bound, not a measurement (old files: nil).
    public var slopeClamped: Bool? = nil

    /// Host time of device time `device` on this segment's line.
    @inlinable
    public func hostTime(device: Int64) -> Nanoseconds {
        let dx = Double(device &- referenceDevice)
        return referenceHost &+ Int64((dx * slope).rounded())
    }

    /// Estimated standard error of `hostTime(device:)`, ns (offset and slope errors combined).
    public func timeStdErrNs(device: Int64) -> Double {
        let dx = Double(device &- referenceDevice)
        let slopeErr = driftStdErrPpm * 1e-6 * nominalSlope * dx
        return (offsetStdErrNs * offsetStdErrNs + slopeErr * slopeErr).squareRoot()
    }

    /// RMS of `timeStdErrNs` over the segment's pair range (uniformly spread pairs assumed):
    /// sqrt(se0^2 + se_slope^2 * L^2 / 12) for a span L centred on the reference.
    public var meanTimeStdErrNs: Double {
        let span = Double(lastPairDevice &- firstPairDevice)
        let slopeErr = driftStdErrPpm * 1e-6 * nominalSlope * span
        return (offsetStdErrNs * offsetStdErrNs + slopeErr * slopeErr / 12).squareRoot()
    }

    /// Effective rate in device units per host second (for audio: the effective sample rate, Hz).
    public var effectiveRateHz: Double { 1e9 / slope }
}

extension ClockSegment {
    /// A segment fitted outside this module (`trw import`'s cross-correlation or timestamps).
    public init(startReason reason: SegmentReason, method: FitMethod, deviceStart: Int64, firstPairDevice: Int64, lastPairDevice: Int64,
                firstPairHost: Nanoseconds, lastPairHost: Nanoseconds, referenceDevice: Int64, referenceHost: Nanoseconds,
                slope: Double, nominalSlope: Double, driftPpm: Double, offsetNs: Double, pairCount: Int, inlierCount: Int,
                residualRmsNs: Double, residualMaxAbsNs: Double, residualMeanNs: Double, offsetStdErrNs: Double,
                driftStdErrPpm: Double, slopeClamped: Bool? = nil) {
        self.reason = reason
        self.method = method
        self.deviceStart = deviceStart
        self.firstPairDevice = firstPairDevice
        self.lastPairDevice = lastPairDevice
        self.firstPairHost = firstPairHost
        self.lastPairHost = lastPairHost
        self.referenceDevice = referenceDevice
        self.referenceHost = referenceHost
        self.slope = slope
        self.nominalSlope = nominalSlope
        self.driftPpm = driftPpm
        self.offsetNs = offsetNs
        self.pairCount = pairCount
        self.inlierCount = inlierCount
        self.residualRmsNs = residualRmsNs
        self.residualMaxAbsNs = residualMaxAbsNs
        self.residualMeanNs = residualMeanNs
        self.offsetStdErrNs = offsetStdErrNs
        self.driftStdErrPpm = driftStdErrPpm
        self.slopeClamped = slopeClamped
    }
}

/// A stream's clock: the segments of its device clock mapped onto host CLOCK_MONOTONIC.
///
/// Stored by the session file as JSON text (`JSONEncoder` of this value), once
/// for the causal fit made while recording and once per offline re-fit.
public struct ClockModel: Sendable, Codable, Equatable {
    /// Format version of the JSON.
    public var version: Int
    /// Segments in recording order.
    public var segments: [ClockSegment]
    /// Free text: fitter and configuration that produced this model.
    public var fitter: String
    /// Set when the stream's device clock persistently disagreed with arrival and its
    /// samples are timed by arrival (see `ClockGuard`); nil for older files.
    public var fallback: ClockFallback? = nil
    /// Pairs seen and pairs left out of the fit as outliers (`ClockGuard`); nil for older files.
    public var pairsSeen: Int? = nil
    public var outliers: Int? = nil
    /// A sentence the reports show under the stream's line: how an imported stream's clock was
    /// found and what it means in session time (`trw import`); nil for recorded streams.
    public var note: String? = nil

    public init(segments: [ClockSegment], fitter: String, version: Int = 1) {
        self.segments = segments
        self.fitter = fitter
        self.version = version
    }

    /// The identity model (device time already is host CLOCK_MONOTONIC).
    public static let identity = ClockModel(
        segments: [
            ClockSegment(
                reason: .start, method: .identity, deviceStart: .min, firstPairDevice: 0, lastPairDevice: 0,
                firstPairHost: 0, lastPairHost: 0, referenceDevice: 0, referenceHost: 0, slope: 1, nominalSlope: 1,
                driftPpm: 0, offsetNs: 0, pairCount: 0, inlierCount: 0, residualRmsNs: 0, residualMaxAbsNs: 0,
                residualMeanNs: 0, offsetStdErrNs: 0, driftStdErrPpm: 0)
        ], fitter: "identity")

    /// Index of the segment that applies to `device`.
    ///
    /// With `arrivalHost` (the host time the sample arrived, which is never
    /// earlier than its true time), the latest segment that had started by then
    /// is chosen; this disambiguates device resets, where device times repeat.
    /// Without it, the latest segment whose `deviceStart <= device` is chosen
    /// (right for monotone device times, e.g. audio sample indices across xruns).
    public func segmentIndex(device: Int64, arrivalHost: Nanoseconds? = nil) -> Int? {
        guard !segments.isEmpty else { return nil }
        if let arrival = arrivalHost {
            var best = 0
            for (i, s) in segments.enumerated() where i > 0 {
                // A segment has started once its first pair arrived, or once the
                // break position (on its own line) has passed.
                let startHost = Swift.min(s.firstPairHost, s.hostTime(device: s.deviceStart))
                if startHost <= arrival && device >= s.deviceStart { best = i }
            }
            return best
        }
        var best: Int? = nil
        for (i, s) in segments.enumerated() where s.deviceStart <= device {
            if let b = best, segments[b].deviceStart > s.deviceStart { continue }
            best = i
        }
        return best ?? 0
    }

    /// Host CLOCK_MONOTONIC time of `device` (see `segmentIndex(device:arrivalHost:)`).
    public func hostTime(device: Int64, arrivalHost: Nanoseconds? = nil) -> Nanoseconds {
        guard let i = segmentIndex(device: device, arrivalHost: arrivalHost) else { return device }
        return segments[i].hostTime(device: device)
    }

    /// JSON text for the store.
    public func jsonText() throws -> String {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        return String(decoding: try enc.encode(self), as: UTF8.self)
    }

    /// Decodes `jsonText()` output.
    public static func fromJSONText(_ text: String) throws -> ClockModel {
        try JSONDecoder().decode(ClockModel.self, from: Data(text.utf8))
    }
}

