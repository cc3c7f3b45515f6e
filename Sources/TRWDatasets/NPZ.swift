import Foundation

/// numpy dtypes trw writes (little-endian, as numpy's `descr`).
public enum NPYDType: Sendable, Equatable {
    case float16, float32, float64, int8, int32, int64, uint8, uint16, bool
    /// Fixed-length unicode, `<U{n}` (UTF-32LE, zero padded).
    case unicode(Int)

    public var descr: String {
        switch self {
        case .float16: "<f2"
        case .float32: "<f4"
        case .float64: "<f8"
        case .int8: "|i1"
        case .int32: "<i4"
        case .int64: "<i8"
        case .uint8: "|u1"
        case .uint16: "<u2"
        case .bool: "|b1"
        case .unicode(let n): "<U\(n)"
        }
    }
    public var itemSize: Int {
        switch self {
        case .float16, .uint16: 2
        case .float32, .int32: 4
        case .float64, .int64: 8
        case .int8, .uint8, .bool: 1
        case .unicode(let n): 4 * n
        }
    }
}

/// Writes one .npy array to a file as rows arrive (the leading dimension is
/// fixed up at `finish`), so exports stream with bounded memory.
/// Format: https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html (version 1.0).
public final class NPYStreamWriter {
    public let path: String
    public let dtype: NPYDType
    public let trailingShape: [Int]
    private let handle: FileHandle
    private var buffer = Data()
    public private(set) var rows = 0
    static let headerLength = 256  // fixed, so the final shape can be written in place

    public init(path: String, dtype: NPYDType, trailingShape: [Int] = []) throws {
        self.path = path
        self.dtype = dtype
        self.trailingShape = trailingShape
        FileManager.default.createFile(atPath: path, contents: nil)
        guard let h = FileHandle(forWritingAtPath: path) else { throw NPZError.cannotWrite(path) }
        handle = h
        try handle.write(contentsOf: Self.header(dtype: dtype, shape: [0] + trailingShape))
    }

    static func header(dtype: NPYDType, shape: [Int]) -> Data {
        let shapeText = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
        var dict = "{'descr': '\(dtype.descr)', 'fortran_order': False, 'shape': \(shapeText), }"
        let total = headerLength
        let pad = total - 10 - dict.utf8.count - 1
        precondition(pad >= 0, "npy header too long")
        dict += String(repeating: " ", count: pad) + "\n"
        var d = Data([0x93]) + Data("NUMPY".utf8) + Data([1, 0])
        let len = UInt16(total - 10)
        d.append(UInt8(len & 0xFF))
        d.append(UInt8(len >> 8))
        d.append(Data(dict.utf8))
        return d
    }

    var rowBytes: Int { trailingShape.reduce(1, *) * dtype.itemSize }

    /// Appends `count` rows given as raw little-endian bytes.
    public func appendRaw(_ bytes: Data, rows count: Int) throws {
        precondition(bytes.count == count * rowBytes, "row size mismatch for \(path)")
        buffer.append(bytes)
        rows += count
        if buffer.count >= 1 << 20 { try flush() }
    }

    public func append(_ v: [Float]) throws {
        precondition(dtype == .float32)
        try appendRaw(v.withUnsafeBufferPointer { Data(buffer: $0) }, rows: v.count / max(1, trailingShape.reduce(1, *)))
    }
    public func append(_ v: [Double]) throws {
        precondition(dtype == .float64)
        try appendRaw(v.withUnsafeBufferPointer { Data(buffer: $0) }, rows: v.count / max(1, trailingShape.reduce(1, *)))
    }
    public func append(_ v: [Int32]) throws {
        precondition(dtype == .int32)
        try appendRaw(v.withUnsafeBufferPointer { Data(buffer: $0) }, rows: v.count / max(1, trailingShape.reduce(1, *)))
    }
    public func append(_ v: [Int8]) throws {
        precondition(dtype == .int8)
        try appendRaw(v.withUnsafeBufferPointer { Data(buffer: $0) }, rows: v.count / max(1, trailingShape.reduce(1, *)))
    }
    public func append(_ v: [Bool]) throws {
        precondition(dtype == .bool)
        try appendRaw(Data(v.map { $0 ? 1 : 0 }), rows: v.count / max(1, trailingShape.reduce(1, *)))
    }
    public func append(_ v: [Float16]) throws {
        precondition(dtype == .float16)
        try appendRaw(v.withUnsafeBufferPointer { Data(buffer: $0) }, rows: v.count / max(1, trailingShape.reduce(1, *)))
    }
    public func append(strings: [String]) throws {
        guard case .unicode(let n) = dtype else { preconditionFailure("not a unicode array") }
        var d = Data()
        for s in strings {
            var scalars = Array(s.unicodeScalars.prefix(n)).map(\.value)
            scalars += [UInt32](repeating: 0, count: n - scalars.count)
            scalars.withUnsafeBufferPointer { d.append(Data(buffer: $0)) }
        }
        try appendRaw(d, rows: strings.count)
    }

    private func flush() throws {
        try handle.write(contentsOf: buffer)
        buffer.removeAll(keepingCapacity: true)
    }

    /// Writes the final shape into the header and closes the file.
    public func finish() throws {
        try flush()
        try handle.seek(toOffset: 0)
        try handle.write(contentsOf: Self.header(dtype: dtype, shape: [rows] + trailingShape))
        try handle.close()
    }
}

public enum NPZError: Error, CustomStringConvertible {
    case cannotWrite(String)
    public var description: String {
        switch self { case .cannotWrite(let p): "cannot write \(p) (folder missing or not writable?)" }
    }
}

/// Writes an .npz: a zip of .npy members, stored (no compression), zip64 when
/// a member or offset passes 4 GiB. Members are copied from their .npy files.
public enum NPZArchive {
    public static func write(members: [(name: String, npyPath: String)], to path: String) throws {
        FileManager.default.createFile(atPath: path, contents: nil)
        guard let out = FileHandle(forWritingAtPath: path) else { throw NPZError.cannotWrite(path) }
        defer { try? out.close() }
        var central = Data()
        var offset: UInt64 = 0
        for m in members {
            let name = Data((m.name.hasSuffix(".npy") ? m.name : m.name + ".npy").utf8)
            guard let input = FileHandle(forReadingAtPath: m.npyPath) else { throw NPZError.cannotWrite(m.npyPath) }
            defer { try? input.close() }
            // First pass: CRC and size.
            var crc = CRC32()
            var size: UInt64 = 0
            while let chunk = try input.read(upToCount: 4 << 20), !chunk.isEmpty {
                crc.update(chunk)
                size += UInt64(chunk.count)
            }
            let zip64 = size >= 0xFFFF_FFFF || offset >= 0xFFFF_FFFF
            var local = Data()
            local.le32(0x0403_4b50); local.le16(zip64 ? 45 : 20); local.le16(0); local.le16(0)  // stored
            local.le16(0); local.le16(0x21)  // time, date (1980-01-01)
            local.le32(crc.value)
            local.le32(zip64 ? 0xFFFF_FFFF : UInt32(size)); local.le32(zip64 ? 0xFFFF_FFFF : UInt32(size))
            local.le16(UInt16(name.count)); local.le16(zip64 ? 20 : 0)
            local.append(name)
            if zip64 { local.le16(1); local.le16(16); local.le64(size); local.le64(size) }
            try out.write(contentsOf: local)
            try input.seek(toOffset: 0)
            while let chunk = try input.read(upToCount: 4 << 20), !chunk.isEmpty { try out.write(contentsOf: chunk) }
            var c = Data()
            c.le32(0x0201_4b50); c.le16(45); c.le16(zip64 ? 45 : 20); c.le16(0); c.le16(0); c.le16(0); c.le16(0x21)
            c.le32(crc.value)
            c.le32(zip64 ? 0xFFFF_FFFF : UInt32(size)); c.le32(zip64 ? 0xFFFF_FFFF : UInt32(size))
            c.le16(UInt16(name.count)); c.le16(zip64 ? 28 : 0); c.le16(0); c.le16(0); c.le16(0); c.le32(0)
            c.le32(zip64 ? 0xFFFF_FFFF : UInt32(offset))
            c.append(name)
            if zip64 { c.le16(1); c.le16(24); c.le64(size); c.le64(size); c.le64(offset) }
            central.append(c)
            offset += UInt64(local.count) + size
        }
        let cdOffset = offset
        try out.write(contentsOf: central)
        let needs64 = cdOffset >= 0xFFFF_FFFF || members.count >= 0xFFFF
        var end = Data()
        if needs64 {
            let z64 = cdOffset + UInt64(central.count)
            end.le32(0x0606_4b50); end.le64(44); end.le16(45); end.le16(45); end.le32(0); end.le32(0)
            end.le64(UInt64(members.count)); end.le64(UInt64(members.count)); end.le64(UInt64(central.count)); end.le64(cdOffset)
            end.le32(0x0706_4b50); end.le32(0); end.le64(z64); end.le32(1)
        }
        end.le32(0x0605_4b50); end.le16(0); end.le16(0)
        end.le16(needs64 ? 0xFFFF : UInt16(members.count)); end.le16(needs64 ? 0xFFFF : UInt16(members.count))
        end.le32(UInt32(central.count)); end.le32(needs64 ? 0xFFFF_FFFF : UInt32(cdOffset)); end.le16(0)
        try out.write(contentsOf: end)
    }
}

/// CRC-32 (IEEE 802.3, as zip uses), table-driven.
public struct CRC32 {
    static let table: [UInt32] = (0..<256).map { i -> UInt32 in
        var c = UInt32(i)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }
    private var crc: UInt32 = 0xFFFF_FFFF
    public init() {}
    public mutating func update(_ d: Data) {
        var c = crc
        Self.table.withUnsafeBufferPointer { t in
            d.withUnsafeBytes { (b: UnsafeRawBufferPointer) in
                for byte in b { c = t[Int((c ^ UInt32(byte)) & 0xFF)] ^ (c >> 8) }
            }
        }
        crc = c
    }
    public var value: UInt32 { crc ^ 0xFFFF_FFFF }
}

extension Data {
    mutating func le16(_ v: UInt16) { append(UInt8(v & 0xFF)); append(UInt8(v >> 8)) }
    mutating func le32(_ v: UInt32) { for i in 0..<4 { append(UInt8((v >> (8 * UInt32(i))) & 0xFF)) } }
    mutating func le64(_ v: UInt64) { for i in 0..<8 { append(UInt8((v >> (8 * UInt64(i))) & 0xFF)) } }
}
