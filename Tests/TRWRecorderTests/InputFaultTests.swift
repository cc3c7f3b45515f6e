import Foundation
import GRDB
import Testing
import TRWStore
import TRWTestSupport

/// A small simulated session for CLI fault tests: 64x48 IR at 1 Hz, AE at 16 kHz, BMS at 1 Hz.
enum SmallSession {
    static let scenario = """
        name = "small"
        seed = 7
        [protocol]
        c_rate = 2.0
        start_soc = 1.35
        [grid]
        nx = 16
        ny = 12
        [sensors.ir]
        width = 64
        height = 48
        fps = 1
        [sensors.ae]
        rate_hz = 16000
        [run]
        duration_cap_s = 20
        """

    /// Simulates the scenario into `dir/name`; returns the session path.
    static func make(_ trw: String, in dir: TemporaryDirectory, name: String = "s.sqlite") throws -> String {
        let toml = dir.file("small.toml")
        try scenario.write(toFile: toml, atomically: true, encoding: .utf8)
        let r = try CLIRun.run(trw, ["simulate", toml, "--out", dir.file(name)], in: dir.path, timeoutS: 120)
        guard r.status == 0, !r.signaled else { throw CLIFailure(run: r) }
        return dir.file(name)
    }

    static func integrity(_ path: String) throws -> String? {
        try DatabaseQueue(path: path).read { try String.fetchOne($0, sql: "PRAGMA integrity_check") }
    }

    static func status(_ path: String) throws -> (String, String)? {
        try DatabaseQueue(path: path).read { db in
            try Row.fetchOne(db, sql: "SELECT status, status_detail FROM session").map { ($0[0], $0[1]) }
        }
    }
}

struct CLIFailure: Error, CustomStringConvertible {
    var run: CLIRun
    var description: String { "\(run)" }
}

/// Each crash the issue measured (38 runs, 8 causes), as a run of the trw binary:
/// it must end with a status (64 usage error naming the option, or 1 runtime
/// error naming file/stream/field), never a signal, and leave no session behind
/// in status `recording` and no 0-byte file.
@Suite(.serialized) struct InputFaultTests {
    /// (arguments with S for the session, expected status, text the message must contain)
    static let measured: [([String], Int32, String)] = [
        (["label", "add", "S", "venting", "1e30"], 64, "'1e30' is not a time"),
        (["frame", "S", "--at", "1e300", "-o", "f.png"], 64, "'1e300' is not a time"),
        (["annotate", "S", "--snapshot", "100x30", "--at", "1e300"], 64, "'1e300' is not a time"),
        (["plot", "S", "--from", "1e300"], 64, "'1e300' is not a time"),
        (["mark", "S", "hi", "--at", "nan"], 64, "--at must be"),
        (["annotate", "S", "--snapshot", "100x30", "--span", "0"], 64, "--span must be in (0, 1e+07]"),
        (["annotate", "S", "--snapshot", "100x30", "--span", "nan"], 64, "--span must be"),
        (["annotate", "S", "--snapshot", "100x30", "--span=-5"], 64, "--span must be"),
        (["annotate", "S", "--snapshot", "100000x100000"], 64, "--snapshot wants COLSxROWS"),
        (["record", "--rig", "synthetic", "--duration", "inf", "--max", "--out", "r1.sqlite"], 64, "--duration must be in (0, 1e+07]"),
        (["record", "--speed", "1e-300", "--out", "r2.sqlite"], 64, "--speed must be in [0.001, 100000]"),
        (["simulate", "small.toml", "--speed", "1e-300", "--out", "r3.sqlite"], 64, "--speed must be"),
        (["simulate", "demo", "--ir-width", "0", "--out", "r4.sqlite"], 64, "--ir-width must be in 8...2048"),
        (["simulate", "demo", "--ir-width=-640", "--out", "r4.sqlite"], 64, "--ir-width must be in 8...2048"),
        (["simulate", "demo", "--ir-width", "100000", "--out", "r4.sqlite"], 64, "--ir-width must be in 8...2048"),
        (["record", "--rig", "synthetic", "--sensing", "ir_fps=20000", "--duration", "2", "--out", "r5.sqlite"], 64, "--sensing ir_fps must be"),
        (["record", "--rig", "synthetic", "--sensing", "ae_threshold_db=nan", "--duration", "2", "--out", "r6.sqlite"], 64, "--sensing ae_threshold_db"),
        // A time past the end shows no frame (it used to show the last one as if it were there).
        (["frame", "S", "--at", "99999", "-o", "past-end.png"], 1, "outside the session"),
    ]

    @Test func everyMeasuredCrashIsAStatusNamingTheOption() throws {
        let trw = try #require(builtProduct("trw"), "build the trw product first (swift build)")
        let dir = TemporaryDirectory()
        let s = try SmallSession.make(trw, in: dir)
        for (args, expected, message) in Self.measured {
            let r = try CLIRun.run(trw, args.map { $0 == "S" ? s : $0 }, in: dir.path, timeoutS: 60)
            #expect(!r.signaled && !r.timedOut, "\(r)")
            #expect(r.status == expected, "\(r)")
            #expect(r.stderr.contains(message), "\(r)")
        }
        // Nothing was created by the refused recordings: no file blocks the name later.
        for n in 1...6 { #expect(!FileManager.default.fileExists(atPath: dir.file("r\(n).sqlite")), "r\(n).sqlite") }
        #expect(try SmallSession.integrity(s) == "ok")
    }

    /// A stream with nominal_rate_hz = 0 (and other numbers no reader can use) is a
    /// runtime error naming file, stream and field: export, replay, score, predict exit 1.
    @Test(arguments: [
        ("nominal_rate_hz = 0", "ae0", "nominal_rate_hz"),
        ("nominal_rate_hz = 1e308 * 10", "bms0", "nominal_rate_hz"),
        ("width = 100000", "ir0", "width"),
        ("channels = 0", "ae0", "channels"),
        ("calibration_json = '{\"kelvinPerCount\":0,\"offsetKelvin\":0,\"emissivity\":1}'", "ir0", "kelvin_per_count"),
    ])
    func unusableStreamNumbersAreRuntimeErrors(update: String, stream: String, field: String) throws {
        let trw = try #require(builtProduct("trw"), "build the trw product first (swift build)")
        let dir = TemporaryDirectory()
        let s = try SmallSession.make(trw, in: dir)
        try DatabaseQueue(path: s).write { try $0.execute(sql: "UPDATE stream SET \(update) WHERE key = '\(stream)'") }
        for args in [["export", s, "--out", dir.file("x.npz")], ["replay", s], ["score", s], ["predict", s, "--detector", "dtdt"],
                     ["frame", s, "--at", "5", "-o", dir.file("f.png")], ["info", s]] {
            let r = try CLIRun.run(trw, args, in: dir.path, timeoutS: 60)
            #expect(!r.signaled && !r.timedOut, "\(r)")
            #expect(r.status == 1, "\(r)")
            #expect(r.stderr.contains("stream \(stream): ") && r.stderr.contains(field), "\(r)")
        }
    }

    /// --sensing out of range, or for a stream kind the rig lacks, is refused before the session file exists.
    @Test func sensingIsCheckedBeforeTheSessionExists() throws {
        let trw = try #require(builtProduct("trw"), "build the trw product first (swift build)")
        let dir = TemporaryDirectory()
        for v in ["ir_fps=20000", "ir_fps=0", "bms_hz=-1", "ae_threshold_db=141", "ir_fps=inf", "bms_hz=1e-300x"] {
            let out = dir.file("sense.sqlite")
            let r = try CLIRun.run(trw, ["record", "--rig", "synthetic", "--sensing", v, "--duration", "1", "--quiet", "--out", out],
                                   in: dir.path, timeoutS: 60)
            #expect(!r.signaled && r.status == 64, "\(r)")
            #expect(r.stderr.contains("--sensing"), "\(r)")
            #expect(!FileManager.default.fileExists(atPath: out), "\(v) created the session file")
        }
    }

    /// A record whose session cannot be created (file-size limit 0: the first write fails)
    /// exits 1 and leaves no 0-byte file; the next run with the same name works.
    @Test func failedCreationLeavesNoFileThatBlocksTheName() throws {
        let trw = try #require(builtProduct("trw"), "build the trw product first (swift build)")
        let dir = TemporaryDirectory()
        let out = dir.file("full.sqlite")
        let args = ["record", "--rig", "synthetic", "--duration", "1", "--max", "--quiet", "--out", out]
        let r = try CLIRun.run(trw, args, in: dir.path, timeoutS: 60, shellPrefix: "trap '' XFSZ; ulimit -f 0", pipes: true)
        #expect(!r.signaled && r.status == 1, "\(r)")
        #expect(r.stderr.contains(out), "\(r)")
        for suffix in ["", "-wal", "-shm", "-journal"] {
            #expect(!FileManager.default.fileExists(atPath: out + suffix), "full.sqlite\(suffix) was left behind")
        }
        let again = try CLIRun.run(trw, args, in: dir.path, timeoutS: 60)
        #expect(again.status == 0, "\(again)")
        #expect(try SmallSession.status(out)?.0 == "complete")
    }

    /// --live on a path that cannot be bound fails (a usage error when it can be seen
    /// from the path, a runtime error when binding fails) before the session file exists.
    @Test func badLivePathFailsBeforeCreation() throws {
        let trw = try #require(builtProduct("trw"), "build the trw product first (swift build)")
        let dir = TemporaryDirectory()
        let out = dir.file("live.sqlite")
        let r = try CLIRun.run(trw, ["record", "--rig", "synthetic", "--duration", "1", "--quiet", "--live", "unix:/nonexistent-dir/x.sock",
                                     "--out", out], in: dir.path, timeoutS: 60)
        #expect(!r.signaled && (r.status == 64 || r.status == 1), "\(r)")
        #expect(r.stderr.contains("/nonexistent-dir"), "\(r)")
        #expect(!FileManager.default.fileExists(atPath: out))
    }

    /// Unknown keys in a scenario or a rig file stop `trw simulate` / `trw record` / `trw rig check`
    /// with FILE:LINE and the nearest key, before anything is created.
    @Test func unknownKeysStopTheCommands() throws {
        let trw = try #require(builtProduct("trw"), "build the trw product first (swift build)")
        let dir = TemporaryDirectory()
        let sc = dir.file("typo.toml")
        try (SmallSession.scenario + "\n[cell]\ncapcity_ah = 20\n").write(toFile: sc, atomically: true, encoding: .utf8)
        let sim = try CLIRun.run(trw, ["simulate", sc, "--out", dir.file("typo.sqlite")], in: dir.path)
        #expect(!sim.signaled && sim.status == 1, "\(sim)")
        #expect(sim.stderr.contains("typo.toml:18: unknown key 'cell.capcity_ah'; did you mean 'capacity_ah'?"), "\(sim)")
        let rec = try CLIRun.run(trw, ["record", "--rig", "sim:" + sc, "--out", dir.file("typo2.sqlite")], in: dir.path)
        #expect(!rec.signaled && rec.status == 1 && rec.stderr.contains("capcity_ah"), "\(rec)")
        #expect(!FileManager.default.fileExists(atPath: dir.file("typo.sqlite")) && !FileManager.default.fileExists(atPath: dir.file("typo2.sqlite")))

        let rig = dir.file("rig.toml")
        let text = try String(contentsOfFile: repositoryRoot() + "/rigs/ae-alsa-192k.toml", encoding: .utf8)
        try text.replacingOccurrences(of: "[ae.detector]", with: "frame_limt = 100\n[ae.detector]").write(toFile: rig, atomically: true, encoding: .utf8)
        let check = try CLIRun.run(trw, ["rig", "check", rig], in: dir.path)
        #expect(!check.signaled && check.status == 1, "\(check)")
        #expect(check.stderr.contains("rig.toml:") && check.stderr.contains("ae[0].frame_limt: unknown key 'frame_limt'; did you mean 'frame_limit'?"), "\(check)")
    }
}
