import Foundation
import Testing
import TRWTestSupport
@testable import TRWSerial

/// A long randomized property test over every decoder (framer, CSV, key=value, JSON lines,
/// Modbus RTU responses, SCPI answers), fixed seed. 4 000 inputs by default (a few seconds in a debug build); set
/// TRW_FUZZ_ITERATIONS to run longer (and TRW_FUZZ_SEED for another sequence).
@Suite struct FuzzPropertyTests {
    static let seeds: [String] = [
        "t=12.000 V=4.213 I=1.502 T1=25.3 Tamb=23.0\r\n",
        "t=13.000 V=4213mV I=1502mA T1=298.45K T2=26.1 SOC=81.5 status=OK\n",
        "time,V,I,T1,T2,ambient_c,soc\n0.5,4.100,1.50,25.0,25.5,22.0,80\n",
        "12:00:01.5;4.2;1.0;30;7\n",
        #"{"t": 1.5, "voltage_v": 4.2, "current_a": "1500 mA", "cell_temp_c": [25.0, 26.5], "meta": {"fan": 3}}"# + "\n",
        "+4.21300E+00\r\n1.5020\r\n",
        "9.91E37\n-113,\"Undefined header\"\n",
    ]

    static let alphabet: [UInt8] = Array("0123456789.-+eE,;= \t\r\n:{}[]\"VITtmAKC%#abcnul\\".utf8) + [0x00, 0xFF, 0xC2, 0xB0, 0x7F]

    /// Random bytes, or a valid instrument line mutated (flips, insertions, deletions,
    /// truncation, duplication), or a Modbus frame with a valid or broken CRC.
    static func input(_ rng: inout SplitMix64) -> [UInt8] {
        switch rng.next() % 5 {
        case 0:
            return (0..<Int(rng.next() % 300)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        case 1:
            return (0..<Int(rng.next() % 200)).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] }
        case 2:
            let count = UInt8(rng.next() % 8) + 1
            var pdu: [UInt8] = [UInt8(rng.next() % 3), rng.next() % 2 == 0 ? 0x03 : 0x04, 2 * count]
            pdu += (0..<Int(2 * count)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            var frame = ModbusRTU.withCRC(pdu)
            if rng.next() % 3 == 0 { frame[Int(rng.next() % UInt64(frame.count))] ^= UInt8(truncatingIfNeeded: rng.next() | 1) }
            if rng.next() % 4 == 0 { frame = ModbusRTU.withCRC([pdu[0], pdu[1] | 0x80, UInt8(rng.next() % 12)]) }
            return [pdu[0], (count - 1) << 1 | (pdu[1] == 0x04 ? 1 : 0)] + frame.prefix(Int(rng.next() % UInt64(frame.count + 1)) + (rng.next() % 2 == 0 ? frame.count : 0))
        default:
            var bytes: [UInt8] = []
            for _ in 0..<(1 + Int(rng.next() % 4)) { bytes += Array(seeds[Int(rng.next() % UInt64(seeds.count))].utf8) }
            for _ in 0..<Int(rng.next() % 6) {
                guard !bytes.isEmpty else { break }
                let at = Int(rng.next() % UInt64(bytes.count))
                switch rng.next() % 5 {
                case 0: bytes[at] = alphabet[Int(rng.next() % UInt64(alphabet.count))]
                case 1: bytes.insert(alphabet[Int(rng.next() % UInt64(alphabet.count))], at: at)
                case 2: bytes.remove(at: at)
                case 3: bytes = Array(bytes.prefix(at))
                default: bytes.insert(contentsOf: bytes[at...].prefix(Int(rng.next() % 40)), at: at)
                }
            }
            return bytes
        }
    }

    @Test func everyInputIsASampleOrACountedRejection() {
        let env = ProcessInfo.processInfo.environment
        let iterations = env["TRW_FUZZ_ITERATIONS"].flatMap(Int.init) ?? 4_000
        let seed = env["TRW_FUZZ_SEED"].flatMap(UInt64.init) ?? 0x7357_5E41
        var rng = SplitMix64(seed: seed)
        var tally = DecoderFuzzTally()
        let start = Date()
        for _ in 0..<iterations {
            DecoderFuzzHarness.check(Self.input(&rng), tally: &tally)
        }
        let elapsed = Date().timeIntervalSince(start)
        print("trw-serial property run: seed \(seed), \(String(format: "%.2f", elapsed)) s, \(tally)")
        #expect(tally.inputs == Int64(iterations))
        #expect(tally.isFullyAccounted, "\(tally)")
        // The generator reaches both sides of every decoder.
        #expect(tally.samples > 0 && tally.rejected > 0 && tally.headers > 0)
        #expect(tally.modbusRegisters > 0 && tally.modbusExceptions > 0 && tally.modbusInvalid > 0)
        #expect(tally.scpiSamples > 0 && tally.scpiRejected > 0)
    }

    @Test(arguments: [[UInt8](), [0x5C], Array("\\x4G".utf8), Array("a\\".utf8)])
    func unescapeRefusesWhatEscapeNeverProduces(text: [UInt8]) {
        let s = String(decoding: text, as: UTF8.self)
        if text.isEmpty { #expect(unescapeRaw(s) == []) } else { #expect(unescapeRaw(s) == nil) }
    }

    @Test func escapeRoundTripsAllBytes() {
        let all = (0...255).map { UInt8($0) } + Array("25.3 °C µ".utf8)
        let e = escapeRaw(all)
        #expect(e.contains("°C"))
        #expect(unescapeRaw(e) == all)
    }
}
