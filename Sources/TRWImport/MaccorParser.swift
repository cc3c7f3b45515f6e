import Foundation

/// Reads Maccor's text exports (docs/import.md, "Maccor"):
///
/// * MacTest/MIMS "ASCII" export (`.txt`, `.001` ...): tab-delimited; one banner line
///   (`Today's Date 04/04/2016  Date of Test:<TAB>03/31/2016<TAB> Filename:<TAB>... Procedure: ...`)
///   or the MIMS Client 2 banner of three lines (`Today's Date:`, `Filename:`, `Procedure:`),
///   then the column header: `Rec#  Cyc#  Step  Test (Min)|Test (Sec)|TestTime  Step (Min)|StepTime
///   Amp-hr  Watt-hr  Amps  Volts  State  ES  DPt Time [ACImp/Ohms DCIR/Ohms Temp 1 Aux #1 Units ... VAR1 ...]`.
/// * The CSV export (comma-delimited, units in the header: `TestTime(s)`, `Current(A)`,
///   `Voltage(V)`, `Capacity(Ah)`, `Cap. [Ah]`, `Current [mA]`, `Md` for the state ...).
///
/// The header is found by its columns (an elapsed time, a voltage and a current), so banner
/// lines of any number are skipped (and kept as the stream's `import.header` property).
/// Maccor's current column is a magnitude: its sign comes from the State (or Md) column,
/// `C` charge (+), `D` discharge (-); `R` rest and other codes keep the value as written;
/// `S` (end of step) takes the state of the line before it. Times of `Test (Min)` are minutes,
/// `TestTime` without a unit is Maccor's duration text `0d 00:01:30.88`. `DPt Time` (local wall
/// time, `MM/DD/YYYY HH:MM:SS` or a time of day on the header's Date of Test, rolling over
/// midnight by the test time) becomes an absolute time only with `--utc-offset`.
public enum MaccorParser {
    /// What a recognised column is.
    enum Kind: Equatable {
        case time(scale: Double?)          // nil: duration text (`0d 00:00:05.05`)
        case value(ImportField, unit: String, scale: Double)
        case stepTime(scale: Double?)
        case state
        case wallTime
        case aux(Int)                      // `Aux #N`, its unit in the next `Units` column
    }

    struct Column {
        var header: String
        var index: Int
        var kind: Kind
    }

    /// Parses `path`; `utcOffsetHours` turns the DPt Time column into Unix times (nil: kept in raw only).
    public static func parse(path: String, utcOffsetHours: Double?) throws -> ImportedTable {
        let text = try readText(path)
        let lines = DelimitedParser.splitLines(text)
        // The header: the first line (of the first 60) whose fields include an elapsed time, a voltage and a current.
        var found: (line: Int, fields: [String], delimiter: Character, columns: [Column])? = nil
        for (i, l) in lines.prefix(60).enumerated() {
            let delimiter: Character = l.text.contains("\t") ? "\t" : ","
            let fields = DelimitedParser.splitFields(l.text, delimiter: delimiter).map { $0.trimmingCharacters(in: .whitespaces) }
            guard fields.count >= 3 else { continue }
            let cols = try recognise(fields, path: path)
            let has = { (f: ImportField) in cols.contains { if case .value(f, _, _) = $0.kind { true } else { false } } }
            if cols.contains(where: { if case .time = $0.kind { true } else { false } }) && has(.voltage) && has(.current) {
                found = (i, fields, delimiter, cols)
                break
            }
        }
        guard let header = found else {
            let first = lines.first.map { "'\(String($0.text.prefix(80)))'" } ?? "(empty)"
            throw ImportError("\(path): not a Maccor text export: none of its first \(min(lines.count, 60)) lines is a column header with an elapsed time "
                              + "(Test (Min), Test (Sec), TestTime, TestTime(s)), a voltage (Volts, Voltage(V)) and a current (Amps, Current(A), Amps(mA)); "
                              + "line 1 is \(first)")
        }
        let banner = lines[..<header.line].map { $0.text }.filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty }
        let testDate = banner.lazy.compactMap(dateOfTest).first
        var fields = header.fields
        // A trailing delimiter (MIMS Client 2) makes an empty last header; its data lines end the same way.
        let trailingEmpty = fields.last == ""
        if trailingEmpty { fields.removeLast() }

        var rows: [ImportedRow] = []
        var problems: [LineProblem] = []
        var dataLines = 0
        var lastTime = -Double.infinity
        var lastSign: Double? = nil          // sign of the last C/D/R line, for S lines
        var wallStart: Double? = nil         // naive wall time of file t = 0, from the first dated line
        var auxUnits: [Int: String] = [:]
        let timeHeader = header.columns.first { if case .time = $0.kind { true } else { false } }!.header
        lineLoop: for (lineNo, textLine) in lines[(header.line + 1)...] {
            if textLine.trimmingCharacters(in: .whitespaces).isEmpty { continue }
            dataLines += 1
            var cells = DelimitedParser.splitFields(textLine, delimiter: header.delimiter)
            if trailingEmpty, cells.count == fields.count + 1, cells.last?.trimmingCharacters(in: .whitespaces) == "" { cells.removeLast() }
            guard cells.count == fields.count else {
                problems.append(LineProblem(line: lineNo, column: "", found: "\(cells.count) fields",
                                            expected: "\(fields.count) fields as in the header (line \(lines[header.line].number))"))
                continue
            }
            var row = ImportedRow(line: lineNo, timeS: .nan, raw: textLine)
            var state: String? = nil
            var wall: (seconds: Double, hasDate: Bool)? = nil
            func bad(_ c: Column, _ cell: String, _ expected: String) {
                problems.append(LineProblem(line: lineNo, column: c.header, found: cell, expected: expected))
            }
            for c in header.columns {
                let cell = cells[c.index].trimmingCharacters(in: .whitespaces)
                switch c.kind {
                case .state:
                    state = cell.uppercased()
                    continue
                case .wallTime:
                    if cell.isEmpty { continue }
                    guard let w = wallTime(cell) else {
                        bad(c, cell, "a date and time MM/DD/YYYY HH:MM:SS or a time of day HH:MM:SS (optionally with AM/PM)")
                        continue lineLoop
                    }
                    wall = w
                    continue
                default: break
                }
                if cell.isEmpty {
                    if case .time = c.kind { bad(c, cell, ImportField.time.range.1); continue lineLoop }
                    continue
                }
                switch c.kind {
                case .time(let scale), .stepTime(let scale):
                    let isTest: Bool = if case .time = c.kind { true } else { false }
                    let v: Double?
                    if let scale { v = number(cell).map { $0 * scale } } else { v = duration(cell) }
                    guard let v else {
                        bad(c, cell, scale == nil ? "a duration such as 0d 00:01:30.88 (days, hours:minutes:seconds)"
                                                   : "a number (\(ImportField.time.range.1))")
                        continue lineLoop
                    }
                    guard v.isFinite, ImportField.time.range.0.contains(v) else {
                        bad(c, cell, ImportField.time.range.1 + (scale.map { $0 != 1 ? " after conversion to s" : "" } ?? ""))
                        continue lineLoop
                    }
                    if isTest { row.timeS = v } else { row.extra["step_time_s"] = v }
                case .value(let field, let unit, let scale):
                    guard let raw = number(cell) else {
                        bad(c, cell, "a number (\(field.range.1))" + (cell.contains(",") ? "; a decimal comma? export with '.' as the decimal separator" : ""))
                        continue lineLoop
                    }
                    let v = raw * scale
                    guard v.isFinite, field.range.0.contains(v) else {
                        bad(c, cell, field.range.1 + (scale != 1 ? " after conversion from \(unit)" : ""))
                        continue lineLoop
                    }
                    switch field {
                    case .voltage: row.voltageV = v
                    case .current: row.currentA = v
                    case .extra(let k): row.extra[k] = v
                    default: break
                    }
                case .aux(let n):
                    guard let v = number(cell), v.isFinite, abs(v) <= 1e15 else {
                        bad(c, cell, "a number (\(ImportField.extra("").range.1))")
                        continue lineLoop
                    }
                    row.extra["aux_\(n)"] = v
                    if auxUnits[n] == nil, c.index + 1 < cells.count {
                        let u = cells[c.index + 1].trimmingCharacters(in: .whitespaces)
                        if !u.isEmpty { auxUnits[n] = u }
                    }
                case .state, .wallTime: break
                }
            }
            if row.timeS < lastTime {
                problems.append(LineProblem(line: lineNo, column: timeHeader, found: String(row.timeS),
                                            expected: "a time not before the previous line's (\(lastTime) s)"))
                continue
            }
            // The current's sign from the state: C charge (+), D discharge (-), S as the line before.
            let sign: Double? = switch state ?? "" {
            case "C": 1
            case "D": -1
            case "R": nil
            case "S": lastSign
            default: nil
            }
            if state == "C" || state == "D" { lastSign = sign } else if state == "R" { lastSign = nil }
            if let s = sign, let i = row.currentA { row.currentA = s * abs(i) }
            // DPt Time: a naive local wall time; a time of day takes the header's date and rolls
            // over midnight by the test time.
            if let w = wall {
                var naive = w.seconds
                if !w.hasDate {
                    guard let day = testDate else {
                        bad(header.columns.first { $0.kind == .wallTime }!, cells[header.columns.first { $0.kind == .wallTime }!.index],
                            "a date with the time (the header has no Date of Test for a time of day)")
                        continue
                    }
                    naive += day
                    if let start = wallStart {
                        let k = ((start + row.timeS - naive) / 86_400).rounded()
                        naive += k * 86_400
                    }
                }
                if wallStart == nil { wallStart = naive - row.timeS }
                if let offset = utcOffsetHours {
                    let unix = naive - offset * 3600
                    let c = header.columns.first { $0.kind == .wallTime }!
                    if let start = wallStart, abs(naive - (start + row.timeS)) > 60 {
                        bad(c, cells[c.index].trimmingCharacters(in: .whitespaces),
                            String(format: "a wall time within 60 s of the test time's (%.0f s after the first line's; it is %+.0f s off)",
                                   row.timeS, naive - (start + row.timeS)))
                        continue
                    }
                    guard ImportField.unixTime.range.0.contains(unix) else {
                        bad(c, cells[c.index].trimmingCharacters(in: .whitespaces), ImportField.unixTime.range.1 + " after --utc-offset")
                        continue
                    }
                    row.unixTimeS = unix
                }
            }
            lastTime = row.timeS
            rows.append(row)
        }
        var mappings: [ColumnMapping] = []
        var ignored: [String] = []
        let used = Set(header.columns.map(\.index))
        for c in header.columns {
            switch c.kind {
            case .time(let scale): mappings.append(ColumnMapping(header: c.header, index: c.index, field: .time, unit: scale == nil ? "d hh:mm:ss" : unitName(scale!), scale: scale ?? 1))
            case .stepTime(let scale): mappings.append(ColumnMapping(header: c.header, index: c.index, field: .extra("step_time_s"), unit: "s", scale: scale ?? 1))
            case .value(let f, let unit, let scale): mappings.append(ColumnMapping(header: c.header, index: c.index, field: f, unit: unit, scale: scale))
            case .aux(let n): mappings.append(ColumnMapping(header: c.header, index: c.index, field: .extra("aux_\(n)"), unit: auxUnits[n] ?? ""))
            case .wallTime:
                if utcOffsetHours != nil { mappings.append(ColumnMapping(header: c.header, index: c.index, field: .unixTime, unit: "local wall time")) }
                else { ignored.append(c.header + " (no --utc-offset)") }
            case .state: ignored.append(c.header + " (signs the current)")
            }
        }
        ignored += fields.indices.filter { !used.contains($0) && !fields[$0].isEmpty && fields[$0].lowercased() != "units" }.map { fields[$0] }
        var table = ImportedTable(path: path, source: path, format: .maccor, header: fields, columns: mappings, ignoredColumns: ignored,
                                  rows: rows, problems: problems, dataLines: dataLines)
        table.banner = banner
        return table
    }

    // MARK: - columns

    /// The columns of a header line that trw reads; throws on a known quantity in a unit it does not read.
    static func recognise(_ fields: [String], path: String) throws -> [Column] {
        var out: [Column] = []
        var seen = Set<String>()
        for (i, h) in fields.enumerated() where !h.isEmpty {
            let (name, unit) = split(h)
            let n = name.lowercased().replacingOccurrences(of: " ", with: "")
            func unitScale(_ table: KeyValuePairs<String, Double>, _ dflt: String, _ what: String) throws -> (String, Double) {
                let u = unit ?? dflt
                guard let s = table.first(where: { $0.key.lowercased() == u.lowercased() })?.value else {
                    throw ImportError("\(path): column '\(h)' (\(what)) has unit '\(u)'; trw reads \(what) in \(table.map(\.key).joined(separator: ", "))")
                }
                return (u, s)
            }
            let timeUnits: KeyValuePairs<String, Double> = ["s": 1, "Sec": 1, "ms": 1e-3, "Min": 60, "h": 3600, "Hr": 3600]
            var kind: Kind? = nil
            switch n {
            case "test", "testtime":
                if unit == nil { kind = .time(scale: nil) } else { kind = .time(scale: try unitScale(timeUnits, "s", "time").1) }
            case "step" where unit != nil, "steptime":
                if unit == nil { kind = .stepTime(scale: nil) } else { kind = .stepTime(scale: try unitScale(timeUnits, "s", "time").1) }
            case "amps", "current":
                let (u, s) = try unitScale(["A": 1, "mA": 1e-3], "A", "current")
                kind = .value(.current, unit: u, scale: s)
            case "volts", "voltage":
                let (u, s) = try unitScale(["V": 1, "mV": 1e-3], "V", "voltage")
                kind = .value(.voltage, unit: u, scale: s)
            case "amp-hr", "capacity", "cap.", "cap":
                let (u, s) = try unitScale(["Ah": 1, "mAh": 1e-3], "Ah", "capacity")
                kind = .value(.extra("capacity_ah"), unit: u, scale: s)
            case "watt-hr", "energy", "ener.", "ener":
                let (u, s) = try unitScale(["Wh": 1, "mWh": 1e-3], "Wh", "energy")
                kind = .value(.extra("energy_wh"), unit: u, scale: s)
            case "rec#", "rec": kind = .value(.extra("record"), unit: "1", scale: 1)
            case "cyc#", "cyclec", "cycle": kind = .value(.extra("cycle"), unit: "1", scale: 1)
            case "cyclep": kind = .value(.extra("cycle_p"), unit: "1", scale: 1)
            case "step": kind = .value(.extra("step_index"), unit: "1", scale: 1)
            case "es": kind = .value(.extra("end_status"), unit: "1", scale: 1)
            case "state", "md": kind = .state
            case "dpttime", "datetime": kind = .wallTime
            case "acimp/ohms", "acr": kind = .value(.extra("ac_impedance_ohm"), unit: "Ohm", scale: 1)
            case "dcir/ohms", "dcir": kind = .value(.extra("dcir_ohm"), unit: "Ohm", scale: 1)
            default:
                if n.hasPrefix("aux#"), let k = Int(n.dropFirst(4)) { kind = .aux(k) }
                else if n.hasPrefix("temp"), let k = Int(n.dropFirst(4)) { kind = .value(.extra("temp_\(k)_degc"), unit: "degC", scale: 1) }
                else if n == "evtemp" { kind = .value(.extra("ev_temp_degc"), unit: "degC", scale: 1) }
                else if n.hasPrefix("var"), let k = Int(n.dropFirst(3)) { kind = .value(.extra("var\(k)"), unit: "", scale: 1) }
            }
            guard let kind else { continue }
            // A second column of the same meaning (Cycle P beside Cycle C is distinct) is kept in raw only.
            let key = "\(kind)"
            if seen.contains(key) { continue }
            seen.insert(key)
            out.append(Column(header: h, index: i, kind: kind))
        }
        return out
    }

    /// `Current [mA]`, `Current(mA)`, `Test (Min)` -> (name, unit); no bracket: (header, nil).
    static func split(_ h: String) -> (String, String?) {
        for (open, close) in [("(", ")"), ("[", "]")] where h.hasSuffix(close) {
            if let r = h.range(of: open, options: .backwards) {
                let unit = String(h[r.upperBound..<h.index(before: h.endIndex)]).trimmingCharacters(in: .whitespaces)
                let name = String(h[..<r.lowerBound]).trimmingCharacters(in: .whitespaces)
                if !name.isEmpty { return (name, unit) }
            }
        }
        return (h, nil)
    }

    static func unitName(_ scale: Double) -> String {
        switch scale { case 60: "min"; case 3600: "h"; case 1e-3: "ms"; default: "s" }
    }

    // MARK: - values

    /// A number with '.' as the decimal point; thousands separators (`1,234.5`) are accepted when
    /// the groups are whole; a lone comma (`3,41`) is refused (a decimal comma is ambiguous).
    static func number(_ s: String) -> Double? {
        if let v = Double(s) { return v }
        guard s.contains(","), s.contains(".") else { return nil }
        let parts = s.split(separator: ".", maxSplits: 1)
        let groups = parts[0].split(separator: ",", omittingEmptySubsequences: false)
        let head = groups[0].hasPrefix("-") ? groups[0].dropFirst() : groups[0]
        guard (1...3).contains(head.count), groups.dropFirst().allSatisfy({ $0.count == 3 }) else { return nil }
        return Double(s.replacingOccurrences(of: ",", with: ""))
    }

    /// Maccor's duration text: `0d 00:01:30.88`, `00:01:30.88`, `1:30.5`: seconds.
    static func duration(_ s: String) -> Double? {
        var days = 0.0
        var rest = Substring(s)
        if let d = rest.firstIndex(of: "d") {
            guard let v = Double(rest[..<d].trimmingCharacters(in: .whitespaces)), v >= 0, v == v.rounded() else { return nil }
            days = v
            rest = rest[rest.index(after: d)...]
        }
        let parts = rest.trimmingCharacters(in: .whitespaces).split(separator: ":", omittingEmptySubsequences: false)
        guard (2...3).contains(parts.count) else { return nil }
        var total = 0.0
        for (k, p) in parts.enumerated() {
            let last = k == parts.count - 1
            guard let v = last ? Double(p) : Int(p).map(Double.init), v >= 0 else { return nil }
            // Minutes and seconds below 60; hours below 24 when days are given.
            if k > 0 && v >= 60 { return nil }
            if k == 0 && parts.count == 3 && s.contains("d") && v >= 24 { return nil }
            total = total * 60 + v
        }
        return days * 86_400 + total
    }

    /// `MM/DD/YYYY HH:MM:SS[.fff][ AM|PM]` or a time of day `HH:MM:SS[.fff][ AM|PM]`: seconds since
    /// 1970-01-01 of the naive wall time (a time of day: seconds since midnight), and whether a date was given.
    static func wallTime(_ s: String) -> (seconds: Double, hasDate: Bool)? {
        var words = s.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        var pm: Bool? = nil
        if let last = words.last?.uppercased(), last == "AM" || last == "PM" { pm = last == "PM"; words.removeLast() }
        guard (1...2).contains(words.count) else { return nil }
        var base = 0.0
        var hasDate = false
        if words.count == 2 {
            guard let d = date(words[0]) else { return nil }
            base = d
            hasDate = true
        }
        let t = words.last!.split(separator: ":", omittingEmptySubsequences: false)
        guard t.count == 3, var h = Int(t[0]), let m = Int(t[1]), let sec = Double(t[2]),
              (0..<60).contains(m), sec >= 0, sec < 61 else { return nil }
        if let pm {
            guard (1...12).contains(h) else { return nil }
            h = h % 12 + (pm ? 12 : 0)
        }
        guard (0..<24).contains(h) else { return nil }
        return (base + Double(h * 3600 + m * 60) + sec, hasDate)
    }

    /// `MM/DD/YYYY` -> seconds since 1970-01-01 of its midnight.
    static func date(_ s: String) -> Double? {
        let p = s.split(separator: "/", omittingEmptySubsequences: false)
        guard p.count == 3, let mo = Int(p[0]), let d = Int(p[1]), let y = Int(p[2]), p[2].count == 4 else { return nil }
        return civil(y, mo, d)
    }

    static func civil(_ y: Int, _ m: Int, _ d: Int) -> Double? {
        guard (1...12).contains(m), (1...31).contains(d), (1900...2200).contains(y) else { return nil }
        let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
        let lengths = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        guard d <= lengths[m - 1] else { return nil }
        // Days from civil (H. Hinnant's algorithm).
        let yy = m <= 2 ? y - 1 : y
        let era = (yy >= 0 ? yy : yy - 399) / 400
        let yoe = yy - era * 400
        let doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return Double(era * 146_097 + doe - 719_468) * 86_400
    }

    static let months = ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november", "december"]

    /// The banner's Date of Test (its midnight, naive seconds since 1970): `Date of Test:<TAB>03/31/2016`
    /// or `Date of Test:<TAB>11 December 2020, 12:22:12 PM`.
    static func dateOfTest(_ line: String) -> Double? {
        guard let r = line.range(of: "Date of Test:", options: .caseInsensitive) else { return nil }
        let after = line[r.upperBound...].trimmingCharacters(in: .whitespaces)
        let value = after.split(separator: "\t", maxSplits: 1).first.map { String($0).trimmingCharacters(in: .whitespaces) } ?? ""
        let first = value.split(separator: " ").first.map(String.init) ?? ""
        if let d = date(first) { return d }
        // `11 December 2020, 12:22:12 PM`
        let words = value.replacingOccurrences(of: ",", with: " ").split(separator: " ").map(String.init)
        guard words.count >= 3, let d = Int(words[0]), let m = months.firstIndex(of: words[1].lowercased()), let y = Int(words[2]) else { return nil }
        return civil(y, m + 1, d)
    }

    /// UTF-8 text, else ISO-8859-1 (MacTest writes the Windows code page: `°`).
    static func readText(_ path: String) throws -> String {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else { throw ImportError("\(path): no such file") }
        guard !isDir.boolValue else { throw ImportError("\(path) is a folder, not a file") }
        guard let data = FileManager.default.contents(atPath: path) else { throw ImportError("\(path): cannot be read (permission?)") }
        if data.prefix(4096).contains(0) { throw ImportError("\(path): a binary file, not a Maccor text export (export the data as text from MacTest/MIMS)") }
        let text = String(data: data, encoding: .utf8) ?? String(data: data, encoding: .isoLatin1) ?? ""
        return text.hasPrefix("\u{FEFF}") ? String(text.dropFirst()) : text
    }
}
