import Foundation
import Testing
import TRWCore
import TRWStore
@testable import TRWRecorder

/// The queues between the recorder's stages: consumers end when their producer closes
/// the queue, never because a stream was idle.
@Suite struct BoundedQueueTests {
    @Test func popWaitsThroughIdlenessAndEndsOnlyWhenClosedAndDrained() {
        let q = BoundedQueue<Int>(capacity: 4)
        let got = Collected()
        let consumer = Thread {
            while let v = q.pop() { got.add(v) }
            got.ended.signal()
        }
        consumer.start()
        // Idle longer than the consumer would wait for any one element if it gave up on time.
        #expect(got.ended.wait(timeout: .now() + 0.3) == .timedOut, "the consumer must still be waiting")
        #expect(q.push(1) && q.push(2))
        #expect(got.ended.wait(timeout: .now() + 0.2) == .timedOut)
        #expect(q.push(3))
        q.close()
        #expect(got.ended.wait(timeout: .now() + 5) == .success)
        #expect(got.values == [1, 2, 3], "everything pushed before close is delivered, in order")
        #expect(!q.push(4) && !q.tryPush(4), "a closed queue takes nothing")
    }

    @Test func encoderPoolEncodesAFrameThatArrivesAfterAnIdlePeriod() throws {
        let out = BoundedQueue<WriteBatch>(capacity: 8)
        let pool = FrameEncoderPool(threads: 2, capacity: 4, output: out) { _, error in
            Issue.record("encoding failed: \(error)")
        }
        usleep(300_000)  // no frames: the encoders keep waiting
        let px = (0..<(32 * 24)).map { UInt16(30_000 + $0) }
        let frame = ThermalFrame(width: 32, height: 24, pixels: px, sequence: 0, deviceTimestampNs: 0, hostArrivalNs: 0)
        let row = ThermalFrameRecord(streamId: 1, sequence: 0, deviceTsNs: 0, hostArrivalNs: 0, tNs: 0, codec: "",
                                     payload: Data(), stats: FrameStatistics.compute(pixels: px, width: 32, height: 24), flags: 0)
        pool.submit(.init(row: row, frame: frame))
        pool.finish()
        let b = try #require(out.pop(timeout: 0))
        #expect(b.frames.count == 1 && !b.frames[0].payload.isEmpty)
    }
}

private final class Collected: @unchecked Sendable {
    private let lock = NSLock()
    private var v: [Int] = []
    let ended = DispatchSemaphore(value: 0)
    func add(_ x: Int) { lock.withLock { v.append(x) } }
    var values: [Int] { lock.withLock { v } }
}
