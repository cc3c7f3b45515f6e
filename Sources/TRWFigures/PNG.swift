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
