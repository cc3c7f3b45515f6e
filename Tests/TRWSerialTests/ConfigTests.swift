import Foundation
import Testing
import TRWCore
@testable import TRWSerial

/// The rig file (TOML, issue 8) decodes into these types; JSON stands in for it here
/// with the same keys and nesting.
@Suite struct ConfigTests {
    @Test func decodesAKeyValueInstrumentWithDefaults() throws {
        let json = #"""
        {"stream": "bms0",
         "port": {"path": "/dev/serial/by-id/usb-FTDI_X-if00-port0", "baud": 250000, "parity": "even",
                  "flow_control": "rts_cts", "rs485": {"rts_on_send": true, "delay_after_send_ms": 1}},
         "protocol": {"type": "key_value", "fields": {"U": "voltage_v", "Tc": {"field": "cell_temp_c", "channel": 3, "unit": "K"}},
                      "required": ["voltage_v"]},
         "silence_timeout_s": 2.5}
        """#
        let c = try JSONDecoder().decode(SerialInstrumentConfig.self, from: Data(json.utf8))
        #expect(c.stream == "bms0")
        #expect(c.port.baud == 250_000 && c.port.parity == .even && c.port.flowControl == .rtsCts)
        #expect(c.port.dataBits == 8 && c.port.stopBits == 1 && c.port.exclusive)
        #expect(c.port.rs485 == SerialRS485Config(rtsOnSend: true, delayAfterSendMs: 1))
        #expect(c.silenceTimeoutS == 2.5 && c.maxLineBytes == 1024)
        guard case let .keyValue(kv) = c.protocolConfig else { Issue.record("\(c.protocolConfig)"); return }
        #expect(kv.separator == "=" && kv.map.useDefaultNames)
        #expect(kv.map.fields["U"] == FieldSpec("voltage_v"))
        #expect(kv.map.fields["Tc"] == FieldSpec("cell_temp_c", unit: "K", channel: 3))
        #expect(kv.map.required == ["voltage_v"])
        try c.validate()
        // Encodes back to the same configuration.
        let again = try JSONDecoder().decode(SerialInstrumentConfig.self, from: JSONEncoder().encode(c))
        #expect(again == c)
    }

    @Test func decodesModbusAndSCPI() throws {
        let modbus = #"""
        {"type": "modbus_rtu", "slave": 7, "poll_period_s": 0.5, "response_timeout_ms": 300, "retries": 3,
         "registers": [{"address": 16, "table": "input", "type": "float32", "word_order": "little", "field": "voltage_v"},
                       {"address": 18, "type": "int16", "field": "current_a", "scale": 0.01}]}
        """#
        let m = try JSONDecoder().decode(SerialProtocolConfig.self, from: Data(modbus.utf8))
        guard case let .modbusRTU(mc) = m else { Issue.record("\(m)"); return }
        #expect(mc.slave == 7 && mc.pollPeriodS == 0.5 && mc.responseTimeoutMs == 300 && mc.retries == 3)
        #expect(mc.registers[0] == ModbusRegisterSpec(address: 16, table: .input, type: .float32, wordOrder: .littleEndian, spec: FieldSpec("voltage_v")))
        #expect(mc.registers[1].table == .holding && mc.registers[1].spec.scale == 0.01)
        #expect(try JSONDecoder().decode(SerialProtocolConfig.self, from: JSONEncoder().encode(m)) == m)

        let scpi = #"{"type": "scpi", "queries": [{"query": "MEAS:VOLT?", "field": "voltage_v"}, {"query": "MEAS:TEMP?", "field": "ambient_c"}]}"#
        let s = try JSONDecoder().decode(SerialProtocolConfig.self, from: Data(scpi.utf8))
        guard case let .scpi(sc) = s else { Issue.record("\(s)"); return }
        #expect(sc.queries.map(\.query) == ["MEAS:VOLT?", "MEAS:TEMP?"])
        #expect(sc.terminator == "\n" && sc.pollPeriodS == 1)
        #expect(s.pollPeriodS == 1)
    }

    @Test func unknownProtocolNamesTheChoices() {
        #expect {
            _ = try JSONDecoder().decode(SerialProtocolConfig.self, from: Data(#"{"type": "canbus"}"#.utf8))
        } throws: { error in
            "\(error)".contains("unknown serial protocol 'canbus'") && "\(error)".contains("modbus_rtu")
        }
    }

    @Test(arguments: [
        (SerialProtocolConfig.csv(CSVProtocolConfig(delimiter: ",,")), "delimiter"),
        (.csv(CSVProtocolConfig(header: false)), "columns"),
        (.keyValue(KeyValueProtocolConfig(separator: " ")), "separator"),
        (.keyValue(KeyValueProtocolConfig(map: FieldMapConfig(fields: ["V": FieldSpec("voltage_v", unit: "mA")]))), "not a voltage unit"),
        (.keyValue(KeyValueProtocolConfig(map: FieldMapConfig(fields: ["V": FieldSpec("voltage_v", channel: 2)]))), "channel"),
        (.jsonLines(JSONLinesProtocolConfig(map: FieldMapConfig(useDefaultNames: false))), "nothing would decode"),
        (.modbusRTU(ModbusRTUProtocolConfig(slave: 0, registers: [ModbusRegisterSpec(address: 0, spec: FieldSpec("soc"))])), "slave 0"),
        (.modbusRTU(ModbusRTUProtocolConfig(registers: [])), "register map is empty"),
        (.modbusRTU(ModbusRTUProtocolConfig(registers: [ModbusRegisterSpec(address: 65535, type: .int32, spec: FieldSpec("soc"))])), "outside 0...65535"),
        (.scpi(SCPIProtocolConfig(queries: [SCPIQuerySpec(query: "A?\nB?", spec: FieldSpec("voltage_v"))])), "one non-empty line"),
        (.scpi(SCPIProtocolConfig(pollPeriodS: 0)), "poll_period_s"),
    ])
    func invalidProtocolConfigSaysWhatIsWrong(config: SerialProtocolConfig, message: String) {
        #expect {
            try config.validate()
        } throws: { error in
            "\(error)".contains(message)
        }
    }

    @Test func sourceRefusesAnInvalidConfigBeforeOpening() {
        var c = instrument("/dev/null", .keyValue(KeyValueProtocolConfig()))
        c.silenceTimeoutS = 0
        #expect { _ = try SerialInstrumentSource(config: c) } throws: { "\($0)".contains("silence_timeout_s") }
    }
}

/// A full recorder queue: the source keeps going and counts what was refused.
@Suite struct BackpressureTests {
    final class RefusingSink: SampleSink {
        func emit(_ event: SourceEvent, stream: String, mode: EmitMode) -> Bool {
            precondition(mode == .dropIfFull, "a device source must never block")
            return false
        }
    }

    @Test func refusedEventsAreCountedNotFatal() throws {
        let pty = try PseudoTerminal()
        defer { pty.close() }
        let source = try SerialInstrumentSource(config: instrument(pty.slavePath, .keyValue(KeyValueProtocolConfig())))
        let runner = SourceRunner(source, sink: RefusingSink())
        pty.send("V=1\nV=2\nbad\n")
        #expect(eventually { source.statistics.dropped == 3 })
        #expect(runner.stop())
        #expect(source.statistics.samples == 2 && source.statistics.rejected == 1)
    }
}
