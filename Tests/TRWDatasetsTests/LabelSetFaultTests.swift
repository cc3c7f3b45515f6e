import Foundation
import Testing
import TRWAnalysis
import TRWCore
import TRWStore
import TRWSessionFixtures
import TRWTestSupport
@testable import TRWDatasets

/// Issue 17: `trw export` and `trw score` took the earliest runaway_onset of all label sets, so
/// one trainee's onset at 2 s (here) replaced the ground truth at 8 s with no warning.
@Suite struct LabelSetFaultTests {
    /// A 10 s synthetic run with simulator ground truth (onset 8 s) and a trainee's set (onset 2 s).
    func session(_ dir: TemporaryDirectory) throws -> String {
        let path = try syntheticSession(dir, seconds: 10)
        let w = try SessionWriter(appendingTo: path)
        try w.addLabels([AnnotationRecord(label: "runaway_onset", startTNs: 8_000_000_000, author: "trw-sim", method: "simulator_ground_truth")])
        try w.addLabels([AnnotationRecord(label: "runaway_onset", startTNs: 2_000_000_000, author: "trainee", method: "manual")])
        return path
    }

    func strings(_ npz: String, _ key: String) throws -> String {
        try ExternalTool.run("python3", ["-c", "import numpy as np, sys; print('|'.join(str(x) for x in np.load(sys.argv[1])[sys.argv[2]]))", npz, key])
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test func exportUsesOneSetAndNamesIt() throws {
        let dir = TemporaryDirectory()
        let path = try session(dir)
        // Default precedence: simulator ground truth, named.
        let out = dir.file("d.npz")
        var fast = ExportOptions()
        fast.features.decodePayloads = false
        let report = try DatasetExporter.export(sessions: [path], to: out, options: fast)
        #expect(report.labelSets.map(\.summary) == ["trw-sim (simulator ground truth)"])
        #expect(try NPZFile(path: out).array("session_onset_s").values == [8])
        #expect(try strings(out, "session_label_set") == "trw-sim")
        #expect(try strings(out, "session_label_rule") == "simulator ground truth")
        let meta = try strings(out, "meta_json")
        #expect(meta.contains("\"label_set\":\"trw-sim\""), "\(meta)")
        // Asked by name: the trainee's onset, named as such.
        var o = fast
        o.labelSet = "trainee"
        let out2 = dir.file("t.npz")
        _ = try DatasetExporter.export(sessions: [path], to: out2, options: o)
        #expect(try NPZFile(path: out2).array("session_onset_s").values == [2])
        #expect(try strings(out2, "meta_json").contains("\"label_set\":\"trainee\""))
        // The Python reader names the set too (models/trw_models/data.py).
        let py = try ExternalTool.run("python3", ["-c", "import sys; sys.path.insert(0, sys.argv[2]); from trw_models import data; d = data.load(sys.argv[1]); print(d.label_set(), d.label_sets())",
                                                  out2, repositoryRoot() + "/models"])
        #expect(py.contains("trainee {'s': 'trainee'}"), "\(py)")
    }

    @Test func scoreNamesTheSetAndRefusesAmbiguity() throws {
        let dir = TemporaryDirectory()
        let path = try session(dir)
        var o = ScoreOptions()
        o.detectors = ["gb38031"]
        o.features.decodePayloads = false
        let report = try ScoreReport.run(sessions: [path], options: o)
        #expect(report.outcomes["gb38031"]?.first?.onsetS == 8)
        #expect(report.table.hasPrefix("labels: set trw-sim (simulator ground truth) on 1 run"))
        // score --json (format_version 1): the set per run as {session, label_set} objects.
        let scoreJSON = try #require(try JSONSerialization.jsonObject(with: Data(report.json.utf8)) as? [String: Any])
        #expect(scoreJSON["format_version"] as? Int == 1)
        #expect((scoreJSON["label_sets"] as? [[String: String]]) == [["session": path, "label_set": "trw-sim"]])
        #expect(report.table1().text.contains("labels: set trw-sim"))
        // Two people's sets and no ground truth: refused, naming the sets; --label-set decides.
        let w = try SessionWriter(appendingTo: path)
        let truth = try #require(try SessionReader(path: path).annotations(set: "trw-sim").first)
        try w.addLabels([AnnotationRecord(label: truth.label, startTNs: truth.startTNs, author: "x", method: truth.method,
                                          supersedesId: truth.id, deleted: true, labelSet: "trw-sim")])
        try w.addLabels([AnnotationRecord(label: "runaway_onset", startTNs: 7_000_000_000, author: "ana", method: "manual")])
        let e = #expect(throws: AmbiguousLabelSets.self) { try ScoreReport.run(sessions: [path], options: o) }
        #expect(e?.sets == ["ana", "trainee"])
        #expect(throws: AmbiguousLabelSets.self) { try DatasetExporter.export(sessions: [path], to: dir.file("x.npz"), options: ExportOptions()) }
        o.labelSet = "ana"
        let chosen = try ScoreReport.run(sessions: [path], options: o)
        #expect(chosen.outcomes["gb38031"]?.first?.onsetS == 7)
        #expect(chosen.labelSetLine == "labels: set ana (--label-set) on 1 run")
        // A reviewed set settles it without --label-set.
        try w.addLabels([AnnotationRecord(label: "runaway_onset", startTNs: 7_500_000_000, author: "ana", method: "manual", labelSet: "reviewed")])
        o.labelSet = nil
        #expect(try ScoreReport.run(sessions: [path], options: o).outcomes["gb38031"]?.first?.onsetS == 7.5)
    }
}
