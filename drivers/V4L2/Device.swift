import CV4L2
import Glibc
import SystemPackage

/// Reads a fixed-size C char array (a tuple) as a NUL-terminated string.
func cString<T>(_ tuple: T) -> String {
    withUnsafeBytes(of: tuple) { raw in String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self) }
}

let captureType = V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue

/// What VIDIOC_QUERYCAP said.
struct DeviceCapabilities {
    var driver: String
    var card: String
    var busInfo: String
    /// device_caps when V4L2_CAP_DEVICE_CAPS is set, otherwise capabilities.
    var caps: UInt32

    var canCapture: Bool { caps & UInt32(V4L2_CAP_VIDEO_CAPTURE) != 0 }
    var canStream: Bool { caps & UInt32(V4L2_CAP_STREAMING) != 0 }
    var isMultiplanarOnly: Bool { !canCapture && caps & UInt32(V4L2_CAP_VIDEO_CAPTURE_MPLANE) != 0 }
}

/// The one owner of an open V4L2 device node. Closing happens exactly once:
/// explicitly with `close()`, or in `deinit`.
final class V4L2DeviceHandle {
    let path: String
    let fd: CInt
    let sys: V4L2SyscallLayer
    private var isOpen = true

    /// Opens `path` read-write and non-blocking (DQBUF then answers EAGAIN instead of sleeping).
    init(path: String, sys: V4L2SyscallLayer) throws(V4L2Error) {
        self.path = path
        self.sys = sys
        do {
            fd = try sys.open(path, flags: O_RDWR | O_NONBLOCK | O_CLOEXEC)
        } catch {
            if error == .operationNotSupportedByDevice {  // ENODEV on open: nothing behind the node
                throw V4L2Error(.deviceMissing, device: path,
                                message: "no device behind the node (open); is the camera plugged in?", errno: error)
            }
            throw V4L2Error.from(error, call: "open", device: path)
        }
    }

    /// Closes the descriptor; the kernel frees any buffers not mapped.
    func close() throws(V4L2Error) {
        guard isOpen else { return }
        isOpen = false
        do { try sys.close(fd) } catch { throw V4L2Error.from(error, call: "close", device: path) }
    }

    deinit {
        if isOpen {
            // Only EIO is possible here (EBADF is a precondition failure in the layer); the
            // descriptor is released regardless, so there is nothing left to undo.
            _ = try? sys.close(fd)
        }
    }

    func ioctl<T>(_ request: UInt, _ value: inout T, _ name: String) throws(V4L2Error) {
        do { try sys.ioctl(fd, request, &value) } catch { throw V4L2Error.from(error, call: name, device: path) }
    }

    /// ioctl that may legitimately fail with EINVAL (end of an enumeration).
    func ioctlEnumerating<T>(_ request: UInt, _ value: inout T, _ name: String) throws(V4L2Error) -> Bool {
        do {
            try sys.ioctl(fd, request, &value)
            return true
        } catch {
            if error == .invalidArgument { return false }
            throw V4L2Error.from(error, call: name, device: path)
        }
    }

    func queryCapabilities() throws(V4L2Error) -> DeviceCapabilities {
        var cap = v4l2_capability()
        do { try sys.ioctl(fd, trw_VIDIOC_QUERYCAP, &cap) } catch {
            if error == .inappropriateIOCTLForDevice {
                throw V4L2Error(.notV4L2, device: path,
                                message: "not a V4L2 device (VIDIOC_QUERYCAP: ENOTTY); check the path", errno: error)
            }
            throw V4L2Error.from(error, call: "VIDIOC_QUERYCAP", device: path)
        }
        let caps = cap.capabilities & UInt32(V4L2_CAP_DEVICE_CAPS) != 0 ? cap.device_caps : cap.capabilities
        return DeviceCapabilities(driver: cString(cap.driver), card: cString(cap.card), busInfo: cString(cap.bus_info), caps: caps)
    }

    /// Everything the device offers for single-planar capture: formats, sizes, rates.
    func enumerateFormats() throws(V4L2Error) -> [V4L2FormatInfo] {
        var out: [V4L2FormatInfo] = []
        var index: UInt32 = 0
        while true {
            var d = v4l2_fmtdesc()
            d.index = index
            d.type = captureType
            guard try ioctlEnumerating(trw_VIDIOC_ENUM_FMT, &d, "VIDIOC_ENUM_FMT") else { break }
            let (sizes, range) = try enumerateSizes(fourcc: d.pixelformat)
            out.append(V4L2FormatInfo(fourcc: V4L2PixelFormat.fourccText(d.pixelformat), name: cString(d.description),
                                      pixelFormat: V4L2PixelFormat(fourcc: d.pixelformat), sizes: sizes, sizeRange: range))
            index += 1
            if index > 256 { break }  // a driver that never ends its list
        }
        return out
    }

    private func enumerateSizes(fourcc: UInt32) throws(V4L2Error) -> ([V4L2FrameSize], String?) {
        var sizes: [V4L2FrameSize] = []
        var index: UInt32 = 0
        while index < 1024 {
            var s = v4l2_frmsizeenum()
            s.index = index
            s.pixel_format = fourcc
            guard try ioctlEnumerating(trw_VIDIOC_ENUM_FRAMESIZES, &s, "VIDIOC_ENUM_FRAMESIZES") else { break }
            if s.type == V4L2_FRMSIZE_TYPE_DISCRETE.rawValue {
                let w = Int(s.discrete.width), h = Int(s.discrete.height)
                let (rates, range) = try enumerateRates(fourcc: fourcc, width: w, height: h)
                sizes.append(V4L2FrameSize(width: w, height: h, frameRates: rates, frameRateRange: range))
            } else {
                let sw = s.stepwise
                let kind = s.type == V4L2_FRMSIZE_TYPE_CONTINUOUS.rawValue ? "continuous" : "step \(sw.step_width)x\(sw.step_height)"
                return (sizes, "\(sw.min_width)x\(sw.min_height)-\(sw.max_width)x\(sw.max_height) \(kind)")
            }
            index += 1
        }
        return (sizes, nil)
    }

    func enumerateRates(fourcc: UInt32, width: Int, height: Int) throws(V4L2Error) -> ([Double], ClosedRange<Double>?) {
        var rates: [Double] = []
        var index: UInt32 = 0
        while index < 1024 {
            var i = v4l2_frmivalenum()
            i.index = index
            i.pixel_format = fourcc
            i.width = UInt32(width)
            i.height = UInt32(height)
            guard try ioctlEnumerating(trw_VIDIOC_ENUM_FRAMEINTERVALS, &i, "VIDIOC_ENUM_FRAMEINTERVALS") else { break }
            if i.type == V4L2_FRMIVAL_TYPE_DISCRETE.rawValue {
                if let r = rate(i.discrete) { rates.append(r) }
            } else {
                // Slowest rate is the longest interval.
                if let lo = rate(i.stepwise.max), let hi = rate(i.stepwise.min) {
                    return (rates.sorted(by: >), min(lo, hi)...max(lo, hi))
                }
                break
            }
            index += 1
        }
        return (rates.sorted(by: >), nil)
    }
}

/// Frames per second of a time-per-frame fraction.
func rate(_ f: v4l2_fract) -> Double? {
    guard f.numerator > 0, f.denominator > 0 else { return nil }
    return Double(f.denominator) / Double(f.numerator)
}
