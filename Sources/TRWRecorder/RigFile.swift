import Foundation
import TOMLKit
import TRWALSA
import TRWCore
import TRWV4L2
import TRWSerial

/// A rig file (TOML): the cell, the protocol, every device and the stop rules
/// of one test bench. Layout: schemas/rig.md; examples in rigs/.
///
/// Device sections are decoded into the drivers' own configuration types, so
/// a rig file and `trw rig check` accept exactly what the drivers accept.
public struct RigFile: Sendable {
    public var path: String
    public var text: String
    public var name: String
    public var cell: CellInfo?
    public var testProtocol: String?
    public var cameras: [V4L2CameraConfig] = []
    public var ae: [ALSACaptureConfig] = []
    public var serial: [SerialInstrumentConfig] = []
    public var stopRules: [StopRule] = []
    public var durationS: Double?

    /// Loads and validates a rig file. Every error names the file, the line and the key.
    public static func load(path: String) throws(RigFileError) -> RigFile {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw RigFileError(file: path, line: nil, key: nil, message: "cannot read the rig file (missing, unreadable or not UTF-8)")
        }
        return try parse(text: text, path: path)
    }

    public static func parse(text: String, path: String) throws(RigFileError) -> RigFile {
        let table: TOMLTable
        do {
            table = try TOMLTable(string: text)
        } catch let e as TOMLParseError {
            throw RigFileError(file: path, line: e.source.begin.line, key: nil, message: "not valid TOML: \(e.description)")
        } catch {
            throw RigFileError(file: path, line: nil, key: nil, message: "not valid TOML: \(error)")
        }
        let locator = KeyLocator(text: text)
        let known: Set<String> = ["rig", "cell", "protocol", "camera", "ae", "serial", "stop"]
        for k in table.keys where !known.contains(k) {
            throw RigFileError(file: path, line: locator.line(section: nil, index: nil, key: k) ?? locator.headerLine(k, index: 0),
                               key: k, message: "unknown section; expected one of: \(known.sorted().joined(separator: ", "))")
        }
        var rig = RigFile(path: path, text: text, name: (path as NSString).lastPathComponent)
        if let r = table["rig"]?.table {
            if let n = r["name"]?.string { rig.name = n }
        }
        if let c = table["cell"]?.table {
            func str(_ k: String) -> String { c[k]?.string ?? "" }
            guard let chem = c["chemistry"]?.string else {
                throw RigFileError(file: path, line: locator.headerLine("cell", index: 0), key: "cell.chemistry", message: "missing; e.g. chemistry = \"NCM\"")
            }
            let cap = c["capacity_ah"]?.double ?? c["capacity_ah"]?.int.map(Double.init)
            guard let cap, cap > 0 else {
                throw RigFileError(file: path, line: locator.line(section: "cell", index: nil, key: "capacity_ah") ?? locator.headerLine("cell", index: 0),
                                   key: "cell.capacity_ah", message: "expected a positive number of ampere-hours")
            }
            rig.cell = CellInfo(chemistry: chem, capacityAh: cap, format: str("format"), maker: str("maker"), serial: str("serial"))
        }
        if let p = table["protocol"]?.table {
            rig.testProtocol = p["description"]?.string
        }
        rig.cameras = try decodeArray(table, "camera", path: path, locator: locator, snakeCase: false)
        rig.ae = try decodeArray(table, "ae", path: path, locator: locator, snakeCase: true)
        rig.serial = try decodeArray(table, "serial", path: path, locator: locator, snakeCase: false)
        if let s = table["stop"]?.table {
            func num(_ k: String) throws(RigFileError) -> Double? {
                guard let v = s[k] else { return nil }
                guard let d = v.double ?? v.int.map(Double.init), d > 0 else {
                    throw RigFileError(file: path, line: locator.line(section: "stop", index: nil, key: k), key: "stop.\(k)",
                                       message: "expected a positive number")
                }
                return d
            }
            rig.durationS = try num("duration_s")
            if let c = try num("max_temperature_c") {
                rig.stopRules.append(.maxTemperature(celsius: c, holdS: try num("max_temperature_hold_s") ?? 0))
            }
            if let v = try num("voltage_below_after_runaway_v") { rig.stopRules.append(.voltageBelowAfterRunaway(volts: v)) }
            for k in s.keys where !["duration_s", "max_temperature_c", "max_temperature_hold_s", "voltage_below_after_runaway_v"].contains(k) {
                throw RigFileError(file: path, line: locator.line(section: "stop", index: nil, key: k), key: "stop.\(k)",
                                   message: "unknown stop rule; expected duration_s, max_temperature_c (+ max_temperature_hold_s), voltage_below_after_runaway_v")
            }
        }
        // Validation through the drivers' own checks.
        for (i, c) in rig.cameras.enumerated() {
            do { try c.validate() } catch {
                throw RigFileError(file: path, line: locator.headerLine("camera", index: i), key: "camera[\(i)]", message: "\(error)")
            }
        }
        for (i, a) in rig.ae.enumerated() {
            do { try a.validate() } catch {
                throw RigFileError(file: path, line: locator.headerLine("ae", index: i), key: "ae[\(i)]", message: "\(error)")
            }
        }
        for (i, sc) in rig.serial.enumerated() {
            do { try sc.validate() } catch {
                throw RigFileError(file: path, line: locator.headerLine("serial", index: i), key: "serial[\(i)]", message: "\(error)")
            }
        }
        try checkSerialRoles(rig.serial, file: path) { locator.headerLine("serial", index: $0) }
        var keys: [String: String] = [:]
        for (k, what) in rig.cameras.map({ ($0.key, "camera") }) + rig.ae.map({ ($0.streamKey, "ae") }) + rig.serial.map({ ($0.stream, "serial") }) {
            if let other = keys[k] {
                throw RigFileError(file: path, line: nil, key: k, message: "stream key '\(k)' is used by both a \(other) and a \(what) section; keys must be unique")
            }
            keys[k] = what
        }
        if rig.cameras.isEmpty && rig.ae.isEmpty && rig.serial.isEmpty {
            throw RigFileError(file: path, line: nil, key: nil, message: "the rig has no devices: add [[camera]], [[ae]] or [[serial]] sections (examples in rigs/)")
        }
        return rig
    }

    static func decodeArray<T: Decodable>(_ table: TOMLTable, _ name: String, path: String, locator: KeyLocator,
                                          snakeCase: Bool) throws(RigFileError) -> [T] {
        guard let v = table[name] else { return [] }
        guard let arr = v.array else {
            throw RigFileError(file: path, line: locator.line(section: nil, index: nil, key: name) ?? locator.headerLine(name, index: 0),
                               key: name, message: "expected [[\(name)]] sections (an array of tables)")
        }
        var out: [T] = []
        for i in 0..<arr.count {
            guard let t = arr[i].table else {
                throw RigFileError(file: path, line: locator.headerLine(name, index: i), key: "\(name)[\(i)]", message: "expected a table")
            }
            let dec = JSONDecoder()
            if snakeCase { dec.keyDecodingStrategy = .custom { path in RigKey(camelFromSnake: path.last!.stringValue) } }
            do {
                out.append(try dec.decode(T.self, from: Data(t.convert(to: .json, options: [.allowUnicodeStrings]).utf8)))
            } catch let e as DecodingError {
                let (keyPath, message) = describe(e)
                let key = keyPath.last.map(snake) ?? ""
                throw RigFileError(file: path, line: locator.line(section: name, index: i, key: key) ?? locator.headerLine(name, index: i),
                                   key: "\(name)[\(i)]" + (keyPath.isEmpty ? "" : "." + keyPath.map(snake).joined(separator: ".")),
                                   message: message)
            } catch {
                throw RigFileError(file: path, line: locator.headerLine(name, index: i), key: "\(name)[\(i)]", message: "\(error)")
            }
        }
        return out
    }

    static func describe(_ e: DecodingError) -> ([String], String) {
        switch e {
        case .keyNotFound(let k, let ctx):
            return (ctx.codingPath.map(\.stringValue) + [k.stringValue], "missing required key")
        case .typeMismatch(let t, let ctx):
            return (ctx.codingPath.map(\.stringValue), "expected \(t), \(ctx.debugDescription)")
        case .valueNotFound(let t, let ctx):
            return (ctx.codingPath.map(\.stringValue), "expected a value of type \(t)")
        case .dataCorrupted(let ctx):
            return (ctx.codingPath.map(\.stringValue), ctx.debugDescription)
        @unknown default:
            return ([], "\(e)")
        }
    }

    static func snake(_ s: String) -> String {
        var out = ""
        for ch in s {
            if ch.isUppercase { out += "_" + ch.lowercased() } else { out.append(ch) }
        }
        return out
    }
}

/// An error in a rig file: "FILE:LINE: KEY: what was expected".
public struct RigFileError: Error, Sendable, Equatable, CustomStringConvertible {
    public var file: String
    public var line: Int?
    public var key: String?
    public var message: String
    public var description: String {
        "\(file)\(line.map { ":\($0)" } ?? ""): \(key.map { "\($0): " } ?? "")\(message)"
    }
}

/// Finds the line of a key in a TOML text (for error messages).
struct KeyLocator {
    let lines: [Substring]
    init(text: String) { lines = text.split(separator: "\n", omittingEmptySubsequences: false) }

    /// Line (1-based) of the `index`-th `[[name]]` or `[name]` header.
    func headerLine(_ name: String, index: Int) -> Int? {
        var n = 0
        for (i, l) in lines.enumerated() {
            let t = l.trimmingCharacters(in: .whitespaces)
            if t == "[[\(name)]]" || t == "[\(name)]" {
                if n == index { return i + 1 }
                n += 1
            }
        }
        return nil
    }

    /// Line of `key = ...` inside the section (or at top level when `section` is nil).
    func line(section: String?, index: Int?, key: String) -> Int? {
        var start = 0
        if let section {
            guard let h = headerLine(section, index: index ?? 0) else { return nil }
            start = h
        }
        for i in start..<lines.count {
            let t = lines[i].trimmingCharacters(in: .whitespaces)
            if i > start, t.hasPrefix("[") && !(section.map { t.hasPrefix("[\($0).") } ?? false) { break }
            if t.hasPrefix(key + " ") || t.hasPrefix(key + "=") { return i + 1 }
        }
        return nil
    }
}

/// snake_case rig keys to the camelCase coding keys of configuration types
/// that use Swift names (acronyms kept: threshold_db_ae -> thresholdDbAE).
struct RigKey: CodingKey {
    var stringValue: String
    var intValue: Int?
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { self.intValue = intValue; stringValue = "\(intValue)" }
    init(camelFromSnake s: String) {
        let acronyms: Set<String> = ["ae", "adc", "hdt", "pdt", "hlt"]
        let parts = s.split(separator: "_").map(String.init)
        var out = parts.first ?? s
        for (i, p) in parts.dropFirst().enumerated() {
            // A trailing acronym after "db" is upper case (thresholdDbAE); others capitalised.
            if acronyms.contains(p) && i > 0 && parts[i] == "db" { out += p.uppercased() } else { out += p.prefix(1).uppercased() + p.dropFirst() }
        }
        stringValue = parts.count > 1 ? out : s
        intValue = nil
    }
}
