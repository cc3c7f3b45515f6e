import ArgumentParser
import Dispatch
import Foundation
import Logging
import TRWCore
import TRWIO
import TRWAnalysis
import TRWRecorder
import TRWStore
import TRWRig
import TRWLive
import TRWFigures
import TRWSession

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

    @OptionGroup(title: "Pace (simulated and synthetic rigs; default: real time)") var pacing: PacingOptions

    @Flag(name: .long, help: "No progress lines.")
    var quiet = false

    @OptionGroup var detection: LiveDetectionOptions

    @Option(name: .long, help: "Publish the live JSON Lines stream (as trw replay) on unix:PATH for online predictors.")
    var live: String?

    @Option(name: .long, help: "Initial sensing settings, e.g. ir_fps=5,ae_threshold_db=50,bms_hz=1 (recorded as sensing events).")
    var sensing: String?

    @Option(name: .long, help: "A sensing policy program driving ir_fps, ae_threshold_db, bms_hz once per second (e.g. 'python3 -m trw_models mm-policy runs/mm'; protocol in docs/multimodal.md).")
    var sensingPolicy: String?

    @Option(name: .long, help: "Detector whose score the sensing policy gets as risk: \(DetectorRegistry.builtIn.joined(separator: ", ")) or dplstm:MODEL_DIR (any live detector).")
    var sensingRisk: String = "dtdt"

    func validate() throws {
        try OptionCheck.number(duration, "--duration", OptionCheck.durationRange, openLower: true, unit: "seconds")
        _ = try RigChoice(parsing: rig)
        if let l = live {
            guard l.hasPrefix("unix:") else { throw ValidationError("--live expects unix:PATH, got '\(l)'") }
            // Before the session file exists: the directory must exist and be writable, and PATH be
            // absent or a stale socket (any other file is refused, never deleted).
            do { try UnixSocketPath.check(String(l.dropFirst(5))) } catch { throw ValidationError("--live: \(error)") }
        }
        if let n = name, n.isEmpty || n.contains("/") { throw ValidationError("--name must be a plain name without '/', got '\(n)'") }
        do { _ = try SensingChoice.parseList(sensing ?? "") } catch { throw ValidationError("\(error)") }
        if sensingPolicy != nil && (!DetectorRegistry.isKnown(sensingRisk) || sensingRisk.hasPrefix("exec:")) {
            throw ValidationError("\(RecordingSessionError.unknownRiskDetector("'\(sensingRisk)': not a live detector"))")
        }
    }

    /// The plan from the options (every value is range-checked in `validate()`).
    func plan() throws -> RecordingPlan {
        let sessionName = name ?? Self.defaultName()
        var p = RecordingPlan(name: sessionName, outputPath: out ?? "sessions/\(sessionName).sqlite")
        p.operatorName = operatorName
        p.durationS = duration
        p.live.tapPath = live.map { String($0.dropFirst(5)) }
        try detection.apply(to: &p.live)
        p.initialSensing = try SensingChoice.parseList(sensing ?? "")
        p.sensingPolicy = sensingPolicy
        p.sensingRisk = sensingRisk
        return p
    }

    func run() throws {
        let choice = try RigChoice(parsing: rig)
        let plan = try plan()
        let speed: RigSpeed = pacing.pace(default: .times(1)).factor.map { .realTime($0) } ?? .max
        let session = try RecordingSession(choice: choice, speed: speed, plan: plan, logger: Logger(label: "trw.record"))
        if let cmd = plan.sensingPolicy { printErr("starting the sensing policy: \(cmd)") }
        try session.start()
        let path = plan.outputPath
        printErr("recording \(choice.name) into \(path)\(duration.map { " for \($0) s" } ?? " (Ctrl-C to stop)")")
        let signals = SignalStopper(session.recorder)
        let terminal = quiet ? nil : LiveTerminal(recorder: session.recorder, title: "trw record — \(plan.name) (\(choice.name)) -> \(path)",
                                                  outputPath: path, interactive: true)
        let end = session.wait()
        terminal?.stop()
        signals.cancel()
        let result = end.recording
        printErr("\(result.status.rawValue): \(path)\(result.detail.isEmpty ? "" : " — \(result.detail)")")
        print(try InfoReport.full(path: path))
        if let r = end.policy {
            print(String(format: "sensing policy: %d decisions, %d setting changes; energy %.1f %% of full sensing (cost model IR 1.0, AE 0.5, BMS 0.1 per 1-Hz tick); risk detector %@ first alarm %@",
                         r.decisions, r.changes, 100 * r.energyFraction, sensingRisk, r.firstAlarmS.map { String(format: "at %.0f s", $0) } ?? "none"))
            if let e = r.error { printErr("sensing policy error: \(e)") }
        }
        if let e = end.startError {
            printErr("error: \(e)")
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

