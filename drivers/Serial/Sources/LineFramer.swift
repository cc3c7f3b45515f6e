/// Splits a byte stream into lines, with a bounded buffer.
///
/// A line ends at LF, CR or CR LF (CR LF counts once, even when split across
/// reads). A line longer than `maxLineBytes` is reported once as `.overlong`
/// with its first `maxLineBytes` bytes, and the rest up to the next terminator is
/// discarded. Pure: the same bytes give the same events however they are split.
public struct LineFramer: Sendable {
    public enum Event: Sendable, Equatable {
        /// A complete line without its terminator (possibly empty).
        case line([UInt8])
        /// A line that exceeded the bound; `prefix` holds its first `maxLineBytes` bytes.
        case overlong(prefix: [UInt8])
    }

    public let maxLineBytes: Int
    private var buffer: [UInt8] = []
    private var discarding = false
    private var lastWasCR = false
    /// Bytes thrown away after an over-long line's prefix.
    public private(set) var discardedBytes: Int = 0

    public init(maxLineBytes: Int = 1024) {
        precondition(maxLineBytes > 0, "maxLineBytes must be positive")
        self.maxLineBytes = maxLineBytes
        buffer.reserveCapacity(min(maxLineBytes, 4096))
    }

    /// Bytes held of an unterminated line.
    public var pendingCount: Int { buffer.count }

    /// Feeds `bytes`; calls `body` with each event and the index in `bytes` of the
    /// byte that completed it (the terminator, or the byte that overflowed the bound).
    public mutating func push(_ bytes: some Collection<UInt8>, _ body: (Event, _ endOffset: Int) -> Void) {
        var offset = 0
        for b in bytes {
            defer { offset += 1 }
            if b == 0x0A || b == 0x0D {
                let isLFAfterCR = b == 0x0A && lastWasCR
                lastWasCR = b == 0x0D
                if isLFAfterCR { continue }
                if discarding {
                    discarding = false
                } else {
                    body(.line(buffer), offset)
                }
                buffer.removeAll(keepingCapacity: true)
                continue
            }
            lastWasCR = false
            if discarding {
                discardedBytes += 1
                continue
            }
            if buffer.count == maxLineBytes {
                body(.overlong(prefix: buffer), offset)
                buffer.removeAll(keepingCapacity: true)
                discarding = true
                discardedBytes += 1
                continue
            }
            buffer.append(b)
        }
    }

    /// Takes the unterminated rest (at device loss or end), leaving the framer empty.
    public mutating func takePartial() -> [UInt8]? {
        defer {
            buffer.removeAll(keepingCapacity: true)
            discarding = false
            lastWasCR = false
        }
        return buffer.isEmpty ? nil : buffer
    }
}
