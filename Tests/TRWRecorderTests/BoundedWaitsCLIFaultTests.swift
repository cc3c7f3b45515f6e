import Foundation
import Testing
import TRWCore
import TRWIO
import TRWStore
import TRWTestSupport
@testable import TRWRecorder
import TRWRig

/// The CLI faults of issue 17 item 6 and 9, run against the built `trw`: each hang is
/// bounded (the test waits with a generous bound and kills the process if it passes).
@Suite struct BoundedWaitsCLIFaultTests {
    struct Outcome { var status: Int32; var stdout: String; var stderr: String; var seconds: Double; var timedOut: Bool }

    /// Runs `executable` with `arguments`; kills it if it runs beyond `bound` seconds.
    static func run(_ executable: String, _ arguments: [String], bound: Double = 60, whileRunning: (() -> Void)? = nil) throws -> Outcome {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = arguments
        let dir = TemporaryDirectory()
        FileManager.default.createFile(atPath: dir.file("out"), contents: nil)
        FileManager.default.createFile(atPath: dir.file("err"), contents: nil)
        let out = try FileHandle(forWritingTo: URL(fileURLWithPath: dir.file("out")))
        let err = try FileHandle(forWritingTo: URL(fileURLWithPath: dir.file("err")))
        p.standardOutput = out
        p.standardError = err
        p.standardInput = FileHandle.nullDevice
        let t0 = Date()
        try p.run()
        whileRunning?()
        var timedOut = false
        while p.isRunning {
            if Date().timeIntervalSince(t0) > bound { timedOut = true; p.terminate(); usleep(500_000); kill(p.processIdentifier, SIGKILL); break }
            usleep(20_000)
        }
        p.waitUntilExit()
        try out.close(); try err.close()
        return Outcome(status: p.terminationStatus, stdout: try String(contentsOfFile: dir.file("out"), encoding: .utf8),
                       stderr: try String(contentsOfFile: dir.file("err"), encoding: .utf8),
                       seconds: Date().timeIntervalSince(t0), timedOut: timedOut)
    }

    static func session(_ dir: TemporaryDirectory, seconds: Double) throws -> String {
        var so = SyntheticSource.Options()
        so.width = 32; so.height = 24; so.durationS = seconds; so.aeRateHz = 48_000; so.aeChunkFrames = 480; so.bmsRateHz = 2
        var o = RecorderOptions(name: "s", outputPath: dir.file("s.sqlite"), rigName: "synthetic")
        o.realTime = false
        let r = Recorder(sources: [SyntheticSource(options: so)], options: o)
        try r.start()
        _ = r.wait()
        return o.outputPath
    }

    /// `trw replay S | head -1` printed four raw "Broken pipe" errors and exited 1.
    @Test func replayIntoHeadExitsZeroQuietly() throws {
        let trw = try #require(builtProduct("trw"), "build the trw product first (swift build)")
        let dir = TemporaryDirectory()
        let path = try Self.session(dir, seconds: 20)
        // Enough output (ticks at 10 Hz with 16x12 frame arrays) that trw writes after head has gone.
        let r = try Self.run("/bin/bash", ["-c", "set -o pipefail; \"$0\" replay \"$1\" --rate 10 --frames 16x12 2>\"$2\" | head -1",
                                           trw, path, dir.file("replay.err")])
        #expect(!r.timedOut)
        #expect(r.status == 0, "exit status \(r.status)")
        #expect(r.stdout.hasPrefix("{\"type\":\"session\"") && r.stdout.split(separator: "\n").count == 1)
        #expect(try String(contentsOfFile: dir.file("replay.err"), encoding: .utf8) == "", "stderr must be empty")
    }

    /// `trw replay --to unix:P --frames 160x120` with a client that never reads hung forever.
    @Test func replayToAClientThatNeverReadsIsBounded() throws {
        let trw = try #require(builtProduct("trw"), "build the trw product first (swift build)")
        let dir = TemporaryDirectory()
        // 4 s of 50 Hz frames as 160x120 arrays: about 200 lines of ~100 KB, far beyond a socket buffer.
        let path = try Self.session(dir, seconds: 4)
        let sock = dir.file("r.sock")
        var client: IdleClient?
        let r = try Self.run(trw, ["replay", path, "--to", "unix:" + sock, "--frames", "160x120", "--send-timeout", "0.5"], bound: 240) {
            let deadline = Date(timeIntervalSinceNow: 180)
            while client == nil && Date() < deadline {
                client = try? IdleClient(path: sock)
                if client == nil { usleep(20_000) }
            }
        }
        #expect(client != nil, "could not connect")
        #expect(!r.timedOut, "replay did not drop the client")
        #expect(r.status == 1)
        #expect(r.stderr.contains("stopped reading") && r.stderr.contains("not delivered"), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: sock), "the socket file is removed")
    }

    /// `trw predict S --detector 'exec:sleep 100000'` hung forever.
    @Test func predictWithAHungDetectorIsBounded() throws {
        let trw = try #require(builtProduct("trw"), "build the trw product first (swift build)")
        let dir = TemporaryDirectory()
        let path = try Self.session(dir, seconds: 4)
        let r = try Self.run(trw, ["predict", path, "--detector", "exec:sleep 100000", "--startup-timeout", "0.5", "--answer-timeout", "0.5"])
        #expect(!r.timedOut)
        #expect(r.status == 1)
        #expect(r.stderr.contains("tick t = 1 s") && r.stderr.contains("no answer within 0.5 s"), "\(r.stderr)")
        let gaps = try SessionReader(path: path).gaps().filter { $0.kind == "detector_failure" }
        #expect(gaps.map(\.lostCount) == [4])
        // A usage error names the allowed range.
        let bad = try Self.run(trw, ["predict", path, "--detector", "exec:cat", "--answer-timeout", "nan"])
        #expect(bad.status == 64 && bad.stderr.contains("--answer-timeout"), "\(bad.stderr)")
    }

    /// `trw replay --to unix:PATH` waited for a client for ever; now `--accept-timeout` bounds it.
    @Test func replayWithoutAClientGivesUpAtItsAcceptTimeout() throws {
        let trw = try #require(builtProduct("trw"), "build the trw product first (swift build)")
        let dir = TemporaryDirectory()
        let path = try Self.session(dir, seconds: 2)
        let sock = dir.file("r.sock")
        let r = try Self.run(trw, ["replay", path, "--to", "unix:" + sock, "--accept-timeout", "0.5"])
        #expect(!r.timedOut)
        #expect(r.status == 1, "exit \(r.status): \(r.stderr)")
        #expect(r.stderr.contains("no client connected") && r.stderr.contains("--accept-timeout"), "\(r.stderr)")
        #expect(!r.stderr.contains("Usage:"), "a run-time failure, not a usage error")
        let bad = try Self.run(trw, ["replay", path, "--to", "unix:" + sock, "--accept-timeout", "inf"])
        #expect(bad.status == 64 && bad.stderr.contains("--accept-timeout"), "\(bad.stderr)")
    }

    /// `--live unix:PATH` deleted whatever file was at PATH, a session included.
    @Test func liveAtARegularFileIsRefusedAndTheFileUntouched() throws {
        let trw = try #require(builtProduct("trw"), "build the trw product first (swift build)")
        let dir = TemporaryDirectory()
        let victim = dir.file("earlier-run.sqlite")
        let content = Data("SQLite format 3\0 an earlier run".utf8)
        try content.write(to: URL(fileURLWithPath: victim))
        let out = dir.file("new.sqlite")
        let r = try Self.run(trw, ["record", "--rig", "synthetic", "--duration", "1", "--out", out, "--quiet", "--live", "unix:" + victim])
        #expect(r.status == 64, "exit \(r.status): \(r.stderr)")
        #expect(r.stderr.contains("regular file"), "\(r.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: victim)) == content)
        #expect(!FileManager.default.fileExists(atPath: out), "no session file is created")
    }

    /// `--live unix:/nonexistent-dir/x.sock` failed after the session file was created.
    @Test func liveInAMissingDirectoryFailsBeforeTheSessionExists() throws {
        let trw = try #require(builtProduct("trw"), "build the trw product first (swift build)")
        let dir = TemporaryDirectory()
        let out = dir.file("new.sqlite")
        let r = try Self.run(trw, ["record", "--rig", "synthetic", "--duration", "1", "--out", out, "--quiet",
                                   "--live", "unix:" + dir.file("nonexistent-dir/x.sock")])
        #expect(r.status == 64, "exit \(r.status): \(r.stderr)")
        #expect(r.stderr.contains("does not exist"), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out), "no session file is created")
    }
}

