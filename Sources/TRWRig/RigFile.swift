import Foundation
import TOMLKit
import TRWALSA
import TRWCore
import TRWRecorder
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
    /// `[alarm]`: live detection and what an alarm does, used when the command line gives none.
    public var alarm: RigAlarm?

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
        let known: Set<String> = ["rig", "cell", "protocol", "camera", "ae", "serial", "stop", "alarm"]
        for k in table.keys.sorted() where !known.contains(k) {
            throw RigFileError(file: path, line: locator.line(section: nil, index: nil, key: k) ?? locator.headerLine(k, index: 0),
                               key: k, message: "unknown section"
                                   + (KeySuggestion.nearest(k, in: known).map { "; did you mean [\($0)]?" } ?? "")
                                   + " (expected one of: \(known.sorted().joined(separator: ", ")))")
        }
        for (section, keys) in Self.plainSectionKeys {
            guard let v = table[section] else { continue }
            guard let t = v.table else {
                throw RigFileError(file: path, line: locator.line(section: nil, index: nil, key: section) ?? locator.headerLine(section, index: 0),
                                   key: section, message: "expected a [\(section)] table")
            }
            try rejectUnknownKeys(t, section: section, known: keys, path: path, text: text)
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
            guard let cap, cap.isFinite, cap > 0, cap <= 100_000 else {
                throw RigFileError(file: path, line: locator.line(section: "cell", index: nil, key: "capacity_ah") ?? locator.headerLine("cell", index: 0),
                                   key: "cell.capacity_ah", message: "expected a positive number of ampere-hours up to 100000")
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
            func num(_ k: String, _ range: ClosedRange<Double>, _ unit: String) throws(RigFileError) -> Double? {
                guard let v = s[k] else { return nil }
                guard let d = v.double ?? v.int.map(Double.init), d.isFinite, d > 0, range.contains(d) else {
                    throw RigFileError(file: path, line: locator.line(section: "stop", index: nil, key: k), key: "stop.\(k)",
                                       message: "\(v.debugDescription) is out of range; expected a positive number of \(unit) up to \(String(format: "%g", range.upperBound))")
                }
                return d
            }
            rig.durationS = try num("duration_s", 0...Limits.maxDurationS, "seconds")
            if let c = try num("max_temperature_c", 0...3000, "°C") {
                rig.stopRules.append(.maxTemperature(celsius: c, holdS: try num("max_temperature_hold_s", 0...86_400, "seconds") ?? 0))
            }
            if let v = try num("voltage_below_after_runaway_v", 0...1000, "volts") { rig.stopRules.append(.voltageBelowAfterRunaway(volts: v)) }
        }
        if let a = table["alarm"]?.table {
            func strings(_ k: String) throws(RigFileError) -> [String] {
                guard let v = a[k] else { return [] }
                guard let arr = v.array, (0..<arr.count).allSatisfy({ arr[$0].string != nil }) else {
                    throw RigFileError(file: path, line: locator.line(section: "alarm", index: nil, key: k), key: "alarm.\(k)",
                                       message: "expected an array of strings, e.g. \(k) = [\"vdrop\", \"ae_burst\"]")
                }
                return (0..<arr.count).map { arr[$0].string! }
            }
            var alarm = RigAlarm(detectors: try strings("detect"), actions: try strings("on_alarm"))
            if let v = a["alarm_k"] {
                guard let k = v.int, (1...3600).contains(k) else {
                    throw RigFileError(file: path, line: locator.line(section: "alarm", index: nil, key: "alarm_k"), key: "alarm.alarm_k",
                                       message: "\(v.debugDescription) is out of range; expected a whole number of ticks in 1...3600")
                }
                alarm.alarmK = k
            }
            if alarm.detectors.isEmpty {
                throw RigFileError(file: path, line: locator.headerLine("alarm", index: 0), key: "alarm.detect",
                                   message: "an [alarm] section needs detect = [...] (the live detectors whose alarms act)")
            }
            alarm.line = locator.headerLine("alarm", index: 0)
            rig.alarm = alarm
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
            let log = DecodedKeyLog()
            dec.userInfo[.trwDecodedKeyLog] = log
            do {
                out.append(try dec.decode(KeyTracked<T>.self, from: Data(t.convert(to: .json, options: [.allowUnicodeStrings]).utf8)).value)
                try rejectUnknownKeys(t, section: name, index: i, log: log, path: path, text: locator.text, snakeCase: snakeCase)
            } catch let e as RigFileError {
                throw e
            } catch let e as DecodingError {
                let (keyPath, message) = describe(e)
                let key = keyPath.last.map { snakeCase ? snake($0) : $0 } ?? ""
                throw RigFileError(file: path, line: locator.line(section: name, index: i, key: key) ?? locator.headerLine(name, index: i),
                                   key: "\(name)[\(i)]" + (keyPath.isEmpty ? "" : (keyPath[0].hasPrefix("Index ") ? "" : ".") + dotted(keyPath, snakeCase: snakeCase)),
                                   message: message)
            } catch {
                throw RigFileError(file: path, line: locator.headerLine(name, index: i), key: "\(name)[\(i)]", message: "\(error)")
            }
        }
        return out
    }

    /// Keys of the sections read by hand (the device sections are checked against what their decoders read).
    static let plainSectionKeys: [(String, [String])] = [
        ("rig", ["name"]),
        ("cell", ["chemistry", "capacity_ah", "format", "maker", "serial"]),
        ("protocol", ["description"]),
        ("stop", ["duration_s", "max_temperature_c", "max_temperature_hold_s", "voltage_below_after_runaway_v"]),
        ("alarm", ["detect", "alarm_k", "on_alarm"]),
    ]

    /// The `[alarm]` section as written; the detector names and actions are checked where they
    /// are known (`RecordingSession`), with this file and line in the error.
    public struct RigAlarm: Sendable, Equatable {
        public var detectors: [String]
        public var actions: [String]
        public var alarmK: Int?
        public var line: Int?

        public init(detectors: [String], actions: [String], alarmK: Int? = nil, line: Int? = nil) {
            self.detectors = detectors; self.actions = actions; self.alarmK = alarmK; self.line = line
        }
    }

    /// Bounds on numbers that rig files and the command line share.
    public enum Limits {
        /// Longest recording, s (115 days): beyond it a duration is a typo, and session times stay far from Int64 overflow.
        public static let maxDurationS = 1e7
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

    /// camelCase coding keys back to the rig file's snake_case; a run of capitals is
    /// one acronym (thresholdDbAE -> threshold_db_ae, the inverse of `RigKey`).
    static func snake(_ s: String) -> String {
        var out = ""
        var previousUpper = false
        for ch in s {
            if ch.isUppercase {
                if !previousUpper { out += "_" }
                out += ch.lowercased()
            } else {
                out.append(ch)
            }
            previousUpper = ch.isUppercase
        }
        return out
    }

    /// A decoding error's key path as the rig file spells it: "queries[1].field".
    static func dotted(_ keyPath: [String], snakeCase: Bool) -> String {
        var out = ""
        for k in keyPath {
            if k.hasPrefix("Index "), let i = Int(k.dropFirst(6)) { out += "[\(i)]" } else { out += (out.isEmpty ? "" : ".") + (snakeCase ? snake(k) : k) }
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
    let text: String
    let lines: [Substring]
    init(text: String) {
        self.text = text
        lines = text.split(separator: "\n", omittingEmptySubsequences: false)
    }

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
