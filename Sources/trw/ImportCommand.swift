import ArgumentParser
import Foundation
import TRWCore
import TRWImport

struct ImportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Add a cycler's or logger's file to a session as a new stream, its clock fitted onto the session's time base.",
        discussion: """
            Formats: bdf (Battery Data Format CSV) and csv are read directly; arbin (.res), neware (.nda, .ndax) and \
            biologic (.mpr, .mpt) go through a Python reader (galvani, NewareNDA) in the project's venv and come back \
            as BDF CSV; maccor reads MacTest/MIMS text exports (.txt, .001: Rec#, Cyc#, Test (Min), Amps, Volts, State, \
            DPt Time ...) and the CSV export directly, the current signed by the State column. Every number is \
            range-checked; bad lines are listed (line, column, what was expected) and refuse the import unless \
            --max-bad-lines allows them (each is then stored as a parse_error gap).

            Clock: --clock xcorr cross-correlates the file's voltage (or current) with a recorded serial stream \
            (the supply, else the cell's BMS) window by window and fits offset and drift with their standard errors; \
            --clock timestamps uses the file's absolute times against the session's start; auto (default) takes \
            xcorr when a recorded stream shares the signal, else timestamps. The fit is stored as the new stream's \
            clock model and shown by trw sync-report.

            Safety: the session is first copied to SESSION.bak (--backup PATH; never overwritten), then the stream \
            goes in with one transaction: the file holds all of the import or none of it. docs/import.md.
            """)

    @Argument(help: "The session file.") var session: String
    @Argument(help: "The cycler or logger file.") var file: String
    @Option(name: .long, help: "File format: \(ImportFormat.names).") var format: String
    @Option(name: .long, help: "Role of the new stream (\(InstrumentRole.names)).") var role: String = InstrumentRole.cycler.rawValue
    @Option(name: .long, help: "Key of the new stream (default: the role and the first free number, e.g. cycler0).") var key: String?
    @Option(name: .long, help: "How to place the file in time: timestamps, xcorr or auto.") var clock: String = "auto"
    @Option(name: .long, help: "Signal to cross-correlate: voltage or current (default voltage, else current).") var signal: String?
    @Option(name: .long, help: "Recorded serial stream to correlate with (default: the supply, else the cell's BMS).") var reference: String?
    @Option(name: .long, help: "CSV: the elapsed-time column's header.") var timeColumn: String?
    @Option(name: .long, help: "CSV: unit of the time column: s, ms, min or h.") var timeUnit: String = "s"
    @Option(name: .long, help: "CSV: a column of absolute times (Unix seconds or ISO 8601 with a zone).") var timestampColumn: String?
    @Option(name: .long, help: "CSV: value columns FIELD=HEADER[:UNIT],... FIELD: voltage, current, cell_temp, ambient, soc or a name of yours; UNIT e.g. V, mV, A, mA, degC, K, %.")
    var columns: String?
    @Option(name: .long, help: "CSV: field delimiter: a single character, or 'tab'.") var delimiter: String = ","
    @Option(name: .long, help: "CSV: lines before the header line.") var skipLines: Int = 0
    @Option(name: .long, help: "Bad lines allowed (each stored as a parse_error gap); more refuse the import.") var maxBadLines: Int = 0
    @Option(name: .long, help: "Declared error of the file's timestamps against the session's clock, s (--clock timestamps).")
    var timestampUncertainty: Double = 1.0
    @Option(name: .long, help: "Lowest correlation a window must reach (--clock xcorr).") var minCorrelation: Double = 0.7
    @Option(name: .long, help: "Where to copy the session before the import (default SESSION.bak; never overwritten).") var backup: String?
    @Option(name: .long, help: "Python interpreter for arbin/neware/biologic (default $TRW_PYTHON, else ./.venv/bin/python3, else python3).")
    var python: String?
    @Option(name: .long, help: "Cycler formats (arbin, neware, biologic, maccor): hours to subtract from the cycler's local wall-clock times to get UTC (e.g. 1 for CET); without it their times are not used.")
    var utcOffset: Double?
    @Option(name: .long, help: "Longest wait for the Python converter, s.") var converterTimeout: Double = 300
    @Flag(name: .long, help: "Print the result as one JSON object.") var json = false

    func validate() throws {
        guard ImportFormat(rawValue: format) != nil else { throw ValidationError("--format must be one of \(ImportFormat.names), got '\(format)'") }
        guard InstrumentRole(rawValue: role) != nil else { throw ValidationError("--role must be one of \(InstrumentRole.names), got '\(role)'") }
        guard SessionImport.ClockMode(rawValue: clock) != nil else { throw ValidationError("--clock must be timestamps, xcorr or auto, got '\(clock)'") }
        if let s = signal, s != "voltage" && s != "current" { throw ValidationError("--signal must be voltage or current, got '\(s)'") }
        guard ["s", "ms", "min", "h"].contains(timeUnit) else { throw ValidationError("--time-unit must be s, ms, min or h, got '\(timeUnit)'") }
        guard delimiter == "tab" || delimiter.count == 1 else { throw ValidationError("--delimiter must be one character or 'tab', got '\(delimiter)'") }
        try OptionCheck.integer(skipLines, "--skip-lines", 0...1_000_000)
        try OptionCheck.integer(maxBadLines, "--max-bad-lines", 0...100_000_000)
        try OptionCheck.number(timestampUncertainty, "--timestamp-uncertainty", 0...86_400, openLower: true, unit: "s")
        try OptionCheck.number(minCorrelation, "--min-correlation", 0...1, openLower: true)
        try OptionCheck.number(utcOffset, "--utc-offset", -14...14, unit: "hours")
        try OptionCheck.number(converterTimeout, "--converter-timeout", 0...86_400, openLower: true, unit: "s")
        if let k = key, k.isEmpty || !k.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-") }) {
            throw ValidationError("--key must be letters, digits, _ or -, got '\(k)'")
        }
        let fmt = ImportFormat(rawValue: format)!
        if fmt != .csv && (timeColumn != nil || columns != nil || timestampColumn != nil) {
            throw ValidationError("--time-column, --timestamp-column and --columns are for --format csv")
        }
        if fmt == .csv {
            guard timeColumn != nil else { throw ValidationError("--format csv needs --time-column NAME") }
            guard columns != nil else { throw ValidationError("--format csv needs --columns FIELD=HEADER[:UNIT],...") }
            _ = try parsedColumns()
        }
    }

    func parsedColumns() throws -> [CSVOptions.ColumnSpec] {
        guard let columns else { return [] }
        do {
            return try columns.split(separator: ",").map { try CSVOptions.ColumnSpec.parse(String($0)) }
        } catch let e as ImportError {
            throw ValidationError(e.description)
        }
    }

    func run() throws {
        var q = SessionImport.Request(session: session, file: file, format: ImportFormat(rawValue: format)!)
        q.role = InstrumentRole(rawValue: role)!
        q.key = key
        q.clock = SessionImport.ClockMode(rawValue: clock)!
        q.signal = signal.map { $0 == "voltage" ? .voltage : .current }
        q.reference = reference
        q.csv.timeColumn = timeColumn
        q.csv.timeUnit = timeUnit
        q.csv.timestampColumn = timestampColumn
        q.csv.columns = try parsedColumns()
        q.csv.delimiter = delimiter == "tab" ? "\t" : Character(delimiter)
        q.csv.skipLines = skipLines
        q.maxBadLines = maxBadLines
        q.timestampUncertaintyS = timestampUncertainty
        q.xcorr.minCorrelation = minCorrelation
        q.backup = backup
        q.python = CyclerConverter.interpreter(explicit: python)
        q.utcOffsetHours = utcOffset
        q.converterTimeoutS = converterTimeout
        let result: SessionImport.Result
        do {
            result = try SessionImport.run(q)
        } catch let e as ImportError {
            throw CLIFailure(e.description)
        }
        print(json ? try ReportJSON.text(result) : result.text)
    }
}
