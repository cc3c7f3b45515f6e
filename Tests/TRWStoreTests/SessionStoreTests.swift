import Foundation
import GRDB
import Testing
import TRWCore
import TRWTestSupport
@testable import TRWStore

func newSession(_ name: String = "t") -> NewSession {
    NewSession(name: name, operatorName: "tester", cell: CellInfo(chemistry: "NCM", capacityAh: 2.5, format: "pouch"),
               testProtocol: "overcharge 0.5C", rigName: "synthetic",
               clock: SessionClock(startMonotonicNs: 1_000_000, startRealtimeNs: 1_700_000_000_000_000_000))
}

let irDescriptor = StreamDescriptor(key: "ir0", kind: .thermal, device: "test", format: "Y16", nominalRateHz: 50,
                                    width: 4, height: 3, calibration: .tLinear10mK)

@Suite struct SchemaTests {
    @Test func migratesFromEmptyAndSetsIdentity() throws {
        let dir = TemporaryDirectory()
        let w = try SessionWriter(creating: dir.file("a.sqlite"), session: newSession(), softwareVersion: "test")
        let (appID, version, journal, tables) = try w.dbQueue.read { db in
            (try Int32.fetchOne(db, sql: "PRAGMA application_id")!, try Int.fetchOne(db, sql: "PRAGMA user_version")!,
             try String.fetchOne(db, sql: "PRAGMA journal_mode")!,
             try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type='table' ORDER BY name"))
        }
        #expect(appID == SessionSchema.applicationID)
        #expect(version == SessionSchema.currentVersion)
        #expect(journal == "wal")
        for t in ["session", "stream", "clock_model", "thermal_frame", "audio_chunk", "ae_hit", "bms_sample", "gap",
                  "marker", "annotation", "prediction"] {
            #expect(tables.contains(t), "missing table \(t)")
        }
    }

    @Test func embeddedMigrationsMatchSchemaFiles() throws {
        let dir = repositoryRoot() + "/schemas/migrations"
        let files = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".sql") }.sorted()
        #expect(files == SessionSchema.embeddedMigrations.map(\.file), "run scripts/embed-migrations.sh")
        for m in SessionSchema.embeddedMigrations {
            var text = try String(contentsOfFile: dir + "/" + m.file, encoding: .utf8)
            if text.hasSuffix("\n") { text.removeLast() }
            #expect(text == m.sql, "\(m.file) differs from the embedded copy; run scripts/embed-migrations.sh")
        }
        #expect(SessionSchema.embeddedMigrations.map(\.version) == Array(1...SessionSchema.embeddedMigrations.count))
    }

    @Test func reopenKeepsEverything() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("a.sqlite")
        do {
            let w = try SessionWriter(creating: path, session: newSession("reopen"), softwareVersion: "test")
            _ = try w.addStream(irDescriptor)
            try w.finalize(status: .complete, endTNs: 42)
        }
        let r = try SessionReader(path: path)
        let s = try r.session()
        #expect(s.name == "reopen" && s.status == .complete && s.endTNs == 42)
        #expect(s.cell?.chemistry == "NCM")
        #expect(try r.streams().map(\.key) == ["ir0"])
        #expect(try r.streams().first?.calibration == .tLinear10mK)
        // Reopening for append applies no migration twice and keeps the version.
        let w2 = try SessionWriter(appendingTo: path)
        try w2.addMarker(MarkerRecord(tNs: 5, text: "vent seen", origin: "cli"))
        #expect(try SessionReader(path: path).markers().map(\.text) == ["vent seen"])
    }

    @Test func refusesToOverwrite() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("a.sqlite")
        _ = try SessionWriter(creating: path, session: newSession(), softwareVersion: "test")
        #expect(throws: SessionStoreError.alreadyExists(path: path)) {
            _ = try SessionWriter(creating: path, session: newSession(), softwareVersion: "test")
        }
    }

    @Test func foreignSQLiteFileIsRefusedClearly() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("other.sqlite")
        let q = try DatabaseQueue(path: path)
        try q.write { try $0.execute(sql: "CREATE TABLE songs(id INTEGER PRIMARY KEY, title TEXT)") }
        do {
            _ = try SessionReader(path: path)
            Issue.record("foreign file opened")
        } catch let e as SessionStoreError {
            guard case .foreignDatabase(_, _, let tables) = e else { Issue.record("wrong error \(e)"); return }
            #expect(tables == ["songs"])
            #expect(e.description.contains("not a trw session"))
            #expect(e.description.contains(path))
        }
    }

    @Test(arguments: [
        ("text", Array("hello, this is not a database at all, just some text that is long enough".utf8)),
        ("random", (0..<8192).map { UInt8(truncatingIfNeeded: $0 &* 2654435761 >> 7) }),
    ])
    func nonSQLiteFileIsRefusedClearly(name: String, bytes: [UInt8]) throws {
        let dir = TemporaryDirectory()
        let path = dir.file("\(name).sqlite")
        FileManager.default.createFile(atPath: path, contents: Data(bytes))
        #expect(throws: SessionStoreError.notSQLite(path: path)) { _ = try SessionReader(path: path) }
        #expect(throws: SessionStoreError.notSQLite(path: path)) { _ = try SessionWriter(appendingTo: path) }
    }

    @Test func truncatedSessionIsRefusedNotCrashed() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("a.sqlite")
        do {
            let w = try SessionWriter(creating: path, session: newSession(), softwareVersion: "test")
            try w.finalize(status: .complete, endTNs: 1)
        }
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        try data.prefix(100).write(to: URL(fileURLWithPath: path))
        #expect(throws: (any Error).self) { _ = try SessionReader(path: path).session() }
    }

    @Test func newerSchemaIsRefusedWithVersions() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("a.sqlite")
        do {
            let w = try SessionWriter(creating: path, session: newSession(), softwareVersion: "test")
            try w.dbQueue.writeWithoutTransaction { try $0.execute(sql: "PRAGMA user_version = 999") }
        }
        #expect(throws: SessionStoreError.newerSchema(path: path, fileVersion: 999, supportedVersion: SessionSchema.currentVersion)) {
            _ = try SessionReader(path: path)
        }
        let message = SessionStoreError.newerSchema(path: path, fileVersion: 999, supportedVersion: 1).description
        #expect(message.contains("999") && message.contains("update trw"))
    }

    @Test func missingFileIsNamed() {
        #expect(throws: SessionStoreError.notFound(path: "/nonexistent/x.sqlite")) {
            _ = try SessionReader(path: "/nonexistent/x.sqlite")
        }
    }
}

@Suite struct WriterReaderTests {
    func frameRow(_ stream: Int64, _ i: Int64) -> ThermalFrameRecord {
        ThermalFrameRecord(streamId: stream, sequence: i, deviceTsNs: i * 20_000_000, hostArrivalNs: i * 20_000_000 + 5,
                           tNs: i * 20_000_000, codec: "raw16le", payload: Data(repeating: UInt8(i & 0xFF), count: 24),
                           stats: FrameStatistics(minCounts: 1, maxCounts: UInt16(i), meanCounts: 2, hotspotX: 1, hotspotY: 2))
    }

    @Test func batchIsOneTransactionAndRangesAreHalfOpen() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("a.sqlite")
        let w = try SessionWriter(creating: path, session: newSession(), softwareVersion: "test")
        let ir = try w.addStream(irDescriptor)
        let bms = try w.addStream(StreamDescriptor(key: "bms0", kind: .bms, device: "t", format: "kv", nominalRateHz: 1))
        var batch = WriteBatch()
        batch.frames = (0..<100).map { frameRow(ir, $0) }
        batch.bms = (0..<10).map {
            BMSSampleRecord(streamId: bms, sample: BMSSample(hostArrivalNs: $0, voltageV: 4 + Double($0) / 100, currentA: 1,
                                                             cellTempsC: [25, 26], raw: "V=\($0)"), tNs: $0 * 1_000_000_000)
        }
        batch.gaps = [GapRecord(streamId: ir, kind: "frame_drop", startTNs: 5, endTNs: nil, lostCount: 3, detail: "seq 4->8")]
        try w.write(batch)
        let r = try SessionReader(path: path)
        #expect(try r.frameSummaries(streamId: ir).count == 100)
        // [10 frames * 20 ms, 20 frames * 20 ms) is frames 10..19
        let range = Int64(200_000_000)..<Int64(400_000_000)
        #expect(try r.frames(streamId: ir, range: range).map(\.sequence) == Array(10..<20))
        #expect(try r.frameSummaries(streamId: ir, range: range).map(\.sequence) == Array(10..<20))
        #expect(try r.bmsSamples(range: 0..<3_000_000_000).map(\.voltageV) == [4.0, 4.01, 4.02])
        #expect(try r.bmsSamples().first?.cellTempsC == [25, 26])
        #expect(try r.gaps().map(\.lostCount) == [3])
        let nearest = try r.frame(streamId: ir, nearest: 205_000_000)
        #expect(nearest?.sequence == 10)
        // `trw frame`: the nearest frame either side (frames every 20 ms), the earlier on a tie.
        #expect(try r.frame(streamId: ir, closestTo: 215_000_000)?.sequence == 11)
        #expect(try r.frame(streamId: ir, closestTo: 205_000_000)?.sequence == 10)
        #expect(try r.frame(streamId: ir, closestTo: 210_000_000)?.sequence == 10)
        #expect(try r.frame(streamId: ir, closestTo: -5)?.sequence == 0)
        #expect(try r.frame(streamId: ir, closestTo: 9_000_000_000)?.sequence == 99)
        var visited = 0
        try r.forEachFrame(streamId: ir, range: range) { _ in visited += 1 }
        #expect(visited == 10)
        let summary = try r.summary()
        #expect(summary.streams.first { $0.stream.key == "ir0" }?.count == 100)
        #expect(summary.streams.first { $0.stream.key == "ir0" }?.gaps == [.init(kind: "frame_drop", events: 1, lost: 3)])
    }

    @Test func failedBatchLeavesNothingBehind() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("a.sqlite")
        let w = try SessionWriter(creating: path, session: newSession(), softwareVersion: "test")
        let ir = try w.addStream(irDescriptor)
        var batch = WriteBatch()
        batch.frames = (0..<10).map { frameRow(ir, $0) }
        var dup = frameRow(ir, 10)
        dup.id = 1  // primary-key clash with the first row of the same batch
        batch.frames.append(dup)
        #expect(throws: (any Error).self) { try w.write(batch) }
        #expect(try SessionReader(path: path).frameSummaries(streamId: ir).isEmpty)
    }

    @Test func annotationsSupersedeNeverOverwrite() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("a.sqlite")
        let w = try SessionWriter(creating: path, session: newSession(), softwareVersion: "test")
        let first = try w.addAnnotation(AnnotationRecord(label: "runaway_onset", startTNs: 100, author: "ana", method: "manual"))
        let second = try w.addAnnotation(AnnotationRecord(label: "runaway_onset", startTNs: 120, author: "ben", method: "manual",
                                                          supersedesId: first))
        // Editing an old version again is refused: edit the latest.
        #expect(throws: (any Error).self) {
            try w.addAnnotation(AnnotationRecord(label: "runaway_onset", startTNs: 130, author: "c", method: "manual", supersedesId: first))
        }
        _ = try w.addAnnotation(AnnotationRecord(label: "venting", startTNs: 90, author: "ana", method: "manual"))
        let r = try SessionReader(path: path)
        #expect(try r.annotations().map(\.startTNs) == [90, 120])
        #expect(try r.annotations(includeHistory: true).count == 3)
        _ = try w.addAnnotation(AnnotationRecord(label: "runaway_onset", startTNs: 120, author: "ben", method: "manual",
                                                 supersedesId: second, deleted: true))
        #expect(try r.annotations().map(\.label) == ["venting"])
    }

    @Test func clockModelsKeepHistory() throws {
        let dir = TemporaryDirectory()
        let w = try SessionWriter(creating: dir.file("a.sqlite"), session: newSession(), softwareVersion: "test")
        let ir = try w.addStream(irDescriptor)
        try w.setClockModel(streamId: ir, method: "online", modelJSON: "{\"a\":1}")
        try w.setClockModel(streamId: ir, method: "offline-resync", modelJSON: "{\"a\":2}")
        let r = try SessionReader(path: w.path)
        #expect(try r.clockModels(streamId: ir).map(\.method) == ["offline-resync"])
        #expect(try r.clockModels(streamId: ir, includeHistory: true).map(\.method) == ["online", "offline-resync"])
    }
}

@Suite struct DiskFullTests {
    @Test func sqliteFullIsAClearErrorAndCommittedDataStays() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("a.sqlite")
        let w = try SessionWriter(creating: path, session: newSession(), softwareVersion: "test")
        let ir = try w.addStream(irDescriptor)
        let pages = try w.dbQueue.read { try Int.fetchOne($0, sql: "PRAGMA page_count")! }
        try w.dbQueue.writeWithoutTransaction { try $0.execute(sql: "PRAGMA max_page_count = \(pages + 20)") }
        var committed = 0
        var failure: (any Error)?
        for i in 0..<100 {
            var b = WriteBatch()
            b.frames = [ThermalFrameRecord(streamId: ir, sequence: Int64(i), deviceTsNs: 0, hostArrivalNs: 0, tNs: Int64(i),
                                           codec: "raw16le", payload: Data(repeating: 7, count: 100_000),
                                           stats: FrameStatistics(minCounts: 0, maxCounts: 0, meanCounts: 0, hotspotX: 0, hotspotY: 0))]
            do { try w.write(b); committed += 1 } catch { failure = error; break }
        }
        #expect(failure as? SessionStoreError == .diskFull(path: path))
        #expect((failure as? SessionStoreError)?.description.contains("disk full") == true)
        #expect(committed > 0)
        #expect(try SessionReader(path: path).frameSummaries(streamId: ir).count == committed)
    }
}
