import Foundation
import Logging
import Synchronization
import TRWCore

/// Counters of one serial source: every byte, line and frame is accounted for.
public struct SerialSourceStatistics: Sendable, Equatable {
    public var bytesRead: Int64 = 0
    /// Lines (line protocols) or polls (Modbus, SCPI) completed.
    public var units: Int64 = 0
    public var samples: Int64 = 0
    /// CSV headers.
    public var headers: Int64 = 0
    /// Blank and comment lines.
    public var ignored: Int64 = 0
    /// Lines, frames or polls rejected (each also sent as a `.parseError` gap).
    public var rejected: Int64 = 0
    /// Bytes dropped after an over-long line's kept prefix.
    public var discardedBytes: Int64 = 0
    /// Requests (Modbus, SCPI) that got no answer after all retries.
    public var unanswered: Int64 = 0
    /// Bad frames or answers that were retried.
    public var retried: Int64 = 0
    /// Silence periods (each sent as a `.timeout` gap).
    public var silences: Int64 = 0
    /// Device losses (each sent as a `.deviceLoss` gap) and successful reopens.
    public var deviceLosses: Int64 = 0
    public var reopens: Int64 = 0
    /// Events the recorder's queue refused.
    public var dropped: Int64 = 0
    /// Line protocols: bytes the tty buffered between opening the port (`init`) and
    /// the start of `run`, discarded there: they precede the recording and their
    /// arrival times are unknown (read late, they would all share one time).
    public var staleBytesDiscarded: Int64 = 0
    public init() {}
}

/// A serial instrument as a recorder source: a BMS, DAQ or power supply on
/// RS-232/RS-485/USB-CDC, speaking CSV, key=value, JSON lines, Modbus RTU or SCPI.
///
/// Emits `.bms(BMSSample)` on `config.stream` and `.gap` for every line or frame
/// that did not decode (`.parseError`, detail = JSON `{"reason":..,"raw":..}` with the
/// escaped raw bytes), for silence longer than `silenceTimeoutS` (`.timeout`) and for
/// device loss (`.deviceLoss`, then reopen attempts with exponential backoff until
/// `stop()`). `hostArrivalNs` is CLOCK_MONOTONIC right after the read that delivered
/// the line's last byte (polled protocols: of the first answer of the poll), uncorrected;
/// the stream properties `baud` and `bits_per_char` let the sync engine subtract the
/// transmission time (`raw` holds the bytes).
public final class SerialInstrumentSource: Source {
    public let name: String
    public let streams: [StreamDescriptor]
    public let config: SerialInstrumentConfig
    /// Settings the driver granted at open.
    public let granted: SerialGrantedSettings

    private let logger: Logger
    private let wake: WakeSignal
    private let stopRequested = Atomic<Bool>(false)
    private let reading = Atomic<Bool>(false)
    private let state: Mutex<State>

    private struct State {
        var pendingPort: SerialPort?
        var stats = SerialSourceStatistics()
        var recent: [Rejection] = []
        /// Supply commands waiting for the device thread (`switchSupplyOff`).
        var commands: [CommandRequest] = []
    }

    /// A request to the device thread to send commands (and check them), answered once.
    final class CommandRequest: Sendable {
        let commands: [String]
        let check: String?
        private let done = DispatchSemaphore(value: 0)
        private let outcome = Mutex<Result<String, SupplyCommandError>?>(nil)

        init(commands: [String], check: String?) {
            self.commands = commands
            self.check = check
        }

        func finish(_ r: Result<String, SupplyCommandError>) {
            let first = outcome.withLock { o -> Bool in
                guard o == nil else { return false }
                o = r
                return true
            }
            if first { done.signal() }
        }

        /// The outcome, or nil when none came within `timeoutS`.
        func wait(timeoutS: Double) -> Result<String, SupplyCommandError>? {
            guard done.wait(timeout: .now() + timeoutS) == .success else { return nil }
            return outcome.withLock { $0 }
        }
    }

    /// Validates the configuration and opens the port (so `streams` states what the
    /// driver granted). Throws `SerialConfigError` or `SerialPortError` naming the device.
    public init(config: SerialInstrumentConfig, logger: Logger = Logger(label: "trw.serial")) throws {
        try config.validate()
        self.config = config
        var logger = logger
        logger[metadataKey: "device"] = "\(config.port.path)"
        logger[metadataKey: "stream"] = "\(config.stream)"
        self.logger = logger
        self.wake = try WakeSignal()
        let port = try SerialPort(config.port)
        self.granted = port.granted
        let granted = port.granted
        self.name = "serial \(config.protocolConfig.typeName) \(config.port.path)"
        let p = config.port
        var properties: [String: String] = [
            "protocol": config.protocolConfig.typeName,
            "baud": String(granted.outputBaud),
            "baud_requested": String(p.baud),
            "data_bits": String(p.dataBits),
            "parity": p.parity.rawValue,
            "stop_bits": String(p.stopBits),
            "bits_per_char": String(p.bitsPerCharacter),
            "flow_control": p.flowControl.rawValue,
            "exclusive": String(granted.exclusive),
            "rs485": String(granted.rs485),
            "arrival_reference": config.protocolConfig.pollPeriodS == nil ? "read_of_last_byte" : "read_of_first_answer_last_byte",
            "silence_timeout_s": String(config.silenceTimeoutS),
            // How `BMSSample.raw` holds the bytes: a line as escapeRaw text (for printable
            // lines its UTF-8 length is the byte count on the wire, terminator excluded),
            // Modbus response frames in hex joined by " | ", or "QUERY -> answer; ...".
            "raw_format": {
                switch config.protocolConfig {
                case .modbusRTU: "hex_frames"
                case .scpi: "scpi_transcript"
                default: "escaped_line"
                }
            }(),
        ]
        if let resolved = try? FileManager.default.destinationOfSymbolicLink(atPath: p.path) {
            properties["resolved_device"] = URL(fileURLWithPath: resolved, relativeTo: URL(fileURLWithPath: p.path).deletingLastPathComponent()).standardizedFileURL.path
        }
        if let period = config.protocolConfig.pollPeriodS { properties["poll_period_s"] = String(period) }
        if case let .scpi(c) = config.protocolConfig, c.identify {
            // *IDN? names the supply (maker, model, serial, firmware) in the session.
            do {
                if let idn = try port.query("*IDN?", terminator: c.terminator, timeoutMs: c.responseTimeoutMs, maxLineBytes: config.maxLineBytes) {
                    properties["identity"] = escapeRaw(idn)
                } else {
                    logger.info("no answer to *IDN?", metadata: ["timeout_ms": "\(c.responseTimeoutMs)"])
                }
            } catch {
                logger.info("*IDN? failed", metadata: ["error": "\(error)"])
            }
        }
        let rate = config.nominalRateHz ?? config.protocolConfig.pollPeriodS.map { 1 / $0 } ?? 1
        streams = [StreamDescriptor(
            key: config.stream, kind: .bms, device: p.path, format: config.protocolConfig.typeName, nominalRateHz: rate,
            units: ["voltage_v": "V", "current_a": "A", "cell_temp_c": "degC", "ambient_c": "degC", "soc": "%", "device_time": "s"],
            properties: properties, role: config.role)]
        self.state = Mutex(State(pendingPort: port))
    }

    /// Counters so far; safe from any thread.
    public var statistics: SerialSourceStatistics { state.withLock { $0.stats } }

    /// The last `keptRejections` rejected lines/frames, oldest first.
    public var recentRejections: [Rejection] { state.withLock { $0.recent } }

    /// Serial ports present on this machine, for `trw devices`.
    public static func listSerialPorts() -> [SerialPortInfo] { SerialPortInfo.scan() }

    public func stop() {
        stopRequested.store(true, ordering: .releasing)
        wake.signal()
    }

    private var isStopping: Bool { stopRequested.load(ordering: .acquiring) }

    /// True while `run` reads the instrument: from after the input buffered before
    /// the run was discarded (line protocols) until `run` returns. Safe from any thread.
    public var isReading: Bool { reading.load(ordering: .acquiring) }

    public func run(into sink: any SampleSink) throws {
        var port = state.withLock { s -> SerialPort? in
            let p = s.pendingPort
            s.pendingPort = nil
            return p
        }
        if port == nil {
            port = try SerialPort(config.port)
        }
        // A streaming instrument talks from the moment the port is open; what the tty
        // buffered before this run starts predates the recording and would be read in
        // one burst with one arrival time (seen under a real kernel in `make test-kernel`).
        // Polled protocols discard before every request already.
        if let p = port {
            switch config.protocolConfig {
            case .csv, .keyValue, .jsonLines:
                do {
                    let stale = try p.queuedInputBytes()
                    try p.discardInput()
                    state.withLock { $0.stats.staleBytesDiscarded += Int64(stale) }
                    if stale > 0 {
                        logger.info("discarded input buffered before the run started", metadata: ["bytes": "\(stale)"])
                    }
                } catch {
                    // A lost device shows again on the first read, where the loss is handled.
                    logger.info("could not discard input buffered before the run", metadata: ["error": "\(error)"])
                }
            case .modbusRTU, .scpi:
                break
            }
        }
        reading.store(true, ordering: .releasing)
        defer { reading.store(false, ordering: .releasing) }
        logger.info("recording serial instrument", metadata: ["protocol": "\(config.protocolConfig.typeName)", "baud": "\(granted.outputBaud)"])
        var session = Session(source: self, sink: sink, port: port)
        switch config.protocolConfig {
        case let .csv(c): session.runLines(decoder: CSVLineDecoder(config: c))
        case let .keyValue(c): session.runLines(decoder: KeyValueLineDecoder(config: c))
        case let .jsonLines(c): session.runLines(decoder: JSONLineDecoder(config: c))
        case let .modbusRTU(c): session.runModbus(c)
        case let .scpi(c): session.runSCPI(c)
        }
        session.serveCommands()  // an output-off asked for while the loop ended is still sent
        session.port?.close()
        for r in state.withLock({ s -> [CommandRequest] in defer { s.commands = [] }; return s.commands }) {
            r.finish(.failure(SupplyCommandError("the recording of \(config.stream) ended before the command was sent")))
        }
        logger.info("serial instrument stopped", metadata: ["samples": "\(statistics.samples)", "rejected": "\(statistics.rejected)"])
    }

    // MARK: - The device thread's state

    /// Everything `run` mutates, owned by the device thread.
    private struct Session {
        let source: SerialInstrumentSource
        let sink: any SampleSink
        var port: SerialPort?
        var lastActivityNs: Nanoseconds
        var silenceReported = false
        var buffer: [UInt8] = []

        init(source: SerialInstrumentSource, sink: any SampleSink, port: SerialPort?) {
            self.source = source
            self.sink = sink
            self.port = port
            self.lastActivityNs = HostClock.monotonicNanoseconds()
            buffer.reserveCapacity(4096)
        }

        var config: SerialInstrumentConfig { source.config }
        var key: String { source.config.stream }
        var silenceNs: Int64 { Int64(config.silenceTimeoutS * 1e9) }

        func count(_ body: (inout SerialSourceStatistics) -> Void) {
            source.state.withLock { body(&$0.stats) }
        }

        func emit(_ event: SourceEvent) {
            if !sink.emit(event, stream: key, mode: .dropIfFull) { count { $0.dropped += 1 } }
        }

        func emitSample(_ sample: BMSSample) {
            count { $0.samples += 1 }
            emit(.bms(sample))
        }

        func reject(_ r: Rejection, atNs: Nanoseconds) {
            let keep = config.keptRejections
            source.state.withLock { s in
                s.stats.rejected += 1
                if keep > 0 {
                    if s.recent.count >= keep { s.recent.removeFirst(s.recent.count - keep + 1) }
                    s.recent.append(r)
                }
            }
            source.logger.debug("rejected", metadata: ["reason": "\(r.reason)", "raw": "\(r.raw)"])
            emit(.gap(GapEvent(kind: .parseError, startHostNs: atNs, lostCount: 1, detail: rejectionDetail(r))))
        }

        /// Marks activity; logs the end of a silence.
        mutating func activity(at ns: Nanoseconds) {
            if silenceReported {
                source.logger.info("instrument speaks again", metadata: ["silent_s": "\(Double(ns - lastActivityNs) / 1e9)"])
                silenceReported = false
            }
            lastActivityNs = ns
        }

        /// Emits one `.timeout` gap per silence longer than the configured time.
        mutating func checkSilence(now: Nanoseconds) {
            guard !silenceReported, now - lastActivityNs >= silenceNs else { return }
            silenceReported = true
            count { $0.silences += 1 }
            source.logger.info("instrument silent", metadata: ["for_s": "\(Double(now - lastActivityNs) / 1e9)"])
            emit(.gap(GapEvent(
                kind: .timeout, startHostNs: lastActivityNs, lostCount: 0,
                detail: "no data from \(config.port.path) for \(config.silenceTimeoutS) s")))
        }

        /// Milliseconds until the silence deadline (bounded so stop and reopen stay prompt).
        func waitMs(now: Nanoseconds) -> Int {
            if silenceReported { return 1000 }
            let left = (lastActivityNs + silenceNs - now) / 1_000_000
            return Int(max(1, min(1000, left + 1)))
        }

        /// Closes the lost port and reopens with backoff until it works or stop().
        mutating func handleLoss(_ error: SerialPortError) {
            let now = HostClock.monotonicNanoseconds()
            port?.close()
            port = nil
            count { $0.deviceLosses += 1 }
            source.logger.info("device lost", metadata: ["error": "\(error)"])
            emit(.gap(GapEvent(kind: .deviceLoss, startHostNs: now, lostCount: 0, detail: error.description)))
            var delay = config.reopenInitialDelayS
            while !source.isStopping {
                if source.wake.wait(timeoutMs: Int(delay * 1000)) { continue }
                if source.isStopping { break }
                do {
                    port = try SerialPort(config.port)
                    count { $0.reopens += 1 }
                    source.logger.info("device reopened", metadata: ["after_s": "\(Double(HostClock.monotonicNanoseconds() - now) / 1e9)"])
                    lastActivityNs = HostClock.monotonicNanoseconds()
                    silenceReported = false
                    return
                } catch {
                    source.logger.debug("reopen failed", metadata: ["error": "\(error)"])
                    delay = min(delay * 2, config.reopenMaxDelayS)
                }
            }
        }

        // MARK: Line protocols

        mutating func runLines(decoder: some BMSLineDecoder) {
            var decoder = decoder
            var framer = LineFramer(maxLineBytes: config.maxLineBytes)
            while !source.isStopping {
                guard let port else {
                    handleLoss(.deviceLost(path: config.port.path, detail: "not open"))
                    continue
                }
                buffer.removeAll(keepingCapacity: true)
                let result: SerialReadResult
                do {
                    result = try port.read(into: &buffer, maxBytes: 4096, timeoutMs: waitMs(now: HostClock.monotonicNanoseconds()), wake: source.wake)
                } catch {
                    if let partial = framer.takePartial() {
                        count { $0.units += 1 }
                        reject(Rejection(raw: escapeRaw(partial), reason: "partial line at device loss"), atNs: HostClock.monotonicNanoseconds())
                    }
                    handleLoss(error)
                    continue
                }
                switch result {
                case .woken: continue
                case .timedOut: checkSilence(now: HostClock.monotonicNanoseconds())
                case let .data(n, readNs):
                    count { $0.bytesRead += Int64(n) }
                    activity(at: readNs)
                    let discardedBefore = framer.discardedBytes
                    let chunk = buffer
                    framer.push(chunk) { event, _ in
                        // The read time itself: lines completed by the same read share it. No
                        // correction here (USB-CDC has no baud-rate pacing); the sync engine
                        // corrects with the stream's `baud` and `bits_per_char`.
                        let arrival = readNs
                        count { $0.units += 1 }
                        switch event {
                        case let .line(line):
                            switch decoder.decode(line: line, hostArrivalNs: arrival) {
                            case let .sample(s): emitSample(s)
                            case .header: count { $0.headers += 1 }
                            case .ignored: count { $0.ignored += 1 }
                            case let .rejected(r): reject(r, atNs: arrival)
                            }
                        case let .overlong(prefix):
                            reject(Rejection(raw: escapeRaw(prefix) + "...", reason: "line longer than \(config.maxLineBytes) bytes"), atNs: arrival)
                        }
                    }
                    let discarded = Int64(framer.discardedBytes - discardedBefore)
                    if discarded > 0 { count { $0.discardedBytes += discarded } }
                }
            }
        }

        // MARK: Polled protocols

        /// Waits until `deadline` or stop; true when stopping.
        func sleep(until deadline: Nanoseconds) -> Bool {
            while !source.isStopping {
                let left = deadline - HostClock.monotonicNanoseconds()
                if left <= 0 { return false }
                _ = source.wake.wait(timeoutMs: Int(min(left / 1_000_000 + 1, 1000)))
            }
            return true
        }

        /// Runs `poll` every `period` seconds on the schedule start + k * period,
        /// skipping polls that are already late.
        mutating func runPolled(periodS: Double, _ poll: (inout Session, SerialPort) throws(SerialPortError) -> Void) {
            let period = Int64(periodS * 1e9)
            var next = HostClock.monotonicNanoseconds()
            // A supply trw can switch off serves its commands between polls, within 50 ms.
            let slice: Int64 = source.canSwitchSupplyOff ? 50_000_000 : .max
            while !source.isStopping {
                var stopped = false
                while true {
                    serveCommands()
                    let now = HostClock.monotonicNanoseconds()
                    if now >= next { break }
                    if sleep(until: slice == .max ? next : min(next, now + slice)) { stopped = true; break }
                }
                if stopped { break }
                let now = HostClock.monotonicNanoseconds()
                next += period
                if next <= now { next = now + period }
                guard let port else {
                    handleLoss(.deviceLost(path: config.port.path, detail: "not open"))
                    next = HostClock.monotonicNanoseconds()
                    continue
                }
                do {
                    try poll(&self, port)
                } catch {
                    handleLoss(error)
                    next = HostClock.monotonicNanoseconds()
                    continue
                }
                checkSilence(now: HostClock.monotonicNanoseconds())
            }
        }

        mutating func runModbus(_ c: ModbusRTUProtocolConfig) {
            let plan = c.plan()
            let decoder = ModbusSampleDecoder(config: c)
            // RTU needs 3.5 character times of silence between frames.
            let interFrameNs = max(config.port.transmissionTimeNs(bytes: 4), 1_750_000)
            runPolled(periodS: c.pollPeriodS) { (s: inout Session, port: SerialPort) throws(SerialPortError) in
                var answers: [(request: ModbusReadRequest, registers: [UInt16]?)] = []
                var frames: [String] = []
                var firstArrival: Nanoseconds?
                for request in plan {
                    var registers: [UInt16]?
                    attempts: for attempt in 0...c.retries {
                        if s.source.isStopping { return }
                        system_sleep(nanoseconds: interFrameNs)
                        try port.discardInput()
                        try port.write(request.frame, wake: s.source.wake)
                        let (response, arrival) = try s.readModbus(port, request, timeoutMs: c.responseTimeoutMs)
                        if s.source.isStopping { return }  // interrupted: neither answered nor unanswered
                        switch response {
                        case let .registers(regs, frame):
                            registers = regs
                            frames.append(hexString(frame))
                            firstArrival = firstArrival ?? arrival
                            s.activity(at: arrival ?? HostClock.monotonicNanoseconds())
                            break attempts
                        case let .exception(code, frame):
                            s.activity(at: arrival ?? HostClock.monotonicNanoseconds())
                            s.count { $0.units += 1 }
                            s.reject(Rejection(raw: hexString(frame), reason: "slave \(request.slave) answered exception \(code) (\(modbusExceptionName(code))) to read \(request.table.rawValue) \(request.start) x\(request.count)"), atNs: arrival ?? HostClock.monotonicNanoseconds())
                            break attempts
                        case let .invalid(reason, frame):
                            s.activity(at: arrival ?? HostClock.monotonicNanoseconds())
                            if attempt < c.retries {
                                s.count { $0.retried += 1 }
                            } else {
                                s.count { $0.units += 1 }
                                s.reject(Rejection(raw: hexString(frame), reason: "\(reason) (after \(c.retries + 1) tries)"), atNs: arrival ?? HostClock.monotonicNanoseconds())
                            }
                        case .incomplete:
                            if attempt < c.retries { s.count { $0.retried += 1 } } else { s.count { $0.unanswered += 1 } }
                        }
                    }
                    answers.append((request, registers))
                }
                guard let arrival = firstArrival else { return }
                s.count { $0.units += 1 }
                switch decoder.decode(answers: answers, raw: frames.joined(separator: " | "), hostArrivalNs: arrival) {
                case let .success(sample): s.emitSample(sample)
                case let .failure(r): s.reject(r, atNs: arrival)
                }
            }
        }

        /// Reads until the response is complete, invalid, or the timeout passes.
        /// Returns the parse state and the read time of the last byte.
        mutating func readModbus(_ port: SerialPort, _ request: ModbusReadRequest, timeoutMs: Int) throws(SerialPortError) -> (ModbusResponse, Nanoseconds?) {
            var received: [UInt8] = []
            var lastNs: Nanoseconds?
            let deadline = HostClock.monotonicNanoseconds() + Int64(timeoutMs) * 1_000_000
            while !source.isStopping {
                let left = (deadline - HostClock.monotonicNanoseconds()) / 1_000_000
                if left <= 0 { break }
                switch try port.read(into: &received, maxBytes: 512, timeoutMs: Int(left), wake: source.wake) {
                case .woken, .timedOut: continue
                case let .data(n, ns):
                    count { $0.bytesRead += Int64(n) }
                    lastNs = ns
                    let r = parseModbusResponse(received, for: request)
                    if r != .incomplete { return (r, lastNs) }
                }
            }
            if !received.isEmpty {
                return (.invalid(reason: "incomplete frame (\(received.count) of \(request.responseLength) bytes) after \(timeoutMs) ms", frame: received), lastNs)
            }
            return (.incomplete, nil)
        }

        /// Sends the commands waiting in `switchSupplyOff` (device thread only). Waits are bounded
        /// by the port's write timeout and the SCPI response timeout; the stop signal does not
        /// cut them short, so an output-off asked for just before the end is still sent.
        mutating func serveCommands() {
            guard case let .scpi(c) = config.protocolConfig else { return }
            let pending = source.state.withLock { s -> [CommandRequest] in
                defer { s.commands = [] }
                return s.commands
            }
            for r in pending {
                guard let port else {
                    r.finish(.failure(SupplyCommandError("\(config.port.path) is not open (device lost); nothing was sent")))
                    continue
                }
                do {
                    for command in r.commands {
                        try port.discardInput()
                        try port.write(Array((command + c.terminator).utf8))
                    }
                    var done = "sent " + r.commands.joined(separator: "; ") + " to \(config.port.path)"
                    if let q = r.check {
                        try port.discardInput()
                        try port.write(Array((q + c.terminator).utf8))
                        guard let (line, ns) = try readLine(port, timeoutMs: c.responseTimeoutMs) else {
                            r.finish(.failure(SupplyCommandError(done + ", but \(q) got no answer within \(c.responseTimeoutMs) ms")))
                            continue
                        }
                        activity(at: ns)
                        let answer = String(decoding: line, as: UTF8.self)
                        guard c.confirmsOff(answer) else {
                            r.finish(.failure(SupplyCommandError(done + ", but \(q) answered '\(escapeRaw(line))', not "
                                                                 + c.outputOffExpect.joined(separator: " or "))))
                            continue
                        }
                        done += "; \(q) -> \(escapeRaw(line))"
                    }
                    r.finish(.success(done))
                } catch {
                    r.finish(.failure(SupplyCommandError("\(config.port.path): \(error)")))
                }
            }
        }

        mutating func runSCPI(_ c: SCPIProtocolConfig) {
            let decoder = SCPIAnswerDecoder(config: c)
            runPolled(periodS: c.pollPeriodS) { (s: inout Session, port: SerialPort) throws(SerialPortError) in
                var answers: [(query: SCPIQuerySpec, line: [UInt8]?)] = []
                var firstArrival: Nanoseconds?
                for q in c.queries {
                    var answer: [UInt8]?
                    for attempt in 0...c.retries {
                        if s.source.isStopping { return }
                        try port.discardInput()
                        try port.write(Array((q.query + c.terminator).utf8), wake: s.source.wake)
                        let reply = try s.readLine(port, timeoutMs: c.responseTimeoutMs)
                        if s.source.isStopping { return }  // interrupted: neither answered nor unanswered
                        if let (line, ns) = reply {
                            answer = line
                            firstArrival = firstArrival ?? ns
                            s.activity(at: ns)
                            break
                        }
                        if attempt < c.retries { s.count { $0.retried += 1 } } else { s.count { $0.unanswered += 1 } }
                    }
                    answers.append((q, answer))
                }
                guard let arrival = firstArrival else { return }
                s.count { $0.units += 1 }
                switch decoder.decode(answers: answers, hostArrivalNs: arrival) {
                case let .success(sample): s.emitSample(sample)
                case let .failure(r): s.reject(r, atNs: arrival)
                }
            }
        }

        /// One answer line (CR, LF or CR LF ended, bounded), or nil after the timeout.
        mutating func readLine(_ port: SerialPort, timeoutMs: Int) throws(SerialPortError) -> ([UInt8], Nanoseconds)? {
            guard let answer = try port.readLine(timeoutMs: timeoutMs, maxLineBytes: config.maxLineBytes, wake: source.wake) else {
                return nil
            }
            count { $0.bytesRead += Int64(answer.bytesRead) }
            return (answer.line, answer.hostNs)
        }
    }
}

/// The `detail` of a parse-error gap: `{"reason": ..., "raw": ...}` (raw escaped by `escapeRaw`).
public func rejectionDetail(_ r: Rejection) -> String {
    let object = ["raw": r.raw, "reason": r.reason]
    guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]),
          let text = String(data: data, encoding: .utf8) else { return r.description }
    return text
}

extension WakeSignal {
    /// Waits up to `timeoutMs` for `signal()`; true if it fired (the pipe is left signalled
    /// so the next wait in the same loop sees it too; `SerialPort.read` drains it).
    func wait(timeoutMs: Int) -> Bool {
        var fds = [pollfd(fd: readFD, events: Int16(POLLIN), revents: 0)]
        switch system_poll(&fds, CInt(clamping: max(0, timeoutMs))) {
        case .success(let n): return n > 0
        case .failure(let err):
            preconditionNotOurBug(err, "poll")
            return false
        }
    }
}

/// Why a supply command failed (`SerialInstrumentSource.switchSupplyOff`).
public struct SupplyCommandError: Error, Sendable, Equatable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

extension SerialInstrumentSource: SupplyControl {
    /// A SCPI supply whose rig file gives `output_off` commands.
    public var canSwitchSupplyOff: Bool {
        if case let .scpi(c) = config.protocolConfig { return !c.outputOff.isEmpty }
        return false
    }

    /// Queues the `output_off` commands for the device thread (which owns the port) and waits
    /// for them to be sent and, with `output_off_check`, confirmed; the wait is bounded by one
    /// poll's worst case plus the commands' own time.
    public func switchSupplyOff(reason: String) throws -> String {
        guard case let .scpi(c) = config.protocolConfig, !c.outputOff.isEmpty else {
            throw SupplyCommandError("\(config.stream) (\(config.port.path)) has no output_off commands in its rig file")
        }
        guard isReading else {
            throw SupplyCommandError("\(config.stream) is not being recorded: nothing was sent")
        }
        let r = CommandRequest(commands: c.outputOff, check: c.outputOffCheck)
        state.withLock { $0.commands.append(r) }
        let pollWorstS = Double(c.queries.count * (c.retries + 1) * c.responseTimeoutMs) / 1000
        let boundS = 0.1 + pollWorstS + Double(c.outputOff.count) + Double(c.responseTimeoutMs) / 1000 + 1
        guard let outcome = r.wait(timeoutS: boundS) else {
            state.withLock { $0.commands.removeAll { $0 === r } }
            r.finish(.failure(SupplyCommandError("timed out")))
            throw SupplyCommandError(String(format: "\(config.stream): no outcome within %.1f s (device thread busy or hung)", boundS))
        }
        logger.warning("supply output off", metadata: ["reason": "\(reason)", "outcome": "\(outcome)"])
        return try outcome.get()
    }
}
