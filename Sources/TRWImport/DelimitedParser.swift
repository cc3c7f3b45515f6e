import Foundation

/// Options of a plain CSV import (`--time-column`, `--columns`, ...; docs/import.md).
public struct CSVOptions: Sendable, Equatable {
    /// Header of the elapsed-time column and its unit (s, ms, min, h).
    public var timeColumn: String?
    public var timeUnit: String = "s"
    /// Header of an absolute-time column: Unix seconds or ISO 8601 (`2026-03-01T10:15:30.250Z`).
    public var timestampColumn: String?
    /// Value columns: FIELD=HEADER[:UNIT] (voltage, current, cell_temp, ambient, soc, or any
    /// other snake_case name kept as an extra value).
    public var columns: [ColumnSpec] = []
    public var delimiter: Character = ","
    /// Lines before the header line (instrument banners).
    public var skipLines: Int = 0

    public init() {}

    public struct ColumnSpec: Sendable, Equatable {
        public var field: String
        public var header: String
        public var unit: String?
        public init(field: String, header: String, unit: String?) {
            self.field = field
            self.header = header
            self.unit = unit
        }

        /// Parses `FIELD=HEADER[:UNIT]`.
        public static func parse(_ text: String) throws -> ColumnSpec {
            guard let eq = text.firstIndex(of: "=") else {
                throw ImportError("--columns entry '\(text)' is not FIELD=HEADER[:UNIT] (e.g. voltage=Voltage(V):V)")
            }
            let field = String(text[..<eq]).trimmingCharacters(in: .whitespaces)
            var rest = String(text[text.index(after: eq)...])
            var unit: String? = nil
            if let colon = rest.lastIndex(of: ":") {
                unit = String(rest[rest.index(after: colon)...]).trimmingCharacters(in: .whitespaces)
                rest = String(rest[..<colon])
            }
            let header = rest.trimmingCharacters(in: .whitespaces)
            guard !field.isEmpty, !header.isEmpty, field.allSatisfy({ $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "_") }) else {
                throw ImportError("--columns entry '\(text)': FIELD must be snake_case (voltage, current, cell_temp, ambient, soc or a name of yours) and HEADER not empty")
            }
            return ColumnSpec(field: field, header: header, unit: unit)
        }
    }
}

/// Reads Battery Data Format CSV and plain CSV: every number range-checked, every bad line
/// counted with its line number, column and what was expected.
public enum DelimitedParser {
    /// Battery Data Format CSV: a header of `Quantity / unit` labels; `Test Time / s`,
    /// `Voltage / V` and `Current / A` are required.
    public static func parseBDF(path: String, source: String? = nil, format: ImportFormat = .bdf) throws -> ImportedTable {
        let text = try readText(path)
        var lines = splitLines(text)
        guard let headerLine = lines.firstIndex(where: { !$0.text.trimmingCharacters(in: .whitespaces).isEmpty }) else {
            throw ImportError("\(path): the file is empty (a Battery Data Format CSV starts with a header line)")
        }
        let header = splitFields(lines[headerLine].text, delimiter: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        lines.removeFirst(headerLine + 1)
        var columns: [ColumnMapping] = []
        var ignored: [String] = []
        for (i, h) in header.enumerated() {
            guard let slash = h.range(of: " / ", options: .backwards) else {
                // BDF labels without a unit (Step Type, ...) are text: kept in `raw` only.
                ignored.append(h)
                continue
            }
            let name = String(h[..<slash.lowerBound]).trimmingCharacters(in: .whitespaces)
            let unit = String(h[slash.upperBound...]).trimmingCharacters(in: .whitespaces)
            let field = bdfField(name: name, unit: unit)
            let (scale, offset) = try conversion(field: field, unit: unit, column: h, path: path)
            columns.append(ColumnMapping(header: h, index: i, field: field, unit: unit, scale: scale, offset: offset))
        }
        for (needed, field) in [("Test Time / s", ImportField.time), ("Voltage / V", .voltage), ("Current / A", .current)]
        where !columns.contains(where: { $0.field == field }) {
            throw ImportError("\(path): not a Battery Data Format CSV: no column '\(needed)' (BDF requires Test Time / s, Voltage / V, Current / A); "
                              + "its columns are: \(header.joined(separator: ", "))")
        }
        return parseRows(lines, header: header, columns: columns, ignored: ignored, delimiter: ",",
                         path: path, source: source ?? path, format: format)
    }

    /// Plain CSV with the columns named in `options`.
    public static func parseCSV(path: String, options: CSVOptions) throws -> ImportedTable {
        let text = try readText(path)
        var lines = splitLines(text)
        if options.skipLines > 0 { lines.removeFirst(min(options.skipLines, lines.count)) }
        guard let headerLine = lines.firstIndex(where: { !$0.text.trimmingCharacters(in: .whitespaces).isEmpty }) else {
            throw ImportError("\(path): the file is empty" + (options.skipLines > 0 ? " after the \(options.skipLines) skipped lines" : "")
                              + " (a CSV import needs a header line naming the columns)")
        }
        let header = splitFields(lines[headerLine].text, delimiter: options.delimiter).map { $0.trimmingCharacters(in: .whitespaces) }
        lines.removeFirst(headerLine + 1)
        func index(of h: String, option: String) throws -> Int {
            guard let i = header.firstIndex(of: h) else {
                throw ImportError("\(path): \(option) names column '\(h)', which the header does not have; its columns are: \(header.joined(separator: ", "))")
            }
            return i
        }
        guard let timeColumn = options.timeColumn else {
            throw ImportError("\(path): a CSV import needs --time-column NAME (the elapsed-time column); its columns are: \(header.joined(separator: ", "))")
        }
        var columns: [ColumnMapping] = []
        let ti = try index(of: timeColumn, option: "--time-column")
        let (ts, _) = try conversion(field: .time, unit: options.timeUnit, column: timeColumn, path: path)
        columns.append(ColumnMapping(header: timeColumn, index: ti, field: .time, unit: options.timeUnit, scale: ts))
        if let tc = options.timestampColumn {
            columns.append(ColumnMapping(header: tc, index: try index(of: tc, option: "--timestamp-column"), field: .unixTime, unit: "timestamp"))
        }
        guard !options.columns.isEmpty else {
            throw ImportError("\(path): a CSV import needs --columns FIELD=HEADER[:UNIT],... (e.g. voltage=Voltage:V,current=Current:mA); its columns are: \(header.joined(separator: ", "))")
        }
        for spec in options.columns {
            let field: ImportField = switch spec.field {
            case "voltage": .voltage
            case "current": .current
            case "cell_temp": .cellTemp
            case "ambient": .ambient
            case "soc": .soc
            default: .extra(spec.field)
            }
            let unit = spec.unit ?? defaultUnit(field)
            let (scale, offset) = try conversion(field: field, unit: unit, column: spec.header, path: path)
            columns.append(ColumnMapping(header: spec.header, index: try index(of: spec.header, option: "--columns"),
                                         field: field, unit: unit, scale: scale, offset: offset))
        }
        let used = Set(columns.map(\.index))
        let ignored = header.indices.filter { !used.contains($0) }.map { header[$0] }
        return parseRows(lines, header: header, columns: columns, ignored: ignored, delimiter: options.delimiter,
                         path: path, source: path, format: .csv)
    }

    // MARK: - rows

    static func parseRows(_ lines: [(number: Int, text: String)], header: [String], columns: [ColumnMapping], ignored: [String],
                          delimiter: Character, path: String, source: String, format: ImportFormat) -> ImportedTable {
        var rows: [ImportedRow] = []
        var problems: [LineProblem] = []
        var dataLines = 0
        var lastTime = -Double.infinity
        rows.reserveCapacity(lines.count)
        // Line numbers are the file's own (splitLines numbers them before any are skipped).
        lineLoop: for (number, text) in lines {
            if text.trimmingCharacters(in: .whitespaces).isEmpty { continue }
            dataLines += 1
            let fields = splitFields(text, delimiter: delimiter)
            guard fields.count == header.count else {
                problems.append(LineProblem(line: number, column: "", found: "\(fields.count) fields",
                                            expected: "\(header.count) fields as in the header"))
                continue
            }
            var row = ImportedRow(line: number, timeS: .nan, raw: text)
            for c in columns {
                let cell = fields[c.index].trimmingCharacters(in: .whitespaces)
                if cell.isEmpty {
                    if c.field == .time {
                        problems.append(LineProblem(line: number, column: c.header, found: "", expected: c.field.range.1))
                        continue lineLoop
                    }
                    continue  // a missing optional value stays missing
                }
                let value: Double
                if c.field == .unixTime && c.unit == "timestamp" {
                    guard let v = Double(cell) ?? ISO8601.seconds(cell) else {
                        problems.append(LineProblem(line: number, column: c.header, found: cell,
                                                    expected: "a Unix time in seconds or an ISO 8601 time with a zone (2026-03-01T10:15:30.25Z)"))
                        continue lineLoop
                    }
                    value = v
                } else {
                    guard let v = Double(cell) else {
                        problems.append(LineProblem(line: number, column: c.header, found: cell, expected: "a number (\(c.field.range.1))"))
                        continue lineLoop
                    }
                    value = v * c.scale + c.offset
                }
                let (range, wording) = c.field.range
                guard value.isFinite, range.contains(value) else {
                    problems.append(LineProblem(line: number, column: c.header, found: cell, expected: wording + (c.scale != 1 || c.offset != 0 ? " after conversion from \(c.unit)" : "")))
                    continue lineLoop
                }
                switch c.field {
                case .time: row.timeS = value
                case .unixTime: row.unixTimeS = value
                case .voltage: row.voltageV = value
                case .current: row.currentA = value
                case .cellTemp: row.cellTempsC.append(value)
                case .ambient: row.ambientC = value
                case .soc: row.soc = value
                case .extra(let k): row.extra[k] = value
                }
            }
            if row.timeS < lastTime {
                problems.append(LineProblem(line: number, column: columns.first { $0.field == .time }?.header ?? "time",
                                            found: String(row.timeS), expected: "a time not before the previous line's (\(lastTime) s)"))
                continue
            }
            lastTime = row.timeS
            rows.append(row)
        }
        return ImportedTable(path: path, source: source, format: format, header: header, columns: columns, ignoredColumns: ignored,
                             rows: rows, problems: problems, dataLines: dataLines)
    }

    // MARK: - columns and units

    static func bdfField(name: String, unit: String) -> ImportField {
        let n = name.lowercased()
        switch n {
        case "test time": return .time
        case "unix time": return .unixTime
        case "voltage": return .voltage
        case "current": return .current
        case "ambient temperature": return .ambient
        case "surface temperature", "cell temperature", "temperature t1", "temperature t2", "temperature t3",
             "temperature t4", "temperature t5":
            return .cellTemp
        case "state of charge": return .soc
        default:
            let u = slug(unit)
            return .extra(u.isEmpty || unit == "1" ? slug(name) : slug(name) + "_" + u)
        }
    }

    static func defaultUnit(_ f: ImportField) -> String {
        switch f {
        case .time, .unixTime: "s"
        case .voltage: "V"
        case .current: "A"
        case .cellTemp, .ambient: "degC"
        case .soc: "1"
        case .extra: ""
        }
    }

    /// Factor and offset from `unit` to the store's unit for `field`; extra values keep their unit.
    static func conversion(field: ImportField, unit: String, column: String, path: String) throws -> (Double, Double) {
        let table: [String: (Double, Double)]
        switch field {
        case .time: table = ["s": (1, 0), "ms": (1e-3, 0), "min": (60, 0), "h": (3600, 0)]
        case .unixTime: table = ["s": (1, 0), "ms": (1e-3, 0)]
        case .voltage: table = ["V": (1, 0), "mV": (1e-3, 0)]
        case .current: table = ["A": (1, 0), "mA": (1e-3, 0)]
        case .cellTemp, .ambient: table = ["degC": (1, 0), "°C": (1, 0), "C": (1, 0), "K": (1, -273.15)]
        case .soc: table = ["1": (1, 0), "%": (0.01, 0)]
        case .extra: return (1, 0)
        }
        guard let c = table[unit] else {
            throw ImportError("\(path): column '\(column)' (\(field)) has unit '\(unit)'; trw reads \(field) in \(table.keys.sorted().joined(separator: ", "))")
        }
        return c
    }

    static func slug(_ s: String) -> String {
        var out = ""
        var lastUnderscore = true
        for ch in s.lowercased() {
            if ch.isASCII && (ch.isLetter || ch.isNumber) {
                out.append(ch)
                lastUnderscore = false
            } else if ch == "%" {
                out += lastUnderscore ? "percent" : "_percent"
                lastUnderscore = false
            } else if !lastUnderscore {
                out.append("_")
                lastUnderscore = true
            }
        }
        while out.hasSuffix("_") { out.removeLast() }
        return out
    }

    // MARK: - text

    static func readText(_ path: String) throws -> String {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else { throw ImportError("\(path): no such file") }
        guard !isDir.boolValue else { throw ImportError("\(path) is a folder, not a file") }
        guard let data = FileManager.default.contents(atPath: path) else { throw ImportError("\(path): cannot be read (permission?)") }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ImportError("\(path): not UTF-8 text (a binary cycler file? use --format arbin|maccor|neware|biologic)")
        }
        return text.hasPrefix("\u{FEFF}") ? String(text.dropFirst()) : text
    }

    /// Lines with 1-based numbers, without their terminators (LF or CRLF). A Swift `String`
    /// holds CRLF as one Character, so both are split on explicitly (Windows software writes CRLF).
    static func splitLines(_ text: String) -> [(number: Int, text: String)] {
        var out: [(Int, String)] = []
        var n = 0
        for sub in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
            n += 1
            var s = String(sub)
            if s.hasSuffix("\r") { s.removeLast() }
            out.append((n, s))
        }
        if let last = out.last, last.1.isEmpty { out.removeLast() }
        return out
    }

    /// Fields of one line; double quotes enclose a field that holds the delimiter ("" is a quote).
    static func splitFields(_ line: String, delimiter: Character) -> [String] {
        var fields: [String] = []
        var cur = ""
        var quoted = false
        var it = Array(line)
        var i = 0
        while i < it.count {
            let ch = it[i]
            if quoted {
                if ch == "\"" {
                    if i + 1 < it.count && it[i + 1] == "\"" { cur.append("\""); i += 1 } else { quoted = false }
                } else { cur.append(ch) }
            } else if ch == "\"" && cur.isEmpty {
                quoted = true
            } else if ch == delimiter {
                fields.append(cur)
                cur = ""
            } else {
                cur.append(ch)
            }
            i += 1
        }
        fields.append(cur)
        it.removeAll()
        return fields
    }
}

/// ISO 8601 times with a zone (Z or +hh:mm), with or without fractional seconds.
enum ISO8601 {
    // ISO8601DateFormatter is documented thread-safe once configured.
    nonisolated(unsafe) static let fractional: ISO8601DateFormatter = {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f
    }()
    nonisolated(unsafe) static let whole: ISO8601DateFormatter = {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        return f
    }()

    static func seconds(_ s: String) -> Double? {
        (fractional.date(from: s) ?? whole.date(from: s))?.timeIntervalSince1970
    }
}
