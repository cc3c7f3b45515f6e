import Foundation
import Testing
import TRWCore
@testable import TRWSerial

@Suite struct SCPIDecoderTests {
    let decoder = SCPIAnswerDecoder(config: SCPIProtocolConfig())

    @Test(arguments: [
        ("+4.21300E+00", "1.502", 4.213, 1.502),
        ("4.213V", "1502mA", 4.213, 1.502),
        ("4.213,OK", " 1.502 ", 4.213, 1.502),
    ])
    func decodesAnswers(volt: String, curr: String, v: Double, i: Double) {
        let q = SCPIProtocolConfig.defaultQueries
        let result = decoder.decode(answers: [(q[0], Array(volt.utf8)), (q[1], Array(curr.utf8))], hostArrivalNs: 9)
        guard case let .success(s) = result else { Issue.record("\(result)"); return }
        #expect(abs(s.voltageV! - v) < 1e-12 && abs(s.currentA! - i) < 1e-12)
        #expect(s.raw == "MEAS:VOLT? -> \(volt); MEAS:CURR? -> \(curr)")
        #expect(s.hostArrivalNs == 9)
    }

    @Test(arguments: [
        ("9.9E37", "overflow/NaN"),
        ("-113,\"Undefined header\"", "outside the plausible range"),
        ("ERR", "is not a number"),
        ("4.2A", "is a current unit"),
    ])
    func rejectsBadAnswers(volt: String, reason: String) {
        var config = SCPIProtocolConfig()
        config.queries[0].spec.range = [-1, 100]
        let q = config.queries
        let result = SCPIAnswerDecoder(config: config).decode(answers: [(q[0], Array(volt.utf8)), (q[1], Array("1.5".utf8))], hostArrivalNs: 0)
        guard case let .failure(r) = result else { Issue.record("accepted \(volt)"); return }
        #expect(r.reason.contains(reason), "\(r.reason)")
    }

    @Test func missingAnswerIsAMissingField() {
        let q = SCPIProtocolConfig.defaultQueries
        let d = SCPIAnswerDecoder(config: SCPIProtocolConfig(required: ["voltage_v", "current_a"]))
        guard case let .failure(r) = d.decode(answers: [(q[0], Array("4.2".utf8)), (q[1], nil)], hostArrivalNs: 0) else {
            Issue.record("accepted"); return
        }
        #expect(r.reason.contains("current_a"))
        #expect(r.raw.contains("MEAS:CURR? -> (no answer)"))
    }
}

@Suite struct SCPISourceTests {
    func config(_ path: String, retries: Int = 1, silenceS: Double = 5) -> SerialInstrumentConfig {
        instrument(path, .scpi(SCPIProtocolConfig(pollPeriodS: 0.02, responseTimeoutMs: 500, retries: retries)),
                   baud: 9600, silenceS: silenceS)
    }

    @Test func pollsTheSupply() throws {
        let pty = try PseudoTerminal()
        defer { pty.close() }
        let psu = SCPISupplySimulator(pty: pty)
        defer { psu.shutdown() }
        let source = try SerialInstrumentSource(config: config(pty.slavePath))
        let sink = RecordingSink()
        let runner = SourceRunner(source, sink: sink)
        #expect(sink.wait { $0.samples.count >= 2 })
        #expect(runner.stop())
        let s = sink.samples[0]
        #expect(s.voltageV == 4.2 && s.currentA == 1.5)
        #expect(s.raw == "MEAS:VOLT? -> +4.20000E+00; MEAS:CURR? -> 1.5000")
        #expect(Array(psu.queries.prefix(3)) == ["*IDN?", "MEAS:VOLT?", "MEAS:CURR?"])
        #expect(source.streams.first?.properties["identity"] == "TRW,SIM-PSU,0001,1.0")
    }

    /// An error answer is rejected and kept; a silent query is retried.
    @Test func errorAnswerRejectedSilentQueryRetried() throws {
        let pty = try PseudoTerminal()
        defer { pty.close() }
        let psu = SCPISupplySimulator(pty: pty, script: [.text("-222,\"Data out of range\"\n"), .answer, .answer, .silent, .answer])
        defer { psu.shutdown() }
        var config = config(pty.slavePath)
        if case var .scpi(c) = config.protocolConfig {
            c.queries[0].spec.range = [-1, 100]
            config.protocolConfig = .scpi(c)
        }
        let source = try SerialInstrumentSource(config: config)
        let sink = RecordingSink()
        let runner = SourceRunner(source, sink: sink)
        #expect(sink.wait { $0.samples.count >= 2 })
        #expect(runner.stop())
        let gap = sink.gaps.first
        #expect(gap?.kind == .parseError)
        #expect(gap?.detail.contains("-222") == true, "\(gap?.detail ?? "")")
        #expect(source.statistics.retried >= 1)
        #expect(sink.samples[0].currentA == 1.5)
    }

    @Test func garbageAndOverlongAnswersAreRejected() throws {
        let pty = try PseudoTerminal()
        defer { pty.close() }
        let psu = SCPISupplySimulator(pty: pty, script: [.text("\u{00}\u{FF}\n"), .answer, .text(String(repeating: "9", count: 3000) + "\n"), .answer])
        defer { psu.shutdown() }
        let source = try SerialInstrumentSource(config: config(pty.slavePath))
        let sink = RecordingSink()
        let runner = SourceRunner(source, sink: sink)
        #expect(sink.wait { $0.samples.count >= 1 && $0.gaps.count >= 2 })
        #expect(runner.stop())
        #expect(sink.gaps.prefix(2).allSatisfy { $0.kind == .parseError })
        #expect(source.statistics.rejected >= 2)
    }

    @Test func supplySwitchedOffGivesTimeoutThenLossOnHangup() throws {
        let pty = try PseudoTerminal()
        let psu = SCPISupplySimulator(pty: pty, script: Array(repeating: .silent, count: 10_000))
        let source = try SerialInstrumentSource(config: config(pty.slavePath, retries: 0, silenceS: 0.1))
        let sink = RecordingSink()
        let runner = SourceRunner(source, sink: sink)
        #expect(sink.wait { $0.gaps.contains { $0.kind == .timeout } })
        psu.shutdown()
        pty.close()
        #expect(sink.wait { $0.gaps.contains { $0.kind == .deviceLoss } })
        #expect(runner.stop())
        #expect(sink.samples.isEmpty)
        #expect(source.statistics.unanswered >= 1)
    }

    @Test func stopIsPromptBetweenSlowPolls() throws {
        let pty = try PseudoTerminal()
        defer { pty.close() }
        let psu = SCPISupplySimulator(pty: pty)
        defer { psu.shutdown() }
        let source = try SerialInstrumentSource(config: instrument(
            pty.slavePath, .scpi(SCPIProtocolConfig(pollPeriodS: 60, responseTimeoutMs: 500)), baud: 9600, silenceS: 120))
        let sink = RecordingSink()
        let runner = SourceRunner(source, sink: sink)
        #expect(sink.wait { $0.samples.count == 1 })
        #expect(runner.stop(timeoutS: 3))
    }

    func switchable(_ path: String, check: String? = "OUTP?", pollS: Double = 0.2) throws -> SerialInstrumentSource {
        try SerialInstrumentSource(config: instrument(
            path, .scpi(SCPIProtocolConfig(pollPeriodS: pollS, responseTimeoutMs: 300, outputOff: ["OUTP OFF"], outputOffCheck: check)),
            baud: 9600, silenceS: 30))
    }

    /// Issue 20: `--on-alarm supply-off` on a real supply: the commands go out between polls on
    /// the device thread, the check query confirms, the next poll reads 0 A.
    @Test func supplyOffIsSentBetweenPollsAndConfirmed() throws {
        let pty = try PseudoTerminal()
        defer { pty.close() }
        let psu = SCPISupplySimulator(pty: pty)
        defer { psu.shutdown() }
        let source = try switchable(pty.slavePath)
        #expect(source.canSwitchSupplyOff)
        let sink = RecordingSink()
        let runner = SourceRunner(source, sink: sink)
        #expect(sink.wait { $0.samples.count >= 1 })
        let outcome = try source.switchSupplyOff(reason: "test alarm")
        #expect(outcome == "sent OUTP OFF to \(pty.slavePath); OUTP? -> 0", "\(outcome)")
        #expect(!psu.outputOn)
        let before = sink.samples.count
        #expect(sink.wait { $0.samples.count > before && $0.samples.last?.currentA == 0 })
        #expect(runner.stop())
        #expect(psu.queries.contains("OUTP OFF") && psu.queries.contains("OUTP?"))
    }

    /// A supply that ignores the command is reported as such, never as switched off.
    @Test func aSupplyThatStaysOnIsAFailure() throws {
        let pty = try PseudoTerminal()
        defer { pty.close() }
        let psu = SCPISupplySimulator(pty: pty)
        defer { psu.shutdown() }
        psu.refuseOutputOff()
        let source = try switchable(pty.slavePath)
        let sink = RecordingSink()
        let runner = SourceRunner(source, sink: sink)
        #expect(sink.wait { $0.samples.count >= 1 })
        #expect { try source.switchSupplyOff(reason: "test") } throws: { e in
            "\(e)".contains("OUTP? answered '1', not 0 or OFF")
        }
        #expect(runner.stop())
    }

    /// Not configured, not recording, or a silent check: clear errors within a bounded wait.
    @Test func supplyOffErrorsAreBounded() throws {
        let pty = try PseudoTerminal()
        defer { pty.close() }
        let psu = SCPISupplySimulator(pty: pty)
        defer { psu.shutdown() }
        let plain = try SerialInstrumentSource(config: config(pty.slavePath))
        #expect(!plain.canSwitchSupplyOff)
        #expect { try plain.switchSupplyOff(reason: "x") } throws: { "\($0)".contains("has no output_off commands") }
        let source = try switchable(pty.slavePath, check: "OUTP:STAT?")  // the simulator answers this with an error
        #expect { try source.switchSupplyOff(reason: "x") } throws: { "\($0)".contains("is not being recorded") }
        let sink = RecordingSink()
        let runner = SourceRunner(source, sink: sink)
        #expect(sink.wait { $0.samples.count >= 1 })
        let t0 = Date()
        #expect { try source.switchSupplyOff(reason: "x") } throws: { "\($0)".contains("OUTP:STAT? answered '-113") }
        #expect(Date().timeIntervalSince(t0) < 5)
        #expect(runner.stop())
        // Bad configurations are refused before anything opens.
        for (cfg, words) in [(SCPIProtocolConfig(outputOff: ["OUTP OFF\nOUTP ON"]), "one non-empty line"),
                             (SCPIProtocolConfig(outputOffCheck: "OUTP?"), "needs output_off commands"),
                             (SCPIProtocolConfig(outputOff: ["OUTP OFF"], outputOffCheck: "OUTP"), "ending in '?'")] {
            #expect { try cfg.validate() } throws: { "\($0)".contains(words) }
        }
    }
}
