import Foundation
import Logging
import TRWAnalysis
import TRWCore
import TRWDatasets
import TRWIO
import TRWStore

/// Publishes a running recording as the replay's JSON Lines
/// (schemas/replay.schema.json) on a Unix socket, so an online predictor can
/// follow a live test: a session header on connect, then ticks at `rateHz` of
/// session time, AE hits, gaps, markers, labels. Tick features come from the one
/// feature pipeline (`TickFeatureAccumulator`), fed the same samples as the export
/// reads back, so a live tick equals the offline tick of the same time. A tick is
/// sent once every feature stream has delivered past its end (AE hits: once no hit
/// still open could start in it); a stream that has delivered nothing for `stallS`
/// seconds of the host clock stops holding ticks back (a stalled device, a stream
/// decimated by the sensing controls), and its samples that come after their tick was
/// sent go into the next tick and are counted as late.
/// A slow client never slows the recorder: its queue is bounded and lines it
/// cannot take are counted and dropped (reported in a final line). A client that
/// accepts no data for `sendTimeoutS` (it stopped reading) is disconnected: writes
/// are non-blocking with a send deadline. Every line a client lost is counted in a
/// `live_client` gap of the session (`finish` returns them) and logged.
public final class LiveTap: @unchecked Sendable {
    public let path: String
    public let rateHz: Double
    /// Seconds a client may accept no data before it is dropped.
    public let sendTimeoutS: Double
    private let server: UnixSocketServer
    private let logger: Logger
    private let lock = NSLock()
    // Guarded by lock.
    private var clients: [Client] = []
    private var losses: [GapRecord] = []
    private var nextClientId = 1
    private var lastTNs: Int64 = 0
    private let acceptDone = DispatchSemaphore(value: 0)
    private var header = ""
    private var stopped = false
    private let featureOptions: FeatureOptions
    private var acc: TickFeatureAccumulator
    private var windowing: AEWindowing?
    /// Which serial stream each BMS field comes from (the export's rule, `SerialRoles`).
    private var roles = SerialRoles(cell: nil, ambient: nil, note: nil)
    /// The streams the features read (the first thermal and AE streams, as the export does).
    private var thermalKey: String?, aeKey: String?
    /// Per feature stream, the session time up to which it has delivered everything,
    /// and when (host monotonic ns) it last delivered.
    private var watermarks: [String: (tNs: Int64, hostNs: Int64)] = [:]
    /// Host seconds a feature stream may deliver nothing before ticks stop waiting for it.
    public let stallS: Double

    final class Client: @unchecked Sendable {
        let id: Int
        let conn: UnixSocketConnection
        static let capacity = 4096
        let queue = BoundedQueue<String>(capacity: Client.capacity)
        // Guarded by the tap's lock.
        var dropped = 0
        var delivered = 0
        var connected = true
        let done = DispatchSemaphore(value: 0)
        init(id: Int, conn: UnixSocketConnection) { self.id = id; self.conn = conn }
    }

    /// Listens on `path` (checked first: only a stale socket is replaced, see `UnixSocketPath.check`).
    public init(path: String, rateHz: Double = 1, sendTimeoutS: Double = 5, stallS: Double = 2,
                logger: Logger = Logger(label: "trw.live")) throws {
        self.stallS = stallS
        self.path = path
        self.rateHz = rateHz
        self.sendTimeoutS = sendTimeoutS
        self.logger = logger
        server = try UnixSocketServer(path: path)
        var fo = FeatureOptions()
        fo.rateHz = rateHz
        featureOptions = fo
        acc = TickFeatureAccumulator(options: fo, layout: TickLayout())
        let t = Thread { [self] in
            acceptLoop()
            acceptDone.signal()
        }
        t.name = "trw-live-accept"
        t.start()
    }

    func setHeader(session: NewSession, uuid: String) {
        var h = JSONLine()
        h.add("type", "session"); h.add("uuid", uuid); h.add("name", session.name); h.add("live", "true")
        h.add("rate_hz", rateHz)
        h.addRaw("feature_names", "[" + FeatureExtractor.names(featureOptions).map { JSONLine.quote($0) }.joined(separator: ",") + "]")
        lock.withLock { header = h.text }
    }

    /// The recording's streams: the serial ones' roles decide which stream feeds which feature.
    func setStreams(_ streams: [StreamDescriptor]) {
        let r = SerialRoles.resolve(streams.filter { $0.kind == .bms }.map { ($0.key, $0.role) })
        let ir = streams.first { $0.kind == .thermal }, ae = streams.first { $0.kind == .ae }
        let layout = TickLayout(irCalibration: ir?.calibration, irWidth: ir?.width, irHeight: ir?.height,
                                aeRateHz: ae?.nominalRateHz, aeChannels: ae?.channels ?? 1, aeFormat: ae?.sampleFormat)
        lock.withLock {
            roles = r
            thermalKey = ir?.key
            aeKey = ae?.key
            acc = TickFeatureAccumulator(options: featureOptions, layout: layout)
            windowing = ae.flatMap { a in
                a.sampleFormat.map { AEWindowing(fftSize: featureOptions.fftSize, rateHz: a.nominalRateHz, channels: a.channels ?? 1, format: $0) }
            }
            watermarks = [:]
            let now = HostClock.monotonicNanoseconds()
            for key in [ir?.key, ae?.key, r.cell, r.ambient].compactMap({ $0 }) { watermarks[key] = (.min, now) }
        }
    }

    private func acceptLoop() {
        while !lock.withLock({ stopped }) {
            let conn: UnixSocketConnection
            do {
                guard let c = try server.accept(until: .after(seconds: 0.2)) else { continue }
                conn = c
            } catch {
                // Out of descriptors or memory: the recording goes on; try again shortly.
                logger.warning("live stream: cannot accept a client", metadata: ["path": "\(path)", "error": "\(error)"])
                Thread.sleep(forTimeInterval: 0.2)
                continue
            }
            let c = lock.withLock { () -> Client in
                let c = Client(id: nextClientId, conn: conn)
                nextClientId += 1
                clients.append(c)
                _ = c.queue.tryPush(header + "\n")
                return c
            }
            let t = Thread { [self] in
                serve(c)
                c.done.signal()
            }
            t.name = "trw-live-client"
            t.start()
        }
    }

    /// Sends a client its lines until the stream ends, it leaves, or it stops reading.
    private func serve(_ c: Client) {
        var failure: SocketError?
        while true {
            guard let line = c.queue.pop(timeout: 1) else {
                if c.queue.isClosedAndEmpty { break }
                continue
            }
            do {
                try c.conn.send(line, stallTimeout: sendTimeoutS)
                lock.withLock { c.delivered += 1 }
            } catch {
                failure = error
                break
            }
        }
        lock.withLock {
            c.connected = false
            clients.removeAll { $0 === c }
            c.queue.close()
            var pending = 0
            while c.queue.pop(timeout: 0) != nil { pending += 1 }
            let lost = c.dropped + pending + (failure == nil ? 0 : 1)
            let reason: String? = switch failure {
            case .sendTimedOut?: "accepted no data for \(JSONLine.number(sendTimeoutS)) s (it stopped reading) and was disconnected"
            case .peerClosed?: lost > 0 ? "closed the connection" : nil
            case let e?: "failed: \(e)"
            case nil: c.dropped > 0 ? "was too slow: its queue of \(Client.capacity) lines was full" : nil
            }
            guard let reason else { return }
            let detail = "live client \(c.id) on \(path) \(reason); \(c.delivered) lines delivered, \(lost) not delivered"
                + (c.dropped > 0 ? " (\(c.dropped) dropped while its queue was full)" : "")
            losses.append(GapRecord(streamId: nil, kind: "live_client", startTNs: lastTNs, endTNs: nil, lostCount: Int64(lost), detail: detail))
            logger.warning("live stream client dropped", metadata: ["path": "\(path)", "client": "\(c.id)", "detail": "\(detail)"])
        }
    }

    /// Sends a line to every client (never blocks; a full client queue drops the line and counts it).
    private func sendLocked(_ line: String) {
        for c in clients where !c.queue.tryPush(line + "\n") { c.dropped += 1 }
    }

    /// Sends every tick the feature streams have delivered past (or that a stream is
    /// `maxLagS` past); at the end (`final`), every tick that ends by `tNs`.
    private func sendReadyTicksLocked(final: Bool = false) {
        let stalledBefore = HostClock.monotonicNanoseconds() - Int64(stallS * 1e9)
        let waitingFor = watermarks.values.filter { $0.hostNs >= stalledBefore }.map(\.tNs)
        while true {
            let end = acc.tickEnd(acc.nextTick)
            let ready: Bool
            if final {
                ready = end <= lastTNs
            } else if waitingFor.isEmpty {
                ready = end < lastTNs
            } else {
                ready = waitingFor.allSatisfy { $0 > end }
            }
            guard ready else { return }
            let k = acc.nextTick
            let (_, row, _) = acc.close()
            var l = JSONLine()
            l.add("type", "tick"); l.add("t", Double(end) / 1e9); l.add("k", Double(k))
            l.addRaw("features", "{" + zip(acc.names, row).map { "\(JSONLine.quote($0)):\(JSONLine.number($1))" }.joined(separator: ",") + "}")
            sendLocked(l.text)
        }
    }

    /// A stream delivered everything up to `tNs`.
    private func advanceLocked(_ stream: String, to tNs: Int64) {
        lastTNs = max(lastTNs, tNs)
        if let w = watermarks[stream] { watermarks[stream] = (max(w.tNs, tNs), HostClock.monotonicNanoseconds()) }
        sendReadyTicksLocked()
    }

    /// An IR frame: its statistics, and its pixels for the tick's area and gradient features.
    func frame(tNs: Int64, stream: String, maxCounts: UInt16, meanCounts: Double, pixels: [UInt16]) {
        lock.withLock {
            if stream == thermalKey {
                acc.frame(tNs: tNs, .init(maxCounts: maxCounts, meanCounts: meanCounts) { pixels })
            }
            advanceLocked(stream, to: tNs)
        }
    }

    func bms(tNs: Int64, _ s: BMSSample, stream: String) {
        lock.withLock {
            if stream == roles.cell {
                acc.cell(tNs: tNs, .init(voltageV: s.voltageV, currentA: s.currentA, cellTempC: s.cellTempsC.first, soc: s.soc))
            }
            if stream == roles.ambient, let a = s.ambientC { acc.ambient(tNs: tNs, celsius: a) }
            advanceLocked(stream, to: tNs)
        }
    }

    /// An AE chunk, after its hits were sent: its RMS and samples, and the session time of
    /// the first crossing of a hit still open (nil: none; hits before it are complete).
    func audio(tNs: Int64, stream: String, rms: Double, firstSampleIndex: Int64, samples: [Int32], frameCount: Int, openHitTNs: Int64?) {
        lock.withLock {
            if stream == aeKey {
                acc.chunk(tNs: tNs, rms: rms)
                windowing?.add(tNs: tNs, firstSampleIndex: firstSampleIndex, samples: samples, frameCount: frameCount) { acc.window(endTNs: $0, power: $1) }
            }
            advanceLocked(stream, to: openHitTNs.map { min(tNs, $0 &- 1) } ?? tNs)
        }
    }

    func hit(_ h: AEHitRecord, stream: String) {
        lock.withLock {
            if stream == aeKey { acc.hit(tNs: h.tNs, energyV2s: h.energyV2s, amplitudeDb: h.amplitudeDb) }
            var l = JSONLine()
            l.add("type", "ae_hit"); l.add("t", Double(h.tNs) / 1e9); l.add("stream", stream); l.add("channel", Double(h.channel))
            l.add("amplitude_db", h.amplitudeDb); l.add("rise_time_s", h.riseTimeS); l.add("duration_s", h.durationS)
            l.add("counts", Double(h.counts)); l.add("energy_v2s", h.energyV2s)
            sendLocked(l.text)
        }
    }

    func event(_ json: String) {
        lock.withLock { sendLocked(json) }
    }

    /// Lines clients could not take so far (the session is unaffected).
    public var droppedLines: Int { lock.withLock { clients.reduce(0) { $0 + $1.dropped } + losses.reduce(0) { $0 + Int($1.lostCount) } } }

    /// Ends the stream (an `end` line), waits up to `sendTimeoutS` + 1 s for the clients to
    /// take what is queued, and stops listening. Returns one `live_client` gap per client
    /// that lost lines, for the session.
    @discardableResult
    func finish(endTNs: Int64) -> [GapRecord] {
        let waiting = lock.withLock { () -> [Client] in
            guard !stopped else { return [] }
            lastTNs = max(lastTNs, endTNs)
            sendReadyTicksLocked(final: true)
            let dropped = clients.reduce(0) { $0 + $1.dropped }
            let late = acc.lateSamples
            if late > 0 {
                logger.notice("live stream: samples came after their tick was sent and went into the next tick",
                              metadata: ["path": "\(path)", "late_samples": "\(late)"])
            }
            sendLocked("{\"type\":\"end\",\"t\":\(JSONLine.number(Double(endTNs) / 1e9)),\"dropped_lines\":\(dropped),\"late_samples\":\(late)}")
            stopped = true
            for c in clients { c.queue.close() }
            return clients
        }
        // A client that stops reading now is dropped by its send deadline, so this wait is bounded.
        let deadline = DispatchTime.now() + sendTimeoutS + 1
        for c in waiting where c.done.wait(timeout: deadline) == .timedOut {
            logger.warning("live stream client still sending at the end", metadata: ["path": "\(path)", "client": "\(c.id)"])
        }
        _ = acceptDone.wait(timeout: .now() + 1)
        return lock.withLock { losses }
    }

    /// Stops listening without an end line (a recording that could not start).
    func shutdown() {
        lock.withLock {
            stopped = true
            for c in clients { c.queue.close() }
        }
    }
}
