/// A frame size a camera offers for one pixel format, with its frame rates.
public struct V4L2FrameSize: Sendable, Equatable, Codable, CustomStringConvertible {
    public var width: Int
    public var height: Int
    /// Discrete frame rates (V4L2_FRMIVAL_TYPE_DISCRETE), highest first.
    public var frameRates: [Double]
    /// Continuous or stepwise rate range (V4L2_FRMIVAL_TYPE_CONTINUOUS / _STEPWISE).
    public var frameRateRange: ClosedRange<Double>?

    public init(width: Int, height: Int, frameRates: [Double], frameRateRange: ClosedRange<Double>? = nil) {
        self.width = width
        self.height = height
        self.frameRates = frameRates
        self.frameRateRange = frameRateRange
    }

    public var description: String {
        var rates = frameRates.map { formatRate($0) }.joined(separator: "/")
        if let r = frameRateRange { rates += (rates.isEmpty ? "" : ", ") + "\(formatRate(r.lowerBound))-\(formatRate(r.upperBound))" }
        return rates.isEmpty ? "\(width)x\(height)" : "\(width)x\(height) @ \(rates) Hz"
    }
}

/// One pixel format a camera offers (VIDIOC_ENUM_FMT) with its sizes.
public struct V4L2FormatInfo: Sendable, Equatable, Codable, CustomStringConvertible {
    /// The fourcc as text ("Y16", "YUYV", "MJPG", "Y16-BE").
    public var fourcc: String
    /// The driver's description ("16-bit Greyscale").
    public var name: String
    /// The trw format, when trw can record it.
    public var pixelFormat: V4L2PixelFormat?
    /// Discrete sizes (V4L2_FRMSIZE_TYPE_DISCRETE).
    public var sizes: [V4L2FrameSize]
    /// Stepwise or continuous size range, as text ("160x120-1280x960 step 16x8").
    public var sizeRange: String?

    public init(fourcc: String, name: String, pixelFormat: V4L2PixelFormat?, sizes: [V4L2FrameSize], sizeRange: String? = nil) {
        self.fourcc = fourcc
        self.name = name
        self.pixelFormat = pixelFormat
        self.sizes = sizes
        self.sizeRange = sizeRange
    }

    public var description: String {
        var parts = sizes.map(\.description)
        if let sizeRange { parts.append(sizeRange) }
        return "\(fourcc) \(parts.joined(separator: ", "))"
    }
}

/// A V4L2 capture device, for `trw devices`.
public struct CameraInfo: Sendable, Equatable, Codable, CustomStringConvertible {
    /// "/dev/video0"
    public var device: String
    /// v4l2_capability.driver ("uvcvideo")
    public var driver: String
    /// v4l2_capability.card ("PureThermal (fw:v1.3.0)")
    public var card: String
    /// v4l2_capability.bus_info ("usb-0000:00:14.0-2")
    public var busInfo: String
    public var formats: [V4L2FormatInfo]

    public init(device: String, driver: String, card: String, busInfo: String, formats: [V4L2FormatInfo]) {
        self.device = device
        self.driver = driver
        self.card = card
        self.busInfo = busInfo
        self.formats = formats
    }

    public var description: String {
        var lines = ["\(device): \(card) [\(driver), \(busInfo)]"]
        for f in formats {
            lines.append("  \(f)\(f.pixelFormat == nil ? " (not recordable by trw)" : "")")
        }
        return lines.joined(separator: "\n")
    }
}

func formatRate(_ r: Double) -> String {
    if r == r.rounded() { return String(Int(r)) }
    return String((r * 1000).rounded() / 1000)
}

/// What negotiation settled with a device (VIDIOC_S_FMT and VIDIOC_S_PARM read back).
public struct V4L2GrantedFormat: Sendable, Equatable {
    public var pixelFormat: V4L2PixelFormat
    public var width: Int
    public var height: Int
    /// v4l2_pix_format.bytesperline: row stride in the driver's buffers.
    public var bytesPerLine: Int
    /// Granted frame rate; nil when the device does not report it.
    public var fps: Double?

    public init(pixelFormat: V4L2PixelFormat, width: Int, height: Int, bytesPerLine: Int, fps: Double?) {
        self.pixelFormat = pixelFormat
        self.width = width
        self.height = height
        self.bytesPerLine = bytesPerLine
        self.fps = fps
    }
}
