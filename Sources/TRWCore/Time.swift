#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Nanoseconds, the unit of every time in trw.
public typealias Nanoseconds = Int64

/// The host clocks trw reads. The reference clock of a recording is
/// CLOCK_MONOTONIC; CLOCK_REALTIME is read once to anchor t = 0 in UTC.
public enum HostClock {
    /// CLOCK_MONOTONIC in nanoseconds (the recording's reference clock).
    public static func monotonicNanoseconds() -> Nanoseconds {
        var ts = timespec()
        let rc = clock_gettime(CLOCK_MONOTONIC, &ts)
        precondition(rc == 0, "clock_gettime(CLOCK_MONOTONIC) failed")
        return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
    }

    /// CLOCK_REALTIME in nanoseconds since the Unix epoch (UTC).
    public static func realtimeNanoseconds() -> Nanoseconds {
        var ts = timespec()
        let rc = clock_gettime(CLOCK_REALTIME, &ts)
        precondition(rc == 0, "clock_gettime(CLOCK_REALTIME) failed")
        return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
    }
}

/// The time base of one session: t_ns = monotonic - startMonotonic.
///
/// `startRealtimeNs` is the UTC instant of t = 0, read once at start. A later
/// step of CLOCK_REALTIME (NTP) does not move the time base, which is built on
/// CLOCK_MONOTONIC only.
public struct SessionClock: Sendable, Equatable, Codable {
    public var startMonotonicNs: Nanoseconds
    public var startRealtimeNs: Nanoseconds

    public init(startMonotonicNs: Nanoseconds, startRealtimeNs: Nanoseconds) {
        self.startMonotonicNs = startMonotonicNs
        self.startRealtimeNs = startRealtimeNs
    }

    /// Reads both host clocks now, back to back (monotonic read twice and
    /// averaged around the realtime read to halve the pairing error).
    public static func now() -> SessionClock {
        let m0 = HostClock.monotonicNanoseconds()
        let r = HostClock.realtimeNanoseconds()
        let m1 = HostClock.monotonicNanoseconds()
        return SessionClock(startMonotonicNs: m0 + (m1 - m0) / 2, startRealtimeNs: r)
    }

    /// Session time of a CLOCK_MONOTONIC instant.
    @inlinable
    public func sessionTime(monotonic: Nanoseconds) -> Nanoseconds {
        monotonic - startMonotonicNs
    }
}

extension Nanoseconds {
    /// Seconds as a Double, for display and physics.
    @inlinable public var seconds: Double { Double(self) / 1e9 }
    /// Nanoseconds from seconds, rounded to the nearest nanosecond.
    @inlinable public static func fromSeconds(_ s: Double) -> Nanoseconds { Int64((s * 1e9).rounded()) }
}

/// Bounds for times a person or a file gives in seconds (--at, --from, --to,
/// label and marker times, durations). Beyond them a number is a typo or a
/// hostile value, and converting it to Int64 nanoseconds would trap.
public enum SessionTimeLimit {
    /// Largest |session time| accepted, s (10^7 s, about 115 days: far longer than any abuse test).
    public static let maxAbsSeconds: Double = 1e7

    /// Whether `s` is finite and within ±`maxAbsSeconds`.
    public static func accepts(_ s: Double) -> Bool { s.isFinite && abs(s) <= maxAbsSeconds }

    /// Nanoseconds for `s` seconds, or nil when `s` is NaN, infinite or beyond ±`maxAbsSeconds`.
    public static func nanoseconds(_ s: Double) -> Nanoseconds? {
        accepts(s) ? Int64((s * 1e9).rounded()) : nil
    }

    /// "a finite number of seconds within ±10000000".
    public static var expected: String { "a finite number of seconds within ±\(Int(maxAbsSeconds))" }
}
