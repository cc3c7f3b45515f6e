import Foundation
import Logging
import TRWAnalysis
import TRWCore
import TRWIO
import TRWRecorder
import TRWStore

/// What to run live during a recording (`trw record|simulate --live`, `--detect`).
public struct LiveOptions: Sendable, Equatable {
    /// Publish the live JSON Lines stream on this Unix socket path (nil: none).
    public var tapPath: String?
    /// Tick rate of the live ticks, Hz.
    public var rateHz: Double = 1
    /// Seconds a live client may accept no data before it is dropped (a `live_client` gap).
    public var tapSendTimeoutS: Double = 5
    /// Seconds (host clock) a feature stream may deliver nothing before live ticks stop waiting for it.
    public var stallS: Double = 2
    /// Detectors run live on the ticks (`DetectorRegistry.load` names: built-in, dplstm:DIR).
    public var detectors: [String] = []
    /// Consecutive ticks above 0.5 before a live detector's alarm rises.
    public var alarmK: Int = 1
    /// What an alarm does besides its marker.
    public var alarmActions: [AlarmAction] = []

    public init() {}

    /// Nothing to follow: no socket, no detector.
    public var isEmpty: Bool { tapPath == nil && detectors.isEmpty }
}

/// Follows a recording live (a `RecordingObserver`): one `LiveTicks` (the same features as
/// offline) feeding the JSON Lines tap and the live detectors, whose alarms write markers
/// and carry out the alarm actions (switch the supply off, stop the recording).
public final class LiveRecording: RecordingObserver, @unchecked Sendable {
    public let options: LiveOptions
    private let logger: Logger
    private let lock = NSLock()
    // Set once in `prepare`, read after.
    private var ticks: LiveTicks?
    private var detection: LiveDetection?
    /// The live JSON Lines publisher, when `options.tapPath` is set (after `prepare`).
    public private(set) var tap: LiveTap?
    // Guarded by lock.
    private var alarmStopReason: String?
    /// The session's name (set in `prepare`).
    private var sessionName = ""

    public init(options: LiveOptions, logger: Logger = Logger(label: "trw.live")) {
        self.options = options
        self.logger = logger
    }

    /// An observer for `options`, or nil when there is nothing to follow.
    public static func make(_ options: LiveOptions, logger: Logger = Logger(label: "trw.live")) -> LiveRecording? {
        options.isEmpty ? nil : LiveRecording(options: options, logger: logger)
    }

    public func prepare(session: NewSession, streams: [StreamDescriptor], control: RecordingControl) throws {
        sessionName = session.name
        var sinks: [any LiveTickSink] = []
        if !options.detectors.isEmpty {
            let d = try makeDetection(runId: "live-" + ISO8601DateFormatter().string(from: Date()), control: control)
            detection = d
            sinks.append(d)
        }
        if let p = options.tapPath {
            var fo = FeatureOptions()
            fo.rateHz = options.rateHz
            let t = try LiveTap(path: p, rateHz: options.rateHz, sendTimeoutS: options.tapSendTimeoutS,
                                featureNames: FeatureExtractor.names(fo), logger: logger)
            t.setHeader(session: session, uuid: session.uuid.uuidString.lowercased())
            tap = t
            sinks.append(t)
        }
        ticks = LiveTicks(rateHz: options.rateHz, stallS: options.stallS, streams: streams, sinks: sinks)
    }

    /// The live detectors, checked before the session exists: every detector loads, and the
    /// alarm actions can be carried out by this rig.
    private func makeDetection(runId: String, control: RecordingControl) throws -> LiveDetection {
        let supplies = control.sources.compactMap { $0 as? any SupplyControl }.filter(\.canSwitchSupplyOff)
        if options.alarmActions.contains(.supplyOff) && supplies.isEmpty {
            throw LiveError.badAlarmAction(
                "--on-alarm supply-off: no source of this rig can switch the supply off (the simulated rig can, and a SCPI "
                + "supply whose rig file gives output_off commands); choose --on-alarm stop, or record with a rig whose supply trw controls")
        }
        guard (1...3600).contains(options.alarmK) else {
            throw LiveError.badDetector("--alarm-k must be in 1...3600 ticks, got \(options.alarmK)")
        }
        do {
            return try LiveDetection(
                specs: options.detectors, alarmK: options.alarmK, actions: options.alarmActions, runId: runId, logger: logger,
                write: control.write,
                act: { [weak self] name, tNs, score in
                    self?.carryOutAlarmActions(detector: name, tNs: tNs, score: score, supplies: supplies, control: control)
                })
        } catch {
            throw LiveError.badDetector("--detect: \(error)")
        }
    }

    /// The alarm actions (on the alarm-action queue, never on a lane's thread); each
    /// outcome is a marker at the alarm's tick.
    private func carryOutAlarmActions(detector: String, tNs: Int64, score: Double, supplies: [any SupplyControl], control: RecordingControl) {
        let when = String(format: "t = %.1f s", Double(tNs) / 1e9)
        var notes: [String] = []
        for a in options.alarmActions {
            switch a {
            case .supplyOff:
                for s in supplies {
                    do {
                        notes.append("supply off: " + (try s.switchSupplyOff(reason: "\(detector) alarm at \(when)")))
                    } catch {
                        notes.append("supply off FAILED: \(error)")
                        logger.error("alarm action failed: supply off", metadata: ["detector": "\(detector)", "error": "\(error)"])
                    }
                }
            case .stop:
                lock.withLock { if alarmStopReason == nil { alarmStopReason = "stopped by the \(detector) alarm at \(when)" } }
                notes.append("recording stopped")
                control.stop()
            case .exec(let command):
                let env = AlarmAction.environment(detector: detector, tNs: tNs, score: score, session: sessionName, sessionPath: control.sessionPath)
                let outcome = Self.runAlarmCommand(command, environment: env, timeoutS: AlarmAction.execTimeoutS)
                notes.append(outcome.note)
                if !outcome.ok {
                    logger.error("alarm action failed: exec", metadata: ["detector": "\(detector)", "command": "\(command)", "outcome": "\(outcome.note)"])
                }
            }
        }
        guard !notes.isEmpty else { return }
        var b = WriteBatch()
        b.markers = notes.map { MarkerRecord(tNs: tNs, text: "\(detector) alarm: \($0)", author: "trw", origin: "alarm") }
        control.write(b)
    }

    public func frame(tNs: Int64, stream: String, maxCounts: UInt16, meanCounts: Double, pixels: [UInt16]) {
        ticks?.frame(tNs: tNs, stream: stream, maxCounts: maxCounts, meanCounts: meanCounts, pixels: pixels)
    }

    public func audio(tNs: Int64, stream: String, rms: Double, firstSampleIndex: Int64, samples: PCMSamples, frameCount: Int, openHitTNs: Int64?) {
        ticks?.audio(tNs: tNs, stream: stream, rms: rms, firstSampleIndex: firstSampleIndex, samples: samples, frameCount: frameCount,
                     openHitTNs: openHitTNs)
    }

    public func hit(_ h: AEHitRecord, stream: String) { ticks?.hit(h, stream: stream) }

    public func bms(tNs: Int64, _ s: BMSSample, stream: String) { ticks?.bms(tNs: tNs, s, stream: stream) }

    public func event(_ e: RecordingEvent) { ticks?.event(Self.jsonLine(e)) }

    /// A recording event as a line of the replay / live schema (schemas/replay.schema.json).
    static func jsonLine(_ e: RecordingEvent) -> String {
        var l = JSONLine()
        switch e {
        case .gap(let t, let stream, let kind, let lost):
            l.add("type", "gap"); l.add("t", Double(t) / 1e9); l.add("stream", stream); l.add("kind", kind); l.add("lost", Double(lost))
        case .label(let t, let label, let method, let author):
            l.add("type", "label"); l.add("t", Double(t) / 1e9); l.add("label", label); l.add("method", method); l.add("author", author)
        case .marker(let t, let text):
            l.add("type", "marker"); l.add("t", Double(t) / 1e9); l.add("text", text)
        case .sensing(let t, let stream, let setting, let value):
            l.add("type", "sensing"); l.add("t", Double(t) / 1e9); l.add("stream", stream); l.add("setting", setting); l.add("value", value)
        }
        return l.text
    }

    public func finish(endTNs: Int64) -> RecordingObserverEnd {
        var end = RecordingObserverEnd()
        let late = ticks?.finish(endTNs: endTNs) ?? 0
        let actionsDone = detection?.drainActions() ?? true
        if let gaps = detection?.failureGaps(), !gaps.isEmpty {
            var b = WriteBatch()
            b.gaps = gaps
            detection?.write(b)
        }
        if late > 0 {
            logger.notice("live ticks: samples came after their tick was closed and went into the next tick",
                          metadata: ["late_samples": "\(late)"])
            end.detail.append("live ticks: \(late) samples came after their tick was closed (counted into the next tick)")
        }
        if !actionsDone { end.detail.append("an alarm action was still running at the end; its outcome is not recorded") }
        if let detection {
            if let reason = lock.withLock({ alarmStopReason }) { end.detail.append(reason) }
            for st in detection.status {
                var s = "live \(st.name): " + (st.firstAlarmS.map { String(format: "first alarm at t = %.1f s (%d)", $0, st.alarms) } ?? "no alarm")
                if st.invalidScores > 0 { s += " (\(st.invalidScores) invalid scores stored as 0: detector_failure gap)" }
                end.detail.append(s)
            }
        }
        if let tap {
            let gaps = tap.finish(endTNs: endTNs, lateSamples: late)
            if !gaps.isEmpty {
                let lost = gaps.reduce(0) { $0 + $1.lostCount }
                logger.warning("live stream clients lost lines", metadata: ["clients": "\(gaps.count)", "lines": "\(lost)"])
                end.detail.append("live stream: \(gaps.count) client(s) lost \(lost) lines (live_client gaps; the session is complete)")
                end.gaps += gaps
            }
        }
        return end
    }

    public func cancel() { tap?.shutdown() }

    public var detectorStatus: [LiveDetectorStatus] { detection?.status ?? [] }

    public var alarmActionNames: [String] { options.alarmActions.map(\.description) }

    /// Runs an exec alarm action to its end, at most `timeoutS` (then SIGTERM, SIGKILL after 2 s);
    /// its standard input is closed, its output read and dropped (bounded); the note says how it ended.
    static func runAlarmCommand(_ command: String, environment: [String: String], timeoutS: Double) -> (ok: Bool, note: String) {
        let started = HostClock.monotonicNanoseconds()
        let child: ChildProcess
        do {
            child = try ChildProcess(shellCommand: command, maxLineBytes: 64 * 1024, environment: environment)
        } catch {
            return (false, "exec FAILED to start '\(command)': \(error)")
        }
        child.closeInput()
        let deadline = Deadline.after(seconds: timeoutS)
        // Read (and drop) its output until it closes it or the deadline passes.
        while true {
            do { _ = try child.readLine(deadline: deadline) } catch { break }
        }
        let exit = child.finish(exitWithin: max(0, Double(deadline.monotonicNs - Deadline.now()) / 1e9), grace: 2)
        let took = Double(HostClock.monotonicNanoseconds() - started) / 1e9
        let ok = exit.succeeded
        return (ok, (ok ? "exec '\(command)': " : "exec FAILED '\(command)': ") + "\(exit) after " + String(format: "%.2f s", took))
    }
}
