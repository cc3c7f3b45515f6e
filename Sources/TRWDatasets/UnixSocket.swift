import Foundation
#if canImport(Glibc)
import Glibc
#endif

public enum SocketError: Error, CustomStringConvertible {
    case failed(String, Int32)
    public var description: String {
        switch self { case .failed(let what, let e): "\(what): \(String(cString: strerror(e)))" }
    }
}

/// A listening Unix stream socket (replay and live taps). Owns its fd.
public final class UnixSocketServer {
    public let path: String
    private let fd: Int32

    public init(path: String) throws {
        self.path = path
        unlink(path)
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw SocketError.failed("socket()", errno) }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: addr.sun_path) else {
            close(fd)
            throw SocketError.failed("socket path too long (\(bytes.count) bytes): \(path)", ENAMETOOLONG)
        }
        withUnsafeMutableBytes(of: &addr.sun_path) { p in for (i, b) in bytes.enumerated() { p[i] = b } }
        let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
        guard rc == 0 else { let e = errno; close(fd); throw SocketError.failed("bind(\(path))", e) }
        guard listen(fd, 4) == 0 else { let e = errno; close(fd); throw SocketError.failed("listen(\(path))", e) }
    }

    /// Waits up to `timeoutMs` for a client; nil on timeout.
    public func accept(timeoutMs: Int32) throws -> UnixSocketConnection? {
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let n = poll(&p, 1, timeoutMs)
        if n < 0 { if errno == EINTR { return nil }; throw SocketError.failed("poll(\(path))", errno) }
        if n == 0 { return nil }
        return try acceptOne()
    }

    public func acceptOne() throws -> UnixSocketConnection {
        while true {
            let c = Glibc.accept(fd, nil, nil)
            if c >= 0 { return UnixSocketConnection(fd: c) }
            if errno != EINTR { throw SocketError.failed("accept(\(path))", errno) }
        }
    }

    deinit {
        close(fd)
        unlink(path)
    }
}

public final class UnixSocketConnection {
    let fd: Int32
    init(fd: Int32) { self.fd = fd }
    public func write(_ s: String) throws {
        var bytes = Array(s.utf8)[...]
        while !bytes.isEmpty {
            let n = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw SocketError.failed("send", errno)
            }
            bytes = bytes.dropFirst(n)
        }
    }
    deinit { close(fd) }
}
