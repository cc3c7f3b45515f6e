import CZlib
import Foundation

/// Reads numpy .npz files (np.savez / np.savez_compressed: a zip of .npy arrays,
/// stored or deflated, zip64 when large) into float arrays. Enough for what trw
/// reads back from the Python side (model explanations, datasets): little-endian
/// float16/32/64, int8/16/32/64, uint8, bool.
public struct NPZFile: Sendable {
    public struct Array: Sendable {
        public var shape: [Int]
        public var descr: String
        public var values: [Double]
        public var count: Int { shape.reduce(1, *) }
    }

    public enum Error: Swift.Error, CustomStringConvertible {
        case notZip(String)
        case unsupported(String, String)
        case missing(String, String, [String])
        public var description: String {
            switch self {
            case .notZip(let p): "\(p): not an .npz (zip) file"
            case .unsupported(let p, let why): "\(p): \(why)"
            case .missing(let p, let k, let have): "\(p): no array '\(k)'; it has \(have.joined(separator: ", "))"
            }
        }
    }

    public let path: String
    public private(set) var arrays: [String: Array] = [:]
    /// Arrays whose dtype this reader does not convert (strings, objects), by name.
    public private(set) var skipped: [String: String] = [:]

    public init(path: String) throws {
        self.path = path
        let d = try Data(contentsOf: URL(fileURLWithPath: path))
        let b = [UInt8](d)
        func u16(_ o: Int) -> Int { Int(b[o]) | Int(b[o + 1]) << 8 }
        func u32(_ o: Int) -> Int { u16(o) | u16(o + 2) << 16 }
        func u64(_ o: Int) -> Int { u32(o) | u32(o + 4) << 32 }
        guard b.count >= 22, let eocd = stride(from: b.count - 22, through: max(0, b.count - 22 - 65_535), by: -1).first(where: { u32($0) == 0x0605_4B50 }) else {
            throw Error.notZip(path)
        }
        var entries = u16(eocd + 10), cdOffset = u32(eocd + 16)
        if eocd >= 20, u32(eocd - 20) == 0x0706_4B50 {  // zip64 end-of-central-directory locator
            let z = u64(eocd - 20 + 8)
            guard u32(z) == 0x0606_4B50 else { throw Error.notZip(path) }
            entries = u64(z + 32); cdOffset = u64(z + 48)
        }
        var p = cdOffset
        for _ in 0..<entries {
            guard p + 46 <= b.count, u32(p) == 0x0201_4B50 else { throw Error.notZip(path) }
            let method = u16(p + 10)
            var csize = u32(p + 20), usize = u32(p + 24)
            let nlen = u16(p + 28), xlen = u16(p + 30), clen = u16(p + 32)
            var local = u32(p + 42)
            let name = String(decoding: b[(p + 46)..<(p + 46 + nlen)], as: UTF8.self)
            // zip64 extra field: the 0xFFFFFFFF fields in order.
            var x = p + 46 + nlen
            while x + 4 <= p + 46 + nlen + xlen {
                let id = u16(x), len = u16(x + 2)
                if id == 1 {
                    var q = x + 4
                    if usize == 0xFFFF_FFFF { usize = u64(q); q += 8 }
                    if csize == 0xFFFF_FFFF { csize = u64(q); q += 8 }
                    if local == 0xFFFF_FFFF { local = u64(q) }
                }
                x += 4 + len
            }
            p += 46 + nlen + xlen + clen
            guard u32(local) == 0x0403_4B50 else { throw Error.notZip(path) }
            let start = local + 30 + u16(local + 26) + u16(local + 28)
            guard start + csize <= b.count else { throw Error.notZip(path) }
            var raw: [UInt8]
            switch method {
            case 0: raw = Swift.Array(b[start..<(start + csize)])
            case 8: raw = try Self.inflate(Swift.Array(b[start..<(start + csize)]), size: usize, path: path)
            default: throw Error.unsupported(path, "zip entry \(name) uses compression method \(method)")
            }
            let key = name.hasSuffix(".npy") ? String(name.dropLast(4)) : name
            do { arrays[key] = try Self.parseNPY(raw, path: path, name: key) } catch Error.unsupported(_, let why) { skipped[key] = why }
        }
    }

    public func array(_ key: String) throws -> Array {
        guard let a = arrays[key] else { throw Error.missing(path, key, Swift.Array(arrays.keys).sorted()) }
        return a
    }

    static func inflate(_ src: [UInt8], size: Int, path: String) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: size)
        var s = z_stream()
        guard inflateInit2_(&s, -15, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else { throw Error.unsupported(path, "zlib init failed") }
        defer { inflateEnd(&s) }
        var src = src
        let rc = src.withUnsafeMutableBufferPointer { sp in
            out.withUnsafeMutableBufferPointer { op -> Int32 in
                s.next_in = sp.baseAddress; s.avail_in = uInt(sp.count)
                s.next_out = op.baseAddress; s.avail_out = uInt(op.count)
                return CZlib.inflate(&s, Z_FINISH)
            }
        }
        guard rc == Z_STREAM_END else { throw Error.unsupported(path, "corrupt deflate stream (zlib \(rc))") }
        return out
    }

    static func parseNPY(_ b: [UInt8], path: String, name: String) throws -> Array {
        guard b.count >= 10, b[0] == 0x93, String(decoding: b[1..<6], as: UTF8.self) == "NUMPY" else {
            throw Error.unsupported(path, "\(name) is not a .npy array")
        }
        let major = b[6]
        let hlen = major == 1 ? Int(b[8]) | Int(b[9]) << 8 : Int(b[8]) | Int(b[9]) << 8 | Int(b[10]) << 16 | Int(b[11]) << 24
        let hstart = major == 1 ? 10 : 12
        let header = String(decoding: b[hstart..<(hstart + hlen)], as: UTF8.self)
        func field(_ k: String) -> String? {
            guard let r = header.range(of: "'\(k)':") else { return nil }
            return String(header[r.upperBound...]).trimmingCharacters(in: .whitespaces)
        }
        guard let d = field("descr"), let q1 = d.firstIndex(of: "'"), let q2 = d[d.index(after: q1)...].firstIndex(of: "'") else {
            throw Error.unsupported(path, "\(name): unreadable .npy header")
        }
        let descr = String(d[d.index(after: q1)..<q2])
        if field("fortran_order")?.hasPrefix("True") == true { throw Error.unsupported(path, "\(name): Fortran order") }
        guard let sh = field("shape"), let o = sh.firstIndex(of: "("), let c = sh.firstIndex(of: ")") else {
            throw Error.unsupported(path, "\(name): no shape")
        }
        let shape = sh[sh.index(after: o)..<c].split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        let n = shape.reduce(1, *)
        let data = Swift.Array(b[(hstart + hlen)...])
        let ok: Set<String> = ["<f2", "<f4", "<f8", "|i1", "<i2", "<i4", "<i8", "|u1", "|b1"]
        guard ok.contains(descr) else { throw Error.unsupported(path, "\(name): dtype \(descr) not read") }
        let size = descr == "<f8" || descr == "<i8" ? 8 : descr == "<f4" || descr == "<i4" ? 4 : descr == "<f2" || descr == "<i2" ? 2 : 1
        guard data.count >= n * size else { throw Error.unsupported(path, "\(name): truncated") }
        var v = [Double](repeating: 0, count: n)
        data.withUnsafeBytes { raw in
            for i in 0..<n {
                let o = i * size
                switch descr {
                case "<f2": v[i] = Double(Float(Float16(bitPattern: raw.loadUnaligned(fromByteOffset: o, as: UInt16.self))))
                case "<f4": v[i] = Double(Float(bitPattern: raw.loadUnaligned(fromByteOffset: o, as: UInt32.self)))
                case "<f8": v[i] = Double(bitPattern: raw.loadUnaligned(fromByteOffset: o, as: UInt64.self))
                case "|i1": v[i] = Double(raw.loadUnaligned(fromByteOffset: o, as: Int8.self))
                case "<i2": v[i] = Double(raw.loadUnaligned(fromByteOffset: o, as: Int16.self))
                case "<i4": v[i] = Double(raw.loadUnaligned(fromByteOffset: o, as: Int32.self))
                case "<i8": v[i] = Double(raw.loadUnaligned(fromByteOffset: o, as: Int64.self))
                default: v[i] = Double(raw[o])
                }
            }
        }
        return Array(shape: shape, descr: descr, values: v)
    }
}
