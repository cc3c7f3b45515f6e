import CV4L2
import Glibc
import Logging
import Synchronization
import SystemPackage
import TRWCore

/// A V4L2 infrared camera as a recorder source: one `.thermal` stream.
///
/// `init` opens the device, negotiates (QUERYCAP, ENUM_FMT / FRAMESIZES /
/// FRAMEINTERVALS, S_FMT, S_PARM) and maps the buffers, so `streams` shows what
/// the device granted and `warnings` what differs from the config. `run(into:)`
/// streams until `stop()`; it emits `.thermal` frames (pixels converted
/// losslessly to 16-bit counts) and `.gap` events for every loss: sequence jumps
/// (`.frameDrop`), V4L2_BUF_FLAG_ERROR or short buffers (`.deviceError`), frames
/// that stopped arriving (`.timeout`) and unplugs (`.deviceLoss`). After an
/// unplug that the configured reopen attempts do not recover, `run` returns
/// normally: the loss is recorded as a gap and the other sources go on.
public final class V4L2CameraSource: Source {
    public let config: V4L2CameraConfig
    public let name: String
    public let streams: [StreamDescriptor]

    private let sys: V4L2SyscallLayer
    private let logger: Logger
    private let stopRequested = Atomic<Bool>(false)
    private let prepared: Mutex<PreparedCapture?>
    private let warningList: Mutex<[String]>
    private let granted: NegotiatedFormat

    /// Opens and negotiates `config.device` on the real kernel.
    public convenience init(config: V4L2CameraConfig, logger: Logger = Logger(label: "trw.v4l2")) throws(V4L2Error) {
        try self.init(config: config, logger: logger, syscalls: KernelV4L2Syscalls())
    }

    /// Opens and negotiates through `syscalls` (an emulated device in tests and benchmarks).
    @_spi(Testing)
    public init(config: V4L2CameraConfig, logger: Logger = Logger(label: "trw.v4l2"),
                syscalls: any V4L2Syscalls) throws(V4L2Error) {
        try config.validate()
        self.config = config
        self.name = "ir camera \(config.device)"
        self.sys = V4L2SyscallLayer(provider: syscalls)
        var logger = logger
        logger[metadataKey: "device"] = "\(config.device)"
        logger[metadataKey: "stream"] = "\(config.key)"
        self.logger = logger
        let p = try PreparedCapture(config: config, sys: sys)
        let f = p.format
        granted = f
        var props: [String: String] = [
            "v4l2.driver": f.driver,
            "v4l2.card": f.card,
            "v4l2.bus_info": f.busInfo,
            "v4l2.pixel_format": f.pixelFormat.rawValue,
            "v4l2.fourcc": V4L2PixelFormat.fourccText(f.pixelFormat.fourcc),
            "v4l2.significant_bits": String(f.pixelFormat.significantBits),
            "v4l2.asked_size": "\(config.width)x\(config.height)",
            "v4l2.granted_size": "\(f.width)x\(f.height)",
            "v4l2.bytes_per_line": String(f.bytesPerLine),
            "v4l2.size_image": String(f.sizeImage),
            "v4l2.asked_fps": formatRate(config.fps),
            "v4l2.granted_fps": f.grantedFps.map(formatRate) ?? "unknown",
            "v4l2.buffers_asked": String(config.bufferCount),
            "v4l2.buffers_granted": String(p.buffers.mappings.count),
            "v4l2.timestamp_clock": p.monotonicTimestamps ? "monotonic" : "replaced by dequeue time",
            "v4l2.timestamp_source": p.timestampSource,
            "v4l2.stored_as": "UInt16 counts, lossless (\(Self.storedAs(f.pixelFormat)))",
            "v4l2.radiometry": Self.radiometryText(config.radiometry),
        ]
        if !f.warnings.isEmpty { props["v4l2.warnings"] = f.warnings.joined(separator: "; ") }
        streams = [StreamDescriptor(
            key: config.key, kind: .thermal, device: config.device, format: f.pixelFormat.rawValue,
            nominalRateHz: f.grantedFps ?? config.fps, width: f.width, height: f.height,
            calibration: config.radiometry.calibration,
            units: ["pixel": "counts", "temperature": config.radiometry.calibration == nil ? "none" : "K"],
            properties: props)]
        prepared = Mutex(p)
        warningList = Mutex(f.warnings)
        for w in f.warnings { logger.info("negotiation", metadata: ["warning": "\(w)"]) }
    }

    /// What the user should see: asked vs granted rate, replaced timestamps,
    /// stalls, device losses and reopens. Safe from any thread.
    public var warnings: [String] { warningList.withLock { $0 } }

    /// The pixel format, size, stride and rate the device granted.
    public var grantedFormat: V4L2GrantedFormat {
        V4L2GrantedFormat(pixelFormat: granted.pixelFormat, width: granted.width, height: granted.height,
                          bytesPerLine: granted.bytesPerLine, fps: granted.grantedFps)
    }

    public func stop() { stopRequested.store(true, ordering: .releasing) }

    private var isStopping: Bool { stopRequested.load(ordering: .acquiring) }

    private func warn(_ text: String) {
        logger.info("\(text)")
        warningList.withLock { list in
            if list.count < 200 { list.append(text) } else if list.count == 200 { list.append("(further warnings dropped)") }
        }
    }

    private static func storedAs(_ f: V4L2PixelFormat) -> String {
        switch f {
        case .y16: "as delivered"
        case .y16BigEndian: "byte-swapped to host order"
        case .y12, .y10: "the 16-bit container as delivered"
        case .grey: "8-bit widened"
        case .yuyv: "luma only, widened"
        }
    }

    private static func radiometryText(_ r: V4L2Radiometry) -> String {
        switch r {
        case .tLinear10mK: "TLinear 0.01 K/count"
        case .tLinear100mK: "TLinear 0.1 K/count"
        case .linear(let k, let o, let e): "linear \(k) K/count + \(o) K, emissivity \(e)"
        case .none: "none"
        }
    }

    // MARK: - Streaming

    /// Sequence bookkeeping across the whole run (and across reopens).
    private struct Progress {
        /// The V4L2 sequence expected next in this streaming epoch (0 after STREAMON).
        var expected: UInt32 = 0
        /// The recorded sequence the next frame gets if nothing was lost.
        var nextRecorded: Int64 = 0
        /// Device timestamp (ns) of the last frame, for drop gap bounds.
        var lastDeviceNs: Int64?
        /// Host time of the last frame (or of STREAMON), for stall detection.
        var lastArrivalNs: Int64 = 0
        /// Start of a stall in progress (poll timed out).
        var stallStartNs: Int64?
    }

    private enum EpochEnd {
        case stopped
        case lost(Errno, call: String)
    }

    public func run(into sink: any SampleSink) throws {
        let key = config.key
        // A stop() asks the running (or next) run to end; once it has, a later run captures again.
        defer { stopRequested.store(false, ordering: .releasing) }
        var current: PreparedCapture? = prepared.withLock { $0.take() }
        defer {
            if let c = current {
                for e in c.teardown() { logger.info("teardown failed", metadata: ["error": "\(e)"]) }
            }
        }
        if current == nil { current = try reopenChecked() }
        var progress = Progress()
        while let capture = current {
            let end = try streamEpoch(capture, sink: sink, progress: &progress)
            switch end {
            case .stopped:
                return
            case .lost(let errno, let call):
                let lostAt = progress.lastArrivalNs
                for e in capture.teardown() { logger.info("teardown after loss", metadata: ["error": "\(e)"]) }
                current = nil
                warn("\(config.device) went away (\(errno) on \(call)) after sequence \(progress.nextRecorded - 1)")
                var attempts = 0
                var lastError: V4L2Error? = nil
                while attempts < config.reopenAttempts && !isStopping {
                    attempts += 1
                    // Sleep in slices so stop() is honoured within 50 ms.
                    var left = Int64(config.reopenIntervalMs) * 1_000_000
                    while left > 0 && !isStopping {
                        let slice = min(left, 50_000_000)
                        sys.sleep(nanoseconds: slice)
                        left -= slice
                    }
                    if isStopping { break }
                    do {
                        current = try reopenChecked()
                        break
                    } catch {
                        lastError = error
                        logger.info("reopen failed", metadata: ["attempt": "\(attempts)", "error": "\(error)"])
                    }
                }
                let base = "\(errno) on \(call): camera unplugged or failed"
                if current != nil {
                    let now = sys.now()
                    sink.emit(.gap(GapEvent(
                        kind: .deviceLoss, startHostNs: lostAt, endHostNs: now, lostCount: 0,
                        detail: "\(base); reopened after \(attempts) attempt(s); driver sequence restarts at 0, recorded from \(progress.nextRecorded)")),
                        stream: key)
                    warn("\(config.device) reopened after \(attempts) attempt(s)")
                    progress.expected = 0
                    progress.lastDeviceNs = nil
                    progress.stallStartNs = nil
                } else {
                    let why = config.reopenAttempts == 0 ? "no reopen attempts configured"
                        : isStopping ? "stopped while reopening (\(attempts) attempt(s))"
                        : "gave up after \(attempts) reopen attempt(s): \(lastError.map { "\($0)" } ?? "no error")"
                    sink.emit(.gap(GapEvent(kind: .deviceLoss, startHostNs: lostAt, endHostNs: nil, lostCount: 0,
                                            detail: "\(base); \(why); the stream ends here")), stream: key)
                    warn("\(config.device): stream ended, \(why)")
                    return
                }
            }
        }
    }

    /// Opens and negotiates again; refuses a device that now grants another geometry.
    private func reopenChecked() throws(V4L2Error) -> PreparedCapture {
        let p = try PreparedCapture(config: config, sys: sys)
        let f = p.format
        guard f.pixelFormat == granted.pixelFormat, f.width == granted.width, f.height == granted.height,
              f.bytesPerLine == granted.bytesPerLine else {
            let e = V4L2Error(.unsupportedFormat, device: config.device,
                              message: "after reopening, the device grants \(f.geometryText) stride \(f.bytesPerLine), not \(granted.geometryText) stride \(granted.bytesPerLine) as before")
            _ = p.teardown()
            throw e
        }
        if f.grantedFps != granted.grantedFps {
            warn("after reopening, the device grants \(f.grantedFps.map(formatRate) ?? "unknown") Hz, was \(granted.grantedFps.map(formatRate) ?? "unknown") Hz")
        }
        return p
    }

    private static func isLoss(_ e: Errno) -> Bool {
        e == .operationNotSupportedByDevice || e == .ioError || e == .brokenPipe
    }

    /// One STREAMON..STREAMOFF epoch. Returns on stop or device loss; other failures throw.
    private func streamEpoch(_ c: PreparedCapture, sink: any SampleSink, progress: inout Progress) throws -> EpochEnd {
        let key = config.key
        let fd = c.handle.fd
        let f = c.format
        do { try c.streamOn() } catch {
            if Self.isLoss(error) { return .lost(error, call: "VIDIOC_STREAMON") }
            throw V4L2Error.from(error, call: "VIDIOC_STREAMON", device: config.device)
        }
        progress.lastArrivalNs = sys.now()
        let timeoutNs = Int64(config.pollTimeoutMs) * 1_000_000
        let sliceMs = CInt(min(config.pollTimeoutMs, 50))
        let pixelCount = f.width * f.height
        let monotonic = c.monotonicTimestamps

        func endStall(at now: Int64) {
            guard let s = progress.stallStartNs else { return }
            progress.stallStartNs = nil
            let ms = (now - s) / 1_000_000
            sink.emit(.gap(GapEvent(kind: .timeout, startHostNs: s, endHostNs: now, lostCount: 0,
                                    detail: "no frame for \(ms) ms (poll timeout \(config.pollTimeoutMs) ms)")), stream: key)
        }

        while !isStopping {
            let revents: Int16
            do { revents = try sys.poll(fd, events: Int16(POLLIN), timeoutMilliseconds: sliceMs) } catch {
                if Self.isLoss(error) { endStall(at: sys.now()); return .lost(error, call: "poll") }
                throw V4L2Error.from(error, call: "poll", device: config.device)
            }
            if revents == 0 {
                let now = sys.now()
                if progress.stallStartNs == nil && now - progress.lastArrivalNs >= timeoutNs {
                    progress.stallStartNs = progress.lastArrivalNs
                    warn("frames stopped arriving from \(config.device): none for \(config.pollTimeoutMs) ms after sequence \(progress.nextRecorded - 1)")
                }
                continue
            }
            var b = v4l2_buffer()
            b.type = captureType
            b.memory = V4L2_MEMORY_MMAP.rawValue
            do { try sys.ioctl(fd, trw_VIDIOC_DQBUF, &b) } catch {
                if error == .resourceTemporarilyUnavailable { continue }
                if Self.isLoss(error) { endStall(at: sys.now()); return .lost(error, call: "VIDIOC_DQBUF") }
                throw V4L2Error.from(error, call: "VIDIOC_DQBUF", device: config.device)
            }
            let arrival = sys.now()
            let index = Int(b.index)
            precondition(index < c.buffers.mappings.count, "DQBUF returned buffer \(index) of \(c.buffers.mappings.count)")
            endStall(at: arrival)
            progress.lastArrivalNs = arrival

            let deviceNs: Int64
            if monotonic, b.flags & UInt32(V4L2_BUF_FLAG_TIMESTAMP_MASK) == UInt32(V4L2_BUF_FLAG_TIMESTAMP_MONOTONIC) {
                deviceNs = Int64(b.timestamp.tv_sec) * 1_000_000_000 + Int64(b.timestamp.tv_usec) * 1_000
            } else if monotonic {
                throw V4L2Error(.timestampClock, device: config.device,
                                message: "buffer \(b.sequence) is no longer stamped with CLOCK_MONOTONIC (flags 0x\(String(b.flags, radix: 16)))")
            } else {
                deviceNs = arrival
            }

            // Sequence: every jump is a recorded drop.
            let jump = b.sequence &- progress.expected
            let recorded: Int64
            if jump == 0 {
                recorded = progress.nextRecorded
            } else if jump < 0x8000_0000 {
                recorded = progress.nextRecorded + Int64(jump)
                sink.emit(.gap(GapEvent(
                    kind: .frameDrop, startHostNs: progress.lastDeviceNs ?? progress.lastArrivalNs, endHostNs: deviceNs,
                    lostCount: Int64(jump),
                    detail: "sequence jumped from \(progress.expected) to \(b.sequence): \(jump) frame(s) dropped (no buffer queued in time)")),
                    stream: key)
            } else {
                recorded = progress.nextRecorded
                sink.emit(.gap(GapEvent(
                    kind: .deviceError, startHostNs: deviceNs, lostCount: 0,
                    detail: "sequence went back from \(progress.expected &- 1) to \(b.sequence); recorded as \(recorded)")), stream: key)
            }
            progress.expected = b.sequence &+ 1
            progress.nextRecorded = recorded + 1
            progress.lastDeviceNs = deviceNs

            let flaggedError = b.flags & UInt32(V4L2_BUF_FLAG_ERROR) != 0
            let used = Int(b.bytesused)
            if used < f.bytesNeeded {
                sink.emit(.gap(GapEvent(
                    kind: .deviceError, startHostNs: deviceNs, lostCount: 1,
                    detail: "short buffer at sequence \(b.sequence): \(used) of \(f.bytesNeeded) bytes\(flaggedError ? ", flagged V4L2_BUF_FLAG_ERROR" : ""); frame not stored")),
                    stream: key)
            } else {
                let pixels = [UInt16](unsafeUninitializedCapacity: pixelCount) { out, n in
                    c.withBuffer(index, bytesUsed: used) { src in
                        f.pixelFormat.copyOut(from: src, width: f.width, height: f.height, bytesPerLine: f.bytesPerLine, into: out)
                    }
                    n = pixelCount
                }
                if flaggedError {
                    sink.emit(.gap(GapEvent(
                        kind: .deviceError, startHostNs: deviceNs, lostCount: 0,
                        detail: "buffer flagged V4L2_BUF_FLAG_ERROR at sequence \(b.sequence); frame stored, marked erroneous")),
                        stream: key)
                }
                sink.emit(.thermal(ThermalFrame(
                    width: f.width, height: f.height, pixels: pixels, sequence: recorded,
                    deviceTimestampNs: deviceNs, hostArrivalNs: arrival, isErroneous: flaggedError)), stream: key)
            }
            do { try c.queue(b.index) } catch {
                if Self.isLoss(error) { return .lost(error, call: "VIDIOC_QBUF") }
                throw V4L2Error.from(error, call: "VIDIOC_QBUF", device: config.device)
            }
        }
        endStall(at: sys.now())
        return .stopped
    }
}

extension V4L2CameraSource {
    /// The V4L2 capture devices under /dev, with formats, sizes and frame rates
    /// (for `trw devices`). Nodes that cannot capture (UVC metadata nodes, encoders)
    /// and nodes that cannot be opened are left out.
    public static func listCameras() -> [CameraInfo] {
        listCameras(syscalls: KernelV4L2Syscalls())
    }

    /// `listCameras()` through `syscalls` (an emulated device in tests).
    @_spi(Testing)
    public static func listCameras(syscalls: any V4L2Syscalls) -> [CameraInfo] {
        let sys = V4L2SyscallLayer(provider: syscalls)
        let names = syscalls.deviceNodeNames().sorted { a, b in
            let na = Int(a.dropFirst(5)) ?? Int.max, nb = Int(b.dropFirst(5)) ?? Int.max
            return na != nb ? na < nb : a < b
        }
        var out: [CameraInfo] = []
        for n in names {
            let path = "/dev/\(n)"
            guard let h = try? V4L2DeviceHandle(path: path, sys: sys) else { continue }
            defer { _ = try? h.close() }
            guard let caps = try? h.queryCapabilities(), caps.canCapture,
                  let formats = try? h.enumerateFormats() else { continue }
            out.append(CameraInfo(device: path, driver: caps.driver, card: caps.card, busInfo: caps.busInfo, formats: formats))
        }
        return out
    }
}
