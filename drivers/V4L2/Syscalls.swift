import CV4L2
import Glibc
import SystemPackage

/// The kernel calls the V4L2 driver makes, as one replaceable value.
///
/// **Testing seam.** Production code never names this protocol: the driver uses
/// `KernelV4L2Syscalls` (the real kernel) unless a test or benchmark injects an
/// emulated capture driver (`TRWV4L2Emulation.EmulatedV4L2Device`). It is SPI
/// because its signatures carry raw pointers and C structs, which the public
/// API of the driver never shows.
///
/// Each method performs exactly one call and reports its raw outcome: the
/// return value, or the `errno` it failed with. Retrying `EINTR` and turning
/// errno into thrown errors is the job of the driver's internal syscall layer
/// (`V4L2SyscallLayer`), not of the provider.
@_spi(Testing)
public protocol V4L2Syscalls: Sendable {
    /// open(2). Returns the new file descriptor.
    func open(_ path: String, flags: CInt) -> Result<CInt, Errno>
    /// close(2).
    func close(_ fd: CInt) -> Result<Void, Errno>
    /// ioctl(2) with a pointer argument (every VIDIOC_* request).
    func ioctl(_ fd: CInt, request: UInt, argument: UnsafeMutableRawPointer) -> Result<CInt, Errno>
    /// mmap(2) of a device buffer. Returns the mapping's address.
    func mmap(length: Int, protection: CInt, flags: CInt, fd: CInt, offset: Int) -> Result<UnsafeMutableRawPointer, Errno>
    /// munmap(2).
    func munmap(_ address: UnsafeMutableRawPointer, length: Int) -> Result<Void, Errno>
    /// poll(2) on one descriptor. Returns the count of ready descriptors (0 on timeout);
    /// `descriptor.revents` holds what happened.
    func poll(_ descriptor: inout pollfd, timeoutMilliseconds: CInt) -> Result<CInt, Errno>
    /// clock_gettime(CLOCK_MONOTONIC), ns.
    func monotonicNanoseconds() -> Int64
    /// nanosleep(2) (between reopen attempts).
    func sleep(nanoseconds: Int64)
    /// The names under /dev that may be V4L2 devices ("video0", ...).
    func deviceNodeNames() -> [String]
}

/// The real kernel: every call goes straight to Glibc.
@_spi(Testing)
public struct KernelV4L2Syscalls: V4L2Syscalls {
    public init() {}

    @inline(__always)
    private static func outcome(_ rc: CInt) -> Result<CInt, Errno> {
        rc == -1 ? .failure(Errno(rawValue: Glibc.errno)) : .success(rc)
    }

    public func open(_ path: String, flags: CInt) -> Result<CInt, Errno> {
        Self.outcome(Glibc.open(path, flags))
    }

    public func close(_ fd: CInt) -> Result<Void, Errno> {
        Self.outcome(Glibc.close(fd)).map { _ in () }
    }

    public func ioctl(_ fd: CInt, request: UInt, argument: UnsafeMutableRawPointer) -> Result<CInt, Errno> {
        Self.outcome(trw_v4l2_ioctl(fd, request, argument))
    }

    public func mmap(length: Int, protection: CInt, flags: CInt, fd: CInt, offset: Int) -> Result<UnsafeMutableRawPointer, Errno> {
        guard let p = Glibc.mmap(nil, length, protection, flags, fd, off_t(offset)), p != MAP_FAILED else {
            return .failure(Errno(rawValue: Glibc.errno))
        }
        return .success(p)
    }

    public func munmap(_ address: UnsafeMutableRawPointer, length: Int) -> Result<Void, Errno> {
        Self.outcome(Glibc.munmap(address, length)).map { _ in () }
    }

    public func poll(_ descriptor: inout pollfd, timeoutMilliseconds: CInt) -> Result<CInt, Errno> {
        Self.outcome(Glibc.poll(&descriptor, 1, timeoutMilliseconds))
    }

    public func monotonicNanoseconds() -> Int64 {
        var ts = timespec()
        let rc = clock_gettime(CLOCK_MONOTONIC, &ts)
        precondition(rc == 0, "clock_gettime(CLOCK_MONOTONIC) failed with errno \(Glibc.errno)")
        return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
    }

    public func sleep(nanoseconds: Int64) {
        var req = timespec(tv_sec: Int(nanoseconds / 1_000_000_000), tv_nsec: Int(nanoseconds % 1_000_000_000))
        var rem = timespec()
        while nanosleep(&req, &rem) == -1 {
            let e = Glibc.errno
            precondition(e == EINTR, "nanosleep failed with errno \(e)")
            req = rem
        }
    }

    public func deviceNodeNames() -> [String] {
        guard let dir = opendir("/dev") else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name.hasPrefix("video") { names.append(name) }
        }
        return names
    }
}

/// The driver's one internal syscall layer: every kernel call of the driver
/// passes here. Retries `EINTR` (except for close(2), which Linux never
/// restarts: the descriptor is gone either way) and throws a typed `Errno`.
/// An errno that can only mean a bug of ours (EBADF, EFAULT) stops the process.
struct V4L2SyscallLayer: Sendable {
    let provider: any V4L2Syscalls

    private static func checkNotOurBug(_ e: Errno, _ call: @autoclosure () -> String) {
        precondition(e != .badFileDescriptor && e != .badAddress, "\(call()) failed with \(e): a bug in the V4L2 driver")
    }

    @inline(__always)
    private func retrying<T>(_ call: @autoclosure () -> String, _ body: () -> Result<T, Errno>) throws(Errno) -> T {
        while true {
            switch body() {
            case .success(let v): return v
            case .failure(.interrupted): continue
            case .failure(let e):
                Self.checkNotOurBug(e, call())
                throw e
            }
        }
    }

    func open(_ path: String, flags: CInt) throws(Errno) -> CInt {
        try retrying("open(\(path))") { provider.open(path, flags: flags) }
    }

    func close(_ fd: CInt) throws(Errno) {
        switch provider.close(fd) {
        case .success: return
        case .failure(.interrupted): return  // Linux: the descriptor is released even then.
        case .failure(let e):
            Self.checkNotOurBug(e, "close(\(fd))")
            throw e
        }
    }

    /// ioctl(2) on a kernel struct, in place.
    func ioctl<T>(_ fd: CInt, _ request: UInt, _ value: inout T) throws(Errno) {
        _ = try withUnsafeMutableBytes(of: &value) { (raw) throws(Errno) -> CInt in
            try retrying("ioctl(\(fd), 0x\(String(request, radix: 16)))") {
                provider.ioctl(fd, request: request, argument: raw.baseAddress!)
            }
        }
    }

    func mmap(length: Int, fd: CInt, offset: Int) throws(Errno) -> UnsafeMutableRawPointer {
        try retrying("mmap") {
            provider.mmap(length: length, protection: PROT_READ | PROT_WRITE, flags: MAP_SHARED, fd: fd, offset: offset)
        }
    }

    func munmap(_ address: UnsafeMutableRawPointer, length: Int) throws(Errno) {
        try retrying("munmap") { provider.munmap(address, length: length) }
    }

    /// Waits up to `timeoutMilliseconds` for `events` on `fd`; returns the revents (0 on timeout).
    func poll(_ fd: CInt, events: Int16, timeoutMilliseconds: CInt) throws(Errno) -> Int16 {
        var d = pollfd(fd: fd, events: events, revents: 0)
        let n = try retrying("poll(\(fd))") { provider.poll(&d, timeoutMilliseconds: timeoutMilliseconds) }
        return n == 0 ? 0 : d.revents
    }

    func now() -> Int64 { provider.monotonicNanoseconds() }
    func sleep(nanoseconds: Int64) { provider.sleep(nanoseconds: nanoseconds) }
}
