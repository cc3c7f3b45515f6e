import CV4L2
import Glibc
import Synchronization
import SystemPackage
@_spi(Testing) import TRWV4L2

/// A faithful emulation of a V4L2 single-planar capture driver (a videobuf2
/// driver such as uvcvideo or vivid), put behind the TRWV4L2 driver's syscall
/// seam. It answers the ioctls with the kernel's own structs, owns real
/// page-aligned buffer memory that `mmap` hands out, and keeps a real buffer
/// queue: a frame goes only into a buffer the application queued; when none is
/// queued the frame is dropped and the sequence number still advances.
///
/// Time is virtual by default: the clock advances only when the driver waits
/// (poll, sleep), when a dequeue costs `appCostPerFrameNs`, or when a test calls
/// `advance(byNanoseconds:)`, so every drop is reproducible. With `.real` the
/// frames arrive on CLOCK_MONOTONIC at the frame rate.
///
/// Everything produced is logged (`producedFrames`) with its fate, so a test
/// can compare what the driver emitted with what the device made.
///
/// SPI (`@_spi(Testing) import TRWV4L2Emulation`), like the seam it plugs into.
@_spi(Testing)
public final class EmulatedV4L2Device: V4L2Syscalls {
    // MARK: Configuration

    /// A time per frame, seconds = numerator / denominator (v4l2_fract).
    public struct Interval: Sendable, Equatable {
        public var numerator: UInt32
        public var denominator: UInt32
        public init(_ numerator: UInt32, _ denominator: UInt32) {
            self.numerator = numerator
            self.denominator = denominator
        }
        /// 1/fps.
        public static func fps(_ f: UInt32) -> Interval { Interval(1, f) }
        public var nanoseconds: Int64 { Int64(numerator) * 1_000_000_000 / Int64(denominator) }
        public var fps: Double { Double(denominator) / Double(numerator) }
    }

    public struct FrameSize: Sendable, Equatable {
        public var width: Int
        public var height: Int
        /// Discrete frame intervals offered at this size, fastest first.
        public var intervals: [Interval]
        public init(width: Int, height: Int, intervals: [Interval]) {
            self.width = width
            self.height = height
            self.intervals = intervals
        }
    }

    public struct Format: Sendable, Equatable {
        public var fourcc: UInt32
        public var description: String
        /// Discrete sizes (V4L2_FRMSIZE_TYPE_DISCRETE); ignored when `stepwise` is set.
        public var sizes: [FrameSize]
        /// A stepwise size range (V4L2_FRMSIZE_TYPE_STEPWISE), as vendor drivers and vivid offer.
        public var stepwise: Stepwise?
        public init(fourcc: UInt32, description: String, sizes: [FrameSize], stepwise: Stepwise? = nil) {
            self.fourcc = fourcc
            self.description = description
            self.sizes = sizes
            self.stepwise = stepwise
        }

        /// The size S_FMT grants for an asked width x height.
        func nearest(width w: Int, height h: Int) -> FrameSize {
            if let r = stepwise {
                func fit(_ v: Int, _ lo: Int, _ hi: Int, _ step: Int) -> Int {
                    let c = min(max(v, lo), hi)
                    return lo + (c - lo) / step * step
                }
                return FrameSize(width: fit(w, r.minWidth, r.maxWidth, r.stepWidth),
                                 height: fit(h, r.minHeight, r.maxHeight, r.stepHeight), intervals: r.intervals)
            }
            return sizes.min { abs($0.width * $0.height - w * h) < abs($1.width * $1.height - w * h) }!
        }

        /// The size if this format offers exactly it.
        func offered(width w: Int, height h: Int) -> FrameSize? {
            if stepwise != nil {
                let n = nearest(width: w, height: h)
                return n.width == w && n.height == h ? n : nil
            }
            return sizes.first { $0.width == w && $0.height == h }
        }

        public init(_ format: V4L2PixelFormat, sizes: [FrameSize]) {
            self.init(fourcc: format.fourcc, description: "\(format.rawValue) (emulated)", sizes: sizes)
        }

        var defaultSize: FrameSize { stepwise.map { nearest(width: $0.maxWidth, height: $0.maxHeight) } ?? sizes[0] }
    }

    public struct Stepwise: Sendable, Equatable {
        public var minWidth: Int, maxWidth: Int, stepWidth: Int
        public var minHeight: Int, maxHeight: Int, stepHeight: Int
        /// Discrete intervals offered at every size of the range, fastest first.
        public var intervals: [Interval]
        public init(minWidth: Int, maxWidth: Int, stepWidth: Int, minHeight: Int, maxHeight: Int, stepHeight: Int,
                    intervals: [Interval]) {
            self.minWidth = minWidth
            self.maxWidth = maxWidth
            self.stepWidth = stepWidth
            self.minHeight = minHeight
            self.maxHeight = maxHeight
            self.stepHeight = stepHeight
            self.intervals = intervals
        }
    }

    public enum Clock: Sendable, Equatable {
        /// Starts at `startNs` and advances only when something waits.
        case virtual(startNs: Int64)
        /// CLOCK_MONOTONIC; poll really sleeps until the next frame.
        case real
    }

    /// V4L2_BUF_FLAG_TIMESTAMP_* the driver stamps buffers with.
    public enum TimestampClock: Sendable { case monotonic, unknown, copy }

    /// What S_FMT does with a pixel format it does not offer.
    public enum UnsupportedFormatReply: Sendable {
        /// EINVAL (older drivers).
        case einval
        /// Picks its first format instead, as uvcvideo does.
        case adjust
    }

    public struct Configuration: Sendable {
        /// The capture node.
        public var path = "/dev/video0"
        /// A second node that is not a capture device (like uvcvideo's metadata node), or nil.
        public var metadataNodePath: String? = nil
        public var driver = "uvcvideo"
        public var card = "PureThermal (emulated)"
        public var busInfo = "usb-emulated-1.2"
        /// device_caps (V4L2_CAP_*).
        public var capabilities = UInt32(V4L2_CAP_VIDEO_CAPTURE) | UInt32(V4L2_CAP_STREAMING)
        public var formats: [Format] = EmulatedV4L2Device.thermalCoreFormats
        public var timestampClock = TimestampClock.monotonic
        /// V4L2_BUF_FLAG_TSTAMP_SRC_SOE when true, _EOF otherwise.
        public var timestampStartOfExposure = false
        /// Extra bytes at the end of each row (bytesperline > width * bpp), filled with 0xEE.
        public var rowPaddingBytes = 0
        public var minBuffers = 2
        public var maxBuffers = 8
        /// Whether S_PARM can set the rate (V4L2_CAP_TIMEPERFRAME).
        public var frameRateControl = true
        public var unsupportedFormatReply = UnsupportedFormatReply.einval
        public var clock = Clock.virtual(startNs: 5_000_000_000)
        /// Virtual time each DQBUF costs the application (its processing), ns: a slow app.
        public var appCostPerFrameNs: Int64 = 0
        /// Keep the pixels of delivered frames in `producedFrames`.
        public var recordPixels = true
        /// Called (outside the device lock) whenever a poll returns with no frame, with the
        /// time since the last frame was produced (or since STREAMON): lets a test act during a stall.
        public var onEmptyPoll: (@Sendable (_ waitedSinceLastFrameNs: Int64) -> Void)? = nil
        /// Every n-th call fails once with EINTR (0: never), to exercise the retry.
        public var interruptEveryNthCall = 0
        /// Every n-th poll that finds nothing reports POLLIN anyway (0: never): a spurious
        /// wakeup, after which DQBUF answers EAGAIN.
        public var spuriousWakeupEveryNthPoll = 0

        // Scheduled faults, by the V4L2 sequence of the epoch (0 after each STREAMON).
        /// Frames flagged V4L2_BUF_FLAG_ERROR.
        public var errorSequences: Set<UInt32> = []
        /// Frames delivered with only half their bytes.
        public var shortSequences: Set<UInt32> = []
        /// After the frame with this sequence, no frame for this many ns (the camera stalls).
        public var stallsAfterSequence: [UInt32: Int64] = [:]
        /// The camera is unplugged right after producing this sequence.
        public var unplugAfterSequence: UInt32? = nil
        /// The driver hits a streaming error right after this sequence (vb2_queue_error, e.g. a
        /// USB transfer failure): DQBUF then answers EIO and poll POLLERR until STREAMOFF.
        public var queueErrorAfterSequence: UInt32? = nil
        /// After an unplug, the node comes back after this many ns (nil: never).
        public var replugAfterNs: Int64? = nil

        public init() {}
    }

    /// Produces the counts of frame `sequence` (`width * height` values, row-major).
    /// Values are truncated to the format's significant bits (`v & mask`).
    public typealias FrameGenerator = @Sendable (_ sequence: UInt32, _ width: Int, _ height: Int) -> [UInt16]

    /// A Boson/PureThermal-like core: every format trw records, 640x480 and 160x120, at 50/25/9 Hz.
    public static let thermalCoreFormats: [Format] = {
        let sizes = [
            FrameSize(width: 640, height: 480, intervals: [.fps(50), .fps(25), .fps(9)]),
            FrameSize(width: 160, height: 120, intervals: [.fps(50), .fps(25), .fps(9)]),
        ]
        return V4L2PixelFormat.allCases.map { Format($0, sizes: sizes) }
    }()

    /// A deterministic test pattern in TLinear 0.01 K counts (25 degC background, a ramp, a moving hotspot).
    public static let defaultGenerator: FrameGenerator = { seq, w, h in
        var out = [UInt16](repeating: 0, count: w * h)
        let hx = Int(seq) % w, hy = (Int(seq) / 2) % h
        for y in 0..<h {
            for x in 0..<w {
                var v = 29815 + (x * 7 + y * 13 + Int(seq) * 3) % 512
                if abs(x - hx) < 3 && abs(y - hy) < 3 { v += 4000 }
                out[y * w + x] = UInt16(v)
            }
        }
        return out
    }

    // MARK: Log

    public enum Fate: Sendable, Equatable {
        /// Filled and waiting in the done queue for the application.
        case waiting
        /// Dequeued by the application.
        case delivered
        /// No buffer was queued: the frame was lost, its sequence number used.
        case droppedNoBuffer
        /// Done but never dequeued (STREAMOFF or unplug came first).
        case discarded
    }

    /// One frame the emulated camera produced.
    public struct ProducedFrame: Sendable, Equatable {
        /// V4L2 sequence within its streaming epoch.
        public var sequence: UInt32
        /// Streaming epoch: 0 for the first STREAMON, +1 for each later one (e.g. after a reopen).
        public var epoch: Int
        /// The timestamp put in the buffer (CLOCK_MONOTONIC ns, microsecond resolution).
        public var timestampNs: Int64
        public var fate: Fate
        public var flaggedError: Bool
        public var short: Bool
        /// The counts as delivered (after truncation to the format's bits), when recorded.
        public var pixels: [UInt16]?
    }

    /// Counters a test checks for leaks and for the syscall pattern.
    public struct Counters: Sendable, Equatable {
        public var openDescriptors = 0
        public var activeMappings = 0
        public var opens = 0
        public var closes = 0
        public var streamOns = 0
        public var streamOffs = 0
        public var interruptsInjected = 0
        public var dequeues = 0
        public var polls = 0
        /// DQBUF calls answered EAGAIN (nothing done on a non-blocking descriptor).
        public var wouldBlock = 0
        /// Wall time the emulated device spent writing frames into buffers (its "DMA"), ns;
        /// the benchmark subtracts it to isolate the driver.
        public var productionNanoseconds: Int64 = 0
    }

    // MARK: State

    private final class BufferMemory {
        let base: UnsafeMutableRawPointer
        let length: Int
        init(length: Int) {
            let page = Int(sysconf(Int32(_SC_PAGESIZE)))
            self.length = (length + page - 1) / page * page
            var p: UnsafeMutableRawPointer? = nil
            let rc = posix_memalign(&p, page, self.length)
            precondition(rc == 0 && p != nil, "posix_memalign(\(self.length)) failed: \(rc)")
            base = p!
            base.initializeMemory(as: UInt8.self, repeating: 0, count: self.length)
        }
        deinit { free(base) }
    }

    private struct Buffer {
        var memory: BufferMemory
        var queued = false
        var done = false
        var bytesUsed = 0
        var sequence: UInt32 = 0
        var timestampNs: Int64 = 0
        var flags: UInt32 = 0
        var logIndex = -1
    }

    private struct Mapping {
        var address: UnsafeMutableRawPointer
        var length: Int
        var memory: BufferMemory
    }

    // Only ever touched inside `state.withLock`, which is what makes it safe to share.
    private struct State: @unchecked Sendable {
        var now: Int64
        var generation = 0  // bumps at each unplug; descriptors of an older generation are dead
        var present = true
        var unpluggedAtNs: Int64? = nil
        var nextFd: CInt = 1000
        var fds: [CInt: Int] = [:]  // fd -> generation
        var blockingFds: Set<CInt> = []  // opened without O_NONBLOCK
        var emptyPolls = 0
        // Device state of the current generation.
        var fourcc: UInt32
        var width: Int
        var height: Int
        var interval: Interval
        var owner: CInt? = nil  // the descriptor that allocated the buffers
        var buffers: [Buffer] = []
        var incoming: [Int] = []  // queued, FIFO
        var doneQueue: [Int] = []
        var streaming = false
        var queueError = false
        var sequence: UInt32 = 0
        var epoch = -1
        var nextFrameNs: Int64 = 0
        var lastFrameNs: Int64 = 0
        var stallUntilNs: Int64 = 0
        var mappings: [Mapping] = []
        var calls = 0
        var log: [ProducedFrame] = []
        var counters = Counters()
        var busyElsewhere = false
    }

    public let configuration: Configuration
    private let generator: FrameGenerator
    private let state: Mutex<State>

    public init(_ configuration: Configuration = Configuration(), generator: @escaping FrameGenerator = EmulatedV4L2Device.defaultGenerator) {
        precondition(!configuration.formats.isEmpty && configuration.formats.allSatisfy { f in
            (f.stepwise.map { !$0.intervals.isEmpty && $0.stepWidth > 0 && $0.stepHeight > 0 } ?? !f.sizes.isEmpty)
                && f.sizes.allSatisfy { !$0.intervals.isEmpty }
        }, "an emulated device needs at least one format, each with sizes (or a range) and intervals")
        self.configuration = configuration
        self.generator = generator
        let f = configuration.formats[0]
        let start: Int64
        switch configuration.clock {
        case .virtual(let s): start = s
        case .real: start = KernelV4L2Syscalls().monotonicNanoseconds()
        }
        state = Mutex(State(now: start, fourcc: f.fourcc, width: f.defaultSize.width, height: f.defaultSize.height,
                            interval: f.defaultSize.intervals[0]))
    }

    // MARK: Test controls

    /// Every frame produced so far, in order, with its fate.
    public var producedFrames: [ProducedFrame] { state.withLock { $0.log } }
    public var counters: Counters { state.withLock { $0.counters } }
    /// The frames the application dequeued, in order (what a recording must contain).
    public var deliveredFrames: [ProducedFrame] { producedFrames.filter { $0.fate == .delivered } }
    /// (epoch, sequence) of every frame lost because no buffer was queued.
    public var droppedFrames: [ProducedFrame] { producedFrames.filter { $0.fate == .droppedNoBuffer } }
    /// The emulated CLOCK_MONOTONIC now.
    public var nowNs: Int64 { state.withLock { s in currentTime(&s) } }

    /// Another program holds the queue: S_FMT, REQBUFS and STREAMON answer EBUSY.
    public func setBusyElsewhere(_ busy: Bool) { state.withLock { $0.busyElsewhere = busy } }

    /// Unplugs the camera now: open descriptors die (ENODEV), the node disappears.
    public func unplug() { state.withLock { s in unplugLocked(&s) } }

    /// Plugs the camera back: the node reappears as a new device in its default state.
    public func replug() { state.withLock { s in replugLocked(&s) } }

    /// Moves virtual time forward (frames due in between are produced). No effect on `.real`.
    public func advance(byNanoseconds ns: Int64) {
        state.withLock { s in
            guard case .virtual = configuration.clock else { return }
            advanceLocked(&s, to: s.now + ns)
        }
    }

    // MARK: Clock and frame production

    private func currentTime(_ s: inout State) -> Int64 {
        if case .real = configuration.clock {
            let t = KernelV4L2Syscalls().monotonicNanoseconds()
            advanceLocked(&s, to: t)
        }
        return s.now
    }

    private var isVirtual: Bool { if case .virtual = configuration.clock { true } else { false } }

    /// Time advances to `t`: scheduled replugs happen, due frames are produced.
    private func advanceLocked(_ s: inout State, to t: Int64) {
        while s.streaming && s.present && !s.queueError && s.nextFrameNs <= t {
            let frameTime = s.nextFrameNs
            s.now = max(s.now, frameTime)
            s.nextFrameNs += s.interval.nanoseconds
            if frameTime < s.stallUntilNs { continue }  // the camera sends nothing; no sequence used
            produceFrame(&s, at: frameTime)
        }
        s.now = max(s.now, t)
        if !s.present, let at = s.unpluggedAtNs, let after = configuration.replugAfterNs, s.now >= at + after {
            replugLocked(&s)
        }
    }

    private func produceFrame(_ s: inout State, at frameTime: Int64) {
        s.lastFrameNs = frameTime
        let seq = s.sequence
        s.sequence &+= 1
        let isError = configuration.errorSequences.contains(seq)
        let isShort = configuration.shortSequences.contains(seq)
        let stamp = (configuration.timestampStartOfExposure ? frameTime - s.interval.nanoseconds : frameTime) / 1000 * 1000
        var entry = ProducedFrame(sequence: seq, epoch: s.epoch, timestampNs: stamp, fate: .droppedNoBuffer,
                                  flaggedError: isError, short: isShort, pixels: nil)
        if !s.incoming.isEmpty {
            let i = s.incoming.removeFirst()
            let t0 = KernelV4L2Syscalls().monotonicNanoseconds()
            let counts = fill(s.buffers[i].memory, width: s.width, height: s.height, fourcc: s.fourcc, sequence: seq)
            s.counters.productionNanoseconds += KernelV4L2Syscalls().monotonicNanoseconds() - t0
            let full = bytesPerLine(s) * s.height
            s.buffers[i].queued = false
            s.buffers[i].done = true
            s.buffers[i].bytesUsed = isShort ? full / 2 : full
            s.buffers[i].sequence = seq
            s.buffers[i].timestampNs = stamp
            s.buffers[i].flags = isError ? UInt32(V4L2_BUF_FLAG_ERROR) : 0
            s.buffers[i].logIndex = s.log.count
            s.doneQueue.append(i)
            entry.fate = .waiting
            if configuration.recordPixels { entry.pixels = counts }
        }
        s.log.append(entry)
        if let d = configuration.stallsAfterSequence[seq] { s.stallUntilNs = frameTime + d }
        if configuration.queueErrorAfterSequence == seq && s.epoch == 0 {
            s.queueError = true
            for i in s.doneQueue where s.buffers[i].logIndex >= 0 { s.log[s.buffers[i].logIndex].fate = .discarded }
            s.doneQueue = []
        }
        if configuration.unplugAfterSequence == seq && s.epoch == 0 { unplugLocked(&s) }
    }

    private func unplugLocked(_ s: inout State) {
        guard s.present else { return }
        s.present = false
        s.unpluggedAtNs = s.now
        s.generation += 1
        for i in s.doneQueue where s.buffers[i].logIndex >= 0 { s.log[s.buffers[i].logIndex].fate = .discarded }
        // The device is gone: its queue with it. Mapped memory stays valid until munmap.
        s.streaming = false
        s.buffers = []
        s.incoming = []
        s.doneQueue = []
        s.owner = nil
    }

    private func replugLocked(_ s: inout State) {
        guard !s.present else { return }
        s.present = true
        s.unpluggedAtNs = nil
        let f = configuration.formats[0]
        s.fourcc = f.fourcc
        s.width = f.defaultSize.width
        s.height = f.defaultSize.height
        s.interval = f.defaultSize.intervals[0]
    }

    private func bytesPerPixel(_ fourcc: UInt32) -> Int { V4L2PixelFormat(fourcc: fourcc)?.bytesPerPixel ?? 2 }
    private func bytesPerLine(_ s: State) -> Int { s.width * bytesPerPixel(s.fourcc) + configuration.rowPaddingBytes }

    /// Writes frame `sequence` into `memory` in the wire format; returns the counts as delivered.
    private func fill(_ memory: BufferMemory, width: Int, height: Int, fourcc: UInt32, sequence: UInt32) -> [UInt16] {
        var counts = generator(sequence, width, height)
        precondition(counts.count == width * height, "frame generator gave \(counts.count) values, expected \(width)x\(height)")
        let format = V4L2PixelFormat(fourcc: fourcc)
        let bits = format?.significantBits ?? 16
        let mask = UInt16(truncatingIfNeeded: (1 << bits) - 1)
        let bpp = format?.bytesPerPixel ?? 2
        let stride = width * bpp + configuration.rowPaddingBytes
        let base = memory.base
        if mask != 0xFFFF {
            counts.withUnsafeMutableBufferPointer { c in for i in c.indices { c[i] &= mask } }
        }
        counts.withUnsafeBufferPointer { c in
            for y in 0..<height {
                let row = base + y * stride
                let line = UnsafeBufferPointer(rebasing: c[(y * width)..<((y + 1) * width)])
                switch format {
                case .y16, .y12, .y10, nil:
                    // Little-endian wire order is host order on every target trw builds for.
                    row.copyMemory(from: line.baseAddress!, byteCount: 2 * width)
                case .y16BigEndian:
                    for x in 0..<width { row.storeBytes(of: line[x].bigEndian, toByteOffset: 2 * x, as: UInt16.self) }
                case .grey:
                    for x in 0..<width { row.storeBytes(of: UInt8(truncatingIfNeeded: line[x]), toByteOffset: x, as: UInt8.self) }
                case .yuyv:
                    for x in 0..<width {
                        row.storeBytes(of: UInt8(truncatingIfNeeded: line[x]), toByteOffset: 2 * x, as: UInt8.self)
                        row.storeBytes(of: UInt8(x % 2 == 0 ? 0x60 : 0xA0), toByteOffset: 2 * x + 1, as: UInt8.self)
                    }
                }
                if configuration.rowPaddingBytes > 0 {
                    (row + width * bpp).initializeMemory(as: UInt8.self, repeating: 0xEE, count: configuration.rowPaddingBytes)
                }
            }
        }
        return counts
    }

    // MARK: V4L2Syscalls

    /// Injects EINTR on every n-th call; true when this call is interrupted.
    private func interrupted(_ s: inout State) -> Bool {
        s.calls += 1
        let n = configuration.interruptEveryNthCall
        if n > 0 && s.calls % n == 0 {
            s.counters.interruptsInjected += 1
            return true
        }
        return false
    }

    public func open(_ path: String, flags: CInt) -> Result<CInt, Errno> {
        state.withLock { s in
            if interrupted(&s) { return .failure(.interrupted) }
            advanceLocked(&s, to: s.now)
            guard path == configuration.path || path == configuration.metadataNodePath else { return .failure(.noSuchFileOrDirectory) }
            guard s.present else { return .failure(.noSuchFileOrDirectory) }
            guard flags & O_ACCMODE == O_RDWR else { return .failure(.permissionDenied) }
            let fd = s.nextFd
            s.nextFd += 1
            s.fds[fd] = path == configuration.path ? s.generation : -1 - s.generation
            if flags & O_NONBLOCK == 0 { s.blockingFds.insert(fd) }
            s.counters.opens += 1
            s.counters.openDescriptors += 1
            return .success(fd)
        }
    }

    public func close(_ fd: CInt) -> Result<Void, Errno> {
        state.withLock { s in
            guard s.fds.removeValue(forKey: fd) != nil else { return .failure(.badFileDescriptor) }
            s.blockingFds.remove(fd)
            s.counters.closes += 1
            s.counters.openDescriptors -= 1
            if s.owner == fd {
                // Closing the owner releases the queue (vb2_queue_release): streaming stops.
                s.queueError = false
                for i in s.doneQueue where s.buffers[i].logIndex >= 0 { s.log[s.buffers[i].logIndex].fate = .discarded }
                s.streaming = false
                s.buffers = []
                s.incoming = []
                s.doneQueue = []
                s.owner = nil
            }
            return .success(())
        }
    }

    public func mmap(length: Int, protection: CInt, flags: CInt, fd: CInt, offset: Int) -> Result<UnsafeMutableRawPointer, Errno> {
        state.withLock { s in
            if interrupted(&s) { return .failure(.interrupted) }
            guard let gen = s.fds[fd] else { return .failure(.badFileDescriptor) }
            guard gen == s.generation, s.present else { return .failure(.operationNotSupportedByDevice) }
            guard flags & MAP_SHARED != 0 else { return .failure(.invalidArgument) }
            let index = offset >> 16
            guard offset & 0xFFFF == 0, index < s.buffers.count, length > 0, length <= s.buffers[index].memory.length else {
                return .failure(.invalidArgument)
            }
            let m = s.buffers[index].memory
            s.mappings.append(Mapping(address: m.base, length: length, memory: m))
            s.counters.activeMappings += 1
            return .success(m.base)
        }
    }

    public func munmap(_ address: UnsafeMutableRawPointer, length: Int) -> Result<Void, Errno> {
        state.withLock { s in
            guard let i = s.mappings.firstIndex(where: { $0.address == address && $0.length == length }) else {
                return .failure(.invalidArgument)
            }
            s.mappings.remove(at: i)
            s.counters.activeMappings -= 1
            return .success(())
        }
    }

    public func poll(_ descriptor: inout pollfd, timeoutMilliseconds: CInt) -> Result<CInt, Errno> {
        let fd = descriptor.fd
        let events = descriptor.events
        let ioReady = Int16(POLLIN | POLLRDNORM)
        let dead = Int16(POLLERR | POLLHUP)
        var deadline: Int64? = nil
        while true {
            // Returns the revents, or the time to wait until before looking again.
            let step: Result<(Int16?, Int64), Errno> = state.withLock { s in
                if interrupted(&s) { return .failure(.interrupted) }
                s.counters.polls += 1
                guard let gen = s.fds[fd] else { return .failure(.badFileDescriptor) }
                let now = currentTime(&s)
                if deadline == nil {
                    deadline = timeoutMilliseconds < 0 ? Int64.max : now + Int64(timeoutMilliseconds) * 1_000_000
                }
                let deadline = deadline!
                if gen != s.generation || !s.present { return .success((dead, 0)) }
                if !s.streaming || s.owner != fd || s.queueError { return .success((Int16(POLLERR), 0)) }
                if !s.doneQueue.isEmpty { return .success((ioReady & events, 0)) }
                if configuration.spuriousWakeupEveryNthPoll > 0 {
                    s.emptyPolls += 1
                    if s.emptyPolls % configuration.spuriousWakeupEveryNthPoll == 0 { return .success((ioReady & events, 0)) }
                }
                guard isVirtual else {
                    let next = min(deadline, s.nextFrameNs)
                    return .success((now >= deadline ? 0 : nil, next))
                }
                // Virtual: jump to the next frame until one lands in a buffer, the device dies or time is up.
                while s.doneQueue.isEmpty && s.present && !s.queueError && s.now < deadline {
                    let next = s.streaming ? max(s.nextFrameNs, s.now) : deadline
                    advanceLocked(&s, to: min(next, deadline))
                }
                if !s.present || gen != s.generation { return .success((dead, 0)) }
                if s.queueError { return .success((Int16(POLLERR), 0)) }
                return .success((s.doneQueue.isEmpty ? 0 : ioReady & events, 0))
            }
            switch step {
            case .failure(let e): return .failure(e)
            case .success((let revents?, _)):
                descriptor.revents = revents
                if revents == 0, let hook = configuration.onEmptyPoll {
                    hook(state.withLock { $0.now - $0.lastFrameNs })
                }
                return .success(revents == 0 ? 0 : 1)
            case .success((nil, let until)):
                sleep(untilMonotonic: until)
            }
        }
    }

    private func sleep(untilMonotonic t: Int64) {
        let now = KernelV4L2Syscalls().monotonicNanoseconds()
        if t > now { KernelV4L2Syscalls().sleep(nanoseconds: min(t - now, 1_000_000_000)) }
    }

    public func monotonicNanoseconds() -> Int64 { state.withLock { s in currentTime(&s) } }

    public func sleep(nanoseconds: Int64) {
        if isVirtual {
            state.withLock { s in advanceLocked(&s, to: s.now + nanoseconds) }
        } else {
            KernelV4L2Syscalls().sleep(nanoseconds: nanoseconds)
            state.withLock { s in _ = currentTime(&s) }
        }
    }

    public func deviceNodeNames() -> [String] {
        state.withLock { s in
            _ = currentTime(&s)
            guard s.present else { return [] }
            return [configuration.path, configuration.metadataNodePath].compactMap { p in
                p.flatMap { $0.hasPrefix("/dev/") ? String($0.dropFirst(5)) : nil }
            }
        }
    }

    public func ioctl(_ fd: CInt, request: UInt, argument: UnsafeMutableRawPointer) -> Result<CInt, Errno> {
        state.withLock { s in
            if interrupted(&s) { return .failure(.interrupted) }
            guard let gen = s.fds[fd] else { return .failure(.badFileDescriptor) }
            _ = currentTime(&s)
            // An unplugged device answers every ioctl with ENODEV (video_is_registered() fails).
            if gen != s.generation && gen != -1 - s.generation || !s.present { return .failure(.operationNotSupportedByDevice) }
            if gen < 0 { return metadataNodeIoctl(request, argument) }
            return captureIoctl(&s, fd, request, argument).map { 0 }
        }
    }

    // MARK: ioctls

    private func metadataNodeIoctl(_ request: UInt, _ arg: UnsafeMutableRawPointer) -> Result<CInt, Errno> {
        guard request == trw_VIDIOC_QUERYCAP else { return .failure(.inappropriateIOCTLForDevice) }
        let caps = UInt32(V4L2_CAP_META_CAPTURE) | UInt32(V4L2_CAP_STREAMING)
        fillCapability(arg.assumingMemoryBound(to: v4l2_capability.self), deviceCaps: caps)
        return .success(0)
    }

    private func fillCapability(_ c: UnsafeMutablePointer<v4l2_capability>, deviceCaps: UInt32) {
        c.pointee = v4l2_capability()
        copyCString(configuration.driver, into: &c.pointee.driver)
        copyCString(configuration.card, into: &c.pointee.card)
        copyCString(configuration.busInfo, into: &c.pointee.bus_info)
        c.pointee.version = (6 << 16) | (1 << 8)
        c.pointee.device_caps = deviceCaps
        c.pointee.capabilities = deviceCaps | UInt32(V4L2_CAP_DEVICE_CAPS)
    }

    private func format(_ fourcc: UInt32) -> Format? { configuration.formats.first { $0.fourcc == fourcc } }

    private func captureIoctl(_ s: inout State, _ fd: CInt, _ request: UInt, _ arg: UnsafeMutableRawPointer) -> Result<Void, Errno> {
        let capture = V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue
        let othersOwnQueue = s.busyElsewhere || (s.owner != nil && s.owner != fd)
        switch request {
        case trw_VIDIOC_QUERYCAP:
            fillCapability(arg.assumingMemoryBound(to: v4l2_capability.self), deviceCaps: configuration.capabilities)

        case trw_VIDIOC_ENUM_FMT:
            let d = arg.assumingMemoryBound(to: v4l2_fmtdesc.self)
            guard d.pointee.type == capture, Int(d.pointee.index) < configuration.formats.count else { return .failure(.invalidArgument) }
            let f = configuration.formats[Int(d.pointee.index)]
            let index = d.pointee.index
            d.pointee = v4l2_fmtdesc()
            d.pointee.index = index
            d.pointee.type = capture
            d.pointee.pixelformat = f.fourcc
            copyCString(f.description, into: &d.pointee.description)

        case trw_VIDIOC_ENUM_FRAMESIZES:
            let e = arg.assumingMemoryBound(to: v4l2_frmsizeenum.self)
            guard let f = format(e.pointee.pixel_format) else { return .failure(.invalidArgument) }
            if let r = f.stepwise {
                guard e.pointee.index == 0 else { return .failure(.invalidArgument) }
                e.pointee.type = V4L2_FRMSIZE_TYPE_STEPWISE.rawValue
                e.pointee.stepwise = v4l2_frmsize_stepwise(
                    min_width: UInt32(r.minWidth), max_width: UInt32(r.maxWidth), step_width: UInt32(r.stepWidth),
                    min_height: UInt32(r.minHeight), max_height: UInt32(r.maxHeight), step_height: UInt32(r.stepHeight))
                return .success(())
            }
            guard Int(e.pointee.index) < f.sizes.count else { return .failure(.invalidArgument) }
            let size = f.sizes[Int(e.pointee.index)]
            e.pointee.type = V4L2_FRMSIZE_TYPE_DISCRETE.rawValue
            e.pointee.discrete = v4l2_frmsize_discrete(width: UInt32(size.width), height: UInt32(size.height))

        case trw_VIDIOC_ENUM_FRAMEINTERVALS:
            let e = arg.assumingMemoryBound(to: v4l2_frmivalenum.self)
            guard let f = format(e.pointee.pixel_format),
                  let size = f.offered(width: Int(e.pointee.width), height: Int(e.pointee.height)),
                  Int(e.pointee.index) < size.intervals.count else { return .failure(.invalidArgument) }
            let i = size.intervals[Int(e.pointee.index)]
            e.pointee.type = V4L2_FRMIVAL_TYPE_DISCRETE.rawValue
            e.pointee.discrete = v4l2_fract(numerator: i.numerator, denominator: i.denominator)

        case trw_VIDIOC_G_FMT:
            let f = arg.assumingMemoryBound(to: v4l2_format.self)
            guard f.pointee.type == capture else { return .failure(.invalidArgument) }
            writePixFormat(f, s)

        case trw_VIDIOC_S_FMT, trw_VIDIOC_TRY_FMT:
            let f = arg.assumingMemoryBound(to: v4l2_format.self)
            guard f.pointee.type == capture else { return .failure(.invalidArgument) }
            let isSet = request == trw_VIDIOC_S_FMT
            if isSet && (othersOwnQueue || !s.buffers.isEmpty) { return .failure(.resourceBusy) }
            var fmt: Format
            if let found = format(f.pointee.fmt.pix.pixelformat) {
                fmt = found
            } else if configuration.unsupportedFormatReply == .einval {
                return .failure(.invalidArgument)
            } else {
                fmt = configuration.formats[0]
            }
            // Nearest size, as uvcvideo picks it.
            let w = Int(f.pointee.fmt.pix.width), h = Int(f.pointee.fmt.pix.height)
            let size = fmt.nearest(width: w, height: h)
            var t = s
            t.fourcc = fmt.fourcc
            t.width = size.width
            t.height = size.height
            if !size.intervals.contains(t.interval) { t.interval = size.intervals[0] }
            writePixFormat(f, t)
            if isSet {
                s.fourcc = t.fourcc
                s.width = t.width
                s.height = t.height
                s.interval = t.interval
            }

        case trw_VIDIOC_G_PARM, trw_VIDIOC_S_PARM:
            let p = arg.assumingMemoryBound(to: v4l2_streamparm.self)
            guard p.pointee.type == capture else { return .failure(.invalidArgument) }
            if request == trw_VIDIOC_S_PARM {
                guard configuration.frameRateControl else { return .failure(.inappropriateIOCTLForDevice) }
                if othersOwnQueue || s.streaming { return .failure(.resourceBusy) }
                let asked = p.pointee.parm.capture.timeperframe
                let sizes = format(s.fourcc)?.offered(width: s.width, height: s.height)
                let intervals = sizes?.intervals ?? [s.interval]
                if asked.numerator > 0 && asked.denominator > 0 {
                    let want = Double(asked.denominator) / Double(asked.numerator)
                    s.interval = intervals.min { abs($0.fps - want) < abs($1.fps - want) }!
                }
            }
            p.pointee.parm.capture = v4l2_captureparm()
            p.pointee.parm.capture.capability = configuration.frameRateControl ? UInt32(V4L2_CAP_TIMEPERFRAME) : 0
            p.pointee.parm.capture.timeperframe = v4l2_fract(numerator: s.interval.numerator, denominator: s.interval.denominator)
            p.pointee.parm.capture.readbuffers = 0

        case trw_VIDIOC_REQBUFS:
            let r = arg.assumingMemoryBound(to: v4l2_requestbuffers.self)
            guard r.pointee.type == capture, r.pointee.memory == V4L2_MEMORY_MMAP.rawValue else { return .failure(.invalidArgument) }
            if othersOwnQueue || s.streaming { return .failure(.resourceBusy) }
            if r.pointee.count == 0 {
                if s.mappings.contains(where: { m in s.buffers.contains { $0.memory === m.memory } }) { return .failure(.resourceBusy) }
                s.buffers = []
                s.incoming = []
                s.doneQueue = []
                s.owner = nil
                return .success(())
            }
            if s.mappings.contains(where: { m in s.buffers.contains { $0.memory === m.memory } }) { return .failure(.resourceBusy) }
            let count = min(max(Int(r.pointee.count), configuration.minBuffers), configuration.maxBuffers)
            let size = bytesPerLine(s) * s.height
            s.buffers = (0..<count).map { _ in Buffer(memory: BufferMemory(length: size)) }
            s.incoming = []
            s.doneQueue = []
            s.owner = fd
            r.pointee.count = UInt32(count)
            r.pointee.capabilities = UInt32(V4L2_BUF_CAP_SUPPORTS_MMAP)

        case trw_VIDIOC_QUERYBUF, trw_VIDIOC_QBUF:
            let b = arg.assumingMemoryBound(to: v4l2_buffer.self)
            guard b.pointee.type == capture, b.pointee.memory == V4L2_MEMORY_MMAP.rawValue else { return .failure(.invalidArgument) }
            if s.owner != fd && !s.buffers.isEmpty { return .failure(.resourceBusy) }
            let i = Int(b.pointee.index)
            guard i < s.buffers.count else { return .failure(.invalidArgument) }
            if request == trw_VIDIOC_QBUF {
                guard !s.buffers[i].queued && !s.buffers[i].done else { return .failure(.invalidArgument) }
                s.buffers[i].queued = true
                s.incoming.append(i)
            }
            writeBuffer(b, s, i)

        case trw_VIDIOC_DQBUF:
            let b = arg.assumingMemoryBound(to: v4l2_buffer.self)
            guard b.pointee.type == capture, b.pointee.memory == V4L2_MEMORY_MMAP.rawValue else { return .failure(.invalidArgument) }
            if s.owner != fd { return .failure(.resourceBusy) }
            guard s.streaming else { return .failure(.invalidArgument) }
            if s.queueError { return .failure(.ioError) }
            if s.doneQueue.isEmpty && s.blockingFds.contains(fd) && isVirtual {
                // A blocking DQBUF sleeps until a buffer is done (virtual clock: time jumps there).
                while s.doneQueue.isEmpty && s.streaming && s.present && !s.queueError {
                    advanceLocked(&s, to: max(s.nextFrameNs, s.now))
                }
                if !s.present { return .failure(.operationNotSupportedByDevice) }
                if s.queueError { return .failure(.ioError) }
            }
            guard !s.doneQueue.isEmpty else {  // O_NONBLOCK
                s.counters.wouldBlock += 1
                return .failure(.resourceTemporarilyUnavailable)
            }
            let i = s.doneQueue.removeFirst()
            s.buffers[i].done = false
            if s.buffers[i].logIndex >= 0 { s.log[s.buffers[i].logIndex].fate = .delivered }
            s.counters.dequeues += 1
            writeBuffer(b, s, i)
            if isVirtual && configuration.appCostPerFrameNs > 0 {
                advanceLocked(&s, to: s.now + configuration.appCostPerFrameNs)
            }

        case trw_VIDIOC_STREAMON:
            let t = arg.assumingMemoryBound(to: Int32.self)
            guard UInt32(bitPattern: t.pointee) == capture, !s.buffers.isEmpty else { return .failure(.invalidArgument) }
            if s.owner != fd { return .failure(.resourceBusy) }
            if s.streaming { return .success(()) }
            s.streaming = true
            s.sequence = 0
            s.epoch += 1
            s.stallUntilNs = 0
            s.nextFrameNs = s.now + s.interval.nanoseconds
            s.lastFrameNs = s.now
            s.counters.streamOns += 1

        case trw_VIDIOC_STREAMOFF:
            let t = arg.assumingMemoryBound(to: Int32.self)
            guard UInt32(bitPattern: t.pointee) == capture else { return .failure(.invalidArgument) }
            if s.owner != fd && !s.buffers.isEmpty { return .failure(.resourceBusy) }
            if s.streaming { s.counters.streamOffs += 1 }
            s.streaming = false
            s.queueError = false
            for i in s.doneQueue where s.buffers[i].logIndex >= 0 { s.log[s.buffers[i].logIndex].fate = .discarded }
            // STREAMOFF returns every buffer to the application, dequeued.
            for i in s.buffers.indices {
                s.buffers[i].queued = false
                s.buffers[i].done = false
            }
            s.incoming = []
            s.doneQueue = []

        default:
            return .failure(.inappropriateIOCTLForDevice)
        }
        return .success(())
    }

    private func writePixFormat(_ f: UnsafeMutablePointer<v4l2_format>, _ s: State) {
        var pix = v4l2_pix_format()
        pix.width = UInt32(s.width)
        pix.height = UInt32(s.height)
        pix.pixelformat = s.fourcc
        pix.field = V4L2_FIELD_NONE.rawValue
        pix.bytesperline = UInt32(bytesPerLine(s))
        pix.sizeimage = UInt32(bytesPerLine(s) * s.height)
        pix.colorspace = V4L2_COLORSPACE_RAW.rawValue
        f.pointee.fmt.pix = pix
    }

    private func writeBuffer(_ b: UnsafeMutablePointer<v4l2_buffer>, _ s: State, _ i: Int) {
        let buf = s.buffers[i]
        var out = v4l2_buffer()
        out.index = UInt32(i)
        out.type = V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue
        out.memory = V4L2_MEMORY_MMAP.rawValue
        out.length = UInt32(buf.memory.length)
        out.m.offset = UInt32(i << 16)
        out.field = V4L2_FIELD_NONE.rawValue
        out.bytesused = UInt32(buf.bytesUsed)
        out.sequence = buf.sequence
        out.timestamp = timeval(tv_sec: Int(buf.timestampNs / 1_000_000_000), tv_usec: Int(buf.timestampNs % 1_000_000_000 / 1000))
        var flags = buf.flags
        switch configuration.timestampClock {
        case .monotonic: flags |= UInt32(V4L2_BUF_FLAG_TIMESTAMP_MONOTONIC)
        case .unknown: flags |= UInt32(V4L2_BUF_FLAG_TIMESTAMP_UNKNOWN)
        case .copy: flags |= UInt32(V4L2_BUF_FLAG_TIMESTAMP_COPY)
        }
        flags |= UInt32(configuration.timestampStartOfExposure ? V4L2_BUF_FLAG_TSTAMP_SRC_SOE : V4L2_BUF_FLAG_TSTAMP_SRC_EOF)
        if buf.queued { flags |= UInt32(V4L2_BUF_FLAG_QUEUED) }
        if buf.done { flags |= UInt32(V4L2_BUF_FLAG_DONE) }
        if s.mappings.contains(where: { $0.memory === buf.memory }) { flags |= UInt32(V4L2_BUF_FLAG_MAPPED) }
        out.flags = flags
        b.pointee = out
    }
}

private func copyCString<T>(_ text: String, into field: inout T) {
    withUnsafeMutableBytes(of: &field) { raw in
        raw.initializeMemory(as: UInt8.self, repeating: 0)
        let bytes = Array(text.utf8.prefix(raw.count - 1))
        raw.copyBytes(from: bytes)
    }
}
