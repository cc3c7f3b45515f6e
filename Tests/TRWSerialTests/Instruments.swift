import Foundation
import Synchronization
@testable import TRWSerial

#if canImport(Glibc)
import Glibc
#endif

/// A Modbus RTU slave played on the master side of a pty, answering read requests
/// from its register tables, misbehaving as told for each request in turn.
final class ModbusSlaveSimulator: Sendable {
    enum Behavior: Sendable, Equatable {
        case answer
        case silent
        case badCRC
        case exception(UInt8)
        case wrongSlave
        /// Half the frame, then nothing.
        case truncated
    }

    let pty: PseudoTerminal
    let slave: UInt8
    private let state: Mutex<State>
    private let done = DispatchSemaphore(value: 0)

    struct State {
        var holding: [UInt16: UInt16] = [:]
        var input: [UInt16: UInt16] = [:]
        var script: [Behavior] = []
        var requests: [[UInt8]] = []
        var stop = false
    }

    init(pty: PseudoTerminal, slave: UInt8 = 1, holding: [UInt16: UInt16] = [:], input: [UInt16: UInt16] = [:],
         script: [Behavior] = []) {
        self.pty = pty
        self.slave = slave
        self.state = Mutex(State(holding: holding, input: input, script: script))
        Thread { [self] in self.serve(); self.done.signal() }.start()
    }

    var requests: [[UInt8]] { state.withLock { $0.requests } }

    func set(holding address: UInt16, _ value: UInt16) { state.withLock { $0.holding[address] = value } }

    func shutdown() {
        state.withLock { $0.stop = true }
        _ = done.wait(timeout: .now() + 2)
    }

    private func serve() {
        var pending: [UInt8] = []
        while !state.withLock({ $0.stop }) {
            pending += pty.receive(count: 8 - pending.count % 8, timeoutMs: 20)
            while pending.count >= 8 {
                let req = Array(pending.prefix(8))
                pending.removeFirst(8)
                let (behavior, reply) = state.withLock { s -> (Behavior, [UInt8]) in
                    s.requests.append(req)
                    let b = s.script.isEmpty ? .answer : s.script.removeFirst()
                    return (b, Self.reply(to: req, slave: slave, holding: s.holding, input: s.input))
                }
                switch behavior {
                case .answer: pty.send(reply)
                case .silent: break
                case .badCRC:
                    var r = reply
                    r[r.count - 1] ^= 0xFF
                    pty.send(r)
                case let .exception(code): pty.send(ModbusRTU.withCRC([slave, req[1] | 0x80, code]))
                case .wrongSlave:
                    var r = Array(reply.dropLast(2))
                    r[0] = slave &+ 1
                    pty.send(ModbusRTU.withCRC(r))
                case .truncated: pty.send(Array(reply.prefix(reply.count / 2)))
                }
            }
        }
    }

    static func reply(to req: [UInt8], slave: UInt8, holding: [UInt16: UInt16], input: [UInt16: UInt16]) -> [UInt8] {
        precondition(ModbusRTU.crc16(req) == 0, "request with bad CRC: \(hexString(req))")
        let start = UInt16(req[2]) << 8 | UInt16(req[3])
        let count = UInt16(req[4]) << 8 | UInt16(req[5])
        let table = req[1] == 3 ? holding : input
        var pdu: [UInt8] = [slave, req[1], UInt8(2 * count)]
        for a in start..<(start + count) {
            let v = table[a] ?? 0
            pdu += [UInt8(v >> 8), UInt8(v & 0xFF)]
        }
        return ModbusRTU.withCRC(pdu)
    }
}

/// A SCPI power supply on a pty: answers MEAS:VOLT?, MEAS:CURR?, *IDN?; scripted faults.
final class SCPISupplySimulator: Sendable {
    enum Behavior: Sendable, Equatable {
        case answer
        case silent
        case text(String)
    }

    let pty: PseudoTerminal
    private let state: Mutex<State>
    private let done = DispatchSemaphore(value: 0)

    struct State {
        var volts = 4.2
        var amps = 1.5
        var script: [Behavior] = []
        var queries: [String] = []
        var stop = false
        /// The output stage: OUTP OFF / OUTP ON switch it, OUTP? reads it; off, the current is 0.
        var outputOn = true
        /// When false, OUTP OFF is ignored (a supply that refuses the command).
        var obeysOutputOff = true
    }

    init(pty: PseudoTerminal, script: [Behavior] = []) {
        self.pty = pty
        self.state = Mutex(State(script: script))
        Thread { [self] in self.serve(); self.done.signal() }.start()
    }

    var queries: [String] { state.withLock { $0.queries } }
    var outputOn: Bool { state.withLock { $0.outputOn } }
    func refuseOutputOff() { state.withLock { $0.obeysOutputOff = false } }

    func shutdown() {
        state.withLock { $0.stop = true }
        _ = done.wait(timeout: .now() + 2)
    }

    private func serve() {
        var framer = LineFramer(maxLineBytes: 256)
        while !state.withLock({ $0.stop }) {
            let bytes = pty.receive(count: 256, timeoutMs: 20)
            var lines: [String] = []
            framer.push(bytes) { e, _ in if case let .line(l) = e, !l.isEmpty { lines.append(String(decoding: l, as: UTF8.self)) } }
            for q in lines {
                let (behavior, answer) = state.withLock { s -> (Behavior, String?) in
                    s.queries.append(q)
                    // Commands (no '?') are not answered.
                    switch q {
                    case "OUTP OFF": if s.obeysOutputOff { s.outputOn = false }; return (.answer, nil)
                    case "OUTP ON": s.outputOn = true; return (.answer, nil)
                    case "OUTP?": return (.answer, s.outputOn ? "1" : "0")
                    default: break
                    }
                    // The script plays the measurement queries; *IDN? always answers.
                    let b: Behavior = q == "*IDN?" || s.script.isEmpty ? .answer : s.script.removeFirst()
                    switch q {
                    case "MEAS:VOLT?": return (b, String(format: "%+.5E", s.volts))
                    case "MEAS:CURR?": return (b, String(format: "%.4f", s.outputOn ? s.amps : 0))
                    case "*IDN?": return (b, "TRW,SIM-PSU,0001,1.0")
                    default: return (b, "-113,\"Undefined header\"")
                    }
                }
                guard let answer else { continue }
                switch behavior {
                case .answer: pty.send(answer + "\r\n")
                case .silent: break
                case let .text(t): pty.send(t)
                }
            }
        }
    }
}
