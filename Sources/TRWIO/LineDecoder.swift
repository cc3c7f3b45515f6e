/// Splits a byte stream into LF-terminated lines (a CR before the LF is dropped),
/// with a bound on line length that is an error, not a hang.
///
/// Pure: the same bytes give the same lines however they are split into `push`
/// calls. Linear in input size: each byte is examined once when looking for the
/// terminator (`examinedBytes` counts them, so tests assert linearity without a
/// clock), and consumed lines are dropped from the buffer in amortised O(1).
public struct LineDecoder: Sendable {
    public struct LineTooLong: Error, Sendable, Equatable, CustomStringConvertible {
        /// Bytes of the unterminated line seen when the bound was exceeded.
        public var bytes: Int
        public var maxLineBytes: Int
        public var description: String {
            "a line longer than \(maxLineBytes) bytes (\(bytes) bytes without a newline)"
        }
    }

    public let maxLineBytes: Int
    private var buffer: [UInt8] = []
    /// Start of the first unconsumed line in `buffer`.
    private var start = 0
    /// Where the search for the next LF resumes (bytes before it hold none).
    private var scan = 0
    /// Bytes looked at while searching for terminators, over the decoder's life.
    public private(set) var examinedBytes = 0
    /// Bytes pushed, over the decoder's life.
    public private(set) var pushedBytes = 0

    public init(maxLineBytes: Int = 1 << 20) {
        precondition(maxLineBytes > 0, "maxLineBytes must be positive")
        self.maxLineBytes = maxLineBytes
    }

    /// Bytes held of an unterminated line.
    public var pendingCount: Int { buffer.count - start }

    /// Appends bytes read from the stream.
    public mutating func push(_ bytes: some Collection<UInt8>) {
        // Drop consumed lines once they are at least half the buffer (amortised O(1) per byte).
        if start > 0 && start >= buffer.count - start {
            buffer.removeSubrange(0..<start)
            scan -= start
            start = 0
        }
        buffer.append(contentsOf: bytes)
        pushedBytes += bytes.count
    }

    /// The next complete line without its terminator, nil when none is complete yet.
    /// Throws when the pending line is longer than `maxLineBytes` (the decoder is then
    /// unusable: the stream has no trustworthy framing left).
    public mutating func nextLine() throws(LineTooLong) -> [UInt8]? {
        let end = buffer.count
        var i = scan
        let found: Int? = buffer.withUnsafeBufferPointer { p in
            while i < end {
                if p[i] == 0x0A { return i }
                i += 1
            }
            return nil
        }
        examinedBytes += (found.map { $0 + 1 } ?? end) - scan
        guard let lf = found else {
            scan = end
            // One byte of slack: a CR that may turn out to precede the LF is not part of the line.
            if end - start > maxLineBytes + 1 { throw LineTooLong(bytes: end - start, maxLineBytes: maxLineBytes) }
            return nil
        }
        var lineEnd = lf
        if lineEnd > start && buffer[lineEnd - 1] == 0x0D { lineEnd -= 1 }
        if lineEnd - start > maxLineBytes { throw LineTooLong(bytes: lineEnd - start, maxLineBytes: maxLineBytes) }
        let line = Array(buffer[start..<lineEnd])
        start = lf + 1
        scan = start
        return line
    }

    /// The unterminated rest at end of input (nil when none), leaving the decoder empty.
    public mutating func takePartial() -> [UInt8]? {
        defer { buffer.removeAll(keepingCapacity: true); start = 0; scan = 0 }
        return buffer.count > start ? Array(buffer[start...]) : nil
    }
}
