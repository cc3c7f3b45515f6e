import Foundation
import TRWCore

/// Modbus RTU framing: CRC-16 (poly 0xA001, init 0xFFFF, low byte first on the wire).
public enum ModbusRTU {
    private static let table: [UInt16] = (0..<256).map { i -> UInt16 in
        var crc = UInt16(i)
        for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0xA001 : crc >> 1 }
        return crc
    }

    public static func crc16(_ bytes: some Sequence<UInt8>) -> UInt16 {
        var crc: UInt16 = 0xFFFF
        for b in bytes { crc = (crc >> 8) ^ table[Int((crc ^ UInt16(b)) & 0xFF)] }
        return crc
    }

    /// Appends the CRC (low byte first).
    public static func withCRC(_ pdu: [UInt8]) -> [UInt8] {
        let crc = crc16(pdu)
        return pdu + [UInt8(crc & 0xFF), UInt8(crc >> 8)]
    }
}

/// The two register tables a master can read.
public enum ModbusTable: String, Codable, Sendable, CaseIterable {
    /// Function 0x03, read holding registers.
    case holding
    /// Function 0x04, read input registers.
    case input

    public var functionCode: UInt8 { self == .holding ? 0x03 : 0x04 }
}

/// A read request: slave, table, first register, register count (1...125).
public struct ModbusReadRequest: Sendable, Equatable {
    public var slave: UInt8
    public var table: ModbusTable
    public var start: UInt16
    public var count: UInt16

    public init(slave: UInt8, table: ModbusTable, start: UInt16, count: UInt16) {
        precondition((1...125).contains(count), "a Modbus read covers 1...125 registers, not \(count)")
        self.slave = slave
        self.table = table
        self.start = start
        self.count = count
    }

    /// The frame on the wire: slave, function, start (BE), count (BE), CRC.
    public var frame: [UInt8] {
        ModbusRTU.withCRC([slave, table.functionCode, UInt8(start >> 8), UInt8(start & 0xFF), UInt8(count >> 8), UInt8(count & 0xFF)])
    }

    /// Bytes of a normal response: slave, function, byte count, data, CRC.
    public var responseLength: Int { 5 + 2 * Int(count) }
}

/// What the response parser has so far.
public enum ModbusResponse: Sendable, Equatable {
    /// Not a whole frame yet.
    case incomplete
    case registers([UInt16], frame: [UInt8])
    /// The slave answered with exception `code` (1 illegal function, 2 illegal address, ...).
    case exception(code: UInt8, frame: [UInt8])
    /// A frame that cannot be the answer: wrong slave/function/length or CRC.
    case invalid(reason: String, frame: [UInt8])
}

/// Parses the response to one request from the bytes received so far. Pure.
public func parseModbusResponse(_ bytes: [UInt8], for request: ModbusReadRequest) -> ModbusResponse {
    guard bytes.count >= 2 else { return .incomplete }
    if bytes[0] != request.slave {
        let n = min(bytes.count, request.responseLength)
        return .invalid(reason: "answer from slave \(bytes[0]), expected \(request.slave)", frame: Array(bytes.prefix(n)))
    }
    let fn = request.table.functionCode
    if bytes[1] == fn | 0x80 {
        guard bytes.count >= 5 else { return .incomplete }
        let frame = Array(bytes.prefix(5))
        if let bad = crcProblem(frame) { return .invalid(reason: bad, frame: frame) }
        return .exception(code: frame[2], frame: frame)
    }
    if bytes[1] != fn {
        let n = min(bytes.count, request.responseLength)
        return .invalid(reason: String(format: "function 0x%02X, expected 0x%02X", bytes[1], fn), frame: Array(bytes.prefix(n)))
    }
    guard bytes.count >= 3 else { return .incomplete }
    if Int(bytes[2]) != 2 * Int(request.count) {
        let n = min(bytes.count, max(5, 5 + Int(bytes[2])))
        return .invalid(reason: "byte count \(bytes[2]), expected \(2 * Int(request.count))", frame: Array(bytes.prefix(n)))
    }
    guard bytes.count >= request.responseLength else { return .incomplete }
    let frame = Array(bytes.prefix(request.responseLength))
    if let bad = crcProblem(frame) { return .invalid(reason: bad, frame: frame) }
    var regs: [UInt16] = []
    regs.reserveCapacity(Int(request.count))
    for i in 0..<Int(request.count) { regs.append(UInt16(frame[3 + 2 * i]) << 8 | UInt16(frame[4 + 2 * i])) }
    return .registers(regs, frame: frame)
}

private func crcProblem(_ frame: [UInt8]) -> String? {
    let body = frame.dropLast(2)
    let want = ModbusRTU.crc16(body)
    let got = UInt16(frame[frame.count - 2]) | UInt16(frame[frame.count - 1]) << 8
    return got == want ? nil : String(format: "CRC 0x%04X, expected 0x%04X", got, want)
}

/// The name of a Modbus exception code.
public func modbusExceptionName(_ code: UInt8) -> String {
    switch code {
    case 1: "illegal function"
    case 2: "illegal data address"
    case 3: "illegal data value"
    case 4: "slave device failure"
    case 5: "acknowledge"
    case 6: "slave device busy"
    case 8: "memory parity error"
    case 0x0A: "gateway path unavailable"
    case 0x0B: "gateway target failed to respond"
    default: "exception \(code)"
    }
}

/// How a value is laid out in registers.
public enum ModbusValueType: String, Codable, Sendable, CaseIterable {
    case int16, uint16, int32, uint32, float32
    public var registerCount: Int { self == .int16 || self == .uint16 ? 1 : 2 }
}

/// Order of the two registers of a 32-bit value (bytes within a register are always big-endian).
public enum ModbusWordOrder: String, Codable, Sendable, CaseIterable {
    /// High word first ("ABCD"), the Modbus convention.
    case bigEndian = "big"
    /// Low word first ("CDAB"), common on PLCs and many BMS.
    case littleEndian = "little"
}

/// One value in the register map.
///
/// ```toml
/// [[instrument.protocol.registers]]
/// address = 0x0010
/// table = "input"        # holding | input
/// type = "int32"         # int16 | uint16 | int32 | uint32 | float32
/// word_order = "little"  # big | little
/// field = "voltage_v"
/// scale = 0.001          # register value * scale + offset, then unit
/// unit = "V"
/// ```
public struct ModbusRegisterSpec: Codable, Sendable, Equatable {
    public var address: Int
    public var table: ModbusTable
    public var type: ModbusValueType
    public var wordOrder: ModbusWordOrder
    public var spec: FieldSpec

    public init(address: Int, table: ModbusTable = .holding, type: ModbusValueType = .uint16,
                wordOrder: ModbusWordOrder = .bigEndian, spec: FieldSpec) {
        self.address = address
        self.table = table
        self.type = type
        self.wordOrder = wordOrder
        self.spec = spec
    }

    enum CodingKeys: String, CodingKey {
        case address, table, type
        case wordOrder = "word_order"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            address: try c.decode(Int.self, forKey: .address),
            table: try c.decodeIfPresent(ModbusTable.self, forKey: .table) ?? .holding,
            type: try c.decodeIfPresent(ModbusValueType.self, forKey: .type) ?? .uint16,
            wordOrder: try c.decodeIfPresent(ModbusWordOrder.self, forKey: .wordOrder) ?? .bigEndian,
            spec: try FieldSpec(from: decoder))
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(address, forKey: .address)
        try c.encode(table, forKey: .table)
        try c.encode(type, forKey: .type)
        try c.encode(wordOrder, forKey: .wordOrder)
        try spec.encode(to: encoder)
    }

    /// The number the registers hold (before scale, offset and unit).
    public func value(from registers: ArraySlice<UInt16>) -> Double {
        precondition(registers.count == type.registerCount, "\(type) needs \(type.registerCount) registers")
        let r0 = registers[registers.startIndex]
        switch type {
        case .uint16: return Double(r0)
        case .int16: return Double(Int16(bitPattern: r0))
        case .int32, .uint32, .float32:
            let r1 = registers[registers.startIndex + 1]
            let (hi, lo) = wordOrder == .bigEndian ? (r0, r1) : (r1, r0)
            let bits = UInt32(hi) << 16 | UInt32(lo)
            switch type {
            case .int32: return Double(Int32(bitPattern: bits))
            case .uint32: return Double(bits)
            default: return Double(Float(bitPattern: bits))
            }
        }
    }
}

/// Modbus RTU master polling a register map.
public struct ModbusRTUProtocolConfig: Codable, Sendable, Equatable {
    /// Slave address 1...247.
    public var slave: Int
    public var registers: [ModbusRegisterSpec]
    /// Seconds between polls.
    public var pollPeriodS: Double
    /// How long to wait for each response, ms.
    public var responseTimeoutMs: Int
    /// Extra attempts after a timeout or a bad frame (an exception is not retried).
    public var retries: Int
    /// Fields a poll must deliver, else the poll is rejected.
    public var required: [String]

    public init(slave: Int = 1, registers: [ModbusRegisterSpec], pollPeriodS: Double = 1, responseTimeoutMs: Int = 200,
                retries: Int = 2, required: [String] = []) {
        self.slave = slave
        self.registers = registers
        self.pollPeriodS = pollPeriodS
        self.responseTimeoutMs = responseTimeoutMs
        self.retries = retries
        self.required = required
    }

    enum CodingKeys: String, CodingKey {
        case slave, registers, retries, required
        case pollPeriodS = "poll_period_s"
        case responseTimeoutMs = "response_timeout_ms"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            slave: try c.decodeIfPresent(Int.self, forKey: .slave) ?? 1,
            registers: try c.decode([ModbusRegisterSpec].self, forKey: .registers),
            pollPeriodS: try c.decodeIfPresent(Double.self, forKey: .pollPeriodS) ?? 1,
            responseTimeoutMs: try c.decodeIfPresent(Int.self, forKey: .responseTimeoutMs) ?? 200,
            retries: try c.decodeIfPresent(Int.self, forKey: .retries) ?? 2,
            required: try c.decodeIfPresent([String].self, forKey: .required) ?? [])
    }

    public func validate() throws(SerialConfigError) {
        if !(1...247).contains(slave) { throw SerialConfigError("modbus_rtu slave \(slave) out of 1...247") }
        if registers.isEmpty { throw SerialConfigError("modbus_rtu: the register map is empty") }
        if !(pollPeriodS >= 0.001 && pollPeriodS <= 86_400) { throw SerialConfigError("modbus_rtu poll_period_s \(pollPeriodS) must be in 0.001...86400 seconds") }
        if !(1...600_000).contains(responseTimeoutMs) { throw SerialConfigError("modbus_rtu response_timeout_ms \(responseTimeoutMs) must be 1...600000") }
        if !(0...100).contains(retries) { throw SerialConfigError("modbus_rtu retries \(retries) must be 0...100") }
        for r in registers {
            if r.address < 0 || r.address + r.type.registerCount > 0x10000 {
                throw SerialConfigError("modbus_rtu register \(r.address) (\(r.type)) is outside 0...65535")
            }
            try r.spec.validate(source: "modbus_rtu register \(r.address)")
        }
    }

    /// Requests covering the map: per table, registers merged into spans of at most 125.
    public func plan() -> [ModbusReadRequest] {
        var out: [ModbusReadRequest] = []
        for table in ModbusTable.allCases {
            let spans = registers.filter { $0.table == table }
                .map { ($0.address, $0.address + $0.type.registerCount) }
                .sorted { $0.0 < $1.0 }
            var current: (Int, Int)?
            for (lo, hi) in spans {
                if let (s, e) = current, hi - s <= 125 {
                    current = (s, max(e, hi))
                } else {
                    if let (s, e) = current {
                        out.append(ModbusReadRequest(slave: UInt8(slave), table: table, start: UInt16(s), count: UInt16(e - s)))
                    }
                    current = (lo, hi)
                }
            }
            if let (s, e) = current {
                out.append(ModbusReadRequest(slave: UInt8(slave), table: table, start: UInt16(s), count: UInt16(e - s)))
            }
        }
        return out
    }
}

/// Turns the answers of one poll into a sample. Pure.
public struct ModbusSampleDecoder: Sendable {
    public let config: ModbusRTUProtocolConfig
    public init(config: ModbusRTUProtocolConfig) { self.config = config }

    /// `answers` holds the registers each request of `config.plan()` returned (nil where
    /// the request failed). Registers of failed requests are missing fields.
    public func decode(
        answers: [(request: ModbusReadRequest, registers: [UInt16]?)], raw: String, hostArrivalNs: Nanoseconds
    ) -> Result<BMSSample, Rejection> {
        var builder = SampleBuilder()
        for reg in config.registers {
            guard let answer = answers.first(where: { a in
                a.request.table == reg.table && Int(a.request.start) <= reg.address
                    && reg.address + reg.type.registerCount <= Int(a.request.start) + Int(a.request.count)
            }), let regs = answer.registers else { continue }
            let offset = reg.address - Int(answer.request.start)
            let v = reg.value(from: regs[offset..<(offset + reg.type.registerCount)])
            if !v.isFinite {
                return .failure(Rejection(raw: raw, reason: "register \(reg.address) (\(reg.spec.field)): float32 is not finite"))
            }
            if let reason = builder.add(value: v, unit: "", spec: reg.spec, name: "register \(reg.address)", autoChannel: nil) {
                return .failure(Rejection(raw: raw, reason: reason))
            }
        }
        if let r = builder.missing(config.required) { return .failure(Rejection(raw: raw, reason: r)) }
        if builder.fieldCount == 0 { return .failure(Rejection(raw: raw, reason: "no register answered")) }
        return .success(builder.sample(hostArrivalNs: hostArrivalNs, raw: raw))
    }
}
