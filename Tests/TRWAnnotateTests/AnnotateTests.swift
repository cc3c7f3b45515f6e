import Foundation
import Logging
import Testing
import TRWAnalysis
import TRWCore
import TRWRecorder
import TRWSimulator
@testable import TRWStore
import TRWTestSupport
@testable import TRWAnnotate

/// A simulated run recorded in-process with small sensors (IR 32x24 at 2 Hz, AE 48 kHz).
func simulatedSession(_ dir: TemporaryDirectory, _ scenario: String, durationS: Double? = nil) throws -> String {
    let sc = try Scenario.named(scenario)
    var o = SimulatedRig.Options()
    o.pacing = .max
    o.irFPS = 2; o.irWidth = 32; o.irHeight = 24; o.aeRateHz = 48_000
    o.durationCapS = durationS
    var ro = RecorderOptions(name: sc.name, outputPath: dir.file("\(scenario).sqlite"), rigName: "sim:\(scenario)")
    ro.realTime = false
    let rec = Recorder(sources: [SimulatedRig(scenario: sc, options: o)], options: ro, logger: Logger(label: "test"))
    try rec.start()
    _ = rec.wait()
    return ro.outputPath
}

/// One simulated runaway (the demo scenario) shared by the tests below.
let demoSession: Result<(TemporaryDirectory, String), any Error> = Result {
    let d = TemporaryDirectory("trw-annotate")
    return (d, try simulatedSession(d, "demo"))
}

func truth(_ r: SessionReader, _ label: String) throws -> Double? {
    try r.annotations().first { $0.label == label && $0.method == "simulator_ground_truth" }.map { Double($0.startTNs) / 1e9 }
}

@Suite(.serialized) struct SuggestionTests {
    /// Tolerances (stated in docs/annotation.md): GB 38031 within 2 s of the simulator's GB 38031
    /// onset (same criterion on the IR maximum instead of the true cell maximum); dT/dt and voltage
    /// drop from 60 s before the true self-heating onset to 5 s after the runaway onset; the AE
    /// burst within 30 s of venting; self-heating before its true (abuse-reaction) onset.
    @Test func suggestionsOnASimulatedRunawayMatchTheGroundTruth() throws {
        let (_, path) = try demoSession.get()
        let r = try SessionReader(path: path)
        let onset = try #require(try truth(r, "runaway_onset"))
        let vent = try #require(try truth(r, "venting"))
        let sh = try #require(try truth(r, "self_heating_onset"))
        let s = try SuggestionEngine.suggest(r)
        func first(_ d: String) throws -> Suggestion { try #require(s.first { $0.detector == d }, "no \(d) suggestion in \(s)") }
        #expect(abs(try first("gb38031").tS - onset) <= 2)
        // With the calibrated overcharge physics (docs/simulator.md) the cell's rise to runaway is
        // gradual and its voltage eases from its crest as it heats: dT/dt and the voltage drop are
        // early rules that fire between the true self-heating and the onset, not at the onset.
        for d in ["dtdt", "vdrop"] {
            let x = try first(d)
            #expect(x.tS >= sh - 60 && x.tS <= onset + 5, "\(d) at \(x.tS), self-heating \(sh), onset \(onset)")
            #expect(x.label == "runaway_onset")
        }
        let v = try first("ae_burst")
        #expect(v.label == "venting" && abs(v.tS - vent) <= 30, "AE burst at \(v.tS), venting \(vent)")
        // The heat-balance detector sees all heat from inside the cell; the ground truth counts
        // the abuse reactions only (ARC's definition), not the heat of electrolyte oxidation and
        // lithium plating that an overcharge adds first. So it fires earlier, never after the onset.
        let h = try first("self_heating")
        #expect(h.label == "self_heating_onset" && h.tS < sh && h.tS < onset, "self-heating at \(h.tS): truth \(sh), onset \(onset)")
        for x in s { #expect(x.detectedS >= x.tS, "\(x.detector) confirmed before its event") }
    }

    /// No detector proposes anything on negative controls: a mild overcharge stopped in time and a
    /// chamber heated to 70 degC with no current.
    @Test(arguments: [("control_mild_overcharge_stopped", 1500.0), ("control_ambient_heating", 1500.0)])
    func noSuggestionOnNegativeControls(scenario: String, seconds: Double) throws {
        let d = TemporaryDirectory("trw-annotate")
        let path = try simulatedSession(d, scenario, durationS: seconds)
        let s = try SuggestionEngine.suggest(try SessionReader(path: path))
        #expect(s.isEmpty, "\(scenario): \(s.map { "\($0.detector) \($0.label) at \($0.tS)" })")
    }
}

@Suite(.serialized) struct AnnotateModelTests {
    func model(_ path: String, author: String = "ana") throws -> AnnotateModel {
        let m = try AnnotateModel(reader: try SessionReader(path: path), author: author)
        _ = AnnotateScreen(color: false).render(m, width: 80, height: 24)
        return m
    }

    func copyOfDemo() throws -> (TemporaryDirectory, String) {
        let (_, src) = try demoSession.get()
        let d = TemporaryDirectory("trw-annotate")
        for ext in ["", "-wal"] where FileManager.default.fileExists(atPath: src + ext) {
            try FileManager.default.copyItem(atPath: src + ext, toPath: d.file("s.sqlite" + ext))
        }
        return (d, d.file("s.sqlite"))
    }

    @Test func keysZoomMoveAndPlaceThenSaveKeepsHistory() throws {
        let (tmp, path) = try copyOfDemo()
        defer { withExtendedLifetime(tmp) {} }
        let m = try model(path)
        let whole = m.viewTo - m.viewFrom
        try m.handle(.char("+"))
        try m.handle(.char("+"))
        #expect(abs((m.viewTo - m.viewFrom) - whole / 4) < 1e-6)
        let c0 = m.cursor
        try m.handle(.right)
        #expect(m.cursor > c0)
        for ch in "g450\r" { try m.handle(ch == "\r" ? .enter : .char(ch)) }
        #expect(abs(m.cursor - 450) < 1e-9)
        try m.handle(.char("o"))
        #expect(m.unsavedChanges == 1)
        try m.handle(.char("u"))
        #expect(m.unsavedChanges == 0)
        try m.handle(.char("o"))
        try m.handle(.char("w"))
        #expect(m.unsavedChanges == 0)
        let r = try SessionReader(path: path)
        let onset = try #require(try r.annotations(set: "ana").first { $0.label == "runaway_onset" })
        #expect(onset.startTNs == 450_000_000_000 && onset.author == "ana" && onset.method == "manual")
        // Move it: the edit supersedes the stored row, which stays in the history.
        let m2 = try model(path)
        for ch in "g452.5\r" { try m2.handle(ch == "\r" ? .enter : .char(ch)) }
        // Back to the label at 450 s: N visits every label, marker and suggestion on the way.
        for _ in 0..<m2.items.count where abs(m2.cursor - 450) > 1e-6 { try m2.handle(.char("N")) }
        #expect(abs(m2.cursor - 450) < 1e-6)
        for ch in "g452.5\r" { try m2.handle(ch == "\r" ? .enter : .char(ch)) }
        try m2.handle(.char("m"))
        try m2.handle(.char("w"))
        let cur = try r.annotations(set: "ana")
        #expect(cur.count == 1 && cur[0].startTNs == 452_500_000_000 && cur[0].supersedesId == onset.id)
        let hist = try r.annotations(includeHistory: true, set: "ana")
        #expect(hist.count == 2 && hist[0].startTNs == 450_000_000_000)
        // Delete: a deletion row; the label is gone from the current view only.
        let m3 = try model(path)
        m3.cursor = 452.5
        try m3.handle(.char("d"))
        try m3.handle(.char("w"))
        #expect(try r.annotations(set: "ana").isEmpty)
        #expect(try r.annotations(includeHistory: true, set: "ana").count == 3)
        // The simulator's labels (their own set) were never touched.
        #expect(try r.annotations(set: "trw-sim").count == 3)
    }

    /// Issue 17: two onsets in one set were saved. A save with a refused label writes nothing
    /// and says why; W saves anyway and the history keeps what was overridden.
    @Test func secondOnsetIsRefusedOnSaveUnlessForced() throws {
        let (tmp, path) = try copyOfDemo()
        defer { withExtendedLifetime(tmp) {} }
        let m = try model(path)
        m.cursor = 300
        try m.handle(.char("o"))
        m.cursor = 320
        try m.handle(.char("o"))
        try m.handle(.char("v"))
        try m.handle(.char("w"))
        #expect(m.status.hasPrefix("not saved: set 'ana' already has runaway_onset at 300.000 s"), "\(m.status)")
        #expect(m.unsavedChanges == 3)
        #expect(try SessionReader(path: path).annotations(includeHistory: true, set: "ana").isEmpty, "nothing of the save written")
        // A custom name typed at `c` is stored as a declared custom kind.
        for ch in "csmoke_seen\r" { try m.handle(ch == "\r" ? .enter : .char(ch)) }
        try m.handle(.char("W"))
        #expect(m.unsavedChanges == 0, "\(m.status)")
        let saved = try SessionReader(path: path).annotations(set: "ana")
        #expect(saved.map(\.label).sorted() == ["custom:smoke_seen", "runaway_onset", "runaway_onset", "venting"])
        #expect(saved.filter { !$0.forced.isEmpty }.count == 1)
    }

    @Test func acceptingASuggestionRecordsDetectorAndParameters() throws {
        let (tmp, path) = try copyOfDemo()
        defer { withExtendedLifetime(tmp) {} }
        let m = try model(path)
        let gb = try #require(m.suggestions.first { $0.detector == "gb38031" })
        m.cursor = 0
        for _ in 0..<m.items.count where abs(m.cursor - gb.tS) > 1e-9 { try m.handle(.char("n")) }
        #expect(abs(m.cursor - gb.tS) < 1e-9, "n never reached the GB 38031 suggestion")
        try m.handle(.char("a"))
        try m.handle(.char("w"))
        let l = try #require(try SessionReader(path: path).annotations(set: "ana").first)
        #expect(l.method == "detector:gb38031" && l.label == "runaway_onset")
        let p = try #require(try JSONSerialization.jsonObject(with: Data(l.parametersJson.utf8)) as? [String: Any])
        #expect(p["rate_c_per_s"] as? Double == 1 && p["hold_s"] as? Double == 3 && p["detected_s"] != nil)
    }

    @Test func excludeIntervalsAndQuitGuard() throws {
        let (tmp, path) = try copyOfDemo()
        defer { withExtendedLifetime(tmp) {} }
        let m = try model(path)
        m.cursor = 100
        try m.handle(.char("x"))
        m.cursor = 120
        try m.handle(.char("x"))
        #expect(try m.handle(.char("q")) == .keepGoing)  // unsaved: asks again
        try m.handle(.char("w"))
        #expect(try m.handle(.char("q")) == .quit)
        let e = try #require(try SessionReader(path: path).annotations(set: "ana").first)
        #expect(e.label == "exclude" && e.startTNs == 100_000_000_000 && e.endTNs == 120_000_000_000)
    }

    @Test func rendersEightyByTwentyFourWithEveryPanelAndTheFrame() throws {
        let (_, path) = try demoSession.get()
        let m = try AnnotateModel(reader: try SessionReader(path: path), author: "ana")
        m.cursor = 455
        let lines = AnnotateScreen(color: false).render(m, width: 80, height: 24)
        #expect(lines.count == 24)
        for l in lines { #expect(l.count <= 80, "too wide: \(l)") }
        let text = lines.joined(separator: "\n")
        for p in ["IR °C", "cell °C", "U V", "I A", "AE /s", "IR 45", "hotspot", "t 455.000 s"] { #expect(text.contains(p), "missing \(p)") }
        // Braille plot cells exist, and the colour version has escape codes and half-blocks.
        #expect(text.unicodeScalars.contains { (0x2801...0x28FF).contains($0.value) })
        let colored = AnnotateScreen(color: true).render(m, width: 120, height: 40).joined()
        #expect(colored.contains("\u{1B}[") && colored.contains("▀"))
    }

    /// Issue 22: the go-to prompt (about 130 characters) hid what was typed at 80 columns.
    @Test(arguments: [80, 120]) func typedTextStaysVisible(width: Int) throws {
        let (_, path) = try demoSession.get()
        let m = try AnnotateModel(reader: try SessionReader(path: path), author: "ana")
        try m.handle(.char("g"))
        for c in "marker:vent+12.5" { try m.handle(.char(c)) }
        var lines = AnnotateScreen(color: false).render(m, width: width, height: 24)
        #expect(lines[22].contains("go to: marker:vent+12.5▏"), "\(lines[22])")
        #expect(lines[23].contains("seconds (452.3)") && lines.allSatisfy { $0.count <= width })
        // Longer than the line: its end (where the cursor is) stays in view.
        for _ in 0..<40 { for c in "1234" { try m.handle(.char(c)) } }
        lines = AnnotateScreen(color: false).render(m, width: width, height: 24)
        #expect(lines[22].contains("…") && lines[22].hasSuffix("1234▏"), "\(lines[22])")
        try m.handle(.escape)
        #expect(m.prompt == nil)
    }

    /// Issue 22: other label sets, the simulator's ground truth included, were invisible unless
    /// one switched --set (and then edited that set); stored predictions were never shown.
    @Test func otherSetsAndPredictionsAreShownReadOnly() throws {
        let (tmp, path) = try copyOfDemo()
        defer { withExtendedLifetime(tmp) {} }
        let w = try SessionWriter(appendingTo: path)
        try w.addLabels([AnnotationRecord(label: "venting", startTNs: 240_000_000_000, author: "ben", method: "manual")])
        let preds = (0..<494).map { i in
            PredictionRecord(model: "vdrop", modelVersion: "1", runId: "replay-1", tNs: Int64(i) * 1_000_000_000,
                             score: i < 450 ? 0.1 : 0.9, alarm: i >= 450, latencyNs: nil, parametersJson: "{}")
        }
        try w.dbQueue.write { db in for var p in preds { try p.insert(db) } }
        let m = try AnnotateModel(reader: try SessionReader(path: path), author: "ana")
        #expect(m.labels.isEmpty, "ana's set is empty: nothing of another set is editable")
        #expect(Set(m.otherLabels.map(\.labelSet)) == ["ben", "trw-sim", "trw-sim-sensors"])  // + the IR saturation sensor truth
        m.cursor = 50
        let lines = AnnotateScreen(color: false).render(m, width: 100, height: 30)
        let text = lines.joined(separator: "\n")
        #expect(text.contains("║"), "ground-truth labels are drawn as double lines")
        #expect(text.contains("┆"), "another person's set is drawn dotted")
        #expect(text.contains("other sets 3"), "\(lines[28])")
        #expect(text.contains("risk"), "no predictions panel")
        // n visits another set's label and names it; deleting at the cursor leaves it alone.
        m.cursor = 230
        try m.handle(.char("n"))
        #expect(m.cursor == 240 && m.status.contains("set ben"), "\(m.status)")
        try m.handle(.char("d"))
        #expect(try SessionReader(path: path).annotations(set: "ben").count == 1)
        m.cursor = 460
        let at = AnnotateScreen(color: false).render(m, width: 100, height: 30)
        #expect(at[27].contains("risk 0.90"), "\(at[27])")
    }

    @Test func overviewColumnsAndValues() throws {
        let (_, path) = try demoSession.get()
        let o = try Overview.load(try SessionReader(path: path))
        let ir = try #require(o.channel("ir_max"))
        #expect(o.frameCount == ir.t.count && o.frameCount > 900)
        let cols = o.columns(ir, from: 0, to: o.durationS, count: 50)
        #expect(cols.count == 50 && cols.compactMap { $0 }.count >= 45)
        let peak = cols.compactMap { $0?.hi }.max()!
        #expect(peak == ir.v.max()!)
        let v = try #require(o.value(ir, at: 100))
        #expect(v == Double(ir.v[Overview.lowerBound(ir.t, 100.0.nextUp) - 1]))
    }
}

@Suite struct LabelStorageTests {
    @Test func setsHistoryAndAgreement() throws {
        let (_, src) = try demoSession.get()
        let d = TemporaryDirectory("trw-annotate")
        let path = d.file("s.sqlite")
        try FileManager.default.copyItem(atPath: src, toPath: path)
        let w = try SessionWriter(appendingTo: path)
        let a1 = try w.addAnnotation(AnnotationRecord(label: "runaway_onset", startTNs: 450_000_000_000, author: "ana", method: "manual"))
        _ = try w.addAnnotation(AnnotationRecord(label: "runaway_onset", startTNs: 449_000_000_000, author: "ana", method: "manual", supersedesId: a1))
        _ = try w.addAnnotation(AnnotationRecord(label: "runaway_onset", startTNs: 452_000_000_000, author: "ben", method: "manual"))
        _ = try w.addAnnotation(AnnotationRecord(label: "venting", startTNs: 250_000_000_000, author: "ben", method: "manual"))
        _ = try w.addAnnotation(AnnotationRecord(label: "exclude", startTNs: 10_000_000_000, endTNs: 20_000_000_000, author: "ana", method: "manual"))
        _ = try w.addAnnotation(AnnotationRecord(label: "exclude", startTNs: 15_000_000_000, endTNs: 25_000_000_000, author: "ben", method: "manual", labelSet: "ben"))
        let r = try SessionReader(path: path)
        #expect(try r.labelSets().map(\.set) == ["ana", "ben", "trw-sim", "trw-sim-sensors"])  // + the IR saturation sensor truth
        #expect(try r.annotations(set: "ana").map(\.startTNs) == [10_000_000_000, 449_000_000_000])
        #expect(try r.annotations(includeHistory: true, set: "ana").count == 3)
        let ag = LabelAgreement.compute(sessions: [("demo", try r.annotations())], setA: "ana", setB: "ben")
        let onset = try #require(ag.rows.first { $0.label == "runaway_onset" })
        #expect(onset.differenceS == 3)
        let vent = try #require(ag.rows.first { $0.label == "venting" })
        #expect(vent.aS == nil && vent.bS == 250)
        #expect(abs(ag.intervals[0].intersectionOverUnion - 5.0 / 15.0) < 1e-12)
        let sum = ag.summary()
        #expect(sum.first { $0.label == "runaway_onset" }?.both == 1 && sum.first { $0.label == "venting" }?.onlyB == 1)
    }

    @Test func oldSchemaFilesAreUpgradedOnOpen() throws {
        let d = TemporaryDirectory("trw-annotate")
        let path = d.file("old.sqlite")
        let (_, src) = try demoSession.get()
        try FileManager.default.copyItem(atPath: src, toPath: path)
        // Make it look like a version-1 file: drop what migrations 2 to 5 added (the views of 5
        // first: SQLite checks every view when a column is dropped).
        let w = try SessionWriter(appendingTo: path)
        try w.dbQueue.writeWithoutTransaction { db in
            try db.execute(sql: """
                DROP VIEW current_annotation; DROP VIEW current_marker;
                ALTER TABLE stream DROP COLUMN role; ALTER TABLE annotation DROP COLUMN forced; DROP INDEX marker_supersedes;
                DROP TABLE marker;
                CREATE TABLE marker (id INTEGER PRIMARY KEY, t_ns INTEGER NOT NULL, text TEXT NOT NULL, author TEXT NOT NULL DEFAULT '',
                                     origin TEXT NOT NULL DEFAULT 'cli', created_utc TEXT NOT NULL);
                """)
            try db.execute(sql: "DROP TABLE sensing_event; DROP INDEX annotation_set; ALTER TABLE annotation DROP COLUMN label_set; DROP INDEX thermal_frame_stats; CREATE INDEX thermal_frame_stream_t ON thermal_frame(stream_id, t_ns); PRAGMA user_version = 1")
        }
        let r = try SessionReader(path: path)
        #expect(try r.annotations().first?.labelSet == "trw-sim")
        let plan = try r.frameStatisticQueryPlan()
        #expect(plan.joined().contains("COVERING INDEX thermal_frame_stats"), "\(plan)")
    }
}
