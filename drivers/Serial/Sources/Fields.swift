import TRWCore

/// Escapes raw bytes for storage and display: printable ASCII and valid UTF-8
/// stay as they are, `\\`, CR, LF, TAB become `\\\\`, `\\r`, `\\n`, `\\t`, and every
/// other byte becomes `\\xNN`. Reversible, so a rejected line can be replayed.
public func escapeRaw(_ bytes: some Collection<UInt8>) -> String {
    var out = ""
    out.reserveCapacity(bytes.count)
    var it = Array(bytes)[...]
    while let b = it.first {
        switch b {
        case UInt8(ascii: "\\"): out += "\\\\"; it = it.dropFirst()
        case 0x0A: out += "\\n"; it = it.dropFirst()
        case 0x0D: out += "\\r"; it = it.dropFirst()
        case 0x09: out += "\\t"; it = it.dropFirst()
        case 0x20...0x7E: out.unicodeScalars.append(Unicode.Scalar(b)); it = it.dropFirst()
        case 0xC2...0xF4:
            // Keep a well-formed multi-byte UTF-8 scalar (degree sign, micro sign) readable.
            let len = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : 2
            let chunk = it.prefix(len)
            if chunk.count == len, chunk.dropFirst().allSatisfy({ $0 & 0xC0 == 0x80 }),
               let s = String(validating: chunk, as: UTF8.self), s.unicodeScalars.count == 1,
               let scalar = s.unicodeScalars.first, scalar.properties.generalCategory != .control {
                out += s
                it = it.dropFirst(len)
            } else {
                out += hexEscape(b); it = it.dropFirst()
            }
        default: out += hexEscape(b); it = it.dropFirst()
        }
    }
    return out
}

private func hexEscape(_ b: UInt8) -> String {
    let digits = Array("0123456789ABCDEF")
    return "\\x" + String(digits[Int(b >> 4)]) + String(digits[Int(b & 0xF)])
}

/// Bytes as spaced hex, for binary frames ("01 03 04 00 0A 00 0B 5A 3F").
public func hexString(_ bytes: some Collection<UInt8>) -> String {
    let digits = Array("0123456789ABCDEF")
    return bytes.map { String(digits[Int($0 >> 4)]) + String(digits[Int($0 & 0xF)]) }.joined(separator: " ")
}

/// The physical quantities trw stores, each in one canonical unit.
public enum Quantity: String, Sendable, CaseIterable {
    case voltage, current, temperature, stateOfCharge = "state_of_charge", time, dimensionless

    /// The canonical unit of the quantity as stored in a session.
    public var canonicalUnit: String {
        switch self {
        case .voltage: "V"
        case .current: "A"
        case .temperature: "degC"
        case .stateOfCharge: "%"
        case .time: "s"
        case .dimensionless: ""
        }
    }
}

/// Unit conversion to the canonical unit of each quantity.
public enum Units {
    /// (quantity, scale, offset): canonical = value * scale + offset.
    private static let table: [String: (Quantity, Double, Double)] = [
        "v": (.voltage, 1, 0), "mv": (.voltage, 1e-3, 0), "uv": (.voltage, 1e-6, 0), "µv": (.voltage, 1e-6, 0),
        "kv": (.voltage, 1e3, 0), "vdc": (.voltage, 1, 0),
        "a": (.current, 1, 0), "ma": (.current, 1e-3, 0), "ua": (.current, 1e-6, 0), "µa": (.current, 1e-6, 0),
        "ka": (.current, 1e3, 0), "adc": (.current, 1, 0),
        "c": (.temperature, 1, 0), "degc": (.temperature, 1, 0), "°c": (.temperature, 1, 0), "℃": (.temperature, 1, 0),
        "k": (.temperature, 1, -273.15),
        "f": (.temperature, 5.0 / 9.0, -32 * 5.0 / 9.0), "degf": (.temperature, 5.0 / 9.0, -32 * 5.0 / 9.0),
        "°f": (.temperature, 5.0 / 9.0, -32 * 5.0 / 9.0),
        "%": (.stateOfCharge, 1, 0), "pct": (.stateOfCharge, 1, 0),
        "s": (.time, 1, 0), "ms": (.time, 1e-3, 0), "us": (.time, 1e-6, 0), "µs": (.time, 1e-6, 0),
        "ns": (.time, 1e-9, 0), "min": (.time, 60, 0), "h": (.time, 3600, 0),
    ]

    /// The quantity a unit measures, nil if unknown.
    public static func quantity(of unit: String) -> Quantity? {
        table[unit.lowercased()]?.0
    }

    /// Converts `value` in `unit` to the canonical unit of `quantity`; nil when the
    /// unit is unknown or measures another quantity (a unit mistake).
    public static func toCanonical(_ value: Double, unit: String, quantity: Quantity) -> Double? {
        if unit.isEmpty || unit == quantity.canonicalUnit { return value }
        guard let (q, scale, offset) = table[unit.lowercased()], q == quantity else { return nil }
        return value * scale + offset
    }
}

/// Where a decoded value goes in a `BMSSample`.
public enum BMSTarget: Sendable, Hashable {
    case voltage, current, cellTemperature, ambient, soc, deviceTime
    /// Any other field, stored in `BMSSample.extra` under this name.
    case extra(String)

    /// Names used in rig files: voltage_v, current_a, cell_temp_c, ambient_c, soc,
    /// device_time; any other name is an extra field of that name.
    public init(name: String) {
        switch name {
        case "voltage_v": self = .voltage
        case "current_a": self = .current
        case "cell_temp_c": self = .cellTemperature
        case "ambient_c": self = .ambient
        case "soc": self = .soc
        case "device_time": self = .deviceTime
        default: self = .extra(name)
        }
    }

    public var name: String {
        switch self {
        case .voltage: "voltage_v"
        case .current: "current_a"
        case .cellTemperature: "cell_temp_c"
        case .ambient: "ambient_c"
        case .soc: "soc"
        case .deviceTime: "device_time"
        case let .extra(n): n
        }
    }

    public var quantity: Quantity {
        switch self {
        case .voltage: .voltage
        case .current: .current
        case .cellTemperature, .ambient: .temperature
        case .soc: .stateOfCharge
        case .deviceTime: .time
        case .extra: .dimensionless
        }
    }
}

/// How one device field (CSV column, key, JSON member, register, SCPI query)
/// maps to a sample field. In a rig file either a bare target name
/// (`V = "voltage_v"`) or a table:
/// `T2 = { field = "cell_temp_c", channel = 2, unit = "K", range = [-40, 1200] }`.
public struct FieldSpec: Codable, Sendable, Equatable {
    /// Target: voltage_v, current_a, cell_temp_c, ambient_c, soc, device_time, or any extra name.
    public var field: String
    /// Unit of bare numbers from the device (e.g. "mV", "K", "ms"); a unit written
    /// after the number in the data overrides it. Nil means the canonical unit.
    public var unit: String?
    /// Cell temperature channel, 1-based; nil means the next free channel in declaration order.
    public var channel: Int?
    /// Applied to the device number before unit conversion: value * scale + offset.
    public var scale: Double?
    public var offset: Double?
    /// Plausible range in the canonical unit; a value outside is rejected
    /// (a unit mistake such as millivolts sent as volts).
    public var range: [Double]?

    public init(
        _ field: String, unit: String? = nil, channel: Int? = nil, scale: Double? = nil, offset: Double? = nil,
        range: ClosedRange<Double>? = nil
    ) {
        self.field = field
        self.unit = unit
        self.channel = channel
        self.scale = scale
        self.offset = offset
        self.range = range.map { [$0.lowerBound, $0.upperBound] }
    }

    public var target: BMSTarget { BMSTarget(name: field) }

    enum CodingKeys: String, CodingKey { case field, unit, channel, scale, offset, range }

    public init(from decoder: any Decoder) throws {
        if let single = try? decoder.singleValueContainer(), let name = try? single.decode(String.self) {
            self.init(name)
            return
        }
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let field = try c.decode(String.self, forKey: .field)
        let range = try c.decodeIfPresent([Double].self, forKey: .range)
        if let range, range.count != 2 || !(range[0] <= range[1]) {
            throw DecodingError.dataCorruptedError(
                forKey: .range, in: c, debugDescription: "range for \(field) must be [min, max] with min <= max, got \(range)")
        }
        self.init(
            field, unit: try c.decodeIfPresent(String.self, forKey: .unit),
            channel: try c.decodeIfPresent(Int.self, forKey: .channel),
            scale: try c.decodeIfPresent(Double.self, forKey: .scale),
            offset: try c.decodeIfPresent(Double.self, forKey: .offset),
            range: range.map { $0[0]...$0[1] })
    }

    /// Checks the spec against the target, naming the bad value.
    public func validate(source: String) throws(SerialConfigError) {
        if field.isEmpty { throw SerialConfigError("\(source): empty field name") }
        if let unit, target.quantity != .dimensionless, Units.toCanonical(1, unit: unit, quantity: target.quantity) == nil {
            throw SerialConfigError("\(source): unit '\(unit)' is not a \(target.quantity.rawValue) unit for \(field) (expected e.g. \(target.quantity.canonicalUnit))")
        }
        if let channel, channel < 1 || channel > 256 {
            throw SerialConfigError("\(source): channel \(channel) out of 1...256")
        }
        if channel != nil, target != .cellTemperature {
            throw SerialConfigError("\(source): channel is only meaningful for cell_temp_c, not \(field)")
        }
        if let range, range.count != 2 || !(range[0] <= range[1]) || !range.allSatisfy(\.isFinite) {
            throw SerialConfigError("\(source): range must be [min, max] of finite numbers, got \(range)")
        }
        if let scale, !(scale.isFinite && scale != 0 && abs(scale) <= 1e12) {
            throw SerialConfigError("\(source): scale \(scale) must be a finite non-zero number within ±1e12")
        }
        if let offset, !(offset.isFinite && abs(offset) <= 1e12) {
            throw SerialConfigError("\(source): offset \(offset) must be a finite number within ±1e12")
        }
    }
}

/// A configuration that cannot work, with the offending key and what was expected.
public struct SerialConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Why a line or frame was rejected; `raw` is escaped (see `escapeRaw`).
public struct Rejection: Error, Sendable, Equatable, CustomStringConvertible {
    public var raw: String
    public var reason: String
    public init(raw: String, reason: String) {
        self.raw = raw
        self.reason = reason
    }
    public var description: String { "\(reason): \(raw)" }
}

/// Scans a decimal number followed by an optional unit ("4.213", "-1.5e-3", "4213mV",
/// "25.3 °C", "+4.21300E+00"). No hex, no nan/inf: those are not readings.
struct NumberWithUnit: Equatable {
    var value: Double
    var unit: String

    init?(_ text: Substring) {
        let t = text.utf8
        var i = t.startIndex
        func peek() -> UInt8? { i < t.endIndex ? t[i] : nil }
        while let c = peek(), c == 0x20 || c == 0x09 { i = t.index(after: i) }
        let start = i
        if let c = peek(), c == UInt8(ascii: "+") || c == UInt8(ascii: "-") { i = t.index(after: i) }
        var digits = 0
        while let c = peek(), (0x30...0x39).contains(c) { digits += 1; i = t.index(after: i) }
        if let c = peek(), c == UInt8(ascii: ".") {
            i = t.index(after: i)
            while let c = peek(), (0x30...0x39).contains(c) { digits += 1; i = t.index(after: i) }
        }
        guard digits > 0 else { return nil }
        if let c = peek(), c == UInt8(ascii: "e") || c == UInt8(ascii: "E") {
            var j = t.index(after: i)
            if j < t.endIndex, t[j] == UInt8(ascii: "+") || t[j] == UInt8(ascii: "-") { j = t.index(after: j) }
            var expDigits = 0
            while j < t.endIndex, (0x30...0x39).contains(t[j]) { expDigits += 1; j = t.index(after: j) }
            // "4.2e" with no exponent digits: the "e" is not part of the number.
            if expDigits > 0 { i = j }
        }
        guard let v = Double(String(Substring(t[start..<i]))), v.isFinite else { return nil }
        var rest = Substring(t[i...])
        while let f = rest.first, f == " " || f == "\t" { rest = rest.dropFirst() }
        while let l = rest.last, l == " " || l == "\t" { rest = rest.dropLast() }
        // A unit is letters, %, ° or µ only: "4.2V" yes, "4.2.1" or "4x2" no.
        guard rest.unicodeScalars.allSatisfy({ $0.properties.isAlphabetic || $0 == "%" || $0 == "°" || $0 == "℃" }) else {
            return nil
        }
        value = v
        unit = String(rest)
    }
}

/// Parses "hh:mm:ss[.fff]" to seconds since midnight (device clocks printed as time of day).
func parseTimeOfDay(_ text: Substring) -> Double? {
    let parts = text.split(separator: ":", omittingEmptySubsequences: false)
    guard parts.count == 3, let h = Int(parts[0]), let m = Int(parts[1]),
          let s = NumberWithUnit(parts[2]), s.unit.isEmpty,
          (0..<24).contains(h), (0..<60).contains(m), s.value >= 0, s.value < 61 else { return nil }
    return Double(h * 3600 + m * 60) + s.value
}

/// Accumulates decoded fields into one sample, applying specs, units and ranges.
struct SampleBuilder {
    var deviceTime: Double?
    var voltage: Double?
    var current: Double?
    var cellTemps: [Int: Double] = [:]
    var ambient: Double?
    var soc: Double?
    var extra: [String: Double] = [:]
    var fieldCount = 0
    var nextAutoChannel = 1

    /// Adds the text value of field `name`; returns an error reason or nil.
    mutating func add(text: Substring, spec: FieldSpec, name: String, autoChannel: Int?) -> String? {
        let target = spec.target
        if target == .deviceTime, text.contains(":"), let tod = parseTimeOfDay(text.drop(while: { $0 == " " })) {
            return add(value: tod, unit: "s", spec: FieldSpec(spec.field, channel: spec.channel, range: nil), name: name, autoChannel: autoChannel)
        }
        guard let n = NumberWithUnit(text) else {
            let shown = text.count > 40 ? String(text.prefix(40)) + "..." : String(text)
            return "\(name): '\(shown)' is not a number"
        }
        return add(value: n.value, unit: n.unit, spec: spec, name: name, autoChannel: autoChannel)
    }

    /// Adds a numeric value whose written unit is `unit` ("" when none).
    mutating func add(value raw: Double, unit: String, spec: FieldSpec, name: String, autoChannel: Int?) -> String? {
        let target = spec.target
        var value = raw * (spec.scale ?? 1) + (spec.offset ?? 0)
        let deviceUnit = unit.isEmpty ? (spec.unit ?? "") : unit
        if target.quantity == .dimensionless {
            if !unit.isEmpty, let specUnit = spec.unit, unit.lowercased() != specUnit.lowercased() {
                return "\(name): unit '\(unit)' where '\(specUnit)' was expected"
            }
        } else {
            guard let v = Units.toCanonical(value, unit: deviceUnit, quantity: target.quantity) else {
                if let q = Units.quantity(of: deviceUnit) {
                    return "\(name): unit '\(deviceUnit)' is a \(q.rawValue) unit, expected \(target.quantity.rawValue) (\(target.quantity.canonicalUnit))"
                }
                return "\(name): unknown unit '\(deviceUnit)', expected \(target.quantity.rawValue) (\(target.quantity.canonicalUnit))"
            }
            value = v
        }
        guard value.isFinite else { return "\(name): value overflows" }
        if let r = spec.range, r.count == 2, !(r[0]...r[1]).contains(value) {
            return "\(name): \(value) \(target.quantity.canonicalUnit) outside the plausible range \(r[0])...\(r[1]) (unit mistake?)"
        }
        if target.quantity == .temperature, value < -273.15 {
            return "\(name): \(value) degC is below absolute zero (unit mistake?)"
        }
        switch target {
        case .voltage: voltage = value
        case .current: current = value
        case .ambient: ambient = value
        case .soc: soc = value
        case .deviceTime: deviceTime = value
        case .cellTemperature:
            var ch = spec.channel ?? autoChannel ?? nextAutoChannel
            while spec.channel == nil, autoChannel == nil, cellTemps[ch] != nil { ch += 1 }
            cellTemps[ch] = value
            nextAutoChannel = max(nextAutoChannel, ch + 1)
        case let .extra(n): extra[n] = value
        }
        fieldCount += 1
        return nil
    }

    /// Checks `required` targets; returns the reason or nil.
    func missing(_ required: [String]) -> String? {
        var absent: [String] = []
        for r in required {
            let present: Bool
            switch BMSTarget(name: r) {
            case .voltage: present = voltage != nil
            case .current: present = current != nil
            case .cellTemperature: present = !cellTemps.isEmpty
            case .ambient: present = ambient != nil
            case .soc: present = soc != nil
            case .deviceTime: present = deviceTime != nil
            case let .extra(n): present = extra[n] != nil
            }
            if !present { absent.append(r) }
        }
        return absent.isEmpty ? nil : "missing required field(s) " + absent.joined(separator: ", ")
    }

    /// The sample; cell temperature channels with no value in between are NaN.
    func sample(hostArrivalNs: Nanoseconds, raw: String) -> BMSSample {
        var temps: [Double] = []
        if let maxCh = cellTemps.keys.max() {
            temps = (1...maxCh).map { cellTemps[$0] ?? .nan }
        }
        return BMSSample(
            hostArrivalNs: hostArrivalNs, deviceTimeS: deviceTime, voltageV: voltage, currentA: current,
            cellTempsC: temps, ambientC: ambient, soc: soc, extra: extra, raw: raw)
    }
}

/// The bytes `escapeRaw` escaped, to replay a rejected line; nil if `text` is not
/// something `escapeRaw` produces.
public func unescapeRaw(_ text: String) -> [UInt8]? {
    var out: [UInt8] = []
    let u = Array(text.utf8)
    var i = 0
    func hex(_ c: UInt8) -> UInt8? {
        switch c {
        case 0x30...0x39: c - 0x30
        case 0x41...0x46: c - 0x41 + 10
        default: nil
        }
    }
    while i < u.count {
        guard u[i] == UInt8(ascii: "\\") else { out.append(u[i]); i += 1; continue }
        guard i + 1 < u.count else { return nil }
        switch u[i + 1] {
        case UInt8(ascii: "\\"): out.append(0x5C); i += 2
        case UInt8(ascii: "n"): out.append(0x0A); i += 2
        case UInt8(ascii: "r"): out.append(0x0D); i += 2
        case UInt8(ascii: "t"): out.append(0x09); i += 2
        case UInt8(ascii: "x"):
            guard i + 3 < u.count, let h = hex(u[i + 2]), let l = hex(u[i + 3]) else { return nil }
            out.append(h << 4 | l); i += 4
        default: return nil
        }
    }
    return out
}
