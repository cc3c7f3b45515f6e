import Foundation
import Logging
import TRWAnalysis
import TRWCore
import TRWLive
import TRWRecorder
import TRWRig
import TRWStore

/// What a recording is asked to be, before anything exists (`trw record`, `trw simulate`).
public struct RecordingPlan: Sendable {
    public var name: String
    public var outputPath: String
    public var operatorName = ""
    /// Session seconds to record (nil: until the sources end, a stop rule or `stop()`).
    public var durationS: Double?
    /// Live ticks, the JSON Lines tap and live detectors.
    public var live = LiveOptions()
    /// Sensing settings applied at t = 0 (recorded as sensing events).
    public var initialSensing: [SensingChoice] = []
    /// A sensing policy program (one decision a second), and the detector whose score it gets as risk.
    public var sensingPolicy: String?
    public var sensingRisk = "dtdt"

    public init(name: String, outputPath: String) {
        self.name = name
        self.outputPath = outputPath
    }
}

/// One sensing setting and its value ("ir_fps=5").
public struct SensingChoice: Sendable, Equatable {
    public var setting: SensingSetting
    public var value: Double

    public init(_ setting: SensingSetting, _ value: Double) {
        self.setting = setting
        self.value = value
    }

    /// Parses "ir_fps=5,ae_threshold_db=50,bms_hz=1"; every value is range-checked.
    public static func parseList(_ text: String) throws(RecordingSessionError) -> [SensingChoice] {
        var out: [SensingChoice] = []
        for item in text.split(separator: ",") {
            let kv = item.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard kv.count == 2, let setting = SensingSetting(rawValue: kv[0]), let v = Double(kv[1]) else {
                throw .badSensing("--sensing: '\(item)' is not SETTING=NUMBER with SETTING one of \(SensingSetting.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            do { try setting.check(v) } catch { throw .badSensing("--sensing \(setting.rawValue) must be \(setting.expected), got \(kv[1])") }
            out.append(SensingChoice(setting, v))
        }
        return out
    }
}

public enum RecordingSessionError: Error, CustomStringConvertible, Equatable {
    /// A sensing setting that does not parse or is out of range (the message names the option).
    case badSensing(String)
    /// A sensing setting for a stream kind the rig does not have.
    case noStreamForSensing(SensingSetting, rig: String)
    /// The rig file's [alarm] section names an unknown detector or action.
    case badRigAlarm(String)
    case unknownRiskDetector(String)
    /// A failure after the session file existed: it is finalised `aborted` with this reason.
    case abortedAtStart(path: String, reason: String)

    public var description: String {
        switch self {
        case .badSensing(let m): m
        case .noStreamForSensing(let s, let rig): "--sensing \(s.rawValue): the rig \(rig) has no \(s.kind.rawValue) stream"
        case .badRigAlarm(let m): m
        case .unknownRiskDetector(let d):
            "--sensing-risk \(d); live detectors: \(DetectorRegistry.builtIn.joined(separator: ", ")), dplstm:MODEL_DIR"
        case .abortedAtStart(let path, let reason): "\(path) was finalised as aborted: \(reason)"
        }
    }
}

/// How a recording session ended.
public struct RecordingSessionResult: Sendable {
    public var recording: RecordingResult
    /// The sensing policy's decisions and energy, when one ran.
    public var policy: SensingPolicyDriver.Report?
    /// A failure after the file existed (the session is `aborted` with it as the reason).
    public var startError: String?
}

/// A recording from plan to finalised file: validates everything before the session file
/// exists (rig, live detectors and socket, sensing settings, the policy program), creates
/// the file, runs, and finalises it — `aborted` with the reason on any error after the file
/// exists. The CLI commands only parse their options into a `RecordingPlan`.
public final class RecordingSession: @unchecked Sendable {
    public let plan: RecordingPlan
    public let rigName: String
    public let recorder: Recorder
    private let policy: SensingPolicyDriver?
    private let logger: Logger
    // Set by start() before the recording threads run; read by wait() on the same thread.
    private var startError: String?

    /// Checks the plan against a built rig. Nothing is created; the sensing policy program is
    /// not started yet.
    public init(rig: RigBuilder.Built, rigName: String, plan: RecordingPlan, logger: Logger = Logger(label: "trw.record")) throws {
        let kinds = Set(rig.sources.flatMap(\.streams).map(\.kind))
        for c in plan.initialSensing where !kinds.contains(c.setting.kind) {
            throw RecordingSessionError.noStreamForSensing(c.setting, rig: rigName)
        }
        var risk: (any OnlineDetector)?
        if plan.sensingPolicy != nil {
            // Any live detector: a built-in one or a model (dplstm:MODEL_DIR, loaded here, before anything exists).
            do { risk = try DetectorRegistry.load(plan.sensingRisk) } catch {
                throw RecordingSessionError.unknownRiskDetector(plan.sensingRisk + ": \(error)")
            }
        }
        var o = RecorderOptions(name: plan.name, outputPath: plan.outputPath, rigName: rigName)
        o.operatorName = plan.operatorName
        o.durationS = plan.durationS
        o.realTime = rig.realTime
        // Faster than real time, the simulated and synthetic sources stop at the duration themselves.
        o.sourcesEndAtDuration = !rig.realTime && rig.rigFile == nil
        o.rigConfig = rig.configText
        if let rf = rig.rigFile {
            o.stopRules = rf.stopRules
            if o.durationS == nil { o.durationS = rf.durationS }
        }
        var plan = plan
        if let a = rig.rigFile?.alarm {
            try Self.applyRigAlarm(a, file: rig.rigFile!.path, to: &plan.live)
        }
        self.plan = plan
        self.rigName = rigName
        self.logger = logger
        let recorder = Recorder(sources: rig.sources, options: o, observer: LiveRecording.make(plan.live, logger: logger), logger: logger)
        self.recorder = recorder
        policy = plan.sensingPolicy.map { SensingPolicyDriver(recorder: recorder, command: $0, riskDetector: risk!, logger: logger) }
    }

    /// The rig file's `[alarm]` section fills in what the command line left out: its detectors
    /// when no --detect was given, its actions when no --on-alarm was, its alarm_k when the
    /// detectors are its own. Names and actions are checked here, the file and line in the error.
    static func applyRigAlarm(_ a: RigFile.RigAlarm, file: String, to live: inout LiveOptions) throws {
        let at = "\(file)\(a.line.map { ":\($0)" } ?? "") [alarm]"
        for d in a.detectors where !DetectorRegistry.isKnown(d) || d.hasPrefix("exec:") {
            throw RecordingSessionError.badRigAlarm("\(at) detect: unknown live detector '\(d)'; live detectors: "
                                                    + DetectorRegistry.builtIn.joined(separator: ", ") + ", dplstm:MODEL_DIR")
        }
        let actions: [AlarmAction]
        do { actions = try AlarmAction.parse(a.actions.joined(separator: ",")) } catch {
            throw RecordingSessionError.badRigAlarm("\(at) on_alarm: \(error)")
        }
        if live.detectors.isEmpty {
            live.detectors = a.detectors
            if let k = a.alarmK { live.alarmK = k }
        }
        if live.alarmActions.isEmpty { live.alarmActions = actions }
    }

    /// Builds the rig of `choice` and checks the plan against it.
    public convenience init(choice: RigChoice, speed: RigSpeed, plan: RecordingPlan, logger: Logger = Logger(label: "trw.record")) throws {
        let built = try RigBuilder.build(choice, speed: speed, durationS: plan.durationS)
        try self.init(rig: built, rigName: choice.name, plan: plan, logger: logger)
    }

    /// Starts the policy program (it must answer before anything is created), creates the
    /// session file and starts recording; then applies the initial sensing settings and starts
    /// the policy's decisions. Throws only when no file was created, or it was removed; a
    /// failure after the file exists aborts the recording with the reason (see `wait()`).
    public func start() throws {
        if let policy {
            logger.info("starting the sensing policy", metadata: ["command": "\(plan.sensingPolicy ?? "")"])
            try policy.launch()
        }
        do {
            try recorder.start()
        } catch {
            _ = policy?.finish()
            throw error
        }
        do {
            for c in plan.initialSensing { try recorder.applySensing(c.setting, c.value, origin: "cli", atNs: 0) }
            try policy?.start()
        } catch {
            startError = "\(error)"
            recorder.abort(reason: "aborted at start: \(error)")
        }
    }

    /// Waits for the end (sources, duration, a stop rule, an alarm, `stop()`), stops the policy
    /// program and returns how it ended; the file is finalised.
    public func wait() -> RecordingSessionResult {
        let result = recorder.wait()
        let report = policy?.finish()
        return RecordingSessionResult(recording: result, policy: report, startError: startError)
    }

    /// Asks the recording to stop (signals, the operator); safe from any thread.
    public func stop() { recorder.stop() }
}
