import Foundation
import GRDB
import Testing
import TRWCodec
import TRWStore
import TRWTestSupport
@testable import TRWRecorder
import TRWRig

@Suite struct CrashSafetyTests {
    /// A recorder killed with SIGKILL mid-run leaves a file that opens with
    /// everything up to its last commit: contiguous frames, decodable, and the
    /// status still "recording" (so `trw repair` can tell).
    @Test func sigkillMidRunKeepsEverythingCommitted() throws {
        let trw = try #require(builtProduct("trw"), "build the trw product first (swift build)")
        let dir = TemporaryDirectory()
        let path = dir.file("killed.sqlite")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: trw)
        p.arguments = ["record", "--rig", "synthetic", "--name", "killed", "--out", path, "--duration", "60", "--quiet"]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        // Wait until at least 40 frames are committed (reader sees only commits).
        var seenBeforeKill = 0
        let deadline = Date(timeIntervalSinceNow: 30)
        while Date() < deadline {
            if FileManager.default.fileExists(atPath: path),
               let r = try? SessionReader(path: path), let ir = try? r.stream(key: "ir0"),
               let n = try? r.frameSummaries(streamId: ir.id!).count {
                seenBeforeKill = n
                if n >= 40 { break }
            }
            usleep(50_000)
        }
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        #expect(p.terminationReason == .uncaughtSignal)
        #expect(seenBeforeKill >= 40)

        let reader = try SessionReader(path: path)
        #expect(try reader.session().status == .recording)
        let ir = try #require(try reader.stream(key: "ir0"))
        let frames = try reader.frames(streamId: ir.id!)
        #expect(frames.count >= seenBeforeKill, "a commit seen before the kill was lost")
        #expect(frames.map(\.sequence) == Array(0..<Int64(frames.count)), "frames are contiguous up to the last commit")
        let dec = try FrameDecoder()
        for f in frames.suffix(3) {
            let px = try dec.decode([UInt8](f.payload), codec: f.codec, width: ir.width!, height: ir.height!)
            #expect(px[0] == SyntheticSource.pixel(frame: f.sequence, x: 0, y: 0, width: ir.width!, height: ir.height!))
        }
        let q = try DatabaseQueue(path: path)
        #expect(try q.read { try String.fetchOne($0, sql: "PRAGMA integrity_check") } == "ok")

        // trw repair marks it recovered and says up to when data was kept.
        let report = try SessionRepair.repair(path: path)
        #expect(report.previousStatus == .recording && report.newStatus == .recovered && report.changed)
        #expect(report.integrity == "ok")
        #expect(report.streams.first { $0.key == "ir0" }?.rows == frames.count)
        #expect(report.streams.first { $0.key == "ir0" }?.sequenceHoles == 0)
        let after = try SessionReader(path: path)
        #expect(try after.session().status == .recovered)
        #expect(try after.session().endTNs == report.lastTNs)
        #expect(try after.gaps().contains { $0.kind == "recorder_loss" && $0.streamId == nil })
        // A second repair changes nothing.
        #expect(try SessionRepair.repair(path: path).changed == false)
    }
}
