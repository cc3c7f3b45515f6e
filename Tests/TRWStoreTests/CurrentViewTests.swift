import Foundation
import GRDB
import Testing
import TRWCore
import TRWTestSupport
@testable import TRWStore

/// Schema 5 (issue 21): the views `current_annotation` and `current_marker` give what
/// `current()` gives, and files of schema 4 still open where they cannot be migrated.
@Suite struct CurrentViewTests {
    /// Labels and markers with edits and removals, written through the store.
    func labelledSession(_ path: String) throws -> SessionWriter {
        let w = try SessionWriter(creating: path, session: newSession("v"), softwareVersion: "test")
        let a = try w.addAnnotation(AnnotationRecord(label: "runaway_onset", startTNs: 100, author: "ana", method: "manual"))
        let b = try w.addAnnotation(AnnotationRecord(label: "runaway_onset", startTNs: 120, author: "ana", method: "manual", supersedesId: a))
        _ = try w.addAnnotation(AnnotationRecord(label: "venting", startTNs: 90, author: "ben", method: "manual"))
        let gone = try w.addAnnotation(AnnotationRecord(label: "exclude", startTNs: 10, endTNs: 20, author: "ana", method: "manual"))
        _ = try w.addAnnotation(AnnotationRecord(label: "exclude", startTNs: 10, endTNs: 20, author: "ana", method: "manual",
                                                 supersedesId: gone, deleted: true))
        _ = b
        let m1 = try w.addMarker(MarkerRecord(tNs: 5, text: "kept", origin: "cli"))
        let m2 = try w.addMarker(MarkerRecord(tNs: 6, text: "removed", origin: "cli"))
        _ = try w.addMarker(MarkerRecord(tNs: 6, text: "removed", origin: "cli", supersedesId: m2, deleted: true))
        _ = m1
        return w
    }

    @Test func viewsGiveTheCurrentRows() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("v.sqlite")
        let w = try labelledSession(path)
        let r = try SessionReader(path: path)
        let (labels, markers) = try r.read { db in
            (try Int64.fetchAll(db, sql: "SELECT id FROM current_annotation ORDER BY start_t_ns, id"),
             try Int64.fetchAll(db, sql: "SELECT id FROM current_marker ORDER BY t_ns, id"))
        }
        #expect(labels == (try r.annotations().map { $0.id! }))
        #expect(labels.count == 2)
        #expect(markers == (try r.markers().map { $0.id! }))
        #expect(try r.markers().map(\.text) == ["kept"])
        // Same columns as the table.
        let columns = try r.read { db in
            (try db.columns(in: "current_annotation").map(\.name), try db.columns(in: "annotation").map(\.name))
        }
        #expect(columns.0 == columns.1)
        _ = w
    }

    /// Writes a file as trw of schema 4 did (no views).
    func schemaFourFile(_ path: String) throws {
        let q = try DatabaseQueue(path: path)
        try q.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA application_id = \(SessionSchema.applicationID)")
            for m in SessionSchema.embeddedMigrations where m.version <= 4 {
                try db.execute(sql: m.sql)
                try db.execute(sql: "PRAGMA user_version = \(m.version)")
            }
            try db.execute(sql: """
                INSERT INTO session (id, uuid, name, rig_name, software_version, start_monotonic_ns, start_realtime_ns, start_utc, status, end_t_ns)
                VALUES (1, 'u', 'four', 'rig', 'old', 0, 0, '1970-01-01T00:00:00Z', 'complete', 10000000000);
                INSERT INTO annotation (id, label, start_t_ns, author, method, created_utc, label_set) VALUES (1, 'venting', 5, 'ana', 'manual', 'x', 'ana');
                INSERT INTO annotation (id, label, start_t_ns, author, method, created_utc, label_set, supersedes_id) VALUES (2, 'venting', 7, 'ana', 'manual', 'x', 'ana', 1);
                INSERT INTO marker (t_ns, text, created_utc) VALUES (5, 'old marker', 'x');
                """)
        }
        try q.close()
    }

    @Test func schemaFourFileOpensReadOnlyAsItIs() throws {
        let dir = TemporaryDirectory()
        guard let mnt = TmpfsMount.make(in: dir) else {
            Issue.record("this test needs a tmpfs mount (root); it cannot run here")
            return
        }
        try schemaFourFile(mnt.path + "/four.sqlite")
        #expect(mnt.remountReadOnly())
        let r = try SessionReader(path: mnt.path + "/four.sqlite")
        #expect(try r.session().name == "four")
        #expect(try r.annotations().map(\.startTNs) == [7])
        #expect(try r.markers().map(\.text) == ["old marker"])
        #expect(try r.read { try Int.fetchOne($0, sql: "PRAGMA user_version") } == 4)
    }

    @Test func writableSchemaFourFileGainsTheViews() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("four.sqlite")
        try schemaFourFile(path)
        let r = try SessionReader(path: path)
        #expect(try r.read { try Int.fetchOne($0, sql: "PRAGMA user_version") } == SessionSchema.currentVersion)
        #expect(try r.read { try Int64.fetchAll($0, sql: "SELECT id FROM current_annotation") } == [2])
        #expect(try r.annotations().map(\.startTNs) == [7])
    }

    @Test func readOnlyFilesOlderThanTheReadersNeedAreRefusedClearly() throws {
        let dir = TemporaryDirectory()
        guard let mnt = TmpfsMount.make(in: dir) else {
            Issue.record("this test needs a tmpfs mount (root); it cannot run here")
            return
        }
        let path = mnt.path + "/three.sqlite"
        let q = try DatabaseQueue(path: path)
        try q.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA application_id = \(SessionSchema.applicationID)")
            for m in SessionSchema.embeddedMigrations where m.version <= 3 {
                try db.execute(sql: m.sql)
                try db.execute(sql: "PRAGMA user_version = \(m.version)")
            }
        }
        try q.close()
        #expect(mnt.remountReadOnly())
        do {
            _ = try SessionReader(path: path)
            Issue.record("opened a read-only schema-3 file whose columns the readers need")
        } catch let e as SessionStoreError {
            #expect(e.description.contains("schema version 3") && e.description.contains("version 4 or newer"), "\(e)")
        }
    }
}
