#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A bounded multi-producer / multi-consumer FIFO on one mutex and two condition
/// variables (not empty, not full). Device threads use `tryPush` (never block: a
/// full queue is a recorded loss); internal stages use `push` (back-pressure).
///
/// One lock round-trip per push or pop; a waiter is woken (`signal`, one thread)
/// only when one is waiting, and `close` wakes them all. Timed waits run on
/// CLOCK_MONOTONIC, so a stepped wall clock never stretches or cuts them.
public final class BoundedQueue<Element: Sendable>: @unchecked Sendable {
    // @unchecked: every mutable field is touched only with `mutex` held.
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let notEmpty: UnsafeMutablePointer<pthread_cond_t>
    private let notFull: UnsafeMutablePointer<pthread_cond_t>
    private var buffer: [Element?]
    private var head = 0
    private var count = 0
    private var closed = false
    /// Threads waiting in `pop` / in `push` (a wake-up is sent only when one waits).
    private var consumersWaiting = 0
    private var producersWaiting = 0
    public let capacity: Int
    /// Highest fill seen, for the dashboard and the summary.
    private var highWater = 0

    public init(capacity: Int) {
        precondition(capacity > 0, "queue capacity must be positive")
        self.capacity = capacity
        buffer = Array(repeating: nil, count: capacity)
        mutex = .allocate(capacity: 1)
        notEmpty = .allocate(capacity: 1)
        notFull = .allocate(capacity: 1)
        // These fail only for invalid attributes or without memory: our bug or a dead process.
        precondition(pthread_mutex_init(mutex, nil) == 0, "pthread_mutex_init failed")
        var attr = pthread_condattr_t()
        precondition(pthread_condattr_init(&attr) == 0, "pthread_condattr_init failed")
        #if !canImport(Darwin)
        precondition(pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) == 0, "pthread_condattr_setclock failed")
        #endif
        precondition(pthread_cond_init(notEmpty, &attr) == 0 && pthread_cond_init(notFull, &attr) == 0, "pthread_cond_init failed")
        pthread_condattr_destroy(&attr)
    }

    deinit {
        pthread_cond_destroy(notEmpty)
        pthread_cond_destroy(notFull)
        pthread_mutex_destroy(mutex)
        notEmpty.deallocate()
        notFull.deallocate()
        mutex.deallocate()
    }

    @inline(__always)
    private func withLock<R>(_ body: () throws -> R) rethrows -> R {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body()
    }

    /// Appends without waiting. Returns false when full or closed.
    public func tryPush(_ e: Element) -> Bool {
        withLock {
            guard !closed, count < capacity else { return false }
            enqueueLocked(e)
            return true
        }
    }

    /// Appends, waiting for room. Returns false only if the queue is closed.
    @discardableResult
    public func push(_ e: Element) -> Bool {
        withLock {
            while !closed && count == capacity {
                producersWaiting += 1
                pthread_cond_wait(notFull, mutex)
                producersWaiting -= 1
            }
            guard !closed else { return false }
            enqueueLocked(e)
            return true
        }
    }

    private func enqueueLocked(_ e: Element) {
        buffer[(head + count) % capacity] = e
        count += 1
        if count > highWater { highWater = count }
        if consumersWaiting > 0 { pthread_cond_signal(notEmpty) }
    }

    private func dequeueLocked() -> Element? {
        let e = buffer[head]
        buffer[head] = nil
        head = head + 1 == capacity ? 0 : head + 1
        count -= 1
        if producersWaiting > 0 { pthread_cond_signal(notFull) }
        return e
    }

    /// Removes the oldest element, waiting up to `timeout` seconds.
    /// Returns nil on timeout, or when closed and drained.
    public func pop(timeout: Double) -> Element? {
        withLock {
            guard waitForElementLocked(deadline: Self.deadline(after: timeout)) else { return nil }
            return dequeueLocked()
        }
    }

    /// Removes the oldest element, waiting as long as it takes. Returns nil only
    /// when the queue is closed and drained: a consumer that loops on this ends
    /// when its producer closes the queue, never because it was idle.
    public func pop() -> Element? {
        withLock {
            guard waitForElementLocked(deadline: nil) else { return nil }
            return dequeueLocked()
        }
    }

    /// Removes every element there is (at least one), waiting up to `timeout` seconds
    /// for the first: one lock round-trip for a whole backlog. Empty on timeout, or
    /// when closed and drained.
    public func popAll(timeout: Double) -> [Element] {
        withLock {
            guard waitForElementLocked(deadline: Self.deadline(after: timeout)) else { return [] }
            var out: [Element] = []
            out.reserveCapacity(count)
            while count > 0 {
                out.append(buffer[head]!)
                buffer[head] = nil
                head = head + 1 == capacity ? 0 : head + 1
                count -= 1
            }
            // Room for many: every blocked producer may go on.
            if producersWaiting > 0 { pthread_cond_broadcast(notFull) }
            return out
        }
    }

    /// Waits (mutex held) until an element is there: true; false on timeout or when closed and empty.
    private func waitForElementLocked(deadline: timespec?) -> Bool {
        while count == 0 {
            if closed { return false }
            consumersWaiting += 1
            if var d = deadline {
                let rc = pthread_cond_timedwait(notEmpty, mutex, &d)
                consumersWaiting -= 1
                if rc == ETIMEDOUT { return count > 0 }
            } else {
                pthread_cond_wait(notEmpty, mutex)
                consumersWaiting -= 1
            }
        }
        return true
    }

    /// CLOCK_MONOTONIC `seconds` from now (the condition variables' clock).
    private static func deadline(after seconds: Double) -> timespec {
        var now = timespec()
        #if canImport(Darwin)
        clock_gettime(CLOCK_REALTIME, &now)  // Darwin's condition variables wait on the wall clock
        #else
        clock_gettime(CLOCK_MONOTONIC, &now)
        #endif
        let ns = Int64(now.tv_nsec) + Int64((max(0, seconds) * 1e9).rounded())
        return timespec(tv_sec: now.tv_sec + Int(ns / 1_000_000_000), tv_nsec: Int(ns % 1_000_000_000))
    }

    /// No more pushes; consumers drain what is left, then get nil.
    public func close() {
        withLock {
            closed = true
            pthread_cond_broadcast(notEmpty)
            pthread_cond_broadcast(notFull)
        }
    }

    public var isClosedAndEmpty: Bool {
        withLock { closed && count == 0 }
    }

    /// (current fill, high-water mark).
    public var fill: (current: Int, highWater: Int) {
        withLock { (count, highWater) }
    }
}
