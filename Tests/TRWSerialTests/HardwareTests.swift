import Foundation
import Testing
import TRWCore
@testable import TRWSerial

/// Runs only when TRW_TEST_SERIAL_DEVICE names a real port, e.g.
///   TRW_TEST_SERIAL_DEVICE=/dev/serial/by-id/usb-FTDI_...-if00-port0 \
///   TRW_TEST_SERIAL_BAUD=115200 TRW_TEST_SERIAL_PROTOCOL=key_value \
///   swift test --skip-build --filter TRWSerialTests.HardwareTests
/// TRW_TEST_SERIAL_LOOPBACK=1 when TX is wired to RX (checks bytes round-trip at the baud);
/// TRW_TEST_SERIAL_SECONDS (default 3) of recording, expecting samples when
/// TRW_TEST_SERIAL_EXPECT_SAMPLES=1 (an instrument is connected and streaming).
@Suite(.enabled(if: ProcessInfo.processInfo.environment["TRW_TEST_SERIAL_DEVICE"] != nil, "set TRW_TEST_SERIAL_DEVICE to a serial port"))
struct HardwareTests {
    let env = ProcessInfo.processInfo.environment
    var device: String { env["TRW_TEST_SERIAL_DEVICE"] ?? "" }
    var baud: Int { env["TRW_TEST_SERIAL_BAUD"].flatMap(Int.init) ?? 115_200 }

    @Test func opensWithTheRequestedSettingsAndIsListed() throws {
        let port = try SerialPort(SerialPortConfig(path: device, baud: baud))
        #expect(abs(port.granted.outputBaud - baud) * 100 <= 3 * baud)
        #expect(port.granted.exclusive)
        let canonical = URL(fileURLWithPath: device).resolvingSymlinksInPath().path
        #expect(SerialInstrumentSource.listSerialPorts().contains { URL(fileURLWithPath: $0.path).resolvingSymlinksInPath().path == canonical })
    }

    @Test(.enabled(if: ProcessInfo.processInfo.environment["TRW_TEST_SERIAL_LOOPBACK"] == "1"))
    func loopbackRoundTrip() throws {
        let port = try SerialPort(SerialPortConfig(path: device, baud: baud))
        try port.discardInput()
        let bytes = (0..<256).map { UInt8($0) }
        try port.write(bytes)
        try port.drainOutput()
        var got: [UInt8] = []
        while got.count < bytes.count {
            guard case .data = try port.read(into: &got, timeoutMs: 2000) else { break }
        }
        #expect(got == bytes)
    }

    @Test func recordsFromTheInstrument() throws {
        let proto: SerialProtocolConfig
        switch env["TRW_TEST_SERIAL_PROTOCOL"] ?? "key_value" {
        case "csv": proto = .csv(CSVProtocolConfig())
        case "json_lines": proto = .jsonLines(JSONLinesProtocolConfig())
        case "scpi": proto = .scpi(SCPIProtocolConfig())
        default: proto = .keyValue(KeyValueProtocolConfig())
        }
        let source = try SerialInstrumentSource(config: instrument(device, proto, baud: baud, silenceS: 2))
        let sink = RecordingSink()
        let runner = SourceRunner(source, sink: sink)
        let seconds = env["TRW_TEST_SERIAL_SECONDS"].flatMap(Double.init) ?? 3
        if env["TRW_TEST_SERIAL_EXPECT_SAMPLES"] == "1" {
            #expect(sink.wait(timeoutS: seconds) { $0.samples.count > 0 })
        } else {
            usleep(UInt32(seconds * 1e6))
        }
        #expect(runner.stop())
        #expect(runner.runError == nil)
        let stats = source.statistics
        #expect(stats.units == stats.samples + stats.headers + stats.ignored + stats.rejected)
        print("hardware \(device): \(stats)")
    }
}
