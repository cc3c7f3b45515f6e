import Synchronization
import Testing
import TRWCore
@_spi(Testing) import TRWV4L2
@_spi(Testing) import TRWV4L2Emulation

@Suite struct FaultTests {
    /// The camera stops sending for 500 ms after frame 4 (poll timeout 200 ms): one
    /// `.timeout` gap spanning the silence, a warning, no invented drops, and the
    /// stream goes on with frame 5.
    @Test func stalledCameraIsATimeoutGapAndAWarning() throws {
        let device = EmulatedV4L2Device(.with { $0.stallsAfterSequence = [4: 500_000_000] })
        let source = try makeSource(device, camera())
        let sink = CollectingSink(stopAfterFrames: 8)
        try runCapture(source, sink)

        #expect(sink.frames.map(\.sequence) == Array(0..<8))
        #expect(sink.gaps.count == 1)
        let gap = try #require(sink.gaps.first)
        #expect(gap.kind == .timeout)
        let f4 = sink.frames[4], f5 = sink.frames[5]
        #expect(gap.startHostNs == f4.hostArrivalNs)
        #expect(gap.endHostNs == f5.hostArrivalNs)
        #expect(gap.lostCount == 0)
        #expect(gap.detail.contains("poll timeout 200 ms"))
        #expect(source.warnings.contains { $0.contains("frames stopped arriving from /dev/video0") && $0.contains("after sequence 4") })
        // The gap is emitted before the frame that ends it.
        let gapIndex = sink.events.firstIndex { if case .gap = $0 { true } else { false } }!
        guard case .thermal(let next) = sink.events[gapIndex + 1] else { Issue.record("no frame after the gap"); return }
        #expect(next.sequence == 5)
    }

    /// A stall still going on when the run is stopped is closed at the stop.
    @Test func stallOpenAtStopIsClosedAtTheStop() throws {
        let box = SourceBox()
        let device = EmulatedV4L2Device(.with {
            $0.stallsAfterSequence = [2: 10_000_000_000]
            // Stop the run once the driver has waited 600 ms in vain.
            $0.onEmptyPoll = { waitedSinceLastFrameNs in
                if waitedSinceLastFrameNs >= 600_000_000 { box.source?.stop() }
            }
        })
        let source = try makeSource(device, camera())
        box.source = source
        let sink = CollectingSink()
        try runCapture(source, sink)
        #expect(sink.frames.map(\.sequence) == [0, 1, 2])
        let gap = try #require(sink.gaps.first)
        #expect(sink.gaps.count == 1 && gap.kind == .timeout)
        #expect(gap.startHostNs == sink.frames[2].hostArrivalNs)
        let end = try #require(gap.endHostNs)
        #expect(end - gap.startHostNs >= 600_000_000)
        #expect(source.warnings.contains { $0.contains("frames stopped arriving") })
        #expect(device.counters.openDescriptors == 0 && device.counters.activeMappings == 0)
    }

    /// Unplugged mid-run with no reopen configured: the stream ends with a device-loss
    /// gap, run returns normally (other sources go on), and nothing leaks.
    @Test func unplugWithoutReopenEndsTheStreamWithAGap() throws {
        let device = EmulatedV4L2Device(.with { $0.unplugAfterSequence = 6 })
        let source = try makeSource(device, camera())
        let sink = CollectingSink()
        try runCapture(source, sink)

        let delivered = device.producedFrames.filter { $0.fate == .delivered }.map { Int64($0.sequence) }
        #expect(sink.frames.map(\.sequence) == delivered)
        #expect(delivered == Array(0...5), "frame 6 was done but the unplug came before its dequeue")
        #expect(device.producedFrames.last?.fate == .discarded)
        let gap = try #require(sink.gaps.last)
        #expect(sink.gaps.count == 1)
        #expect(gap.kind == .deviceLoss)
        #expect(gap.endHostNs == nil)
        #expect(gap.startHostNs == sink.frames.last?.hostArrivalNs)
        #expect(gap.detail.contains("ENODEV") || gap.detail.contains("No such device") || gap.detail.contains("not supported by device"))
        #expect(gap.detail.contains("no reopen attempts configured"))
        #expect(device.counters.openDescriptors == 0)
        #expect(device.counters.activeMappings == 0)
    }

    /// Unplugged from another thread (the test, through the sink) mid-run.
    @Test func unplugFromOutsideEndsTheRun() throws {
        let device = EmulatedV4L2Device()
        let sink = CollectingSink(onEvent: { event in
            if case .thermal(let f) = event, f.sequence == 3 { device.unplug() }
        })
        let source = try makeSource(device, camera())
        try runCapture(source, sink)
        #expect(sink.frames.map(\.sequence) == [0, 1, 2, 3])
        #expect(sink.gaps.map(\.kind) == [.deviceLoss])
        #expect(device.counters.openDescriptors == 0 && device.counters.activeMappings == 0)
    }

    /// Unplugged, back after 250 ms, reopen every 100 ms: the stream resumes; the loss
    /// is one gap with both ends; recorded sequences go on from where they were.
    @Test func unplugWithReopenResumesTheStream() throws {
        let device = EmulatedV4L2Device(.with {
            $0.unplugAfterSequence = 6
            $0.replugAfterNs = 250_000_000
        })
        var config = camera()
        config.reopenAttempts = 5
        config.reopenIntervalMs = 100
        let source = try makeSource(device, config)
        let sink = CollectingSink(stopAfterFrames: 10)
        try runCapture(source, sink)

        #expect(device.counters.opens == 2)
        let log = device.producedFrames
        let firstEpoch = log.filter { $0.epoch == 0 && $0.fate == .delivered }.map { Int64($0.sequence) }
        let secondEpoch = log.filter { $0.epoch == 1 && $0.fate == .delivered }.map { Int64($0.sequence) }
        #expect(firstEpoch == Array(0...5))
        #expect(secondEpoch == Array(0...3))
        // Recorded sequences continue after the last one seen before the loss.
        #expect(sink.frames.map(\.sequence) == Array(0...5) + Array(6...9))
        #expect(zip(sink.frames, log.filter { $0.fate == .delivered }).allSatisfy { pixelDifference($0.pixels, $1.pixels) == "" })
        let loss = try #require(sink.gaps.first { $0.kind == .deviceLoss })
        #expect(sink.gaps.count == 1)
        #expect(loss.startHostNs == sink.frames[5].hostArrivalNs)
        let end = try #require(loss.endHostNs)
        #expect(end - loss.startHostNs >= 250_000_000)
        #expect(end <= sink.frames[6].hostArrivalNs)
        #expect(loss.detail.contains("reopened after 3 attempt(s)"))
        #expect(source.warnings.contains("/dev/video0 reopened after 3 attempt(s)"))
        #expect(device.counters.openDescriptors == 0 && device.counters.activeMappings == 0)
    }

    @Test func reopenGivesUpAfterItsAttempts() throws {
        let device = EmulatedV4L2Device(.with { $0.unplugAfterSequence = 2 })
        var config = camera()
        config.reopenAttempts = 3
        config.reopenIntervalMs = 100
        let source = try makeSource(device, config)
        let sink = CollectingSink()
        try runCapture(source, sink)
        #expect(device.counters.opens == 1)
        let gap = try #require(sink.gaps.last)
        #expect(gap.kind == .deviceLoss && gap.endHostNs == nil)
        #expect(gap.detail.contains("gave up after 3 reopen attempt(s)"))
        #expect(gap.detail.contains("deviceMissing") || gap.detail.contains("no such device"))
        #expect(device.counters.openDescriptors == 0 && device.counters.activeMappings == 0)
    }
}

final class SourceBox: Sendable {
    private let value = Mutex<V4L2CameraSource?>(nil)
    var source: V4L2CameraSource? {
        get { value.withLock { $0 } }
        set { value.withLock { $0 = newValue } }
    }
}

@Suite struct QueueErrorTests {
    /// A streaming error (EIO on DQBUF, the node still there): a device-loss gap, and one
    /// reopen attempt brings the stream back.
    @Test(arguments: [0, 1])
    func ioErrorOnDequeueIsADeviceLoss(reopenAttempts: Int) throws {
        let device = EmulatedV4L2Device(.with { $0.queueErrorAfterSequence = 4 })
        var config = camera()
        config.reopenAttempts = reopenAttempts
        config.reopenIntervalMs = 10
        let source = try makeSource(device, config)
        let sink = CollectingSink(stopAfterFrames: 8)
        try runCapture(source, sink)

        let loss = try #require(sink.gaps.first)
        #expect(sink.gaps.count == 1 && loss.kind == .deviceLoss)
        #expect(loss.detail.contains("VIDIOC_DQBUF"))
        let delivered = device.deliveredFrames
        #expect(delivered.filter { $0.epoch == 0 }.map(\.sequence) == [0, 1, 2, 3])
        if reopenAttempts == 0 {
            #expect(sink.frames.map(\.sequence) == [0, 1, 2, 3])
            #expect(loss.endHostNs == nil)
        } else {
            #expect(sink.frames.map(\.sequence) == Array(0..<8))
            #expect(delivered.filter { $0.epoch == 1 }.map(\.sequence) == [0, 1, 2, 3])
            #expect(loss.endHostNs != nil && loss.detail.contains("reopened after 1 attempt(s)"))
        }
        #expect(device.counters.openDescriptors == 0 && device.counters.activeMappings == 0)
    }
}
