import CHDF5
import Foundation

/// An HDF5 call that failed: the operation, the object path inside the file and the file.
public struct HDF5Error: Error, CustomStringConvertible, Sendable {
    public var operation: String
    public var object: String
    public var file: String
    public var description: String { "HDF5 \(operation) failed for '\(object)' in \(file)" }
}

/// Element types written by trw. File types are little-endian (`H5T_STD_*LE`, `H5T_IEEE_F*LE`),
/// memory types native.
public enum HDF5Type: Sendable {
    case int8, uint8, int16, uint16, int32, int64, float32, float64

    var memory: hid_t {
        switch self {
        case .int8: trw_h5t_native_int8()
        case .uint8: trw_h5t_native_uint8()
        case .int16: trw_h5t_native_int16()
        case .uint16: trw_h5t_native_uint16()
        case .int32: trw_h5t_native_int32()
        case .int64: trw_h5t_native_int64()
        case .float32: trw_h5t_native_float()
        case .float64: trw_h5t_native_double()
        }
    }

    var file: hid_t {
        switch self {
        case .int8: trw_h5t_std_i8le()
        case .uint8: trw_h5t_std_u8le()
        case .int16: trw_h5t_std_i16le()
        case .uint16: trw_h5t_std_u16le()
        case .int32: trw_h5t_std_i32le()
        case .int64: trw_h5t_std_i64le()
        case .float32: trw_h5t_ieee_f32le()
        case .float64: trw_h5t_ieee_f64le()
        }
    }
}

/// A Swift element type with its HDF5 type.
public protocol HDF5Element: Sendable { static var hdf5Type: HDF5Type { get } }
extension Int8: HDF5Element { public static var hdf5Type: HDF5Type { .int8 } }
extension UInt8: HDF5Element { public static var hdf5Type: HDF5Type { .uint8 } }
extension Int16: HDF5Element { public static var hdf5Type: HDF5Type { .int16 } }
extension UInt16: HDF5Element { public static var hdf5Type: HDF5Type { .uint16 } }
extension Int32: HDF5Element { public static var hdf5Type: HDF5Type { .int32 } }
extension Int64: HDF5Element { public static var hdf5Type: HDF5Type { .int64 } }
extension Float: HDF5Element { public static var hdf5Type: HDF5Type { .float32 } }
extension Double: HDF5Element { public static var hdf5Type: HDF5Type { .float64 } }

/// One HDF5 identifier and the function that releases it (the single owner of the `hid_t`).
final class HDF5Handle {
    let id: hid_t
    private let close: (hid_t) -> herr_t
    init(_ id: hid_t, _ op: String, _ object: String, _ file: String, close: @escaping (hid_t) -> herr_t) throws(HDF5Error) {
        guard id >= 0 else { throw HDF5Error(operation: op, object: object, file: file) }
        self.id = id
        self.close = close
    }
    deinit { _ = close(id) }
}

@inline(__always)
func check(_ rc: herr_t, _ op: String, _ object: String, _ file: String) throws(HDF5Error) {
    if rc < 0 { throw HDF5Error(operation: op, object: object, file: file) }
}

/// Attributes on a group or dataset: scalars and fixed-length UTF-8 strings (null-padded),
/// which h5py, MATLAB's h5readatt and every other reader take.
public protocol HDF5AttributeHolder {
    var handleID: hid_t { get }
    var objectPath: String { get }
    var fileName: String { get }
}

extension HDF5AttributeHolder {
    public func setAttribute(_ name: String, _ value: String) throws(HDF5Error) {
        let bytes = Array(value.utf8)
        let type = try fixedString(max(1, bytes.count), fileName)
        let space = try HDF5Handle(H5Screate(H5S_SCALAR), "H5Screate", objectPath, fileName, close: H5Sclose)
        let attr = try HDF5Handle(H5Acreate2(handleID, name, type.id, space.id, trw_h5_default(), trw_h5_default()),
                                  "H5Acreate \(name)", objectPath, fileName, close: H5Aclose)
        var buf = bytes.isEmpty ? [UInt8](repeating: 0, count: 1) : bytes
        let rc = buf.withUnsafeMutableBytes { H5Awrite(attr.id, type.id, $0.baseAddress) }
        try check(rc, "H5Awrite \(name)", objectPath, fileName)
    }

    public func setAttribute<T: HDF5Element>(_ name: String, _ value: T) throws(HDF5Error) {
        try setAttribute(name, [value])
    }

    /// A 1-D attribute (a scalar when `values` has one element).
    public func setAttribute<T: HDF5Element>(_ name: String, _ values: [T]) throws(HDF5Error) {
        let space: HDF5Handle
        if values.count == 1 {
            space = try HDF5Handle(H5Screate(H5S_SCALAR), "H5Screate", objectPath, fileName, close: H5Sclose)
        } else {
            var dims = [hsize_t(values.count)]
            space = try HDF5Handle(H5Screate_simple(1, &dims, nil), "H5Screate_simple", objectPath, fileName, close: H5Sclose)
        }
        let attr = try HDF5Handle(H5Acreate2(handleID, name, T.hdf5Type.file, space.id, trw_h5_default(), trw_h5_default()),
                                  "H5Acreate \(name)", objectPath, fileName, close: H5Aclose)
        let rc = values.withUnsafeBytes { H5Awrite(attr.id, T.hdf5Type.memory, $0.baseAddress) }
        try check(rc, "H5Awrite \(name)", objectPath, fileName)
    }
}

func fixedString(_ size: Int, _ file: String) throws(HDF5Error) -> HDF5Handle {
    let t = try HDF5Handle(H5Tcopy(trw_h5t_c_s1()), "H5Tcopy", "string type", file, close: H5Tclose)
    try check(H5Tset_size(t.id, size), "H5Tset_size", "string type", file)
    try check(H5Tset_strpad(t.id, H5T_STR_NULLPAD), "H5Tset_strpad", "string type", file)
    try check(H5Tset_cset(t.id, H5T_CSET_UTF8), "H5Tset_cset", "string type", file)
    return t
}

/// An HDF5 file being written. Created exclusively (an existing file is an error, never
/// truncated); closed when the last reference goes (or by `close()`).
public final class HDF5File: HDF5AttributeHolder {
    let handle: HDF5Handle
    public let fileName: String
    public var handleID: hid_t { handle.id }
    public var objectPath: String { "/" }

    public init(creating path: String) throws(HDF5Error) {
        _ = trw_h5e_quiet()
        fileName = path
        handle = try HDF5Handle(H5Fcreate(path, trw_h5f_acc_excl(), trw_h5_default(), trw_h5_default()),
                                "H5Fcreate (the file must not exist)", "/", path, close: H5Fclose)
    }

    /// The root group.
    public var root: HDF5Group { HDF5Group(file: self, handle: nil, path: "/") }

    /// Writes everything to disk (groups and datasets still open stay valid).
    public func flush() throws(HDF5Error) {
        try check(H5Fflush(handle.id, H5F_SCOPE_GLOBAL), "H5Fflush", "/", fileName)
    }
}

/// A group; `handle` nil is the root (the file itself).
public final class HDF5Group: HDF5AttributeHolder {
    let file: HDF5File
    let handle: HDF5Handle?
    public let objectPath: String
    public var fileName: String { file.fileName }
    public var handleID: hid_t { handle?.id ?? file.handle.id }

    init(file: HDF5File, handle: HDF5Handle?, path: String) {
        self.file = file
        self.handle = handle
        self.objectPath = path
    }

    func child(_ name: String) -> String { objectPath == "/" ? "/" + name : objectPath + "/" + name }

    public func group(_ name: String) throws(HDF5Error) -> HDF5Group {
        let h = try HDF5Handle(H5Gcreate2(handleID, name, trw_h5_default(), trw_h5_default(), trw_h5_default()),
                               "H5Gcreate", child(name), fileName, close: H5Gclose)
        return HDF5Group(file: file, handle: h, path: child(name))
    }

    /// A dataset written at once, shape `shape` (row-major, `values.count` = product of
    /// `shape`); chunked and compressed (shuffle + deflate) when `compress` and not empty.
    @discardableResult
    public func write<T: HDF5Element>(_ name: String, _ values: [T], shape: [Int]? = nil,
                                      compress: Bool = true) throws(HDF5Error) -> HDF5Dataset {
        let dims = shape ?? [values.count]
        precondition(dims.reduce(1, *) == values.count, "shape \(dims) does not hold \(values.count) values")
        let d = try HDF5Dataset(parent: self, name: name, type: T.hdf5Type.file, shape: dims, extendible: false,
                                chunk: compress && !values.isEmpty ? Self.chunk(dims) : nil)
        try d.writeAll(values, memoryType: T.hdf5Type.memory)
        return d
    }

    /// Fixed-length UTF-8 strings (null-padded, length of the longest, at least 1).
    @discardableResult
    public func writeStrings(_ name: String, _ values: [String]) throws(HDF5Error) -> HDF5Dataset {
        let utf8 = values.map { Array($0.utf8) }
        let size = max(1, utf8.map(\.count).max() ?? 1)
        let type = try fixedString(size, fileName)
        var buf = [UInt8](repeating: 0, count: size * values.count)
        for (i, s) in utf8.enumerated() { buf.replaceSubrange((i * size)..<(i * size + s.count), with: s) }
        let d = try HDF5Dataset(parent: self, name: name, type: type.id, shape: [values.count], extendible: false, chunk: nil)
        try d.writeAllBytes(buf, memoryType: type.id)
        return d
    }

    /// A dataset whose first dimension grows by `append` (maxdims unlimited), chunked
    /// `chunkRows` rows at a time over the trailing shape, shuffle + deflate.
    public func appendable<T: HDF5Element>(_ name: String, of: T.Type, trailing: [Int], chunkRows: Int,
                                           deflateLevel: Int = 4) throws(HDF5Error) -> HDF5AppendableDataset<T> {
        let d = try HDF5Dataset(parent: self, name: name, type: T.hdf5Type.file, shape: [0] + trailing, extendible: true,
                                chunk: [max(1, chunkRows)] + trailing.map { max(1, $0) }, deflateLevel: deflateLevel)
        return HDF5AppendableDataset(dataset: d, trailing: trailing)
    }

    /// About 64 KiB per chunk along the first dimension, whole rows.
    static func chunk(_ dims: [Int]) -> [Int] {
        let row = max(1, dims.dropFirst().reduce(1, *))
        let rows = max(1, min(dims[0], max(1, 16384 / row)))
        return [rows] + dims.dropFirst().map { max(1, $0) }
    }
}

/// A dataset (plain, no compound types: MATLAB's h5read takes it directly).
public final class HDF5Dataset: HDF5AttributeHolder {
    let handle: HDF5Handle
    let parent: HDF5Group
    public let objectPath: String
    public var fileName: String { parent.fileName }
    public var handleID: hid_t { handle.id }
    var shape: [Int]

    init(parent: HDF5Group, name: String, type: hid_t, shape: [Int], extendible: Bool, chunk: [Int]?,
         deflateLevel: Int = 4) throws(HDF5Error) {
        self.parent = parent
        self.shape = shape
        let path = parent.child(name)
        objectPath = path
        let file = parent.fileName
        var dims = shape.map { hsize_t($0) }
        var maxDims = dims
        if extendible { maxDims[0] = trw_h5s_unlimited() }
        let space = try HDF5Handle(H5Screate_simple(Int32(dims.count), &dims, &maxDims), "H5Screate_simple", path, file, close: H5Sclose)
        let plist = try HDF5Handle(H5Pcreate(trw_h5p_dataset_create()), "H5Pcreate", path, file, close: H5Pclose)
        if let chunk {
            var c = chunk.map { hsize_t($0) }
            try check(H5Pset_chunk(plist.id, Int32(c.count), &c), "H5Pset_chunk", path, file)
            try check(H5Pset_shuffle(plist.id), "H5Pset_shuffle", path, file)
            try check(H5Pset_deflate(plist.id, UInt32(deflateLevel)), "H5Pset_deflate", path, file)
        }
        handle = try HDF5Handle(H5Dcreate2(parent.handleID, name, type, space.id, trw_h5_default(), plist.id, trw_h5_default()),
                                "H5Dcreate", path, file, close: H5Dclose)
    }

    func writeAll<T: HDF5Element>(_ values: [T], memoryType: hid_t) throws(HDF5Error) {
        guard !values.isEmpty else { return }
        let rc = values.withUnsafeBytes { H5Dwrite(handle.id, memoryType, trw_h5s_all(), trw_h5s_all(), trw_h5_default(), $0.baseAddress) }
        try check(rc, "H5Dwrite", objectPath, fileName)
    }

    func writeAllBytes(_ bytes: [UInt8], memoryType: hid_t) throws(HDF5Error) {
        guard !bytes.isEmpty else { return }
        let rc = bytes.withUnsafeBytes { H5Dwrite(handle.id, memoryType, trw_h5s_all(), trw_h5s_all(), trw_h5_default(), $0.baseAddress) }
        try check(rc, "H5Dwrite", objectPath, fileName)
    }

    /// Appends rows (`values.count` a multiple of the trailing shape's size) along dimension 0.
    func appendRows<T: HDF5Element>(_ values: [T], rowSize: Int) throws(HDF5Error) {
        guard !values.isEmpty else { return }
        precondition(values.count % rowSize == 0, "\(values.count) values are not whole rows of \(rowSize)")
        let rows = values.count / rowSize
        var newShape = shape
        newShape[0] += rows
        var newDims = newShape.map { hsize_t($0) }
        try check(H5Dset_extent(handle.id, &newDims), "H5Dset_extent", objectPath, fileName)
        let fileSpace = try HDF5Handle(H5Dget_space(handle.id), "H5Dget_space", objectPath, fileName, close: H5Sclose)
        var start = [hsize_t](repeating: 0, count: shape.count)
        start[0] = hsize_t(shape[0])
        var count = shape.map { hsize_t($0) }
        count[0] = hsize_t(rows)
        try check(H5Sselect_hyperslab(fileSpace.id, H5S_SELECT_SET, &start, nil, &count, nil), "H5Sselect_hyperslab", objectPath, fileName)
        let memSpace = try HDF5Handle(H5Screate_simple(Int32(count.count), &count, nil), "H5Screate_simple", objectPath, fileName, close: H5Sclose)
        let rc = values.withUnsafeBytes { H5Dwrite(handle.id, T.hdf5Type.memory, memSpace.id, fileSpace.id, trw_h5_default(), $0.baseAddress) }
        try check(rc, "H5Dwrite", objectPath, fileName)
        shape = newShape
    }
}

/// A dataset grown row by row (frames, PCM).
public final class HDF5AppendableDataset<T: HDF5Element> {
    public let dataset: HDF5Dataset
    let rowSize: Int
    init(dataset: HDF5Dataset, trailing: [Int]) {
        self.dataset = dataset
        rowSize = max(1, trailing.reduce(1, *))
    }
    /// Rows written so far.
    public var rows: Int { dataset.shape[0] }
    public func append(_ values: [T]) throws(HDF5Error) { try dataset.appendRows(values, rowSize: rowSize) }
}

/// The libhdf5 version linked ("1.10.8").
public var hdf5LibraryVersion: String {
    var maj: UInt32 = 0, min: UInt32 = 0, rel: UInt32 = 0
    _ = H5get_libversion(&maj, &min, &rel)
    return "\(maj).\(min).\(rel)"
}
