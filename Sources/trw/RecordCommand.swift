import ArgumentParser
import Dispatch
import Foundation
import Logging
import TRWCore
import TRWIO
import TRWAnalysis
import TRWRecorder
import TRWStore

struct RecordCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "record",
        abstract: "Record a run into a new session file.",
        discussion: """
            Starts every source of the rig, puts every sample on the session time base and \
            writes sessions/NAME.sqlite (committed at least every second: a killed recorder \
            loses at most the last second). Ctrl-C stops the run cleanly and keeps everything.

            Examples:
              trw record --name first-run                 simulated overcharge, real time
              trw record --rig sim:ncm_overcharge_05c --max --name ncm1
              trw record --rig synthetic --name pipeline-check --duration 10
              trw record --rig sim:demo --speed 20 --detect vdrop,ae_burst --on-alarm supply-off
            """)

    @Option(name: .long, help: "The rig: 'sim' (simulated overcharge of a cell, scenario demo), 'sim:SCENARIO' (a scenario name from scenarios/ or a .toml file), or 'synthetic' (built-in test patterns).")
    var rig: String = "sim"

    @Option(name: .long, help: "Session name (default: run-YYYYMMDD-HHMMSS).")
    var name: String?

    @Option(name: .long, help: "Session file to write (default: sessions/NAME.sqlite). Never overwritten.")
    var out: String?

    @Option(name: .long, help: "Stop after this many seconds of session time.")
    var duration: Double?

    @Option(name: .customLong("operator"), help: "Who runs the test (stored in the session).")
    var operatorName: String = ""

    @Option(name: .long, help: "Simulated rigs: run at N times real time.")
    var speed: Double?

    @Flag(name: .long, help: "Simulated rigs: run as fast as the machine goes.")
    var max = false

    @Flag(name: .long, help: "No progress lines.")
    var quiet = false

    @OptionGroup var detection: LiveDetectionOptions

    @Option(name: .long, help: "Publish the live JSON Lines stream (as trw replay) on unix:PATH for online predictors.")
    var live: String?

    @Option(name: .long, help: "Initial sensing settings, e.g. ir_fps=5,ae_threshold_db=50,bms_hz=1 (recorded as sensing events).")
    var sensing: String?

    @Option(name: .long, help: "A sensing policy program driving ir_fps, ae_threshold_db, bms_hz once per second (e.g. 'python3 -m trw_models mm-policy runs/mm'; protocol in docs/multimodal.md).")
    var sensingPolicy: String?

    @Option(name: .long, help: "Detector whose score the sensing policy gets as risk (\(DetectorRegistry.builtIn.joined(separator: ", "))).")
    var sensingRisk: String = "dtdt"

    func validate() throws {
        try OptionCheck.number(duration, "--duration", OptionCheck.durationRange, openLower: true, unit: "seconds")
        try OptionCheck.number(speed, "--speed", OptionCheck.speedRange, unit: "(times real time)")
        if speed != nil && max { throw ValidationError("give either --speed N or --max, not both") }
        _ = try RigChoice(parsing: rig)
        if let l = live {
            guard l.hasPrefix("unix:") else { throw ValidationError("--live expects unix:PATH, got '\(l)'") }
            // Before the session file exists: the directory must exist and be writable, and PATH be
            // absent or a stale socket (any other file is refused, never deleted).
            do { try UnixSocketPath.check(String(l.dropFirst(5))) } catch { throw ValidationError("--live: \(error)") }
        }
        if let n = name, n.isEmpty || n.contains("/") { throw ValidationError("--name must be a plain name without '/', got '\(n)'") }
        _ = try Self.parseSensing(sensing)
        if DetectorRegistry.make(sensingRisk) == nil {
            throw ValidationError("--sensing-risk: unknown detector '\(sensingRisk)'; built-in: \(DetectorRegistry.builtIn.joined(separator: ", "))")
        }
    }

    static func parseSensing(_ s: String?) throws -> [(SensingSetting, Double)] {
        guard let s else { return [] }
        return try s.split(separator: ",").map { item in
            let kv = item.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard kv.count == 2, let setting = SensingSetting(rawValue: kv[0]), let v = Double(kv[1]) else {
                throw ValidationError("--sensing: '\(item)' is not SETTING=NUMBER with SETTING one of \(SensingSetting.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            do { try setting.check(v) } catch {
                throw ValidationError("--sensing \(setting.rawValue) must be \(setting.expected), got \(kv[1])")
            }
            return (setting, v)
        }
    }

    func run() throws {
        let choice = try RigChoice(parsing: rig)
        let sessionName = name ?? Self.defaultName()
        let path = out ?? "sessions/\(sessionName).sqlite"
        let rigSpeed: RigSpeed = max ? .max : .realTime(speed ?? 1)
        let built = try RigBuilder.build(choice, speed: rigSpeed, durationS: duration)
        var o = RecorderOptions(name: sessionName, outputPath: path, rigName: choice.name)
        o.operatorName = operatorName
        o.durationS = duration
        o.realTime = built.realTime
        // Faster than real time, the simulated and synthetic sources stop at the duration themselves.
        o.sourcesEndAtDuration = !built.realTime && built.rigFile == nil
        o.rigConfig = built.configText
        o.liveTapPath = live.map { String($0.dropFirst(5)) }
        try detection.apply(to: &o)
        if let rf = built.rigFile {
            o.stopRules = rf.stopRules
            if o.durationS == nil { o.durationS = rf.durationS }
        }
        // Everything that can be checked is checked before the session file exists.
        let initialSensing = try Self.parseSensing(sensing)
        let kinds = Set(built.sources.flatMap(\.streams).map(\.kind))
        for (setting, _) in initialSensing where !kinds.contains(setting.kind) {
            throw ValidationError("--sensing \(setting.rawValue): the rig \(choice.name) has no \(setting.kind.rawValue) stream")
        }
        let recorder = Recorder(sources: built.sources, options: o, logger: Logger(label: "trw.record"))
        var policy: SensingPolicyDriver?
        if let cmd = sensingPolicy {
            let p = SensingPolicyDriver(recorder: recorder, command: cmd, riskDetector: DetectorRegistry.make(sensingRisk)!)
            printErr("starting the sensing policy: \(cmd)")
            try p.launch()
            policy = p
        }
        try recorder.start()
        printErr("recording \(choice.name) into \(path)\(duration.map { " for \($0) s" } ?? " (Ctrl-C to stop)")")
        let signals = SignalStopper(recorder)
        let live = quiet ? nil : LiveTerminal(recorder: recorder, title: "trw record — \(sessionName) (\(choice.name)) -> \(path)",
                                              outputPath: path, interactive: true)
        // A failure after the file exists finalises the session as aborted with the reason.
        var startError: (any Error)?
        do {
            for (setting, v) in initialSensing { try recorder.applySensing(setting, v, origin: "cli", atNs: 0) }
            try policy?.start()
        } catch {
            startError = error
            recorder.abort(reason: "aborted at start: \(error)")
        }
        let result = recorder.wait()
        let policyReport = policy?.finish()
        live?.stop()
        signals.cancel()
        printErr("\(result.status.rawValue): \(path)\(result.detail.isEmpty ? "" : " — \(result.detail)")")
        print(try InfoReport.full(path: path))
        if let r = policyReport {
            print(String(format: "sensing policy: %d decisions, %d setting changes; energy %.1f %% of full sensing (cost model IR 1.0, AE 0.5, BMS 0.1 per 1-Hz tick); risk detector %@ first alarm %@",
                         r.decisions, r.changes, 100 * r.energyFraction, sensingRisk, r.firstAlarmS.map { String(format: "at %.0f s", $0) } ?? "none"))
            if let e = r.error { printErr("sensing policy error: \(e)") }
        }
        if let startError {
            printErr("error: \(startError)")
            throw ExitCode(1)
        }
        if result.status == .aborted { throw ExitCode(2) }
    }

    static func defaultName() -> String {
        let f = DateFormatter()
        f.dateFormat = "yyyyMMdd-HHmmss"
        f.timeZone = TimeZone(identifier: "UTC")
        return "run-" + f.string(from: Date())
    }
}

/// SIGINT / SIGTERM stop the recording cleanly (the session is finalized).
final class SignalStopper {
    let sources: [any DispatchSourceSignal]
    init(_ recorder: Recorder) {
        var list: [any DispatchSourceSignal] = []
        for sig in [SIGINT, SIGTERM] {
            signal(sig, SIG_IGN)
            let s = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            s.setEventHandler {
                printErr("\nstopping (signal \(sig)); finalizing the session...")
                recorder.stop()
            }
            s.resume()
            list.append(s)
        }
        sources = list
    }
    func cancel() {
        for s in sources { s.cancel() }
    }
}

