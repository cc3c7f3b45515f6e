import Foundation
import Logging
import TRWAnalysis
import TRWCore
import TRWRecorder
import TRWIO

/// Drives a recording's sensing settings from a policy program (SENSOR-RL's
/// `python -m trw_models mm-policy DIR`, protocol in docs/multimodal.md): once per
/// second of session time it sends `{"t", "features", "risk"}` and applies the
/// answer's `ir_fps`, `ae_threshold_db`, `bms_hz` through `Recorder.applySensing`
/// (each change a `sensing_event` row, origin `policy`).
///
/// `risk` is a detector's score on the same per-second features (default `dtdt`).
/// Energy is accounted with the policy's cost model: per second
/// c_IR·f_IR + c_AE·[an AE hit at the threshold] + c_BMS·f_BMS, c = (1.0, 0.5, 0.1),
/// rates in Hz of 1-Hz ticks, against full sensing (1.6 per second).
///
/// Every wait on the program is bounded (`Limits`): a policy that does not answer in
/// time is stopped (SIGTERM, then SIGKILL) and the recording goes on with the settings
/// in force; the error is in the report.
public final class SensingPolicyDriver: @unchecked Sendable {
    public struct Limits: Sendable {
        /// Longest wait for the answer to the warm-up line (program start, model loading), s.
        public var startupTimeoutS: Double = 60
        /// Longest wait for one decision (and for the program to take one line), s.
        public var answerTimeoutS: Double = 10
        /// Time the program has to exit after its input ends, then SIGTERM; then SIGKILL after as long again, s.
        public var killGraceS: Double = 2
        public init() {}
    }

    public struct Report: Sendable {
        public var decisions = 0
        public var changes = 0
        public var energyUsed = 0.0
        public var energyFull = 0.0
        public var firstAlarmS: Double?
        public var error: String?
        public var energyFraction: Double { energyFull > 0 ? energyUsed / energyFull : .nan }
    }

    public static let costs = (ir: 1.0, ae: 0.5, bms: 0.1)

    let recorder: Recorder
    let command: String
    var detector: any OnlineDetector
    let logger: Logger
    public let limits: Limits
    private let lock = NSLock()
    private var report = Report()
    private var thread: Thread?
    private let done = DispatchSemaphore(value: 0)
    private var stopped = false

    public init(recorder: Recorder, command: String, riskDetector: any OnlineDetector, limits: Limits = Limits(),
                logger: Logger = Logger(label: "trw.sensing")) {
        self.recorder = recorder
        self.command = command
        detector = riskDetector
        self.limits = limits
        self.logger = logger
    }

    private var child: ChildProcess?

    /// Starts the policy program and waits for its first answer (a warm-up line at t = 0 with
    /// no features), so a slow start (Python importing JAX) does not eat the first seconds of
    /// a run. Call before `Recorder.start()`, then `start()`.
    public func launch() throws {
        let c: ChildProcess
        do { c = try ChildProcess(shellCommand: command) } catch { throw SensingError.policy("\(error)") }
        let deadline = Deadline.after(seconds: limits.startupTimeoutS)
        let answer: [UInt8]
        do {
            try c.write("{\"t\":0,\"features\":{},\"risk\":0}\n", deadline: deadline)
            answer = try c.readLine(deadline: deadline)
        } catch {
            let why = error == .timedOut ? "no answer within \(limits.startupTimeoutS) s" : "\(error)"
            c.terminate(grace: limits.killGraceS)
            throw SensingError.policy("policy '\(command)' did not answer its first line: \(why)")
        }
        guard (try? JSONSerialization.jsonObject(with: Data(answer))) is [String: Any] else {
            c.terminate(grace: limits.killGraceS)
            throw SensingError.policy("policy '\(command)' answered its first line with '\(String(decoding: answer.prefix(120), as: UTF8.self))'; expected a JSON object")
        }
        child = c
    }

    /// Runs the decisions on their own thread (after `launch()` and `Recorder.start()`).
    public func start() throws {
        if child == nil { try launch() }
        let c = child!
        let t = Thread { [self] in
            loop(c)
            done.signal()
        }
        t.name = "trw-sensing"
        thread = t
        t.start()
    }

    /// Stops the policy program and returns what it did. Bounded: a program blocked in a
    /// decision is sent SIGTERM after 1 s, SIGKILL after the grace period.
    public func finish() -> Report {
        lock.withLock { stopped = true }
        if let c = child {
            if thread != nil && done.wait(timeout: .now() + 1) == .timedOut {
                c.signal(SIGTERM)
                if done.wait(timeout: .now() + limits.killGraceS) == .timedOut {
                    c.signal(SIGKILL)
                    done.wait()
                }
            }
            let exit = c.finish(exitWithin: 1, grace: limits.killGraceS)
            if exit.ending == .killed { record(error: "policy '\(command)' \(exit) at the end of the recording") }
            child = nil
        }
        return lock.withLock { report }
    }

    private var isStopped: Bool { lock.withLock { stopped } }

    private func loop(_ c: ChildProcess) {
        var nextS = 1.0
        var prev: [String: Double] = [:]
        var lastHits: Double?
        var current: [SensingSetting: Double] = [:]
        while !isStopped && !recorder.isStopping {
            let st = recorder.status()
            guard st.sessionTimeS >= nextS else { usleep(10_000); continue }
            let t = nextS.rounded(.down)
            nextS = t + 1
            // The per-second features the policy was trained on (schemas/export-npz.md names).
            var f: [String: Double] = [:]
            for s in st.streams {
                switch s.kind {
                case .thermal: if let v = s.lastValues["max_c"] { f["ir_max_c"] = v }
                case .bms:
                    if let v = s.lastValues["voltage_v"] { f["voltage_v"] = v }
                    if let v = s.lastValues["current_a"] { f["current_a"] = v }
                    if let v = s.lastValues["cell_c"] { f["cell_temp_c"] = v }
                case .ae:
                    if let h = s.lastValues["hits_total"] {
                        f["ae_hit_rate_hz"] = lastHits.map { max(0, h - $0) } ?? 0
                        lastHits = h
                    }
                default: break
                }
            }
            for (k, d) in [("ir_max_c", "ir_dmax_c"), ("cell_temp_c", "dt_c"), ("voltage_v", "dv_v")] {
                if let v = f[k] { f[d] = prev[k].map { abs(v - $0) } ?? 0 }
            }
            prev = f
            let risk = detector.step(t: t, features: f)
            var line = JSONLine()
            line.add("t", t)
            let feats = f.keys.sorted().map { "\"\($0)\":\(f[$0]!.isFinite ? String(f[$0]!) : "null")" }.joined(separator: ",")
            line.addRaw("features", "{" + feats + "}")
            line.add("risk", risk)
            let answer: [UInt8]
            do {
                let deadline = Deadline.after(seconds: limits.answerTimeoutS)
                try c.write(line.text + "\n", deadline: deadline)
                answer = try c.readLine(deadline: deadline)
            } catch {
                if isStopped { return }
                let why = switch error {
                case .timedOut: "gave no decision within \(limits.answerTimeoutS) s and was stopped"
                case .inputClosed: "stopped reading"
                case .outputClosed: "closed its output"
                default: "failed: \(error)"
                }
                record(error: "policy '\(command)' \(why) at t = \(t) s; the sensing settings in force stay")
                c.signal(SIGTERM)
                return
            }
            guard let obj = try? JSONSerialization.jsonObject(with: Data(answer)) as? [String: Any] else {
                record(error: "policy answered t = \(t) s with '\(String(decoding: answer.prefix(120), as: UTF8.self))'; expected {\"ir_fps\", \"ae_threshold_db\", \"bms_hz\"}")
                continue
            }
            var changes = 0
            for s in SensingSetting.allCases {
                guard let v = (obj[s.rawValue] as? NSNumber)?.doubleValue, current[s] != v else { continue }
                do {
                    try recorder.applySensing(s, v, origin: "policy", detail: "risk \(String(format: "%.3f", risk))", atNs: Int64(t * 1e9))
                    current[s] = v
                    changes += 1
                } catch SensingError.noStream {
                    current[s] = v  // a rig without that sensor: nothing to change
                } catch {
                    record(error: "\(error)")
                }
            }
            // Energy of this second under the settings in force, and of full sensing.
            let ir = min(1, current[.irFps] ?? 1), bms = min(1, current[.bmsHz] ?? 1)
            let aeOn = (f["ae_hit_rate_hz"] ?? 0) > 0 ? 1.0 : 0.0
            let c = Self.costs
            lock.withLock {
                report.decisions += 1
                report.changes += changes
                report.energyUsed += c.ir * ir + c.ae * aeOn + c.bms * bms
                report.energyFull += c.ir + c.ae + c.bms
                if risk > 0.5 && report.firstAlarmS == nil { report.firstAlarmS = t }
            }
        }
    }

    private func record(error: String) {
        logger.error("sensing policy", metadata: ["error": "\(error)"])
        lock.withLock { report.error = report.error ?? error }
    }
}
