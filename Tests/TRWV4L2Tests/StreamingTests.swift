import CV4L2
import Glibc
import SystemPackage
import Testing
import TRWCore
import TRWTestSupport
@_spi(Testing) import TRWV4L2
@_spi(Testing) import TRWV4L2Emulation

@Suite struct StreamingTests {
    /// Every recordable format, with and without row padding, passes through bit-exact:
    /// the stored counts are exactly what the camera put on the wire (after its own bit depth).
    @Test(arguments: V4L2PixelFormat.allCases, [0, 6])
    func framesPassThroughBitExact(format: V4L2PixelFormat, padding: Int) throws {
        let device = EmulatedV4L2Device(.with { $0.rowPaddingBytes = padding }, generator: fullRangeGenerator)
        let source = try makeSource(device, camera(format: format))
        let sink = CollectingSink(stopAfterFrames: 12)
        try runCapture(source, sink)

        let delivered = device.producedFrames.filter { $0.fate == .delivered }
        #expect(sink.frames.count == 12)
        #expect(delivered.count == 12)
        for (frame, produced) in zip(sink.frames, delivered) {
            #expect(frame.sequence == Int64(produced.sequence))
            #expect(frame.deviceTimestampNs == produced.timestampNs)
            #expect(frame.width == 160 && frame.height == 120)
            #expect(pixelDifference(frame.pixels, produced.pixels) == "", "frame \(produced.sequence) of \(format) padding \(padding)")
            #expect(!frame.isErroneous)
        }
        #expect(sink.gaps.isEmpty)
        // The generator's counts use 16 bits: the narrow formats must show their truncation, or the test proves nothing.
        let maxCount = sink.frames.flatMap(\.pixels).max() ?? 0
        #expect(Int(maxCount) == (1 << format.significantBits) - 1)
    }

    @Test func bigEndianY16IsByteSwappedNotCopied() throws {
        let device = EmulatedV4L2Device(generator: { _, w, h in [UInt16](repeating: 0x1234, count: w * h) })
        let source = try makeSource(device, camera(format: .y16BigEndian))
        let sink = CollectingSink(stopAfterFrames: 1)
        try runCapture(source, sink)
        #expect(pixelDifference(sink.frames.first?.pixels, [UInt16](repeating: 0x1234, count: 160 * 120)) == "")
    }

    @Test func yuyvKeepsLumaOnly() throws {
        let device = EmulatedV4L2Device(generator: { _, w, h in (0..<(w * h)).map { UInt16($0 % 251) } })
        let source = try makeSource(device, camera(format: .yuyv))
        let sink = CollectingSink(stopAfterFrames: 1)
        try runCapture(source, sink)
        #expect(pixelDifference(sink.frames.first?.pixels, (0..<(160 * 120)).map { UInt16($0 % 251) }) == "")
    }

    @Test func fullSizeY16At50HzKeepsSequenceAndTimestamps() throws {
        let device = EmulatedV4L2Device()
        let source = try makeSource(device, camera(width: 640, height: 480))
        let sink = CollectingSink(stopAfterFrames: 25)
        try runCapture(source, sink)
        let frames = sink.frames
        #expect(frames.map(\.sequence) == Array(0..<25))
        let steps = zip(frames.dropFirst(), frames).map { $0.deviceTimestampNs - $1.deviceTimestampNs }
        #expect(steps.allSatisfy { $0 == 20_000_000 }, "device timestamps step by the 20 ms period: \(steps)")
        #expect(frames.allSatisfy { $0.hostArrivalNs >= $0.deviceTimestampNs })
        for f in frames {
            #expect(pixelDifference(f.pixels, EmulatedV4L2Device.defaultGenerator(UInt32(f.sequence), 640, 480)) == "", "frame \(f.sequence)")
        }
        #expect(sink.gaps.isEmpty)
    }

    /// A slow application (each frame costs it 3 periods) with 4 buffers: the camera
    /// drops frames whenever no buffer is queued. Every drop is a gap whose count is
    /// the sequence jump, and the stored sequences are exactly the delivered ones.
    @Test(arguments: [2, 4, 8])
    func slowApplicationDropsAreRecordedExactly(buffers: Int) throws {
        let device = EmulatedV4L2Device(.with { $0.appCostPerFrameNs = 60_000_000 })
        let source = try makeSource(device, camera(buffers: buffers))
        let sink = CollectingSink(stopAfterFrames: 30)
        try runCapture(source, sink)

        let log = device.producedFrames
        let delivered = log.filter { $0.fate == .delivered }.map { Int64($0.sequence) }
        #expect(sink.frames.map(\.sequence) == delivered)
        let lastDelivered = delivered.last ?? -1
        let droppedBefore = log.filter { $0.fate == .droppedNoBuffer && Int64($0.sequence) < lastDelivered }.count
        #expect(droppedBefore > 0, "the scenario must drop frames")
        let drops = sink.gaps.filter { $0.kind == .frameDrop }
        #expect(drops.reduce(0) { $0 + $1.lostCount } == Int64(droppedBefore))
        // Each gap sits exactly where the sequence jumps.
        var expectedGaps: [Int64] = []
        for (a, b) in zip(delivered, delivered.dropFirst()) where b - a > 1 { expectedGaps.append(b - a - 1) }
        if let first = delivered.first, first > 0 { expectedGaps.insert(first, at: 0) }
        #expect(drops.map(\.lostCount) == expectedGaps)
        #expect(drops.allSatisfy { ($0.endHostNs ?? 0) > $0.startHostNs })
    }

    @Test func errorAndShortBuffersAreRecordedAsSuch() throws {
        let device = EmulatedV4L2Device(.with {
            $0.errorSequences = [3]
            $0.shortSequences = [5]
        })
        let source = try makeSource(device, camera())
        let sink = CollectingSink(stopAfterFrames: 8)
        try runCapture(source, sink)

        #expect(sink.frames.map(\.sequence) == [0, 1, 2, 3, 4, 6, 7, 8])
        #expect(sink.frames.filter(\.isErroneous).map(\.sequence) == [3])
        let errors = sink.gaps.filter { $0.kind == .deviceError }
        #expect(errors.count == 2)
        #expect(errors.contains { $0.lostCount == 0 && $0.detail.contains("V4L2_BUF_FLAG_ERROR") && $0.detail.contains("sequence 3") })
        #expect(errors.contains { $0.lostCount == 1 && $0.detail.contains("short buffer at sequence 5") })
        #expect(sink.gaps.allSatisfy { $0.kind == .deviceError })
    }

    @Test func interruptedCallsAreRetried() throws {
        let device = EmulatedV4L2Device(.with { $0.interruptEveryNthCall = 3 }, generator: fullRangeGenerator)
        let source = try makeSource(device, camera())
        let sink = CollectingSink(stopAfterFrames: 10)
        try runCapture(source, sink)
        #expect(device.counters.interruptsInjected > 10)
        #expect(sink.frames.map(\.sequence) == Array(0..<10))
        for (f, p) in zip(sink.frames, device.producedFrames.filter({ $0.fate == .delivered })) {
            #expect(pixelDifference(f.pixels, p.pixels) == "", "frame \(f.sequence)")
        }
        #expect(sink.gaps.isEmpty)
    }

    @Test func stopReleasesEverything() throws {
        let device = EmulatedV4L2Device()
        do {
            let source = try makeSource(device, camera())
            #expect(device.counters.openDescriptors == 1)
            #expect(device.counters.activeMappings == 4)
            let sink = CollectingSink(stopAfterFrames: 3)
            try runCapture(source, sink)
            #expect(device.counters.openDescriptors == 0)
            #expect(device.counters.activeMappings == 0)
            #expect(device.counters.streamOffs == 1)
        }
        // A source dropped without running releases its device too.
        do { _ = try makeSource(device, camera()) }
        #expect(device.counters.openDescriptors == 0)
        #expect(device.counters.activeMappings == 0)
    }

    @Test func secondRunReopensTheDevice() throws {
        let device = EmulatedV4L2Device()
        let source = try makeSource(device, camera())
        try runCapture(source, CollectingSink(stopAfterFrames: 2))
        // stop() ended the first run only: a second run opens the device again and captures.
        let sink = CollectingSink(stopAfterFrames: 2)
        try runCapture(source, sink)
        #expect(sink.frames.count == 2)
        #expect(device.counters.opens == 2)
        #expect(device.counters.openDescriptors == 0)
    }
}

@Suite struct RealClockTests {
    /// The emulation on CLOCK_MONOTONIC at 100 Hz: whatever the machine load, the
    /// driver's output accounts for every frame the device made up to the last one stored.
    @Test func realClockStreamAccountsForEveryFrame() throws {
        let device = EmulatedV4L2Device(.with {
            $0.clock = .real
            $0.formats = [.init(.y16, sizes: [.init(width: 160, height: 120, intervals: [.fps(100)])])]
        })
        let source = try makeSource(device, camera(fps: 100))
        let sink = CollectingSink(stopAfterFrames: 6)
        try runCapture(source, sink)
        let frames = sink.frames
        #expect(frames.count == 6)
        #expect(frames.map(\.sequence) == device.deliveredFrames.prefix(6).map { Int64($0.sequence) })
        let lost = sink.gaps.filter { $0.kind == .frameDrop }.reduce(Int64(0)) { $0 + $1.lostCount }
        #expect(frames.last!.sequence + 1 == Int64(frames.count) + lost)
        #expect(frames.allSatisfy { $0.hostArrivalNs >= $0.deviceTimestampNs })
        #expect(device.counters.openDescriptors == 0 && device.counters.activeMappings == 0)
    }
}

@Suite struct EmulationFaithfulnessTests {
    /// Spurious poll wakeups: DQBUF then answers EAGAIN and the driver just waits again.
    @Test func spuriousWakeupsAreHarmless() throws {
        let device = EmulatedV4L2Device(.with { $0.spuriousWakeupEveryNthPoll = 2 }, generator: fullRangeGenerator)
        let source = try makeSource(device, camera())
        let sink = CollectingSink(stopAfterFrames: 5)
        try runCapture(source, sink)
        #expect(sink.frames.map(\.sequence) == Array(0..<5))
        #expect(sink.gaps.isEmpty)
        #expect(device.counters.wouldBlock >= 4, "the scenario must make DQBUF answer EAGAIN")
    }

    /// The emulated queue directly: frames go only into queued buffers, EAGAIN when none is
    /// done on a non-blocking descriptor, the sequence runs on through drops, ENODEV after unplug.
    @Test func queueSemantics() throws {
        let device = EmulatedV4L2Device()
        let fd = try device.open("/dev/video0", flags: O_RDWR | O_NONBLOCK).get()
        func call<T>(_ request: UInt, _ value: inout T) -> Result<CInt, Errno> {
            withUnsafeMutableBytes(of: &value) { device.ioctl(fd, request: request, argument: $0.baseAddress!) }
        }
        var req = v4l2_requestbuffers()
        req.count = 2
        req.type = V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue
        req.memory = V4L2_MEMORY_MMAP.rawValue
        _ = try call(trw_VIDIOC_REQBUFS, &req).get()
        #expect(req.count == 2)
        var b = v4l2_buffer()
        b.type = V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue
        b.memory = V4L2_MEMORY_MMAP.rawValue
        b.index = 0
        _ = try call(trw_VIDIOC_QBUF, &b).get()
        #expect(throws: Errno.invalidArgument) { try call(trw_VIDIOC_QBUF, &b).get() }  // already queued
        var type = Int32(bitPattern: V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue)
        _ = try call(trw_VIDIOC_STREAMON, &type).get()
        #expect(throws: Errno.resourceTemporarilyUnavailable) { try call(trw_VIDIOC_DQBUF, &b).get() }
        device.advance(byNanoseconds: 100_000_000)  // 5 frame periods, one buffer queued
        _ = try call(trw_VIDIOC_DQBUF, &b).get()
        #expect(b.index == 0 && b.sequence == 0)
        #expect(throws: Errno.resourceTemporarilyUnavailable) { try call(trw_VIDIOC_DQBUF, &b).get() }
        _ = try call(trw_VIDIOC_QBUF, &b).get()
        device.advance(byNanoseconds: 20_000_000)
        _ = try call(trw_VIDIOC_DQBUF, &b).get()
        #expect(b.sequence == 5, "frames 1-4 found no buffer and were dropped, their numbers used")
        #expect(device.droppedFrames.map(\.sequence) == [1, 2, 3, 4])
        device.unplug()
        #expect(throws: Errno.operationNotSupportedByDevice) { try call(trw_VIDIOC_QBUF, &b).get() }
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        #expect(try device.poll(&p, timeoutMilliseconds: 10).get() == 1)
        #expect(p.revents & Int16(POLLERR) != 0 && p.revents & Int16(POLLHUP) != 0)
        _ = try device.close(fd).get()
        #expect(device.counters.openDescriptors == 0)
    }

    /// Without O_NONBLOCK, DQBUF waits for the next frame (on the virtual clock) instead of EAGAIN.
    @Test func blockingDequeueWaitsForAFrame() throws {
        let device = EmulatedV4L2Device()
        let fd = try device.open("/dev/video0", flags: O_RDWR).get()
        defer { _ = device.close(fd) }
        func call<T>(_ request: UInt, _ value: inout T) -> Result<CInt, Errno> {
            withUnsafeMutableBytes(of: &value) { device.ioctl(fd, request: request, argument: $0.baseAddress!) }
        }
        var req = v4l2_requestbuffers()
        req.count = 2
        req.type = V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue
        req.memory = V4L2_MEMORY_MMAP.rawValue
        _ = try call(trw_VIDIOC_REQBUFS, &req).get()
        var b = v4l2_buffer()
        b.type = V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue
        b.memory = V4L2_MEMORY_MMAP.rawValue
        _ = try call(trw_VIDIOC_QBUF, &b).get()
        var type = Int32(bitPattern: V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue)
        let t0 = device.nowNs
        _ = try call(trw_VIDIOC_STREAMON, &type).get()
        _ = try call(trw_VIDIOC_DQBUF, &b).get()
        #expect(b.sequence == 0)
        #expect(device.nowNs - t0 == 20_000_000)
    }
}

@Suite struct SimulatedSceneTests {
    /// Thermal-looking frames (a warm blob with NETD-like noise, the shape of what the
    /// simulator renders) at full size, through the emulated device and the driver, bit-exact,
    /// with the frame generator as the plug-in point for the simulator's renderer.
    @Test func simulatedThermalFramesArriveBitExact() throws {
        let device = EmulatedV4L2Device(generator: { seq, w, h in TestFrames.thermal(width: w, height: h, seed: UInt64(seq)) })
        let source = try makeSource(device, camera(width: 640, height: 480))
        let sink = CollectingSink(stopAfterFrames: 3)
        try runCapture(source, sink)
        #expect(sink.frames.count == 3)
        for f in sink.frames {
            #expect(pixelDifference(f.pixels, TestFrames.thermal(width: 640, height: 480, seed: UInt64(f.sequence))) == "",
                    "frame \(f.sequence)")
        }
        // The counts are radiometric: the calibration stored with the stream turns them into the scene's temperatures.
        let calibration = try #require(source.streams[0].calibration)
        let hottest = sink.frames[0].pixels.max()!
        #expect(abs(calibration.celsius(hottest) - 65) < 1, "blob peak is 25 + 40 degC (noise under 1 K)")
    }
}
