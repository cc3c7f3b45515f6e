/// Writes a scenario as TOML in the current format (protocol steps, ambient
/// profile, every key spelled out), so that `Scenario.parse` of the text gives
/// the same scenario back. Used by `trw scenario upgrade` and the sampler.
extension Scenario {
    /// The scenario as a TOML file. `comment` lines are written first, each prefixed with "# ".
    public func tomlText(comment: [String] = []) -> String {
        var o = ""
        func line(_ s: String = "") { o += s + "\n" }
        func kv(_ k: String, _ v: Double) { line("\(k) = \(Self.number(v))") }
        func kv(_ k: String, _ v: Int) { line("\(k) = \(v)") }
        func kv(_ k: String, _ v: String) { line("\(k) = \(Self.quoted(v))") }
        func kv(_ k: String, _ v: Bool) { line("\(k) = \(v)") }
        for c in comment { line(c.isEmpty ? "#" : "# " + c) }
        kv("name", name)
        kv("description", description)
        line("seed = \(seed)")
        kv("expect_runaway", expectRunaway)

        line(); line("[cell]")
        kv("chemistry", cell.chemistry.rawValue)
        kv("capacity_ah", cell.capacityAh)
        kv("format", cell.format)
        if cell.format == "cylindrical", let d = cell.diameterM, let l = cell.lengthM {
            kv("diameter_mm", Self.milli(d))
            kv("length_mm", Self.milli(l))
        } else {
            kv("width_mm", Self.milli(cell.widthM))
            kv("height_mm", Self.milli(cell.heightM))
            kv("thickness_mm", Self.milli(cell.thicknessM))
        }
        kv("density_kg_m3", cell.density)
        kv("heat_capacity_j_kg_k", cell.heatCapacity)
        kv("conductivity_w_m_k", cell.conductivity)
        kv("emissivity", cell.emissivity)
        kv("resistance_mohm", Self.milli(cell.resistanceOhm))
        kv("separator_failure_c", cell.separatorFailureC)
        kv("short_resistance_ohm", cell.shortResistanceOhm)
        kv("vent_gas_mmol", Self.milli(cell.ventGasMol))
        if let cid = cell.cidGasMol { kv("cid_gas_mmol", Self.milli(cid)) }
        line("hotspot = [\(Self.number(cell.hotspotX)), \(Self.number(cell.hotspotY))]")
        kv("hotspot_strength", cell.hotspotStrength)

        line(); line("[ambient]")
        kv("temperature_c", ambient.temperatureC)
        kv("convection_w_m2_k", ambient.convection)
        for seg in ambient.profile {
            line(); line("[[ambient.profile]]")
            kv("at_s", seg.atS)
            kv("to_c", seg.toC)
            kv("rate_c_per_min", seg.rateCPerMin)
        }

        line(); line("[protocol]")
        kv("start_soc", testProtocol.startSOC)
        if testProtocol.steps.isEmpty { line("step = []   # no current") }
        for st in testProtocol.steps {
            line(); line("[[protocol.step]]")
            kv("kind", st.kind.rawValue)
            switch st.kind {
            case .ccOvercharge:
                kv("c_rate", st.cRate)
                kv("supply_limit_v", st.limitV)
            case .ccCV:
                kv("c_rate", st.cRate)
                kv("v_max", st.limitV)
                kv("taper_c", st.taperC ?? 0.05)
            case .discharge:
                kv("c_rate", st.cRate)
            case .rest:
                break
            }
            if let v = st.untilSOC { kv("until_soc", v) }
            if let v = st.untilV { kv("until_v", v) }
            if let v = st.durationS { kv("duration_s", v) }
        }

        line(); line("[grid]")
        kv("nx", grid.nx)
        kv("ny", grid.ny)
        kv("step_s", grid.stepS)

        let s = sensors
        line(); line("[sensors.ir]")
        kv("width", s.irWidth)
        kv("height", s.irHeight)
        kv("fps", s.irFPS)
        kv("netd_k", s.irNETDK)
        kv("assumed_emissivity", s.irAssumedEmissivity)
        kv("clock_offset_ms", s.irClockOffsetMs)
        kv("clock_drift_ppm", s.irClockDriftPPM)
        kv("clock_jitter_us", s.irClockJitterUs)
        kv("range", s.irRange.rawValue)
        kv("range_max_c", s.irRangeMaxC)
        kv("offset_k", s.irOffsetK)

        line(); line("[sensors.ae]")
        kv("rate_hz", s.aeRateHz)
        kv("channels", s.aeChannels)
        kv("format", s.aeFormat.rawValue)
        kv("clock_ppm", s.aeClockPPM)
        kv("noise_rms", s.aeBackgroundRMS)
        kv("offset", s.aeOffset)

        line(); line("[sensors.bms]")
        kv("rate_hz", s.bmsRateHz)
        kv("clock_offset_s", s.bmsClockOffsetS)
        kv("clock_drift_ppm", s.bmsClockDriftPPM)
        let n = s.bmsNoise
        kv("voltage_noise_v", n.voltageNoiseV)
        kv("current_noise_a", n.currentNoiseA)
        kv("cell_temp_noise_c", n.cellTempNoiseC)
        kv("ambient_noise_c", n.ambientNoiseC)
        kv("voltage_offset_v", n.voltageOffsetV)
        kv("current_offset_a", n.currentOffsetA)
        kv("cell_temp_offset_c", n.cellTempOffsetC)
        kv("ambient_offset_c", n.ambientOffsetC)
        for f in s.faults {
            line(); line("[[sensors.fault]]")
            kv("channel", f.channel.rawValue)
            kv("kind", f.kind.rawValue)
            kv("start_s", f.startS)
            kv("end_s", f.endS)
            if f.kind == .spike {
                kv("rate_hz", f.rateHz)
                kv("amplitude", f.amplitude)
            }
        }

        line(); line("[run]")
        kv("duration_cap_s", run.durationCapS)
        kv("stop_after_peak_s", run.stopAfterPeakS)
        return o
    }

    /// A TOML number that reads back to the same `Double` (shortest round-trip form).
    static func number(_ v: Double) -> String {
        let s = "\(v)"
        return s.contains(".") || s.contains("e") ? s : s + ".0"
    }

    /// `v * 1000`, rounded to 9 significant digits so that `x / 1000` of the written value
    /// gives `v` back for values written in milli-units (mm, mOhm, mmol).
    static func milli(_ v: Double) -> Double {
        let m = v * 1000
        for digits in 0...12 {
            let scale = pow10(digits)
            let r = (m * scale).rounded() / scale
            if r / 1000 == v { return r }
        }
        return m
    }

    private static func pow10(_ n: Int) -> Double { (0..<n).reduce(1.0) { x, _ in x * 10 } }

    /// A TOML basic string.
    static func quoted(_ s: String) -> String {
        var out = "\""
        for ch in s.unicodeScalars {
            switch ch {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            default:
                if ch.value < 0x20 || ch.value == 0x7F {
                    out += "\\u" + String(repeating: "0", count: 4 - String(ch.value, radix: 16).count) + String(ch.value, radix: 16)
                } else {
                    out.unicodeScalars.append(ch)
                }
            }
        }
        return out + "\""
    }
}
