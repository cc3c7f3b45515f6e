import CV4L2
import Glibc
import SystemPackage

/// What negotiation settled with the device: the granted values, not the asked ones.
struct NegotiatedFormat: Sendable, Equatable {
    var driver: String
    var card: String
    var busInfo: String
    var offered: [V4L2FormatInfo]
    var pixelFormat: V4L2PixelFormat
    var width: Int
    var height: Int
    var bytesPerLine: Int
    var sizeImage: Int
    var askedFps: Double
    /// nil when the device does not say.
    var grantedFps: Double?
    var warnings: [String]

    /// Bytes a complete frame needs in a buffer.
    var bytesNeeded: Int { bytesPerLine * (height - 1) + width * pixelFormat.bytesPerPixel }
    var geometryText: String { "\(pixelFormat) \(width)x\(height)" }
}

/// QUERYCAP, ENUM_*, S_FMT and S_PARM on an open device, reading back what was granted.
func negotiate(_ h: V4L2DeviceHandle, _ config: V4L2CameraConfig) throws(V4L2Error) -> NegotiatedFormat {
    let caps = try h.queryCapabilities()
    guard caps.canCapture else {
        let extra = caps.isMultiplanarOnly ? " (it is a multi-planar capture device, which trw does not record)" : ""
        throw V4L2Error(.notCapture, device: h.path,
                        message: "\(caps.card) [\(caps.driver)] is not a video capture device\(extra); capabilities 0x\(String(caps.caps, radix: 16)), expected V4L2_CAP_VIDEO_CAPTURE. `trw devices` lists the capture nodes")
    }
    guard caps.canStream else {
        throw V4L2Error(.noStreaming, device: h.path,
                        message: "\(caps.card) [\(caps.driver)] has no streaming I/O (V4L2_CAP_STREAMING), which trw needs for mmap buffers")
    }
    let offered = try h.enumerateFormats()
    let asked = "\(config.pixelFormat) \(config.width)x\(config.height)"
    let offeredText = offered.isEmpty ? "nothing" : offered.map(\.description).joined(separator: "; ")
    guard let format = offered.first(where: { $0.pixelFormat == config.pixelFormat }) else {
        throw V4L2Error(.unsupportedFormat, device: h.path,
                        message: "does not offer \(config.pixelFormat); it offers: \(offeredText)")
    }
    if format.sizeRange == nil, !format.sizes.contains(where: { $0.width == config.width && $0.height == config.height }) {
        throw V4L2Error(.unsupportedFormat, device: h.path,
                        message: "does not offer \(asked); for \(config.pixelFormat) it offers: \(format.description)")
    }

    var f = v4l2_format()
    f.type = captureType
    f.fmt.pix.width = UInt32(config.width)
    f.fmt.pix.height = UInt32(config.height)
    f.fmt.pix.pixelformat = config.pixelFormat.fourcc
    f.fmt.pix.field = V4L2_FIELD_NONE.rawValue
    do { try h.sys.ioctl(h.fd, trw_VIDIOC_S_FMT, &f) } catch {
        if error == .invalidArgument {
            throw V4L2Error(.unsupportedFormat, device: h.path,
                            message: "refused \(asked) (VIDIOC_S_FMT: EINVAL); it offers: \(offeredText)", errno: error)
        }
        throw V4L2Error.from(error, call: "VIDIOC_S_FMT", device: h.path)
    }
    let granted = V4L2PixelFormat(fourcc: f.fmt.pix.pixelformat)
    let gw = Int(f.fmt.pix.width), gh = Int(f.fmt.pix.height)
    guard granted == config.pixelFormat, gw == config.width, gh == config.height else {
        throw V4L2Error(.unsupportedFormat, device: h.path,
                        message: "asked \(asked), the driver granted \(V4L2PixelFormat.fourccText(f.fmt.pix.pixelformat)) \(gw)x\(gh); it offers: \(offeredText)")
    }
    let rowBytes = gw * config.pixelFormat.bytesPerPixel
    let bytesPerLine = max(Int(f.fmt.pix.bytesperline), rowBytes)
    let sizeImage = Int(f.fmt.pix.sizeimage)

    var warnings: [String] = []
    let grantedFps = try negotiateRate(h, config, format: format, warnings: &warnings)
    if !config.pixelFormat.isRadiometricCapable, config.radiometry != .none {
        warnings.append("\(config.pixelFormat) is an 8-bit picture format, not radiometric; the configured radiometry is stored but temperatures from it are not meaningful")
    }
    return NegotiatedFormat(driver: caps.driver, card: caps.card, busInfo: caps.busInfo, offered: offered,
                            pixelFormat: config.pixelFormat, width: gw, height: gh, bytesPerLine: bytesPerLine,
                            sizeImage: sizeImage, askedFps: config.fps, grantedFps: grantedFps, warnings: warnings)
}

/// S_PARM for the frame rate; the granted rate is read back. A difference is a warning, not an error.
private func negotiateRate(_ h: V4L2DeviceHandle, _ config: V4L2CameraConfig, format: V4L2FormatInfo,
                           warnings: inout [String]) throws(V4L2Error) -> Double? {
    var p = v4l2_streamparm()
    p.type = captureType
    var canSet = false
    do {
        try h.sys.ioctl(h.fd, trw_VIDIOC_G_PARM, &p)
        canSet = p.parm.capture.capability & UInt32(V4L2_CAP_TIMEPERFRAME) != 0
    } catch {
        if error != .inappropriateIOCTLForDevice && error != .invalidArgument {
            throw V4L2Error.from(error, call: "VIDIOC_G_PARM", device: h.path)
        }
    }
    var granted: Double? = nil
    if canSet {
        var s = v4l2_streamparm()
        s.type = captureType
        if config.fps == config.fps.rounded() {
            s.parm.capture.timeperframe = v4l2_fract(numerator: 1, denominator: UInt32(config.fps))
        } else {
            s.parm.capture.timeperframe = v4l2_fract(numerator: 1000, denominator: UInt32((config.fps * 1000).rounded()))
        }
        try h.ioctl(trw_VIDIOC_S_PARM, &s, "VIDIOC_S_PARM")
        granted = rate(s.parm.capture.timeperframe)
    } else {
        granted = rate(p.parm.capture.timeperframe)
            ?? format.sizes.first(where: { $0.width == config.width && $0.height == config.height })
            .flatMap { $0.frameRates.count == 1 ? $0.frameRates[0] : nil }
        warnings.append("the device does not let the frame rate be set (no V4L2_CAP_TIMEPERFRAME); it runs at \(granted.map { "\(formatRate($0)) Hz" } ?? "an unreported rate"), asked \(formatRate(config.fps)) Hz")
        return granted
    }
    if let g = granted {
        if abs(g - config.fps) > 1e-3 * config.fps {
            warnings.append("asked \(formatRate(config.fps)) Hz, the device granted \(formatRate(g)) Hz")
        }
    } else {
        warnings.append("the device did not report the frame rate it granted (asked \(formatRate(config.fps)) Hz)")
    }
    return granted
}

/// The mmap'd buffers of one open device: their one owner. Unmapped exactly once,
/// by `release()` or in `deinit`; holds the device handle so the descriptor outlives them.
final class MappedBuffers {
    struct Mapping {
        var address: UnsafeMutableRawPointer
        var length: Int
    }
    let handle: V4L2DeviceHandle
    private(set) var mappings: [Mapping] = []
    /// V4L2_BUF_FLAG_TIMESTAMP_* and TSTAMP_SRC_* bits as QUERYBUF reported them.
    private(set) var timestampFlags: UInt32 = 0
    let requested: Int

    init(handle: V4L2DeviceHandle, count: Int) throws(V4L2Error) {
        self.handle = handle
        self.requested = count
        var req = v4l2_requestbuffers()
        req.count = UInt32(count)
        req.type = captureType
        req.memory = V4L2_MEMORY_MMAP.rawValue
        try handle.ioctl(trw_VIDIOC_REQBUFS, &req, "VIDIOC_REQBUFS")
        guard req.count >= 2 else {
            throw V4L2Error(.systemCall, device: handle.path,
                            message: "the driver granted \(req.count) buffers for \(count) asked; at least 2 are needed to stream")
        }
        for i in 0..<req.count {
            var b = v4l2_buffer()
            b.index = i
            b.type = captureType
            b.memory = V4L2_MEMORY_MMAP.rawValue
            try handle.ioctl(trw_VIDIOC_QUERYBUF, &b, "VIDIOC_QUERYBUF")
            if i == 0 {
                timestampFlags = b.flags & UInt32(V4L2_BUF_FLAG_TIMESTAMP_MASK | V4L2_BUF_FLAG_TSTAMP_SRC_MASK)
            }
            do {
                let p = try handle.sys.mmap(length: Int(b.length), fd: handle.fd, offset: Int(b.m.offset))
                mappings.append(Mapping(address: p, length: Int(b.length)))
            } catch {
                throw V4L2Error.from(error, call: "mmap of buffer \(i)", device: handle.path)
            }
        }
    }

    /// Unmaps every buffer; the first failure is thrown after all were tried.
    func release() throws(V4L2Error) {
        var first: V4L2Error? = nil
        while let m = mappings.popLast() {
            do { try handle.sys.munmap(m.address, length: m.length) } catch {
                if first == nil { first = V4L2Error.from(error, call: "munmap", device: handle.path) }
            }
        }
        if let first { throw first }
    }

    deinit {
        // munmap fails only with EINVAL for a bad range, which the layer lets through; nothing to retry.
        try? release()
    }
}

/// An open, negotiated device with its buffers mapped, ready to stream.
final class PreparedCapture {
    let handle: V4L2DeviceHandle
    let buffers: MappedBuffers
    let format: NegotiatedFormat
    private(set) var streaming = false

    init(config: V4L2CameraConfig, sys: V4L2SyscallLayer) throws(V4L2Error) {
        let h = try V4L2DeviceHandle(path: config.device, sys: sys)
        var f = try negotiate(h, config)
        let b = try MappedBuffers(handle: h, count: config.bufferCount)
        let clock = b.timestampFlags & UInt32(V4L2_BUF_FLAG_TIMESTAMP_MASK)
        if clock != UInt32(V4L2_BUF_FLAG_TIMESTAMP_MONOTONIC) {
            let name = clock == UInt32(V4L2_BUF_FLAG_TIMESTAMP_COPY) ? "copied from the application (TIMESTAMP_COPY)" : "of an unknown clock (TIMESTAMP_UNKNOWN)"
            guard config.allowNonMonotonicTimestamps else {
                throw V4L2Error(.timestampClock, device: config.device,
                                message: "\(f.card) [\(f.driver)] stamps buffers with timestamps \(name), not CLOCK_MONOTONIC, so frames cannot be placed on the session time base; set allow_non_monotonic_timestamps = true to use the dequeue time instead (less precise)")
            }
            f.warnings.append("buffer timestamps are \(name); the dequeue time replaces them")
        }
        if Int(b.mappings.count) != config.bufferCount {
            f.warnings.append("asked \(config.bufferCount) buffers, the driver granted \(b.mappings.count)")
        }
        for m in b.mappings where m.length < f.bytesNeeded {
            throw V4L2Error(.systemCall, device: config.device,
                            message: "buffer of \(m.length) bytes cannot hold a \(f.geometryText) frame (\(f.bytesNeeded) bytes)")
        }
        handle = h
        buffers = b
        format = f
    }

    var monotonicTimestamps: Bool {
        buffers.timestampFlags & UInt32(V4L2_BUF_FLAG_TIMESTAMP_MASK) == UInt32(V4L2_BUF_FLAG_TIMESTAMP_MONOTONIC)
    }
    var timestampSource: String {
        buffers.timestampFlags & UInt32(V4L2_BUF_FLAG_TSTAMP_SRC_MASK) == UInt32(V4L2_BUF_FLAG_TSTAMP_SRC_SOE) ? "SOE" : "EOF"
    }

    func queue(_ index: UInt32) throws(Errno) {
        var b = v4l2_buffer()
        b.index = index
        b.type = captureType
        b.memory = V4L2_MEMORY_MMAP.rawValue
        try handle.sys.ioctl(handle.fd, trw_VIDIOC_QBUF, &b)
    }

    func streamOn() throws(Errno) {
        for i in 0..<buffers.mappings.count { try queue(UInt32(i)) }
        var t = Int32(bitPattern: captureType)
        try handle.sys.ioctl(handle.fd, trw_VIDIOC_STREAMON, &t)
        streaming = true
    }

    /// STREAMOFF (if streaming), munmap, close: every step is tried; failures are returned.
    func teardown() -> [V4L2Error] {
        var errors: [V4L2Error] = []
        if streaming {
            streaming = false
            var t = Int32(bitPattern: captureType)
            do { try handle.sys.ioctl(handle.fd, trw_VIDIOC_STREAMOFF, &t) } catch {
                // After an unplug STREAMOFF fails with ENODEV: the queue is gone already.
                if error != .operationNotSupportedByDevice && error != .ioError {
                    errors.append(V4L2Error.from(error, call: "VIDIOC_STREAMOFF", device: handle.path))
                }
            }
        }
        do { try buffers.release() } catch { errors.append(error) }
        do { try handle.close() } catch { errors.append(error) }
        return errors
    }

    /// Read access to buffer `index`'s bytes.
    func withBuffer<R>(_ index: Int, bytesUsed: Int, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        let m = buffers.mappings[index]
        return body(UnsafeRawBufferPointer(start: m.address, count: min(bytesUsed, m.length)))
    }
}
