import Foundation

/// The live-recorder lock: while a recorder writes a session it holds an exclusive
/// `flock(2)` on the session file itself. The kernel drops it when the recorder's
/// process ends in any way (kill -9 and power loss included), so a killed
/// recording is never mistaken for a live one. `flock` locks are independent of
/// SQLite's POSIX record locks and belong to the open file, not the process.
public final class SessionLock: @unchecked Sendable {
    public let path: String
    private var fd: Int32

    private init(path: String, fd: Int32) {
        self.path = path
        self.fd = fd
    }

    deinit { release() }

    /// Takes the exclusive lock without waiting. Throws `liveRecording` if another
    /// open file (another recorder) holds it.
    public static func acquire(path: String) throws -> SessionLock {
        let fd = try openForLock(path)
        switch lockNB(fd, LOCK_EX) {
        case 0:
            return SessionLock(path: path, fd: fd)
        case EWOULDBLOCK:
            _ = close(fd)
            throw SessionStoreError.liveRecording(path: path)
        case let err:
            _ = close(fd)
            throw SessionStoreError.sqlite(path: path, message: "cannot lock the session file: \(String(cString: strerror(err)))")
        }
    }

    /// Whether a live recorder (another open file) holds the lock right now.
    public static func isHeld(path: String) -> Bool {
        guard let fd = try? openForLock(path) else { return false }
        defer { _ = close(fd) }
        // A shared probe: two probes never see each other; only the recorder's exclusive lock blocks it.
        return lockNB(fd, LOCK_SH) == EWOULDBLOCK
    }

    /// Releases the lock (idempotent).
    public func release() {
        guard fd >= 0 else { return }
        _ = flock(fd, LOCK_UN)
        _ = close(fd)
        fd = -1
    }

    private static func openForLock(_ path: String) throws -> Int32 {
        while true {
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            if fd >= 0 { return fd }
            if errno == EINTR { continue }
            throw SessionStoreError.notFound(path: path)
        }
    }

    /// flock(LOCK_NB) with EINTR retry: 0 or the errno.
    private static func lockNB(_ fd: Int32, _ op: Int32) -> Int32 {
        while true {
            if flock(fd, op | LOCK_NB) == 0 { return 0 }
            if errno != EINTR { return errno }
        }
    }
}
