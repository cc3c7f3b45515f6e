import TOMLKit
import TRWCore

/// The scenario file's tables other than the top level and the grid: cell,
/// ambient (with its profile), protocol (with its steps) and sensors (with
/// faults). Every number is range-checked; every key not asked for here is
/// refused by `TOMLReader.rejectUnknownKeys` with the nearest known key.
extension Scenario {
    /// Capacity per volume a real cell can have, Ah/L (real cells: ~80-250).
    public static let capacityDensityAhPerL: ClosedRange<Double> = 10...400

    static func parseCell(_ c: TOMLReader, into cell: inout CellSpec, file: String) throws(ScenarioError) {
        if let chem = try c.string("chemistry") {
            guard let v = Chemistry(rawValue: chem.uppercased()) else {
                throw .invalidValue(file: file, key: "cell.chemistry", found: "\"\(chem)\"",
                                    expected: "one of \(Chemistry.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            cell.chemistry = v
        }
        if let p = try c.string("preset") {
            guard let preset = CylindricalPreset(rawValue: p) else {
                throw .invalidValue(file: file, key: "cell.preset", found: "\"\(p)\"",
                                    expected: "one of \(CylindricalPreset.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", "))")
            }
            preset.apply(to: &cell)
        }
        cell.capacityAh = try c.double("capacity_ah", range: 0.1...1000) ?? cell.capacityAh
        if let f = try c.string("format") {
            guard CellSpec.formats.contains(f) else {
                throw .invalidValue(file: file, key: "cell.format", found: "\"\(f)\"",
                                    expected: "one of \(CellSpec.formats.map { "\"\($0)\"" }.joined(separator: ", "))")
            }
            if cell.diameterM != nil, f != "cylindrical" {
                throw .invalidValue(file: file, key: "cell.format", found: "\"\(f)\"", expected: "\"cylindrical\" with a cylindrical preset")
            }
            cell.format = f
        }
        let plate = (try c.double("width_mm", range: 1...2000), try c.double("height_mm", range: 1...2000),
                     try c.double("thickness_mm", range: 0.1...200))
        let d = try c.double("diameter_mm", range: 5...100), l = try c.double("length_mm", range: 10...500)
        if cell.format == "cylindrical" {
            if plate.0 != nil || plate.1 != nil || plate.2 != nil {
                throw .invalidValue(file: file, key: plate.0 != nil ? "cell.width_mm" : plate.1 != nil ? "cell.height_mm" : "cell.thickness_mm",
                                    found: "given for a cylindrical cell", expected: "diameter_mm and length_mm (the plate is the unrolled can)")
            }
            guard let dm = d.map({ $0 / 1000 }) ?? cell.diameterM else {
                throw .missingKey(file: file, key: "cell.diameter_mm", expected: "the can diameter of a cylindrical cell, mm (or preset = \"18650\")")
            }
            guard let lm = l.map({ $0 / 1000 }) ?? cell.lengthM else {
                throw .missingKey(file: file, key: "cell.length_mm", expected: "the can length of a cylindrical cell, mm (or preset = \"18650\")")
            }
            cell.setCylinder(diameterM: dm, lengthM: lm)
        } else {
            if d != nil || l != nil {
                throw .invalidValue(file: file, key: d != nil ? "cell.diameter_mm" : "cell.length_mm", found: "given for a \(cell.format) cell",
                                    expected: "format = \"cylindrical\" (or width_mm, height_mm, thickness_mm)")
            }
            if let v = plate.0 { cell.widthM = v / 1000 }
            if let v = plate.1 { cell.heightM = v / 1000 }
            if let v = plate.2 { cell.thicknessM = v / 1000 }
        }
        cell.density = try c.double("density_kg_m3", range: 500...10000) ?? cell.density
        cell.heatCapacity = try c.double("heat_capacity_j_kg_k", range: 100...5000) ?? cell.heatCapacity
        cell.conductivity = try c.double("conductivity_w_m_k", range: 0.01...1000) ?? cell.conductivity
        cell.emissivity = try c.double("emissivity", range: 0...1) ?? cell.emissivity
        if let v = try c.double("resistance_mohm", range: 0.01...10000) { cell.resistanceOhm = v / 1000 }
        cell.separatorFailureC = try c.double("separator_failure_c", range: 50...500) ?? cell.separatorFailureC
        cell.shortResistanceOhm = try c.double("short_resistance_ohm", range: 0.0001...1000) ?? cell.shortResistanceOhm
        if let v = try c.double("vent_gas_mmol", range: 0.001...1e6) { cell.ventGasMol = v / 1000 }
        if let v = try c.double("cid_gas_mmol", range: 0.001...1e6) { cell.cidGasMol = v / 1000 }
        if let hs = try c.doubles("hotspot", count: 2, range: 0...1) { cell.hotspotX = hs[0]; cell.hotspotY = hs[1] }
        cell.hotspotStrength = try c.double("hotspot_strength", range: 0...100) ?? cell.hotspotStrength
        let litres = cell.volumeM3 * 1000
        let density = cell.capacityAh / litres
        if !capacityDensityAhPerL.contains(density) {
            throw .invalidValue(file: file, key: "cell.capacity_ah",
                                found: "\(cell.capacityAh) Ah in \(fmt(litres * 1000)) cm3 (\(fmt(density)) Ah/L)",
                                expected: "\(Int(capacityDensityAhPerL.lowerBound))-\(Int(capacityDensityAhPerL.upperBound)) Ah per litre of cell volume (real cells: 80-250); set the cell's size to match its capacity")
        }
    }

    static func parseAmbient(_ a: TOMLReader, into amb: inout AmbientSpec, file: String) throws(ScenarioError) {
        amb.temperatureC = try a.double("temperature_c", range: -60...400) ?? amb.temperatureC
        amb.convection = try a.double("convection_w_m2_k", range: 0...10000) ?? amb.convection
        // The single ramp of files before profiles.
        let rampTo = try a.double("ramp_to_c", range: -60...400)
        let rampRate = try a.double("ramp_c_per_min", range: 0...1000) ?? 0
        let rampStart = try a.double("ramp_start_s", range: 0...1e7) ?? 0
        amb.profile = rampTo.map { [AmbientSegment(atS: rampStart, toC: $0, rateCPerMin: rampRate)] } ?? []
        guard let segments = try a.tables("profile") else { return }
        if rampTo != nil {
            throw .invalidValue(file: file, key: "ambient.ramp_to_c", found: "given with [[ambient.profile]]",
                                expected: "either ramp_to_c / ramp_c_per_min / ramp_start_s or [[ambient.profile]] segments (trw scenario upgrade FILE converts)")
        }
        var previous = -Double.infinity
        for seg in segments {
            guard let at = try seg.double("at_s", range: 0...SensorLimits.maxDurationS) else {
                throw .missingKey(file: file, key: seg.key("at_s"), expected: "when the segment starts, s")
            }
            guard at > previous else {
                throw .invalidValue(file: file, key: seg.key("at_s"), found: "\(at)", expected: "a time after the previous segment's \(previous) s")
            }
            previous = at
            guard let to = try seg.double("to_c", range: -60...400) else {
                throw .missingKey(file: file, key: seg.key("to_c"), expected: "the chamber set point, degC")
            }
            let rate = try seg.double("rate_c_per_min", range: 0...1000) ?? 0
            amb.profile.append(AmbientSegment(atS: at, toC: to, rateCPerMin: rate))
        }
    }

    /// Keys of the single-step protocol form (before protocol steps).
    static let legacyProtocolKeys = ["c_rate", "stop_soc", "stop_after_s", "supply_limit_v"]

    static func parseProtocol(_ p: TOMLReader, into spec: inout ProtocolSpec, cell: CellSpec, file: String) throws(ScenarioError) {
        let startSOC = try p.double("start_soc", range: 0...3) ?? spec.startSOC
        guard let tables = try p.tables("step") else {
            // The single-step form, exactly as before: one cc_overcharge step (none at 0C).
            let cRate = try p.double("c_rate", range: 0...20) ?? 0.5
            let stopSOC = try p.double("stop_soc", range: 0...3)
            let stopAfterS = try p.double("stop_after_s", range: 0...1e7)
            let limit = try p.double("supply_limit_v", range: 1...1000) ?? 12
            spec = ProtocolSpec(cRate: cRate, startSOC: startSOC, stopSOC: stopSOC, stopAfterS: stopAfterS, supplyLimitV: limit)
            return
        }
        for k in legacyProtocolKeys where p.table?[k] != nil {
            _ = p[k]
            throw .invalidValue(file: file, key: p.key(k), found: "given with [[protocol.step]]",
                                expected: "either the single-step keys (\(legacyProtocolKeys.joined(separator: ", "))) or [[protocol.step]] tables; `trw scenario upgrade FILE` converts the first into the second")
        }
        var steps: [ProtocolStep] = []
        for (i, t) in tables.enumerated() {
            guard let kindText = try t.string("kind") else {
                throw .missingKey(file: file, key: t.key("kind"), expected: "one of \(ProtocolStepKind.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", "))")
            }
            guard let kind = ProtocolStepKind(rawValue: kindText) else {
                throw .invalidValue(file: file, key: t.key("kind"), found: "\"\(kindText)\"",
                                    expected: "one of \(ProtocolStepKind.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", "))")
            }
            func rate() throws(ScenarioError) -> Double {
                guard let r = try t.double("c_rate", range: 0.001...20) else {
                    throw .missingKey(file: file, key: t.key("c_rate"), expected: "the step's current as a C-rate (0.001...20)")
                }
                return r
            }
            var s: ProtocolStep
            switch kind {
            case .ccOvercharge:
                s = .ccOvercharge(cRate: try rate(), supplyLimitV: try t.double("supply_limit_v", range: 1...1000) ?? 12)
                s.untilSOC = try t.double("until_soc", range: 0...3)
                s.untilV = try t.double("until_v", range: 0.1...1000)
            case .ccCV:
                s = .ccCV(cRate: try rate(), vMax: try t.double("v_max", range: 1...10) ?? cell.chemistry.electrochemistry.v100,
                          taperC: try t.double("taper_c", range: 0.001...5) ?? 0.05)
                s.untilSOC = try t.double("until_soc", range: 0...3)
            case .discharge:
                s = .discharge(cRate: try rate(), untilV: try t.double("until_v", range: 0.1...10), untilSOC: try t.double("until_soc", range: 0...3))
            case .rest:
                s = .rest(durationS: nil)
            }
            s.durationS = try t.double("duration_s", range: 0.001...SensorLimits.maxDurationS)
            let open = (kind == .ccOvercharge || kind == .rest) && s.untilSOC == nil && s.untilV == nil && s.durationS == nil
            if open, i < tables.count - 1 {
                throw .missingKey(file: file, key: t.key(kind == .rest ? "duration_s" : "until_soc"),
                                  expected: "an end condition (\(kind == .rest ? "duration_s" : "until_soc, until_v or duration_s")): step \(i + 1) is followed by more steps")
            }
            steps.append(s)
        }
        spec = ProtocolSpec(startSOC: startSOC, steps: steps)
    }

    static func parseSensors(_ sensors: TOMLReader, into s: inout SensorSpec, file: String) throws(ScenarioError) {
        let ir = try sensors.sub("ir")
        s.irWidth = try ir.int("width", min: SensorLimits.irWidth.lowerBound, max: SensorLimits.irWidth.upperBound) ?? s.irWidth
        s.irHeight = try ir.int("height", min: SensorLimits.irHeight.lowerBound, max: SensorLimits.irHeight.upperBound) ?? s.irHeight
        if s.irWidth * s.irHeight > SensorLimits.irMaxPixels {
            throw .invalidValue(file: file, key: "sensors.ir.width", found: "\(s.irWidth)x\(s.irHeight)",
                                expected: "at most \(SensorLimits.irMaxPixels) pixels (1280x1024)")
        }
        s.irFPS = try ir.double("fps", range: SensorLimits.irFPS) ?? s.irFPS
        s.irNETDK = try ir.double("netd_k", range: 0...10) ?? s.irNETDK
        s.irAssumedEmissivity = try ir.double("assumed_emissivity", range: 0.01...1) ?? s.irAssumedEmissivity
        s.irClockOffsetMs = try ir.double("clock_offset_ms", range: -1e9...1e9) ?? s.irClockOffsetMs
        s.irClockDriftPPM = try ir.double("clock_drift_ppm", range: -10000...10000) ?? s.irClockDriftPPM
        s.irClockJitterUs = try ir.double("clock_jitter_us", range: 0...1e6) ?? s.irClockJitterUs
        if let m = try ir.string("range") {
            guard let mode = IRRangeMode(rawValue: m) else {
                throw .invalidValue(file: file, key: "sensors.ir.range", found: "\"\(m)\"", expected: "\"0.01K\" (to 382.2 degC) or \"0.1K\" (to 6280 degC nominal)")
            }
            s.irRange = mode
            s.irRangeMaxC = mode.defaultRangeMaxC
        }
        let nominalTop = 65535 * s.irRange.kelvinPerCount - 273.15
        s.irRangeMaxC = try ir.double("range_max_c", range: 50...nominalTop) ?? s.irRangeMaxC
        s.irOffsetK = try ir.double("offset_k", range: -100...100) ?? s.irOffsetK

        let ae = try sensors.sub("ae")
        s.aeRateHz = try ae.int("rate_hz", min: SensorLimits.aeRateHz.lowerBound, max: SensorLimits.aeRateHz.upperBound) ?? s.aeRateHz
        s.aeChannels = try ae.int("channels", min: 1, max: 16) ?? s.aeChannels
        if let f = try ae.string("format") {
            guard let v = SampleFormat(rawValue: f), v == .s16le || v == .s32le else {
                throw .invalidValue(file: file, key: "sensors.ae.format", found: "\"\(f)\"", expected: "\"S16_LE\" or \"S32_LE\"")
            }
            s.aeFormat = v
        }
        s.aeClockPPM = try ae.double("clock_ppm", range: -10000...10000) ?? s.aeClockPPM
        s.aeBackgroundRMS = try ae.double("noise_rms", range: 0...0.5) ?? s.aeBackgroundRMS
        s.aeOffset = try ae.double("offset", range: -0.5...0.5) ?? s.aeOffset

        let bms = try sensors.sub("bms")
        s.bmsRateHz = try bms.double("rate_hz", range: 0.01...1000) ?? s.bmsRateHz
        s.bmsClockOffsetS = try bms.double("clock_offset_s", range: -1e9...1e9) ?? s.bmsClockOffsetS
        s.bmsClockDriftPPM = try bms.double("clock_drift_ppm", range: -10000...10000) ?? s.bmsClockDriftPPM
        var n = s.bmsNoise
        n.voltageNoiseV = try bms.double("voltage_noise_v", range: 0...1) ?? n.voltageNoiseV
        n.currentNoiseA = try bms.double("current_noise_a", range: 0...10) ?? n.currentNoiseA
        n.cellTempNoiseC = try bms.double("cell_temp_noise_c", range: 0...50) ?? n.cellTempNoiseC
        n.ambientNoiseC = try bms.double("ambient_noise_c", range: 0...50) ?? n.ambientNoiseC
        n.voltageOffsetV = try bms.double("voltage_offset_v", range: -10...10) ?? n.voltageOffsetV
        n.currentOffsetA = try bms.double("current_offset_a", range: -100...100) ?? n.currentOffsetA
        n.cellTempOffsetC = try bms.double("cell_temp_offset_c", range: -50...50) ?? n.cellTempOffsetC
        n.ambientOffsetC = try bms.double("ambient_offset_c", range: -50...50) ?? n.ambientOffsetC
        s.bmsNoise = n

        guard let faults = try sensors.tables("fault") else { return }
        s.faults = []
        for f in faults {
            let list = { (all: [String]) in all.map { "\"\($0)\"" }.joined(separator: ", ") }
            guard let ct = try f.string("channel") else {
                throw .missingKey(file: file, key: f.key("channel"), expected: "one of \(list(SensorChannel.allCases.map(\.rawValue)))")
            }
            guard let channel = SensorChannel(rawValue: ct) else {
                throw .invalidValue(file: file, key: f.key("channel"), found: "\"\(ct)\"", expected: "one of \(list(SensorChannel.allCases.map(\.rawValue)))")
            }
            guard let kt = try f.string("kind") else {
                throw .missingKey(file: file, key: f.key("kind"), expected: "one of \(list(SensorFaultKind.allCases.map(\.rawValue)))")
            }
            guard let kind = SensorFaultKind(rawValue: kt) else {
                throw .invalidValue(file: file, key: f.key("kind"), found: "\"\(kt)\"", expected: "one of \(list(SensorFaultKind.allCases.map(\.rawValue)))")
            }
            if kind == .dropout, ![.bms, .ae, .ir].contains(channel) {
                throw .invalidValue(file: file, key: f.key("channel"), found: "\"\(ct)\" with kind \"dropout\"", expected: "a whole sensor: \"bms\", \"ae\" or \"ir\"")
            }
            if kind == .spike, channel == .bms {
                throw .invalidValue(file: file, key: f.key("channel"), found: "\"bms\" with kind \"spike\"", expected: "one BMS channel: \"bms.voltage\", \"bms.current\", \"bms.cell_temp\" or \"bms.ambient\"")
            }
            guard let start = try f.double("start_s", range: 0...SensorLimits.maxDurationS) else {
                throw .missingKey(file: file, key: f.key("start_s"), expected: "when the fault starts, s")
            }
            guard let end = try f.double("end_s", range: 0...SensorLimits.maxDurationS) else {
                throw .missingKey(file: file, key: f.key("end_s"), expected: "when the fault ends, s")
            }
            guard end > start else {
                throw .invalidValue(file: file, key: f.key("end_s"), found: "\(end)", expected: "a time after start_s = \(start)")
            }
            var fault = SensorFault(channel: channel, kind: kind, startS: start, endS: end)
            if kind == .spike {
                fault.rateHz = try f.double("rate_hz", range: 0.001...1000) ?? 1
                let maxAmp: Double = switch channel {
                case .ae: 1
                case .ir: 2000
                case .bmsVoltage: 100
                case .bmsCurrent: 1000
                default: 500
                }
                guard let amp = try f.double("amplitude", range: -maxAmp...maxAmp) else {
                    throw .missingKey(file: file, key: f.key("amplitude"), expected: "the spike size (V, A, degC, K on IR pixels, or a fraction of AE full scale)")
                }
                fault.amplitude = amp
            }
            s.faults.append(fault)
        }
    }

    static func fmt(_ x: Double) -> String {
        let r = (x * 10).rounded() / 10
        return r == r.rounded() ? "\(Int(r))" : "\(r)"
    }
}

extension TOMLReader {
    /// The tables of an array of tables `[[k]]`, each read under the prefix `k[i]`
    /// (as `TOMLLineLocator` names them); nil when absent.
    func tables(_ k: String) throws(ScenarioError) -> [TOMLReader]? {
        guard let v = self[k] else { return nil }
        guard let arr = v.array else { throw .invalidValue(file: file, key: key(k), found: describe(v), expected: "an array of tables [[\(key(k))]]") }
        var out: [TOMLReader] = []
        for i in 0..<arr.count {
            guard let t = arr[i].table else {
                throw .invalidValue(file: file, key: "\(key(k))[\(i)]", found: describe(arr[i]), expected: "a table [[\(key(k))]]")
            }
            out.append(TOMLReader(file: file, table: t, prefix: "\(key(k))[\(i)]", log: log))
        }
        return out
    }
}
