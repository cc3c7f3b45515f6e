import Foundation
import TOMLKit

/// The calibration table of published abuse experiments (schemas/calibration/experiments.toml,
/// described in docs/simulator-calibration.md): conditions, assumed values and observables with
/// tolerances. `scenario(for:)` turns an experiment into a simulator scenario where the simulator
/// can represent it; `CalibrationOutcome` measures a run the way the table's observables are named.
public struct CalibrationTable: Sendable {
    public struct Observable: Sendable, Equatable {
        public enum Relation: String, Sendable { case eq, ge, le }
        public var name: String
        public var value: Double
        public var isBool: Bool
        public var relation: Relation
        public var unit: String
        public var source: String
        public var tolerance: Double
        public var toleranceWhy: String

        /// Whether `simulated` meets this observable (booleans as 0/1).
        public func accepts(_ simulated: Double) -> Bool {
            switch relation {
            case .eq: abs(simulated - value) <= tolerance
            case .ge: simulated >= value - tolerance
            case .le: simulated <= value + tolerance
            }
        }
        /// "5.10 +- 0.15 V", ">= 180 C", "true".
        public var referenceText: String {
            if isBool { return value != 0 ? "true" : "false" }
            switch relation {
            case .eq: return "\(fmt(value)) ± \(fmt(tolerance)) \(unit)"
            case .ge: return ">= \(fmt(value - tolerance)) \(unit)"
            case .le: return "<= \(fmt(value + tolerance)) \(unit)"
            }
        }
    }

    public struct Experiment: Sendable {
        public var id: String
        public var citation: String
        public var kind: String
        /// Conditions the source states, then assumed values for what it does not (numbers and strings).
        public var numbers: [String: Double]
        public var strings: [String: String]
        public var geometryMM: [Double]?
        public var observables: [Observable]
    }

    public var experiments: [Experiment]

    /// A problem with the calibration file, naming the file and the key.
    public struct LoadError: Error, CustomStringConvertible {
        public var description: String
    }

    public static func load(contentsOf url: URL) throws -> CalibrationTable {
        let text: String
        do { text = try String(contentsOf: url, encoding: .utf8) } catch {
            throw LoadError(description: "\(url.path): cannot read calibration table: \(error.localizedDescription)")
        }
        let root: TOMLTable
        do { root = try TOMLTable(string: text) } catch {
            throw LoadError(description: "\(url.path): TOML syntax error: \(error)")
        }
        guard let list = root["experiment"]?.array else {
            throw LoadError(description: "\(url.path): no [[experiment]] entries")
        }
        var out: [Experiment] = []
        for i in 0..<list.count {
            guard let t = list[i].table, let id = t["id"]?.string, let kind = t["kind"]?.string else {
                throw LoadError(description: "\(url.path): experiment #\(i + 1) lacks 'id' or 'kind'")
            }
            var numbers: [String: Double] = [:], strings: [String: String] = [:]
            var geometry: [Double]?
            for section in ["assumed", "conditions"] { // conditions override assumed
                guard let c = t[section]?.table else { continue }
                for key in c.keys {
                    guard let v = c[key] else { continue }
                    if let d = v.double ?? v.int.map(Double.init) {
                        guard d.isFinite else { throw LoadError(description: "\(url.path): \(id).\(section).\(key) is not finite") }
                        numbers[key] = d
                    } else if let s = v.string {
                        strings[key] = s
                    } else if key == "geometry_mm", let a = v.array {
                        geometry = (0..<a.count).compactMap { a[$0].double ?? a[$0].int.map(Double.init) }
                    }
                }
            }
            var obs: [Observable] = []
            if let ol = t["observable"]?.array {
                for j in 0..<ol.count {
                    guard let o = ol[j].table, let name = o["name"]?.string,
                          let rel = o["relation"]?.string.flatMap(Observable.Relation.init(rawValue:)) else {
                        throw LoadError(description: "\(url.path): \(id) observable #\(j + 1) lacks name or a relation eq/ge/le")
                    }
                    let isBool = o["value"]?.bool != nil
                    guard let value = o["value"]?.bool.map({ $0 ? 1.0 : 0.0 }) ?? o["value"]?.double ?? o["value"]?.int.map(Double.init) else {
                        throw LoadError(description: "\(url.path): \(id).\(name): 'value' must be a number or boolean")
                    }
                    let tol = o["tolerance"]?.double ?? o["tolerance"]?.int.map(Double.init) ?? 0
                    guard tol >= 0 else { throw LoadError(description: "\(url.path): \(id).\(name): negative tolerance \(tol)") }
                    obs.append(Observable(name: name, value: value, isBool: isBool, relation: rel, unit: o["unit"]?.string ?? "",
                                          source: o["source"]?.string ?? "", tolerance: tol,
                                          toleranceWhy: o["tolerance_why"]?.string ?? ""))
                }
            }
            out.append(Experiment(id: id, citation: t["citation"]?.string ?? "", kind: kind, numbers: numbers, strings: strings,
                                  geometryMM: geometry, observables: obs))
        }
        return CalibrationTable(experiments: out)
    }

    /// A scenario standing in for `e`, or the reason the simulator cannot represent it yet.
    ///
    /// Where the source gives no geometry, the cell is sized from its capacity (modelling choices,
    /// stated in docs/simulator.md): 8 cm3/Ah (NCM, LCO) or 11 cm3/Ah (LFP) at 2500 kg/m3, or the
    /// stated mass; pouches 2:1 faces 4-15 mm thick, prismatic cans 2:1.3 faces with thickness
    /// 0.35 x cube root of the volume. DC resistance 60 mOhm Ah / capacity. Vent threshold 2.5 mmol
    /// gas per Ah for pouches, eight times that for hard cases (a can's vent opens near 10 bar, a pouch near 1-2 bar).
    public static func scenario(for e: Experiment, grid: GridSpec = GridSpec(nx: 8, ny: 6, stepS: 0.5)) -> Result<Scenario, Unsupported> {
        guard e.kind == "overcharge" else { return .failure(Unsupported(id: e.id, reason: "kind '\(e.kind)': heater plugs/plates and unknown heater powers are not simulator protocols yet")) }
        let format = e.strings["format"] ?? "pouch"
        guard format == "pouch" || format == "prismatic" else {
            return .failure(Unsupported(id: e.id, reason: "format '\(format)': the simulator models a flat plate only (no cylinder, CID or vent disc yet)"))
        }
        guard let chemName = e.strings["chemistry"], let chem = Chemistry(rawValue: chemName) else {
            return .failure(Unsupported(id: e.id, reason: "no simulator chemistry given"))
        }
        guard let ah = e.numbers["capacity_ah"], let c = e.numbers["c_rate"] else {
            return .failure(Unsupported(id: e.id, reason: "capacity or C-rate missing (neither stated nor assumed)"))
        }
        var s = Scenario(name: e.id, description: e.citation, seed: 1, expectRunaway: true)
        var cell = CellSpec(chemistry: chem, capacityAh: ah, format: format)
        if let g = e.geometryMM, g.count == 3 {
            let d = g.sorted()
            cell.thicknessM = d[0] / 1000; cell.widthM = d[2] / 1000; cell.heightM = d[1] / 1000
        } else {
            let volume = e.numbers["mass_kg"].map { $0 / 2500 } ?? ah * (chem == .lfp ? 11e-6 : 8e-6)
            if format == "pouch" {
                let d = min(0.015, 0.004 + 0.0004 * ah)
                let area = volume / d
                cell.thicknessM = d; cell.heightM = (area / 2).squareRoot(); cell.widthM = 2 * cell.heightM
            } else {
                let d = 0.35 * cbrt(volume)
                let area = volume / d
                cell.thicknessM = d; cell.heightM = (area / 1.3).squareRoot(); cell.widthM = 1.3 * cell.heightM
            }
        }
        cell.resistanceOhm = 0.06 / ah
        cell.ventGasMol = 0.0025 * ah * (format == "pouch" ? 1 : 8)
        s.cell = cell
        s.ambient = AmbientSpec(temperatureC: e.numbers["ambient_c"] ?? 25, convection: 10)
        let start = e.numbers["start_soc"] ?? 1
        s.testProtocol = ProtocolSpec(cRate: c, startSOC: start, supplyLimitV: e.numbers["supply_limit_v"] ?? 12)
        s.grid = grid
        // Long enough to pass 250 % SOC, at most 12 h.
        s.run = RunSpec(durationCapS: min(12 * 3600, max(3600, (2.5 - start) / c * 3600)), stopAfterPeakS: 30)
        return .success(s)
    }

    public struct Unsupported: Error, Sendable, CustomStringConvertible {
        public var id: String
        public var reason: String
        public var description: String { "\(id): \(reason)" }
    }
}

/// What a calibration run shows, under the table's observable names.
public struct CalibrationOutcome: Sendable {
    public var values: [String: Double] = [:]

    /// Runs `scenario`'s physics (no sensors) to the end of its runaway or its duration cap and
    /// measures the standard observables. Surface temperatures are the face centre (the lumped plate
    /// has no through-thickness gradient); `internal_before_rupture_c` is the true maximum at venting;
    /// `plateau_voltage_v` the median terminal voltage while electrolyte oxidation carries most of the
    /// current (before shutdown and onset); `oxidation_acceleration_c` the cell temperature at which the
    /// over-delithiated cathode's reaction with the electrolyte first self-heats at the ARC threshold.
    public static func run(_ scenario: Scenario) -> CalibrationOutcome {
        let sim = CellSimulation(scenario: scenario)
        let dt = scenario.grid.stepS
        var o = CalibrationOutcome()
        var hist: [(t: Double, v: Double, tc: Double)] = []
        var maxV = 0.0, ventTC: Double?, ventTmax: Double?, oxT: Double?
        var plateau: [Double] = []
        while sim.time < scenario.run.durationCapS {
            sim.step(dt: dt)
            let tc = sim.temperatureC(atX: 0.5, y: 0.5)
            hist.append((sim.time, sim.voltage, tc))
            maxV = max(maxV, sim.voltage)
            if ventTC == nil, let tv = sim.truth.ventingS, sim.time >= tv { ventTC = tc; ventTmax = sim.maxTemperatureC }
            if oxT == nil, sim.overchargedPowerW / (sim.massKg * scenario.cell.heatCapacity) * 60 >= CellSimulation.selfHeatingThresholdCPerMin {
                oxT = sim.meanTemperatureC
            }
            if sim.truth.runawayOnsetS == nil, sim.truth.separatorShutdownS == nil, sim.current > 0, sim.oxidationCurrentA > 0.5 * sim.current {
                plateau.append(sim.voltage)
            }
            if let on = sim.truth.runawayOnsetS, sim.time > on + 60, sim.time > sim.truth.peakS + scenario.run.stopAfterPeakS || sim.time > on + 600 { break }
        }
        let t = sim.truth
        let runaway = t.runawayOnsetS != nil
        o.values["runaway"] = runaway ? 1 : 0
        o.values["vent"] = t.ventingS != nil ? 1 : 0
        // A hermetic cell "ruptures" when its vent opens.
        o.values["rupture"] = t.ventingS != nil ? 1 : 0
        o.values["peak_voltage_v"] = t.peakVoltageV
        o.values["peak_voltage_soc"] = t.peakVoltageSOC
        if !plateau.isEmpty { o.values["plateau_voltage_v"] = plateau.sorted()[plateau.count / 2] }
        if let limit = scenario.testProtocol.supplyLimitV { o.values["supply_limit_reached"] = maxV >= limit - 0.05 ? 1 : 0 }
        if let v = t.ventingS { o.values["vent_time_s"] = v; o.values["vent_soc"] = t.ventingSOC }
        if let v = ventTC { o.values["vent_surface_c"] = v }
        if let v = ventTmax { o.values["internal_before_rupture_c"] = v }
        if let v = oxT { o.values["oxidation_acceleration_c"] = v }
        if let on = t.runawayOnsetS {
            o.values["onset_time_s"] = on
            o.values["onset_soc"] = t.runawayOnsetSOC
            if let h = hist.min(by: { abs($0.t - on) < abs($1.t - on) }) { o.values["onset_surface_c"] = h.tc }
            // Sharp voltage drop before the onset: the terminal voltage falls >= 0.3 V below its
            // maximum of the preceding 10 min within the last 2 min before the onset.
            let before = hist.filter { $0.t <= on && $0.t >= on - 600 }
            let late = before.filter { $0.t >= on - 120 }
            if let mx = before.map(\.v).max(), let mn = late.map(\.v).min() { o.values["voltage_drop_before_onset"] = mx - mn >= 0.3 ? 1 : 0 }
        } else {
            o.values["voltage_drop_before_onset"] = 0
        }
        o.values["peak_surface_c"] = hist.map(\.tc).max() ?? .nan
        return o
    }
}

private func fmt(_ x: Double) -> String {
    x == x.rounded() && abs(x) < 1e6 ? String(Int(x)) : String(format: "%.3g", x)
}
