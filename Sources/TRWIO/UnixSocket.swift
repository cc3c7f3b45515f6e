import SystemPackage

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// What went wrong with a Unix socket.
public enum SocketError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The path cannot be used to listen on; `reason` says why and what to do.
    case unusablePath(path: String, reason: String)
    /// The peer accepted no bytes until the deadline (it stopped reading).
    case sendTimedOut
    /// The peer closed the connection.
    case peerClosed
    /// Another system call failed.
    case failed(call: String, Errno)

    public var description: String {
        switch self {
        case .unusablePath(let p, let r): "cannot listen on unix:\(p): \(r)"
        case .sendTimedOut: "the client accepted no data before the send deadline (it stopped reading)"
        case .peerClosed: "the client closed the connection"
        case .failed(let call, let e): "\(call): \(e)"
        }
    }
}

/// The checks made before listening on a Unix socket path (`trw record --live`,
/// `trw replay --to`), so that they can run before anything else is created.
public enum UnixSocketPath {
    /// What is at the path now.
    public enum Occupant: Sendable, Equatable {
        case nothing
        /// A socket nobody accepts on (left by a process that died): safe to replace.
        case staleSocket
        /// A socket a live process listens on.
        case liveSocket
        /// Any other file: never replaced.
        case otherFile(kind: String)
    }

    /// Longest path a `sockaddr_un` holds (107 bytes on Linux, without the NUL).
    public static var maxPathBytes: Int { MemoryLayout.size(ofValue: sockaddr_un().sun_path) - 1 }

    /// Checks that trw may listen on `path`: the path fits a socket address, its directory
    /// exists and is writable, and the path is absent or a stale socket. Any other file
    /// (a session, a regular file, a live socket) is refused: trw never deletes it.
    /// Returns what is there now.
    @discardableResult
    public static func check(_ path: String) throws(SocketError) -> Occupant {
        func refuse(_ r: String) -> SocketError { .unusablePath(path: path, reason: r) }
        let bytes = path.utf8.count
        if path.isEmpty { throw refuse("the path is empty; give unix:PATH, e.g. unix:/tmp/trw-live.sock") }
        // Something that is not a socket is named first: whatever else is wrong with the path,
        // the user must learn that trw will not touch that file.
        if let kind = try nonSocketKind(path) {
            throw refuse("it exists and is \(kind), not a socket; trw never deletes it: choose another path")
        }
        if bytes > maxPathBytes {
            throw refuse("the path is \(bytes) bytes; a Unix socket path holds at most \(maxPathBytes) bytes: choose a shorter one")
        }
        let dir = directory(of: path)
        switch system_stat(dir) {
        case .failure(.noSuchFileOrDirectory):
            throw refuse("the directory \(dir) does not exist: create it or choose another path")
        case .failure(let e):
            throw refuse("cannot look at the directory \(dir): \(e)")
        case .success(let st):
            guard st.st_mode & S_IFMT == S_IFDIR else { throw refuse("\(dir) is not a directory") }
        }
        if case .failure(let e) = system_access(dir, W_OK | X_OK) {
            throw refuse("the directory \(dir) is not writable (\(e)): choose a directory you can write")
        }
        let occupant = try occupant(path)
        switch occupant {
        case .nothing, .staleSocket: return occupant
        case .liveSocket:
            throw refuse("another process is listening on it: stop that process or choose another path")
        case .otherFile(let kind):
            throw refuse("it exists and is \(kind), not a socket; trw never deletes it: choose another path")
        }
    }

    /// What the file at `path` is when it exists and is not a socket (lstat only, no probe).
    static func nonSocketKind(_ path: String) throws(SocketError) -> String? {
        switch system_lstat(path) {
        case .failure(.noSuchFileOrDirectory), .failure(.notDirectory), .failure(.fileNameTooLong): return nil
        case .failure(let e): throw .unusablePath(path: path, reason: "cannot look at it: \(e)")
        case .success(let st): return kind(of: st)
        }
    }

    /// nil for a socket, else words for what the file is.
    private static func kind(of st: stat) -> String? {
        switch st.st_mode & S_IFMT {
        case S_IFSOCK: nil
        case S_IFREG: "a regular file (\(st.st_size) bytes)"
        case S_IFDIR: "a directory"
        case S_IFLNK: "a symbolic link"
        case S_IFIFO: "a FIFO"
        default: "a device or special file"
        }
    }

    /// What is at `path` (a socket is probed with connect(2): ECONNREFUSED means stale).
    public static func occupant(_ path: String) throws(SocketError) -> Occupant {
        let st: stat
        switch system_lstat(path) {
        case .failure(.noSuchFileOrDirectory): return .nothing
        case .failure(let e): throw .unusablePath(path: path, reason: "cannot look at it: \(e)")
        case .success(let s): st = s
        }
        if let kind = kind(of: st) { return .otherFile(kind: kind) }
        let fd: CInt
        switch system_socket(AF_UNIX, CInt(SOCK_STREAM.rawValue), nonBlocking: true) {
        case .failure(let e): throw .failed(call: "socket(AF_UNIX)", e)
        case .success(let f): fd = f
        }
        defer { closeOwned(fd) }
        let r = withAddress(path) { system_connect(fd, $0, $1) }
        switch r {
        case .success, .failure(.wouldBlock), .failure(.nowInProgress), .failure(.interrupted): return .liveSocket
        case .failure(.connectionRefused): return .staleSocket
        case .failure(let e): throw .unusablePath(path: path, reason: "cannot probe the socket: \(e)")
        }
    }

    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        let d = String(path[..<slash])
        return d.isEmpty ? "/" : d
    }

    /// Calls `body` with a `sockaddr_un` for `path` (which must fit; `check` ensures it).
    static func withAddress<R>(_ path: String, _ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        precondition(bytes.count <= maxPathBytes, "socket path too long: a bug in TRWIO (check() first)")
        withUnsafeMutableBytes(of: &addr.sun_path) { p in
            for (i, b) in bytes.enumerated() { p[i] = b }
            p[bytes.count] = 0
        }
        return withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
    }
}

/// A listening Unix stream socket (replay and live taps). Owns its descriptor and
/// the socket file it created: on deinit it unlinks the path only while it is still
/// that same socket (same device and inode), never a file someone put there since.
public final class UnixSocketServer: @unchecked Sendable {
    public let path: String
    private let fd: CInt
    private let identity: (dev: UInt64, ino: UInt64)

    /// Listens on `path` after `UnixSocketPath.check`: replaces only a stale socket.
    public init(path: String, backlog: CInt = 8) throws(SocketError) {
        self.path = path
        if try UnixSocketPath.check(path) == .staleSocket {
            // Re-check right before unlinking: only a socket is ever removed.
            if case .staleSocket = try UnixSocketPath.occupant(path) {
                switch system_unlink(path) {
                case .success, .failure(.noSuchFileOrDirectory): break
                case .failure(let e): throw .unusablePath(path: path, reason: "cannot remove the stale socket: \(e)")
                }
            }
        }
        let s: CInt
        switch system_socket(AF_UNIX, CInt(SOCK_STREAM.rawValue), nonBlocking: true) {
        case .failure(let e): throw .failed(call: "socket(AF_UNIX)", e)
        case .success(let f): s = f
        }
        if case .failure(let e) = UnixSocketPath.withAddress(path, { system_bind(s, $0, $1) }) {
            closeOwned(s)
            throw e == .addressInUse
                ? .unusablePath(path: path, reason: "something was created at this path meanwhile; choose another path")
                : .failed(call: "bind(\(path))", e)
        }
        if case .failure(let e) = system_listen(s, backlog) {
            closeOwned(s)
            _ = system_unlink(path)  // ours: just bound
            throw .failed(call: "listen(\(path))", e)
        }
        switch system_lstat(path) {
        case .success(let st): identity = (UInt64(st.st_dev), UInt64(st.st_ino))
        case .failure(let e):
            closeOwned(s)
            throw .failed(call: "lstat(\(path))", e)
        }
        fd = s
    }

    /// Waits until `deadline` for a client; nil when none came.
    public func accept(until deadline: Deadline) throws(SocketError) -> UnixSocketConnection? {
        while true {
            switch system_accept(fd) {
            case .success(let c): return UnixSocketConnection(fd: c)
            case .failure(.wouldBlock), .failure(.connectionAbort): break
            case .failure(let e):
                preconditionNotOurBug(e, "accept(\(path))")
                throw .failed(call: "accept(\(path))", e)
            }
            let ev: Int16
            do { ev = try pollOne(fd, events: Int16(POLLIN), until: deadline) } catch { throw .failed(call: "poll(\(path))", error) }
            if ev == 0 { return nil }
        }
    }

    deinit {
        closeOwned(fd)
        if case .success(let st) = system_lstat(path), UInt64(st.st_dev) == identity.dev, UInt64(st.st_ino) == identity.ino {
            _ = system_unlink(path)  // best effort: our own socket file; a failure leaves a stale socket, replaced next time
        }
    }
}

/// One accepted client: non-blocking, close-on-exec. A send that makes no progress for
/// its stall timeout fails with `.sendTimedOut`: a client that stops reading is dropped
/// after a bounded time instead of blocking the sender.
public final class UnixSocketConnection: @unchecked Sendable {
    let fd: CInt
    /// Bytes the client accepted.
    public private(set) var bytesSent = 0

    init(fd: CInt) { self.fd = fd }

    /// Sends all of `bytes`; fails when the client accepts nothing for `stallTimeout` seconds.
    public func send(_ bytes: [UInt8], stallTimeout: Double) throws(SocketError) {
        var offset = 0
        var deadline = Deadline.after(seconds: stallTimeout)
        while offset < bytes.count {
            let r = bytes.withUnsafeBytes { p in system_send(fd, UnsafeRawBufferPointer(rebasing: p[offset...])) }
            switch r {
            case .success(let n):
                offset += n
                bytesSent += n
                deadline = Deadline.after(seconds: stallTimeout)
            case .failure(.wouldBlock):
                let ev: Int16
                do { ev = try pollOne(fd, events: Int16(POLLOUT), until: deadline) } catch { throw .failed(call: "poll(client)", error) }
                if ev == 0 { throw .sendTimedOut }
            case .failure(.brokenPipe), .failure(.connectionReset): throw .peerClosed
            case .failure(let e):
                preconditionNotOurBug(e, "send(client)")
                throw .failed(call: "send(client)", e)
            }
        }
    }

    public func send(_ text: String, stallTimeout: Double) throws(SocketError) {
        try send(Array(text.utf8), stallTimeout: stallTimeout)
    }

    deinit { closeOwned(fd) }
}
