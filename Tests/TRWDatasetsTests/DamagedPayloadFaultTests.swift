import Foundation
import GRDB
import Testing
import TRWAnalysis
import TRWCore
import TRWStore
import TRWSessionFixtures
import TRWTestSupport
@testable import TRWDatasets
import TRWLive

/// Flips two bits in the payload of the rows `ids` of `table`.
func damage(_ path: String, table: String, ids: [Int64]) throws {
    let q = try DatabaseQueue(path: path)
    try q.write { db in
        for id in ids {
            var p = [UInt8](try Data.fetchOne(db, sql: "SELECT payload FROM \(table) WHERE id = ?", arguments: [id])!)
            p[p.count / 2] ^= 0x10
            p[p.count / 3] ^= 0x01
            try db.execute(sql: "UPDATE \(table) SET payload = ? WHERE id = ?", arguments: [Data(p), id])
        }
    }
    try q.close()
}

/// Issue 17 item 3: readers skip damaged rows, count them, and go on (the issue: one
/// undecodable frame out of 41 made export, score and predict refuse the whole session).
@Suite struct DamagedPayloadFaultTests {
    @Test func exportScorePredictSkipAndCountDamagedFrames() throws {
        let dir = TemporaryDirectory()
        let path = try syntheticSession(dir, seconds: 6)
        let r0 = try SessionReader(path: path)
        let ir = try #require(try r0.stream(key: "ir0"))
        // The frame each 1 Hz tick decodes is the one nearest before its end: damage those.
        let tickFrames = try (1...5).compactMap { try r0.frame(streamId: ir.id!, nearest: Int64($0) * 1_000_000_000)?.id }
        try damage(path, table: "thermal_frame", ids: tickFrames)
        let ae = try #require(try r0.stream(key: "ae0"))
        let chunk = try #require(try r0.audioChunks(streamId: ae.id!)[10].id)
        try damage(path, table: "audio_chunk", ids: [chunk])

        let r = try SessionReader(path: path)
        let table = try FeatureExtractor.extract(r)
        #expect(table.damaged.items.filter { $0.table == "thermal_frame" }.map(\.rowId).sorted() == tickFrames.sorted())
        #expect(table.damaged.items.filter { $0.table == "audio_chunk" }.map(\.rowId) == [chunk])
        let grad = try #require(table.column("ir_max_gradient_c_per_px"))
        #expect(grad.prefix(5).allSatisfy { $0.isNaN }, "no pixel feature from a damaged frame")
        let irMax = try #require(table.column("ir_max_c"))
        #expect(irMax.prefix(5).allSatisfy { $0.isFinite }, "frame statistics still used")

        var o = ExportOptions()
        o.irFrameSize = (8, 6)
        let npz = dir.file("s.npz")
        let report = try DatasetExporter.export(sessions: [path], to: npz, options: o)
        #expect(report.damaged.count == tickFrames.count + 1)
        #expect(report.damaged.summary.contains("thermal frames") && report.damaged.summary.contains("audio chunk"))
        let f = try NPZFile(path: npz)
        let frames = try f.array("ir_frames_c")
        let perTick = 8 * 6
        for k in 0..<min(5, frames.count / perTick) {
            #expect(frames.values[(k * perTick)..<((k + 1) * perTick)].allSatisfy { $0.isNaN }, "tick \(k) holds values of a damaged frame")
        }
        #expect(f.arrays["meta_json"] != nil || f.skipped["meta_json"] != nil)

        let run = try Predictor.runBuiltIn("gb38031", table: table, alarm: AlarmRule(), runId: "t")
        #expect(run.scores.count == table.count)
        var so = ScoreOptions()
        so.detectors = ["gb38031"]
        let score = try ScoreReport.run(sessions: [path], options: so)
        #expect(score.damaged.count == tickFrames.count + 1)

        var ro = ReplayOptions()
        ro.frames = .arrays(width: 4, height: 3)
        let events = try ReplayBuilder.events(r, options: ro)
        #expect(ReplayBuilder.damagedPayloadCount(events) >= tickFrames.count + 1)

        let wav = try WAVExport.export(session: path, outputPrefix: dir.file("w-"))
        #expect(wav.first?.damaged.count == 1)
        #expect(wav.first.map { $0.silenceFrames >= 480 } == true)

        // Asked for exactly the time of a damaged frame, the image is the nearest intact one.
        let damaged = try #require(try r.frame(id: tickFrames[0]))
        let img = try ThermalImage.load(r, at: Double(damaged.tNs) / 1e9)
        let damagedSeq = damaged.sequence
        #expect(img.skippedDamaged.count == 1 && img.sequence != damagedSeq)
    }
}
