import Foundation

/// A bounded multi-producer / multi-consumer FIFO on a mutex and condition
/// variables. Device threads use `tryPush` (never block: a full queue is a
/// recorded loss); internal stages use `push` (back-pressure).
public final class BoundedQueue<Element: Sendable>: @unchecked Sendable {
    // All mutable state is guarded by `cond`'s mutex.
    private let cond = NSCondition()
    private var buffer: [Element?]
    private var head = 0
    private var count = 0
    private var closed = false
    public let capacity: Int
    /// Highest fill seen, for the dashboard and the summary.
    private var highWater = 0

    public init(capacity: Int) {
        precondition(capacity > 0, "queue capacity must be positive")
        self.capacity = capacity
        buffer = Array(repeating: nil, count: capacity)
    }

    /// Appends without waiting. Returns false when full or closed.
    public func tryPush(_ e: Element) -> Bool {
        cond.lock()
        defer { cond.unlock() }
        guard !closed, count < capacity else { return false }
        enqueueLocked(e)
        return true
    }

    /// Appends, waiting for room. Returns false only if the queue is closed.
    @discardableResult
    public func push(_ e: Element) -> Bool {
        cond.lock()
        defer { cond.unlock() }
        while !closed && count == capacity { cond.wait() }
        guard !closed else { return false }
        enqueueLocked(e)
        return true
    }

    private func dequeueLocked() -> Element? {
        let e = buffer[head]
        buffer[head] = nil
        head = (head + 1) % capacity
        count -= 1
        cond.broadcast()
        return e
    }

    private func enqueueLocked(_ e: Element) {
        buffer[(head + count) % capacity] = e
        count += 1
        highWater = max(highWater, count)
        cond.broadcast()
    }

    /// Removes the oldest element, waiting up to `timeout` seconds.
    /// Returns nil on timeout, or when closed and drained.
    public func pop(timeout: Double) -> Element? {
        cond.lock()
        defer { cond.unlock() }
        let deadline = Date(timeIntervalSinceNow: timeout)
        while count == 0 {
            if closed { return nil }
            if !cond.wait(until: deadline) { if count == 0 { return nil } }
        }
        return dequeueLocked()
    }

    /// Removes the oldest element, waiting as long as it takes. Returns nil only
    /// when the queue is closed and drained: a consumer that loops on this ends
    /// when its producer closes the queue, never because it was idle.
    public func pop() -> Element? {
        cond.lock()
        defer { cond.unlock() }
        while count == 0 {
            if closed { return nil }
            cond.wait()
        }
        return dequeueLocked()
    }

    /// No more pushes; consumers drain what is left, then get nil.
    public func close() {
        cond.lock()
        closed = true
        cond.broadcast()
        cond.unlock()
    }

    public var isClosedAndEmpty: Bool {
        cond.lock()
        defer { cond.unlock() }
        return closed && count == 0
    }

    /// (current fill, high-water mark).
    public var fill: (current: Int, highWater: Int) {
        cond.lock()
        defer { cond.unlock() }
        return (count, highWater)
    }
}
