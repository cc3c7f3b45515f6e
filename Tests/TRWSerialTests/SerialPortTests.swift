import Foundation
import Testing
import TRWCore
@testable import TRWSerial

@Suite struct SerialPortTests {
    @Test(arguments: [9600, 19200, 115_200, 230_400, 921_600, 250_000, 31_250, 1_000_000])
    func grantsStandardAndNonStandardBaud(baud: Int) throws {
        let pty = try PseudoTerminal()
        defer { pty.close() }
        let port = try SerialPort(SerialPortConfig(path: pty.slavePath, baud: baud))
        #expect(port.granted.outputBaud == baud)
        #expect(port.granted.inputBaud == baud)
        #expect(port.granted.exclusive)
    }

    @Test(arguments: [1, 2])
    func grantsStopBits(stopBits: Int) throws {
        let pty = try PseudoTerminal()
        defer { pty.close() }
        let port = try SerialPort(SerialPortConfig(path: pty.slavePath, stopBits: stopBits))
        #expect(port.granted.stopBits == stopBits)
        #expect(port.granted.dataBits == 8 && port.granted.parity == .none)
    }

    /// The pty driver forces CS8 and no parity (drivers/tty/pty.c, pty_set_termios): the
    /// read-back must catch a driver that silently alters the framing, as some USB adapters do.
    @Test(arguments: [
        (7, SerialParity.even, 1), (7, .odd, 2), (8, .mark, 1), (8, .space, 2), (5, .none, 2), (6, .even, 1),
    ])
    func refusesFramingTheDriverAltered(dataBits: Int, parity: SerialParity, stopBits: Int) throws {
        let pty = try PseudoTerminal()
        defer { pty.close() }
        let error = #expect(throws: SerialPortError.self) {
            _ = try SerialPort(SerialPortConfig(path: pty.slavePath, dataBits: dataBits, parity: parity, stopBits: stopBits))
        }
        let text = error?.description ?? ""
        #expect(text.contains("asked for \(dataBits) data bits, parity \(parity.rawValue)"), "\(text)")
        #expect(text.contains("granted 8, none, \(stopBits)"), "\(text)")
    }

    @Test(arguments: SerialFlowControl.allCases)
    func grantsFlowControl(flow: SerialFlowControl) throws {
        let pty = try PseudoTerminal()
        defer { pty.close() }
        let port = try SerialPort(SerialPortConfig(path: pty.slavePath, flowControl: flow, exclusive: false))
        #expect(port.granted.flowControl == flow)
        #expect(!port.granted.exclusive)
    }

    @Test func rawModePassesEveryByteUnchanged() throws {
        let pty = try PseudoTerminal()
        defer { pty.close() }
        let port = try SerialPort(SerialPortConfig(path: pty.slavePath, baud: 115_200))
        let all = (0...255).map { UInt8($0) }
        pty.send(all)
        var got: [UInt8] = []
        while got.count < 256 {
            guard case .data = try port.read(into: &got, timeoutMs: 2000) else { break }
        }
        #expect(got == all)
        try port.write(all)
        try port.drainOutput()
        #expect(pty.receive(count: 256) == all)
        // Nothing echoed back to the instrument.
        #expect(pty.receive(count: 1, timeoutMs: 50).isEmpty)
    }

    @Test func readTimesOutAndWakes() throws {
        let pty = try PseudoTerminal()
        defer { pty.close() }
        let port = try SerialPort(SerialPortConfig(path: pty.slavePath))
        var buf: [UInt8] = []
        #expect(try port.read(into: &buf, timeoutMs: 10) == .timedOut)
        let wake = try WakeSignal()
        wake.signal()
        #expect(try port.read(into: &buf, timeoutMs: 10_000, wake: wake) == .woken)
        #expect(buf.isEmpty)
    }

    @Test func hangupIsDeviceLoss() throws {
        let pty = try PseudoTerminal()
        let port = try SerialPort(SerialPortConfig(path: pty.slavePath))
        pty.close()
        var buf: [UInt8] = []
        #expect {
            _ = try port.read(into: &buf, timeoutMs: 2000)
        } throws: { error in
            (error as? SerialPortError)?.isDeviceLoss == true
        }
    }

    @Test func rs485OnAPortWithoutItSaysSo() throws {
        let pty = try PseudoTerminal()
        defer { pty.close() }
        let error = #expect(throws: SerialPortError.self) {
            _ = try SerialPort(SerialPortConfig(path: pty.slavePath, rs485: SerialRS485Config()))
        }
        #expect(error?.description.contains("TIOCSRS485") == true)
        #expect(error?.description.contains(pty.slavePath) == true)
    }

    @Test func missingDeviceNamesPathAndHint() {
        let error = #expect(throws: SerialPortError.self) {
            _ = try SerialPort(SerialPortConfig(path: "/dev/ttyUSB-trw-does-not-exist"))
        }
        #expect(error?.description.contains("/dev/ttyUSB-trw-does-not-exist") == true)
        #expect(error?.description.contains("trw devices") == true)
        #expect(error?.isDeviceLoss == true)
    }

    @Test func regularFileIsNotASerialPort() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("trw-not-a-tty-\(getpid())").path
        _ = FileManager.default.createFile(atPath: path, contents: Data("x".utf8))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let error = #expect(throws: SerialPortError.self) {
            _ = try SerialPort(SerialPortConfig(path: path, exclusive: false))
        }
        #expect(error?.description.contains("not a serial port") == true, "\(String(describing: error))")
    }

    @Test(arguments: [
        SerialPortConfig(path: "/dev/x", baud: 0), SerialPortConfig(path: "/dev/x", dataBits: 9),
        SerialPortConfig(path: "/dev/x", stopBits: 3), SerialPortConfig(path: ""),
    ])
    func invalidConfigurationIsRefusedBeforeOpening(config: SerialPortConfig) {
        #expect(throws: SerialPortError.self) { try config.validate() }
    }

    @Test func transmissionTime() {
        let c = SerialPortConfig(path: "/dev/x", baud: 9600, parity: .even)  // 11 bits per char
        #expect(c.bitsPerCharacter == 11)
        #expect(c.transmissionTimeNs(bytes: 96) == 110_000_000)
    }

    @Test func listsPortsByIDAndSkipsNonTTYs() throws {
        let pty = try PseudoTerminal()
        defer { pty.close() }
        let fm = FileManager.default
        let dev = fm.temporaryDirectory.appendingPathComponent("trw-dev-\(getpid())-\(UInt32.random(in: 0...UInt32.max))").path
        try fm.createDirectory(atPath: dev + "/serial/by-id", withIntermediateDirectories: true)
        defer { try? fm.removeItem(atPath: dev) }
        try fm.createSymbolicLink(atPath: dev + "/ttyUSB3", withDestinationPath: pty.slavePath)
        try fm.createSymbolicLink(atPath: dev + "/serial/by-id/usb-FTDI_FT232R_USB_UART_A50285BI-if00-port0", withDestinationPath: "../../ttyUSB3")
        _ = fm.createFile(atPath: dev + "/ttyS0", contents: Data())  // not a tty
        let ports = SerialPortInfo.scan(devDirectory: dev)
        #expect(ports.count == 1)
        #expect(ports.first?.path == dev + "/ttyUSB3")
        #expect(ports.first?.kind == "usb-serial")
        #expect(ports.first?.preferredPath == dev + "/serial/by-id/usb-FTDI_FT232R_USB_UART_A50285BI-if00-port0")
        #expect(ports.first?.description == "\(dev)/ttyUSB3  usb-serial  \(dev)/serial/by-id/usb-FTDI_FT232R_USB_UART_A50285BI-if00-port0")
    }
}
