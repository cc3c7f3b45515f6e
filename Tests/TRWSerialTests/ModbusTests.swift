import Foundation
import Testing
import TRWCore
@testable import TRWSerial

@Suite struct ModbusFramingTests {
    /// Reference frames from the Modbus over serial line guide and common tools.
    @Test(arguments: [
        ([0x01, 0x03, 0x00, 0x00, 0x00, 0x0A] as [UInt8], UInt16(0xCDC5)),  // wire: C5 CD
        ([0x11, 0x03, 0x00, 0x6B, 0x00, 0x03], UInt16(0x8776)),              // wire: 76 87
        ([0x01, 0x04, 0x00, 0x00, 0x00, 0x01], UInt16(0xCA31)),              // wire: 31 CA
    ])
    func crcMatchesReferenceFrames(pdu: [UInt8], crc: UInt16) {
        #expect(ModbusRTU.crc16(pdu) == crc)
        #expect(ModbusRTU.crc16(ModbusRTU.withCRC(pdu)) == 0)
    }

    @Test func requestFrame() {
        let r = ModbusReadRequest(slave: 0x11, table: .holding, start: 0x006B, count: 3)
        #expect(r.frame == [0x11, 0x03, 0x00, 0x6B, 0x00, 0x03, 0x76, 0x87])
        #expect(r.responseLength == 11)
    }

    @Test func parsesResponseAtEveryLength() {
        let r = ModbusReadRequest(slave: 0x11, table: .holding, start: 0x006B, count: 3)
        let frame = ModbusRTU.withCRC([0x11, 0x03, 0x06, 0xAE, 0x41, 0x56, 0x52, 0x43, 0x40])
        for n in 0..<frame.count {
            #expect(parseModbusResponse(Array(frame.prefix(n)), for: r) == .incomplete, "prefix \(n)")
        }
        #expect(parseModbusResponse(frame + [0x00], for: r) == .registers([0xAE41, 0x5652, 0x4340], frame: frame))
    }

    @Test func parsesExceptionAndRejectsBadFrames() {
        let r = ModbusReadRequest(slave: 1, table: .input, start: 0, count: 2)
        let exc = ModbusRTU.withCRC([0x01, 0x84, 0x02])
        #expect(parseModbusResponse(exc, for: r) == .exception(code: 2, frame: exc))
        var bad = ModbusRTU.withCRC([0x01, 0x04, 0x04, 0, 1, 0, 2])
        bad[bad.count - 1] ^= 0x55
        guard case let .invalid(reason, _) = parseModbusResponse(bad, for: r) else { Issue.record("bad CRC accepted"); return }
        #expect(reason.contains("CRC"))
        guard case let .invalid(r2, _) = parseModbusResponse(ModbusRTU.withCRC([0x02, 0x04, 0x04, 0, 1, 0, 2]), for: r) else {
            Issue.record("wrong slave accepted"); return
        }
        #expect(r2.contains("slave 2, expected 1"))
        guard case let .invalid(r3, _) = parseModbusResponse(ModbusRTU.withCRC([0x01, 0x04, 0x02, 0, 1]), for: r) else {
            Issue.record("wrong byte count accepted"); return
        }
        #expect(r3.contains("byte count 2, expected 4"))
        guard case let .invalid(r4, _) = parseModbusResponse([0x01, 0x03, 4], for: r) else {
            Issue.record("wrong function accepted"); return
        }
        #expect(r4.contains("function 0x03, expected 0x04"))
    }

    @Test(arguments: [
        (ModbusValueType.uint16, ModbusWordOrder.bigEndian, [0xFFFE] as [UInt16], 65534.0),
        (.int16, .bigEndian, [0xFFFE], -2.0),
        (.int32, .bigEndian, [0xFFFF, 0xFFFE], -2.0),
        (.int32, .littleEndian, [0xFFFE, 0xFFFF], -2.0),
        (.uint32, .bigEndian, [0x0001, 0x0000], 65536.0),
        (.uint32, .littleEndian, [0x0000, 0x0001], 65536.0),
        (.float32, .bigEndian, [0x4086, 0xD917], Double(Float(4.214))),
        (.float32, .littleEndian, [0xD917, 0x4086], Double(Float(4.214))),
    ])
    func decodesRegisterValues(type: ModbusValueType, order: ModbusWordOrder, regs: [UInt16], value: Double) {
        let spec = ModbusRegisterSpec(address: 0, type: type, wordOrder: order, spec: FieldSpec("x"))
        #expect(spec.value(from: regs[...]) == value)
    }

    @Test func planMergesRegistersPerTableWithinTheLimit() {
        let c = ModbusRTUProtocolConfig(registers: [
            ModbusRegisterSpec(address: 0, spec: FieldSpec("voltage_v")),
            ModbusRegisterSpec(address: 1, type: .int32, spec: FieldSpec("current_a")),
            ModbusRegisterSpec(address: 200, spec: FieldSpec("soc")),
            ModbusRegisterSpec(address: 10, table: .input, type: .float32, spec: FieldSpec("cell_temp_c")),
        ])
        #expect(c.plan() == [
            ModbusReadRequest(slave: 1, table: .holding, start: 0, count: 3),
            ModbusReadRequest(slave: 1, table: .holding, start: 200, count: 1),
            ModbusReadRequest(slave: 1, table: .input, start: 10, count: 2),
        ])
    }

    @Test func scalesThroughTheRegisterMap() {
        let c = ModbusRTUProtocolConfig(registers: [
            ModbusRegisterSpec(address: 0, spec: FieldSpec("voltage_v", unit: "mV")),
            ModbusRegisterSpec(address: 1, type: .int16, spec: FieldSpec("current_a", scale: 0.01)),
            ModbusRegisterSpec(address: 2, type: .int16, spec: FieldSpec("cell_temp_c", scale: 0.1, offset: -40)),
        ])
        let answers: [(request: ModbusReadRequest, registers: [UInt16]?)] = [
            (c.plan()[0], [4213, UInt16(bitPattern: -150), 653])]
        guard case let .success(s) = ModbusSampleDecoder(config: c).decode(answers: answers, raw: "r", hostArrivalNs: 5) else {
            Issue.record("did not decode"); return
        }
        #expect(abs(s.voltageV! - 4.213) < 1e-12)
        #expect(abs(s.currentA! - (-1.5)) < 1e-12)
        #expect(abs(s.cellTempsC[0] - 25.3) < 1e-9)
        #expect(s.hostArrivalNs == 5 && s.raw == "r")
    }
}

@Suite struct ModbusSourceTests {
    static let registers = [
        ModbusRegisterSpec(address: 0x10, table: .holding, type: .uint16, spec: FieldSpec("voltage_v", unit: "mV")),
        ModbusRegisterSpec(address: 0x11, table: .holding, type: .int32, wordOrder: .littleEndian, spec: FieldSpec("current_a", unit: "mA")),
        ModbusRegisterSpec(address: 0x00, table: .input, type: .float32, spec: FieldSpec("cell_temp_c")),
    ]
    static let holding: [UInt16: UInt16] = [0x10: 4213, 0x11: 1502, 0x12: 0]
    static let input: [UInt16: UInt16] = [0x00: 0x41CA, 0x01: 0x6666]  // 25.3f

    func config(_ path: String, retries: Int = 2, timeoutMs: Int = 1000) -> SerialInstrumentConfig {
        instrument(path, .modbusRTU(ModbusRTUProtocolConfig(
            slave: 1, registers: Self.registers, pollPeriodS: 0.02, responseTimeoutMs: timeoutMs, retries: retries)),
            baud: 19200, silenceS: 5)
    }

    @Test func pollsTheRegisterMap() throws {
        let pty = try PseudoTerminal()
        defer { pty.close() }
        let slave = ModbusSlaveSimulator(pty: pty, holding: Self.holding, input: Self.input)
        defer { slave.shutdown() }
        let source = try SerialInstrumentSource(config: config(pty.slavePath))
        #expect(source.streams.first?.format == "modbus_rtu")
        #expect(source.streams.first?.nominalRateHz == 50)
        let sink = RecordingSink()
        let runner = SourceRunner(source, sink: sink)
        #expect(sink.wait { $0.samples.count >= 3 })
        #expect(runner.stop())
        let s = sink.samples[0]
        #expect(abs(s.voltageV! - 4.213) < 1e-12)
        #expect(abs(s.currentA! - 1.502) < 1e-12)
        #expect(abs(s.cellTempsC[0] - 25.3) < 1e-5)
        #expect(s.raw.hasPrefix("01 03 06"), "\(s.raw)")
        #expect(sink.gaps.isEmpty)
        #expect(slave.requests.first == ModbusReadRequest(slave: 1, table: .holding, start: 0x10, count: 3).frame)
    }

    /// A bad CRC and a silent request are retried; the poll still yields a sample.
    @Test(arguments: [ModbusSlaveSimulator.Behavior.badCRC, .silent, .wrongSlave, .truncated])
    func retriesAfterAFault(fault: ModbusSlaveSimulator.Behavior) throws {
        let pty = try PseudoTerminal()
        defer { pty.close() }
        let slave = ModbusSlaveSimulator(pty: pty, holding: Self.holding, input: Self.input, script: [fault])
        defer { slave.shutdown() }
        let source = try SerialInstrumentSource(config: config(pty.slavePath, timeoutMs: 60))
        let sink = RecordingSink()
        let runner = SourceRunner(source, sink: sink)
        #expect(sink.wait { $0.samples.count >= 1 })
        #expect(runner.stop())
        #expect(source.statistics.retried >= 1)
        #expect(sink.gaps.isEmpty)
        #expect(slave.requests.count >= 3)
        #expect(abs(sink.samples[0].voltageV! - 4.213) < 1e-12)
    }

    /// Faults on every try: the frame is rejected and counted, the rest of the map still recorded.
    @Test func persistentBadCRCIsRejectedAndKept() throws {
        let pty = try PseudoTerminal()
        defer { pty.close() }
        let slave = ModbusSlaveSimulator(pty: pty, holding: Self.holding, input: Self.input, script: [.badCRC, .badCRC])
        defer { slave.shutdown() }
        let source = try SerialInstrumentSource(config: config(pty.slavePath, retries: 1))
        let sink = RecordingSink()
        let runner = SourceRunner(source, sink: sink)
        #expect(sink.wait { $0.samples.count >= 2 })
        #expect(runner.stop())
        let gap = sink.gaps.first
        #expect(gap?.kind == .parseError)
        #expect(gap?.detail.contains("CRC") == true && gap?.detail.contains("after 2 tries") == true, "\(gap?.detail ?? "")")
        // The first poll lost the holding block but kept the input register.
        let first = sink.samples[0]
        #expect(first.voltageV == nil && abs(first.cellTempsC[0] - 25.3) < 1e-5)
        #expect(source.recentRejections.first?.raw.hasPrefix("01 03 06") == true)
    }

    @Test func exceptionResponseIsRejectedWithItsName() throws {
        let pty = try PseudoTerminal()
        defer { pty.close() }
        let slave = ModbusSlaveSimulator(pty: pty, holding: Self.holding, input: Self.input, script: [.exception(2)])
        defer { slave.shutdown() }
        let source = try SerialInstrumentSource(config: config(pty.slavePath))
        let sink = RecordingSink()
        let runner = SourceRunner(source, sink: sink)
        #expect(sink.wait { $0.samples.count >= 2 })
        #expect(runner.stop())
        #expect(sink.gaps.first?.detail.contains("exception 2 (illegal data address)") == true)
        #expect(source.statistics.retried == 0)  // exceptions are answers, not retried
    }

    /// A slave that stops answering: unanswered requests counted, one `.timeout` gap.
    @Test func silentSlaveGivesTimeoutGap() throws {
        let pty = try PseudoTerminal()
        defer { pty.close() }
        let slave = ModbusSlaveSimulator(pty: pty, holding: Self.holding, input: Self.input,
                                         script: [.answer, .answer] + Array(repeating: .silent, count: 10_000))
        defer { slave.shutdown() }
        var c = config(pty.slavePath, retries: 0, timeoutMs: 300)
        c.silenceTimeoutS = 0.15
        let source = try SerialInstrumentSource(config: c)
        let sink = RecordingSink()
        let runner = SourceRunner(source, sink: sink)
        #expect(sink.wait { $0.gaps.contains { $0.kind == .timeout } })
        #expect(runner.stop())
        #expect(sink.samples.count == 1)
        #expect(sink.gaps.filter { $0.kind == .timeout }.count == 1)
        #expect(source.statistics.unanswered >= 2)
    }
}
