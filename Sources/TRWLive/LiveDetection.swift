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
public enum AlarmAction: String, Sendable, CaseIterable, Equatable {
    /// Stop the recording (finalised `complete`, the alarm named as the reason).
    case stop
    /// Switch the charging supply's output off through the rig (`SupplyControl`).
    case supplyOff = "supply-off"

    /// Parses "stop,supply-off"; errors name the unknown word and the known ones.
    public static func parse(_ text: String) throws(LiveError) -> [AlarmAction] {
        var out: [AlarmAction] = []
        for word in text.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !word.isEmpty {
            guard let a = AlarmAction(rawValue: word) else {
                throw .badAlarmAction("unknown alarm action '\(word)'; expected a comma-separated list of "
                                      + allCases.map(\.rawValue).joined(separator: ", ") + " (a marker is always written)")
            }
            if !out.contains(a) { out.append(a) }
        }
        return out
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
