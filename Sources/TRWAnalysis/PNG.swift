import CZlib
import Foundation

/// A PNG encoder (8-bit RGB or RGBA, deflate through zlib) for frames, colour maps
/// and overlays: no image library needed.
public enum PNG {
    public enum Error: Swift.Error, CustomStringConvertible {
        case badSize(width: Int, height: Int, bytes: Int, expected: Int)
        case deflate(Int32)
        public var description: String {
            switch self {
            case .badSize(let w, let h, let b, let e): "PNG: \(w)x\(h) image needs \(e) bytes of pixels, got \(b)"
            case .deflate(let c): "PNG: zlib deflate failed (\(c))"
            }
        }
    }

    /// Encodes `pixels` (row-major, 3 bytes per pixel, or 4 with `alpha`).
    public static func encode(width: Int, height: Int, pixels: [UInt8], alpha: Bool = false) throws -> Data {
        let bpp = alpha ? 4 : 3
        guard width > 0, height > 0, pixels.count == width * height * bpp else {
            throw Error.badSize(width: width, height: height, bytes: pixels.count, expected: width * height * bpp)
        }
        // Filter type 0 (none) per row.
        var raw = [UInt8](repeating: 0, count: height * (1 + width * bpp))
        for y in 0..<height {
            let dst = y * (1 + width * bpp) + 1
            raw.replaceSubrange(dst..<(dst + width * bpp), with: pixels[(y * width * bpp)..<((y + 1) * width * bpp)])
        }
        var bound = compressBound(uLong(raw.count))
        var z = [UInt8](repeating: 0, count: Int(bound))
        let rc = compress2(&z, &bound, raw, uLong(raw.count), 6)
        guard rc == Z_OK else { throw Error.deflate(rc) }
        z.removeSubrange(Int(bound)...)
        var out = Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        var ihdr = Data()
        ihdr.appendBE(UInt32(width)); ihdr.appendBE(UInt32(height))
        ihdr.append(contentsOf: [8, alpha ? 6 : 2, 0, 0, 0])
        chunk(&out, "IHDR", ihdr)
        chunk(&out, "IDAT", Data(z))
        chunk(&out, "IEND", Data())
        return out
    }

    static func chunk(_ out: inout Data, _ type: String, _ body: Data) {
        out.appendBE(UInt32(body.count))
        let t = Data(type.utf8)
        out.append(t)
        out.append(body)
        var c = crc32(0, nil, 0)
        t.withUnsafeBytes { c = crc32(c, $0.bindMemory(to: UInt8.self).baseAddress, uInt($0.count)) }
        body.withUnsafeBytes { c = crc32(c, $0.bindMemory(to: UInt8.self).baseAddress, uInt($0.count)) }
        out.appendBE(UInt32(c))
    }
}

extension Data {
    mutating func appendBE(_ v: UInt32) { append(contentsOf: [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)]) }
}

/// Perceptually uniform colour maps for temperatures (inferno, as matplotlib's) and
/// a diverging map for signed quantities.
public enum ColorMap: String, Sendable, CaseIterable {
    case inferno, gray

    /// Anchor colours of matplotlib's inferno at 0, 1/8, ..., 1.
    static let infernoAnchors: [(Double, Double, Double)] = [
        (0.001, 0.000, 0.014), (0.110, 0.047, 0.283), (0.320, 0.060, 0.430), (0.522, 0.133, 0.417),
        (0.716, 0.215, 0.330), (0.878, 0.350, 0.187), (0.973, 0.557, 0.035), (0.978, 0.792, 0.216), (0.988, 0.998, 0.645),
    ]

    /// RGB for x in [0, 1] (clamped).
    public func rgb(_ x: Double) -> (UInt8, UInt8, UInt8) {
        let u = x.isFinite ? Swift.min(1, Swift.max(0, x)) : 0
        switch self {
        case .gray:
            let g = UInt8((u * 255).rounded())
            return (g, g, g)
        case .inferno:
            let p = u * Double(Self.infernoAnchors.count - 1)
            let i = Swift.min(Self.infernoAnchors.count - 2, Int(p))
            let f = p - Double(i)
            let a = Self.infernoAnchors[i], b = Self.infernoAnchors[i + 1]
            func c(_ x: Double, _ y: Double) -> UInt8 { UInt8(((x + (y - x) * f) * 255).rounded()) }
            return (c(a.0, b.0), c(a.1, b.1), c(a.2, b.2))
        }
    }

    /// "#rrggbb" for SVG.
    public func hex(_ x: Double) -> String {
        let (r, g, b) = rgb(x)
        return "#" + [r, g, b].map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
    }
}
