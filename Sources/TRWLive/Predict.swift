import Foundation
import TRWAnalysis
import TRWCore
import TRWIO
import TRWStore

/// One detector's score stream over one session.
public struct PredictionRun: Sendable {
    public var detector: String
    public var runId: String
    public var parameters: [String: Double]
    public var tS: [Double] = []
    public var scores: [Double] = []
    public var alarms: [Bool] = []
    public var latenciesNs: [Int64] = []
    /// Ticks the detector was to score.
    public var ticksTotal = 0
    /// Time of the last tick, s.
    public var lastTickS: Double?
    /// Why an external detector stopped part-way (naming the tick); the scores before it are kept.
    public var failure: String?
    /// The tick at which it failed, s.
    public var failureTS: Double?
    /// How an external detector ended, and a note when it had to be terminated after answering every tick.
    public var exit: ChildExit?
    public var exitNote: String?
    public var unscoredTicks: Int { max(0, ticksTotal - scores.count) }
    /// Times where the alarm rose.
    public var alarmTimesS: [Double] {
        var out: [Double] = []
        for i in alarms.indices where alarms[i] && (i == 0 || !alarms[i - 1]) { out.append(tS[i]) }
        return out
    }
}

public enum PredictError: Error, CustomStringConvertible {
    case unknownDetector(String)
    case external(String)
    public var description: String {
        switch self {
        case .unknownDetector(let n):
            "unknown detector '\(n)'; built-in: \(DetectorRegistry.builtIn.joined(separator: ", ")), or exec:COMMAND for an external program"
        case .external(let m): m
        }
    }
}

/// Runs detectors causally over a session's ticks (`trw predict`, `trw score`).
public enum Predictor {
    public static func runBuiltIn(_ name: String, table: FeatureTable, alarm: AlarmRule, runId: String) throws -> PredictionRun {
        guard DetectorRegistry.isKnown(name) else { throw PredictError.unknownDetector(name) }
        var det = try DetectorRegistry.load(name)
        var rule = alarm
        var run = PredictionRun(detector: name, runId: runId, parameters: det.parameters)
        run.ticksTotal = table.count
        run.lastTickS = table.tickTimesS.last
        var f: [String: Double] = [:]
        for k in 0..<table.count {
            for (j, n) in table.names.enumerated() { f[n] = Double(table.values[k * table.names.count + j]) }
            let t0 = HostClock.monotonicNanoseconds()
            let s = det.step(t: table.tickTimesS[k], features: f)
            let lat = HostClock.monotonicNanoseconds() - t0
            run.tS.append(table.tickTimesS[k]); run.scores.append(s); run.alarms.append(rule.step(s)); run.latenciesNs.append(lat)
        }
        return run
    }

    /// An external detector: any program that reads the replay stream on stdin
    /// and answers each `tick` line with one line `{"t": T, "score": S}` on
    /// stdout before it gets the next line (lockstep: it never sees the future).
    /// Labels are not sent. Protocol and time limits: schemas/predictor-protocol.md.
    ///
    /// Every wait is bounded by `limits`. A detector that fails (no answer in time, stops
    /// reading, closes its output, answers garbage, for another tick, or a score outside
    /// [0, 1] or not finite) is terminated and the run keeps the scores received before the
    /// failure, with `failure` naming the tick and what was expected. A detector that
    /// answered every tick but does not exit after its input ends is terminated (SIGTERM,
    /// then SIGKILL) and noted in `exitNote`; its scores are complete. Throws only when
    /// the program cannot be started.
    public static func runExternal(command: String, events: [ReplayEvent], alarm: AlarmRule, runId: String,
                                   limits: ExternalDetectorLimits = ExternalDetectorLimits()) throws -> PredictionRun {
        let child: ChildProcess
        do { child = try ChildProcess(shellCommand: command, maxLineBytes: limits.maxLineBytes) } catch {
            throw PredictError.external("\(error)")
        }
        var rule = alarm
        var run = PredictionRun(detector: "exec:" + command, runId: runId, parameters: [:])
        let sent = events.filter { $0.kind != .label }
        let ticks = sent.filter { $0.kind == .tick }
        run.ticksTotal = ticks.count
        run.lastTickS = ticks.last?.tS
        let name = "detector '\(command)'"
        func fail(_ tick: ReplayEvent, _ what: String) {
            let k = run.scores.count
            run.failureTS = tick.tS
            run.failure = "\(name), tick t = \(JSONLine.number(tick.tS)) s (\(k + 1) of \(ticks.count)): \(what); "
                + "\(k) score\(k == 1 ? "" : "s") received before it \(k == 1 ? "is" : "are") kept, \(ticks.count - k) tick\(ticks.count - k == 1 ? "" : "s") not scored"
        }
        func timeout() -> Double { run.scores.isEmpty ? limits.startupTimeoutS : limits.answerTimeoutS }
        func timeoutText() -> String {
            run.scores.isEmpty ? "\(JSONLine.number(timeout())) s (--startup-timeout, the first answer)" : "\(JSONLine.number(timeout())) s (--answer-timeout)"
        }
        var pendingTick = ticks.first
        events: for e in sent {
            let t0 = HostClock.monotonicNanoseconds()
            do { try child.write(e.json + "\n", deadline: .after(seconds: timeout())) } catch {
                let tick = pendingTick ?? e
                switch error {
                case .timedOut: fail(tick, "took no input for \(timeoutText()): it stopped reading")
                case .inputClosed: fail(tick, "closed its input (stopped reading or exited)")
                default: fail(tick, "could not be written to: \(error)")
                }
                break events
            }
            guard e.kind == .tick else { continue }
            let line: [UInt8]
            do { line = try child.readLine(deadline: .after(seconds: timeout())) } catch {
                switch error {
                case .timedOut: fail(e, "gave no answer within \(timeoutText())")
                case .outputClosed(let partial):
                    fail(e, "closed its output without an answer" + (partial.map { " (last unterminated output '\(String(decoding: $0.prefix(200), as: UTF8.self))')" } ?? ""))
                case .lineTooLong(let l): fail(e, "answered with \(l); an answer is one short JSON line")
                default: fail(e, "could not be read: \(error)")
                }
                break events
            }
            let lat = HostClock.monotonicNanoseconds() - t0
            let text = String(decoding: line, as: UTF8.self)
            let expected = "expected {\"t\": \(JSONLine.number(e.tS)), \"score\": S} with S in [0, 1]"
            guard let obj = (try? JSONSerialization.jsonObject(with: Data(line))) as? [String: Any],
                  let t = (obj["t"] as? NSNumber)?.doubleValue else {
                // Python's json.dumps writes NaN and Infinity, which are not JSON: name the real problem.
                let nonFinite = ["NaN", "Infinity"].contains { text.contains($0) }
                fail(e, "answered '\(text.prefix(200))'" + (nonFinite ? ", a score that is not finite" : "") + "; \(expected)")
                break events
            }
            guard let score = (obj["score"] as? NSNumber)?.doubleValue else {
                fail(e, "answered '\(text.prefix(200))' without a numeric score; \(expected)")
                break events
            }
            guard abs(t - e.tS) < 1e-6 else {
                fail(e, "answered for t = \(JSONLine.number(t)) s instead; \(expected)")
                break events
            }
            guard score.isFinite, (0...1).contains(score) else {
                fail(e, "answered score \(score), outside [0, 1] (scores are probabilities; the alarm is above \(alarm.threshold))")
                break events
            }
            run.tS.append(t); run.scores.append(score); run.alarms.append(rule.step(score)); run.latenciesNs.append(lat)
            pendingTick = run.scores.count < ticks.count ? ticks[run.scores.count] : nil
        }
        if run.failure != nil {
            run.exit = child.terminate(grace: limits.killGraceS)
        } else {
            let exit = child.finish(exitWithin: limits.exitTimeoutS, grace: limits.killGraceS)
            run.exit = exit
            if exit.ending != .onItsOwn {
                run.exitNote = "\(name) did not exit within \(JSONLine.number(limits.exitTimeoutS)) s after the end of its input: \(exit); all \(run.scores.count) scores were received"
            } else if exit.status != .exited(0) {
                run.exitNote = "\(name) ended with \(exit) after answering all \(run.scores.count) ticks"
            }
        }
        return run
    }

    /// Stores a run in the session's `prediction` table. A run that failed part-way also
    /// gets a `detector_failure` gap (its ticks not scored, with the failure as detail).
    public static func store(_ run: PredictionRun, in path: String) throws {
        let w = try SessionWriter(appendingTo: path)
        try w.addPredictions(run.tS.indices.map { i in
            PredictionRecord(id: nil, model: run.detector, modelVersion: TRWVersion.string, runId: run.runId,
                             tNs: Int64((run.tS[i] * 1e9).rounded()), score: run.scores[i], alarm: run.alarms[i],
                             latencyNs: run.latenciesNs[i], parametersJson: JSONText.encode(run.parameters))
        })
        if let f = run.failure {
            var b = WriteBatch()
            b.gaps = [GapRecord(streamId: nil, kind: "detector_failure", startTNs: Int64(((run.failureTS ?? 0) * 1e9).rounded()),
                                endTNs: run.lastTickS.map { Int64(($0 * 1e9).rounded()) }, lostCount: Int64(run.unscoredTicks),
                                detail: "\(run.detector) run \(run.runId): \(f)")]
            try w.write(b)
        }
    }
}

/// Time limits on an external detector (schemas/predictor-protocol.md).
public struct ExternalDetectorLimits: Sendable, Equatable {
    /// Longest wait for the answer to one tick, and for the detector to take one input line, s.
    public var answerTimeoutS: Double = 10
    /// Longest wait for the first answer (program start, model loading), s.
    public var startupTimeoutS: Double = 60
    /// Time the detector has to exit after its input ends, s; then it gets SIGTERM.
    public var exitTimeoutS: Double = 5
    /// Time between SIGTERM and SIGKILL, s.
    public var killGraceS: Double = 2
    /// Longest answer line, bytes.
    public var maxLineBytes: Int = 1 << 20
    public init() {}
}

