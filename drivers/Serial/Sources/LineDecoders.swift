import Foundation
import TRWCore

/// What one line became. Every line is exactly one of these, so input can be
/// accounted for: lines = samples + headers + ignored + rejected.
public enum LineOutcome: Sendable, Equatable {
    case sample(BMSSample)
    /// A CSV header (column names), remembered for the following lines.
    case header([String])
    /// A blank or comment line.
    case ignored
    case rejected(Rejection)
}

/// A pure decoder from one line (without terminator) to an outcome.
public protocol BMSLineDecoder: Sendable {
    mutating func decode(line: [UInt8], hostArrivalNs: Nanoseconds) -> LineOutcome
}

/// The line as text, or the reason it is not.
private func text(of line: [UInt8]) -> Result<String, Rejection> {
    guard let s = String(validating: line, as: UTF8.self) else {
        return .failure(Rejection(raw: escapeRaw(line), reason: "not UTF-8 text"))
    }
    if s.unicodeScalars.contains(where: { $0.value < 0x20 && $0 != "\t" }) {
        return .failure(Rejection(raw: escapeRaw(line), reason: "control characters in line"))
    }
    return .success(s)
}

private func isBlank(_ s: String) -> Bool { s.allSatisfy { $0 == " " || $0 == "\t" } }

private func trimmed(_ s: Substring) -> Substring {
    var t = s
    while let f = t.first, f == " " || f == "\t" || f == "\"" { t = t.dropFirst() }
    while let l = t.last, l == " " || l == "\t" || l == "\"" { t = t.dropLast() }
    return t
}

// MARK: - CSV

public struct CSVLineDecoder: BMSLineDecoder {
    public let config: CSVProtocolConfig
    /// Current column names (from the header or `columns`).
    public private(set) var columnNames: [String]
    private let delimiter: Character

    public init(config: CSVProtocolConfig) {
        self.config = config
        self.columnNames = config.columns
        self.delimiter = config.delimiter.first ?? ","
    }

    public mutating func decode(line: [UInt8], hostArrivalNs: Nanoseconds) -> LineOutcome {
        let s: String
        switch text(of: line) {
        case let .success(t): s = t
        case let .failure(r): return .rejected(r)
        }
        if isBlank(s) || (!config.commentPrefix.isEmpty && s.hasPrefix(config.commentPrefix)) { return .ignored }
        let cells = s.split(separator: delimiter, omittingEmptySubsequences: false).map(trimmed)
        let raw = escapeRaw(line)
        if config.header, cells.count >= 2,
           cells.allSatisfy({ !$0.isEmpty && NumberWithUnit($0) == nil && parseTimeOfDay($0) == nil }) {
            let names = cells.map(String.init)
            // "ERR,ERR" from a device is not a header: a header names at least one known field.
            guard names.contains(where: { config.map.spec(for: $0) != nil }) else {
                return .rejected(Rejection(raw: raw, reason: "no numeric cell, and not a header (no column maps to a field)"))
            }
            // Several cell temperature columns may share a name ("cell_temp_c,cell_temp_c"); others may not.
            let repeated = Dictionary(grouping: names, by: { $0 }).filter { $0.value.count > 1 }.keys
            if let name = repeated.sorted().first(where: { n in
                guard let spec = config.map.spec(for: n) else { return true }
                return spec.target != .cellTemperature || spec.channel != nil
            }) {
                return .rejected(Rejection(raw: raw, reason: "header repeats the column name '\(name)'"))
            }
            columnNames = names
            return .header(columnNames)
        }
        if columnNames.isEmpty {
            return .rejected(Rejection(raw: raw, reason: "data line before any header (set `columns` for a headerless device)"))
        }
        if cells.count != columnNames.count {
            return .rejected(Rejection(raw: raw, reason: "\(cells.count) columns, expected \(columnNames.count) (\(columnNames.joined(separator: ",")))"))
        }
        var builder = SampleBuilder()
        let channels = cellTemperatureChannels()
        for (index, (name, cell)) in zip(columnNames, cells).enumerated() {
            if let spec = config.map.spec(for: name) {
                if cell.isEmpty { continue }  // an empty mapped cell is a missing field, checked by `required`
                if let reason = builder.add(text: cell, spec: spec, name: name, autoChannel: channels[index]) {
                    return .rejected(Rejection(raw: raw, reason: reason))
                }
            } else if let n = NumberWithUnit(cell), n.unit.isEmpty {
                _ = builder.add(value: n.value, unit: "", spec: FieldSpec(name), name: name, autoChannel: nil)
            }
        }
        if let reason = builder.missing(config.map.required) { return .rejected(Rejection(raw: raw, reason: reason)) }
        if builder.fieldCount == 0 { return .rejected(Rejection(raw: raw, reason: "no numeric field")) }
        return .sample(builder.sample(hostArrivalNs: hostArrivalNs, raw: raw))
    }
}

extension CSVLineDecoder {
    /// Channel of each cell temperature column without a configured channel: the lowest
    /// channel no other column claims, in column order. Fixed per header, so an empty
    /// cell never shifts the channels after it.
    func cellTemperatureChannels() -> [Int?] {
        let specs = columnNames.map { config.map.spec(for: $0) }
        var taken = Set(specs.compactMap { $0?.target == .cellTemperature ? $0?.channel : nil })
        var next = 1
        return specs.map { spec in
            guard let spec, spec.target == .cellTemperature, spec.channel == nil else { return nil }
            while taken.contains(next) { next += 1 }
            taken.insert(next)
            return next
        }
    }
}

// MARK: - key=value

public struct KeyValueLineDecoder: BMSLineDecoder {
    public let config: KeyValueProtocolConfig
    private let separator: Character

    public init(config: KeyValueProtocolConfig) {
        self.config = config
        self.separator = config.separator.first ?? "="
    }

    public mutating func decode(line: [UInt8], hostArrivalNs: Nanoseconds) -> LineOutcome {
        let s: String
        switch text(of: line) {
        case let .success(t): s = t
        case let .failure(r): return .rejected(r)
        }
        if isBlank(s) { return .ignored }
        let raw = escapeRaw(line)
        var builder = SampleBuilder()
        var seen = Set<Substring>()
        for token in s.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "," || $0 == ";" }) {
            guard let sep = token.firstIndex(of: separator) else {
                return .rejected(Rejection(raw: raw, reason: "'\(token.prefix(40))' is not key\(separator)value"))
            }
            let key = token[..<sep]
            let value = token[token.index(after: sep)...]
            if key.isEmpty { return .rejected(Rejection(raw: raw, reason: "empty key before '\(separator)\(value.prefix(20))'")) }
            if value.isEmpty { return .rejected(Rejection(raw: raw, reason: "\(key): no value")) }
            if !seen.insert(key).inserted { return .rejected(Rejection(raw: raw, reason: "\(key) appears twice")) }
            let name = String(key)
            if let spec = config.map.spec(for: name) {
                if let reason = builder.add(text: value, spec: spec, name: name, autoChannel: nil) {
                    return .rejected(Rejection(raw: raw, reason: reason))
                }
            } else if let n = NumberWithUnit(value), n.unit.isEmpty {
                _ = builder.add(value: n.value, unit: "", spec: FieldSpec(name), name: name, autoChannel: nil)
            }
            // Unknown keys with text values (status=OK) stay in `raw` only.
        }
        if let reason = builder.missing(config.map.required) { return .rejected(Rejection(raw: raw, reason: reason)) }
        if builder.fieldCount == 0 { return .rejected(Rejection(raw: raw, reason: "no numeric field")) }
        return .sample(builder.sample(hostArrivalNs: hostArrivalNs, raw: raw))
    }
}

// MARK: - JSON lines

public struct JSONLineDecoder: BMSLineDecoder {
    public let config: JSONLinesProtocolConfig

    public init(config: JSONLinesProtocolConfig) { self.config = config }

    public mutating func decode(line: [UInt8], hostArrivalNs: Nanoseconds) -> LineOutcome {
        let s: String
        switch text(of: line) {
        case let .success(t): s = t
        case let .failure(r): return .rejected(r)
        }
        if isBlank(s) { return .ignored }
        let raw = escapeRaw(line)
        guard s.first(where: { $0 != " " && $0 != "\t" }) == "{" else {
            return .rejected(Rejection(raw: raw, reason: "not a JSON object"))
        }
        // Bound nesting before handing the text to Foundation (deep nesting is not data).
        var depth = 0, maxDepth = 0
        for b in line where b == UInt8(ascii: "{") || b == UInt8(ascii: "[") || b == UInt8(ascii: "}") || b == UInt8(ascii: "]") {
            depth += (b == UInt8(ascii: "{") || b == UInt8(ascii: "[")) ? 1 : -1
            maxDepth = max(maxDepth, depth)
        }
        if maxDepth > 8 { return .rejected(Rejection(raw: raw, reason: "JSON nested deeper than 8 levels")) }
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: Data(line), options: [])
        } catch {
            return .rejected(Rejection(raw: raw, reason: "invalid JSON"))
        }
        guard let dict = object as? [String: Any] else { return .rejected(Rejection(raw: raw, reason: "not a JSON object")) }
        var builder = SampleBuilder()
        var reason: String?
        func visit(_ name: String, _ value: Any) {
            guard reason == nil else { return }
            if value is NSNull { return }
            if let nested = value as? [String: Any] {
                for (k, v) in nested.sorted(by: { $0.key < $1.key }) { visit(name + "." + k, v) }
                return
            }
            if let array = value as? [Any] {
                if let spec = config.map.spec(for: name), spec.target == .cellTemperature {
                    let base = spec.channel ?? 1
                    for (i, v) in array.enumerated() {
                        var chSpec = spec
                        chSpec.channel = base + i
                        addScalar(name + "." + String(i), v, chSpec)
                    }
                } else {
                    for (i, v) in array.enumerated() { visit(name + "." + String(i), v) }
                }
                return
            }
            if let spec = config.map.spec(for: name) {
                addScalar(name, value, spec)
            } else if let n = value as? NSNumber, !isBool(n) {
                let d = n.doubleValue
                if d.isFinite { _ = builder.add(value: d, unit: "", spec: FieldSpec(name), name: name, autoChannel: nil) }
            }
        }
        func addScalar(_ name: String, _ value: Any, _ spec: FieldSpec) {
            if value is NSNull { return }
            if let n = value as? NSNumber, !isBool(n) {
                reason = builder.add(value: n.doubleValue, unit: "", spec: spec, name: name, autoChannel: nil)
            } else if let str = value as? String {
                reason = builder.add(text: Substring(str), spec: spec, name: name, autoChannel: nil)
            } else {
                reason = "\(name): not a number"
            }
        }
        for (k, v) in dict.sorted(by: { $0.key < $1.key }) { visit(k, v) }
        if let reason { return .rejected(Rejection(raw: raw, reason: reason)) }
        if let r = builder.missing(config.map.required) { return .rejected(Rejection(raw: raw, reason: r)) }
        if builder.fieldCount == 0 { return .rejected(Rejection(raw: raw, reason: "no numeric field")) }
        return .sample(builder.sample(hostArrivalNs: hostArrivalNs, raw: raw))
    }
}

private func isBool(_ n: NSNumber) -> Bool {
    // JSONSerialization gives true/false as a boolean NSNumber (objCType "c"); they are not readings.
    String(cString: n.objCType) == "c"
}
