import Foundation
import GRDB
import Testing
import TRWCore
import TRWTestSupport
@testable import TRWStore

/// A finished 494 s session (as in issue 17's measurements): one BMS stream, a sample a second.
func finishedSession(_ dir: TemporaryDirectory, seconds: Int = 494) throws -> String {
    let path = dir.file("run.sqlite")
    let w = try SessionWriter(creating: path, session: newSession("run"), softwareVersion: "test")
    let bms = try w.addStream(StreamDescriptor(key: "bms0", kind: .bms, device: "test", format: "kv", nominalRateHz: 1, role: .cellBMS))
    var batch = WriteBatch()
    for s in 0...seconds {
        let t = Int64(s) * 1_000_000_000
        batch.bms.append(BMSSampleRecord(streamId: bms, sample: BMSSample(hostArrivalNs: t, voltageV: 4.1, cellTempsC: [25], raw: "V=4.1"), tNs: t))
    }
    try w.write(batch)
    try w.finalize(status: .complete, endTNs: Int64(seconds) * 1_000_000_000)
    return path
}

func label(_ kind: String, _ s: Double, set: String = "ana", end: Double? = nil, supersedes: Int64? = nil, deleted: Bool = false) -> AnnotationRecord {
    AnnotationRecord(label: kind, startTNs: Int64(s * 1e9), endTNs: end.map { Int64($0 * 1e9) }, author: set, method: "manual",
                     supersedesId: supersedes, deleted: deleted, labelSet: set)
}

@Suite struct LabelFaultTests {
    /// Issue 17: runaway_onset at 9999 s in a 494 s run was accepted.
    @Test func labelOutsideTheSessionIsRefusedUnlessForced() throws {
        let dir = TemporaryDirectory()
        let path = try finishedSession(dir)
        let w = try SessionWriter(appendingTo: path)
        let e = #expect(throws: LabelRefusal.self) { try w.addLabels([label("runaway_onset", 9999)]) }
        #expect(e?.description.contains("9999.000 s is outside the session (0.000 s to 494.000 s)") == true, "\(String(describing: e))")
        #expect(e?.description.contains("Nothing was saved") == true)
        #expect(try SessionReader(path: path).annotations(includeHistory: true).isEmpty, "a refused label is not stored")
        // An interval running past the end is refused too; a negative time as well.
        #expect(throws: LabelRefusal.self) { try w.addLabels([label("exclude", 400, end: 600)]) }
        #expect(throws: LabelRefusal.self) { try w.addLabels([label("venting", -5)]) }
        // Forced: stored, and the history says what was overridden.
        let id = try w.addLabels([label("runaway_onset", 9999)], force: true)[0]
        let stored = try #require(try SessionReader(path: path).annotations(includeHistory: true).first { $0.id == id })
        #expect(stored.forced.contains("outside the session"))
        // Inside the session (the last second included) passes with nothing forced.
        let ok = try w.addLabels([label("venting", 494, set: "ben")])[0]
        #expect(try SessionReader(path: path).annotations().first { $0.id == ok }?.forced == "")
    }

    /// Issue 17: three onsets in one set were accepted.
    @Test func aSecondOnsetInOneSetIsRefusedUnlessForced() throws {
        let dir = TemporaryDirectory()
        let path = try finishedSession(dir)
        let w = try SessionWriter(appendingTo: path)
        let first = try w.addLabels([label("runaway_onset", 300)])[0]
        let e = #expect(throws: LabelRefusal.self) { try w.addLabels([label("runaway_onset", 320)]) }
        #expect(e?.description.contains("set 'ana' already has runaway_onset at 300.000 s (label \(first))") == true, "\(String(describing: e))")
        // Within one batch too (trw annotate saves its edits at once): nothing of the batch is written.
        #expect(throws: LabelRefusal.self) { try w.addLabels([label("venting", 200), label("venting", 210)]) }
        #expect(try SessionReader(path: path).annotations().map(\.label) == ["runaway_onset"])
        // Another set may have its own onset; an interval kind and custom kinds may repeat.
        try w.addLabels([label("runaway_onset", 310, set: "ben")])
        try w.addLabels([label("exclude", 10, end: 20), label("exclude", 30, end: 40)])
        try w.addLabels([label("custom:smoke_seen", 100), label("custom:smoke_seen", 110)])
        // Editing the onset (supersede) is not a second onset.
        let moved = try w.addLabels([label("runaway_onset", 305, supersedes: first)])[0]
        // Removing it and adding a new one in one batch is fine too.
        try w.addLabels([label("runaway_onset", 305, supersedes: moved, deleted: true), label("runaway_onset", 306)])
        // Forced: three onsets, the extra ones say so in their history.
        try w.addLabels([label("runaway_onset", 330), label("runaway_onset", 340)], force: true)
        let onsets = try SessionReader(path: path).annotations(set: "ana").filter { $0.label == "runaway_onset" }
        #expect(onsets.map(\.startTNs) == [306, 330, 340].map { Int64($0) * 1_000_000_000 })
        #expect(onsets.map { $0.forced.isEmpty } == [true, false, false])
        #expect(onsets[2].forced.contains("already has runaway_onset"))
    }

    /// Issue 17: the typo runaway_onest silently became a custom label.
    @Test func anUnknownKindIsRefusedWithTheNearestKnownOne() throws {
        let dir = TemporaryDirectory()
        let path = try finishedSession(dir)
        let w = try SessionWriter(appendingTo: path)
        let e = #expect(throws: LabelRefusal.self) { try w.addLabels([label(try LabelRules.storedName("runaway_onest", custom: false), 300)]) }
        #expect(e?.description.contains("unknown label kind 'runaway_onest': did you mean runaway_onset?") == true, "\(String(describing: e))")
        #expect(LabelRules.nearestKind("vnting") == "venting")
        #expect(LabelRules.nearestKind("smoke_seen") == nil)
        // Declared custom: by prefix or flag, stored with the prefix.
        #expect(try LabelRules.storedName("custom:smoke_seen", custom: false) == "custom:smoke_seen")
        #expect(try LabelRules.storedName("smoke_seen", custom: true) == "custom:smoke_seen")
        // Never forcible: a malformed name, a custom label named like a known kind.
        for (name, custom) in [("runaway onset", false), ("custom:", false), ("custom:venting", false), ("venting", true)] {
            let r = #expect(throws: LabelRefusal.self) { try LabelRules.storedName(name, custom: custom) }
            #expect(r?.forcible == false, "\(name)")
        }
        try w.addLabels([label("custom:smoke_seen", 120)])
        let forced = try w.addLabels([label("runaway_onest", 300)], force: true)[0]
        #expect(try SessionReader(path: path).annotations(includeHistory: true).first { $0.id == forced }?.forced.contains("unknown label kind") == true)
    }

    /// Issue 17: markers could not be removed. A removal supersedes; the history keeps both rows.
    @Test func markersAreRemovedWithHistoryKept() throws {
        let dir = TemporaryDirectory()
        let path = try finishedSession(dir)
        let w = try SessionWriter(appendingTo: path)
        let keep = try w.addMarker(MarkerRecord(tNs: 100_000_000_000, text: "vent seen", origin: "cli"))
        let wrong = try w.addMarker(MarkerRecord(tNs: 156_000_000_000, text: "typo", origin: "cli"))
        let removed = try w.removeMarker(id: wrong, author: "ana")
        #expect(removed.text == "typo")
        let r = try SessionReader(path: path)
        #expect(try r.markers().map(\.id) == [keep])
        let history = try r.markers(includeHistory: true)
        #expect(history.count == 3)
        #expect(history.last?.supersedesId == wrong && history.last?.deleted == true && history.last?.author == "ana")
        #expect(try r.summary().markerCount == 1)
        // Removing it again, or a marker that does not exist, names the id.
        let e = #expect(throws: HistoryError.self) { try w.removeMarker(id: wrong, author: "ana") }
        #expect(e?.description.contains("no current marker with id \(wrong)") == true)
        #expect(throws: HistoryError.self) { try w.removeMarker(id: 999, author: "ana") }
    }

    /// The extent while a session records reaches now on its clock; a finished one ends at its data.
    @Test func extentFollowsTheRecordingClock() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("live.sqlite")
        let w = try SessionWriter(creating: path, session: newSession("live"), softwareVersion: "test")
        // newSession starts at CLOCK_MONOTONIC 1 ms: "now" is far later, so any label up to now is inside.
        let now = HostClock.monotonicNanoseconds()
        try w.addLabels([label("venting", Double(now - 2_000_000_000) / 1e9)], nowMonotonicNs: now)
        #expect(throws: LabelRefusal.self) {
            try w.addLabels([label("runaway_onset", Double(now + 60_000_000_000) / 1e9)], nowMonotonicNs: now)
        }
    }
}

@Suite struct LabelSetSelectionTests {
    func gt(_ s: Double) -> AnnotationRecord {
        AnnotationRecord(label: "runaway_onset", startTNs: Int64(s * 1e9), author: "trw-sim", method: "simulator_ground_truth")
    }

    /// Issue 17: a trainee's onset at 120 s became the training target over the ground truth.
    @Test func precedenceNeverMixesSets() throws {
        let trainee = label("runaway_onset", 120, set: "trainee")
        // Simulator ground truth wins over one person's set on a simulated run.
        let c = try LabelSetSelection.choose([gt(450), trainee], session: "S")
        #expect(c.name == "trw-sim" && c.rule == "simulator ground truth" && c.onsetS == 450 && c.otherSets == ["trainee"])
        // Asked by name.
        #expect(try LabelSetSelection.choose([gt(450), trainee], requested: "trainee", session: "S").onsetS == 120)
        // A reviewed set wins over everything.
        let reviewed = label("runaway_onset", 448, set: "reviewed")
        #expect(try LabelSetSelection.choose([gt(450), trainee, reviewed], session: "S").summary == "reviewed (reviewed set)")
        // One person's set on a real run.
        #expect(try LabelSetSelection.choose([trainee], session: "S").rule == "the only set")
        // Two people's sets: refused, naming them.
        let e = #expect(throws: AmbiguousLabelSets.self) {
            try LabelSetSelection.choose([trainee, label("runaway_onset", 300, set: "ana")], session: "S")
        }
        #expect(e?.description.contains("(ana, trainee)") == true && e?.description.contains("--label-set") == true)
        // No labels: a run without onset, named "none".
        let none = try LabelSetSelection.choose([], session: "S")
        #expect(none.name == "none" && none.onsetS == nil)
        // A set asked for but absent: no onset, and said so.
        #expect(try LabelSetSelection.choose([gt(450)], requested: "ana", session: "S").rule.contains("no labels here"))
        // --label-method keeps only sets holding such labels.
        #expect(try LabelSetSelection.choose([trainee, label("runaway_onset", 300, set: "ana"), gt(450)],
                                             method: "simulator_ground_truth", session: "S").name == "trw-sim")
    }
}

@Suite struct SchemaFourTests {
    /// Roles are stored on the stream; a file of schema 3 gains the columns with NULL roles.
    @Test func rolesAreStoredAndOldFilesUpgrade() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("old.sqlite")
        // A schema-3 file as an older trw wrote it.
        do {
            let q = try DatabaseQueue(path: path)
            try q.writeWithoutTransaction { db in
                try db.execute(sql: "PRAGMA application_id = \(SessionSchema.applicationID)")
                for m in SessionSchema.embeddedMigrations where m.version <= 3 {
                    try db.execute(sql: m.sql)
                    try db.execute(sql: "PRAGMA user_version = \(m.version)")
                }
                try db.execute(sql: """
                    INSERT INTO session (id, uuid, name, rig_name, software_version, start_monotonic_ns, start_realtime_ns, start_utc, status, end_t_ns)
                    VALUES (1, 'u', 'old', 'rig', 'old', 0, 0, '1970-01-01T00:00:00Z', 'complete', 10000000000);
                    INSERT INTO stream (key, kind, device, format, nominal_rate_hz) VALUES ('bms0', 'bms', 'x', 'kv', 1);
                    INSERT INTO marker (t_ns, text, created_utc) VALUES (5, 'old marker', 'x');
                    """)
            }
        }
        let r = try SessionReader(path: path)
        #expect(try r.streams().first?.role == nil)
        #expect(try r.markers().map(\.text) == ["old marker"])
        let w = try SessionWriter(appendingTo: path)
        let id = try w.addStream(StreamDescriptor(key: "psu0", kind: .bms, device: "y", format: "scpi", nominalRateHz: 1, role: .supply))
        #expect(try SessionReader(path: path).streams().first { $0.id == id }?.instrumentRole == .supply)
        #expect(try SessionReader(path: path).streams().first { $0.id == id }?.descriptor.role == .supply)
    }
}
