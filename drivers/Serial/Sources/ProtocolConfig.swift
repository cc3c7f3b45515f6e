/// Names devices commonly use, mapped to sample fields when `use_default_names` is on:
/// t/time/device_time (s), V/voltage/voltage_v, I/current/current_a, T1...Tn and
/// temp1.../cell_temp_c_1... (cell temperature channel n), Tamb/ambient/ambient_c, SOC/soc.
/// This covers the simulator's key=value lines: "t=12.000 V=4.213 I=1.502 T1=25.3 Tamb=23.0".
public func defaultFieldSpec(forName name: String) -> FieldSpec? {
    switch name {
    case "t", "time", "time_s", "device_time", "timestamp": return FieldSpec("device_time")
    case "V", "v", "U", "voltage", "voltage_v", "vbat", "Vbat", "VOLT": return FieldSpec("voltage_v")
    case "I", "i", "current", "current_a", "ibat", "Ibat", "CURR": return FieldSpec("current_a")
    case "Tamb", "tamb", "T_amb", "TA", "ambient", "ambient_c", "amb": return FieldSpec("ambient_c")
    case "SOC", "soc", "soc_pct": return FieldSpec("soc")
    case "T", "temp", "cell_temp", "cell_temp_c": return FieldSpec("cell_temp_c")
    default: break
    }
    for prefix in ["cell_temp_c_", "cell_temp_", "temp", "T"] where name.hasPrefix(prefix) {
        let digits = name.dropFirst(prefix.count)
        if !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }), let ch = Int(digits), (1...256).contains(ch) {
            return FieldSpec("cell_temp_c", channel: ch)
        }
    }
    return nil
}

/// Settings shared by the text protocols: how names map to fields.
public struct FieldMapConfig: Codable, Sendable, Equatable {
    /// Device name (column header, key, JSON member path) -> field.
    public var fields: [String: FieldSpec]
    /// Also recognise the common names of `defaultFieldSpec(forName:)`.
    public var useDefaultNames: Bool
    /// Fields a line must carry, else it is rejected ("missing field").
    public var required: [String]

    public init(fields: [String: FieldSpec] = [:], useDefaultNames: Bool = true, required: [String] = []) {
        self.fields = fields
        self.useDefaultNames = useDefaultNames
        self.required = required
    }

    enum CodingKeys: String, CodingKey {
        case fields, required
        case useDefaultNames = "use_default_names"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init()
        fields = try c.decodeIfPresent([String: FieldSpec].self, forKey: .fields) ?? [:]
        useDefaultNames = try c.decodeIfPresent(Bool.self, forKey: .useDefaultNames) ?? true
        required = try c.decodeIfPresent([String].self, forKey: .required) ?? []
    }

    func spec(for name: String) -> FieldSpec? {
        if let s = fields[name] { return s }
        return useDefaultNames ? defaultFieldSpec(forName: name) : nil
    }

    func validate(_ what: String) throws(SerialConfigError) {
        for (name, spec) in fields.sorted(by: { $0.key < $1.key }) { try spec.validate(source: "\(what) field '\(name)'") }
        if fields.isEmpty && !useDefaultNames {
            throw SerialConfigError("\(what): no fields mapped and use_default_names = false; nothing would decode")
        }
    }
}

/// CSV lines: a header names the columns, or `columns` does.
public struct CSVProtocolConfig: Codable, Sendable, Equatable {
    /// One character: "," (default), ";" or "\t".
    public var delimiter: String
    /// The device sends a header line (recognised as a line with no numeric cell);
    /// a later header (device restart) replaces it.
    public var header: Bool
    /// Column names by position, used when there is no header (or until one arrives).
    public var columns: [String]
    public var map: FieldMapConfig
    /// Lines starting with this are comments, ignored.
    public var commentPrefix: String

    public init(delimiter: String = ",", header: Bool = true, columns: [String] = [], map: FieldMapConfig = .init(),
                commentPrefix: String = "#") {
        self.delimiter = delimiter
        self.header = header
        self.columns = columns
        self.map = map
        self.commentPrefix = commentPrefix
    }

    enum CodingKeys: String, CodingKey {
        case delimiter, header, columns
        case commentPrefix = "comment_prefix"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init()
        delimiter = try c.decodeIfPresent(String.self, forKey: .delimiter) ?? delimiter
        header = try c.decodeIfPresent(Bool.self, forKey: .header) ?? header
        columns = try c.decodeIfPresent([String].self, forKey: .columns) ?? []
        commentPrefix = try c.decodeIfPresent(String.self, forKey: .commentPrefix) ?? commentPrefix
        map = try FieldMapConfig(from: decoder)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(delimiter, forKey: .delimiter)
        try c.encode(header, forKey: .header)
        try c.encode(columns, forKey: .columns)
        try c.encode(commentPrefix, forKey: .commentPrefix)
        try map.encode(to: encoder)
    }

    public func validate() throws(SerialConfigError) {
        guard delimiter.utf8.count == 1, let d = delimiter.utf8.first, d != 0x0A, d != 0x0D, d != UInt8(ascii: "\"") else {
            throw SerialConfigError("csv delimiter '\(delimiter)' must be one ASCII character such as ',', ';' or a tab")
        }
        if !header && columns.isEmpty {
            throw SerialConfigError("csv: header = false needs `columns` (the column names by position)")
        }
        try map.validate("csv")
    }
}

/// key=value lines: "t=12.000 V=4.213 I=1.502 T1=25.3 Tamb=23.0".
public struct KeyValueProtocolConfig: Codable, Sendable, Equatable {
    /// Between key and value: "=" (default) or ":".
    public var separator: String
    public var map: FieldMapConfig

    public init(separator: String = "=", map: FieldMapConfig = .init()) {
        self.separator = separator
        self.map = map
    }

    enum CodingKeys: String, CodingKey { case separator }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(separator: try c.decodeIfPresent(String.self, forKey: .separator) ?? "=", map: try FieldMapConfig(from: decoder))
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(separator, forKey: .separator)
        try map.encode(to: encoder)
    }

    public func validate() throws(SerialConfigError) {
        guard separator.utf8.count == 1, let s = separator.utf8.first, s != 0x20, s != UInt8(ascii: ","), s != UInt8(ascii: ";") else {
            throw SerialConfigError("key_value separator '\(separator)' must be one character other than space, ',' or ';' (e.g. '=' or ':')")
        }
        try map.validate("key_value")
    }
}

/// One JSON object per line; nested members are named with dots ("cells.0").
/// An array under a cell_temp_c name gives channels 1...n.
public struct JSONLinesProtocolConfig: Codable, Sendable, Equatable {
    public var map: FieldMapConfig
    public init(map: FieldMapConfig = .init()) { self.map = map }
    public init(from decoder: any Decoder) throws { map = try FieldMapConfig(from: decoder) }
    public func encode(to encoder: any Encoder) throws { try map.encode(to: encoder) }
    public func validate() throws(SerialConfigError) { try map.validate("json_lines") }
}
