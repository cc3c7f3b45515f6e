import Foundation
import Testing
import TRWCore
@testable import TRWImport
import TRWStore
import TRWSync
import TRWTestSupport

/// `trw import --format maccor`: Maccor's text exports read directly (units, the current's
/// sign from the State column, the banner's date, midnight roll-over), placed in time by
/// cross-correlation and by DPt Time with --utc-offset, and bad input refused line by line.
@Suite struct MaccorImportTests {
    static let trueOffsetS = -123.4567
    static let trueRateError = 100e-6

    func write(_ text: String, _ dir: TemporaryDirectory, _ name: String) throws -> String {
        let path = dir.file(name)
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test func oneLineBannerLayoutInMinutesAndAmps() throws {
        let dir = TemporaryDirectory("maccor-mims")
        let file = try write(ImportFixture.maccorText(.mims, offsetS: Self.trueOffsetS, rateError: Self.trueRateError), dir, "cell07.001")
        let t = try MaccorParser.parse(path: file, utcOffsetHours: nil)
        #expect(t.problems.isEmpty, "\(t.problems)")
        #expect(t.banner.count == 1 && t.banner[0].hasPrefix("Today's Date 03/02/2026"))
        // Test (Min) 0.0167 -> 1.002 s: minutes converted, 4 decimals as Maccor writes them.
        let r = t.rows[1]
        #expect(abs(r.timeS - 1.0) < 0.003 && r.line == 4)
        #expect(t.columns.contains { $0.header == "Test (Min)" && $0.field == .time && $0.scale == 60 })
        #expect(t.columns.contains { $0.header == "Amps" && $0.field == .current && $0.scale == 1 })
        // Every row's values as written: Volts, Amps (charge: positive), Amp-hr, Step, Rec#.
        let fields = r.raw.split(separator: "\t").map(String.init)
        #expect(r.voltageV == Double(fields[8]) && r.currentA == Double(fields[7]))
        #expect(r.extra["capacity_ah"] == Double(fields[5]) && r.extra["record"] == 2 && r.extra["step_index"] == Double(fields[2]))
        #expect(r.extra["step_time_s"] != nil && r.extra["end_status"] != nil)
        #expect(t.rows.allSatisfy { ($0.currentA ?? -1) >= 0 })
        // DPt Time is a local wall time: without --utc-offset it is kept in raw only.
        #expect(t.rows.allSatisfy { $0.unixTimeS == nil })
        #expect(t.ignoredColumns.contains("DPt Time (no --utc-offset)") && t.ignoredColumns.contains("State (signs the current)"))
    }

    @Test func mimsClient2LayoutDurationsAuxAndTrailingTab() throws {
        let dir = TemporaryDirectory("maccor-mims2")
        let file = try write(ImportFixture.maccorText(.mimsClient2, offsetS: 0, rateError: 0, from: 0, to: 100), dir, "cell07.txt")
        let t = try MaccorParser.parse(path: file, utcOffsetHours: ImportFixture.maccorUTCOffsetHours)
        #expect(t.problems.isEmpty, "\(t.problems)")
        #expect(t.banner.count == 3)
        #expect(t.rows.count == 101)
        // `  0d 00:01:40` is 100 s.
        #expect(t.rows.last!.timeS == 100)
        // DPt Time `03/01/2026 11:01:40` in CET is 10:01:40 UTC: the session's start + 100 s.
        #expect(t.rows.last!.unixTimeS == ImportFixture.startUnixS + 100)
        // Aux #1 (a thermocouple, unit C in its Units column) and the unconnected Aux #2 (-2501.7) are kept as extra values.
        #expect(t.rows[0].extra["aux_1"] == 25 && t.rows[0].extra["aux_2"] == -2501.71411)
        #expect(t.columns.contains { $0.field == .extra("aux_1") && $0.unit == "C" })
        #expect(t.rows[0].extra["ac_impedance_ohm"] == 0 && t.rows[0].extra["var1"] == 0)
    }

    @Test func csvLayoutInMilliampsWithDates() throws {
        let dir = TemporaryDirectory("maccor-csv")
        let file = try write(ImportFixture.maccorText(.csv, offsetS: 0, rateError: 0, from: 0, to: 600), dir, "cell07.csv")
        let t = try MaccorParser.parse(path: file, utcOffsetHours: 1)
        #expect(t.problems.isEmpty, "\(t.problems)")
        #expect(t.columns.contains { $0.header == "Current [mA]" && $0.field == .current && $0.scale == 1e-3 })
        for r in t.rows {
            let fields = r.raw.split(separator: ",").map(String.init)
            // mA -> A, exactly the written value / 1000.
            #expect(r.currentA == Double(fields[8])! * 1e-3)
            #expect(r.timeS == Double(fields[4])!)
            #expect(r.unixTimeS == ImportFixture.startUnixS + r.timeS)
            #expect(r.extra["cycle"] == 0 && r.extra["cycle_p"] == 1)
        }
    }

    /// The State column signs the current: C +, D -, R as written, S as the line before.
    @Test func stateSignsTheCurrent() throws {
        let dir = TemporaryDirectory("maccor-sign")
        let text = """
            Today's Date 04/04/2016  Date of Test:\t03/31/2016\t Filename:\tX.001 Procedure: P.000\tComment/Barcode: sign test
            Rec#\tCyc#\tStep\tTest (Sec)\tStep (Sec)\tAmp-hr\tWatt-hr\tAmps(mA)\tVolts\tState\tES\tDPt Time
            1\t0\t1\t0\t0\t0\t0\t0.0\t3.30\tR\t0\t23:59:58
            2\t0\t2\t1\t0\t0\t0\t500.0\t3.40\tC\t0\t23:59:59
            3\t0\t2\t2\t1\t0\t0\t500.0\t3.41\tS\t133\t00:00:00
            4\t0\t3\t3\t0\t0\t0\t250.0\t3.38\tD\t0\t00:00:01
            5\t0\t3\t4\t1\t0\t0\t-250.0\t3.37\tD\t5\t00:00:02
            6\t0\t3\t5\t2\t0\t0\t250.0\t3.36\tS\t133\t00:00:03

            """
        let file = try write(text, dir, "sign.001")
        let t = try MaccorParser.parse(path: file, utcOffsetHours: -7)
        #expect(t.problems.isEmpty, "\(t.problems)")
        #expect(t.rows.map(\.currentA) == [0, 0.5, 0.5, -0.25, -0.25, -0.25])
        #expect(t.rows.map(\.timeS) == [0, 1, 2, 3, 4, 5])
        // The time of day rolls over midnight: 03/31/2016 23:59:58 PDT (UTC-7) = 2016-04-01T06:59:58Z.
        let first = 1_459_493_998.0
        #expect(t.rows.map(\.unixTimeS) == (0..<6).map { first + Double($0) })
    }

    @Test func importPlacedByCrossCorrelationAndByDPtTime() throws {
        let dir = TemporaryDirectory("maccor-import")
        let session = dir.file("run.sqlite")
        try ImportFixture.session(at: session)
        let file = try write(ImportFixture.maccorText(.mims, offsetS: Self.trueOffsetS, rateError: Self.trueRateError), dir, "cell07.001")
        var q = SessionImport.Request(session: session, file: file, format: .maccor)
        q.clock = .xcorr
        let r = try SessionImport.run(q)
        #expect(r.format == "maccor" && r.badLines == 0 && r.reference == "supply0")
        let trueDriftPpm = (1 / (1 + Self.trueRateError) - 1) * 1e6
        // The recovery against its stated uncertainty (within 3 standard errors), and within 50 ms and
        // 75 ppm: the same cell and clocks as the BDF test, another noise draw (Maccor's column order),
        // and the elapsed time rounded to 4 decimals of a minute (6 ms steps) as MacTest writes it.
        let offsetErr = r.offsetS - Self.trueOffsetS, driftErr = r.driftPpm - trueDriftPpm
        print(String(format: "maccor xcorr: offset error %.3f ms (stated s.e. %.3f ms), drift error %.2f ppm (stated s.e. %.2f ppm)",
                     offsetErr * 1e3, r.offsetStdErrS * 1e3, driftErr, r.driftStdErrPpm))
        #expect(abs(offsetErr) < 3 * r.offsetStdErrS && abs(offsetErr) < 0.05, "offset \(r.offsetS) +- \(r.offsetStdErrS)")
        #expect(abs(driftErr) < 3 * r.driftStdErrPpm && abs(driftErr) < 75, "drift \(r.driftPpm) +- \(r.driftStdErrPpm)")
        let reader = try SessionReader(path: session)
        let st = try #require(try reader.stream(key: "cycler0"))
        #expect(st.properties["import.format"] == "maccor")
        #expect(st.properties["import.header"]?.hasPrefix("Today's Date 03/02/2026") == true)
        let rows = try reader.bmsSamples(streamId: st.id!)
        #expect(rows.count == r.rows)
        for row in rows {
            let truth = Self.trueOffsetS + (1 + Self.trueRateError) * row.deviceTimeS!
            #expect(abs(Double(row.tNs) / 1e9 - truth) < 0.05)
        }

        // The same file by its DPt Time (CET, the PC clock 2 s fast): within the whole seconds it is written in.
        let session2 = dir.file("run2.sqlite")
        try ImportFixture.session(at: session2)
        let file2 = try write(ImportFixture.maccorText(.csv, offsetS: Self.trueOffsetS, rateError: 0, wallErrorS: 2), dir, "cell07.csv")
        var q2 = SessionImport.Request(session: session2, file: file2, format: .maccor)
        q2.clock = .timestamps
        q2.utcOffsetHours = ImportFixture.maccorUTCOffsetHours
        let r2 = try SessionImport.run(q2)
        #expect(r2.clock == "timestamps")
        #expect(abs(r2.offsetS - (Self.trueOffsetS + 2)) < 1.0, "offset \(r2.offsetS)")
        // Without --utc-offset the wall times cannot be used, and the import says so.
        var q3 = SessionImport.Request(session: session2, file: file2, format: .maccor)
        q3.clock = .timestamps
        q3.backup = dir.file("other.bak")
        #expect(throws: ImportError.self) { try SessionImport.run(q3) }
        do { _ = try SessionImport.run(q3) } catch let e as ImportError {
            #expect(e.description.contains("needs --utc-offset HOURS for a Maccor file"))
        }
    }

    @Test func badInputNamesTheFileLineColumnAndWhatWasExpected() throws {
        let dir = TemporaryDirectory("maccor-bad")
        let session = dir.file("run.sqlite")
        try ImportFixture.session(at: session)
        var lines = ImportFixture.maccorText(.mims, offsetS: 0, rateError: 0, from: 0, to: 60).components(separatedBy: "\r\n")
        // Line 5 (the 3rd data line): Volts '3x7'; line 7: an Amps value in mA mistaken for A (12000 A);
        // line 9: a field missing; line 11: a time of 'abc'.
        func set(_ line: Int, _ col: Int, _ v: String) {
            var f = lines[line - 1].components(separatedBy: "\t"); f[col] = v; lines[line - 1] = f.joined(separator: "\t")
        }
        set(5, 8, "3x7")
        set(7, 7, "12000")
        lines[8] = lines[8].components(separatedBy: "\t").dropLast().joined(separator: "\t")
        set(11, 3, "abc")
        let file = try write(lines.joined(separator: "\r\n"), dir, "bad.001")
        let q = SessionImport.Request(session: session, file: file, format: .maccor)
        var message = ""
        do { _ = try SessionImport.run(q) } catch let e as ImportError { message = e.description }
        #expect(message.hasPrefix("\(file): 4 of 61 data lines are bad (--max-bad-lines 0); nothing was imported:"), "\(message)")
        #expect(message.contains("line 5, column 'Volts': expected a number (a voltage -1000 to 1000 V), found '3x7'"))
        #expect(message.contains("line 7, column 'Amps': expected a current -10000 to 10000 A, found '12000'"))
        #expect(message.contains("line 9: 12 fields as in the header (line 2), found 11 fields"))
        #expect(message.contains("line 11, column 'Test (Min)': expected a number (an elapsed time 0 to 1e9 s), found 'abc'"))
        #expect(try SessionReader(path: session).stream(key: "cycler0") == nil)
        #expect(!FileManager.default.fileExists(atPath: session + ".bak"))
        // Allowed: the four lines become parse_error gaps, the rest is imported.
        var q2 = q
        q2.maxBadLines = 4
        q2.clock = .timestamps
        q2.utcOffsetHours = ImportFixture.maccorUTCOffsetHours
        let r = try SessionImport.run(q2)
        #expect(r.rows == 57 && r.badLines == 4)

        // Not a Maccor export, a header without a current, a unit trw does not read, a binary file.
        let notMaccor = try write("time,volts\n0,3.7\n", dir, "other.csv")
        #expect(throws: ImportError.self) { try MaccorParser.parse(path: notMaccor, utcOffsetHours: nil) }
        do { _ = try MaccorParser.parse(path: notMaccor, utcOffsetHours: nil) } catch let e as ImportError {
            #expect(e.description.hasPrefix("\(notMaccor): not a Maccor text export: none of its first 2 lines is a column header"))
            #expect(e.description.contains("line 1 is 'time,volts'"))
        }
        let kiloamps = try write("Rec#\tTest (Sec)\tAmps(kA)\tVolts\n1\t0\t1\t3.7\n", dir, "ka.txt")
        do { _ = try MaccorParser.parse(path: kiloamps, utcOffsetHours: nil); Issue.record("kA accepted") } catch let e as ImportError {
            #expect(e.description == "\(kiloamps): column 'Amps(kA)' (current) has unit 'kA'; trw reads current in A, mA")
        }
        let binary = dir.file("x.001")
        try Data([0x4d, 0x43, 0, 1, 2, 3]).write(to: URL(fileURLWithPath: binary))
        do { _ = try MaccorParser.parse(path: binary, utcOffsetHours: nil); Issue.record("binary accepted") } catch let e as ImportError {
            #expect(e.description.contains("a binary file, not a Maccor text export"))
        }
    }

    @Test func valueParsers() {
        #expect(MaccorParser.duration("  0d 00:01:30.8799991607666") == 90.8799991607666)
        #expect(MaccorParser.duration("2d 01:00:00") == 176_400.0)
        #expect(MaccorParser.duration("0d 00:61:00") == nil && MaccorParser.duration("1.5") == nil)
        #expect(MaccorParser.wallTime("12/11/2020 12:22:12")?.seconds == 1_607_689_332)
        #expect(MaccorParser.wallTime("12/11/2020 12:22:12 AM")?.seconds == 1_607_646_132.0)
        #expect(MaccorParser.wallTime("23:59:59")! == (86_399, false))
        #expect(MaccorParser.wallTime("02/30/2020 10:00:00") == nil && MaccorParser.wallTime("25:00:00") == nil)
        #expect(MaccorParser.dateOfTest("Today's Date:\t14 December 2020\tDate of Test:\t11 December 2020, 12:22:12 PM") == 1_607_644_800)
        #expect(MaccorParser.number("1,234.5") == 1234.5 && MaccorParser.number("3,41") == nil && MaccorParser.number("12,34.5") == nil)
    }
}
