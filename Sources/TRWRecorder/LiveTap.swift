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
/// session time with the features that can be computed live (the others are
/// null: STFT bands, IR area and gradient), AE hits, gaps, markers, labels.
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
    private var nextTick: Int64
    private var k = 0
    private var held: [String: Double] = [:]
    private var prevV = Double.nan, prevT = Double.nan, prevIR = Double.nan
    private var hitCount = 0, hitEnergy = 0.0, hitMax = -Double.infinity
    private var rmsSum = 0.0, rmsN = 0
    private var stopped = false
    private let names = FeatureExtractor.names(FeatureOptions())
    /// Which serial stream each BMS field comes from (the export's rule, `SerialRoles`).
    private var roles = SerialRoles(cell: nil, ambient: nil, note: nil)

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
    public init(path: String, rateHz: Double = 1, sendTimeoutS: Double = 5, logger: Logger = Logger(label: "trw.live")) throws {
        self.path = path
        self.rateHz = rateHz
        self.sendTimeoutS = sendTimeoutS
        self.logger = logger
        server = try UnixSocketServer(path: path)
        nextTick = Int64((1e9 / rateHz).rounded())
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
        h.addRaw("feature_names", "[" + names.map { JSONLine.quote($0) }.joined(separator: ",") + "]")
        lock.withLock { header = h.text }
    }

    /// The recording's streams: the serial ones' roles decide which stream feeds which feature.
    func setStreams(_ streams: [StreamDescriptor]) {
        let r = SerialRoles.resolve(streams.filter { $0.kind == .bms }.map { ($0.key, $0.role) })
        lock.withLock { roles = r }
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

    /// Emits every tick whose end is at or before `tNs` (ticks follow session time).
    private func advanceLocked(to tNs: Int64) {
        lastTNs = max(lastTNs, tNs)
        let period = Int64((1e9 / rateHz).rounded())
        while tNs >= nextTick {
            var f = [String: Double]()
            let v = held["voltage_v"] ?? .nan, t = held["cell_temp_c"] ?? .nan, ir = held["ir_max_c"] ?? .nan
            f["voltage_v"] = v; f["current_a"] = held["current_a"]; f["dv_v"] = abs(v - prevV)
            f["cell_temp_c"] = t; f["dt_c"] = abs(t - prevT); f["ambient_c"] = held["ambient_c"]; f["soc"] = held["soc"]
            f["ir_max_c"] = ir; f["ir_mean_c"] = held["ir_mean_c"]; f["ir_dmax_c"] = abs(ir - prevIR)
            f["ae_hit_rate_hz"] = Double(hitCount) * rateHz; f["ae_energy_v2s"] = hitEnergy
            f["ae_max_amplitude_db"] = hitCount > 0 ? hitMax : .nan
            f["ae_rms_fs"] = rmsN > 0 ? (rmsSum / Double(rmsN)).squareRoot() : .nan
            prevV = v; prevT = t; prevIR = ir
            hitCount = 0; hitEnergy = 0; hitMax = -.infinity; rmsSum = 0; rmsN = 0
            var l = JSONLine()
            l.add("type", "tick"); l.add("t", Double(nextTick) / 1e9); l.add("k", Double(k))
            l.addRaw("features", "{" + names.map { "\(JSONLine.quote($0)):\(JSONLine.number(f[$0] ?? .nan))" }.joined(separator: ",") + "}")
            sendLocked(l.text)
            k += 1
            nextTick += period
        }
    }

    func frame(tNs: Int64, maxC: Double?, meanC: Double?) {
        lock.withLock {
            advanceLocked(to: tNs)
            if let maxC { held["ir_max_c"] = maxC }
            if let meanC { held["ir_mean_c"] = meanC }
        }
    }

    func bms(tNs: Int64, _ s: BMSSample, stream: String) {
        lock.withLock {
            advanceLocked(to: tNs)
            if stream == roles.cell {
                if let v = s.voltageV { held["voltage_v"] = v }
                if let i = s.currentA { held["current_a"] = i }
                if let c = s.cellTempsC.first { held["cell_temp_c"] = c }
                if let soc = s.soc { held["soc"] = soc }
            }
            if stream == roles.ambient, let a = s.ambientC { held["ambient_c"] = a }
        }
    }

    func audio(tNs: Int64, rms: Double) {
        lock.withLock {
            advanceLocked(to: tNs)
            rmsSum += rms * rms
            rmsN += 1
        }
    }

    func hit(_ h: AEHitRecord, stream: String) {
        lock.withLock {
            advanceLocked(to: h.tNs)
            hitCount += 1; hitEnergy += h.energyV2s; hitMax = max(hitMax, h.amplitudeDb)
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
            advanceLocked(to: endTNs)
            let dropped = clients.reduce(0) { $0 + $1.dropped }
            sendLocked("{\"type\":\"end\",\"t\":\(JSONLine.number(Double(endTNs) / 1e9)),\"dropped_lines\":\(dropped)}")
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
