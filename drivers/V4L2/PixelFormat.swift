import CV4L2

/// The pixel formats trw records from a V4L2 camera. Each is stored losslessly
/// as 16-bit counts per pixel.
public enum V4L2PixelFormat: String, Sendable, Codable, CaseIterable, CustomStringConvertible {
    /// V4L2_PIX_FMT_Y16: 16-bit little-endian greyscale (radiometric cores: Boson, Lepton via PureThermal).
    case y16 = "Y16"
    /// V4L2_PIX_FMT_Y16_BE: 16-bit big-endian greyscale; stored byte-swapped to host order.
    case y16BigEndian = "Y16_BE"
    /// V4L2_PIX_FMT_Y12: 12 bits in a 16-bit little-endian container, stored as the container.
    case y12 = "Y12"
    /// V4L2_PIX_FMT_Y10: 10 bits in a 16-bit little-endian container, stored as the container.
    case y10 = "Y10"
    /// V4L2_PIX_FMT_GREY: 8-bit greyscale, widened to 16 bits.
    case grey = "GREY"
    /// V4L2_PIX_FMT_YUYV: 4:2:2 YUV; only the luma is kept (non-radiometric cameras).
    case yuyv = "YUYV"

    /// The V4L2 fourcc.
    public var fourcc: UInt32 {
        switch self {
        case .y16: trw_V4L2_PIX_FMT_Y16
        case .y16BigEndian: trw_V4L2_PIX_FMT_Y16_BE
        case .y12: trw_V4L2_PIX_FMT_Y12
        case .y10: trw_V4L2_PIX_FMT_Y10
        case .grey: trw_V4L2_PIX_FMT_GREY
        case .yuyv: trw_V4L2_PIX_FMT_YUYV
        }
    }

    /// The format with this fourcc, if trw records it.
    public init?(fourcc: UInt32) {
        guard let f = Self.allCases.first(where: { $0.fourcc == fourcc }) else { return nil }
        self = f
    }

    /// Bytes one pixel takes in a buffer row.
    public var bytesPerPixel: Int {
        switch self {
        case .y16, .y16BigEndian, .y12, .y10, .yuyv: 2
        case .grey: 1
        }
    }

    /// Significant bits of a stored count.
    public var significantBits: Int {
        switch self {
        case .y16, .y16BigEndian: 16
        case .y12: 12
        case .y10: 10
        case .grey, .yuyv: 8
        }
    }

    /// Whether counts can carry radiometry (TLinear); GREY and YUYV come from
    /// cameras that send an AGC'd picture.
    public var isRadiometricCapable: Bool { significantBits > 8 }

    public var description: String { rawValue }

    /// The fourcc as text ("Y16 ", "YUYV"), with the big-endian bit shown as "-BE".
    public static func fourccText(_ code: UInt32) -> String {
        let be = code & (1 << 31) != 0
        let c = code & ~(1 << 31)
        let chars = (0..<4).map { i -> Character in
            let b = UInt8((c >> (8 * UInt32(i))) & 0xFF)
            return (0x20...0x7E).contains(b) ? Character(Unicode.Scalar(b)) : "?"
        }
        return String(chars).trimmingTrailingSpaces() + (be ? "-BE" : "")
    }

    /// Copies one frame out of a driver buffer into 16-bit counts, row by row
    /// (rows are `bytesPerLine` apart; drivers may pad them).
    /// `source` must hold at least `bytesPerLine * (height - 1) + width * bytesPerPixel` bytes.
    /// SPI so the benchmark can time it alone.
    @_spi(Testing)
    public func copyOut(from source: UnsafeRawBufferPointer, width: Int, height: Int, bytesPerLine: Int,
                 into out: UnsafeMutableBufferPointer<UInt16>) {
        let rowBytes = width * bytesPerPixel
        precondition(bytesPerLine >= rowBytes && out.count >= width * height)
        precondition(source.count >= bytesPerLine * (height - 1) + rowBytes)
        guard let src = source.baseAddress, let dst = out.baseAddress else { return }
        switch self {
        case .y16, .y12, .y10:
            // Little-endian 16-bit containers: host order on every Linux target trw supports.
            if bytesPerLine == rowBytes {
                UnsafeMutableRawPointer(dst).copyMemory(from: src, byteCount: rowBytes * height)
            } else {
                for y in 0..<height {
                    UnsafeMutableRawPointer(dst + y * width).copyMemory(from: src + y * bytesPerLine, byteCount: rowBytes)
                }
            }
        case .y16BigEndian:
            for y in 0..<height {
                let row = src + y * bytesPerLine
                let o = dst + y * width
                for x in 0..<width {
                    o[x] = UInt16(bigEndian: row.loadUnaligned(fromByteOffset: 2 * x, as: UInt16.self))
                }
            }
        case .grey:
            for y in 0..<height {
                let row = (src + y * bytesPerLine).assumingMemoryBound(to: UInt8.self)
                let o = dst + y * width
                for x in 0..<width { o[x] = UInt16(row[x]) }
            }
        case .yuyv:
            // Y0 U0 Y1 V0: luma at every even byte.
            for y in 0..<height {
                let row = (src + y * bytesPerLine).assumingMemoryBound(to: UInt8.self)
                let o = dst + y * width
                for x in 0..<width { o[x] = UInt16(row[2 * x]) }
            }
        }
    }
}

extension String {
    fileprivate func trimmingTrailingSpaces() -> String {
        var s = Substring(self)
        while s.last == " " { s = s.dropLast() }
        return String(s)
    }
}
