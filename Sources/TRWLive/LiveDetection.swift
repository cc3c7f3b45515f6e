import Foundation
import Logging
import TRWAnalysis
import TRWCore
import TRWRecorder
import TRWStore

/// Why live following cannot start (checked before the session file exists).
public enum LiveError: Error, CustomStringConvertible, Equatable {
    case badAlarmAction(String)
    case badDetector(String)
    public var description: String {
        switch self {
        case .badAlarmAction(let m), .badDetector(let m): m
        }
    }
}

/// What the recorder does when a live detector's alarm rises (`trw record --on-alarm`).
/// Every alarm is also a marker and a logged warning, whatever the actions.
public enum AlarmAction: Sendable, Equatable, CustomStringConvertible {
    /// Stop the recording (finalised `complete`, the alarm named as the reason).
    case stop
    /// Switch the charging supply's output off through the rig (`SupplyControl`: the simulated
    /// rig, or a SCPI supply whose rig file gives `output_off` commands).
    case supplyOff
    /// Run `/bin/sh -c COMMAND` with the alarm's details in its environment (TRW_ALARM_*),
    /// bounded by `AlarmAction.execTimeoutS`.
    case exec(String)

    /// Seconds an `exec` action may run before it is terminated (SIGTERM, then SIGKILL).
    public static let execTimeoutS = 30.0

    /// The words `parse` accepts (exec is given as `exec:COMMAND`, last, or by --on-alarm-exec).
    public static let words = ["stop", "supply-off"]

    public var description: String {
        switch self {
        case .stop: "stop"
        case .supplyOff: "supply-off"
        case .exec(let c): "exec:\(c)"
        }
    }

    /// Parses "stop,supply-off" and "stop,exec:notify-lab --room 3" (everything after `exec:`
    /// is the command, commas included); errors name the unknown word and the known ones.
    public static func parse(_ text: String) throws(LiveError) -> [AlarmAction] {
        var out: [AlarmAction] = []
        var rest = Substring(text)
        var execCommand: String?
        if let r = rest.range(of: "exec:") {
            execCommand = String(rest[r.upperBound...]).trimmingCharacters(in: .whitespaces)
            rest = rest[..<r.lowerBound]
            if execCommand!.isEmpty { throw .badAlarmAction("alarm action 'exec:' needs a command after the colon") }
            if execCommand!.contains(where: { $0 == "\n" || $0 == "\r" || $0 == "\0" }) {
                throw .badAlarmAction("alarm action exec: the command must be one line")
            }
        }
        for word in rest.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !word.isEmpty {
            let a: AlarmAction
            switch word {
            case "stop": a = .stop
            case "supply-off": a = .supplyOff
            default:
                throw .badAlarmAction("unknown alarm action '\(word)'; expected a comma-separated list of "
                                      + words.joined(separator: ", ") + " and exec:COMMAND last (a marker is always written)")
            }
            if !out.contains(a) { out.append(a) }
        }
        if let c = execCommand { out.append(.exec(c)) }
        return out
    }

    /// The environment an exec action's command sees, on top of trw's.
    public static func environment(detector: String, tNs: Int64, score: Double, session: String, sessionPath: String) -> [String: String] {
        ["TRW_ALARM_DETECTOR": detector,
         "TRW_ALARM_T_S": String(format: "%.3f", Double(tNs) / 1e9),
         "TRW_ALARM_SCORE": String(format: "%.4f", score),
         "TRW_SESSION": session,
         "TRW_SESSION_PATH": sessionPath]
    }
}

/// Runs built-in and model-backed detectors on the live ticks (`LiveTicks`, the same
/// features as offline) during a recording: stores every score as a `prediction` row of
/// one run per detector (`run_id` "live-<session start>"), and on each rising alarm
/// writes a marker at the tick and carries out the alarm actions off the lanes' threads.
final class LiveDetection: LiveTickSink, @unchecked Sendable {
    struct Slot {
        var detector: any OnlineDetector
        var rule: AlarmRule
        var status: LiveDetectorStatus
        let parametersJSON: String
    }
    let runId: String
    let actions: [AlarmAction]
    private let lock = NSLock()
    private var slots: [Slot]
    let write: @Sendable (WriteBatch) -> Void
    private let act: @Sendable (_ detector: String, _ tNs: Int64, _ score: Double) -> Void
    private let actionQueue = DispatchQueue(label: "trw-alarm-actions")
    private let logger: Logger

    /// Loads every detector (errors name the bad one) before the session exists.
    convenience init(specs: [String], alarmK: Int, actions: [AlarmAction], runId: String, logger: Logger,
                     write: @escaping @Sendable (WriteBatch) -> Void,
                     act: @escaping @Sendable (_ detector: String, _ tNs: Int64, _ score: Double) -> Void) throws {
        self.init(detectors: try specs.map { ($0, try DetectorRegistry.load($0)) }, alarmK: alarmK, actions: actions,
                  runId: runId, logger: logger, write: write, act: act)
    }

    init(detectors: [(name: String, detector: any OnlineDetector)], alarmK: Int, actions: [AlarmAction], runId: String,
         logger: Logger, write: @escaping @Sendable (WriteBatch) -> Void,
         act: @escaping @Sendable (_ detector: String, _ tNs: Int64, _ score: Double) -> Void) {
        slots = detectors.map { name, d in
            var p = d.parameters
            p["alarm_k"] = Double(alarmK)
            return Slot(detector: d, rule: AlarmRule(k: alarmK),
                        status: LiveDetectorStatus(name: name, score: .nan, alarm: false, firstAlarmS: nil, alarms: 0, lastTickS: nil),
                        parametersJSON: JSONText.encode(p))
        }
        self.runId = runId
        self.actions = actions
        self.logger = logger
        self.write = write
        self.act = act
    }

    var status: [LiveDetectorStatus] { lock.withLock { slots.map(\.status) } }

    func tick(k: Int, endNs: Int64, names: [String], row: [Double]) {
        var features: [String: Double] = [:]
        for (n, v) in zip(names, row) { features[n] = v }
        let t = Double(endNs) / 1e9
        var batch = WriteBatch()
        var risen: [(String, Double)] = []
        lock.withLock {
            for i in slots.indices {
                let t0 = HostClock.monotonicNanoseconds()
                var s = slots[i].detector.step(t: t, features: features)
                let latency = HostClock.monotonicNanoseconds() - t0
                if !s.isFinite || s < 0 || s > 1 {
                    if slots[i].status.invalidScores == 0 {
                        logger.error("live detector gave a score outside [0, 1]; stored as 0, counted",
                                     metadata: ["detector": "\(slots[i].status.name)", "t_s": "\(t)", "score": "\(s)"])
                        slots[i].status.firstInvalidS = t
                    }
                    slots[i].status.invalidScores += 1
                    s = 0
                }
                let alarm = slots[i].rule.step(s)
                let rose = alarm && !slots[i].status.alarm
                slots[i].status.score = s
                slots[i].status.alarm = alarm
                slots[i].status.lastTickS = t
                if rose {
                    slots[i].status.alarms += 1
                    if slots[i].status.firstAlarmS == nil { slots[i].status.firstAlarmS = t }
                    risen.append((slots[i].status.name, s))
                }
                batch.predictions.append(PredictionRecord(
                    model: slots[i].status.name, modelVersion: TRWVersion.string, runId: runId, tNs: endNs, score: s,
                    alarm: alarm, latencyNs: latency, parametersJson: slots[i].parametersJSON))
            }
        }
        for (name, score) in risen {
            let text = String(format: "ALARM %@ score %.2f at t = %.1f s", name, score, t)
            batch.markers.append(MarkerRecord(tNs: endNs, text: text, author: "trw", origin: "alarm"))
            logger.warning("live detector alarm", metadata: ["detector": "\(name)", "t_s": "\(t)", "score": "\(score)"])
            let act = self.act
            actionQueue.async { act(name, endNs, score) }
        }
        write(batch)
    }

    /// Waits (bounded) for the alarm actions already started; false when one is still running.
    @discardableResult
    func drainActions(timeoutS: Double = 10) -> Bool {
        let done = DispatchSemaphore(value: 0)
        actionQueue.async { done.signal() }
        guard done.wait(timeout: .now() + timeoutS) == .success else {
            logger.error("an alarm action is still running at the end of the recording; its outcome is not in the session",
                         metadata: ["waited_s": "\(timeoutS)"])
            return false
        }
        return true
    }

    /// One `detector_failure` gap per detector that gave invalid scores.
    func failureGaps() -> [GapRecord] {
        status.compactMap { st in
            guard st.invalidScores > 0 else { return nil }
            return GapRecord(streamId: nil, kind: "detector_failure", startTNs: Int64(((st.firstInvalidS ?? 0) * 1e9).rounded()),
                             endTNs: st.lastTickS.map { Int64(($0 * 1e9).rounded()) }, lostCount: Int64(st.invalidScores),
                             detail: "live \(st.name) run \(runId): \(st.invalidScores) scores outside [0, 1] or not finite, stored as 0 without alarm")
        }
    }
}
