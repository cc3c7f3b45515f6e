import Foundation

/// A float32 tensor read from (or written to) a safetensors file.
public struct Tensor: Sendable, Equatable {
    public var shape: [Int]
    public var values: [Float]
    public init(shape: [Int], values: [Float]) {
        precondition(shape.reduce(1, *) == values.count, "shape \(shape) does not hold \(values.count) values")
        self.shape = shape
        self.values = values
    }
    public var count: Int { values.count }
}

public enum ModelFileError: Error, CustomStringConvertible, Equatable {
    case unreadable(String, String)
    case malformed(String, String)
    case missingTensor(String, String, [Int])
    case badShape(String, String, expected: [Int], found: [Int])
    case badConfig(String, String)

    public var description: String {
        switch self {
        case .unreadable(let p, let why): "\(p): cannot read (\(why)); expected a model directory written by `python -m trw_models train`"
        case .malformed(let p, let why): "\(p): not a safetensors file (\(why))"
        case .missingTensor(let p, let n, let s): "\(p): has no tensor '\(n)' (shape \(s)); was it trained with --model dp-lstm?"
        case .badShape(let p, let n, let e, let f): "\(p): tensor '\(n)' has shape \(f), expected \(e) from config.json"
        case .badConfig(let p, let why): "\(p): \(why)"
        }
    }
}

/// safetensors (https://github.com/huggingface/safetensors): an 8-byte
/// little-endian header length N, N bytes of JSON header
/// `{"name": {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, "__metadata__": {...}}`,
/// then the data buffer (offsets relative to its start). Only F32 is read: trw's
/// models are float32 (models/trw_models/weights.py).
public enum SafeTensors {
    public static func read(path: String) throws -> [String: Tensor] {
        guard let d = FileManager.default.contents(atPath: path) else { throw ModelFileError.unreadable(path, "no such file") }
        return try decode([UInt8](d), path: path)
    }

    public static func decode(_ bytes: [UInt8], path: String = "<memory>") throws -> [String: Tensor] {
        guard bytes.count >= 8 else { throw ModelFileError.malformed(path, "shorter than the 8-byte header length") }
        var n: UInt64 = 0
        for i in 0..<8 { n |= UInt64(bytes[i]) << (8 * UInt64(i)) }
        guard n <= UInt64(bytes.count - 8) else { throw ModelFileError.malformed(path, "header length \(n) exceeds the file") }
        let headerEnd = 8 + Int(n)
        guard let header = try? JSONSerialization.jsonObject(with: Data(bytes[8..<headerEnd])) as? [String: Any] else {
            throw ModelFileError.malformed(path, "header is not a JSON object")
        }
        let dataLen = bytes.count - headerEnd
        var out: [String: Tensor] = [:]
        for (name, v) in header where name != "__metadata__" {
            guard let e = v as? [String: Any], let dtype = e["dtype"] as? String,
                  let shape = (e["shape"] as? [NSNumber])?.map(\.intValue),
                  let off = (e["data_offsets"] as? [NSNumber])?.map(\.intValue), off.count == 2 else {
                throw ModelFileError.malformed(path, "entry '\(name)' lacks dtype, shape or data_offsets")
            }
            guard dtype == "F32" else { throw ModelFileError.malformed(path, "tensor '\(name)' is \(dtype); only F32 is supported") }
            let count = shape.reduce(1, *)
            guard off[0] >= 0, off[1] <= dataLen, off[1] - off[0] == 4 * count else {
                throw ModelFileError.malformed(path, "tensor '\(name)' offsets \(off) do not match shape \(shape) in a \(dataLen)-byte buffer")
            }
            var vals = [Float](repeating: 0, count: count)
            let base = headerEnd + off[0]
            for i in 0..<count {
                let b = base + 4 * i
                let u = UInt32(bytes[b]) | UInt32(bytes[b + 1]) << 8 | UInt32(bytes[b + 2]) << 16 | UInt32(bytes[b + 3]) << 24
                vals[i] = Float(bitPattern: u)
            }
            out[name] = Tensor(shape: shape, values: vals)
        }
        return out
    }

    /// Writes tensors (sorted by name, as the Python writer does), with optional metadata.
    public static func encode(_ tensors: [String: Tensor], metadata: [String: String] = [:]) throws -> [UInt8] {
        var header: [String: Any] = [:]
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var offset = 0
        let names = tensors.keys.sorted()
        for n in names {
            let t = tensors[n]!
            header[n] = ["dtype": "F32", "shape": t.shape, "data_offsets": [offset, offset + 4 * t.count]] as [String: Any]
            offset += 4 * t.count
        }
        var h = [UInt8](try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys]))
        while (8 + h.count) % 8 != 0 { h.append(0x20) }  // pad with spaces to 8-byte alignment, as the spec allows
        var out = [UInt8]()
        out.reserveCapacity(8 + h.count + offset)
        let n = UInt64(h.count)
        for i in 0..<8 { out.append(UInt8((n >> (8 * UInt64(i))) & 0xff)) }
        out += h
        for name in names {
            for v in tensors[name]!.values {
                let u = v.bitPattern
                out += [UInt8(u & 0xff), UInt8((u >> 8) & 0xff), UInt8((u >> 16) & 0xff), UInt8(u >> 24)]
            }
        }
        return out
    }

    public static func write(_ tensors: [String: Tensor], to path: String, metadata: [String: String] = [:]) throws {
        try Data(encode(tensors, metadata: metadata)).write(to: URL(fileURLWithPath: path))
    }
}
