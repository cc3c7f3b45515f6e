import Foundation
import Testing
import TRWAnalysis
import TRWIO
import TRWStore
import TRWSessionFixtures
import TRWTestSupport
@testable import TRWLive
import TRWDatasets

/// External detectors that hang, answer garbage or out-of-range scores, or do not exit:
/// every case ends within a generous bound, keeps the scores received before the failure
/// and names the tick.
@Suite struct PredictFaultTests {
    static var fast: ExternalDetectorLimits {
        var l = ExternalDetectorLimits()
        l.answerTimeoutS = 0.5
        l.startupTimeoutS = 20
        l.exitTimeoutS = 0.3
        l.killGraceS = 0.3
        return l
    }

    static func events(_ dir: TemporaryDirectory, seconds: Double = 5) throws -> (path: String, events: [ReplayEvent]) {
        let path = try syntheticSession(dir, seconds: seconds)
        var o = ReplayOptions()
        o.includeLabels = false
        return (path, try ReplayBuilder.events(try SessionReader(path: path), options: o))
    }

    static func timed<T>(_ body: () throws -> T) rethrows -> (T, Double) {
        let t0 = Deadline.now()
        let r = try body()
        return (r, Double(Deadline.now() - t0) / 1e9)
    }

    /// A python detector answering with `answer(k, t)` for tick k (1-based).
    static func script(_ dir: TemporaryDirectory, _ name: String, answer: String, after: String = "") throws -> String {
        let p = dir.file(name)
        try """
        import json, sys
        k = 0
        for line in sys.stdin:
            e = json.loads(line)
            if e["type"] != "tick":
                continue
            k += 1
            t = e["t"]
            sys.stdout.write(\(answer) + "\\n")
            sys.stdout.flush()
        \(after)
        """.write(toFile: p, atomically: true, encoding: .utf8)
        return "python3 " + p
    }

    /// `exec:sleep 100000` hung forever before; now the first answer's deadline ends it.
    @Test func hungDetectorIsBounded() throws {
        let dir = TemporaryDirectory()
        let (path, ev) = try Self.events(dir)
        var limits = Self.fast
        limits.startupTimeoutS = 0.5
        let (run, s) = try Self.timed { try Predictor.runExternal(command: "sleep 100000", events: ev, alarm: AlarmRule(), runId: "h", limits: limits) }
        #expect(s < 15, "a 0.5 s startup deadline took \(s) s")
        #expect(run.scores.isEmpty)
        let f = try #require(run.failure)
        #expect(f.contains("tick t = 1 s") && f.contains("no answer within 0.5 s"), "\(f)")
        #expect(run.exit?.ending == .terminated)
        try Predictor.store(run, in: path)
        let gaps = try SessionReader(path: path).gaps().filter { $0.kind == "detector_failure" }
        #expect(gaps.count == 1 && gaps.first?.lostCount == 5 && gaps.first?.startTNs == 1_000_000_000, "\(gaps)")
    }

    /// A detector that hangs after two answers: the two scores are kept and stored.
    @Test func scoresBeforeAHangAreStored() throws {
        let dir = TemporaryDirectory()
        let (path, ev) = try Self.events(dir)
        let cmd = try Self.script(dir, "d.py", answer: #"(json.dumps({"t": t, "score": 0.25}) if k <= 2 else __import__("time").sleep(100000))"#)
        let (run, s) = try Self.timed { try Predictor.runExternal(command: cmd, events: ev, alarm: AlarmRule(), runId: "r", limits: Self.fast) }
        #expect(s < 30)
        #expect(run.scores == [0.25, 0.25] && run.tS == [1, 2])
        #expect(run.failure?.contains("tick t = 3 s (3 of 5)") == true, "\(String(describing: run.failure))")
        try Predictor.store(run, in: path)
        let r = try SessionReader(path: path)
        #expect(try r.predictions().map(\.score) == [0.25, 0.25])
        let gap = try #require(try r.gaps().first { $0.kind == "detector_failure" })
        #expect(gap.lostCount == 3 && gap.detail.contains("run r"))
    }

    /// Answers every tick, then ignores end of input (and SIGTERM): all scores are kept
    /// (storing no longer waits for the exit), the detector is killed, and a note says so.
    @Test func detectorThatDoesNotExitKeepsAllScores() throws {
        let dir = TemporaryDirectory()
        let (path, ev) = try Self.events(dir)
        let cmd = try Self.script(dir, "d.py", answer: #"json.dumps({"t": t, "score": 0.75})"#,
                                  after: "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nwhile True: time.sleep(1)")
        let (run, s) = try Self.timed { try Predictor.runExternal(command: cmd, events: ev, alarm: AlarmRule(), runId: "n", limits: Self.fast) }
        #expect(s < 30, "0.3 s to exit + 0.3 s grace took \(s) s")
        #expect(run.failure == nil && run.scores.count == 5)
        #expect(run.exit.map { $0.ending != .onItsOwn } == true, "\(String(describing: run.exit))")
        #expect(run.exitNote?.contains("did not exit") == true)
        try Predictor.store(run, in: path)
        #expect(try SessionReader(path: path).predictions().count == 5)
    }

    @Test(arguments: [
        (#"json.dumps({"t": t, "score": 7})"#, "score 7.0, outside [0, 1]"),
        (#"json.dumps({"t": t, "score": -1})"#, "score -1.0, outside [0, 1]"),
        (#"json.dumps({"t": t, "score": 1e400})"#, "a score that is not finite"),
        (#"'{"t": %s, "score": NaN}' % t"#, "a score that is not finite; expected {\"t\": 3, \"score\": S}"),
        (#"'{"t": %s, "score": "high"}' % t"#, "without a numeric score"),
        (#"'<html>'"#, "answered '<html>'"),
        (#"json.dumps({"t": t + 1, "score": 0.5})"#, "answered for t = 4 s instead"),
    ])
    func badAnswerAtTheThirdTickIsRejectedNamingIt(answer: String, message: String) throws {
        let dir = TemporaryDirectory()
        let (path, ev) = try Self.events(dir)
        let cmd = try Self.script(dir, "d.py", answer: #"(json.dumps({"t": t, "score": 0.5}) if k < 3 else "# + answer + ")")
        let (run, s) = try Self.timed { try Predictor.runExternal(command: cmd, events: ev, alarm: AlarmRule(), runId: "b", limits: Self.fast) }
        #expect(s < 30)
        #expect(run.scores == [0.5, 0.5], "only the two good scores are kept")
        let f = try #require(run.failure)
        #expect(f.contains("tick t = 3 s") && f.contains(message), "\(f)")
        try Predictor.store(run, in: path)
        let r = try SessionReader(path: path)
        #expect(try r.predictions().allSatisfy { (0...1).contains($0.score) } && r.predictions().count == 2)
        #expect(try r.gaps().filter { $0.kind == "detector_failure" }.map(\.lostCount) == [3])
    }

    /// A 50 MB answer line took 87 s before; now it is an error at the 1 MiB bound.
    @Test func fiftyMegabyteAnswerIsAnError() throws {
        let dir = TemporaryDirectory()
        let (_, ev) = try Self.events(dir)
        let (run, s) = try Self.timed {
            try Predictor.runExternal(command: "read l; head -c 50000000 /dev/zero | tr '\\0' 7; echo", events: ev, alarm: AlarmRule(), runId: "l", limits: Self.fast)
        }
        #expect(s < 60)
        let f = try #require(run.failure)
        #expect(f.contains("longer than 1048576 bytes") && f.contains("tick t = 1 s"), "\(f)")
    }

    /// `trw score --detectors exec:` goes the same way: bounded, failures listed.
    @Test func scoreWithAHungDetectorIsBounded() throws {
        let dir = TemporaryDirectory()
        let path = try syntheticSession(dir, seconds: 3)
        var o = ScoreOptions()
        o.detectors = ["dtdt", "exec:sleep 100000"]
        o.externalLimits = Self.fast
        o.externalLimits.startupTimeoutS = 0.5
        let (report, s) = try Self.timed { try ScoreReport.run(sessions: [path], options: o) }
        #expect(s < 30)
        #expect(report.failures.count == 1 && report.failures[0].contains("sleep 100000"))
        #expect(report.table.contains("FAILED"))
    }
}
