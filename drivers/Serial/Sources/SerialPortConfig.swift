/// Parity of each character on the line.
public enum SerialParity: String, Codable, Sendable, CaseIterable {
    /// No parity bit (PARENB clear).
    case none
    /// Even parity (PARENB).
    case even
    /// Odd parity (PARENB | PARODD).
    case odd
    /// Parity bit always 1 (PARENB | CMSPAR | PARODD).
    case mark
    /// Parity bit always 0 (PARENB | CMSPAR).
    case space
}

/// Flow control on the line.
public enum SerialFlowControl: String, Codable, Sendable, CaseIterable {
    /// No flow control.
    case none
    /// Hardware handshake on RTS/CTS (CRTSCTS).
    case rtsCts = "rts_cts"
    /// Software handshake with XON/XOFF characters (IXON | IXOFF).
    case xonXoff = "xon_xoff"
}

/// RS-485 half-duplex settings, applied with TIOCSRS485 (`struct serial_rs485`)
/// where the driver supports it.
public struct SerialRS485Config: Codable, Sendable, Equatable {
    /// Drive RTS high while sending (SER_RS485_RTS_ON_SEND).
    public var rtsOnSend: Bool
    /// Drive RTS high after sending (SER_RS485_RTS_AFTER_SEND).
    public var rtsAfterSend: Bool
    /// Keep receiving while sending (SER_RS485_RX_DURING_TX).
    public var receiveDuringTransmit: Bool
    /// Delay between RTS and the first bit, ms (`delay_rts_before_send`).
    public var delayBeforeSendMs: Int
    /// Delay between the last bit and RTS release, ms (`delay_rts_after_send`).
    public var delayAfterSendMs: Int

    public init(
        rtsOnSend: Bool = true, rtsAfterSend: Bool = false, receiveDuringTransmit: Bool = false,
        delayBeforeSendMs: Int = 0, delayAfterSendMs: Int = 0
    ) {
        self.rtsOnSend = rtsOnSend
        self.rtsAfterSend = rtsAfterSend
        self.receiveDuringTransmit = receiveDuringTransmit
        self.delayBeforeSendMs = delayBeforeSendMs
        self.delayAfterSendMs = delayAfterSendMs
    }

    enum CodingKeys: String, CodingKey {
        case rtsOnSend = "rts_on_send"
        case rtsAfterSend = "rts_after_send"
        case receiveDuringTransmit = "rx_during_tx"
        case delayBeforeSendMs = "delay_before_send_ms"
        case delayAfterSendMs = "delay_after_send_ms"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = SerialRS485Config()
        rtsOnSend = try c.decodeIfPresent(Bool.self, forKey: .rtsOnSend) ?? d.rtsOnSend
        rtsAfterSend = try c.decodeIfPresent(Bool.self, forKey: .rtsAfterSend) ?? d.rtsAfterSend
        receiveDuringTransmit = try c.decodeIfPresent(Bool.self, forKey: .receiveDuringTransmit) ?? d.receiveDuringTransmit
        delayBeforeSendMs = try c.decodeIfPresent(Int.self, forKey: .delayBeforeSendMs) ?? d.delayBeforeSendMs
        delayAfterSendMs = try c.decodeIfPresent(Int.self, forKey: .delayAfterSendMs) ?? d.delayAfterSendMs
    }
}

/// How to open and configure one serial port. Keys in a rig file are snake_case:
///
/// ```toml
/// path = "/dev/serial/by-id/usb-FTDI_FT232R_USB_UART_A50285BI-if00-port0"
/// baud = 115200
/// data_bits = 8
/// parity = "none"        # none | even | odd | mark | space
/// stop_bits = 1
/// flow_control = "none"  # none | rts_cts | xon_xoff
/// exclusive = true
/// # [rs485]  rts_on_send = true ...
/// ```
public struct SerialPortConfig: Codable, Sendable, Equatable {
    /// Device path; /dev/serial/by-id names are preferred (stable across replugs).
    public var path: String
    /// Bits per second. Any positive rate: standard ones and, where the driver
    /// allows, non-standard ones (termios2 BOTHER).
    public var baud: Int
    /// 5...8 (CS5...CS8).
    public var dataBits: Int
    public var parity: SerialParity
    /// 1 or 2 (CSTOPB).
    public var stopBits: Int
    public var flowControl: SerialFlowControl
    /// RS-485 mode (TIOCSRS485); nil leaves the driver's setting alone.
    public var rs485: SerialRS485Config?
    /// Exclusive open (TIOCEXCL): a second open by another program fails with EBUSY.
    public var exclusive: Bool

    public init(
        path: String, baud: Int = 9600, dataBits: Int = 8, parity: SerialParity = .none, stopBits: Int = 1,
        flowControl: SerialFlowControl = .none, rs485: SerialRS485Config? = nil, exclusive: Bool = true
    ) {
        self.path = path
        self.baud = baud
        self.dataBits = dataBits
        self.parity = parity
        self.stopBits = stopBits
        self.flowControl = flowControl
        self.rs485 = rs485
        self.exclusive = exclusive
    }

    enum CodingKeys: String, CodingKey {
        case path, baud, parity, rs485, exclusive
        case dataBits = "data_bits"
        case stopBits = "stop_bits"
        case flowControl = "flow_control"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(path: try c.decode(String.self, forKey: .path))
        baud = try c.decodeIfPresent(Int.self, forKey: .baud) ?? baud
        dataBits = try c.decodeIfPresent(Int.self, forKey: .dataBits) ?? dataBits
        parity = try c.decodeIfPresent(SerialParity.self, forKey: .parity) ?? parity
        stopBits = try c.decodeIfPresent(Int.self, forKey: .stopBits) ?? stopBits
        flowControl = try c.decodeIfPresent(SerialFlowControl.self, forKey: .flowControl) ?? flowControl
        rs485 = try c.decodeIfPresent(SerialRS485Config.self, forKey: .rs485)
        exclusive = try c.decodeIfPresent(Bool.self, forKey: .exclusive) ?? exclusive
    }

    /// Bits on the wire per character: start + data + parity + stop.
    /// The sync engine uses it with `baud` to correct arrival times for transmission time.
    public var bitsPerCharacter: Int {
        1 + dataBits + (parity == .none ? 0 : 1) + stopBits
    }

    /// Nanoseconds the line needs to carry `bytes` characters at this baud rate.
    public func transmissionTimeNs(bytes: Int) -> Int64 {
        guard baud > 0, bytes > 0 else { return 0 }
        return Int64(bytes) * Int64(bitsPerCharacter) * 1_000_000_000 / Int64(baud)
    }

    /// Checks values that no driver accepts, naming the bad one.
    public func validate() throws(SerialPortError) {
        if path.isEmpty { throw .invalidConfiguration(path: path, "the device path is empty") }
        if baud <= 0 || baud > 20_000_000 {
            throw .invalidConfiguration(path: path, "baud \(baud) is not a rate a UART can run at; expected e.g. 9600 ... 921600")
        }
        if !(5...8).contains(dataBits) {
            throw .invalidConfiguration(path: path, "data_bits \(dataBits) is invalid; expected 5, 6, 7 or 8")
        }
        if stopBits != 1 && stopBits != 2 {
            throw .invalidConfiguration(path: path, "stop_bits \(stopBits) is invalid; expected 1 or 2")
        }
        if let rs485, !(0...10_000).contains(rs485.delayBeforeSendMs) || !(0...10_000).contains(rs485.delayAfterSendMs) {
            throw .invalidConfiguration(path: path, "rs485 delays must be 0...10000 ms")
        }
    }
}
