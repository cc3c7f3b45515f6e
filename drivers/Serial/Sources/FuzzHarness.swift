import TRWCore

/// What a fuzz or property run fed through the decoders and what became of it.
public struct DecoderFuzzTally: Sendable, Equatable, CustomStringConvertible {
    public var inputs: Int64 = 0
    public var bytes: Int64 = 0
    /// Lines framed (per line decoder) and what each became.
    public var lines: Int64 = 0
    public var samples: Int64 = 0
    public var headers: Int64 = 0
    public var ignored: Int64 = 0
    public var rejected: Int64 = 0
    /// Modbus responses parsed and what each became.
    public var modbusFrames: Int64 = 0
    public var modbusRegisters: Int64 = 0
    public var modbusExceptions: Int64 = 0
    public var modbusInvalid: Int64 = 0
    public var modbusIncomplete: Int64 = 0
    /// SCPI polls decoded: samples or rejections.
    public var scpiPolls: Int64 = 0
    public var scpiSamples: Int64 = 0
    public var scpiRejected: Int64 = 0

    public init() {}

    /// Every line and frame ended as a sample or a counted rejection (or header/blank).
    public var isFullyAccounted: Bool {
        lines == samples + headers + ignored + rejected
            && modbusFrames == modbusRegisters + modbusExceptions + modbusInvalid + modbusIncomplete
            && scpiPolls == scpiSamples + scpiRejected
    }

    public var description: String {
        "\(inputs) inputs, \(bytes) bytes; lines \(lines) = \(samples) samples + \(headers) headers + \(ignored) ignored + \(rejected) rejected; "
            + "modbus \(modbusFrames) = \(modbusRegisters) ok + \(modbusExceptions) exceptions + \(modbusInvalid) invalid + \(modbusIncomplete) incomplete; "
            + "scpi \(scpiPolls) = \(scpiSamples) samples + \(scpiRejected) rejected"
    }
}

/// Runs every decoder over arbitrary bytes and traps on a broken invariant. Shared by
/// the randomized property test (TRWSerialTests) and the libFuzzer target (trw-fuzz-serial).
///
/// Invariants: no crash; the outcome does not depend on how the bytes are split across
/// reads; every line is exactly one outcome; samples hold only finite values (NaN only as
/// a missing cell-temperature channel); a rejection keeps its bytes, escaped reversibly;
/// a Modbus parse, once decided, does not change with more bytes.
public enum DecoderFuzzHarness {
    static let kvFields: [String: FieldSpec] = [
        "V": FieldSpec("voltage_v", range: -100...1000), "mv": FieldSpec("voltage_v", unit: "mV"),
        "T9": FieldSpec("cell_temp_c", unit: "K", channel: 9),
    ]

    public static func check(_ data: [UInt8], tally: inout DecoderFuzzTally) {
        tally.inputs += 1
        tally.bytes += Int64(data.count)
        let split = data.isEmpty ? 0 : Int(data[0]) % (data.count + 1)
        lines(data, split: split, decoder: KeyValueLineDecoder(config: KeyValueProtocolConfig(map: FieldMapConfig(fields: kvFields))), tally: &tally)
        lines(data, split: split, decoder: CSVLineDecoder(config: CSVProtocolConfig()), tally: &tally)
        lines(data, split: split, decoder: CSVLineDecoder(config: CSVProtocolConfig(
            delimiter: ";", header: false, columns: ["t", "V", "I", "T1", "x"])), tally: &tally)
        lines(data, split: split, decoder: JSONLineDecoder(config: JSONLinesProtocolConfig()), tally: &tally)
        modbus(data, tally: &tally)
        scpi(data, tally: &tally)
        let escaped = escapeRaw(data)
        precondition(unescapeRaw(escaped) == data, "escapeRaw is not reversible for \(hexString(data))")
    }

    private static func lines(_ data: [UInt8], split: Int, decoder: some BMSLineDecoder, tally: inout DecoderFuzzTally) {
        func run(_ chunks: [ArraySlice<UInt8>]) -> (outcomes: [LineOutcome], events: Int) {
            var d = decoder
            var framer = LineFramer(maxLineBytes: 96)
            var outcomes: [LineOutcome] = []
            var events = 0
            for c in chunks {
                framer.push(c) { event, _ in
                    events += 1
                    switch event {
                    case let .line(l): outcomes.append(d.decode(line: l, hostArrivalNs: 1))
                    case let .overlong(p):
                        precondition(p.count == 96, "overlong prefix of \(p.count) bytes")
                        outcomes.append(.rejected(Rejection(raw: escapeRaw(p), reason: "overlong")))
                    }
                }
                precondition(framer.pendingCount <= 96, "framer holds \(framer.pendingCount) bytes")
            }
            return (outcomes, events)
        }
        let whole = run([data[...]])
        let parts = run([data[..<split], data[split...]])
        precondition(whole.outcomes.count == whole.events, "a line without an outcome")
        precondition(whole.outcomes.count == parts.outcomes.count && zip(whole.outcomes, parts.outcomes).allSatisfy(sameOutcome),
                     "outcome depends on the split at \(split) for \(hexString(data))")
        for o in whole.outcomes {
            tally.lines += 1
            switch o {
            case let .sample(s):
                tally.samples += 1
                let values = [s.voltageV, s.currentA, s.ambientC, s.soc, s.deviceTimeS].compactMap { $0 } + Array(s.extra.values)
                precondition(values.allSatisfy(\.isFinite), "non-finite value in \(s)")
                precondition(s.cellTempsC.allSatisfy { $0.isNaN || ($0.isFinite && $0 >= -273.15) }, "bad cell temperature in \(s)")
                precondition(s.cellTempsC.isEmpty || !s.cellTempsC.last!.isNaN, "trailing missing channel in \(s)")
                precondition(unescapeRaw(s.raw) != nil, "raw not escaped: \(s.raw)")
            case .header: tally.headers += 1
            case .ignored: tally.ignored += 1
            case let .rejected(r):
                tally.rejected += 1
                precondition(!r.reason.isEmpty, "rejection without a reason")
                precondition(unescapeRaw(r.raw.hasSuffix("...") ? String(r.raw.dropLast(3)) : r.raw) != nil, "rejected raw not escaped: \(r.raw)")
            }
        }
    }

    /// Equality where a missing channel (NaN) equals a missing channel.
    static func sameOutcome(_ a: LineOutcome, _ b: LineOutcome) -> Bool {
        guard case let .sample(x) = a, case let .sample(y) = b else { return a == b }
        var x2 = x, y2 = y
        x2.cellTempsC = x.cellTempsC.map { $0.isNaN ? -999 : $0 }
        y2.cellTempsC = y.cellTempsC.map { $0.isNaN ? -999 : $0 }
        return x2 == y2
    }

    private static func modbus(_ data: [UInt8], tally: inout DecoderFuzzTally) {
        guard data.count >= 2 else { return }
        let request = ModbusReadRequest(
            slave: data[0], table: data[1] & 1 == 0 ? .holding : .input, start: 0, count: UInt16((data[1] >> 1) % 125) + 1)
        let body = Array(data.dropFirst(2))
        var decided: ModbusResponse?
        for n in 0...body.count {
            let r = parseModbusResponse(Array(body.prefix(n)), for: request)
            if let decided {
                // The decision holds; an invalid frame may show more of its bytes as they arrive.
                let same: Bool
                if case let .invalid(a, _) = decided, case let .invalid(b, _) = r { same = a == b } else { same = r == decided }
                precondition(same, "Modbus parse changed with more bytes: \(decided) -> \(r)")
            } else if r != .incomplete {
                decided = r
            }
        }
        tally.modbusFrames += 1
        switch decided ?? .incomplete {
        case .incomplete: tally.modbusIncomplete += 1
        case let .registers(regs, frame):
            precondition(regs.count == Int(request.count) && frame.count == request.responseLength && ModbusRTU.crc16(frame) == 0)
            tally.modbusRegisters += 1
            let c = ModbusRTUProtocolConfig(registers: [
                ModbusRegisterSpec(address: 0, type: .float32, wordOrder: data[1] & 2 == 0 ? .bigEndian : .littleEndian,
                                   spec: FieldSpec("voltage_v", scale: 0.001)),
            ])
            let plan = ModbusReadRequest(slave: request.slave, table: .holding, start: 0, count: max(2, request.count))
            let regs2 = regs.count >= 2 ? regs : regs + [0]
            _ = ModbusSampleDecoder(config: c).decode(answers: [(plan, Array(regs2))], raw: hexString(frame), hostArrivalNs: 0)
        case let .exception(_, frame):
            precondition(frame.count == 5 && ModbusRTU.crc16(frame) == 0)
            tally.modbusExceptions += 1
        case let .invalid(reason, _):
            precondition(!reason.isEmpty)
            tally.modbusInvalid += 1
        }
    }

    private static func scpi(_ data: [UInt8], tally: inout DecoderFuzzTally) {
        var answers: [[UInt8]] = []
        var framer = LineFramer(maxLineBytes: 96)
        framer.push(data) { e, _ in
            switch e {
            case let .line(l): answers.append(l)
            case let .overlong(p): answers.append(p)
            }
        }
        let config = SCPIProtocolConfig()
        let decoder = SCPIAnswerDecoder(config: config)
        var i = 0
        while i < answers.count {
            let pair: [(query: SCPIQuerySpec, line: [UInt8]?)] = [
                (config.queries[0], answers[i]), (config.queries[1], i + 1 < answers.count ? answers[i + 1] : nil),
            ]
            tally.scpiPolls += 1
            switch decoder.decode(answers: pair, hostArrivalNs: 0) {
            case let .success(s):
                precondition([s.voltageV, s.currentA].compactMap { $0 }.allSatisfy(\.isFinite))
                tally.scpiSamples += 1
            case let .failure(r):
                precondition(!r.reason.isEmpty)
                tally.scpiRejected += 1
            }
            i += 2
        }
    }
}
