import Foundation
import Logging
import TRWAnalysis
import TRWCore
import TRWRecorder
import TRWIO
import TRWStore

/// Publishes a running recording as the replay's JSON Lines
/// (schemas/replay.schema.json) on a Unix socket, so an online predictor can
/// follow a live test: a session header on connect, then ticks at `rateHz` of
/// session time (from `LiveTicks`: a live tick equals the offline tick of the same
/// time), AE hits, gaps, markers, labels.
/// A slow client never slows the recorder: its queue is bounded and lines it
/// cannot take are counted and dropped (reported in a final line). A client that
/// accepts no data for `sendTimeoutS` (it stopped reading) is disconnected: writes
/// are non-blocking with a send deadline. Every line a client lost is counted in a
/// `live_client` gap of the session (`finish` returns them) and logged.
public final class LiveTap: LiveTickSink, @unchecked Sendable {
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
    private let featureNames: [String]

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
    public init(path: String, rateHz: Double = 1, sendTimeoutS: Double = 5, featureNames: [String],
                logger: Logger = Logger(label: "trw.live")) throws {
        self.featureNames = featureNames
        self.path = path
        self.rateHz = rateHz
        self.sendTimeoutS = sendTimeoutS
        self.logger = logger
        server = try UnixSocketServer(path: path)
        let t = Thread { [self] in
            acceptLoop()
            acceptDone.signal()
        }
        t.name = "trw-live-accept"
        t.start()
    }

    func setHeader(session: NewSession, uuid: String) {
        var h = JSONLine()
        h.add("type", "session"); h.add("format_version", Double(ReplayFormat.version)); h.add("uuid", uuid); h.add("name", session.name); h.add("live", "true")
        h.add("rate_hz", rateHz)
        h.addRaw("feature_names", "[" + featureNames.map { JSONLine.quote($0) }.joined(separator: ",") + "]")
        lock.withLock { header = h.text }
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

    /// A closed tick, as a `tick` line.
    func tick(k: Int, endNs: Int64, names: [String], row: [Double]) {
        var l = JSONLine()
        l.add("type", "tick"); l.add("t", Double(endNs) / 1e9); l.add("k", Double(k))
        l.addRaw("features", "{" + zip(names, row).map { "\(JSONLine.quote($0)):\(JSONLine.number($1))" }.joined(separator: ",") + "}")
        lock.withLock { sendLocked(l.text) }
    }

    func hit(_ h: AEHitRecord, stream: String) {
        var l = JSONLine()
        l.add("type", "ae_hit"); l.add("t", Double(h.tNs) / 1e9); l.add("stream", stream); l.add("channel", Double(h.channel))
        l.add("amplitude_db", h.amplitudeDb); l.add("rise_time_s", h.riseTimeS); l.add("duration_s", h.durationS)
        l.add("counts", Double(h.counts)); l.add("energy_v2s", h.energyV2s)
        lock.withLock { sendLocked(l.text) }
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
    func finish(endTNs: Int64, lateSamples late: Int) -> [GapRecord] {
        let waiting = lock.withLock { () -> [Client] in
            guard !stopped else { return [] }
            lastTNs = max(lastTNs, endTNs)
            let dropped = clients.reduce(0) { $0 + $1.dropped }
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
