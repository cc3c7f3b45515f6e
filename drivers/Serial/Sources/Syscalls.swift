import CSerial
import SystemPackage

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

// The one seam through which TRWSerial talks to the kernel. Each function
// retries EINTR and turns -1 into a typed `Errno`, in the manner of
// swift-system's Internals/Syscalls.swift.

@inline(__always)
internal func retryingOnInterrupt<T: FixedWidthInteger>(_ body: () -> T) -> Result<T, Errno> {
    while true {
        let rc = body()
        if rc != -1 { return .success(rc) }
        let err = Errno(rawValue: errno)
        if err != .interrupted { return .failure(err) }
    }
}

/// An errno that can only mean a bug in trw (bad descriptor, bad pointer).
@inline(__always)
internal func preconditionNotOurBug(_ err: Errno, _ call: String) {
    precondition(err != .badFileDescriptor && err != .badAddress, "\(call) failed with \(err): a bug in TRWSerial")
}

internal func system_open(_ path: String, _ flags: CInt) -> Result<CInt, Errno> {
    retryingOnInterrupt { open(path, flags) }
}

/// close(2) is not retried on EINTR: on Linux the descriptor is released either way.
internal func system_close(_ fd: CInt) -> Result<Void, Errno> {
    if close(fd) == -1 {
        let err = Errno(rawValue: errno)
        if err == .interrupted { return .success(()) }
        return .failure(err)
    }
    return .success(())
}

internal func system_read(_ fd: CInt, _ buffer: UnsafeMutableRawBufferPointer) -> Result<Int, Errno> {
    retryingOnInterrupt { read(fd, buffer.baseAddress, buffer.count) }
}

internal func system_write(_ fd: CInt, _ buffer: UnsafeRawBufferPointer) -> Result<Int, Errno> {
    retryingOnInterrupt { write(fd, buffer.baseAddress, buffer.count) }
}

/// poll(2). EINTR is retried with the same timeout (callers loop on deadlines).
internal func system_poll(_ fds: inout [pollfd], _ timeoutMs: CInt) -> Result<CInt, Errno> {
    let count = nfds_t(fds.count)
    return fds.withUnsafeMutableBufferPointer { buf in
        retryingOnInterrupt { poll(buf.baseAddress, count, timeoutMs) }
    }
}

internal func system_ioctl(_ fd: CInt, _ request: UInt, _ arg: UnsafeMutableRawPointer) -> Result<CInt, Errno> {
    retryingOnInterrupt { trw_ioctl_ptr(fd, request, arg) }
}

internal func system_ioctl(_ fd: CInt, _ request: UInt, _ arg: CInt) -> Result<CInt, Errno> {
    retryingOnInterrupt { trw_ioctl_int(fd, request, arg) }
}

internal func system_ioctl(_ fd: CInt, _ request: UInt) -> Result<CInt, Errno> {
    retryingOnInterrupt { trw_ioctl_none(fd, request) }
}

internal func system_pipe(nonBlocking: Bool) -> Result<(read: CInt, write: CInt), Errno> {
    var fds: [CInt] = [-1, -1]
    if case let .failure(err) = fds.withUnsafeMutableBufferPointer({ p in retryingOnInterrupt { pipe(p.baseAddress!) } }) {
        return .failure(err)
    }
    for fd in fds {
        var result = retryingOnInterrupt { fcntl(fd, F_SETFD, FD_CLOEXEC) }
        if nonBlocking, case .success = result {
            result = retryingOnInterrupt { fcntl(fd, F_SETFL, O_NONBLOCK) }
        }
        if case let .failure(err) = result {
            _ = system_close(fds[0])
            _ = system_close(fds[1])
            return .failure(err)
        }
    }
    return .success((fds[0], fds[1]))
}

/// Sleeps up to `nanoseconds`, resuming after EINTR for the remaining time.
internal func system_sleep(nanoseconds: Int64) {
    guard nanoseconds > 0 else { return }
    var req = timespec(tv_sec: Int(nanoseconds / 1_000_000_000), tv_nsec: Int(nanoseconds % 1_000_000_000))
    var rem = timespec()
    while nanosleep(&req, &rem) == -1 && errno == EINTR { req = rem }
}
