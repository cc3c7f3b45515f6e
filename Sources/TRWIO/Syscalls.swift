import CTRWIO
import SystemPackage

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

// The one seam through which TRWIO (sockets, pipes, child processes, standard
// output) talks to the kernel, in the manner of drivers/Serial/Sources/Syscalls.swift
// and swift-system's Internals/Syscalls.swift: one internal function per call,
// EINTR retried, -1 turned into a typed `Errno`, every descriptor close-on-exec.

@inline(__always)
internal func retryingOnInterrupt<T: FixedWidthInteger>(_ body: () -> T) -> Result<T, Errno> {
    while true {
        let rc = body()
        if rc != -1 { return .success(rc) }
        let err = Errno(rawValue: errno)
        if err != .interrupted { return .failure(err) }
    }
}

/// An errno that can only mean a bug in trw (bad descriptor, bad pointer) stops the process.
@inline(__always)
internal func preconditionNotOurBug(_ err: Errno, _ call: @autoclosure () -> String) {
    precondition(err != .badFileDescriptor && err != .badAddress, "\(call()) failed with \(err): a bug in TRWIO")
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

/// Closes a descriptor we own; the only failure left (EIO on some filesystems) is not
/// actionable for pipes and sockets, and EBADF is our bug.
internal func closeOwned(_ fd: CInt) {
    if case .failure(let e) = system_close(fd) { preconditionNotOurBug(e, "close(\(fd))") }
}

internal func system_read(_ fd: CInt, _ buffer: UnsafeMutableRawBufferPointer) -> Result<Int, Errno> {
    retryingOnInterrupt { read(fd, buffer.baseAddress, buffer.count) }
}

internal func system_write(_ fd: CInt, _ buffer: UnsafeRawBufferPointer) -> Result<Int, Errno> {
    retryingOnInterrupt { write(fd, buffer.baseAddress, buffer.count) }
}

/// send(2) with MSG_NOSIGNAL: a peer that went away is EPIPE, never SIGPIPE.
internal func system_send(_ fd: CInt, _ buffer: UnsafeRawBufferPointer) -> Result<Int, Errno> {
    retryingOnInterrupt { send(fd, buffer.baseAddress, buffer.count, CInt(MSG_NOSIGNAL)) }
}

/// poll(2). EINTR is retried with the same timeout (callers loop on deadlines).
internal func system_poll(_ fds: inout [pollfd], _ timeoutMs: CInt) -> Result<CInt, Errno> {
    let count = nfds_t(fds.count)
    return fds.withUnsafeMutableBufferPointer { buf in
        retryingOnInterrupt { poll(buf.baseAddress, count, timeoutMs) }
    }
}

/// pipe2(2) with O_CLOEXEC (both ends), optionally O_NONBLOCK.
internal func system_pipe(nonBlocking: Bool) -> Result<(read: CInt, write: CInt), Errno> {
    var fds: [CInt] = [-1, -1]
    let flags = O_CLOEXEC | (nonBlocking ? O_NONBLOCK : 0)
    let rc = fds.withUnsafeMutableBufferPointer { p in retryingOnInterrupt { trw_pipe2(p.baseAddress!, flags) } }
    if case .failure(let e) = rc { return .failure(e) }
    return .success((fds[0], fds[1]))
}

/// fcntl(F_GETFL / F_SETFL): sets or clears O_NONBLOCK.
internal func system_setNonBlocking(_ fd: CInt, _ on: Bool) -> Result<Void, Errno> {
    switch retryingOnInterrupt({ fcntl(fd, F_GETFL) }) {
    case .failure(let e): return .failure(e)
    case .success(let flags):
        let new = on ? (flags | O_NONBLOCK) : (flags & ~O_NONBLOCK)
        if new == flags { return .success(()) }
        return retryingOnInterrupt { fcntl(fd, F_SETFL, new) }.map { _ in () }
    }
}

/// fcntl(F_SETPIPE_SZ) (Linux, 1031 in <fcntl.h> under _GNU_SOURCE, which Glibc's module
/// does not export): asks for a pipe buffer of `bytes`; returns the size the kernel gave
/// (rounded up to pages, at most /proc/sys/fs/pipe-max-size for an unprivileged process).
internal func system_setPipeSize(_ fd: CInt, _ bytes: Int) -> Result<Int, Errno> {
    retryingOnInterrupt { fcntl(fd, 1031, CInt(clamping: bytes)) }.map { Int($0) }
}

/// socket(2) with SOCK_CLOEXEC (and SOCK_NONBLOCK when asked).
internal func system_socket(_ domain: CInt, _ type: CInt, nonBlocking: Bool) -> Result<CInt, Errno> {
    let flags = CInt(SOCK_CLOEXEC.rawValue) | (nonBlocking ? CInt(SOCK_NONBLOCK.rawValue) : 0)
    return retryingOnInterrupt { socket(domain, type | flags, 0) }
}

internal func system_bind(_ fd: CInt, _ addr: UnsafePointer<sockaddr>, _ len: socklen_t) -> Result<Void, Errno> {
    retryingOnInterrupt { bind(fd, addr, len) }.map { _ in () }
}

internal func system_listen(_ fd: CInt, _ backlog: CInt) -> Result<Void, Errno> {
    retryingOnInterrupt { listen(fd, backlog) }.map { _ in () }
}

/// accept4(2) with SOCK_CLOEXEC | SOCK_NONBLOCK: every accepted connection is non-blocking.
internal func system_accept(_ fd: CInt) -> Result<CInt, Errno> {
    retryingOnInterrupt { trw_accept4(fd, CInt(SOCK_CLOEXEC.rawValue) | CInt(SOCK_NONBLOCK.rawValue)) }
}

/// connect(2). EINTR is not retried by calling connect again (that would be EALREADY);
/// it is reported as `.interrupted` for the caller to poll.
internal func system_connect(_ fd: CInt, _ addr: UnsafePointer<sockaddr>, _ len: socklen_t) -> Result<Void, Errno> {
    connect(fd, addr, len) == -1 ? .failure(Errno(rawValue: errno)) : .success(())
}

/// lstat(2): the file type and identity of a path, without following a symbolic link.
internal func system_lstat(_ path: String) -> Result<stat, Errno> {
    var st = stat()
    return retryingOnInterrupt { lstat(path, &st) }.map { _ in st }
}

internal func system_stat(_ path: String) -> Result<stat, Errno> {
    var st = stat()
    return retryingOnInterrupt { stat(path, &st) }.map { _ in st }
}

/// access(2) with the real user's rights.
internal func system_access(_ path: String, _ mode: CInt) -> Result<Void, Errno> {
    retryingOnInterrupt { access(path, mode) }.map { _ in () }
}

internal func system_unlink(_ path: String) -> Result<Void, Errno> {
    retryingOnInterrupt { unlink(path) }.map { _ in () }
}

/// kill(2) on a process group (negative pid) or one process.
internal func system_kill(_ pid: pid_t, _ signal: CInt) -> Result<Void, Errno> {
    retryingOnInterrupt { kill(pid, signal) }.map { _ in () }
}

/// waitpid(2). With `noHang` returns 0 while the child runs.
internal func system_waitpid(_ pid: pid_t, noHang: Bool) -> Result<(pid: pid_t, status: CInt), Errno> {
    var status: CInt = 0
    return retryingOnInterrupt { waitpid(pid, &status, noHang ? WNOHANG : 0) }.map { ($0, status) }
}

/// sigaction(SIGPIPE, SIG_IGN): a reader that went away is EPIPE for write(2), never a signal.
internal func system_ignoreSIGPIPE() {
    let old = signal(SIGPIPE, SIG_IGN)
    precondition(unsafeBitCast(old, to: Int.self) != -1, "signal(SIGPIPE) failed (SIG_ERR): errno \(errno)")
}

/// clock_gettime(CLOCK_MONOTONIC), ns.
internal func system_monotonicNanoseconds() -> Int64 {
    var ts = timespec()
    let rc = clock_gettime(CLOCK_MONOTONIC, &ts)
    precondition(rc == 0, "clock_gettime(CLOCK_MONOTONIC) failed with errno \(errno)")
    return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
}

/// Sleeps up to `nanoseconds`, resuming after EINTR for the remaining time.
internal func system_sleep(nanoseconds: Int64) {
    guard nanoseconds > 0 else { return }
    var req = timespec(tv_sec: Int(nanoseconds / 1_000_000_000), tv_nsec: Int(nanoseconds % 1_000_000_000))
    var rem = timespec()
    while nanosleep(&req, &rem) == -1 {
        precondition(errno == EINTR, "nanosleep failed with errno \(errno)")
        req = rem
    }
}
