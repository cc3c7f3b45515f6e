import TRWCore

/// The protocol an instrument speaks, chosen in the rig file by `type`:
///
/// ```toml
/// [serial.protocol]
/// type = "key_value"   # csv | key_value | json_lines | modbus_rtu | scpi
/// fields = { V = "voltage_v", T1 = { field = "cell_temp_c", channel = 1 } }
/// ```
public enum SerialProtocolConfig: Codable, Sendable, Equatable {
    case csv(CSVProtocolConfig)
    case keyValue(KeyValueProtocolConfig)
    case jsonLines(JSONLinesProtocolConfig)
    case modbusRTU(ModbusRTUProtocolConfig)
    case scpi(SCPIProtocolConfig)

    /// The `type` string of the rig file, also the stream's stored format.
    public var typeName: String {
        switch self {
        case .csv: "csv"
        case .keyValue: "key_value"
        case .jsonLines: "json_lines"
        case .modbusRTU: "modbus_rtu"
        case .scpi: "scpi"
        }
    }

    /// Polled protocols send requests; line protocols only listen.
    public var pollPeriodS: Double? {
        switch self {
        case let .modbusRTU(c): c.pollPeriodS
        case let .scpi(c): c.pollPeriodS
        default: nil
        }
    }

    enum CodingKeys: String, CodingKey { case type }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let type = try c.decode(String.self, forKey: .type)
        switch type {
        case "csv": self = .csv(try CSVProtocolConfig(from: decoder))
        case "key_value": self = .keyValue(try KeyValueProtocolConfig(from: decoder))
        case "json_lines": self = .jsonLines(try JSONLinesProtocolConfig(from: decoder))
        case "modbus_rtu": self = .modbusRTU(try ModbusRTUProtocolConfig(from: decoder))
        case "scpi": self = .scpi(try SCPIProtocolConfig(from: decoder))
        default:
            throw DecodingError.dataCorruptedError(
                forKey: .type, in: c,
                debugDescription: "unknown serial protocol '\(type)'; expected csv, key_value, json_lines, modbus_rtu or scpi")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(typeName, forKey: .type)
        switch self {
        case let .csv(x): try x.encode(to: encoder)
        case let .keyValue(x): try x.encode(to: encoder)
        case let .jsonLines(x): try x.encode(to: encoder)
        case let .modbusRTU(x): try x.encode(to: encoder)
        case let .scpi(x): try x.encode(to: encoder)
        }
    }

    public func validate() throws(SerialConfigError) {
        switch self {
        case let .csv(x): try x.validate()
        case let .keyValue(x): try x.validate()
        case let .jsonLines(x): try x.validate()
        case let .modbusRTU(x): try x.validate()
        case let .scpi(x): try x.validate()
        }
    }
}

/// One serial instrument of the rig: a stream key, a port, a protocol and fault handling.
///
/// ```toml
/// [[serial]]
/// stream = "bms0"
/// role = "cell_bms"      # cell_bms | supply | logger | ambient | other
/// silence_timeout_s = 5
/// [serial.port]
/// path = "/dev/serial/by-id/usb-FTDI_..."
/// baud = 115200
/// [serial.protocol]
/// type = "key_value"
/// ```
public struct SerialInstrumentConfig: Codable, Sendable, Equatable {
    /// Stream key, unique in the rig ("bms0", "psu0").
    public var stream: String
    /// What the instrument is to the cell (`role` in the rig; schemas/rig.md): features take
    /// each field from its role's stream. nil: not named (the readers' default applies).
    public var role: InstrumentRole?
    public var port: SerialPortConfig
    public var protocolConfig: SerialProtocolConfig
    /// No byte (line protocols) or no answer (polled) for this long: warning and a `.timeout` gap.
    public var silenceTimeoutS: Double
    /// Longest accepted line; longer ones are rejected with their first bytes kept.
    public var maxLineBytes: Int
    /// Reopen attempts after device loss start at this delay and double up to `reopenMaxDelayS`.
    public var reopenInitialDelayS: Double
    public var reopenMaxDelayS: Double
    /// Readings per second the instrument sends (line protocols); polled ones use 1 / poll period.
    public var nominalRateHz: Double?
    /// How many rejected lines/frames the source keeps in memory for inspection
    /// (all of them also go to the recorder as gaps).
    public var keptRejections: Int

    public init(
        stream: String, port: SerialPortConfig, protocolConfig: SerialProtocolConfig, silenceTimeoutS: Double = 5,
        maxLineBytes: Int = 1024, reopenInitialDelayS: Double = 0.25, reopenMaxDelayS: Double = 5,
        nominalRateHz: Double? = nil, keptRejections: Int = 100, role: InstrumentRole? = nil
    ) {
        self.stream = stream
        self.role = role
        self.port = port
        self.protocolConfig = protocolConfig
        self.silenceTimeoutS = silenceTimeoutS
        self.maxLineBytes = maxLineBytes
        self.reopenInitialDelayS = reopenInitialDelayS
        self.reopenMaxDelayS = reopenMaxDelayS
        self.nominalRateHz = nominalRateHz
        self.keptRejections = keptRejections
    }

    enum CodingKeys: String, CodingKey {
        case stream, port, role
        case protocolConfig = "protocol"
        case silenceTimeoutS = "silence_timeout_s"
        case maxLineBytes = "max_line_bytes"
        case reopenInitialDelayS = "reopen_initial_delay_s"
        case reopenMaxDelayS = "reopen_max_delay_s"
        case nominalRateHz = "nominal_rate_hz"
        case keptRejections = "kept_rejections"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            stream: try c.decode(String.self, forKey: .stream),
            port: try c.decode(SerialPortConfig.self, forKey: .port),
            protocolConfig: try c.decode(SerialProtocolConfig.self, forKey: .protocolConfig))
        silenceTimeoutS = try c.decodeIfPresent(Double.self, forKey: .silenceTimeoutS) ?? silenceTimeoutS
        maxLineBytes = try c.decodeIfPresent(Int.self, forKey: .maxLineBytes) ?? maxLineBytes
        reopenInitialDelayS = try c.decodeIfPresent(Double.self, forKey: .reopenInitialDelayS) ?? reopenInitialDelayS
        reopenMaxDelayS = try c.decodeIfPresent(Double.self, forKey: .reopenMaxDelayS) ?? reopenMaxDelayS
        nominalRateHz = try c.decodeIfPresent(Double.self, forKey: .nominalRateHz)
        keptRejections = try c.decodeIfPresent(Int.self, forKey: .keptRejections) ?? keptRejections
        if let r = try c.decodeIfPresent(String.self, forKey: .role) {
            guard let known = InstrumentRole(rawValue: r) else {
                throw DecodingError.dataCorruptedError(
                    forKey: .role, in: c, debugDescription: "unknown role '\(r)'; expected one of \(InstrumentRole.names)")
            }
            role = known
        }
    }

    public func validate() throws(SerialConfigError) {
        if stream.isEmpty { throw SerialConfigError("serial instrument on \(port.path): empty stream key") }
        do { try port.validate() } catch { throw SerialConfigError(error.description) }
        try protocolConfig.validate()
        if !(silenceTimeoutS > 0 && silenceTimeoutS <= 86_400) {
            throw SerialConfigError("\(stream): silence_timeout_s \(silenceTimeoutS) must be in (0, 86400] seconds")
        }
        if maxLineBytes < 16 || maxLineBytes > 1 << 20 {
            throw SerialConfigError("\(stream): max_line_bytes \(maxLineBytes) out of 16...1048576")
        }
        if !(reopenInitialDelayS > 0) || !(reopenMaxDelayS >= reopenInitialDelayS) || !(reopenMaxDelayS <= 86_400) {
            throw SerialConfigError("\(stream): reopen delays must satisfy 0 < reopen_initial_delay_s <= reopen_max_delay_s <= 86400 seconds")
        }
        if let r = nominalRateHz, !(r > 0 && r <= 100_000) { throw SerialConfigError("\(stream): nominal_rate_hz \(r) must be in (0, 100000] Hz") }
        if !(0...1_000_000).contains(keptRejections) { throw SerialConfigError("\(stream): kept_rejections \(keptRejections) must be 0...1000000") }
    }
}
