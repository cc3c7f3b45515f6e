import Foundation
import Synchronization
import TRWCodec
import TRWCore
import TRWStore
import TRWSync
import TRWAcoustics

/// One stream's path through the recorder: its device-facing queue, its loss
/// accounting and its live figures.
///
/// What the frame path touches per event is atomic (counters, the keep interval, the
/// pending-drop count); the rest sits behind one `Mutex`, taken once per event
/// (`noteProcessed`) and otherwise only when something changes.
final class Lane: Sendable {
    let descriptor: StreamDescriptor
    let streamId: Int64
    let queue: SourceQueue
    let aeDetector: AEDetectorSettings?
    /// How this stream is put on the session time base (stored with the stream for resync).
    let timing: StreamTiming

    /// What `lock` guards.
    private struct State {
        var finalModel: String?
        var firstDropHostNs: Int64 = 0
        var lastDropHostNs: Int64 = 0
        var lastValues: [String: Double] = [:]
        var lastTNs: Int64 = 0
        var clockFallback: ClockFallback?
        var clockOutliers = 0
        var aeThresholdDb: Double?
        var aeThresholdGeneration = 0
        var skippedSinceChange: Int64 = 0
    }
    private let lock = Mutex(State())
    /// Queue-overflow losses not yet taken as a gap row (read without the lock on every event).
    private let droppedPending = Atomic<Int64>(0)
    /// Sensing settings changed at run time: keep an IR frame or BMS sample only
    /// `keepIntervalNs` after the last kept one (0: keep all).
    private let keepIntervalNs = Atomic<Int64>(0)
    /// Bumped when the AE trigger threshold changes (the worker then reads it under the lock).
    private let aeThresholdGeneration = Atomic<Int>(0)
    /// Events not kept because of a lowered sensing rate (never counted as lost).
    let skippedTotal = Atomic<Int64>(0)
    let events = Atomic<Int64>(0)
    let droppedTotal = Atomic<Int64>(0)
    let payloadBytes = Atomic<Int64>(0)

    typealias SourceQueue = BoundedQueue<SourceEvent>

    init(descriptor: StreamDescriptor, streamId: Int64, capacity: Int, clock: SessionClock, aeDetector: AEDetectorSettings?) {
        self.descriptor = descriptor
        self.streamId = streamId
        queue = SourceQueue(capacity: capacity)
        self.aeDetector = aeDetector
        timing = StreamTimingChoice.timing(for: descriptor)
    }

    /// The causal clock model at the end of recording (set by the compressor thread).
    var finalClockModelJSON: String? { lock.withLock { $0.finalModel } }
    func setFinalClockModel(_ json: String?) { lock.withLock { $0.finalModel = json } }

    func countDrop(hostNs: Int64) {
        droppedTotal.wrappingAdd(1, ordering: .relaxed)
        lock.withLock { st in
            // Under the lock, so `takeDropGap` sees the count and the times together.
            if droppedPending.load(ordering: .relaxed) == 0 { st.firstDropHostNs = hostNs }
            droppedPending.wrappingAdd(1, ordering: .relaxed)
            st.lastDropHostNs = max(st.lastDropHostNs, hostNs)
        }
    }

    /// The queue-overflow losses since the last call, as one gap row.
    func takeDropGap(clock: SessionClock) -> GapRecord? {
        // The common case (nothing lost) costs one atomic load, no lock.
        guard droppedPending.load(ordering: .relaxed) > 0 else { return nil }
        return lock.withLock { st in
            let n = droppedPending.exchange(0, ordering: .relaxed)
            guard n > 0 else { return nil }
            return GapRecord(streamId: streamId, kind: GapEvent.Kind.queueOverflow.rawValue,
                             startTNs: clock.sessionTime(monotonic: st.firstDropHostNs),
                             endTNs: clock.sessionTime(monotonic: st.lastDropHostNs), lostCount: n,
                             detail: "recorder queue full (\(queue.capacity) events): events dropped, not stored")
        }
    }

    func noteProcessed(tNs: Int64, values: [String: Double]) {
        events.wrappingAdd(1, ordering: .relaxed)
        lock.withLock { st in
            st.lastTNs = max(st.lastTNs, tNs)
            for (k, v) in values { st.lastValues[k] = v }
        }
    }

    /// Sets the keep interval (0: keep everything); returns the events skipped under the old one.
    func setKeepInterval(_ ns: Int64) -> Int64 {
        lock.withLock { st in
            keepIntervalNs.store(ns, ordering: .relaxed)
            defer { st.skippedSinceChange = 0 }
            return st.skippedSinceChange
        }
    }

    func setAEThreshold(_ db: Double) -> Int64 {
        lock.withLock { st in
            st.aeThresholdDb = db
            st.aeThresholdGeneration += 1
            aeThresholdGeneration.store(st.aeThresholdGeneration, ordering: .releasing)
            defer { st.skippedSinceChange = 0 }
            return st.skippedSinceChange
        }
    }

    var keepInterval: Int64 { keepIntervalNs.load(ordering: .relaxed) }
    /// The AE trigger threshold set at run time and its generation (0: never set).
    var aeThreshold: (db: Double?, generation: Int) { lock.withLock { ($0.aeThresholdDb, $0.aeThresholdGeneration) } }
    /// The generation alone, without the lock (the worker compares it on every chunk).
    var aeThresholdGenerationNow: Int { aeThresholdGeneration.load(ordering: .acquiring) }

    func countSkipped() {
        skippedTotal.wrappingAdd(1, ordering: .relaxed)
        lock.withLock { $0.skippedSinceChange += 1 }
    }

    /// The stream's clock as the dashboard shows it.
    func setClockState(fallback: ClockFallback?, outliers: Int) {
        lock.withLock { st in
            st.clockFallback = fallback
            st.clockOutliers = outliers
        }
    }

    func addBytes(_ n: Int) { payloadBytes.wrappingAdd(Int64(n), ordering: .relaxed) }

    func status() -> StreamStatus {
        let (vals, t, fb, outl) = lock.withLock { ($0.lastValues, $0.lastTNs, $0.clockFallback, $0.clockOutliers) }
        let f = queue.fill
        var note: String?
        if let fb {
            note = fb.text(stream: descriptor.key, nominalRateHz: descriptor.kind == .ae ? descriptor.nominalRateHz : nil,
                           kind: descriptor.kind == .ae ? .samples : (descriptor.kind == .thermal ? .frames : .lines))
        }
        return StreamStatus(key: descriptor.key, kind: descriptor.kind, events: events.load(ordering: .relaxed),
                            droppedInQueue: droppedTotal.load(ordering: .relaxed),
                            payloadBytes: payloadBytes.load(ordering: .relaxed), queueFill: f.current,
                            queueCapacity: queue.capacity, queueHighWater: f.highWater, lastTNs: t, lastValues: vals,
                            clockFallback: note, clockOutliers: outl)
    }
}

/// The compressor stage of one lane: time base, statistics, encoding.
/// Used only on that lane's compressor thread.
final class LaneWorker {
    let lane: Lane
    let clock: SessionClock
    var clock_: OnlineStreamClock
    let frameEncoder: FrameEncoder
    let audioEncoder: PCMEncoder
    private(set) var lastTNs: Int64?
    /// Session time of the last event's host arrival (CLOCK_MONOTONIC): what stop rules run on.
    private(set) var lastArrivalTNs: Int64?
    /// IR max of the last frame, degC (for the stop rules, without snapshotting the lane).
    private(set) var lastMaxC: Double?
    /// Live AE hit detection (AE streams only).
    var hitDetector: AEHitDetector?
    /// Recent (first sample index, t_ns) of chunks, to put hits on the time base.
    var recentChunks: [(index: Int64, tNs: Int64)] = []
    var hitsTotal = 0
    /// Session time of the last kept IR frame / BMS sample (sensing decimation).
    var lastKeptTNs: Int64?
    var aeGeneration = 0
    /// The clock state last handed to the lane (handed again only when it changes).
    private var reportedClock: (fallback: ClockFallback?, outliers: Int) = (nil, 0)
    /// Follows the recording live, if anything does.
    var observer: (any RecordingObserver)?

    init(lane: Lane, clock: SessionClock) {
        self.lane = lane
        self.clock = clock
        clock_ = OnlineStreamClock(timing: lane.timing)
        if lane.descriptor.kind == .ae, let settings = lane.aeDetector, let fmt = lane.descriptor.sampleFormat {
            hitDetector = AEHitDetector(channels: lane.descriptor.channels ?? 1, sampleRate: lane.descriptor.nominalRateHz,
                                        format: fmt, settings: settings)
        }
        // Creating a zstd context fails only when out of memory.
        do {
            frameEncoder = try FrameEncoder()
            audioEncoder = try PCMEncoder()
        } catch {
            fatalError("cannot create codec contexts: \(error)")
        }
    }

    /// Processes one event. Thermal frames go to `encoders` when given (the
    /// row is complete but for its payload), else are encoded here.
    func process(_ event: SourceEvent, into batch: inout WriteBatch, encoders: FrameEncoderPool? = nil) throws {
        let sid = lane.streamId
        switch event {
        case .thermal(let f):
            lastArrivalTNs = clock.sessionTime(monotonic: f.hostArrivalNs)
            let t = clock.sessionTime(monotonic: clock_.time(frame: f))
            takeClockEvents(into: &batch)
            if skipForSensing(t) { return }
            let stats = FrameStatistics.compute(pixels: f.pixels, width: f.width, height: f.height)
            let row = ThermalFrameRecord(
                streamId: sid, sequence: f.sequence, deviceTsNs: f.deviceTimestampNs, hostArrivalNs: f.hostArrivalNs,
                tNs: t, codec: frameEncoder.codec.rawValue, payload: Data(), stats: stats,
                flags: f.isErroneous ? ThermalFrameRecord.flagDriverError : 0)
            if let encoders {
                encoders.submit(FrameEncoderPool.Job(row: row, frame: f))
            } else {
                var r = row
                // Encoder output straight into the row's Data (one copy).
                r.payload = try frameEncoder.withEncoded(f.pixels, width: f.width, height: f.height) { Data($0) }
                batch.frames.append(r)
            }
            var values: [String: Double] = [:]
            if let cal = lane.descriptor.calibration { values["max_c"] = cal.celsius(stats.maxCounts) }
            lastMaxC = values["max_c"]
            lane.noteProcessed(tNs: t, values: values)
            observer?.frame(tNs: t, stream: lane.descriptor.key, maxCounts: stats.maxCounts, meanCounts: stats.meanCounts, pixels: f.pixels)
            lastTNs = t
        case .audio(let c):
            lastArrivalTNs = clock.sessionTime(monotonic: c.hostArrivalNs)
            let t = clock.sessionTime(monotonic: clock_.time(chunk: c))
            takeClockEvents(into: &batch)
            let (rms, peak) = Self.levels(c)
            let payload = try audioEncoder.withEncoded(c.pcm, channels: c.channels) { Data($0) }
            batch.audio.append(AudioChunkRecord(
                streamId: sid, firstSampleIndex: c.firstSampleIndex, frameCount: c.frameCount, hostArrivalNs: c.hostArrivalNs,
                pairSampleIndex: c.clockPair?.sampleIndex, pairHostNs: c.clockPair?.hostNs, tNs: t,
                codec: audioEncoder.codec.rawValue, payload: payload, rms: rms, peak: peak))
            recentChunks.append((c.firstSampleIndex, t))
            if recentChunks.count > 64 { recentChunks.removeFirst(recentChunks.count - 64) }
            if lane.aeThresholdGenerationNow != aeGeneration, case let th = lane.aeThreshold, let db = th.db, var settings = lane.aeDetector, let fmt = lane.descriptor.sampleFormat {
                // A new trigger threshold: a fresh detector from this chunk on (hits in flight end here).
                aeGeneration = th.generation
                settings.thresholdDbAE = db
                hitDetector = AEHitDetector(channels: lane.descriptor.channels ?? 1, sampleRate: lane.descriptor.nominalRateHz,
                                            format: fmt, settings: settings)
            }
            if var det = hitDetector {
                let hits = det.process(c)
                hitDetector = det
                appendHits(hits, into: &batch)
            }
            // After the chunk's hits: the live features know which hits are complete.
            observer?.audio(tNs: t, stream: lane.descriptor.key, rms: rms, firstSampleIndex: c.firstSampleIndex, samples: c.pcm, frameCount: c.frameCount,
                       openHitTNs: hitDetector?.openHitFirstIndex.map { tNs(ofSample: $0) })
            lane.noteProcessed(tNs: t, values: ["rms": rms, "peak": peak, "hits_total": Double(hitsTotal)])
            lastTNs = t
        case .bms(let s):
            lastArrivalTNs = clock.sessionTime(monotonic: s.hostArrivalNs)
            let t = clock.sessionTime(monotonic: clock_.time(sample: s))
            takeClockEvents(into: &batch)
            if skipForSensing(t) { return }
            batch.bms.append(BMSSampleRecord(streamId: sid, sample: s, tNs: t))
            observer?.bms(tNs: t, s, stream: lane.descriptor.key)
            var values: [String: Double] = [:]
            if let v = s.voltageV { values["voltage_v"] = v }
            if let i = s.currentA { values["current_a"] = i }
            if let c = s.cellTempsC.first { values["cell_c"] = c }
            lane.noteProcessed(tNs: t, values: values)
            lastTNs = t
        case .gap(let g):
            clock_.gap(g)
            let row = GapRecord(
                streamId: sid, kind: g.kind.rawValue, startTNs: clock.sessionTime(monotonic: g.startHostNs),
                endTNs: g.endHostNs.map { clock.sessionTime(monotonic: $0) }, lostCount: g.lostCount, detail: g.detail)
            batch.gaps.append(row)
            observer?.event(.gap(tNs: row.startTNs, stream: lane.descriptor.key, kind: row.kind, lost: row.lostCount))
        case .marker(let text, let h):
            batch.markers.append(MarkerRecord(tNs: clock.sessionTime(monotonic: h), text: text, author: "", origin: "source"))
        case .annotation(let a):
            observer?.event(.label(tNs: clock.sessionTime(monotonic: a.startHostNs), label: a.label, method: a.method, author: a.author))
            batch.annotations.append(AnnotationRecord(
                label: a.label, startTNs: clock.sessionTime(monotonic: a.startHostNs),
                endTNs: a.endHostNs.map { clock.sessionTime(monotonic: $0) }, author: a.author, method: a.method,
                parametersJson: a.parametersJSON))
        }
    }

    /// The clock guard's outliers and fallback as gap rows (nothing is left out silently).
    func takeClockEvents(into batch: inout WriteBatch) {
        for e in clock_.takeClockEvents() {
            batch.gaps.append(GapRecord(streamId: lane.streamId, kind: e.kind, startTNs: clock.sessionTime(monotonic: e.hostNs),
                                        endTNs: nil, lostCount: e.count,
                                        detail: e.detail.replacingOccurrences(of: "stream: ", with: "\(lane.descriptor.key): ")))
            observer?.event(.gap(tNs: clock.sessionTime(monotonic: e.hostNs), stream: lane.descriptor.key, kind: e.kind, lost: e.count))
        }
        let now = (fallback: clock_.fallback, outliers: clock_.outliers)
        if now.fallback != reportedClock.fallback || now.outliers != reportedClock.outliers {
            reportedClock = now
            lane.setClockState(fallback: now.fallback, outliers: now.outliers)
        }
    }

    /// True when a lowered sensing rate says not to keep this event (counted, not lost).
    func skipForSensing(_ t: Int64) -> Bool {
        let interval = lane.keepInterval
        guard interval > 0 else { lastKeptTNs = t; return false }
        let slack = Int64(0.5e9 / max(1e-3, lane.descriptor.nominalRateHz))
        if let last = lastKeptTNs, t - last < interval - slack {
            lane.countSkipped()
            return true
        }
        lastKeptTNs = t
        return false
    }

    /// Session time of sample `index`: from the nearest stored chunk at or
    /// before it, through the nominal rate (drift over one chunk is negligible).
    func tNs(ofSample index: Int64) -> Int64 {
        let ref = recentChunks.last { $0.index <= index } ?? recentChunks.first ?? (index, 0)
        return ref.tNs + Int64((Double(index - ref.index) * 1e9 / lane.descriptor.nominalRateHz).rounded())
    }

    func appendHits(_ hits: [AEHit], into batch: inout WriteBatch) {
        for h in hits {
            let rec = AEHitRecord(streamId: lane.streamId, hit: h, tNs: tNs(ofSample: h.firstCrossingSampleIndex))
            batch.hits.append(rec)
            observer?.hit(rec, stream: lane.descriptor.key)
        }
        hitsTotal += hits.count
    }

    /// Rows still held by the worker at the end (AE hits spanning the last chunk).
    func finish() -> [WriteBatch] {
        var b = WriteBatch()
        clock_.finish()
        takeClockEvents(into: &b)
        if var det = hitDetector {
            appendHits(det.flush(), into: &b)
            hitDetector = det
        }
        return b.isEmpty ? [] : [b]
    }

    /// The causal clock model fitted while recording, as JSON (nil if the stream saw nothing).
    func clockModelJSON() -> String? {
        guard lane.events.load(ordering: .relaxed) > 0 else { return nil }
        return try? clock_.model.jsonText()
    }

    /// RMS and peak of a chunk as fractions of full scale, all channels.
    static func levels(_ c: AudioChunk) -> (rms: Double, peak: Double) {
        switch c.pcm {
        case .int16(let s): levels(s, format: c.format)
        case .int32(let s): levels(s, format: c.format)
        }
    }

    /// The same over samples in their capture width (FLOAT_LE only as Int32 bit patterns).
    private static func levels<S: FixedWidthInteger & SignedInteger>(_ samples: [S], format: SampleFormat) -> (rms: Double, peak: Double) {
        guard !samples.isEmpty else { return (0, 0) }
        let fs = format.fullScale
        var sum = 0.0
        var peak = 0.0
        if format == .floatle {
            for s in samples {
                let v = Double(Float(bitPattern: UInt32(truncatingIfNeeded: s)))
                sum += v * v
                peak = max(peak, abs(v))
            }
        } else {
            var m: Int64 = 0
            for s in samples {
                let v = Double(s)
                sum += v * v
                m = max(m, abs(Int64(s)))
            }
            peak = Double(m) / fs
            sum /= fs * fs
        }
        return ((sum / Double(samples.count)).squareRoot(), peak)
    }
}


/// Encoder threads shared by the thermal lanes: frames arrive with their row
/// complete but for the payload (time base and statistics were computed in
/// order on the lane's thread); any encoder thread compresses and hands the
/// row to the writer. Order does not matter to the writer.
final class FrameEncoderPool: Sendable {
    struct Job: Sendable {
        var row: ThermalFrameRecord
        var frame: ThermalFrame
    }
    private let jobs: BoundedQueue<Job>
    private let done = DispatchGroup()

    init(threads: Int, capacity: Int, output: BoundedQueue<WriteBatch>, onError: @escaping @Sendable (ThermalFrameRecord, any Error) -> Void) {
        jobs = BoundedQueue(capacity: capacity)
        for i in 0..<threads {
            done.enter()
            let t = Thread { [jobs, done] in
                setCurrentThreadName("trw-encode-\(i)")
                let enc: FrameEncoder
                do { enc = try FrameEncoder() } catch { fatalError("cannot create a zstd context: \(error)") }
                // Ends when `finish` closes the queue, however long the stream is idle
                // (a timeout here once ended the encoders after an hour without frames,
                // and the next frame then blocked the lane for good).
                while let job = jobs.pop() {
                    var row = job.row
                    do {
                        row.payload = try enc.withEncoded(job.frame.pixels, width: job.frame.width, height: job.frame.height) { Data($0) }
                        var b = WriteBatch()
                        b.frames = [row]
                        output.push(b)
                    } catch {
                        onError(row, error)
                    }
                }
                done.leave()
            }
            t.name = "trw-encode-\(i)"
            t.start()
        }
    }

    /// Blocks while every encoder is busy and the queue is full (back-pressure
    /// to the lane; the device-facing queue in front of it absorbs bursts).
    func submit(_ job: Job) { jobs.push(job) }

    /// No more jobs; returns when every submitted frame has been handed on.
    func finish() {
        jobs.close()
        done.wait()
    }
}
