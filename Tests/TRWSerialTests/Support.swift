import Foundation
import Synchronization
import CSerial
import TRWCore
@testable import TRWSerial

#if canImport(Glibc)
import Glibc
#endif

/// A pseudo-terminal pair: the test plays the instrument on the master side,
/// the code under test opens the slave by path with real termios.
/// @unchecked: the master descriptor is read and written by one simulator thread; `close()`
/// runs after that thread has been shut down.
final class PseudoTerminal: @unchecked Sendable {
    let master: CInt
    let slavePath: String
    /// A slave descriptor held by the test, set to raw mode before the code under
    /// test opens the port (so nothing is echoed or translated meanwhile).
    private var slaveHold: CInt

    init() throws {
        let m = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC)
        guard m >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno)!) }
        var unlock: CInt = 0
        var number: CInt = -1
        guard trw_ioctl_ptr(m, trw_TIOCSPTLCK, &unlock) == 0, trw_ioctl_ptr(m, trw_TIOCGPTN, &number) == 0 else {
            throw POSIXError(POSIXErrorCode(rawValue: errno)!)
        }
        master = m
        slavePath = "/dev/pts/\(number)"
        slaveHold = open(slavePath, O_RDWR | O_NOCTTY | O_CLOEXEC)
        guard slaveHold >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno)!) }
        var tio = termios()
        guard tcgetattr(slaveHold, &tio) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno)!) }
        cfmakeraw(&tio)
        guard tcsetattr(slaveHold, TCSANOW, &tio) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno)!) }
    }

    /// Writes all bytes as the instrument.
    func send(_ bytes: [UInt8]) {
        var off = 0
        while off < bytes.count {
            let n = bytes[off...].withUnsafeBytes { write(master, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            precondition(n > 0, "write to pty master failed: errno \(errno)")
            off += n
        }
    }

    func send(_ text: String) { send(Array(text.utf8)) }

    /// Reads what the code under test wrote, waiting up to `timeoutMs` for the first byte
    /// and then until `count` bytes or a quiet 20 ms.
    func receive(count: Int = 4096, timeoutMs: Int32 = 2000) -> [UInt8] {
        var out: [UInt8] = []
        var wait = timeoutMs
        while out.count < count {
            var fds = [pollfd(fd: master, events: Int16(POLLIN), revents: 0)]
            let r = poll(&fds, 1, wait)
            if r <= 0 || fds[0].revents & Int16(POLLIN) == 0 { break }
            var buf = [UInt8](repeating: 0, count: count - out.count)
            let n = read(master, &buf, buf.count)
            if n <= 0 { break }
            out += buf.prefix(n)
            wait = 20
        }
        return out
    }

    /// Hangs up: the slave side sees the device disappear.
    func close() {
        if slaveHold >= 0 { Glibc.close(slaveHold); slaveHold = -1 }
        Glibc.close(master)
    }

    deinit {
        if slaveHold >= 0 { Glibc.close(slaveHold) }
    }
}

/// Events a source emitted, with waiting helpers.
final class RecordingSink: SampleSink, Sendable {
    private let events = Mutex<[SourceEvent]>([])

    func emit(_ event: SourceEvent, stream: String, mode: EmitMode) -> Bool {
        events.withLock { $0.append(event) }
        return true
    }

    var all: [SourceEvent] { events.withLock { $0 } }
    var samples: [BMSSample] { all.compactMap { if case let .bms(s) = $0 { s } else { nil } } }
    var gaps: [GapEvent] { all.compactMap { if case let .gap(g) = $0 { g } else { nil } } }

    /// Waits (generously, up to `timeoutS`) until `condition` holds; returns whether it did.
    @discardableResult
    func wait(timeoutS: Double = 10, _ condition: (RecordingSink) -> Bool) -> Bool {
        let end = Date().addingTimeInterval(timeoutS)
        while Date() < end {
            if condition(self) { return true }
            usleep(2000)
        }
        return condition(self)
    }
}

/// Waits (generously, up to `timeoutS`) until `condition` holds; returns whether it did.
@discardableResult
func eventually(timeoutS: Double = 10, _ condition: () -> Bool) -> Bool {
    let end = Date().addingTimeInterval(timeoutS)
    while Date() < end {
        if condition() { return true }
        usleep(2000)
    }
    return condition()
}

/// Runs a source on its own thread, as the recorder does.
final class SourceRunner: Sendable {
    let source: SerialInstrumentSource
    private let done = DispatchSemaphore(value: 0)
    private let error = Mutex<String?>(nil)
    private let finished = Atomic<Bool>(false)

    /// Starts `run` on a thread and returns once it reads the instrument (a line
    /// source discards what the tty buffered before its run: bytes a test sends
    /// earlier would be lost), or it ended.
    init(_ source: SerialInstrumentSource, sink: some SampleSink) {
        self.source = source
        let t = Thread { [self] in
            do { try self.source.run(into: sink) } catch let e { self.error.withLock { $0 = "\(e)" } }
            self.finished.store(true, ordering: .releasing)
            self.done.signal()
        }
        t.start()
        _ = eventually(timeoutS: 10) { source.isReading || finished.load(ordering: .acquiring) }
    }

    /// Stops the source; returns true if `run` returned within `timeoutS`.
    func stop(timeoutS: Double = 5) -> Bool {
        source.stop()
        return done.wait(timeout: .now() + timeoutS) == .success
    }

    var runError: String? { error.withLock { $0 } }
}


/// Feeds `chunks` (one input split across reads) through a framer and decoder,
/// returning every outcome (the reference for split-invariance tests).
func decodeStream(_ chunks: [[UInt8]], decoder: some BMSLineDecoder, maxLineBytes: Int = 1024) -> [LineOutcome] {
    var decoder = decoder
    var framer = LineFramer(maxLineBytes: maxLineBytes)
    var out: [LineOutcome] = []
    for chunk in chunks {
        framer.push(chunk) { event, _ in
            switch event {
            case let .line(l): out.append(decoder.decode(line: l, hostArrivalNs: 0))
            case let .overlong(p): out.append(.rejected(Rejection(raw: escapeRaw(p), reason: "overlong")))
            }
        }
    }
    return out
}

func instrument(_ path: String, _ proto: SerialProtocolConfig, baud: Int = 115200, silenceS: Double = 5,
                reopenS: Double = 0.05) -> SerialInstrumentConfig {
    SerialInstrumentConfig(
        stream: "bms0", port: SerialPortConfig(path: path, baud: baud), protocolConfig: proto,
        silenceTimeoutS: silenceS, reopenInitialDelayS: reopenS, reopenMaxDelayS: 0.2)
}
