import Foundation
import Testing
import TRWCore
@testable import TRWImport
import TRWStore
import TRWTestSupport

/// `trw import` of files written by the cyclers' own software (Fixtures/cyclers, from navani's
/// MIT-licensed source distribution; provenance and checksums in its README.md).
@Suite struct RealCyclerFileTests {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/cyclers").path

    /// An interpreter that imports `module`: $TRW_PYTHON, else the repository's venv; nil when neither does.
    static func python(with module: String) -> String? {
        var candidates: [String] = []
        if let p = ProcessInfo.processInfo.environment["TRW_PYTHON"], !p.isEmpty { candidates.append(p) }
        candidates.append(repositoryRoot() + "/.venv/bin/python3")
        for c in candidates where FileManager.default.isExecutableFile(atPath: c) {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: c)
            p.arguments = ["-c", "import \(module)"]
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            guard (try? p.run()) != nil else { continue }
            p.waitUntilExit()
            if p.terminationStatus == 0 { return c }
        }
        return nil
    }

    /// A session without streams, started at `startUnixS` (UTC) and `spanS` long: the frame a cycler file is placed in.
    static func session(at path: String, startUnixS: Double, spanS: Double) throws {
        let w = try SessionWriter(creating: path, session: NewSession(
            name: "real-file", rigName: "test",
            clock: SessionClock(startMonotonicNs: 1_000_000_000_000, startRealtimeNs: Int64((startUnixS * 1e6).rounded()) * 1000)),
            softwareVersion: "test")
        try w.finalize(status: .complete, endTNs: Int64(spanS * 1e9))
    }

    @Test(.enabled(if: python(with: "galvani") != nil, "galvani is not installed (make deps, or TRW_PYTHON=a venv with galvani)"))
    func bioLogicMPR() throws {
        let dir = TemporaryDirectory("real-mpr")
        let session = dir.file("run.sqlite")
        // Acquisition started 2023-12-08 09:49:52.346 (the file's local time; taken as UTC here): the session 10 s before it.
        try Self.session(at: session, startUnixS: 1_702_028_992.346 - 10, spanS: 60)
        var q = SessionImport.Request(session: session, file: Self.folder + "/00_test_04_MB_C01.mpr", format: .biologic)
        q.python = Self.python(with: "galvani")!
        q.clock = .timestamps
        q.utcOffsetHours = 0
        let r = try SessionImport.run(q)
        #expect(r.rows == 1501 && r.badLines == 0)
        // Every row's Unix time is the acquisition start + time/s: the offset is the 10 s exactly (to float rounding).
        #expect(abs(r.offsetS - 10) < 1e-4, "offset \(r.offsetS)")
        let reader = try SessionReader(path: session)
        let st = try #require(try reader.stream(key: "cycler0"))
        let rows = try reader.bmsSamples(streamId: st.id!)
        #expect(rows.count == 1501)
        // Values as galvani reads them (float32 in the file, written with repr: exact).
        #expect(rows.first?.voltageV == -1.6501377820968628 && rows.last?.voltageV == -1.6501301527023315)
        #expect(rows[100].currentA == -0.04344627633690834 / 1000)
        #expect(abs(rows.first!.deviceTimeS! - 16.167399591577123) < 1e-12)
        #expect(abs(Double(rows.first!.tNs) / 1e9 - (10 + 16.167399591577123)) < 1e-3)
    }

    @Test(.enabled(if: python(with: "NewareNDA") != nil, "NewareNDA is not installed (make deps, or TRW_PYTHON=a venv with NewareNDA)"))
    func newareNDAX() throws {
        let dir = TemporaryDirectory("real-ndax")
        let session = dir.file("run.sqlite")
        // 2024-02-01 20:24:23 to 2024-02-02 08:34:23: a 13-hour session from 30 s before.
        try Self.session(at: session, startUnixS: 1_706_819_063 - 30, spanS: 13 * 3600)
        var q = SessionImport.Request(session: session, file: Self.folder + "/test.ndax", format: .neware)
        q.python = Self.python(with: "NewareNDA")!
        q.clock = .timestamps
        q.utcOffsetHours = 0
        let r = try SessionImport.run(q)
        #expect(r.rows == 1464 && r.badLines == 0)
        #expect(abs(r.offsetS - 30) < 1e-6, "offset \(r.offsetS)")
        let rows = try SessionReader(path: session).bmsSamples(streamId: try #require(try SessionReader(path: session).stream(key: "cycler0")).id!)
        #expect(rows.first?.voltageV == 3.466599941253662 && rows.last?.voltageV == 1.8105000257492065)
        #expect(rows[100].currentA == 0.11999999731779099 / 1000)
        // 12 h 10 min of test time, placed 30 s after the session's start.
        let testSpanS: Double = 12 * 3600 + 600
        #expect(rows.last!.deviceTimeS == testSpanS)
        let lastS = Double(rows.last!.tNs) / 1e9
        #expect(abs(lastS - (30 + testSpanS)) < 1e-6)
    }

    @Test func maccorText() throws {
        let file = Self.folder + "/maccor_example.txt"
        let t = try MaccorParser.parse(path: file, utcOffsetHours: nil)
        #expect(t.problems.isEmpty && t.rows.count == 37 && t.dataLines == 37)
        #expect(t.banner.count == 1 && t.banner[0].hasPrefix("Today's Date 01/15/2025"))
        // Line 8: Test (Min) 6.0000, Amps 0.0006100000 while charging (C), Volts 2.417, Amp-hr 0.0000050833.
        let c = try #require(t.rows.first { $0.line == 8 })
        #expect(c.timeS == 360 && c.currentA == 0.00061 && c.voltageV == 2.417 && c.extra["capacity_ah"] == 0.0000050833)
        #expect(c.extra["step_index"] == 3 && c.extra["cycle"] == 0 && c.extra["record"] == 6)
        // Line 16: discharging (D): the unsigned Amps becomes a negative current.
        let d = try #require(t.rows.first { $0.line == 16 })
        #expect(d.currentA == -0.00061 && d.voltageV == 2.717)
        #expect(t.rows.filter { $0.raw.contains("\tR\t") }.allSatisfy { $0.currentA == 0 })
        #expect(t.rows.filter { ($0.currentA ?? 0) > 0 }.count == 16 && t.rows.filter { ($0.currentA ?? 0) < 0 }.count == 16)

        // With --utc-offset its DPt Time is used, and the lines whose wall clock does not follow
        // the test time (12 of 37 onwards: 11:59:32 then 11:00:32) are named.
        let u = try MaccorParser.parse(path: file, utcOffsetHours: 0)
        #expect(u.rows.count == 11 && u.problems.count == 26)
        #expect(u.problems.first?.description
                == "line 14, column 'DPt Time': expected a wall time within 60 s of the test time's (720 s after the first line's; it is -3660 s off), found '11:00:32'")
        // 2025-01-15 11:49:32 (taken as UTC).
        #expect(u.rows.first?.unixTimeS == 1_736_941_772)

        // Imported by its wall clock, those lines left out as parse_error gaps when allowed.
        let dir = TemporaryDirectory("real-maccor")
        let session = dir.file("run.sqlite")
        try Self.session(at: session, startUnixS: 1_736_941_772 - 5, spanS: 3600)
        var q = SessionImport.Request(session: session, file: file, format: .maccor)
        q.clock = .timestamps
        q.utcOffsetHours = 0
        #expect(throws: ImportError.self) { try SessionImport.run(q) }
        q.maxBadLines = 26
        let r = try SessionImport.run(q)
        #expect(r.rows == 11 && r.badLines == 26)
        #expect(abs(r.offsetS - 5) <= 60)
        let reader = try SessionReader(path: session)
        #expect(try reader.gaps().filter { $0.kind == "parse_error" }.count == 26)
    }
}
