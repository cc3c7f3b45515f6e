import SystemPackage

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A point on the host's monotonic clock by which a wait must end.
public struct Deadline: Sendable, Comparable {
    /// CLOCK_MONOTONIC, ns (Int64.max: never).
    public let monotonicNs: Int64

    public init(monotonicNs: Int64) { self.monotonicNs = monotonicNs }

    /// `seconds` from now (non-finite or beyond ~290 years: never).
    public static func after(seconds: Double) -> Deadline {
        let now = system_monotonicNanoseconds()
        guard seconds.isFinite, seconds < 9e9 else { return .never }
        return Deadline(monotonicNs: now + Int64((max(0, seconds) * 1e9).rounded()))
    }

    public static let never = Deadline(monotonicNs: .max)

    public static func now() -> Int64 { system_monotonicNanoseconds() }

    public var hasPassed: Bool { monotonicNs != .max && system_monotonicNanoseconds() >= monotonicNs }

    /// Milliseconds left for poll(2): -1 for never, rounded up so a wait never ends early.
    var pollTimeoutMs: CInt {
        if monotonicNs == .max { return -1 }
        let left = monotonicNs - system_monotonicNanoseconds()
        if left <= 0 { return 0 }
        return CInt(min(Int64(CInt.max), (left + 999_999) / 1_000_000))
    }

    public static func < (a: Deadline, b: Deadline) -> Bool { a.monotonicNs < b.monotonicNs }
}

/// Waits for `events` (POLLIN, POLLOUT) on one descriptor until `deadline`.
/// Returns the revents, or 0 when the deadline passed first.
internal func pollOne(_ fd: CInt, events: Int16, until deadline: Deadline) throws(Errno) -> Int16 {
    while true {
        var fds = [pollfd(fd: fd, events: events, revents: 0)]
        let timeout = deadline.pollTimeoutMs
        switch system_poll(&fds, timeout) {
        case .failure(let e):
            preconditionNotOurBug(e, "poll(\(fd))")
            throw e
        case .success(let n):
            if n > 0 { return fds[0].revents }
            if timeout == 0 || deadline.hasPassed { return 0 }
        }
    }
}
