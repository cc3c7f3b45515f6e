import Foundation
import Testing
import TRWCore
import TRWImport
import TRWStore
import TRWTestSupport

/// `trw import` as a person runs it, and the Python converter behind the cycler formats.
@Suite struct ImportCLITests {
    func trw() throws -> String {
        try #require(builtProduct("trw"), "build the trw product first (swift build)")
    }

    /// The project's venv interpreter (make deps), or $TRW_PYTHON.
    func python() throws -> String {
        if let p = ProcessInfo.processInfo.environment["TRW_PYTHON"], !p.isEmpty { return p }
        let venv = repositoryRoot() + "/.venv/bin/python3"
        try #require(FileManager.default.isExecutableFile(atPath: venv), "no \(venv): run make deps (scripts/make-venv.sh installs galvani and NewareNDA)")
        return venv
    }

    @Test func importThenVerifyAndSyncReport() throws {
        let dir = TemporaryDirectory("import-cli")
        let session = dir.file("run.sqlite"), file = dir.file("cycler.bdf.csv")
        try ImportFixture.session(at: session)
        try ImportFixture.cyclerBDF(offsetS: -123.4567, rateError: 40e-6).write(toFile: file, atomically: true, encoding: .utf8)
        let run = try CLIRun.run(try trw(), ["import", session, file, "--format", "bdf", "--clock", "xcorr"], in: dir.path, timeoutS: 120)
        #expect(run.status == 0 && !run.signaled, "\(run)")
        #expect(run.stdout.contains("as stream cycler0 (role cycler)"))
        #expect(run.stdout.contains("clock: cross-correlation of voltage with supply0"))
        #expect(run.stdout.contains("backup of the session before the import: \(session).bak"))
        let verify = try CLIRun.run(try trw(), ["verify", session], in: dir.path, timeoutS: 60)
        #expect(verify.status == 0, "\(verify)")
        #expect(verify.stdout.contains("cycler0"))
        let sync = try CLIRun.run(try trw(), ["sync-report", session], in: dir.path, timeoutS: 60)
        #expect(sync.status == 0, "\(sync)")
        #expect(sync.stdout.contains("imported from cycler.bdf.csv (bdf): clock by cross-correlation of voltage with supply0"))
    }

    @Test func maccorTextExportByTheCLI() throws {
        let dir = TemporaryDirectory("import-cli-maccor")
        let session = dir.file("run.sqlite"), file = dir.file("cell07.001")
        try ImportFixture.session(at: session)
        try ImportFixture.maccorText(.mims, offsetS: -123.4567, rateError: 40e-6).write(toFile: file, atomically: true, encoding: .utf8)
        let run = try CLIRun.run(try trw(), ["import", session, file, "--format", "maccor", "--clock", "xcorr", "--json"], in: dir.path, timeoutS: 120)
        #expect(run.status == 0 && !run.signaled, "\(run)")
        let j = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        #expect(j["format"] as? String == "maccor" && j["stream"] as? String == "cycler0" && j["bad_lines"] as? Int == 0)
        #expect((j["columns"] as? [String])?.contains("Test (Min) -> time (from min)") == true, "\(j)")
        #expect((j["columns"] as? [String])?.contains("Amps -> current") == true)
        #expect(abs((j["offset_s"] as? Double ?? 0) + 123.4567) < 0.05)
    }

    @Test func usageErrorsAndRuntimeErrorsAreClear() throws {
        let dir = TemporaryDirectory("import-cli-bad")
        let session = dir.file("run.sqlite"), file = dir.file("x.csv")
        try ImportFixture.session(at: session)
        try "t,v\n0,1\n".write(toFile: file, atomically: true, encoding: .utf8)
        let badFormat = try CLIRun.run(try trw(), ["import", session, file, "--format", "xlsx"], in: dir.path)
        #expect(badFormat.status == 64 && badFormat.stderr.contains("--format must be one of bdf|csv|arbin|maccor|neware|biologic"))
        let noColumns = try CLIRun.run(try trw(), ["import", session, file, "--format", "csv", "--time-column", "t"], in: dir.path)
        #expect(noColumns.status == 64 && noColumns.stderr.contains("--columns"))
        let missing = try CLIRun.run(try trw(), ["import", session, file, "--format", "csv", "--time-column", "time", "--columns", "voltage=v"], in: dir.path)
        #expect(missing.status == 1 && missing.stderr.contains("--time-column names column 'time', which the header does not have; its columns are: t, v"), "\(missing)")
    }

    /// A BioLogic EC-Lab text export (.mpt), written here, read by galvani in the venv.
    static func biologicMPT(offsetS: Double) -> String {
        var lines = ["EC-Lab ASCII FILE", "Nb header lines : 5", "", "Acquisition started on : 03/01/2026 09:58:00.000",
                     "mode\ttime/s\tEwe/V\tI/mA\t(Q-Qo)/mA.h\tcycle number"]
        var tf = 0.0
        while offsetS + tf <= 1300 {
            let ts = offsetS + tf
            lines.append(String(format: "1\t%.3f\t%.5f\t%.2f\t%.4f\t0", tf, ImportFixture.voltage(ts), ImportFixture.current(ts) * 1000, tf * 0.01))
            tf += 1
        }
        return lines.joined(separator: "\r\n") + "\r\n"
    }

    @Test func aBioLogicFileGoesThroughGalvani() throws {
        let dir = TemporaryDirectory("import-biologic")
        let session = dir.file("run.sqlite"), file = dir.file("cell.mpt")
        try ImportFixture.session(at: session)
        // Acquisition started 09:58:00, read as UTC (--utc-offset 0): 120 s before the session (10:00:00Z),
        // so the file's timestamps agree with the cross-correlation's fit.
        try Data(Self.biologicMPT(offsetS: -120).utf8).write(to: URL(fileURLWithPath: file))
        var q = SessionImport.Request(session: session, file: file, format: .biologic)
        q.python = try python()
        q.utcOffsetHours = 0
        q.converterTimeoutS = 120
        let r = try SessionImport.run(q)
        #expect(r.clock == "xcorr")
        #expect(abs(r.offsetS - -120) < 0.020, "offset \(r.offsetS)")
        #expect(r.columns.contains("Cumulative Capacity / Ah -> cumulative_capacity_ah"))
        // Its own acquisition start (read as UTC) agrees with the cross-correlation's fit.
        let note = try #require(r.notes.first { $0.contains("s off the fitted times") })
        let stated = try #require(note.split(separator: " ").compactMap { Double($0) }.first, "\(note)")
        #expect(abs(stated) < 0.02, "\(note)")
        let reader = try SessionReader(path: session)
        let st = try #require(try reader.stream(key: "cycler0"))
        #expect(st.properties["import.format"] == "biologic")
        let rows = try reader.bmsSamples(streamId: st.id!)
        #expect(abs(rows[10].currentA! - ImportFixture.current(-110)) < 1e-9)
    }

    @Test func aConverterThatHangsIsEndedAtItsDeadline() throws {
        let dir = TemporaryDirectory("import-hang")
        let session = dir.file("run.sqlite"), file = dir.file("cell.mpr")
        try ImportFixture.session(at: session)
        try Data([0, 1, 2]).write(to: URL(fileURLWithPath: file))
        let fake = dir.file("python-that-hangs")
        try "#!/bin/sh\nsleep 30\n".write(toFile: fake, atomically: true, encoding: .utf8)
        _ = chmod(fake, 0o755)
        var q = SessionImport.Request(session: session, file: file, format: .biologic)
        q.python = fake
        q.converterTimeoutS = 0.5
        let t0 = Date()
        let e = #expect(throws: ImportError.self) { try SessionImport.run(q) }
        #expect(e?.description.contains("did not finish within 0.5 s") == true, "\(String(describing: e))")
        #expect(Date().timeIntervalSince(t0) < 10)
    }

    @Test func aReaderErrorNamesTheFile() throws {
        let dir = TemporaryDirectory("import-reader-error")
        let session = dir.file("run.sqlite"), file = dir.file("broken.mpt")
        try ImportFixture.session(at: session)
        try "not an EC-Lab file\n".write(toFile: file, atomically: true, encoding: .utf8)
        var q = SessionImport.Request(session: session, file: file, format: .biologic)
        q.python = try python()
        let e = #expect(throws: ImportError.self) { try SessionImport.run(q) }
        let m = e?.description ?? ""
        #expect(m.contains("broken.mpt: the biologic reader failed") && m.contains("Bad first line for EC-Lab file"), "\(m)")
        q.format = .maccor
        let e2 = #expect(throws: ImportError.self) { try SessionImport.run(q) }
        // Maccor is read by trw itself: the same text is not a Maccor export, and the error says what one is.
        #expect(e2?.description.hasPrefix("\(file): not a Maccor text export: none of its first 1 lines is a column header") == true, "\(String(describing: e2))")
    }
}
