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
    /// "pouch" or "prismatic" (the face is modelled as a thin plate either way).
    public var format: String
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
    /// Gas in the pouch/can at which it vents, mol.
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
}

/// The chamber around the cell.
public struct AmbientSpec: Sendable, Equatable, Codable {
    /// Chamber temperature at start, degC.
    public var temperatureC: Double
    /// Convection coefficient h on each face, W/(m^2 K) (5-15 in still air).
    public var convection: Double
    /// Chamber set point reached by a ramp (oven / ambient-heating tests), degC; nil = constant.
    public var rampToC: Double?
    /// Ramp rate, degC/min (0 = step change at `rampStartS`).
    public var rampCPerMin: Double
    /// When the ramp starts, s.
    public var rampStartS: Double

    public init(temperatureC: Double = 25, convection: Double = 10, rampToC: Double? = nil,
                rampCPerMin: Double = 0, rampStartS: Double = 0) {
        self.temperatureC = temperatureC
        self.convection = convection
        self.rampToC = rampToC
        self.rampCPerMin = rampCPerMin
        self.rampStartS = rampStartS
    }

    /// Chamber temperature at time `t` seconds, degC.
    public func temperature(at t: Double) -> Double {
        guard let target = rampToC, t > rampStartS else { return temperatureC }
        if rampCPerMin <= 0 { return target }
        let dt = t - rampStartS
        let moved = rampCPerMin / 60 * dt
        return target >= temperatureC ? min(target, temperatureC + moved) : max(target, temperatureC - moved)
    }
}

/// What the supply does.
public struct ProtocolSpec: Sendable, Equatable, Codable {
    /// Constant charging current as a C-rate (0 = no current: oven / ambient tests).
    public var cRate: Double
    /// State of charge at start (fraction; 1 = 100 %).
    public var startSOC: Double
    /// Stop charging at this SOC, then rest (nil = never).
    public var stopSOC: Double?
    /// Stop charging after this many seconds, then rest (nil = never).
    public var stopAfterS: Double?
    /// Supply compliance voltage, V: constant current while the terminal voltage stays below it.
    public var supplyLimitV: Double

    public init(cRate: Double = 0.5, startSOC: Double = 1.0, stopSOC: Double? = nil, stopAfterS: Double? = nil,
                supplyLimitV: Double = 12) {
        self.cRate = cRate
        self.startSOC = startSOC
        self.stopSOC = stopSOC
        self.stopAfterS = stopAfterS
        self.supplyLimitV = supplyLimitV
    }

    /// Text for the session's protocol field.
    public var summary: String {
        if cRate <= 0 { return "no current (thermal abuse)" }
        var s = "overcharge \(cRate)C CC from \(Int((startSOC * 100).rounded())) % SOC, supply limit \(supplyLimitV) V"
        if let stopSOC { s += ", stop at \(Int((stopSOC * 100).rounded())) % SOC" }
        if let stopAfterS { s += ", stop after \(Int(stopAfterS)) s" }
        return s
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
        let root: TOMLTable
        do { root = try TOMLTable(string: text) } catch let e as TOMLParseError {
            throw .syntax(file: file, line: e.source.begin.line, column: e.source.begin.column, reason: e.description)
        } catch {
            throw .syntax(file: file, line: 0, column: 0, reason: "\(error)")
        }
        let r = TOMLReader(file: file, table: root, prefix: "", log: TOMLKeyLog())
        var s = Scenario(name: try r.string("name") ?? defaultName)
        s.description = try r.string("description") ?? ""
        if let seed = try r.int("seed", min: 0) { s.seed = UInt64(seed) }
        s.expectRunaway = try r.bool("expect_runaway") ?? true

        let c = try r.sub("cell")
        if let chem = try c.string("chemistry") {
            guard let v = Chemistry(rawValue: chem.uppercased()) else {
                throw .invalidValue(file: file, key: "cell.chemistry", found: "\"\(chem)\"",
                                    expected: "one of \(Chemistry.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            s.cell.chemistry = v
        }
        s.cell.capacityAh = try c.double("capacity_ah", range: 0.01...1000) ?? s.cell.capacityAh
        s.cell.format = try c.string("format") ?? s.cell.format
        if let v = try c.double("width_mm", range: 1...2000) { s.cell.widthM = v / 1000 }
        if let v = try c.double("height_mm", range: 1...2000) { s.cell.heightM = v / 1000 }
        if let v = try c.double("thickness_mm", range: 0.1...200) { s.cell.thicknessM = v / 1000 }
        s.cell.density = try c.double("density_kg_m3", range: 500...10000) ?? s.cell.density
        s.cell.heatCapacity = try c.double("heat_capacity_j_kg_k", range: 100...5000) ?? s.cell.heatCapacity
        s.cell.conductivity = try c.double("conductivity_w_m_k", range: 0.01...1000) ?? s.cell.conductivity
        s.cell.emissivity = try c.double("emissivity", range: 0...1) ?? s.cell.emissivity
        if let v = try c.double("resistance_mohm", range: 0.01...10000) { s.cell.resistanceOhm = v / 1000 }
        s.cell.separatorFailureC = try c.double("separator_failure_c", range: 50...500) ?? s.cell.separatorFailureC
        s.cell.shortResistanceOhm = try c.double("short_resistance_ohm", range: 0.0001...1000) ?? s.cell.shortResistanceOhm
        if let v = try c.double("vent_gas_mmol", range: 0.001...1e6) { s.cell.ventGasMol = v / 1000 }
        if let hs = try c.doubles("hotspot", count: 2, range: 0...1) { s.cell.hotspotX = hs[0]; s.cell.hotspotY = hs[1] }
        s.cell.hotspotStrength = try c.double("hotspot_strength", range: 0...100) ?? s.cell.hotspotStrength

        let a = try r.sub("ambient")
        s.ambient.temperatureC = try a.double("temperature_c", range: -60...400) ?? s.ambient.temperatureC
        s.ambient.convection = try a.double("convection_w_m2_k", range: 0...10000) ?? s.ambient.convection
        s.ambient.rampToC = try a.double("ramp_to_c", range: -60...400)
        s.ambient.rampCPerMin = try a.double("ramp_c_per_min", range: 0...1000) ?? 0
        s.ambient.rampStartS = try a.double("ramp_start_s", range: 0...1e7) ?? 0

        let p = try r.sub("protocol")
        s.testProtocol.cRate = try p.double("c_rate", range: 0...20) ?? s.testProtocol.cRate
        s.testProtocol.startSOC = try p.double("start_soc", range: 0...3) ?? s.testProtocol.startSOC
        s.testProtocol.stopSOC = try p.double("stop_soc", range: 0...3)
        s.testProtocol.stopAfterS = try p.double("stop_after_s", range: 0...1e7)
        s.testProtocol.supplyLimitV = try p.double("supply_limit_v", range: 1...1000) ?? s.testProtocol.supplyLimitV

        let g = try r.sub("grid")
        s.grid.nx = try g.int("nx", min: 4, max: 1024) ?? s.grid.nx
        s.grid.ny = try g.int("ny", min: 4, max: 1024) ?? s.grid.ny
        s.grid.stepS = try g.double("step_s", range: 0.001...10) ?? s.grid.stepS

        let sensors = try r.sub("sensors")
        let ir = try sensors.sub("ir")
        s.sensors.irWidth = try ir.int("width", min: SensorLimits.irWidth.lowerBound, max: SensorLimits.irWidth.upperBound) ?? s.sensors.irWidth
        s.sensors.irHeight = try ir.int("height", min: SensorLimits.irHeight.lowerBound, max: SensorLimits.irHeight.upperBound) ?? s.sensors.irHeight
        if s.sensors.irWidth * s.sensors.irHeight > SensorLimits.irMaxPixels {
            throw .invalidValue(file: file, key: "sensors.ir.width", found: "\(s.sensors.irWidth)x\(s.sensors.irHeight)",
                                expected: "at most \(SensorLimits.irMaxPixels) pixels (1280x1024)")
        }
        s.sensors.irFPS = try ir.double("fps", range: SensorLimits.irFPS) ?? s.sensors.irFPS
        s.sensors.irNETDK = try ir.double("netd_k", range: 0...10) ?? s.sensors.irNETDK
        s.sensors.irAssumedEmissivity = try ir.double("assumed_emissivity", range: 0.01...1) ?? s.sensors.irAssumedEmissivity
        s.sensors.irClockOffsetMs = try ir.double("clock_offset_ms", range: -1e9...1e9) ?? s.sensors.irClockOffsetMs
        s.sensors.irClockDriftPPM = try ir.double("clock_drift_ppm", range: -10000...10000) ?? s.sensors.irClockDriftPPM
        s.sensors.irClockJitterUs = try ir.double("clock_jitter_us", range: 0...1e6) ?? s.sensors.irClockJitterUs
        let ae = try sensors.sub("ae")
        s.sensors.aeRateHz = try ae.int("rate_hz", min: SensorLimits.aeRateHz.lowerBound, max: SensorLimits.aeRateHz.upperBound) ?? s.sensors.aeRateHz
        s.sensors.aeChannels = try ae.int("channels", min: 1, max: 16) ?? s.sensors.aeChannels
        if let f = try ae.string("format") {
            guard let v = SampleFormat(rawValue: f), v == .s16le || v == .s32le else {
                throw .invalidValue(file: file, key: "sensors.ae.format", found: "\"\(f)\"", expected: "\"S16_LE\" or \"S32_LE\"")
            }
            s.sensors.aeFormat = v
        }
        s.sensors.aeClockPPM = try ae.double("clock_ppm", range: -10000...10000) ?? s.sensors.aeClockPPM
        let bms = try sensors.sub("bms")
        s.sensors.bmsRateHz = try bms.double("rate_hz", range: 0.01...1000) ?? s.sensors.bmsRateHz
        s.sensors.bmsClockOffsetS = try bms.double("clock_offset_s", range: -1e9...1e9) ?? s.sensors.bmsClockOffsetS
        s.sensors.bmsClockDriftPPM = try bms.double("clock_drift_ppm", range: -10000...10000) ?? s.sensors.bmsClockDriftPPM

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
