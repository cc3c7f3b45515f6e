import SystemPackage

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Writes a stream of text to a descriptor (standard output by default) through a buffer,
/// and notices when the reader has gone: `trw replay S | head -1` ends output cleanly
/// (EPIPE; SIGPIPE is ignored) instead of failing.
public final class OutputSink {
    public enum Outcome: Sendable, Equatable {
        case open
        /// The reader closed the pipe; nothing more can be written.
        case readerGone
    }

    private let fd: CInt
    private var buffer: [UInt8] = []
    private let capacity: Int
    public private(set) var outcome: Outcome = .open
    /// Bytes the reader took.
    public private(set) var bytesWritten = 0

    /// `capacity`: bytes gathered before a write(2); 0 writes every call through.
    public init(fd: CInt = STDOUT_FILENO, capacity: Int = 1 << 16) {
        self.fd = fd
        self.capacity = capacity
        buffer.reserveCapacity(capacity)
        system_ignoreSIGPIPE()
    }

    /// Appends `text`; returns false once the reader has gone.
    @discardableResult
    public func write(_ text: String) throws(Errno) -> Bool {
        guard outcome == .open else { return false }
        buffer.append(contentsOf: text.utf8)
        if buffer.count >= capacity { try flush() }
        return outcome == .open
    }

    /// Writes what is buffered; returns false once the reader has gone.
    @discardableResult
    public func flush() throws(Errno) -> Bool {
        var offset = 0
        defer { buffer.removeAll(keepingCapacity: true) }
        while offset < buffer.count && outcome == .open {
            let r = buffer.withUnsafeBytes { p in system_write(fd, UnsafeRawBufferPointer(rebasing: p[offset...])) }
            switch r {
            case .success(let n):
                offset += n
                bytesWritten += n
            case .failure(.brokenPipe):
                outcome = .readerGone
            case .failure(.wouldBlock):
                // A non-blocking descriptor we did not open: wait for room, without a bound
                // (the same as a blocking write to a slow reader).
                _ = try pollOne(fd, events: Int16(POLLOUT), until: .never)
            case .failure(let e):
                preconditionNotOurBug(e, "write(\(fd))")
                throw e
            }
        }
        return outcome == .open
    }
}
