import Foundation
import GRDB
import Testing
import TRWTestSupport

/// kill -9 of the recorder at random moments (seeded, so every run kills at the
/// same moments): the file opens, passes `PRAGMA integrity_check`, holds
/// contiguous frames, and what was lost (the last stored arrival before the kill,
/// on the host's CLOCK_MONOTONIC) is at most the documented 1 s commit interval.
@Suite struct KillFaultTests {
    /// CLOCK_MONOTONIC now, ns (the clock the recorder stamps host arrivals with).
    static func monotonicNs() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
    }

    /// Four kill moments between 0.05 s and 3 s after the session row first appears, on the
    /// real-time synthetic rig (IR 640x480, AE and BMS stamped on arrival as a real rig's
    /// drivers stamp them; the simulator batches its output per step, so its arrival stamps
    /// say nothing about what the recorder lost).
    static let cases: [(rig: [String], delayS: Double)] = {
        var g = SplitMix64(seed: 17)
        return (0..<4).map { _ in (["--rig", "synthetic"], Double.random(in: 0.05...3.0, using: &g)) }
    }()

    @Test(arguments: 0..<4)
    func killAtRandomMomentLosesAtMostOneSecond(_ index: Int) throws {
        let (rigArgs, delayS) = Self.cases[index]
        let trw = try #require(builtProduct("trw"), "build the trw product first (swift build)")
        let dir = TemporaryDirectory("trw-kill")
        let path = dir.file("killed.sqlite")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: trw)
        p.arguments = ["record"] + rigArgs + ["--name", "killed", "--out", path, "--duration", "600", "--quiet"]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        defer { if p.isRunning { kill(p.processIdentifier, SIGKILL); p.waitUntilExit() } }

        // The recording has begun once the session row is committed.
        let deadline = Date(timeIntervalSinceNow: 60)
        var started = false
        while Date() < deadline, p.isRunning {
            if FileManager.default.fileExists(atPath: path),
               let q = try? DatabaseQueue(path: path, configuration: Self.readOnly),
               let n = try? q.read({ try Int.fetchOne($0, sql: "SELECT count(*) FROM session") }), n == 1 {
                started = true
                break
            }
            usleep(10_000)
        }
        #expect(started, "the recorder never committed its session row")
        usleep(UInt32(delayS * 1e6))
        let killedAt = Self.monotonicNs()
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        let killed = p.terminationReason == .uncaughtSignal
        #expect(killed, "the recorder ended before the kill")

        let q = try DatabaseQueue(path: path, configuration: Self.readOnly)
        try q.read { db in
            #expect(try String.fetchOne(db, sql: "PRAGMA integrity_check") == "ok")
            let status = try String.fetchOne(db, sql: "SELECT status FROM session") ?? ""
            #expect(killed ? status == "recording" : status == "complete", "status \(status)")
            let lastArrival = try Int64.fetchOne(db, sql: """
                SELECT max(m) FROM (
                  SELECT max(host_arrival_ns) AS m FROM thermal_frame
                  UNION ALL SELECT max(host_arrival_ns) FROM audio_chunk
                  UNION ALL SELECT max(host_arrival_ns) FROM bms_sample)
                """)
            let frames = try Int64.fetchAll(db, sql: "SELECT sequence FROM thermal_frame ORDER BY sequence")
            #expect(frames == Array(0..<Int64(frames.count)), "frames are contiguous up to the last commit")
            if killed {
                let start = try Int64.fetchOne(db, sql: "SELECT start_monotonic_ns FROM session") ?? killedAt
                // Runs that die in their first second may have nothing committed yet: then the
                // loss is the time since the start, which must itself be within the bound.
                let lostNs = killedAt - (lastArrival ?? start)
                #expect(lostNs <= 1_000_000_000,
                        "kill at \(String(format: "%.2f", delayS)) s after start (\(rigArgs.joined(separator: " "))): lost \(Double(lostNs) / 1e9) s")
            }
        }
    }

    static var readOnly: Configuration {
        var c = Configuration()
        c.readonly = true
        return c
    }
}
