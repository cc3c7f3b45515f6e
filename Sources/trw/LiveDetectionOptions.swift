import ArgumentParser
import TRWAnalysis
import TRWRecorder
import TRWLive

/// Live detection while recording (`trw record`, `trw simulate`).
struct LiveDetectionOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(
        "Detectors to run live on the recording's ticks, comma-separated: \(DetectorRegistry.builtIn.joined(separator: ", ")), dplstm:MODEL_DIR.",
        discussion: "Scores and alarms are stored in the session as a prediction run 'live-<start time>'; every alarm is a marker and is shown on the dashboard."))
    var detect: String?

    @Option(name: .long, help: "Consecutive 1 s ticks with a score above 0.5 before an alarm rises (1...3600).")
    var alarmK: Int = 3

    @Option(name: .long, help: ArgumentHelp(
        "What an alarm does besides its marker: stop, supply-off, exec:COMMAND (comma-separated, exec last).",
        discussion: """
            supply-off needs a rig that controls the supply: the simulated rig, or a SCPI supply whose rig file gives \
            output_off commands (schemas/rig.md). exec:COMMAND runs /bin/sh -c COMMAND with TRW_ALARM_DETECTOR, \
            TRW_ALARM_T_S, TRW_ALARM_SCORE, TRW_SESSION and TRW_SESSION_PATH set, for at most \(Int(AlarmAction.execTimeoutS)) s; \
            every outcome is a marker in the session.
            """))
    var onAlarm: String?

    var detectors: [String] {
        (detect ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    func validate() throws {
        if detect != nil && detectors.isEmpty { throw ValidationError("--detect: give at least one detector, e.g. --detect gb38031,vdrop") }
        for d in detectors {
            if d.hasPrefix("exec:") {
                throw ValidationError("--detect \(d): external detectors run on finished sessions (trw predict); live: \(DetectorRegistry.builtIn.joined(separator: ", ")), dplstm:MODEL_DIR")
            }
            guard DetectorRegistry.isKnown(d) else {
                throw ValidationError("--detect: unknown detector '\(d)'; live detectors: \(DetectorRegistry.builtIn.joined(separator: ", ")), dplstm:MODEL_DIR")
            }
            if Set(detectors).count != detectors.count { throw ValidationError("--detect names '\(d)' twice") }
        }
        try OptionCheck.integer(alarmK, "--alarm-k", 1...3600, unit: "ticks")
        do { _ = try AlarmAction.parse(onAlarm ?? "") } catch { throw ValidationError("--on-alarm: \(error)") }
        if onAlarm != nil && detectors.isEmpty { throw ValidationError("--on-alarm needs --detect (the detectors whose alarms act)") }
    }

    func apply(to o: inout LiveOptions) throws {
        o.detectors = detectors
        o.alarmK = alarmK
        o.alarmActions = try AlarmAction.parse(onAlarm ?? "")
    }
}
