import Foundation
import TOMLKit
import TRWCore

/// A problem with a scenario file: names the file, the key and what was expected.
public enum ScenarioError: Error, CustomStringConvertible, Equatable {
    /// The file could not be read.
    case unreadable(file: String, reason: String)
    /// The TOML did not parse.
    case syntax(file: String, line: Int, column: Int, reason: String)
    /// A key holds the wrong type or an out-of-range value.
    case invalidValue(file: String, key: String, found: String, expected: String)
    /// A key that must be present is missing.
    case missingKey(file: String, key: String, expected: String)
    /// No scenario of that name in the searched folders.
    case notFound(name: String, searched: [String])
    /// A key the scenario format does not know (a typo is never dropped silently).
    case unknownKey(file: String, line: Int?, key: String, suggestion: String?, known: [String])

    public var description: String {
        switch self {
        case let .unreadable(file, reason): "\(file): cannot read scenario: \(reason)"
        case let .syntax(file, line, column, reason): "\(file):\(line):\(column): TOML syntax error: \(reason)"
        case let .invalidValue(file, key, found, expected): "\(file): key '\(key)' is \(found); expected \(expected)"
        case let .missingKey(file, key, expected): "\(file): key '\(key)' is missing; expected \(expected)"
        case let .notFound(name, searched):
            "no scenario named '\(name)' (looked for \(name).toml in: \(searched.joined(separator: ", "))); pass a path to a .toml file or set TRW_SCENARIOS"
        case let .unknownKey(file, line, key, suggestion, known):
            "\(file)\(line.map { ":\($0)" } ?? ""): unknown key '\(key)'"
                + (suggestion.map { "; did you mean '\($0)'?" } ?? "")
                + (known.isEmpty ? "" : " (known keys here: \(known.joined(separator: ", ")))")
        }
    }
}

/// Ranges of the simulated sensors that scenario files and the command line's
/// overrides share: beyond them a value is a typo, or a size that would not fit
/// in memory (a frame queue holds up to 128 frames).
public enum SensorLimits {
    public static let irWidth = 8...2048
    public static let irHeight = 8...2048
    /// Largest IR frame, pixels (1280x1024, the largest radiometric cameras).
    public static let irMaxPixels = 1280 * 1024
    public static let irFPS: ClosedRange<Double> = 0.01...1000
    public static let aeRateHz = 1000...1_000_000
    /// Longest simulated run, s.
    public static let maxDurationS: Double = 1e7
}

/// The simulated cell: geometry, thermal data, electrical data, failure thresholds.
public struct CellSpec: Sendable, Equatable, Codable {
    public var chemistry: Chemistry
    public var capacityAh: Double
    /// "pouch", "prismatic" or "cylindrical" (every cell is modelled as a thin plate: a
    /// cylinder as its unrolled can, see `diameterM`).
    public var format: String
    /// Cylindrical cells: can diameter and length, m. The solver's plate is the unrolled can,
    /// width pi d / 2 (the half the camera sees) by the length, thickness d / 2 (the mass of
    /// the cylinder; its two faces are the whole lateral surface).
    public var diameterM: Double?
    public var lengthM: Double?
    /// Current interrupt device (cylindrical cells): opens when the gas generated reaches this
    /// amount, mol, and cuts the supply current for good (nil = no CID).
    public var cidGasMol: Double?
    /// Face width and height, thickness, m.
    public var widthM: Double
    public var heightM: Double
    public var thicknessM: Double
    /// Density rho, kg/m^3 (measured 2200-2740 for real cells).
    public var density: Double
    /// Specific heat cp, J/(kg K) (measured 1080-1200).
    public var heatCapacity: Double
    /// In-plane conductivity k, W/(m K) (~20 measured).
    public var conductivity: Double
    /// Surface emissivity (true), for radiation and the IR camera.
    public var emissivity: Double
    /// Internal resistance at 25 degC, ohm.
    public var resistanceOhm: Double
    /// Separator failure (melt-down) temperature, degC: the internal short starts at the hotspot.
    public var separatorFailureC: Double
    /// Internal-short resistance right at separator failure, ohm; it falls as the spot heats.
    public var shortResistanceOhm: Double
    /// Gas in the pouch/can at which it vents (a cylinder's vent disc bursts), mol.
    public var ventGasMol: Double
    /// Hotspot (defect) position as a fraction of width and height (0...1).
    public var hotspotX: Double
    public var hotspotY: Double
    /// Extra share of local current density at the defect (0 = none).
    public var hotspotStrength: Double

    public init(chemistry: Chemistry = .ncm, capacityAh: Double = 2, format: String = "pouch",
                widthM: Double = 0.08, heightM: Double = 0.05, thicknessM: Double = 0.004,
                density: Double = 2500, heatCapacity: Double = 1100, conductivity: Double = 20, emissivity: Double = 0.9,
                resistanceOhm: Double = 0.03, separatorFailureC: Double = 150, shortResistanceOhm: Double = 0.5,
                ventGasMol: Double = 0.005, hotspotX: Double = 0.62, hotspotY: Double = 0.4, hotspotStrength: Double = 0.5) {
        self.chemistry = chemistry
        self.capacityAh = capacityAh
        self.format = format
        self.widthM = widthM
        self.heightM = heightM
        self.thicknessM = thicknessM
        self.density = density
        self.heatCapacity = heatCapacity
        self.conductivity = conductivity
        self.emissivity = emissivity
        self.resistanceOhm = resistanceOhm
        self.separatorFailureC = separatorFailureC
        self.shortResistanceOhm = shortResistanceOhm
        self.ventGasMol = ventGasMol
        self.hotspotX = hotspotX
        self.hotspotY = hotspotY
        self.hotspotStrength = hotspotStrength
    }

    /// Cell formats the simulator knows.
    public static let formats = ["pouch", "prismatic", "cylindrical"]

    /// Sets a cylindrical geometry: the plate is the unrolled can (see `diameterM`).
    public mutating func setCylinder(diameterM d: Double, lengthM l: Double) {
        format = "cylindrical"
        diameterM = d
        lengthM = l
        widthM = Double.pi * d / 2
        heightM = l
        thicknessM = d / 2
    }

    /// Volume of the cell, m^3 (a cylinder's, not the plate's: the same by construction).
    public var volumeM3: Double { widthM * heightM * thicknessM }
}

/// Cylindrical cell presets (`[cell] preset = "18650"`): can size, a typical NCM
/// capacity and resistance, mass density, and CID / vent-disc gas amounts (ideal gas
/// in ~1.5 cm3 (18650) / ~2.2 cm3 (21700) of free volume at the CID's ~1 MPa and
/// the vent disc's ~2 MPa opening pressures; estimates, see docs/simulator.md).
public enum CylindricalPreset: String, Sendable, CaseIterable {
    case c18650 = "18650"
    case c21700 = "21700"

    // In the file's units divided as the parser divides them, so a written file reads back exactly.
    public var diameterM: Double { (self == .c18650 ? 18.0 : 21.0) / 1000 }
    public var lengthM: Double { (self == .c18650 ? 65.0 : 70.0) / 1000 }
    public var capacityAh: Double { self == .c18650 ? 2.5 : 4.8 }
    public var resistanceOhm: Double { (self == .c18650 ? 30.0 : 18.0) / 1000 }
    /// ~45 g (18650) and ~68 g (21700) over the can volume.
    public var density: Double { self == .c18650 ? 2720 : 2810 }
    public var cidGasMol: Double { (self == .c18650 ? 0.6 : 0.9) / 1000 }
    public var ventGasMol: Double { (self == .c18650 ? 1.2 : 1.8) / 1000 }

    public func apply(to c: inout CellSpec) {
        c.setCylinder(diameterM: diameterM, lengthM: lengthM)
        c.capacityAh = capacityAh
        c.resistanceOhm = resistanceOhm
        c.density = density
        c.cidGasMol = cidGasMol
        c.ventGasMol = ventGasMol
    }
}

/// The solver grid over the cell face.
public struct GridSpec: Sendable, Equatable, Codable {
    public var nx: Int
    public var ny: Int
    /// Outer physics step, s (the solver sub-steps inside when reactions are fast).
    public var stepS: Double
    public init(nx: Int = 128, ny: Int = 96, stepS: Double = 0.1) {
        self.nx = nx
        self.ny = ny
        self.stepS = stepS
    }
}

/// Default sensor settings of a scenario (the rig's options may override them).
public struct SensorSpec: Sendable, Equatable, Codable {
    public var irWidth: Int
    public var irHeight: Int
    public var irFPS: Double
    /// Noise-equivalent temperature difference, K (RMS).
    public var irNETDK: Double
    /// Emissivity the camera assumes (the truth is `CellSpec.emissivity`).
    public var irAssumedEmissivity: Double
    /// Camera clock: offset (ms), drift (ppm), jitter (us RMS).
    public var irClockOffsetMs: Double
    public var irClockDriftPPM: Double
    public var irClockJitterUs: Double
    public var aeRateHz: Int
    public var aeChannels: Int
    public var aeFormat: SampleFormat
    /// Sample-clock error of the AE ADC, ppm.
    public var aeClockPPM: Double
    public var bmsRateHz: Double
    public var bmsClockOffsetS: Double
    public var bmsClockDriftPPM: Double
    /// Radiometric range of the camera and the top of its calibrated range, degC (counts are
    /// clamped there; clamped pixels are counted per frame and written as `ir_saturated` labels).
    public var irRange: IRRangeMode = .highResolution
    public var irRangeMaxC: Double = IRRangeMode.highResolution.defaultRangeMaxC
    /// Camera offset error, K (added to every pixel's temperature).
    public var irOffsetK: Double = 0
    /// AE background noise RMS and DC offset, fractions of full scale.
    public var aeBackgroundRMS: Double = 6e-4
    public var aeOffset: Double = 0
    /// BMS channel noise and offsets.
    public var bmsNoise = BMSNoise()
    /// Faults over time intervals, any sensor.
    public var faults: [SensorFault] = []

    public init(irWidth: Int = 640, irHeight: Int = 480, irFPS: Double = 50, irNETDK: Double = 0.05,
                irAssumedEmissivity: Double = 0.95, irClockOffsetMs: Double = 1234.5, irClockDriftPPM: Double = 35,
                irClockJitterUs: Double = 150, aeRateHz: Int = 192_000, aeChannels: Int = 1, aeFormat: SampleFormat = .s16le,
                aeClockPPM: Double = -42, bmsRateHz: Double = 1, bmsClockOffsetS: Double = 1000, bmsClockDriftPPM: Double = 80) {
        self.irWidth = irWidth
        self.irHeight = irHeight
        self.irFPS = irFPS
        self.irNETDK = irNETDK
        self.irAssumedEmissivity = irAssumedEmissivity
        self.irClockOffsetMs = irClockOffsetMs
        self.irClockDriftPPM = irClockDriftPPM
        self.irClockJitterUs = irClockJitterUs
        self.aeRateHz = aeRateHz
        self.aeChannels = aeChannels
        self.aeFormat = aeFormat
        self.aeClockPPM = aeClockPPM
        self.bmsRateHz = bmsRateHz
        self.bmsClockOffsetS = bmsClockOffsetS
        self.bmsClockDriftPPM = bmsClockDriftPPM
    }
}

/// When a run ends by itself.
public struct RunSpec: Sendable, Equatable, Codable {
    /// Hard cap on simulated time, s.
    public var durationCapS: Double
    /// After runaway, stop once the true max temperature has fallen for this long, s.
    public var stopAfterPeakS: Double
    public init(durationCapS: Double = 3600, stopAfterPeakS: Double = 30) {
        self.durationCapS = durationCapS
        self.stopAfterPeakS = stopAfterPeakS
    }
}

/// A complete simulated test: cell, chamber, protocol, grid, sensors, run limits and seed.
/// Deterministic for a seed.
public struct Scenario: Sendable, Equatable, Codable {
    public var name: String
    public var description: String
    public var seed: UInt64
    /// Whether this scenario is expected to run away (false for negative controls).
    public var expectRunaway: Bool
    public var cell: CellSpec
    public var ambient: AmbientSpec
    public var testProtocol: ProtocolSpec
    public var grid: GridSpec
    public var sensors: SensorSpec
    public var run: RunSpec

    public init(name: String, description: String = "", seed: UInt64 = 1, expectRunaway: Bool = true,
                cell: CellSpec = CellSpec(), ambient: AmbientSpec = AmbientSpec(), testProtocol: ProtocolSpec = ProtocolSpec(),
                grid: GridSpec = GridSpec(), sensors: SensorSpec = SensorSpec(), run: RunSpec = RunSpec()) {
        self.name = name
        self.description = description
        self.seed = seed
        self.expectRunaway = expectRunaway
        self.cell = cell
        self.ambient = ambient
        self.testProtocol = testProtocol
        self.grid = grid
        self.sensors = sensors
        self.run = run
    }

    /// Loads a scenario from a TOML file. Missing keys take the defaults above;
    /// wrong types, unknown chemistries and out-of-range values throw
    /// `ScenarioError` naming the file and the key.
    public static func load(contentsOf url: URL) throws(ScenarioError) -> Scenario {
        let text: String
        do { text = try String(contentsOf: url, encoding: .utf8) } catch {
            throw .unreadable(file: url.path, reason: "\(error.localizedDescription)")
        }
        return try parse(toml: text, file: url.path, defaultName: url.deletingPathExtension().lastPathComponent)
    }

    /// Parses scenario TOML text; `file` is used in error messages.
    public static func parse(toml text: String, file: String, defaultName: String = "scenario") throws(ScenarioError) -> Scenario {
        let r = try TOMLReader.root(toml: text, file: file)
        var s = Scenario(name: try r.string("name") ?? defaultName)
        s.description = try r.string("description") ?? ""
        if let seed = try r.int("seed", min: 0) { s.seed = UInt64(seed) }
        s.expectRunaway = try r.bool("expect_runaway") ?? true

        try parseCell(try r.sub("cell"), into: &s.cell, file: file)
        try parseAmbient(try r.sub("ambient"), into: &s.ambient, file: file)
        try parseProtocol(try r.sub("protocol"), into: &s.testProtocol, cell: s.cell, file: file)

        let g = try r.sub("grid")
        s.grid.nx = try g.int("nx", min: 4, max: 1024) ?? s.grid.nx
        s.grid.ny = try g.int("ny", min: 4, max: 1024) ?? s.grid.ny
        s.grid.stepS = try g.double("step_s", range: 0.001...10) ?? s.grid.stepS

        try parseSensors(try r.sub("sensors"), into: &s.sensors, file: file)
        let run = try r.sub("run")
        s.run.durationCapS = try run.double("duration_cap_s", range: 1...1e7) ?? s.run.durationCapS
        s.run.stopAfterPeakS = try run.double("stop_after_peak_s", range: 0...1e6) ?? s.run.stopAfterPeakS
        try r.rejectUnknownKeys(text: text)
        return s
    }

    /// Folders searched by `named(_:)`: $TRW_SCENARIOS, ./scenarios, and the
    /// package's own scenarios folder (found from this source file's location).
    public static var searchFolders: [URL] {
        var out: [URL] = []
        if let env = ProcessInfo.processInfo.environment["TRW_SCENARIOS"], !env.isEmpty {
            out.append(URL(fileURLWithPath: env, isDirectory: true))
        }
        out.append(URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent("scenarios"))
        let here = URL(fileURLWithPath: #filePath)
        out.append(here.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("scenarios"))
        return out
    }

    /// Names of the scenarios found in `searchFolders` (first folder wins), sorted.
    public static func available() -> [String] {
        var names = Set<String>()
        for folder in searchFolders {
            let items = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
            for f in items where f.hasSuffix(".toml") { names.insert(String(f.dropLast(5))) }
        }
        return names.sorted()
    }

    /// Finds and loads `name` (a path to a .toml file, or a bare name looked up
    /// as NAME.toml in `searchFolders`).
    public static func named(_ name: String) throws(ScenarioError) -> Scenario {
        if name.hasSuffix(".toml") || name.contains("/") {
            return try load(contentsOf: URL(fileURLWithPath: name))
        }
        let folders = searchFolders
        for folder in folders {
            let url = folder.appendingPathComponent("\(name).toml")
            if FileManager.default.fileExists(atPath: url.path) { return try load(contentsOf: url) }
        }
        throw .notFound(name: name, searched: folders.map(\.path))
    }
}

/// Typed access to a TOML table, every error naming file and dotted key.
/// Every key a `TOMLReader` asked for, per table (dotted prefix): what the
/// format knows. A key in the file that nobody asked for is a typo or a key
/// of another format, and is refused with the nearest known key.
final class TOMLKeyLog {
    var asked: [String: [String]] = [:]
    func ask(_ prefix: String, _ key: String) {
        if !(asked[prefix]?.contains(key) ?? false) { asked[prefix, default: []].append(key) }
    }
}

struct TOMLReader {
    let file: String
    let table: TOMLTable?
    let prefix: String
    let log: TOMLKeyLog

    /// A reader over a whole TOML document (scenario files, sampler distributions): a syntax
    /// error names the file, line and column.
    static func root(toml text: String, file: String) throws(ScenarioError) -> TOMLReader {
        let root: TOMLTable
        do { root = try TOMLTable(string: text) } catch let e as TOMLParseError {
            throw .syntax(file: file, line: e.source.begin.line, column: e.source.begin.column, reason: e.description)
        } catch {
            throw .syntax(file: file, line: 0, column: 0, reason: "\(error)")
        }
        return TOMLReader(file: file, table: root, prefix: "", log: TOMLKeyLog())
    }

    func key(_ k: String) -> String { prefix.isEmpty ? k : "\(prefix).\(k)" }

    /// The value of `k`, noting that the format knows `k`.
    subscript(_ k: String) -> TOMLValueConvertible? {
        log.ask(prefix, k)
        return table?[k]
    }

    func sub(_ k: String) throws(ScenarioError) -> TOMLReader {
        guard let v = self[k] else { return TOMLReader(file: file, table: nil, prefix: key(k), log: log) }
        guard let t = v.table else { throw .invalidValue(file: file, key: key(k), found: describe(v), expected: "a table [\(key(k))]") }
        return TOMLReader(file: file, table: t, prefix: key(k), log: log)
    }

    /// Throws `.unknownKey` (file, line, dotted key, nearest known key) for the first key
    /// of the file, in any table, that no reader asked for. Call after reading everything.
    func rejectUnknownKeys(text: String) throws(ScenarioError) {
        guard let table else { return }
        for k in table.keys.sorted() {
            let known = log.asked[prefix] ?? []
            guard known.contains(k) else {
                throw .unknownKey(file: file, line: TOMLLineLocator(text: text).line(key(k)), key: key(k),
                                  suggestion: KeySuggestion.nearest(k, in: known), known: known.sorted())
            }
            if let t = table[k]?.table, log.asked[key(k)] != nil {
                try TOMLReader(file: file, table: t, prefix: key(k), log: log).rejectUnknownKeys(text: text)
            } else if let arr = table[k]?.array {
                for i in 0..<arr.count {
                    let p = "\(key(k))[\(i)]"
                    if let t = arr[i].table, log.asked[p] != nil {
                        try TOMLReader(file: file, table: t, prefix: p, log: log).rejectUnknownKeys(text: text)
                    }
                }
            }
        }
    }

    func describe(_ v: TOMLValueConvertible) -> String { "\(v.type) \(v.debugDescription)" }

    func string(_ k: String) throws(ScenarioError) -> String? {
        guard let v = self[k] else { return nil }
        guard let s = v.string else { throw .invalidValue(file: file, key: key(k), found: describe(v), expected: "a string") }
        return s
    }

    func bool(_ k: String) throws(ScenarioError) -> Bool? {
        guard let v = self[k] else { return nil }
        guard let b = v.bool else { throw .invalidValue(file: file, key: key(k), found: describe(v), expected: "true or false") }
        return b
    }

    func int(_ k: String, min lo: Int = .min, max hi: Int = .max) throws(ScenarioError) -> Int? {
        guard let v = self[k] else { return nil }
        guard let i = v.int else { throw .invalidValue(file: file, key: key(k), found: describe(v), expected: "an integer") }
        guard i >= lo, i <= hi else { throw .invalidValue(file: file, key: key(k), found: "\(i)", expected: "an integer in \(lo)...\(hi)") }
        return i
    }

    func number(_ v: TOMLValueConvertible) -> Double? { v.double ?? v.int.map(Double.init) }

    func double(_ k: String, range: ClosedRange<Double>) throws(ScenarioError) -> Double? {
        guard let v = self[k] else { return nil }
        guard let d = number(v), d.isFinite else { throw .invalidValue(file: file, key: key(k), found: describe(v), expected: "a number") }
        guard range.contains(d) else { throw .invalidValue(file: file, key: key(k), found: "\(d)", expected: "a number in \(range.lowerBound)...\(range.upperBound)") }
        return d
    }

    func doubles(_ k: String, count: Int, range: ClosedRange<Double>) throws(ScenarioError) -> [Double]? {
        guard let v = self[k] else { return nil }
        let expected = "an array of \(count) numbers in \(range.lowerBound)...\(range.upperBound)"
        guard let arr = v.array, arr.count == count else { throw .invalidValue(file: file, key: key(k), found: describe(v), expected: expected) }
        var out: [Double] = []
        for i in 0..<arr.count {
            guard let d = number(arr[i]), range.contains(d) else {
                throw .invalidValue(file: file, key: key(k), found: describe(v), expected: expected)
            }
            out.append(d)
        }
        return out
    }
}
