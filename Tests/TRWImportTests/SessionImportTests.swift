import Foundation
import Testing
import TRWCore
import TRWDatasets
@testable import TRWImport
import TRWStore
import TRWSync
import TRWTestSupport

/// `trw import` of a cycler file into a simulated session: the clock recovered, the rows
/// stored, the session backed up and still sound.
@Suite struct SessionImportTests {
    /// The cycler's clock: its t = 0 is 123.4567 s before the session's, and it runs 100 ppm
    /// slow (session seconds per file second 1 + 100e-6; trw's drift convention: -100 ppm),
    /// 0.12 s over the 20-minute session.
    static let trueOffsetS = -123.4567
    static let trueRateError = 100e-6

    /// Tolerances stated for the recovery (docs/import.md): 1 Hz cycler rows against a 2 Hz supply,
    /// 1 mV / 3 mA noise, current steps every 8-48 s slewed over 2 s, 20 minutes of overlap.
    /// The session time of every row within 20 ms, the drift within 25 ppm; and the error within
    /// three of the standard errors the import states.
    static let timeToleranceS = 0.020
    static let driftTolerancePpm = 25.0

    func setUp(_ dir: TemporaryDirectory, bdf: String) throws -> (session: String, file: String) {
        let session = dir.file("run.sqlite"), file = dir.file("cycler.bdf.csv")
        try ImportFixture.session(at: session)
        try bdf.write(toFile: file, atomically: true, encoding: .utf8)
        return (session, file)
    }

    @Test func crossCorrelationRecoversAKnownOffsetAndDrift() throws {
        let dir = TemporaryDirectory("import-xcorr")
        let (session, file) = try setUp(dir, bdf: ImportFixture.cyclerBDF(offsetS: Self.trueOffsetS, rateError: Self.trueRateError))
        var q = SessionImport.Request(session: session, file: file, format: .bdf)
        q.clock = .xcorr
        let r = try SessionImport.run(q)
        #expect(r.clock == "xcorr" && r.driftResolved)
        #expect(r.reference == "supply0")
        #expect(r.signal == "voltage")
        #expect(r.stream == "cycler0")
        let trueDriftPpm = (1 / (1 + Self.trueRateError) - 1) * 1e6
        print(String(format: "import xcorr: offset error %.3f ms (stated s.e. %.3f ms), drift error %.3f ppm (stated s.e. %.3f ppm), %ld windows",
                     (r.offsetS - Self.trueOffsetS) * 1e3, r.offsetStdErrS * 1e3, r.driftPpm - trueDriftPpm, r.driftStdErrPpm, r.windowsUsed))
        // Session time of file t = 0 and of the file's last row (1600 s later, where drift shows most).
        #expect(abs(r.offsetS - Self.trueOffsetS) < Self.timeToleranceS, "offset \(r.offsetS) vs \(Self.trueOffsetS)")
        #expect(abs(r.driftPpm - trueDriftPpm) < Self.driftTolerancePpm, "drift \(r.driftPpm) vs \(trueDriftPpm)")
        // The stated uncertainty is honest: the true offset lies within 5 standard errors (and the error is not zero).
        #expect(r.offsetStdErrS > 0 && abs(r.offsetS - Self.trueOffsetS) < 3 * r.offsetStdErrS)
        #expect(r.driftStdErrPpm > 0 && abs(r.driftPpm - trueDriftPpm) < 3 * r.driftStdErrPpm)

        let reader = try SessionReader(path: session)
        let st = try #require(try reader.stream(key: "cycler0"))
        #expect(st.role == "cycler")
        #expect(st.isImported)
        let rows = try reader.bmsSamples(streamId: st.id!)
        #expect(rows.count == r.rows)
        for row in rows {
            let truth = Self.trueOffsetS + (1 + Self.trueRateError) * row.deviceTimeS!
            #expect(abs(Double(row.tNs) / 1e9 - truth) < Self.timeToleranceS)
        }
        #expect(rows.allSatisfy { $0.extra["cumulative_capacity_ah"] != nil && $0.cellTempC != nil && $0.extra["step_index"] == 1 })
        // The clock model is stored as every stream's is, and the sync report shows it.
        let model = try ClockModel.fromJSONText(try #require(try reader.clockModels(streamId: st.id!).last).modelJson)
        #expect(model.segments.first?.method == .crossCorrelation)
        let fileEnd = try #require(rows.last?.deviceTimeS)
        let host = model.hostTime(device: Int64(fileEnd * 1e9))
        let modelT = Double(host - ImportFixture.startMonotonicNs) / 1e9
        #expect(abs(modelT - (Self.trueOffsetS + (1 + Self.trueRateError) * fileEnd)) < Self.timeToleranceS)
        let report = try SessionSync.report(path: session)
        let line = try #require(report.streams.first { $0.stream == "cycler0" })
        #expect(line.note?.contains("cross-correlation of voltage with supply0") == true)
        #expect(report.text.contains("imported from cycler.bdf.csv (bdf)"))
        // Backed up before the change: the backup has no cycler stream, the session verifies.
        #expect(try SessionReader(path: session + ".bak").stream(key: "cycler0") == nil)
        #expect(try !SessionVerifier.verify(path: session, fullDecode: false).isDamaged)
        // resync leaves the imported stream's times alone.
        _ = try SessionSync.resync(path: session)
        let after = try SessionReader(path: session).bmsSamples(streamId: st.id!)
        #expect(after.map(\.tNs) == rows.map(\.tNs))
    }

    @Test func currentSignalAndAnExplicitReferenceWorkToo() throws {
        let dir = TemporaryDirectory("import-current")
        let (session, file) = try setUp(dir, bdf: ImportFixture.cyclerBDF(offsetS: 12.5, rateError: -20e-6))
        var q = SessionImport.Request(session: session, file: file, format: .bdf)
        q.clock = .xcorr
        q.signal = .current
        q.reference = "supply0"
        q.key = "arbin_ch3"
        let r = try SessionImport.run(q)
        #expect(r.signal == "current" && r.stream == "arbin_ch3")
        #expect(abs(r.offsetS - 12.5) < Self.timeToleranceS)
        #expect(abs(r.driftPpm - (1 / (1 - 20e-6) - 1) * 1e6) < Self.driftTolerancePpm)
    }

    @Test func timestampsPlaceTheFileByItsAbsoluteTimes() throws {
        let dir = TemporaryDirectory("import-ts")
        // Timestamps from a clock 0 s off: t = 0 of the file lands at the true offset.
        let (session, file) = try setUp(dir, bdf: ImportFixture.cyclerBDF(offsetS: -50, rateError: 0, unixErrorS: 0))
        var q = SessionImport.Request(session: session, file: file, format: .bdf)
        q.clock = .timestamps
        q.timestampUncertaintyS = 0.5
        let r = try SessionImport.run(q)
        #expect(r.clock == "timestamps")
        #expect(abs(r.offsetS - -50) < 0.001)
        #expect(r.offsetStdErrS == 0.5)
        let reader = try SessionReader(path: session)
        let stream = try #require(try reader.stream(key: "cycler0"))
        let record = try #require(try reader.clockModels(streamId: stream.id!).last)
        let model = try ClockModel.fromJSONText(record.modelJson)
        #expect(model.segments[0].method == .timestamps)
        #expect(model.segments[0].offsetStdErrNs == 0.5e9)
    }

    @Test func autoPrefersCrossCorrelationAndReportsTheFileClocksError() throws {
        let dir = TemporaryDirectory("import-auto")
        // The cycler PC's clock is 2.5 s fast: its timestamps would misplace the file by 2.5 s.
        let (session, file) = try setUp(dir, bdf: ImportFixture.cyclerBDF(offsetS: -10, rateError: 0, unixErrorS: 2.5))
        let r = try SessionImport.run(SessionImport.Request(session: session, file: file, format: .bdf))
        #expect(r.clock == "xcorr")
        #expect(abs(r.offsetS - -10) < Self.timeToleranceS)
        // The note gives the file clock's error against the fit: 2.5 s, to the fit's precision.
        let note = try #require(r.notes.first { $0.contains("s off the fitted times") })
        let stated = try #require(Double(note.split(separator: " ").first { $0.hasPrefix("+") }.map { String($0.dropFirst()) } ?? ""))
        #expect(abs(stated - 2.5) < Self.timeToleranceS, "\(note)")
    }

    @Test func aPlainCSVWithUnitsAndOptions() throws {
        let dir = TemporaryDirectory("import-csv")
        let session = dir.file("run.sqlite"), file = dir.file("logger.csv")
        try ImportFixture.session(at: session)
        // Semicolons, time in ms, voltage in mV, current in mA, temperature in K, a banner line.
        var lines = ["Logger XYZ export v2", "ms;U_mV;I_mA;T_K;note"]
        var tf = 0.0
        while tf <= 1_300_000 {
            let ts = 30 + tf / 1000
            lines.append(String(format: "%.0f;%.3f;%.2f;%.2f;ok", tf, ImportFixture.voltage(ts) * 1000,
                                ImportFixture.current(ts) * 1000, 298.15))
            tf += 1000
        }
        try lines.joined(separator: "\n").write(toFile: file, atomically: true, encoding: .utf8)
        var q = SessionImport.Request(session: session, file: file, format: .csv)
        q.csv.timeColumn = "ms"
        q.csv.timeUnit = "ms"
        q.csv.delimiter = ";"
        q.csv.skipLines = 1
        q.csv.columns = [.init(field: "voltage", header: "U_mV", unit: "mV"), .init(field: "current", header: "I_mA", unit: "mA"),
                         .init(field: "cell_temp", header: "T_K", unit: "K")]
        q.role = .logger
        let r = try SessionImport.run(q)
        #expect(r.stream == "logger0")
        #expect(r.ignoredColumns == ["note"])
        #expect(abs(r.offsetS - 30) < Self.timeToleranceS)
        let rows = try SessionReader(path: session).bmsSamples(streamId: try #require(try SessionReader(path: session).stream(key: "logger0")).id!)
        let first = try #require(rows.first)
        #expect(abs(first.voltageV! - ImportFixture.voltage(30)) < 1e-6)
        #expect(abs(first.currentA! - ImportFixture.current(30)) < 1e-6)
        #expect(abs(first.cellTempC! - 25) < 1e-9)
        #expect(first.raw.hasSuffix(";ok"))
    }

    // MARK: - bad input: clear errors, nothing changed

    /// Runs an import that must fail; checks the message and that the session and its folder are unchanged.
    func refused(_ bdf: String, format: ImportFormat = .bdf, configure: (inout SessionImport.Request) -> Void = { _ in }) throws -> String {
        let dir = TemporaryDirectory("import-bad")
        let (session, file) = try setUp(dir, bdf: bdf)
        let before = try Data(contentsOf: URL(fileURLWithPath: session))
        var q = SessionImport.Request(session: session, file: file, format: format)
        configure(&q)
        do {
            _ = try SessionImport.run(q)
        } catch let e as ImportError {
            #expect(try Data(contentsOf: URL(fileURLWithPath: session)) == before)
            #expect(!FileManager.default.fileExists(atPath: session + ".bak"))
            return e.description
        }
        Issue.record("the import was not refused")
        return ""
    }

    @Test func wrongColumnsAreRefusedNamingTheMissingOne() throws {
        let m = try refused("Test Time / s,Volts,Current / A\n0,3.7,1\n1,3.7,1\n")
        #expect(m.contains("no column 'Voltage / V'") && m.contains("its columns are: Test Time / s, Volts, Current / A"))
    }

    @Test func aNonNumericValueIsReportedByLineAndColumn() throws {
        var text = ImportFixture.cyclerBDF(offsetS: 0, rateError: 0)
        var lines = text.split(separator: "\n").map(String.init)
        var cells = lines[5].split(separator: ",").map(String.init)
        cells[1] = "3x7V"
        lines[5] = cells.joined(separator: ",")
        text = lines.joined(separator: "\n")
        let m = try refused(text)
        #expect(m.contains("1 of") && m.contains("line 6, column 'Voltage / V': expected a number") && m.contains("found '3x7V'"))
        #expect(m.contains("nothing was imported"))
    }

    @Test func outOfRangeNumbersAreRefused() throws {
        let m = try refused("Test Time / s,Voltage / V,Current / A\n0,3.7,1\n1,3.7e6,1\n2,3.7,nan\n3,3.7,1\n2.5,3.7,1\n")
        #expect(m.contains("3 of 5 data lines are bad"))
        #expect(m.contains("line 3, column 'Voltage / V': expected a voltage -1000 to 1000 V, found '3.7e6'"))
        #expect(m.contains("line 4, column 'Current / A': expected a current -10000 to 10000 A, found 'nan'"))
        #expect(m.contains("line 6, column 'Test Time / s'"))
    }

    @Test func aShortLineIsReported() throws {
        let m = try refused("Test Time / s,Voltage / V,Current / A\n0,3.7,1\n1,3.7\n")
        #expect(m.contains("line 3: 3 fields as in the header, found 2 fields"))
    }

    @Test func anEmptyFileAndAHeaderOnlyFileAreRefused() throws {
        #expect(try refused("").contains("the file is empty"))
        #expect(try refused("Test Time / s,Voltage / V,Current / A\n").contains("no data lines after the header"))
    }

    @Test func aFileThatDoesNotCoverTheSessionIsRefused() throws {
        // By timestamps: the file's rows fall an hour after the session ended.
        let late = try refused(ImportFixture.cyclerBDF(offsetS: 5000, rateError: 0, from: 5000, to: 6000, unixErrorS: 0)) { $0.clock = .timestamps }
        #expect(late.contains("does not cover the session") && late.contains("session spans 0 .. 1200.000 s"))
        // By cross-correlation: a file of another run (flat voltage) matches nowhere.
        var flat = ["Test Time / s,Voltage / V,Current / A"]
        for i in 0..<600 { flat.append("\(i),\(3.7 + 0.0001 * Double(i % 7)),0.5") }
        let nomatch = try refused(flat.joined(separator: "\n")) { $0.clock = .xcorr }
        #expect(nomatch.contains("no match") || nomatch.contains("no window of the file correlates"))
    }

    @Test func timestampsAreRequiredForTimestampMode() throws {
        let m = try refused(ImportFixture.cyclerBDF(offsetS: 0, rateError: 0)) { $0.clock = .timestamps }
        #expect(m.contains("needs absolute times in the file"))
    }

    @Test func badLinesWithinTheAllowanceBecomeGaps() throws {
        let dir = TemporaryDirectory("import-gaps")
        var lines = ImportFixture.cyclerBDF(offsetS: -20, rateError: 0).split(separator: "\n").map(String.init)
        lines[100] = "100,bad,1,0,25,1"
        let (session, file) = try setUp(dir, bdf: lines.joined(separator: "\n"))
        var q = SessionImport.Request(session: session, file: file, format: .bdf)
        q.maxBadLines = 1
        let r = try SessionImport.run(q)
        #expect(r.badLines == 1 && r.problems == ["line 101, column 'Voltage / V': expected a number (a voltage -1000 to 1000 V), found 'bad'"])
        let reader = try SessionReader(path: session)
        let id = try #require(try reader.stream(key: "cycler0")).id!
        let gaps = try reader.gaps(streamId: id)
        #expect(gaps.count == 1 && gaps[0].kind == "parse_error" && gaps[0].detail.contains("line 101"))
        #expect(try !SessionVerifier.verify(path: session, fullDecode: false).isDamaged)
    }

    @Test func anExistingBackupIsNeverOverwritten() throws {
        let dir = TemporaryDirectory("import-bak")
        let (session, file) = try setUp(dir, bdf: ImportFixture.cyclerBDF(offsetS: 0, rateError: 0))
        try Data("older backup".utf8).write(to: URL(fileURLWithPath: session + ".bak"))
        let before = try Data(contentsOf: URL(fileURLWithPath: session))
        #expect(throws: SessionStoreError.alreadyExists(path: session + ".bak")) {
            try SessionImport.run(SessionImport.Request(session: session, file: file, format: .bdf))
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: session)) == before)
        #expect(try String(contentsOfFile: session + ".bak", encoding: .utf8) == "older backup")
    }

    @Test func aSecondImportGetsTheNextKey() throws {
        let dir = TemporaryDirectory("import-twice")
        let (session, file) = try setUp(dir, bdf: ImportFixture.cyclerBDF(offsetS: 0, rateError: 0))
        _ = try SessionImport.run(SessionImport.Request(session: session, file: file, format: .bdf))
        var q = SessionImport.Request(session: session, file: file, format: .bdf)
        q.backup = dir.file("second.bak")
        #expect(try SessionImport.run(q).stream == "cycler1")
    }

    @Test(arguments: [(",", "a,\"b,c\",d", ["a", "b,c", "d"]), (";", "1;\"x\"\"y\";", ["1", "x\"y", ""]), ("\t", "1\t2", ["1", "2"])])
    func fieldsSplitWithQuotes(delimiter: String, line: String, fields: [String]) {
        #expect(DelimitedParser.splitFields(line, delimiter: Character(delimiter)) == fields)
    }
}
