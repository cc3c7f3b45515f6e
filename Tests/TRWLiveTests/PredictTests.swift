import Foundation
import Testing
import TRWAnalysis
import TRWStore
import TRWSessionFixtures
import TRWTestSupport
@testable import TRWLive
import TRWDatasets

@Suite struct PredictTests {
    /// An external detector is fed in lockstep: when it answers tick k it has
    /// seen no later tick. The script answers with the largest t it has seen.
    @Test func externalDetectorNeverSeesTheFuture() throws {
        let dir = TemporaryDirectory()
        let path = try syntheticSession(dir, seconds: 6)
        try SessionWriter(appendingTo: path).addAnnotation(AnnotationRecord(label: "runaway_onset", startTNs: 3_000_000_000, author: "t", method: "manual"))
        let script = dir.file("det.py")
        try """
        import sys, json
        seen = -1.0
        for line in sys.stdin:
            e = json.loads(line)
            if e["type"] == "label":
                print(json.dumps({"t": -1, "score": 0}), flush=True)  # must never happen
            if "t" in e and e["type"] != "session":
                seen = max(seen, e["t"])
            if e["type"] == "tick":
                print(json.dumps({"t": e["t"], "score": 0.9 if seen <= e["t"] else 0.0, "seen": seen}), flush=True)
        """.write(toFile: script, atomically: true, encoding: .utf8)
        var o = ReplayOptions()
        o.includeLabels = false
        o.features.rateHz = 2
        let events = try ReplayBuilder.events(try SessionReader(path: path), options: o)
        let run = try Predictor.runExternal(command: "python3 \(script)", events: events, alarm: AlarmRule(), runId: "t")
        #expect(run.scores.count == 12)
        #expect(run.scores.allSatisfy { $0 == 0.9 }, "the detector saw a later event than the tick it scored")
        #expect(run.tS == (1...12).map { Double($0) * 0.5 })
        try Predictor.store(run, in: path)
        let stored = try SessionReader(path: path).predictions()
        #expect(stored.count == 12 && stored.allSatisfy { $0.latencyNs ?? -1 >= 0 && $0.alarm })
    }

    @Test func badExternalAnswerIsAClearError() throws {
        let dir = TemporaryDirectory()
        let path = try syntheticSession(dir, seconds: 2)
        let events = try ReplayBuilder.events(try SessionReader(path: path))
        let run = try Predictor.runExternal(command: "while read l; do echo nonsense; done", events: events, alarm: AlarmRule(), runId: "t")
        #expect(run.scores.isEmpty, "accepted a nonsense answer")
        let f = try #require(run.failure)
        #expect(f.contains("nonsense") && f.contains("expected") && f.contains("tick t = 1 s"), "\(f)")
    }

    @Test func builtInDetectorsOnSyntheticRun() throws {
        let dir = TemporaryDirectory()
        let path = try syntheticSession(dir, seconds: 4)
        let table = try FeatureExtractor.extract(try SessionReader(path: path))
        let run = try Predictor.runBuiltIn("gb38031", table: table, alarm: AlarmRule(), runId: "x")
        #expect(run.scores.count == 4 && run.alarmTimesS.isEmpty)  // slow synthetic heating is not runaway
        #expect(throws: PredictError.self) { _ = try Predictor.runBuiltIn("nope", table: table, alarm: AlarmRule(), runId: "x") }
    }
}
