import Foundation

/// One data line of an imported file, in the store's units.
public struct ImportedRow: Sendable, Equatable {
    /// 1-based line number in the file read (the BDF CSV for converted formats).
    public var line: Int
    /// The file's own elapsed time, seconds ("Test Time / s", or the CSV's time column).
    public var timeS: Double
    /// Absolute time of the row, seconds since 1970-01-01 UTC, when the file has one.
    public var unixTimeS: Double?
    public var voltageV: Double?
    public var currentA: Double?
    /// Cell (surface) temperatures, degC, in column order.
    public var cellTempsC: [Double] = []
    public var ambientC: Double?
    /// State of charge, 0...1.
    public var soc: Double?
    /// Every other numeric column, keyed by its snake_case name with its unit (`cumulative_capacity_ah`).
    public var extra: [String: Double] = [:]
    /// The line as read.
    public var raw: String
}

/// What a column of the file becomes in the store.
public enum ImportField: Sendable, Equatable, Hashable, CustomStringConvertible {
    case time, unixTime, voltage, current, cellTemp, ambient, soc
    case extra(String)

    public var description: String {
        switch self {
        case .time: "time"
        case .unixTime: "unix_time"
        case .voltage: "voltage"
        case .current: "current"
        case .cellTemp: "cell_temp"
        case .ambient: "ambient"
        case .soc: "soc"
        case .extra(let k): k
        }
    }

    /// The range a value of this field must lie in, in the store's unit, with its wording.
    var range: (ClosedRange<Double>, String) {
        switch self {
        case .time: (0...1e9, "an elapsed time 0 to 1e9 s")
        case .unixTime: (946_684_800...4_102_444_800, "a Unix time in 2000-2100 (946684800 to 4102444800 s)")
        case .voltage: (-1000...1000, "a voltage -1000 to 1000 V")
        case .current: (-10_000...10_000, "a current -10000 to 10000 A")
        case .cellTemp, .ambient: (-273.15...2000, "a temperature -273.15 to 2000 degC")
        case .soc: (0...1, "a state of charge 0 to 1 (0 to 100 %)")
        case .extra: (-1e15...1e15, "a finite number within +-1e15")
        }
    }
}

/// How one column of the file is read: its header, what it becomes, and the factor (and
/// offset) from its unit to the store's.
public struct ColumnMapping: Sendable, Equatable {
    public var header: String
    public var index: Int
    public var field: ImportField
    public var unit: String
    public var scale: Double
    public var offset: Double

    public init(header: String, index: Int, field: ImportField, unit: String, scale: Double = 1, offset: Double = 0) {
        self.header = header
        self.index = index
        self.field = field
        self.unit = unit
        self.scale = scale
        self.offset = offset
    }
}

/// A line that could not be used, and why.
public struct LineProblem: Sendable, Equatable, CustomStringConvertible {
    public var line: Int
    /// The column's header ("" when the problem is the line's shape).
    public var column: String
    public var found: String
    public var expected: String

    public var description: String {
        column.isEmpty ? "line \(line): \(expected), found \(found)"
            : "line \(line), column '\(column)': expected \(expected), found '\(found)'"
    }
}

/// A parsed file: rows in file order, the mapping used, and the lines left out.
public struct ImportedTable: Sendable {
    /// The file the rows were read from (the BDF CSV for converted formats) and the original.
    public var path: String
    public var source: String
    public var format: ImportFormat
    public var header: [String]
    public var columns: [ColumnMapping]
    /// Headers present in the file but not imported as values (they stay in each row's `raw`).
    public var ignoredColumns: [String]
    public var rows: [ImportedRow]
    public var problems: [LineProblem]
    /// Data lines read (good and bad), not counting the header and blank lines.
    public var dataLines: Int
    /// Lines before the column header (a cycler's banner: date of test, file name, procedure), as read.
    public var banner: [String] = []

    /// The values of `field` over the rows that have one: (file time s, value).
    public func series(_ field: ImportField) -> [(t: Double, v: Double)] {
        rows.compactMap { r in
            let v: Double? = switch field {
            case .voltage: r.voltageV
            case .current: r.currentA
            case .cellTemp: r.cellTempsC.first
            case .ambient: r.ambientC
            case .soc: r.soc
            case .time: r.timeS
            case .unixTime: r.unixTimeS
            case .extra(let k): r.extra[k]
            }
            return v.map { (r.timeS, $0) }
        }
    }
}

/// The file formats `trw import` reads.
public enum ImportFormat: String, Sendable, CaseIterable, Codable {
    /// Battery Data Format CSV (battery-data-alliance), read directly.
    case bdf
    /// Plain CSV with the columns named on the command line, read directly.
    case csv
    /// Cycler files read by an established Python reader and converted to BDF CSV (arbin,
    /// neware, biologic), or Maccor's text export, read directly (`MaccorParser`).
    case arbin, maccor, neware, biologic

    public static var names: String { allCases.map(\.rawValue).joined(separator: "|") }
    /// Whether the file goes through the Python converter first.
    public var needsConverter: Bool { ![.bdf, .csv, .maccor].contains(self) }
}

/// Why an import was refused.
public struct ImportError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ message: String) { description = message }
}
