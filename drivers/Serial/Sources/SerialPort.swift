import CSerial
import SystemPackage
import TRWCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// What went wrong with a serial port, naming the device and what to do.
public enum SerialPortError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A syscall failed: `operation` names it ("open", "TCSETS2", ...).
    case system(path: String, operation: String, errno: Errno)
    /// The configuration cannot work; the message says which value and what was expected.
    case invalidConfiguration(path: String, String)
    /// The driver refused or altered a setting.
    case unsupported(path: String, String)
    /// The device went away (EIO, ENXIO, ENODEV, hangup).
    case deviceLost(path: String, detail: String)

    public var description: String {
        switch self {
        case let .system(path, op, err):
            var hint = ""
            switch err {
            case .permissionDenied: hint = "; add the user to the 'dialout' group or fix the udev rule"
            case .noSuchFileOrDirectory: hint = "; is the adapter plugged in? `trw devices` lists serial ports"
            case .resourceBusy: hint = "; another program holds the port exclusively (TIOCEXCL)"
            case .operationNotSupportedByDevice, .noSuchAddressOrDevice: hint = "; the device is gone or not a serial port"
            case .inappropriateIOCTLForDevice: hint = "; the path is not a serial port"
            default: break
            }
            return "\(op) \(path): \(err) (errno \(err.rawValue))\(hint)"
        case let .invalidConfiguration(path, msg): return "\(path): \(msg)"
        case let .unsupported(path, msg): return "\(path): \(msg)"
        case let .deviceLost(path, detail): return "\(path): device lost (\(detail))"
        }
    }

    /// True for errors that mean the device disappeared, where reopening may help.
    public var isDeviceLoss: Bool {
        switch self {
        case .deviceLost: return true
        case let .system(_, _, err):
            return err == .ioError || err == .noSuchAddressOrDevice || err == .operationNotSupportedByDevice
                || err == .noSuchFileOrDirectory
        default: return false
        }
    }
}

/// The settings the driver actually granted, read back after configuring.
public struct SerialGrantedSettings: Sendable, Equatable {
    public var inputBaud: Int
    public var outputBaud: Int
    public var dataBits: Int
    public var parity: SerialParity
    public var stopBits: Int
    public var flowControl: SerialFlowControl
    public var exclusive: Bool
    public var rs485: Bool
}

/// The outcome of waiting for input.
public enum SerialReadResult: Sendable, Equatable {
    /// `count` bytes were appended; `hostNs` is CLOCK_MONOTONIC right after the read.
    case data(count: Int, hostNs: Nanoseconds)
    /// Nothing arrived before the timeout.
    case timedOut
    /// The wake-up pipe fired (stop requested).
    case woken
}

/// A self-pipe that interrupts a blocking wait from any thread.
public final class WakeSignal: Sendable {
    let readFD: CInt
    let writeFD: CInt

    public init() throws(SerialPortError) {
        switch system_pipe(nonBlocking: true) {
        case let .success(fds): (readFD, writeFD) = fds
        case let .failure(err): throw .system(path: "<wake pipe>", operation: "pipe2", errno: err)
        }
    }

    /// Wakes the waiter; safe from any thread, never blocks.
    public func signal() {
        var byte: UInt8 = 1
        if case let .failure(err) = withUnsafeBytes(of: &byte, { system_write(writeFD, $0) }) {
            // EAGAIN: the pipe is full, i.e. already signalled. Anything else is our bug.
            precondition(err == .resourceTemporarilyUnavailable || err == .wouldBlock, "wake pipe write failed: \(err)")
        }
    }

    /// Empties the pipe.
    func drain() {
        var buf = [UInt8](repeating: 0, count: 64)
        while case let .success(n) = buf.withUnsafeMutableBytes({ system_read(readFD, $0) }), n > 0 {}
    }

    deinit {
        for fd in [readFD, writeFD] {
            if case let .failure(err) = system_close(fd) { preconditionNotOurBug(err, "close") }
        }
    }
}

/// An open, configured serial port: the one owner of its file descriptor,
/// closed on `close()` or deinit. Not thread-safe: use it from one thread
/// (the source's device thread); `WakeSignal` interrupts its waits.
public final class SerialPort {
    public let config: SerialPortConfig
    public private(set) var granted: SerialGrantedSettings
    private var fd: CInt

    /// Opens `config.path` (O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC), takes it
    /// exclusively (TIOCEXCL) if asked, and sets raw mode with the requested framing
    /// through TCSETS2, then reads back what the driver granted.
    public init(_ config: SerialPortConfig) throws(SerialPortError) {
        try config.validate()
        self.config = config
        let path = config.path
        let fd: CInt
        switch system_open(path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC) {
        case let .success(f): fd = f
        case let .failure(err): throw .system(path: path, operation: "open", errno: err)
        }
        self.fd = fd
        self.granted = SerialGrantedSettings(
            inputBaud: 0, outputBaud: 0, dataBits: 0, parity: .none, stopBits: 1, flowControl: .none,
            exclusive: false, rs485: false)
        do {
            try configure()
        } catch {
            close()
            throw error
        }
    }

    deinit { close() }

    /// Closes the port; later calls do nothing.
    public func close() {
        guard fd >= 0 else { return }
        if case let .failure(err) = system_close(fd) { preconditionNotOurBug(err, "close") }
        fd = -1
    }

    public var isOpen: Bool { fd >= 0 }

    private func fail(_ op: String, _ err: Errno) -> SerialPortError {
        preconditionNotOurBug(err, op)
        return .system(path: config.path, operation: op, errno: err)
    }

    private func getTermios2() throws(SerialPortError) -> trw_termios2 {
        var tio = trw_termios2()
        if case let .failure(err) = system_ioctl(fd, trw_TCGETS2, &tio) {
            if err == .inappropriateIOCTLForDevice || err == .invalidArgument {
                throw .unsupported(path: config.path, "is not a serial port (TCGETS2: \(err))")
            }
            throw fail("TCGETS2", err)
        }
        return tio
    }

    private func configure() throws(SerialPortError) {
        let path = config.path
        if config.exclusive {
            if case let .failure(err) = system_ioctl(fd, trw_TIOCEXCL) { throw fail("TIOCEXCL", err) }
        }
        var tio = try getTermios2()
        // Raw mode (cfmakeraw on termios2).
        tio.c_iflag &= ~(trw_IGNBRK | trw_BRKINT | trw_PARMRK | trw_ISTRIP | trw_INLCR | trw_IGNCR | trw_ICRNL
            | trw_IXON | trw_IXOFF | trw_IXANY | trw_INPCK | trw_IGNPAR)
        tio.c_oflag &= ~trw_OPOST
        tio.c_lflag &= ~(trw_ECHO | trw_ECHONL | trw_ICANON | trw_ISIG | trw_IEXTEN)
        tio.c_cflag &= ~(trw_CSIZE | trw_PARENB | trw_PARODD | trw_CMSPAR | trw_CSTOPB | trw_CRTSCTS)
        tio.c_cflag |= trw_CREAD | trw_CLOCAL
        switch config.dataBits {
        case 5: tio.c_cflag |= trw_CS5
        case 6: tio.c_cflag |= trw_CS6
        case 7: tio.c_cflag |= trw_CS7
        default: tio.c_cflag |= trw_CS8
        }
        switch config.parity {
        case .none: break
        case .even: tio.c_cflag |= trw_PARENB
        case .odd: tio.c_cflag |= trw_PARENB | trw_PARODD
        case .mark: tio.c_cflag |= trw_PARENB | trw_CMSPAR | trw_PARODD
        case .space: tio.c_cflag |= trw_PARENB | trw_CMSPAR
        }
        // A character with a parity error reads as NUL, so its line fails to decode and is counted.
        if config.parity != .none { tio.c_iflag |= trw_INPCK }
        if config.stopBits == 2 { tio.c_cflag |= trw_CSTOPB }
        switch config.flowControl {
        case .none: break
        case .rtsCts: tio.c_cflag |= trw_CRTSCTS
        case .xonXoff:
            tio.c_iflag |= trw_IXON | trw_IXOFF
            withUnsafeMutableBytes(of: &tio.c_cc) { cc in
                cc[Int(trw_VSTART)] = 0x11
                cc[Int(trw_VSTOP)] = 0x13
            }
        }
        withUnsafeMutableBytes(of: &tio.c_cc) { cc in
            cc[Int(trw_VMIN)] = 1
            cc[Int(trw_VTIME)] = 0
        }
        // Any rate through BOTHER, for both directions.
        tio.c_cflag &= ~(trw_CBAUD | (trw_CBAUD << trw_IBSHIFT))
        tio.c_cflag |= trw_BOTHER | (trw_BOTHER << trw_IBSHIFT)
        tio.c_ispeed = speed_t(config.baud)
        tio.c_ospeed = speed_t(config.baud)
        if case let .failure(err) = system_ioctl(fd, trw_TCSETS2, &tio) {
            if err == .invalidArgument {
                throw .unsupported(path: path, "the driver refused the settings (TCSETS2: EINVAL); baud \(config.baud), \(config.dataBits)\(config.parity.rawValue.prefix(1).uppercased())\(config.stopBits), flow \(config.flowControl.rawValue)")
            }
            throw fail("TCSETS2", err)
        }

        if let rs485 = config.rs485 {
            var conf = trw_serial_rs485()
            conf.flags = trw_SER_RS485_ENABLED
            if rs485.rtsOnSend { conf.flags |= trw_SER_RS485_RTS_ON_SEND }
            if rs485.rtsAfterSend { conf.flags |= trw_SER_RS485_RTS_AFTER_SEND }
            if rs485.receiveDuringTransmit { conf.flags |= trw_SER_RS485_RX_DURING_TX }
            conf.delay_rts_before_send = UInt32(rs485.delayBeforeSendMs)
            conf.delay_rts_after_send = UInt32(rs485.delayAfterSendMs)
            if case let .failure(err) = system_ioctl(fd, trw_TIOCSRS485, &conf) {
                if err == .inappropriateIOCTLForDevice || err == .invalidArgument || err == .notSupported {
                    throw .unsupported(path: path, "the driver does not support RS-485 mode (TIOCSRS485: \(err)); use an adapter with automatic direction control and remove [rs485]")
                }
                throw fail("TIOCSRS485", err)
            }
        }

        // Read back what the driver granted.
        let got = try getTermios2()
        var exclusiveGranted: CInt = 0
        if config.exclusive, case let .failure(err) = system_ioctl(fd, trw_TIOCGEXCL, &exclusiveGranted) {
            throw fail("TIOCGEXCL", err)
        }
        let size = got.c_cflag & trw_CSIZE
        let dataBits = size == trw_CS5 ? 5 : size == trw_CS6 ? 6 : size == trw_CS7 ? 7 : 8
        let parity: SerialParity
        if got.c_cflag & trw_PARENB == 0 {
            parity = .none
        } else if got.c_cflag & trw_CMSPAR != 0 {
            parity = got.c_cflag & trw_PARODD != 0 ? .mark : .space
        } else {
            parity = got.c_cflag & trw_PARODD != 0 ? .odd : .even
        }
        let flow: SerialFlowControl =
            got.c_cflag & trw_CRTSCTS != 0 ? .rtsCts : (got.c_iflag & trw_IXON != 0 ? .xonXoff : .none)
        granted = SerialGrantedSettings(
            inputBaud: Int(got.c_ispeed), outputBaud: Int(got.c_ospeed), dataBits: dataBits, parity: parity,
            stopBits: got.c_cflag & trw_CSTOPB != 0 ? 2 : 1, flowControl: flow,
            exclusive: exclusiveGranted != 0, rs485: config.rs485 != nil)
        // Drivers round to what their divisor allows; more than 3 % off and no frame decodes.
        let off = abs(Double(granted.outputBaud - config.baud)) / Double(config.baud)
        if off > 0.03 {
            throw .unsupported(path: path, "asked for \(config.baud) baud, the driver granted \(granted.outputBaud); pick a rate the adapter supports")
        }
        if granted.dataBits != config.dataBits || granted.parity != config.parity || granted.stopBits != config.stopBits {
            throw .unsupported(path: path, "asked for \(config.dataBits) data bits, parity \(config.parity.rawValue), \(config.stopBits) stop bits; the driver granted \(granted.dataBits), \(granted.parity.rawValue), \(granted.stopBits)")
        }
    }

    /// Waits up to `timeoutMs` (or until `wake` fires) and appends what is available
    /// (at most `maxBytes`) to `buffer`. Throws `.deviceLost` on hangup, EIO, ENXIO, ENODEV.
    public func read(
        into buffer: inout [UInt8], maxBytes: Int = 4096, timeoutMs: Int, wake: WakeSignal? = nil
    ) throws(SerialPortError) -> SerialReadResult {
        precondition(fd >= 0, "read on a closed SerialPort")
        var fds = [pollfd(fd: fd, events: Int16(POLLIN), revents: 0)]
        if let wake { fds.append(pollfd(fd: wake.readFD, events: Int16(POLLIN), revents: 0)) }
        let timeout = CInt(clamping: max(0, timeoutMs))
        switch system_poll(&fds, timeout) {
        case let .failure(err): throw fail("poll", err)
        case .success(0): return .timedOut
        case .success: break
        }
        if fds.count > 1, fds[1].revents != 0 {
            wake?.drain()
            return .woken
        }
        let rev = Int32(fds[0].revents)
        if rev & Int32(POLLNVAL) != 0 { preconditionFailure("poll: POLLNVAL on an open SerialPort") }
        if rev & Int32(POLLIN) == 0 && rev & (Int32(POLLHUP) | Int32(POLLERR)) != 0 {
            throw .deviceLost(path: config.path, detail: rev & Int32(POLLHUP) != 0 ? "hangup" : "POLLERR")
        }
        let start = buffer.count
        buffer.append(contentsOf: repeatElement(0, count: maxBytes))
        let result = buffer.withUnsafeMutableBytes { raw in
            system_read(fd, UnsafeMutableRawBufferPointer(rebasing: raw[start...]))
        }
        let now = HostClock.monotonicNanoseconds()
        switch result {
        case let .success(n):
            buffer.removeLast(maxBytes - n)
            if n == 0 { throw .deviceLost(path: config.path, detail: "end of file (hangup)") }
            return .data(count: n, hostNs: now)
        case let .failure(err):
            buffer.removeLast(maxBytes)
            if err == .wouldBlock || err == .resourceTemporarilyUnavailable { return .timedOut }
            if err == .ioError || err == .noSuchAddressOrDevice || err == .operationNotSupportedByDevice {
                throw .deviceLost(path: config.path, detail: "read: \(err)")
            }
            throw fail("read", err)
        }
    }

    /// Writes all of `bytes`, waiting for room (the port is non-blocking) up to `timeoutMs`.
    public func write(_ bytes: [UInt8], timeoutMs: Int = 1000, wake: WakeSignal? = nil) throws(SerialPortError) {
        precondition(fd >= 0, "write on a closed SerialPort")
        var offset = 0
        let deadline = HostClock.monotonicNanoseconds() + Int64(timeoutMs) * 1_000_000
        while offset < bytes.count {
            let result = bytes.withUnsafeBytes { raw in system_write(fd, UnsafeRawBufferPointer(rebasing: raw[offset...])) }
            switch result {
            case let .success(n): offset += n
            case let .failure(err) where err == .wouldBlock || err == .resourceTemporarilyUnavailable:
                let left = deadline - HostClock.monotonicNanoseconds()
                if left <= 0 {
                    throw .unsupported(path: config.path, "output blocked for \(timeoutMs) ms (flow control holding the line?)")
                }
                var fds = [pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)]
                if case let .failure(perr) = system_poll(&fds, CInt(left / 1_000_000) + 1) { throw fail("poll", perr) }
            case let .failure(err):
                if err == .ioError || err == .noSuchAddressOrDevice || err == .operationNotSupportedByDevice {
                    throw .deviceLost(path: config.path, detail: "write: \(err)")
                }
                throw fail("write", err)
            }
        }
    }

    /// Reads one line (ended by CR, LF or CR LF; blank lines skipped; at most `maxLineBytes`,
    /// the rest of a longer line is left unread). Nil after `timeoutMs` or when `wake` fires.
    public func readLine(
        timeoutMs: Int, maxLineBytes: Int = 1024, wake: WakeSignal? = nil
    ) throws(SerialPortError) -> (line: [UInt8], hostNs: Nanoseconds, bytesRead: Int)? {
        var framer = LineFramer(maxLineBytes: maxLineBytes)
        let deadline = HostClock.monotonicNanoseconds() + Int64(timeoutMs) * 1_000_000
        var chunk: [UInt8] = []
        var total = 0
        while true {
            let left = (deadline - HostClock.monotonicNanoseconds()) / 1_000_000
            if left <= 0 { return nil }
            chunk.removeAll(keepingCapacity: true)
            switch try read(into: &chunk, maxBytes: 512, timeoutMs: Int(left), wake: wake) {
            case .woken: return nil
            case .timedOut: continue
            case let .data(n, ns):
                total += n
                var found: [UInt8]?
                framer.push(chunk) { event, _ in
                    guard found == nil else { return }
                    switch event {
                    case let .line(l) where !l.isEmpty: found = l
                    case .line: break
                    case let .overlong(prefix): found = prefix
                    }
                }
                if let found { return (found, ns, total) }
            }
        }
    }

    /// Sends `command` + `terminator` and returns the answer line, or nil after `timeoutMs`
    /// (SCPI "*IDN?", "MEAS:VOLT?"). Input pending before the command is discarded.
    public func query(
        _ command: String, terminator: String = "\n", timeoutMs: Int = 500, maxLineBytes: Int = 1024, wake: WakeSignal? = nil
    ) throws(SerialPortError) -> [UInt8]? {
        try discardInput()
        try write(Array((command + terminator).utf8), wake: wake)
        return try readLine(timeoutMs: timeoutMs, maxLineBytes: maxLineBytes, wake: wake)?.line
    }

    /// Discards received but unread bytes (tcflush TCIFLUSH).
    public func discardInput() throws(SerialPortError) {
        if case let .failure(err) = system_ioctl(fd, trw_TCFLSH, trw_TCIFLUSH) {
            if err == .ioError || err == .operationNotSupportedByDevice { throw .deviceLost(path: config.path, detail: "TCFLSH: \(err)") }
            throw fail("TCFLSH", err)
        }
    }

    /// Bytes received and not yet read (TIOCINQ / FIONREAD).
    public func queuedInputBytes() throws(SerialPortError) -> Int {
        var n: CInt = 0
        if case let .failure(err) = system_ioctl(fd, UInt(FIONREAD), &n) {
            if err == .ioError || err == .operationNotSupportedByDevice { throw .deviceLost(path: config.path, detail: "FIONREAD: \(err)") }
            throw fail("FIONREAD", err)
        }
        return Int(n)
    }

    /// Waits until all written bytes left the UART (tcdrain, TCSBRK with 1).
    public func drainOutput() throws(SerialPortError) {
        if case let .failure(err) = system_ioctl(fd, trw_TCSBRK, 1) {
            if err == .ioError || err == .operationNotSupportedByDevice { throw .deviceLost(path: config.path, detail: "TCSBRK: \(err)") }
            throw fail("TCSBRK", err)
        }
    }
}
