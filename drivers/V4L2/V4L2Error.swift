import SystemPackage

/// Why the V4L2 driver could not open, negotiate or capture. The description
/// says what went wrong, with which device, and what to do.
public struct V4L2Error: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: String, Sendable, Equatable {
        /// No device node at the path (ENOENT / ENXIO / ENODEV on open).
        case deviceMissing
        /// Another program holds the device (EBUSY).
        case deviceBusy
        /// The user may not open the device (EACCES / EPERM).
        case permissionDenied
        /// The node is not a V4L2 device (VIDIOC_QUERYCAP failed with ENOTTY).
        case notV4L2
        /// The device cannot capture single-planar video (V4L2_CAP_VIDEO_CAPTURE missing).
        case notCapture
        /// The device has no streaming I/O (V4L2_CAP_STREAMING missing).
        case noStreaming
        /// The requested pixel format or size is not offered, or was not granted.
        case unsupportedFormat
        /// Buffer timestamps are not CLOCK_MONOTONIC and the config does not allow replacing them.
        case timestampClock
        /// The device went away (ENODEV / EIO) while in use.
        case deviceLost
        /// The configuration is unusable as written.
        case invalidConfig
        /// Any other failed call.
        case systemCall
    }

    public var code: Code
    /// The device path ("/dev/video0").
    public var device: String
    /// The human-readable explanation (what, with what, what to do).
    public var message: String
    /// The errno behind it, when a call failed.
    public var errno: Errno?

    public init(_ code: Code, device: String, message: String, errno: Errno? = nil) {
        self.code = code
        self.device = device
        self.message = message
        self.errno = errno
    }

    public var description: String {
        if let errno { return "\(device): \(message) (\(errno))" }
        return "\(device): \(message)"
    }

    /// Maps an errno from `call` on `device` to the error a user can act on.
    static func from(_ e: Errno, call: String, device: String) -> V4L2Error {
        switch e {
        case .noSuchFileOrDirectory, .noSuchAddressOrDevice:
            return V4L2Error(.deviceMissing, device: device,
                             message: "no such device (\(call)); is the camera plugged in? `trw devices` lists the cameras found",
                             errno: e)
        case .operationNotSupportedByDevice, .ioError:  // ENODEV, EIO
            return V4L2Error(.deviceLost, device: device,
                             message: "the device went away during \(call); check the cable and the kernel log (dmesg)",
                             errno: e)
        case .resourceBusy:
            return V4L2Error(.deviceBusy, device: device,
                             message: "device busy during \(call): another program is using the camera; close it (fuser \(device) shows which)",
                             errno: e)
        case .permissionDenied, .notPermitted:
            return V4L2Error(.permissionDenied, device: device,
                             message: "permission denied during \(call); add the user to the 'video' group",
                             errno: e)
        default:
            return V4L2Error(.systemCall, device: device, message: "\(call) failed", errno: e)
        }
    }
}
