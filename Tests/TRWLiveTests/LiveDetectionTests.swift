import Foundation
import Testing
import Logging
import TRWAnalysis
import TRWCore
import TRWSimulator
import TRWStore
import TRWTestSupport
import TRWRecorder
@testable import TRWLive
@testable import TRWSession
import TRWRig

/// Detectors run during the recording on the live ticks: scores stored as a prediction run,
/// alarms as markers, and alarm actions carried out (the simulated supply switches off).
@Suite struct LiveDetectionTests {
    @Test func ventAlarmSwitchesTheSimulatedSupplyOff() throws {
        let dir = TemporaryDirectory()
        var so = SimulatedRig.Options()
        // As fast as the machine goes: nothing is dropped, and the simulation runs ahead of the
        // alarm by what the recorder's queues hold (the time to act is measured by `make bench`).
        so.pacing = .max
        so.irWidth = 32; so.irHeight = 24; so.aeRateHz = 48_000; so.durationCapS = 400
        let rig = SimulatedRig(scenario: try Scenario.named("demo"), options: so)
        var o = RecorderOptions(name: "det", outputPath: dir.file("det.sqlite"), rigName: "sim:demo")
        o.realTime = false
        var live = LiveOptions()
        live.detectors = ["ae_burst", "gb38031"]
        live.alarmK = 3
        live.alarmActions = [.supplyOff]
        live.stallS = 60
        let rec = Recorder(sources: [rig], options: o, observer: LiveRecording(options: live))
        try rec.start()
        let result = rec.wait()
        #expect(result.status == .complete)
        let r = try SessionReader(path: dir.file("det.sqlite"))
        let venting = try #require(try r.annotations().first { $0.label == "venting" }).startTNs
        // One prediction per tick and detector, in one live run.
        let preds = try r.predictions()
        let ticks = Int(Double(try #require(try r.session().endTNs)) / 1e9)
        for name in ["ae_burst", "gb38031"] {
            let p = preds.filter { $0.model == name }
            #expect(abs(p.count - ticks) <= 1, "\(name): \(p.count) predictions for \(ticks) ticks")
            #expect(Set(p.map(\.runId)).count == 1 && p.first?.runId.hasPrefix("live-") == true)
            #expect(p.allSatisfy { (0...1).contains($0.score) })
        }
        // The AE vent detector alarms after venting (3 ticks in a row), before any runaway.
        let firstAlarm = try #require(preds.filter { $0.model == "ae_burst" && $0.alarm }.map(\.tNs).min())
        #expect(firstAlarm > venting && firstAlarm < venting + 60_000_000_000, "alarm at \(firstAlarm), venting at \(venting)")
        let markers = try r.markers()
        #expect(markers.contains { $0.origin == "alarm" && $0.text.hasPrefix("ALARM ae_burst") && $0.tNs == firstAlarm })
        #expect(markers.contains { $0.origin == "alarm" && $0.text.contains("supply off: simulated supply output switched off") })
        // Physically honoured: after the alarm the charge current falls from 4 A to 0 and stays there.
        let bms = try r.bmsSamples(streamId: try #require(try r.streams(kind: .bms).first?.id))
        let before = bms.filter { $0.tNs < firstAlarm }.suffix(3).compactMap(\.currentA)
        #expect(before.count == 3 && before.allSatisfy { $0 > 3.5 }, "\(before)")
        let off = try #require(bms.first { $0.tNs > firstAlarm && abs($0.currentA ?? 4) < 0.05 }, "the current never fell; alarm \(firstAlarm), last sample \(bms.last.map { "\($0.tNs) \($0.currentA ?? .nan)" } ?? "-")")
        let after = bms.filter { $0.tNs >= off.tNs }.compactMap(\.currentA)
        #expect(after.allSatisfy { abs($0) < 0.05 }, "\(after.prefix(5))")
        #expect(result.detail.contains("live ae_burst: first alarm at t ="), "\(result.detail)")
    }

    @Test func badDetectorsAndActionsFailBeforeTheSessionExists() throws {
        let dir = TemporaryDirectory()
        var so = SyntheticSource.Options()
        so.durationS = 1
        for (detectors, actions, words) in [(["nonsense"], [AlarmAction](), "unknown detector 'nonsense'"),
                                            (["vdrop"], [.supplyOff], "no source of this rig can switch the supply off")] {
            var o = RecorderOptions(name: "bad", outputPath: dir.file("bad.sqlite"), rigName: "synthetic")
            var live = LiveOptions()
            live.detectors = detectors
            live.alarmActions = actions
            let rec = Recorder(sources: [SyntheticSource(options: so)], options: o, observer: LiveRecording(options: live))
            #expect { try rec.start() } throws: { "\($0)".contains(words) }
            #expect(!FileManager.default.fileExists(atPath: dir.file("bad.sqlite")), "no session file for \(detectors) \(actions)")
        }
        #expect(throws: LiveError.self) { try AlarmAction.parse("stop,supply_of") }
        #expect(try AlarmAction.parse("stop, supply-off,stop") == [.stop, .supplyOff])
        #expect(try AlarmAction.parse("supply-off,exec:notify-lab --room 3, --urgent") == [.supplyOff, .exec("notify-lab --room 3, --urgent")])
        #expect(throws: LiveError.self) { try AlarmAction.parse("stop,exec:") }
    }
}

/// A model-backed detector gone wrong: NaN, then 7, then valid scores.
private struct BrokenDetector: OnlineDetector {
    var name: String { "broken" }
    var parameters: [String: Double] { [:] }
    var k = 0
    mutating func step(t: Double, features f: [String: Double]) -> Double {
        k += 1
        return k == 1 ? .nan : k == 2 ? 7 : 0.9
    }
}

private final class Batches: @unchecked Sendable {
    let lock = NSLock()
    var all: [WriteBatch] = []
    func add(_ b: WriteBatch) { lock.withLock { all.append(b) } }
}

@Suite struct LiveDetectionScoreTests {
    @Test func invalidScoresAreStoredAsZeroCountedAndAGap() {
        let batches = Batches()
        let d = LiveDetection(detectors: [("broken", BrokenDetector())], alarmK: 1, actions: [], runId: "live-t",
                              logger: Logger(label: "test"), write: { batches.add($0) }, act: { _, _, _ in })
        for k in 0..<4 { d.tick(k: k, endNs: Int64(k + 1) * 1_000_000_000, names: ["voltage_v"], row: [4.0]) }
        let preds = batches.all.flatMap(\.predictions)
        #expect(preds.map(\.score) == [0, 0, 0.9, 0.9])
        #expect(preds.map(\.alarm) == [false, false, true, true], "an invalid score never raises an alarm")
        #expect(batches.all.flatMap(\.markers).count == 1)
        let st = d.status[0]
        #expect(st.invalidScores == 2 && st.firstInvalidS == 1)
        let gaps = d.failureGaps()
        #expect(gaps.count == 1 && gaps[0].kind == "detector_failure" && gaps[0].lostCount == 2)
        #expect(gaps[0].detail.contains("2 scores outside [0, 1]"))
    }

}

/// The alarm actions other than the simulated supply (tested above).
@Suite struct AlarmActionTests {
    /// `--on-alarm exec:COMMAND`: the command sees the alarm in its environment; its outcome,
    /// a failure and a hang (terminated at the bound) included, is what the marker says.
    @Test func execAlarmActionsSeeTheAlarmAndAreBounded() throws {
        let dir = TemporaryDirectory()
        let env = AlarmAction.environment(detector: "vdrop", tNs: 451_250_000_000, score: 0.93, session: "demo", sessionPath: "/s/demo.sqlite")
        let out = dir.file("alarm.txt")
        let ok = LiveRecording.runAlarmCommand("echo \"$TRW_ALARM_DETECTOR $TRW_ALARM_T_S $TRW_ALARM_SCORE $TRW_SESSION $TRW_SESSION_PATH\" > '\(out)'; echo chatter",
                                               environment: env, timeoutS: 10)
        #expect(ok.ok && ok.note.hasPrefix("exec 'echo") && ok.note.contains("exit status 0"), "\(ok.note)")
        #expect(try String(contentsOfFile: out, encoding: .utf8) == "vdrop 451.250 0.9300 demo /s/demo.sqlite\n")
        let failed = LiveRecording.runAlarmCommand("exit 3", environment: env, timeoutS: 10)
        #expect(!failed.ok && failed.note.contains("exec FAILED 'exit 3': exit status 3"), "\(failed.note)")
        let t0 = Date()
        let hung = LiveRecording.runAlarmCommand("sleep 60", environment: env, timeoutS: 0.5)
        #expect(!hung.ok && hung.note.contains("terminated with SIGTERM"), "\(hung.note)")
        #expect(Date().timeIntervalSince(t0) < 5)
    }
}

/// The rig file's [alarm] section fills in what the command line leaves out.
@Suite struct RigAlarmMergeTests {
    let section = RigFile.RigAlarm(detectors: ["vdrop", "ae_burst"], actions: ["supply-off", "exec:notify-lab"], alarmK: 5, line: 12)

    @Test func rigDetectorsAndActionsApplyWhenTheCommandLineHasNone() throws {
        var live = LiveOptions()
        try RecordingSession.applyRigAlarm(section, file: "lab.toml", to: &live)
        #expect(live.detectors == ["vdrop", "ae_burst"] && live.alarmK == 5)
        #expect(live.alarmActions == [.supplyOff, .exec("notify-lab")])
    }

    @Test func theCommandLineWins() throws {
        var live = LiveOptions()
        live.detectors = ["gb38031"]
        live.alarmK = 2
        live.alarmActions = [.stop]
        try RecordingSession.applyRigAlarm(section, file: "lab.toml", to: &live)
        #expect(live.detectors == ["gb38031"] && live.alarmK == 2 && live.alarmActions == [.stop])
    }

    @Test func unknownNamesNameTheFileAndLine() {
        var live = LiveOptions()
        var bad = section
        bad.detectors = ["vdorp"]
        #expect { try RecordingSession.applyRigAlarm(bad, file: "lab.toml", to: &live) } throws: {
            "\($0)".contains("lab.toml:12 [alarm] detect: unknown live detector 'vdorp'")
        }
        bad = section
        bad.actions = ["supply_off"]
        #expect { try RecordingSession.applyRigAlarm(bad, file: "lab.toml", to: &live) } throws: {
            "\($0)".contains("lab.toml:12 [alarm] on_alarm: unknown alarm action 'supply_off'")
        }
    }
}
