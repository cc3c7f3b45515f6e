import Foundation
import GRDB
import Testing
import TRWCore
@testable import TRWStore

/// The record types map their properties to the fixed column names of the session schema
/// (snake_case strategies, or explicit keys): every column written, every value read back.
@Suite struct RecordColumnTests {
    /// A fresh in-memory database at the current schema.
    func migrated() throws -> DatabaseQueue {
        let q = try DatabaseQueue()
        try q.writeWithoutTransaction { try SessionSchema.migrate($0) }
        return q
    }

    /// Inserts `record`, checks it writes exactly the table's columns and reads back equal.
    func roundTrip<T: FetchableRecord & MutablePersistableRecord & Equatable>(
        _ db: Database, _ record: T, sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> Int64 {
        var r = record
        let written = Set(try r.databaseDictionary.keys)
        let columns = Set(try db.columns(in: T.databaseTableName).map(\.name))
        #expect(written == columns, "\(T.self) writes \(written.sorted()), table has \(columns.sorted())", sourceLocation: sourceLocation)
        try r.insert(db)
        let id = db.lastInsertedRowID
        let back = try T.fetchOne(db, key: id)
        #expect(back == r, "\(T.self) did not read back as written", sourceLocation: sourceLocation)
        return id
    }

    @Test func everyRecordWritesItsColumnsAndReadsBack() throws {
        try migrated().write { db in
            _ = try roundTrip(db, SessionRecord(
                uuid: "u", name: "n", operator: "op", cellChemistry: "NCM", cellCapacityAh: 2.5, cellFormat: "pouch",
                cellMaker: "m", cellSerial: "s", protocol: "p", rigName: "rig", rigConfig: "{}", softwareVersion: "v",
                hostName: "h", startMonotonicNs: 1, startRealtimeNs: 2, startUtc: "t", endTNs: 3, status: .complete,
                statusDetail: "d"))
            var st = StreamRecord(StreamDescriptor(
                key: "ae0", kind: .ae, device: "hw:1", format: "S16", nominalRateHz: 96_000, width: 1, height: 2,
                channels: 2, sampleFormat: .s16le, calibration: .tLinear10mK, units: ["v": "V"], properties: ["a": "b"],
                role: .cellBMS), aeDetector: AEDetectorSettings())
            let sid = try roundTrip(db, st)
            st.id = sid
            #expect(st.aeDetectorJson != nil && st.role != nil && st.calibrationJson != nil)
            _ = try roundTrip(db, ClockModelRecord(streamId: sid, method: "online", modelJson: "{}", createdUtc: "t", isCurrent: false))
            let stats = FrameStatistics(minCounts: 1, maxCounts: 9, meanCounts: 4.5, hotspotX: 2, hotspotY: 3)
            let frame = ThermalFrameRecord(streamId: sid, sequence: 7, deviceTsNs: 8, hostArrivalNs: 9, tNs: 10, codec: "raw",
                                           payload: Data([1, 2, 3]), stats: stats, flags: 1)
            let fid = try roundTrip(db, frame)
            let summary = try ThermalFrameSummary.fetchOne(db, sql: """
                SELECT id, sequence, t_ns, min_counts, max_counts, mean_counts, hotspot_x, hotspot_y, flags FROM thermal_frame
                """)
            #expect(summary == ThermalFrameSummary(id: fid, sequence: 7, tNs: 10, minCounts: 1, maxCounts: 9, meanCounts: 4.5,
                                                   hotspotX: 2, hotspotY: 3, flags: 1))
            _ = try roundTrip(db, AudioChunkRecord(streamId: sid, firstSampleIndex: 1, frameCount: 2, hostArrivalNs: 3,
                                                   pairSampleIndex: 4, pairHostNs: 5, tNs: 6, codec: "raw", payload: Data([0]),
                                                   rms: 0.1, peak: 0.2))
            _ = try roundTrip(db, AEHitRecord(streamId: sid, hit: AEHit(
                channel: 1, firstCrossingSampleIndex: 2, amplitudeDbAE: 60, riseTimeS: 1e-5, durationS: 2e-4, counts: 3,
                energyV2s: 4e-9, rmsBeforeV: 1e-4), tNs: 5))
            _ = try roundTrip(db, BMSSampleRecord(streamId: sid, sample: BMSSample(
                hostArrivalNs: 1, deviceTimeS: 2, voltageV: 4.2, currentA: 1.5, cellTempsC: [30, 31], ambientC: 22,
                soc: 0.5, extra: ["x": 1], raw: "line"), tNs: 3))
            _ = try roundTrip(db, GapRecord(streamId: sid, kind: "xrun", startTNs: 1, endTNs: 2, lostCount: 3, detail: "d"))
            _ = try roundTrip(db, SensingEventRecord(tNs: 1, streamId: sid, setting: "ir_fps", value: 25, previous: 50,
                                                     origin: "cli", skipped: 4, detail: "d"))
            let mid = try roundTrip(db, MarkerRecord(tNs: 1, text: "vent", author: "ana", origin: "key", createdUtc: "t"))
            _ = try roundTrip(db, MarkerRecord(tNs: 1, text: "vent", author: "ana", origin: "cli", createdUtc: "t",
                                               supersedesId: mid, deleted: true))
            let aid = try roundTrip(db, AnnotationRecord(label: "venting", startTNs: 1, endTNs: 2, author: "ana", method: "manual",
                                                         parametersJson: "{\"k\":1}", createdUtc: "t", note: "n", labelSet: "set",
                                                         forced: "why"))
            _ = try roundTrip(db, AnnotationRecord(label: "venting", startTNs: 1, author: "ana", method: "manual", createdUtc: "t",
                                                   supersedesId: aid, deleted: true))
            _ = try roundTrip(db, PredictionRecord(model: "m", modelVersion: "1", runId: "r", tNs: 1, score: 0.5, alarm: true,
                                                   latencyNs: 7, parametersJson: "{}"))
        }
    }

    /// `current()`: a row superseded by an edit or a removal is not current, nor is a removal;
    /// the latest edit is. Labels and markers alike.
    @Test func currentRowsAreTheLatestNotRemoved() throws {
        try migrated().write { db in
            func label(_ name: String, supersedes: Int64? = nil, deleted: Bool = false) throws -> Int64 {
                var a = AnnotationRecord(label: name, startTNs: 5, author: "ana", method: "manual", supersedesId: supersedes, deleted: deleted)
                try a.insert(db)
                return a.id!
            }
            let kept = try label("venting")
            let edited = try label("runaway_onset")
            let edit = try label("runaway_onset", supersedes: edited)
            let removed = try label("exclude")
            _ = try label("exclude", supersedes: removed, deleted: true)
            #expect(try AnnotationRecord.all().current().orderedByTime().fetchAll(db).map(\.id) == [kept, edit])
            #expect(try AnnotationRecord.all().current().fetchCount(db) == 2)
            #expect(try AnnotationRecord.filter(key: edited).current().fetchOne(db) == nil)

            var m = MarkerRecord(tNs: 9, text: "a", origin: "cli")
            try m.insert(db)
            var n = MarkerRecord(tNs: 3, text: "b", origin: "cli")
            try n.insert(db)
            var removal = MarkerRecord(tNs: 9, text: "a", origin: "cli", supersedesId: m.id, deleted: true)
            try removal.insert(db)
            #expect(try MarkerRecord.all().current().orderedByTime().fetchAll(db).map(\.id) == [n.id])
        }
    }
}
