import Foundation
import TOMLKit

/// The distributions `trw scenario sample` draws scenarios from (docs/simulator.md,
/// "Scenario sampler", lists them with these defaults). A `--distributions FILE`
/// (TOML, the keys below) overrides any of them.
public struct SamplerDistributions: Sendable, Equatable {
    /// Share of negative controls (no runaway intended).
    public var controlFraction = 0.3
    /// Weights of the chemistries.
    public var chemistry: [(Chemistry, Double)] = [(.ncm, 0.5), (.lfp, 0.3), (.lco, 0.2)]
    /// Weights of the formats (cylindrical: 18650 or 21700, half each).
    public var format: [(String, Double)] = [("pouch", 0.4), ("prismatic", 0.3), ("cylindrical", 0.3)]
    /// Capacity ranges, Ah, log-uniform.
    public var pouchCapacityAh: ClosedRange<Double> = 2...60
    public var prismaticCapacityAh: ClosedRange<Double> = 10...280
    /// Overcharge C-rate, log-uniform (a quarter of the abuse runs use the paper's 0.5C exactly).
    public var overchargeCRate: ClosedRange<Double> = 0.3...3
    /// Share of abuse runs that stop at 105-130 % SOC, rest 5-30 min, and resume.
    public var stopResumeFraction = 0.2
    /// Chamber temperature of ordinary runs, degC, uniform; cold (-10...15) and hot (35...50)
    /// chambers take `coldFraction` and `hotFraction`.
    public var ambientC: ClosedRange<Double> = 20...30
    public var coldFraction = 0.15
    public var hotFraction = 0.15
    /// Share of runs with poor sensors (5x noise, offsets, 1-3 faults); typical (2x noise) take
    /// `typicalSensorFraction`; the rest are good (the instruments' defaults).
    public var poorSensorFraction = 0.2
    public var typicalSensorFraction = 0.4
    /// Share of runs whose camera uses the 0.1 K range (to 1500 degC).
    public var lowResolutionIRFraction = 0.5
    /// Weights of the negative-control kinds.
    public var controls: [(SampledKind, Double)] = SampledKind.controls.map { ($0, 1) }

    public init() {}

    public static func == (a: Self, b: Self) -> Bool {
        a.controlFraction == b.controlFraction && a.chemistry.map(\.0) == b.chemistry.map(\.0) && a.chemistry.map(\.1) == b.chemistry.map(\.1)
            && a.format.map(\.0) == b.format.map(\.0) && a.format.map(\.1) == b.format.map(\.1)
            && a.pouchCapacityAh == b.pouchCapacityAh && a.prismaticCapacityAh == b.prismaticCapacityAh
            && a.overchargeCRate == b.overchargeCRate && a.stopResumeFraction == b.stopResumeFraction && a.ambientC == b.ambientC
            && a.coldFraction == b.coldFraction && a.hotFraction == b.hotFraction && a.poorSensorFraction == b.poorSensorFraction
            && a.typicalSensorFraction == b.typicalSensorFraction && a.lowResolutionIRFraction == b.lowResolutionIRFraction
            && a.controls.map(\.0) == b.controls.map(\.0) && a.controls.map(\.1) == b.controls.map(\.1)
    }

    /// Reads overrides from TOML text; unknown keys and out-of-range values are refused
    /// like a scenario file's.
    public static func parse(toml text: String, file: String) throws(ScenarioError) -> SamplerDistributions {
        let r = try TOMLReader.root(toml: text, file: file)
        var d = SamplerDistributions()
        func fraction(_ k: String, _ v: inout Double) throws(ScenarioError) { v = try r.double(k, range: 0...1) ?? v }
        func range(_ k: String, _ v: inout ClosedRange<Double>, _ limits: ClosedRange<Double>) throws(ScenarioError) {
            guard let a = try r.doubles(k, count: 2, range: limits) else { return }
            guard a[0] <= a[1] else { throw .invalidValue(file: file, key: k, found: "[\(a[0]), \(a[1])]", expected: "[low, high] with low <= high") }
            v = a[0]...a[1]
        }
        func weights<T>(_ k: String, _ names: [(String, T)], _ v: inout [(T, Double)]) throws(ScenarioError) {
            let t = try r.sub(k)
            guard t.table != nil else { return }
            var out: [(T, Double)] = []
            for (name, value) in names { if let w = try t.double(name, range: 0...1000), w > 0 { out.append((value, w)) } }
            guard !out.isEmpty else { throw .invalidValue(file: file, key: k, found: "no positive weight", expected: "at least one weight > 0") }
            v = out
        }
        try fraction("control_fraction", &d.controlFraction)
        try weights("chemistry", Chemistry.allCases.map { ($0.rawValue, $0) }, &d.chemistry)
        try weights("format", CellSpec.formats.map { ($0, $0) }, &d.format)
        try range("pouch_capacity_ah", &d.pouchCapacityAh, 0.5...1000)
        try range("prismatic_capacity_ah", &d.prismaticCapacityAh, 0.5...1000)
        try range("overcharge_c_rate", &d.overchargeCRate, 0.01...20)
        try fraction("stop_resume_fraction", &d.stopResumeFraction)
        try range("ambient_c", &d.ambientC, -60...200)
        try fraction("cold_fraction", &d.coldFraction)
        try fraction("hot_fraction", &d.hotFraction)
        try fraction("poor_sensor_fraction", &d.poorSensorFraction)
        try fraction("typical_sensor_fraction", &d.typicalSensorFraction)
        try fraction("low_resolution_ir_fraction", &d.lowResolutionIRFraction)
        try weights("controls", SampledKind.controls.map { ($0.rawValue, $0) }, &d.controls)
        if d.coldFraction + d.hotFraction > 1 {
            throw .invalidValue(file: file, key: "hot_fraction", found: "\(d.hotFraction) with cold_fraction \(d.coldFraction)", expected: "cold_fraction + hot_fraction <= 1")
        }
        if d.poorSensorFraction + d.typicalSensorFraction > 1 {
            throw .invalidValue(file: file, key: "typical_sensor_fraction", found: "\(d.typicalSensorFraction) with poor_sensor_fraction \(d.poorSensorFraction)",
                                expected: "poor_sensor_fraction + typical_sensor_fraction <= 1")
        }
        try r.rejectUnknownKeys(text: text)
        return d
    }
}

/// What a sampled scenario is: an abuse run or one kind of negative control.
public enum SampledKind: String, Sendable, CaseIterable {
    /// Constant-current overcharge with a compliance limit (possibly stopped and resumed).
    case overcharge
    /// Normal CC-CV charge from 10-50 % SOC at 0.3-1C, then rest.
    case controlCCCV = "control_cccv"
    /// Fast CC-CV charge at 1.5-3C, then rest.
    case controlFastCharge = "control_fast_charge"
    /// Aged cell (1.5-3x resistance, 70-90 % capacity left): discharge then CC-CV charge.
    case controlAged = "control_aged"
    /// Discharge at 1-3C from full to the cut-off (Joule heating), then rest.
    case controlDischarge = "control_discharge"
    /// No current; the chamber steps to 40-60 degC and back.
    case controlChamberStep = "control_chamber_step"
    /// No current; the chamber ramps at 0.5-3 degC/min to 45-70 degC and holds.
    case controlChamberRamp = "control_chamber_ramp"
    /// Overcharge stopped at 105-120 % SOC, then rest.
    case controlOverchargeStopped = "control_overcharge_stopped"

    public static var controls: [SampledKind] { allCases.filter { $0 != .overcharge } }
}

/// Draws scenarios from `SamplerDistributions`, reproducibly from a seed: the i-th
/// scenario depends only on the seed and i.
public struct ScenarioSampler: Sendable {
    public let seed: UInt64
    public let distributions: SamplerDistributions

    public init(seed: UInt64, distributions: SamplerDistributions = SamplerDistributions()) {
        self.seed = seed
        self.distributions = distributions
    }

    /// The `index`-th scenario (names `PREFIX####_KIND`).
    public func scenario(_ index: Int, prefix: String = "sample") -> (Scenario, SampledKind) {
        var rng = SimRandom(seed: seed &+ 0x9E37_79B9_7F4A_7C15 &* UInt64(index + 1))
        let d = distributions
        func u(_ r: ClosedRange<Double>) -> Double { r.lowerBound + (r.upperBound - r.lowerBound) * rng.uniform() }
        func logU(_ r: ClosedRange<Double>) -> Double { exp(u(log(r.lowerBound)...log(r.upperBound))) }
        func pick<T>(_ w: [(T, Double)]) -> T {
            let total = w.reduce(0) { $0 + $1.1 }
            var x = rng.uniform() * total
            for (v, p) in w { if x < p { return v }; x -= p }
            return w[w.count - 1].0
        }
        func chance(_ p: Double) -> Bool { rng.uniform() < p }
        func r3(_ x: Double) -> Double { Self.round(x, 3) }

        let kind: SampledKind = chance(d.controlFraction) ? pick(d.controls) : .overcharge
        let number = String(index)
        var s = Scenario(name: prefix + String(repeating: "0", count: max(0, 4 - number.count)) + number + "_" + kind.rawValue)
        s.seed = rng.next() >> 16
        s.expectRunaway = kind == .overcharge

        // Cell.
        var c = CellSpec()
        c.chemistry = pick(d.chemistry)
        let format = pick(d.format)
        let densityAhPerL: Double = c.chemistry == .lfp ? u(100...150) : u(150...230)
        if format == "cylindrical" {
            let preset: CylindricalPreset = chance(0.5) ? .c18650 : .c21700
            preset.apply(to: &c)
            let scale = u(0.85...1.15)
            c.capacityAh = r3(preset.capacityAh * scale * (c.chemistry == .lfp ? 0.6 : 1))
            c.resistanceOhm = Self.round(preset.resistanceOhm * 1000 / scale * u(0.8...1.25), 3) / 1000
        } else {
            c.format = format
            let cap = Self.round(format == "pouch" ? logU(d.pouchCapacityAh) : logU(d.prismaticCapacityAh), 2)
            c.capacityAh = cap
            let litres = cap / densityAhPerL
            // Thickness follows the cell's size (pouch 3-15 mm, prismatic 8-80 mm).
            let cube = Foundation.cbrt(litres * 1e6)
            let thicknessMM = format == "pouch" ? min(15, max(3, cube * u(0.12...0.3))) : min(80, max(8, cube * u(0.25...0.45)))
            let aspect = format == "pouch" ? u(1.2...2.5) : u(0.8...2.2)
            let areaMM2 = litres * 1e6 / thicknessMM
            let widthMM = (areaMM2 * aspect).squareRoot()
            c.widthM = Self.round(widthMM, 1) / 1000
            c.heightM = Self.round(areaMM2 / widthMM, 1) / 1000
            c.thicknessM = Self.round(thicknessMM, 1) / 1000
            // ~60 mOhm Ah (2 Ah: 30 mOhm, 20 Ah: 3 mOhm, 280 Ah: 0.2 mOhm).
            c.resistanceOhm = Self.round(60 / cap * u(0.7...1.4), 4) / 1000
            // Vent gas scales with the free volume: ~0.3 mmol per cm3 of cell (2 Ah pouch: 5 mmol).
            c.ventGasMol = Self.round(0.3 * litres * 1000 * u(0.7...1.3), 3) / 1000
        }
        c.density = Self.round(u(2200...2740), 0)
        c.heatCapacity = Self.round(u(1000...1200), 0)
        c.conductivity = Self.round(u(15...30), 1)
        c.emissivity = Self.round(u(0.85...0.95), 2)
        // Defects: hotspot place and strength (none in 30 %), separator rating, short resistance.
        c.hotspotX = Self.round(u(0.2...0.8), 2)
        c.hotspotY = Self.round(u(0.2...0.8), 2)
        let h = rng.uniform()
        c.hotspotStrength = h < 0.3 ? 0 : h < 0.8 ? Self.round(u(0.2...1), 2) : Self.round(u(1...3), 2)
        c.separatorFailureC = Self.round(u(135...185), 1)
        c.shortResistanceOhm = Self.round(logU(0.2...2), 3)

        // Chamber and cooling.
        var a = AmbientSpec()
        let band = rng.uniform()
        a.temperatureC = Self.round(band < d.coldFraction ? u(-10...15) : band < d.coldFraction + d.hotFraction ? u(35...50) : u(d.ambientC), 1)
        let cooling = rng.uniform()
        a.convection = Self.round(cooling < 0.2 ? u(2...5) : cooling < 0.7 ? u(5...15) : cooling < 0.9 ? u(15...50) : u(50...200), 1)

        // Protocol.
        let vMax = c.chemistry.electrochemistry.v100
        var p = ProtocolSpec(startSOC: 1, steps: [])
        var capS = 3600.0
        func cccvTime(_ from: Double, _ cRate: Double) -> Double { (1 - from) / cRate * 3600 + 3600 }
        switch kind {
        case .overcharge:
            let cRate = chance(0.25) ? 0.5 : Self.round(logU(d.overchargeCRate), 2)
            p.startSOC = chance(0.7) ? 1 : Self.round(u(0.5...1), 2)
            let limit = pick([(12.0, 0.6), (20.0, 0.2), (30.0, 0.2)])
            if chance(d.stopResumeFraction) {
                let pause = Self.round(u(1.05...1.3), 2)
                let restS = Self.round(u(300...1800), 0)
                p.steps = [.ccOvercharge(cRate: cRate, supplyLimitV: limit, untilSOC: pause), .rest(durationS: restS),
                           .ccOvercharge(cRate: cRate, supplyLimitV: limit)]
                capS = restS
            } else {
                p.steps = [.ccOvercharge(cRate: cRate, supplyLimitV: limit)]
                capS = 0
            }
            capS += (2.3 - p.startSOC) / cRate * 3600
        case .controlCCCV:
            p.startSOC = Self.round(u(0.1...0.5), 2)
            let cRate = Self.round(u(0.3...1), 2)
            let restS = 1800.0
            p.steps = [.ccCV(cRate: cRate, vMax: vMax), .rest(durationS: restS)]
            capS = cccvTime(p.startSOC, cRate) + restS
        case .controlFastCharge:
            p.startSOC = Self.round(u(0.1...0.3), 2)
            let cRate = Self.round(u(1.5...3), 2)
            p.steps = [.ccCV(cRate: cRate, vMax: vMax), .rest(durationS: 1800)]
            capS = cccvTime(p.startSOC, cRate) + 1800
        case .controlAged:
            c.resistanceOhm = Self.round(c.resistanceOhm * 1000 * u(1.5...3), 4) / 1000
            c.capacityAh = Self.round(c.capacityAh * u(0.7...0.9), 3)
            p.startSOC = Self.round(u(0.6...0.9), 2)
            let cRate = Self.round(u(0.3...1), 2)
            p.steps = [.discharge(cRate: cRate, untilSOC: 0.2), .rest(durationS: 600), .ccCV(cRate: cRate, vMax: vMax), .rest(durationS: 1200)]
            capS = (p.startSOC - 0.2) / cRate * 3600 + 600 + cccvTime(0.2, cRate) + 1200
        case .controlDischarge:
            p.startSOC = 1
            let cRate = Self.round(u(1...3), 2)
            p.steps = [.discharge(cRate: cRate), .rest(durationS: 1800)]
            capS = 1 / cRate * 3600 + 1800
        case .controlChamberStep:
            p.startSOC = Self.round(u(0.3...1), 2)
            let at = Self.round(u(300...900), 0), hold = Self.round(u(1200...3600), 0)
            a.profile = [AmbientSegment(atS: at, toC: Self.round(u(40...60), 1)), AmbientSegment(atS: at + hold, toC: a.temperatureC)]
            capS = at + hold + 1800
        case .controlChamberRamp:
            p.startSOC = Self.round(u(0.3...1), 2)
            let rate = Self.round(u(0.5...3), 2), to = Self.round(u(45...70), 1)
            a.temperatureC = min(a.temperatureC, 30)
            a.profile = [AmbientSegment(atS: Self.round(u(60...600), 0), toC: to, rateCPerMin: rate)]
            capS = 600 + (to - a.temperatureC) / rate * 60 + 2400
        case .controlOverchargeStopped:
            let cRate = Self.round(logU(0.3...1.5), 2)
            p.startSOC = 1
            p.steps = [.ccOvercharge(cRate: cRate, untilSOC: Self.round(u(1.05...1.2), 3)), .rest(durationS: 1800)]
            capS = 0.25 / cRate * 3600 + 1800
        }
        s.cell = c
        s.ambient = a
        s.testProtocol = p
        s.run.durationCapS = Self.round(min(6 * 3600, max(1800, capS)), 0)

        // Grid: ~4096 cells over the plate, following its aspect.
        let aspect = c.widthM / c.heightM
        s.grid.nx = max(8, min(256, Int((4096 * aspect).squareRoot().rounded())))
        s.grid.ny = max(8, min(256, Int((4096 / aspect).squareRoot().rounded())))

        // Sensors.
        var sen = SensorSpec()
        if chance(d.lowResolutionIRFraction) {
            sen.irRange = .lowResolution
            sen.irRangeMaxC = IRRangeMode.lowResolution.defaultRangeMaxC
        }
        let q = rng.uniform()
        let poor = q < d.poorSensorFraction
        let gain: Double = poor ? 5 : q < d.poorSensorFraction + d.typicalSensorFraction ? 2 : 1
        sen.irNETDK = Self.round(sen.irNETDK * gain * u(0.8...1.25), 3)
        sen.aeBackgroundRMS = Self.round(sen.aeBackgroundRMS * gain * u(0.8...1.25), 6)
        var n = BMSNoise()
        n.voltageNoiseV = Self.round(n.voltageNoiseV * gain, 6)
        n.currentNoiseA = Self.round(n.currentNoiseA * gain * max(1, c.capacityAh / 20), 6)
        n.cellTempNoiseC = Self.round(n.cellTempNoiseC * gain, 3)
        n.ambientNoiseC = Self.round(n.ambientNoiseC * gain, 3)
        if poor {
            n.voltageOffsetV = Self.round(u(-0.01...0.01), 4)
            n.currentOffsetA = Self.round(u(-0.01...0.01) * c.capacityAh, 4)
            n.cellTempOffsetC = Self.round(u(-2...2), 2)
            n.ambientOffsetC = Self.round(u(-1...1), 2)
            sen.irOffsetK = Self.round(u(-2...2), 2)
            let count = 1 + Int(rng.next() % 3)
            let horizon = s.run.durationCapS * 0.8
            for _ in 0..<count {
                let channel = pick(SensorChannel.allCases.map { ($0, 1.0) })
                let kinds: [SensorFaultKind] = channel == .bms ? [.dropout, .stuck] : [.bmsVoltage, .bmsCurrent, .bmsCellTemp, .bmsAmbient].contains(channel) ? [.stuck, .spike] : [.dropout, .stuck, .spike]
                let kind = kinds[Int(rng.next() % UInt64(kinds.count))]
                let start = Self.round(u(0...horizon), 1)
                var f = SensorFault(channel: channel, kind: kind, startS: start, endS: Self.round(start + u(5...300), 1))
                if kind == .spike {
                    f.rateHz = Self.round(logU(0.01...1), 3)
                    let amplitude: Double = switch channel {
                    case .bmsVoltage: u(0.05...1)
                    case .bmsCurrent: u(0.05...0.5) * c.capacityAh
                    case .bmsCellTemp, .bmsAmbient: u(5...50)
                    case .ir: u(20...500)
                    default: u(0.2...0.9)
                    }
                    f.amplitude = Self.round(amplitude, 3)
                }
                sen.faults.append(f)
            }
            sen.faults.sort { ($0.startS, $0.channel.rawValue) < ($1.startS, $1.channel.rawValue) }
        }
        sen.bmsNoise = n
        s.sensors = sen
        s.description = Self.describe(s, kind: kind, sensorQuality: poor ? "poor" : gain > 1 ? "typical" : "good")
        return (s, kind)
    }

    /// `n` scenarios from index 0.
    public func scenarios(_ n: Int, prefix: String = "sample") -> [(Scenario, SampledKind)] {
        (0..<n).map { scenario($0, prefix: prefix) }
    }

    static func round(_ x: Double, _ digits: Int) -> Double {
        let scale = (0..<digits).reduce(1.0) { v, _ in v * 10 }
        return (x * scale).rounded() / scale
    }

    static func describe(_ s: Scenario, kind: SampledKind, sensorQuality: String) -> String {
        let c = s.cell
        let size = c.format == "cylindrical" ? "\(Int(((c.diameterM ?? 0) * 1000).rounded()))\(Int(((c.lengthM ?? 0) * 10000).rounded())) cylindrical"
            : c.format
        return "sampled \(kind.rawValue): \(c.chemistry.rawValue) \(c.capacityAh) Ah \(size); \(s.testProtocol.summary); "
            + "chamber \(s.ambient.temperatureC) degC, h \(s.ambient.convection) W/m2K\(s.ambient.profile.isEmpty ? "" : " with profile"); "
            + "\(sensorQuality) sensors, IR \(s.sensors.irRange.rawValue)"
    }
}
