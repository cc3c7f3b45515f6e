import Foundation
import Logging
import Synchronization
import TRWCodec
import TRWCore
import TRWStore
import TRWSync
import TRWAcoustics

/// What the recorder is asked to do.
public struct RecorderOptions: Sendable {
    public var name: String
    public var operatorName: String = ""
    public var outputPath: String
    public var rigName: String
    public var rigConfig: String = ""
    /// Stop when this many seconds of host CLOCK_MONOTONIC have passed since the start
    /// (for a rig that is not real time, of its events' host arrival times); never
    /// on times derived from device values (nil: until the sources end or stop()).
    public var durationS: Double?
    /// Whether the rig runs in real time (real devices, paced simulator): the
    /// duration is then also enforced on the wall clock.
    public var realTime: Bool = true
    /// Longest time between commits, s (DESIGN: at least one commit per second).
    public var commitIntervalS: Double = 0.25
    /// Commit early when this many payload bytes are pending.
    public var commitBytes: Int = 32 << 20
    /// Capacity of each stream's device-facing queue, in events.
    public var thermalQueueCapacity: Int = 128
    public var audioQueueCapacity: Int = 1024
    public var bmsQueueCapacity: Int = 4096
    public var softwareVersion: String = TRWVersion.string
    /// The sources end by themselves at `durationS` of their own time (simulated and synthetic
    /// rigs run faster than real time): no host-clock duration rule then, which would race
    /// their last samples and end the session a few milliseconds early or late.
    public var sourcesEndAtDuration = false
    /// Threads compressing thermal frames (0: encode on each lane's own thread).
    public var frameEncoderThreads: Int = max(1, min(4, ProcessInfo.processInfo.activeProcessorCount))
    /// Conditions that end the recording by themselves.
    public var stopRules: [StopRule] = []
    /// Refuse to start when the disk cannot hold `durationS` at the streams' rates.
    public var preflight: Bool = true
    /// AE hit detector settings applied to every AE stream.
    public var aeDetector: AEDetectorSettings = AEDetectorSettings()

    public init(name: String, outputPath: String, rigName: String) {
        self.name = name
        self.outputPath = outputPath
        self.rigName = rigName
    }
}


/// Live figures of one stream, for the dashboard and the final summary.
public struct StreamStatus: Sendable {
    public var key: String
    public var kind: StreamKind
    public var events: Int64
    public var droppedInQueue: Int64
    public var payloadBytes: Int64
    public var queueFill: Int
    public var queueCapacity: Int
    public var queueHighWater: Int
    public var lastTNs: Int64
    /// Last values: max temperature (thermal, degC), voltage/current (bms), RMS (ae, fraction of full scale).
    public var lastValues: [String: Double]
    /// Set when the stream's device clock disagrees persistently with arrival and the
    /// stream is timed by arrival: a sentence naming the stream and its measured delivery rate.
    public var clockFallback: String? = nil
    /// Device-time samples left out of the clock fit (stored as `clock_outlier` gaps).
    public var clockOutliers: Int = 0
}

/// Live figures of the whole recording.
public struct RecorderStatus: Sendable {
    public var streams: [StreamStatus]
    public var commits: Int64
    public var rowsWritten: Int64
    /// While recording: the database's size as of the last commit (`SessionWriter.dataBytes()`,
    /// steady, without the write-ahead log's jumps); once finished: the file's size on disk.
    public var fileBytes: Int64
    public var elapsedWallS: Double
    public var sessionTimeS: Double
    public var writerError: String?
    /// Live detectors' scores and alarms (`--detect`).
    public var detectors: [LiveDetectorStatus] = []
    /// The stop rules in force and their state, one line each.
    public var stopRules: [String] = []
    /// What an alarm does besides its marker.
    public var alarmActions: [String] = []
}

/// What a finished recording reports.
public struct RecordingResult: Sendable {
    public var path: String
    public var status: SessionRecord.Status
    public var detail: String
    public var final: RecorderStatus
    public var sourceErrors: [String]
}

/// The recording pipeline of DESIGN.md:
///
///     device thread(s) --> bounded queue --> compressor(s) --> writer (batched transactions)
///
/// Each source runs on its own thread and hands events to a per-stream lane.
/// A lane's queue never blocks a device: when it is full the event is dropped
/// and counted, and the loss becomes a `queue_overflow` gap row. One compressor
/// thread per lane computes frame statistics and encodes payloads; one writer
/// thread commits batches at least every `commitIntervalS`.
public final class Recorder: @unchecked Sendable {
    // @unchecked: set in `start()` before any thread it starts (lanes, writer, clock, pool),
    // then immutable; everything else is an `Atomic`, a queue or behind `state`.
    public let options: RecorderOptions
    let sources: [any Source]
    let logger: Logger
    private var lanes: [String: Lane] = [:]
    private var laneOrder: [Lane] = []
    private var writer: SessionWriter!
    private let writeQueue = BoundedQueue<WriteBatch>(capacity: 512)
    private let stopRequested = Atomic<Bool>(false)
    private let commits = Atomic<Int64>(0)
    private let rowsWritten = Atomic<Int64>(0)
    private let fileBytes = Atomic<Int64>(0)
    private let maxTNs = Atomic<Int64>(0)
    /// Latest host arrival of any event, as session time (what the duration rule runs on).
    private let maxArrivalTNs = Atomic<Int64>(0)
    private let timerFired = Atomic<Bool>(false)
    /// Disk space set aside beside the session (NAME.sqlite-reserve) while recording, freed
    /// when the disk fills so the end (status, end time, the gap for what was lost) can be written.
    static let finalizationReserveBytes = 2 << 20
    /// Latest sample time in a committed transaction (what the file really holds).
    private let committedMaxTNs = Atomic<Int64>(-1)
    /// Rows not written because the writer had failed (disk full, I/O error), and their time span.
    private let rowsLostToWriter = Atomic<Int64>(0)
    private let firstLostTNs = Atomic<Int64>(Int64.max)
    /// Events refused because their stream key was never declared (a source bug).
    private let undeclared = Atomic<Int64>(0)
    /// What `state` guards.
    private struct State {
        var writerError: String?
        /// Why `abort(reason:)` ended the recording (finalised as `aborted`).
        var abortReason: String?
        var sourceErrors: [String] = []
    }
    private let state = Mutex(State())
    /// Set once the writer has failed (what every event checks, without the lock).
    private let writerFailed = Atomic<Bool>(false)
    private let threadsDone = DispatchGroup()
    private let compressorsDone = DispatchGroup()
    private let writerDone = DispatchGroup()
    private var encoderPool: FrameEncoderPool?
    /// Follows the recording live (TRWLive's ticks, tap and detectors), if any.
    public let observer: (any RecordingObserver)?
    private var clock: SessionClock!
    /// Evaluates `options.stopRules` (and the duration) on what the lanes see.
    public private(set) var stopEngine = StopRuleEngine(rules: [])
    private var wallStart = Date()
    public private(set) var sessionPath: String
    /// Sensing settings in force, "stream/setting" -> value (see Sensing.swift).
    let sensingState = Mutex<[String: Double]>([:])
    /// Testing: compressors wait for this before taking events (forces queue overflow deterministically).
    var compressorGate: DispatchSemaphore?

    public init(sources: [any Source], options: RecorderOptions, observer: (any RecordingObserver)? = nil,
                logger: Logger = Logger(label: "trw.recorder")) {
        self.sources = sources
        self.options = options
        self.observer = observer
        self.logger = logger
        sessionPath = options.outputPath
    }

    /// Creates the session file, registers every stream and starts all threads.
    public func start() throws {
        var keys = Set<String>()
        for s in sources {
            for d in s.streams {
                guard keys.insert(d.key).inserted else {
                    throw RecorderError.duplicateStream(key: d.key, source: s.name)
                }
            }
        }
        var rules = options.stopRules
        if let d = options.durationS, !options.sourcesEndAtDuration { rules.append(.duration(seconds: d)) }
        stopEngine = StopRuleEngine(rules: rules)
        if options.preflight {
            _ = try Preflight.check(streams: sources.flatMap(\.streams), outputPath: options.outputPath, durationS: options.durationS)
        }
        clock = SessionClock.now()
        wallStart = Date()
        let cell = sources.lazy.compactMap(\.cell).first
        let proto = sources.lazy.compactMap(\.testProtocol).first
        let newSession = NewSession(name: options.name, operatorName: options.operatorName, cell: cell, testProtocol: proto,
                                    rigName: options.rigName, rigConfig: options.rigConfig, clock: clock)
        // The live observer first: a detector or socket path that cannot be used fails
        // before the session file exists.
        try observer?.prepare(session: newSession, streams: sources.flatMap(\.streams), control: RecordingControl(
            write: { [weak self] b in self?.writeQueue.push(b) }, stop: { [weak self] in self?.stop() }, sources: sources,
            sessionPath: options.outputPath))
        let existed = FileManager.default.fileExists(atPath: options.outputPath)
        do {
            writer = try SessionWriter(creating: options.outputPath, session: newSession, softwareVersion: options.softwareVersion,
                                       reserveBytes: Self.finalizationReserveBytes)
        } catch {
            // Never leave a 0-byte or half-created file that blocks the name: remove
            // only what this run created (it holds no data yet).
            if !existed { Self.removeCreatedSessionFiles(options.outputPath) }
            observer?.cancel()
            throw error
        }
        do {
            try registerStreams()
        } catch {
            // The file exists: it is finalised as aborted with the reason, never left `recording`.
            let reason = "could not start: \(error)"
            logger.error("recording aborted before it started", metadata: ["error": "\(error)"])
            _ = try? writer.finalize(status: .aborted, endTNs: 0, detail: reason)
            observer?.cancel()
            throw error
        }
        startThreads()
    }

    /// The live detectors' scores and alarms (empty without `--detect`).
    public var liveDetectorStatus: [LiveDetectorStatus] { observer?.detectorStatus ?? [] }

    /// Removes a session file (and its -wal, -shm, -journal, -reserve) that this run created and that holds no data.
    static func removeCreatedSessionFiles(_ path: String) {
        for p in [path, path + "-wal", path + "-shm", path + "-journal", path + "-reserve"] where FileManager.default.fileExists(atPath: p) {
            try? FileManager.default.removeItem(atPath: p)
        }
    }

    private func registerStreams() throws {
        for s in sources {
            for d in s.streams {
                // AE hit detector: the source's own settings (ALSA rig config) or the recorder's default.
                let det: AEDetectorSettings? = d.kind == .ae ? ((try? AEDetectorSettings(stream: d)) ?? nil) ?? options.aeDetector : nil
                let id = try writer.addStream(d, aeDetector: det)
                let cap = switch d.kind {
                case .thermal: options.thermalQueueCapacity
                case .ae: options.audioQueueCapacity
                case .bms: options.bmsQueueCapacity
                }
                let lane = Lane(descriptor: d, streamId: id, capacity: cap, clock: clock, aeDetector: det)
                var props = d.properties
                props["sync.timing"] = JSONText.encode(lane.timing)
                try writer.updateStreamProperties(streamId: id, properties: props)
                lanes[d.key] = lane
                laneOrder.append(lane)
            }
        }
        logger.info("recording started", metadata: ["session": "\(options.outputPath)", "streams": "\(laneOrder.map(\.descriptor.key))"])
    }

    private func startThreads() {

        if options.frameEncoderThreads > 0 && laneOrder.contains(where: { $0.descriptor.kind == .thermal }) {
            encoderPool = FrameEncoderPool(threads: options.frameEncoderThreads, capacity: 2 * options.frameEncoderThreads,
                                           output: writeQueue) { [writeQueue, clock] row, error in
                var b = WriteBatch()
                b.gaps = [GapRecord(streamId: row.streamId, kind: GapEvent.Kind.deviceError.rawValue, startTNs: row.tNs,
                                    endTNs: nil, lostCount: 1, detail: "could not encode frame \(row.sequence): \(error)")]
                _ = clock
                writeQueue.push(b)
            }
        }
        writerDone.enter()
        spawn(name: "trw-writer") { [self] in
            writerLoop()
            writerDone.leave()
        }
        for lane in laneOrder {
            compressorsDone.enter()
            spawn(name: "trw-lane-\(lane.descriptor.key)") { [self] in
                compressorLoop(lane)
                compressorsDone.leave()
            }
        }
        let sink = LaneSink(recorder: self)
        for source in sources {
            threadsDone.enter()
            spawn(name: "trw-src-\(source.streams.first?.key ?? "x")") { [self] in
                do {
                    try source.run(into: sink)
                } catch {
                    let message = "\(source.name): \(error)"
                    logger.error("source failed", metadata: ["source": "\(source.name)", "error": "\(error)"])
                    state.withLock { $0.sourceErrors.append(message) }
                    // The failing source's streams get a device_loss gap; the others go on.
                    for d in source.streams {
                        _ = sink.emit(.gap(GapEvent(kind: .deviceLoss, startHostNs: HostClock.monotonicNanoseconds(),
                                                     lostCount: 0, detail: message)),
                                      stream: d.key, mode: .blockIfFull)
                    }
                }
                threadsDone.leave()
            }
        }
        if let d = options.durationS, options.realTime {
            spawn(name: "trw-timer") { [self, clock] in
                // Host CLOCK_MONOTONIC, not the wall clock (which NTP may step) nor session time from devices.
                let deadline = clock!.startMonotonicNs &+ Int64((d * 1e9).rounded())
                while !stopRequested.load(ordering: .relaxed) && HostClock.monotonicNanoseconds() < deadline {
                    Thread.sleep(forTimeInterval: 0.05)
                }
                if !stopRequested.load(ordering: .relaxed) { timerFired.store(true, ordering: .relaxed) }
                stop()
            }
        }
    }

    /// Stops the recording and finalises the session as `aborted` with `reason`
    /// (for a failure after the file exists, e.g. a sensing setting the rig cannot
    /// take or a policy program that does not start). Call `wait()` afterwards.
    public func abort(reason: String) {
        state.withLock { if $0.abortReason == nil { $0.abortReason = reason } }
        stop()
    }

    /// Asks every source to stop. Safe from any thread and from signal-handling code paths.
    public func stop() {
        if stopRequested.exchange(true, ordering: .acquiringAndReleasing) { return }
        for s in sources { s.stop() }
    }

    public var isStopping: Bool { stopRequested.load(ordering: .relaxed) }

    /// Adds an operator marker now (session time of the call).
    public func addMarker(_ text: String, author: String = "", origin: String = "key") {
        let t = clock.sessionTime(monotonic: HostClock.monotonicNanoseconds())
        observer?.event(.marker(tNs: t, text: text))
        var b = WriteBatch()
        b.markers = [MarkerRecord(tNs: t, text: text, author: author, origin: origin)]
        writeQueue.push(b)
    }

    /// Waits for the sources to end (or `stop()`), drains the pipeline and
    /// finalizes the session: status, end time, WAL checkpoint.
    public func wait() -> RecordingResult {
        threadsDone.wait()
        for lane in laneOrder { lane.queue.close() }
        compressorsDone.wait()
        encoderPool?.finish()
        // The last live ticks, their predictions and alarm markers go in before the writer stops.
        let observed = observer?.finish(endTNs: maxTNs.load(ordering: .relaxed)) ?? RecordingObserverEnd()
        writeQueue.close()
        writerDone.wait()
        let (werr, serrs, aborted) = state.withLock { ($0.writerError, $0.sourceErrors, $0.abortReason) }
        let rule = stopEngine.firedRule
        let interrupted = stopRequested.load(ordering: .relaxed) && !durationReached && rule == nil
        let status: SessionRecord.Status = werr != nil || aborted != nil ? .aborted : .complete
        let ownEnd = options.sourcesEndAtDuration ? options.durationS.map { "duration \($0) s reached (the sources end there)" } : nil
        var detail = werr ?? aborted ?? (rule.map { "stopped by rule: \($0)" } ?? (interrupted ? "stopped by operator" : ownEnd ?? ""))
        if werr == nil && aborted == nil && !serrs.isEmpty { detail = "source errors: " + serrs.joined(separator: "; ") }
        let stray = undeclared.load(ordering: .relaxed)
        if stray > 0 {
            detail += (detail.isEmpty ? "" : "; ") + "\(stray) events on undeclared streams were dropped"
            var b = WriteBatch()
            b.gaps = [GapRecord(streamId: nil, kind: "undeclared_stream", startTNs: 0, endTNs: nil, lostCount: stray,
                                detail: "a source emitted events on a stream key it did not declare")]
            try? writer.write(b)
        }
        // Events skipped under the settings in force at the end.
        var tail = WriteBatch()
        for lane in laneOrder {
            let left = lane.setKeepInterval(lane.keepInterval)
            guard left > 0 else { continue }
            let key = sensingState.withLock { st in st.keys.first { $0.hasPrefix(lane.descriptor.key + "/") } }
            let setting = key.map { String($0.split(separator: "/").last!) } ?? "rate"
            let value = key.flatMap { k in sensingState.withLock { $0[k] } } ?? lane.descriptor.nominalRateHz
            tail.sensing.append(SensingEventRecord(tNs: maxTNs.load(ordering: .relaxed), streamId: lane.streamId, setting: setting,
                                                   value: value, previous: value, origin: "end", skipped: left,
                                                   detail: "events skipped under the last setting"))
        }
        if !tail.sensing.isEmpty { try? writer.write(tail) }
        for lane in laneOrder {
            if let json = lane.finalClockModelJSON {
                do { try writer.setClockModel(streamId: lane.streamId, method: "online", modelJSON: json) } catch {
                    logger.error("could not store the clock model", metadata: ["stream": "\(lane.descriptor.key)", "error": "\(error)"])
                }
            }
        }
        // After a writer failure (disk full), the end is the last committed data, and what
        // was not written is one gap: never an end time past what the file holds.
        var endTNs = maxTNs.load(ordering: .relaxed)
        var finalGaps: [GapRecord] = []
        if werr != nil {
            let committed = committedMaxTNs.load(ordering: .relaxed)
            let lostRows = rowsLostToWriter.load(ordering: .relaxed)
            endTNs = max(0, committed)
            let lostFrom = min(firstLostTNs.load(ordering: .relaxed), max(committed, 0))
            let lostTo = max(maxTNs.load(ordering: .relaxed), lostFrom)
            let what = String(format: "%lld rows from t = %.3f s to %.3f s were not written", lostRows,
                              Double(lostFrom) / 1e9, Double(lostTo) / 1e9)
            finalGaps = [GapRecord(streamId: nil, kind: "writer_failure", startTNs: lostFrom, endTNs: lostTo, lostCount: lostRows,
                                   detail: "the writer failed (\(werr!)); \(what)")]
            detail += String(format: "; data kept up to t = %.3f s (end time set there); ", Double(endTNs) / 1e9) + what
        }
        // The live observer's end (late samples, alarms, clients that lost lines) is in the session.
        for sentence in observed.detail { detail += (detail.isEmpty ? "" : "; ") + sentence }
        finalGaps += observed.gaps
        do {
            let outcome = try writer.finalize(status: status, endTNs: endTNs, detail: detail, gaps: finalGaps)
            if case .walKept(let reason) = outcome {
                logger.warning("session file not merged into one file", metadata: ["reason": "\(reason)"])
                detail += (detail.isEmpty ? "" : "; ") + "not one file yet: \(reason)"
            }
        } catch {
            logger.error("finalize failed", metadata: ["error": "\(error)"])
            detail += (detail.isEmpty ? "" : "; ") + "finalize failed: \(error); the session stays in status recording: run trw repair"
                + " when space is free (everything committed is kept, up to t = \(String(format: "%.3f", Double(max(0, committedMaxTNs.load(ordering: .relaxed))) / 1e9)) s)"
            _ = try? writer.close()
        }
        fileBytes.store(writer.fileBytes(), ordering: .relaxed)
        return RecordingResult(path: options.outputPath, status: status, detail: detail, final: self.status(), sourceErrors: serrs)
    }

    func lanesSnapshot() -> [Lane] { laneOrder }

    /// Session time now, or nil before `start()`.
    func sessionTimeNow() -> Int64? {
        guard let clock else { return nil }
        return clock.sessionTime(monotonic: HostClock.monotonicNanoseconds())
    }

    func enqueue(_ b: WriteBatch) { writeQueue.push(b) }

    private var durationReached: Bool {
        guard let d = options.durationS else { return false }
        if timerFired.load(ordering: .relaxed) { return true }
        if case .duration = stopEngine.firedRule { return true }
        let hostS = Double(HostClock.monotonicNanoseconds() &- (clock?.startMonotonicNs ?? 0)) / 1e9
        return Double(maxArrivalTNs.load(ordering: .relaxed)) / 1e9 >= d - 0.5 || (options.realTime && hostS >= d - 0.5)
    }

    /// Live figures (cheap; safe from any thread).
    public func status() -> RecorderStatus {
        RecorderStatus(
            streams: laneOrder.map { $0.status() },
            commits: commits.load(ordering: .relaxed), rowsWritten: rowsWritten.load(ordering: .relaxed),
            fileBytes: fileBytes.load(ordering: .relaxed), elapsedWallS: Date().timeIntervalSince(wallStart),
            sessionTimeS: Double(maxTNs.load(ordering: .relaxed)) / 1e9,
            writerError: state.withLock { $0.writerError },
            detectors: liveDetectorStatus, stopRules: stopEngine.stateLines, alarmActions: observer?.alarmActionNames ?? [])
    }

    // MARK: - stages

    fileprivate func accept(_ event: SourceEvent, stream key: String, mode: EmitMode) -> Bool {
        guard let lane = lanes[key] else {
            // A source bug must not take the recording down: refuse the event and say so.
            let count = undeclared.wrappingAdd(1, ordering: .relaxed).newValue
            if count == 1 || count % 1000 == 0 {
                logger.error("event on a stream the source did not declare; dropped", metadata: ["stream": "\(key)", "dropped": "\(count)"])
            }
            return false
        }
        if writerFailed.load(ordering: .relaxed) {
            lane.countDrop(hostNs: HostClock.monotonicNanoseconds())
            return false
        }
        let ok = mode == .blockIfFull ? lane.queue.push(event) : lane.queue.tryPush(event)
        if !ok { lane.countDrop(hostNs: hostTime(of: event)) }
        return ok
    }

    private func hostTime(of e: SourceEvent) -> Int64 {
        switch e {
        case .thermal(let f): f.hostArrivalNs
        case .audio(let c): c.hostArrivalNs
        case .bms(let s): s.hostArrivalNs
        case .gap(let g): g.startHostNs
        case .marker(_, let h): h
        case .annotation(let a): a.startHostNs
        }
    }

    private func compressorLoop(_ lane: Lane) {
        let work = LaneWorker(lane: lane, clock: clock)
        work.observer = observer
        if let gate = compressorGate { gate.wait(); gate.signal() }
        while true {
            guard let ev = lane.queue.pop(timeout: 0.1) else {
                if lane.queue.isClosedAndEmpty { break }
                if let g = lane.takeDropGap(clock: clock) { var b = WriteBatch(); b.gaps = [g]; writeQueue.push(b) }
                continue
            }
            var batch = WriteBatch()
            if let g = lane.takeDropGap(clock: clock) { batch.gaps.append(g) }
            do {
                try work.process(ev, into: &batch, encoders: encoderPool)
            } catch {
                batch.gaps.append(GapRecord(streamId: lane.streamId, kind: GapEvent.Kind.deviceError.rawValue,
                                            startTNs: clock.sessionTime(monotonic: hostTime(of: ev)), endTNs: nil,
                                            lostCount: 1, detail: "could not encode: \(error)"))
            }
            if let tStored = work.lastTNs {
                maxTNs.max(tStored, ordering: .relaxed)
            }
            // Stop rules run on host arrival times (CLOCK_MONOTONIC), never on times derived from device values.
            if let t = work.lastArrivalTNs {
                maxArrivalTNs.max(t, ordering: .relaxed)
                let fired: StopRule? = switch ev {
                case .thermal: stopEngine.observe(tNs: t, celsius: work.lastMaxC)
                case .bms(let b): stopEngine.observe(tNs: t, celsius: b.cellTempsC.max(), volts: b.voltageV)
                default: stopEngine.observe(tNs: t)
                }
                if let r = fired {
                    logger.notice("stop rule fired", metadata: ["rule": "\(r)"])
                    stop()
                }
            }
            // Thermal frames go to the writer from the encoder pool: their batch here is
            // usually empty and is not queued (one lock round-trip per frame saved).
            if !batch.isEmpty && !writeQueue.push(batch) { break }
        }
        if let g = lane.takeDropGap(clock: clock) { var b = WriteBatch(); b.gaps = [g]; writeQueue.push(b) }
        for extra in work.finish() { writeQueue.push(extra) }
        lane.setFinalClockModel(work.clockModelJSON())
    }

    private func writerLoop() {
        let laneById = Dictionary(uniqueKeysWithValues: laneOrder.map { ($0.streamId, $0) })
        var pending = WriteBatch()
        var lastCommit = Date()
        func commit() {
            guard !pending.isEmpty else { lastCommit = Date(); return }
            do {
                try writer.write(pending)
                committedMaxTNs.max(pending.maxSampleTNs, ordering: .relaxed)
                commits.wrappingAdd(1, ordering: .relaxed)
                rowsWritten.wrappingAdd(Int64(pending.rowCount), ordering: .relaxed)
                for f in pending.frames { laneById[f.streamId]?.addBytes(f.payload.count) }
                for a in pending.audio { laneById[a.streamId]?.addBytes(a.payload.count) }
            } catch {
                let message = "\(error)"
                logger.critical("writer failed; stopping the recording", metadata: ["error": "\(message)"])
                state.withLock { if $0.writerError == nil { $0.writerError = message } }
                writerFailed.store(true, ordering: .relaxed)
                noteLost(pending)
                stop()
            }
            pending = WriteBatch()
            lastCommit = Date()
            fileBytes.store(writer.dataBytes(), ordering: .relaxed)
        }
        while true {
            let wait = max(0.01, options.commitIntervalS - Date().timeIntervalSince(lastCommit))
            // The whole backlog in one lock round-trip.
            let batches = writeQueue.popAll(timeout: wait)
            if batches.isEmpty {
                if writeQueue.isClosedAndEmpty { break }
            } else if !writerFailed.load(ordering: .relaxed) {
                for b in batches { pending.append(contentsOf: b) }
            } else {
                for b in batches { noteLost(b) }
            }
            if Date().timeIntervalSince(lastCommit) >= options.commitIntervalS || pending.payloadBytes >= options.commitBytes {
                commit()
            }
        }
        commit()
    }

    /// Counts rows the failed writer could not store (for the `writer_failure` gap).
    private func noteLost(_ b: WriteBatch) {
        let n = b.frames.count + b.audio.count + b.hits.count + b.bms.count
        guard n > 0 else { return }
        rowsLostToWriter.wrappingAdd(Int64(n), ordering: .relaxed)
        if let first = b.minSampleTNs { firstLostTNs.min(first, ordering: .relaxed) }
    }

    private func spawn(name: String, _ body: @escaping @Sendable () -> Void) {
        let t = Thread {
            setCurrentThreadName(name)
            body()
        }
        t.name = name
        t.stackSize = 1 << 20
        t.start()
    }
}

public enum RecorderError: Error, CustomStringConvertible {
    case duplicateStream(key: String, source: String)
    public var description: String {
        switch self {
        case .duplicateStream(let k, let s):
            return "stream key '\(k)' of \(s) is already used by another source; give each stream a unique key in the rig"
        }
    }
}

/// The sink handed to sources.
struct LaneSink: SampleSink {
    let recorder: Recorder
    func emit(_ event: SourceEvent, stream: String, mode: EmitMode) -> Bool {
        recorder.accept(event, stream: stream, mode: mode)
    }
}
