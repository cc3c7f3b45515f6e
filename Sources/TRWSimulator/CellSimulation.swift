#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import TRWCore

/// Gas yields and venting constants. Estimates (not from a verified source),
/// chosen so that a 2 Ah pouch vents near 90-120 degC under overcharge as
/// reported in overcharge tests (e.g. Ren et al. 2017); see docs/simulator.md.
public enum GasModel {
    /// mol gas per kg of SEI decomposed ((CH2OCO2Li)2 -> Li2CO3 + C2H4 + CO2 + 1/2 O2: 2.5 mol / 162 g).
    public static let seiMolPerKg = 15.0
    /// mol gas per kg of anode material reacted with electrolyte (C2H4 from EC reduction).
    public static let negativeMolPerKg = 5.0
    /// mol gas per kg of electrolyte decomposed.
    public static let electrolyteMolPerKg = 10.0
    /// mol gas per mol of electrons in electrolyte oxidation (EC -> CO2 + ..., ~2 e- per CO2).
    public static let oxidationMolPerElectron = 0.5
    /// mol gas per kg of plated lithium reacted (2 Li + EC -> Li2CO3 + C2H4: 0.5 mol per 6.94 g).
    public static let platedMolPerKg = 72.0
    /// mol gas per kg of over-delithiated cathode decomposed (O2 released, burnt to CO2 with the electrolyte).
    public static let overchargedMolPerKg = 3.0
    /// Time constant of the gas escaping once the vent has opened, s.
    public static let ventReleaseS = 1.0
    /// Relative rise of the ohmic resistance with the gas held in the cell at the vent threshold
    /// (gas pockets between the layers take electrode area out of contact; released at venting). Estimate.
    public static let gasResistanceRise = 0.1
    /// Share of the electrolyte ejected as vapour at venting.
    public static let ventElectrolyteFraction = 0.2
    /// Latent heat of the ejected solvent, J/kg (DMC ~ 38 kJ/mol / 90 g/mol).
    public static let solventLatentHeat = 3.8e5
    /// Time over which the vent's evaporative cooling acts, s.
    public static let ventCoolingS = 5.0
}

/// Ground-truth events of a simulated run.
public struct GroundTruth: Sendable, Equatable {
    /// Runaway onset by GB 38031-2020: true max temperature rising at >= 1 degC/s for >= 3 s;
    /// the onset is the start of the first such window, s.
    public var runawayOnsetS: Double?
    /// Venting: the instant the vent opens (gas held in the cell reached the vent threshold), s.
    public var ventingS: Double?
    /// Self-heating onset: the cell-mean heating rate from the abuse reactions alone
    /// first exceeds 0.02 degC/min (the ARC detection threshold), s.
    public var selfHeatingOnsetS: Double?
    /// Separator failure (internal short starts at the hotspot), s.
    public var separatorFailureS: Double?
    /// Separator shutdown: the first instant half of the face's separator has closed its pores, s.
    public var separatorShutdownS: Double?
    /// Lithium plating begins (stored charge past the graphite's headroom), s.
    public var platingOnsetS: Double?
    /// Peak of the terminal voltage before runaway onset, V, and the charge passed (SOC) there.
    public var peakVoltageV: Double = 0
    public var peakVoltageSOC: Double = 0
    /// Charge passed (SOC) at venting and at runaway onset.
    public var ventingSOC: Double?
    public var runawayOnsetSOC: Double?
    /// Peak of the true max temperature, degC, and when.
    public var peakMaxC: Double = -.infinity
    public var peakS: Double = 0
}

/// The physics of one cell under abuse: heat equation over the face, Arrhenius
/// abuse reactions per grid cell (Kim et al. 2007 after Hatchard et al. 2001, Hu et al.
/// 2020), lumped overcharge electrochemistry (cathode delithiation, electrolyte oxidation,
/// lithium plating; `Electrochemistry`), the plated lithium's and the over-delithiated
/// cathode's reactions, gas and venting, separator shutdown and melt-down with an internal
/// short at the hotspot, and the ground-truth detectors. Runaway is whatever the heat
/// balance makes of these: no single switch triggers it.
public final class CellSimulation {
    public let scenario: Scenario
    public let reactions: ReactionSet
    public let electro: Electrochemistry
    /// The heat solver (temperature field in kelvin).
    public private(set) var heat: ThinPlateHeatSolver
    /// Simulated time, s.
    public private(set) var time: Double = 0

    // Per grid cell reaction states (dimensionless, Kim 2007 notation).
    public private(set) var cSEI: [Double]
    public private(set) var cNE: [Double]
    public private(set) var tSEI: [Double]
    public private(set) var alpha: [Double]
    public private(set) var cE: [Double]
    /// Plated lithium per grid cell, kg/m^3.
    public private(set) var platedLi: [Double]
    /// Over-delithiated cathode fraction per grid cell (0...1), not yet decomposed.
    public private(set) var cOD: [Double]

    /// State of charge as charge passed (fraction, may exceed 1 under overcharge), as labs report it.
    public private(set) var soc: Double
    /// Charge stored by (de)intercalation (fraction of nominal): what the cathode has given up.
    public private(set) var storedSOC: Double
    /// Supply current into the cell, A (positive = charging).
    public private(set) var current: Double = 0
    /// Terminal voltage, V.
    public private(set) var voltage: Double
    /// Electrolyte-oxidation current, A (last step).
    public private(set) var oxidationCurrentA: Double = 0
    /// Share of the separator still open to ions (1 = no shutdown), area mean.
    public private(set) var separatorOpenFraction: Double = 1
    /// Plated lithium charge charged so far, Ah (not what has reacted since).
    public private(set) var platedAh: Double = 0
    /// Gas held inside the cell, mol (released through the vent once it has opened).
    public private(set) var gasMol: Double = 0
    /// Gas generated since the start, mol.
    public private(set) var gasTotalMol: Double = 0
    /// Gas generation rate, mol/s (last step).
    public private(set) var gasRateMolPerS: Double = 0
    /// Gas leaving through the opened vent, mol/s (last step; 0 while closed).
    public private(set) var ventFlowMolPerS: Double = 0
    /// Total abuse-reaction heat (SEI+NE+PE+E, plated lithium, over-delithiated cathode), W (last step).
    public private(set) var reactionPowerW: Double = 0
    /// Heat of the over-delithiated cathode's reaction alone (part of `reactionPowerW`), W (last step).
    public private(set) var overchargedPowerW: Double = 0
    /// Electrochemical heat (Joule + interface overpotentials + electrolyte oxidation), W (last step).
    public private(set) var electricalHeatW: Double = 0
    /// Internal-short heat, W (last step).
    public private(set) var shortHeatW: Double = 0
    public private(set) var vented = false
    public private(set) var separatorFailed = false
    /// Ground truth so far.
    public private(set) var truth = GroundTruth()

    /// Set true once the supply is done for good (every protocol step ended, the supply
    /// switched off, or the CID opened).
    public private(set) var chargeEnded = false
    /// The test protocol (supply steps) being run.
    public private(set) var supply: ProtocolRunner
    /// When the current interrupt device opened (gas reached `CellSpec.cidGasMol`), s.
    public private(set) var cidOpenS: Double?
    /// When the supply's output was switched off from outside (an alarm action), s.
    public private(set) var supplyOffS: Double?

    /// Switches the charging supply off now: the charge current is zero from the next
    /// step on (the cell's own reactions and any internal short go on).
    public func switchSupplyOff() {
        guard supplyOffS == nil else { return }
        supplyOffS = time
        chargeEnded = true
    }

    /// Ground-truth runaway onset: trw's one GB 38031 criterion on the true max temperature.
    private var gb = GB38031RateCriterion()
    private var lastGBTick = -1.0
    /// Sampling interval of the max temperature for the GB 38031 criterion, s.
    public static let gbSampleIntervalS = 1.0
    private var q: [Double]
    private var weight: [Double]
    private var shortWeight: [Double]
    private var kSEI: [Double]
    private var kNE: [Double]
    private var kPE: [Double]
    /// Effective cathode enthalpy per cell (channels weighted by their rates), J/m3.
    private var hPE: [Double]
    private var kE: [Double]
    private var kPL: [Double]
    private var kOD: [Double]
    /// Current weight including the separator shutdown (mean 1).
    private var liveWeight: [Double]
    private let hotspotIndex: Int
    private var ventCoolingW: Double = 0
    private var ventCoolingUntil: Double = 0
    private var destroyed = false
    private var shortResistance = Double.infinity
    /// Interface potential of the last solve, V (Newton start).
    private var lastE: Double
    /// Time of the last physics sample fed to the GB 38031 detector.
    private var lastSampleT: Double = -1

    /// The self-heating threshold, degC/min (ARC detection threshold).
    public static let selfHeatingThresholdCPerMin = 0.02
    /// kg of lithium per Ah (3600 C / F x 6.941 g/mol).
    public static let lithiumKgPerAh = 3600 / faradayConstant * 6.941e-3
    /// Separator pores close over this width around the shutdown temperature (logistic), K.
    public static let shutdownWidthK = 1.5
    /// Share of the ionic conductance left through a shut-down separator (resistance x ~500;
    /// PE shutdown raises the separator resistance by about 3 orders of magnitude). Estimate.
    public static let shutdownResidual = 0.001

    /// PE shutdown temperature, degC: 135 degC (polyethylene pores close near 130-135 degC), or
    /// 15 K below a separator melting earlier. Coated separators rated for 180 degC still shut
    /// down with their PE layer.
    public var separatorShutdownC: Double { min(135, scenario.cell.separatorFailureC - 15) }

    public init(scenario: Scenario) {
        self.scenario = scenario
        let c = scenario.cell
        reactions = c.chemistry.reactions
        electro = c.chemistry.electrochemistry
        let ta = scenario.ambient.temperature(at: 0) + 273.15
        heat = ThinPlateHeatSolver(nx: scenario.grid.nx, ny: scenario.grid.ny, widthM: c.widthM, heightM: c.heightM,
                                   thicknessM: c.thicknessM, density: c.density, heatCapacity: c.heatCapacity,
                                   conductivity: c.conductivity, emissivity: c.emissivity,
                                   convection: scenario.ambient.convection, initialKelvin: ta)
        let n = scenario.grid.nx * scenario.grid.ny
        cSEI = [Double](repeating: reactions.cSEI0, count: n)
        cNE = [Double](repeating: reactions.cNE0, count: n)
        tSEI = [Double](repeating: reactions.tSEI0, count: n)
        alpha = [Double](repeating: reactions.alpha0, count: n)
        cE = [Double](repeating: reactions.cE0, count: n)
        q = [Double](repeating: 0, count: n)
        kSEI = q; kNE = q; kPE = q; kE = q; hPE = q; kPL = q; kOD = q
        soc = scenario.testProtocol.startSOC
        supply = ProtocolRunner(spec: scenario.testProtocol, capacityAh: c.capacityAh, chemistry: c.chemistry)
        // A cell starting past 100 % was charged there slowly: its cathode has given that charge up,
        // and what the graphite could not take is plated.
        let e = c.chemistry.electrochemistry
        // (Capped at 97 % of the cathode reserve: beyond it the cathode would sit above the
        // electrolyte's oxidation potential, which a real cell never reaches at rest.)
        storedSOC = min(soc, 1 + 0.97 * e.cathodeReserveSOC)
        let plated0 = max(0, storedSOC - 1 - e.anodeHeadroomSOC) * c.capacityAh
        platedAh = plated0
        let volume = c.widthM * c.heightM * c.thicknessM
        platedLi = [Double](repeating: plated0 * Self.lithiumKgPerAh / volume, count: n)
        cOD = [Double](repeating: min(1, max(0, storedSOC - 1) / e.cathodeReserveSOC), count: n)
        let u0 = e.ocv(stored: storedSOC)
        voltage = u0
        lastE = u0
        // Current-density weight: 1 + s * Gaussian at the hotspot (sigma 8 % of the width), mean 1.
        let nx = scenario.grid.nx, ny = scenario.grid.ny
        let hx = c.hotspotX * c.widthM, hy = c.hotspotY * c.heightM
        let sig = 0.08 * c.widthM, sigShort = max(0.008, 1.5 * c.widthM / Double(nx))
        var w = [Double](repeating: 0, count: n), ws = w
        for j in 0..<ny {
            for i in 0..<nx {
                let x = (Double(i) + 0.5) * c.widthM / Double(nx), y = (Double(j) + 0.5) * c.heightM / Double(ny)
                let r2 = (x - hx) * (x - hx) + (y - hy) * (y - hy)
                w[j * nx + i] = 1 + c.hotspotStrength * exp(-r2 / (2 * sig * sig))
                ws[j * nx + i] = exp(-r2 / (2 * sigShort * sigShort))
            }
        }
        let wm = w.reduce(0, +) / Double(n), wsSum = ws.reduce(0, +)
        weight = w.map { $0 / wm }
        liveWeight = weight
        shortWeight = ws.map { $0 / wsSum * Double(n) }
        hotspotIndex = min(ny - 1, Int(c.hotspotY * Double(ny))) * nx + min(nx - 1, Int(c.hotspotX * Double(nx)))
    }

    // MARK: accessors

    /// Temperature field, degC, row-major nx x ny.
    public var temperatureFieldC: [Double] { heat.temperature.map { $0 - 273.15 } }
    /// Temperature field, kelvin (no copy of the solver's storage semantics: value array).
    public var temperatureFieldK: [Double] { heat.temperature }
    /// True maximum temperature of the face, degC.
    public var maxTemperatureC: Double { (heat.temperature.max() ?? 0) - 273.15 }
    /// Mean temperature, degC.
    public var meanTemperatureC: Double { heat.temperature.reduce(0, +) / Double(heat.temperature.count) - 273.15 }
    /// Temperature at a point given as fractions of width and height, degC.
    public func temperatureC(atX fx: Double, y fy: Double) -> Double {
        let i = min(heat.nx - 1, max(0, Int(fx * Double(heat.nx))))
        let j = min(heat.ny - 1, max(0, Int(fy * Double(heat.ny))))
        return heat.temperature[j * heat.nx + i] - 273.15
    }
    /// Chamber temperature now, degC.
    public var ambientC: Double { scenario.ambient.temperature(at: time) }
    /// Cell mass, kg.
    public var massKg: Double { scenario.cell.widthM * scenario.cell.heightM * scenario.cell.thicknessM * scenario.cell.density }
    /// Mean self-heating rate from the abuse reactions alone, degC/min.
    public var selfHeatRateCPerMin: Double { reactionPowerW / (massKg * scenario.cell.heatCapacity) * 60 }

    // MARK: stepping

    /// Maximum chemical temperature rise allowed in one sub-step, K.
    public var maxRisePerSubstepK = 2.0
    /// Smallest sub-step, s.
    public var minSubstepS = 1e-3

    /// Advances the simulation by `dt` seconds (sub-stepping while reactions are fast).
    public func step(dt: Double) {
        precondition(dt > 0, "step(dt:) needs dt > 0, got \(dt)")
        let end = time + dt
        while time < end - 1e-12 {
            let sub = substep(maxDt: end - time)
            time += sub
            // Feed GB 38031 with samples at most every 0.1 s of simulated time.
            if time - lastSampleT >= 0.1 - 1e-9 || time >= end - 1e-12 {
                sampleTruth()
            }
        }
    }

    private func sampleTruth() {
        lastSampleT = time
        let tmax = maxTemperatureC
        if tmax > truth.peakMaxC { truth.peakMaxC = tmax; truth.peakS = time }
        // GB 38031-2020 evaluates temperatures sampled at intervals of at most 1 s;
        // the detector sees the true max temperature once per `gbSampleIntervalS`.
        let tick = (time / Self.gbSampleIntervalS + 1e-6).rounded(.down)
        if truth.runawayOnsetS == nil, tick > lastGBTick {
            lastGBTick = tick
            if let onset = gb.feed(t: time, celsius: tmax) {
                truth.runawayOnsetS = onset
                truth.runawayOnsetSOC = soc - current * (time - onset) / (3600 * scenario.cell.capacityAh)
            }
        }
        if truth.runawayOnsetS == nil, truth.separatorFailureS == nil, voltage > truth.peakVoltageV {
            truth.peakVoltageV = voltage
            truth.peakVoltageSOC = soc
        }
        if truth.selfHeatingOnsetS == nil, selfHeatRateCPerMin >= Self.selfHeatingThresholdCPerMin {
            truth.selfHeatingOnsetS = time
        }
    }

    /// The GB 38031 criterion parameters as JSON.
    public var runawayCriterionJSON: String {
        "{\"criterion\":\"\(gb.summary)\",\"dTdt_min_C_per_s\":\(gb.rateCPerS),\"sustain_s\":\(gb.sustainS),\"window_s\":\(gb.windowS),\"sample_interval_s\":\(Self.gbSampleIntervalS),\"signal\":\"true max cell temperature (simulator field)\"}"
    }

    /// What the supply asks for at time `t`: the current it drives into the cell (A, positive =
    /// charging) and its compliance voltage (V). The one place the test protocol is read.
    /// `requestedA` is the step's set point even once the cell takes no current (an open CID).
    func supplyDemand(at t: Double) -> (currentA: Double, limitV: Double, requestedA: Double) {
        let d = supply.demand(time: t, soc: soc, voltage: voltage, currentA: current)
        if supply.done || cidOpenS != nil { chargeEnded = true }
        return (chargeEnded ? 0 : d.currentA, d.limitV, d.currentA)
    }

    /// The cell's electrical state for an interface potential E: (de)intercalation current
    /// (E - U)/R_ct, electrolyte oxidation (Tafel), the cell current through R_ohm, the terminal
    /// voltage and the supply current (cell + short), with d(supply current)/dE and dV/dE.
    struct Circuit {
        var u: Double, rct: Double, rOhm: Double, gShort: Double, kelvin: Double, capacityAh: Double
        var electro: Electrochemistry
        func eval(_ e: Double) -> (iInt: Double, iOx: Double, v: Double, iExt: Double, dI: Double, dV: Double) {
            let iInt = (e - u) / rct
            let iOx = electro.oxidationCurrent(e: min(e, electro.oxidationV + 2), kelvin: kelvin, capacityAh: capacityAh)
            let ic = iInt + iOx
            let v = e + ic * rOhm
            let dIc = 1 / rct + iOx / electro.tafelV
            let dV = 1 + dIc * rOhm
            return (iInt, iOx, v, ic + v * gShort, dIc + dV * gShort, dV)
        }
        /// Solves `target(e) = value` for E (monotone increasing), safeguarded Newton from `start`.
        func solve(start: Double, value: Double, voltage: Bool) -> Double {
            var lo = u - 20 - abs(value) * (rct + rOhm) * 2, hi = max(u, electro.oxidationV) + 2
            var e = min(max(start, lo), hi)
            for _ in 0..<80 {
                let r = eval(e)
                let f = (voltage ? r.v : r.iExt) - value
                let d = voltage ? r.dV : r.dI
                if f > 0 { hi = e } else { lo = e }
                if abs(f) < 1e-10 * max(1, abs(value)) { break }
                var next = e - f / d
                if !(next > lo && next < hi) { next = 0.5 * (lo + hi) }
                if abs(next - e) < 1e-12 { e = next; break }
                e = next
            }
            return e
        }
    }

    private func substep(maxDt: Double) -> Double {
        let n = q.count
        let r = reactions
        let vCell = heat.cellVolume
        let rc = heat.volumetricHeatCapacity
        // Work on local arrays (swapped out of the class) so the hot loops run on
        // unsafe buffers without per-access exclusivity checks.
        var S = [Double](), N = [Double](), Z = [Double](), A = [Double](), E = [Double](), Q = [Double]()
        var KS = [Double](), KN = [Double](), KP = [Double](), KE = [Double](), HP = [Double]()
        var PL = [Double](), OD = [Double](), KPL = [Double](), KOD = [Double]()
        swap(&S, &cSEI); swap(&N, &cNE); swap(&Z, &tSEI); swap(&A, &alpha); swap(&E, &cE); swap(&Q, &q)
        swap(&KS, &kSEI); swap(&KN, &kNE); swap(&KP, &kPE); swap(&KE, &kE); swap(&HP, &hPE)
        swap(&PL, &platedLi); swap(&OD, &cOD); swap(&KPL, &kPL); swap(&KOD, &kOD)
        defer {
            swap(&S, &cSEI); swap(&N, &cNE); swap(&Z, &tSEI); swap(&A, &alpha); swap(&E, &cE); swap(&Q, &q)
            swap(&KS, &kSEI); swap(&KN, &kNE); swap(&KP, &kPE); swap(&KE, &kE); swap(&HP, &hPE)
            swap(&PL, &platedLi); swap(&OD, &cOD); swap(&KPL, &kPL); swap(&KOD, &kOD)
        }
        var maxRate = 0.0 // K/s
        let hS = r.sei.enthalpy * r.sei.content, hN = r.negative.enthalpy * r.negative.content
        let hP = r.positive.enthalpy * r.positive.content, hE = r.electrolyte.enthalpy * r.electrolyte.content
        let aS = r.sei.frequencyFactor, eS = r.sei.activationEnergy / gasConstant
        let aN = r.negative.frequencyFactor, eN = r.negative.activationEnergy / gasConstant
        let aP = r.positive.frequencyFactor, eP = r.positive.activationEnergy / gasConstant
        let aE = r.electrolyte.frequencyFactor, eE = r.electrolyte.activationEnergy / gasConstant
        // Second cathode channel (Hu 2020 NCM), same conversion alpha; zero when absent.
        let aP2 = r.positive2?.frequencyFactor ?? 0
        let eP2 = (r.positive2?.activationEnergy ?? 0) / gasConstant
        let hP2 = (r.positive2?.enthalpy ?? 0) * (r.positive2?.content ?? 0)
        // Plated lithium (shares the SEI's exponential when its Ea is the same).
        let aPL = r.plated.frequencyFactor, ePL = r.plated.activationEnergy / gasConstant, hPL = r.plated.enthalpy
        let samePL = ePL == eS
        // Over-delithiated cathode (shares the first cathode channel's exponential when its Ea is the same).
        let aOD = r.overcharged?.frequencyFactor ?? 0
        let eOD = (r.overcharged?.activationEnergy ?? 0) / gasConstant
        let hOD = (r.overcharged?.enthalpy ?? 0) * (r.overcharged?.content ?? 0)
        let sameOD = eOD == eP
        let pMinK = r.positiveMinK
        let sameSN = eS == eN
        let invT0 = 1 / r.tSEI0
        heat.temperature.withUnsafeBufferPointer { T in
            S.withUnsafeBufferPointer { S in N.withUnsafeBufferPointer { N in Z.withUnsafeBufferPointer { Z in
            A.withUnsafeBufferPointer { A in E.withUnsafeBufferPointer { E in
            PL.withUnsafeBufferPointer { PL in OD.withUnsafeBufferPointer { OD in
            KS.withUnsafeMutableBufferPointer { KS in KN.withUnsafeMutableBufferPointer { KN in
            KP.withUnsafeMutableBufferPointer { KP in KE.withUnsafeMutableBufferPointer { KE in
            HP.withUnsafeMutableBufferPointer { HP in
            KPL.withUnsafeMutableBufferPointer { KPL in KOD.withUnsafeMutableBufferPointer { KOD in
                for k in 0..<n {
                    let i = 1 / T[k]
                    let es = exp(-eS * i)
                    let ks = aS * es
                    let kn = aN * (sameSN ? es : exp(-eN * i)) * exp(-Z[k] * invT0)
                    let active = T[k] >= pMinK
                    let needP = active || (aOD > 0 && sameOD && OD[k] > 0)
                    let ep = needP ? exp(-eP * i) : 0
                    let kp1 = active ? aP * ep : 0
                    let kp2 = active && aP2 > 0 ? aP2 * exp(-eP2 * i) : 0
                    let kp = kp1 + kp2
                    let hp = kp > 0 ? (hP * kp1 + hP2 * kp2) / kp : hP
                    let ke = aE * exp(-eE * i)
                    let kpl = PL[k] > 0 ? aPL * (samePL ? es : exp(-ePL * i)) : 0
                    let kod = aOD > 0 && OD[k] > 0 ? aOD * (sameOD ? ep : exp(-eOD * i)) : 0
                    KS[k] = ks; KN[k] = kn; KP[k] = kp; KE[k] = ke; HP[k] = hp; KPL[k] = kpl; KOD[k] = kod
                    let qr = hS * ks * S[k] + hN * kn * N[k] + hp * kp * A[k] * (1 - A[k]) + hE * ke * E[k]
                        + hPL * kpl * PL[k] + hOD * kod * OD[k]
                    maxRate = max(maxRate, qr / rc)
                }
            }}}}}}}}}}}}}}
        }
        var dt = maxDt
        if maxRate * dt > maxRisePerSubstepK { dt = max(minSubstepS, maxRisePerSubstepK / maxRate) }
        dt = min(dt, maxDt)

        // Reactions: exact integrators for frozen rate constants over dt.
        var reactJ = 0.0, gas = 0.0, odJ = 0.0
        let gS = GasModel.seiMolPerKg * r.sei.content, gN = GasModel.negativeMolPerKg * r.negative.content
        let gE = GasModel.electrolyteMolPerKg * r.electrolyte.content
        let gPL = GasModel.platedMolPerKg, gOD = GasModel.overchargedMolPerKg * (r.overcharged?.content ?? 0)
        let invDt = 1 / dt
        @inline(__always) func decay(_ x: Double) -> Double {
            // exp(-x) ~ 1 - x + x^2/2 for tiny x (saves an exp in cold cells; error < x^3/6).
            x < 1e-6 ? 1 - x + 0.5 * x * x : exp(-x)
        }
        S.withUnsafeMutableBufferPointer { S in N.withUnsafeMutableBufferPointer { N in Z.withUnsafeMutableBufferPointer { Z in
        A.withUnsafeMutableBufferPointer { A in E.withUnsafeMutableBufferPointer { E in Q.withUnsafeMutableBufferPointer { Q in
        PL.withUnsafeMutableBufferPointer { PL in OD.withUnsafeMutableBufferPointer { OD in
        KS.withUnsafeBufferPointer { KS in KN.withUnsafeBufferPointer { KN in
        KP.withUnsafeBufferPointer { KP in KE.withUnsafeBufferPointer { KE in
        HP.withUnsafeBufferPointer { HP in
        KPL.withUnsafeBufferPointer { KPL in KOD.withUnsafeBufferPointer { KOD in
            for k in 0..<n {
                let s0 = S[k]
                let s1 = s0 * decay(KS[k] * dt)
                let dS = s0 - s1
                let n0 = N[k]
                let n1 = n0 * decay(KN[k] * dt)
                let dN = n0 - n1
                let a0 = A[k], xp = KP[k] * dt
                let a1: Double
                if xp < 1e-6 {
                    a1 = a0 + a0 * (1 - a0) * xp
                } else {
                    let g = exp(min(700, xp))
                    a1 = a0 * g / (1 - a0 + a0 * g)
                }
                let dA = a1 - a0
                let e0 = E[k]
                let e1 = e0 * decay(KE[k] * dt)
                let dE = e0 - e1
                var dPL = 0.0, dOD = 0.0
                if KPL[k] > 0 { let p0 = PL[k]; let p1 = p0 * decay(KPL[k] * dt); dPL = p0 - p1; PL[k] = p1 }
                if KOD[k] > 0 { let o0 = OD[k]; let o1 = o0 * decay(KOD[k] * dt); dOD = o0 - o1; OD[k] = o1 }
                S[k] = s1; N[k] = n1; Z[k] += dN; A[k] = a1; E[k] = e1
                let qv = (hS * dS + hN * dN + HP[k] * dA + hE * dE + hPL * dPL + hOD * dOD) * invDt
                Q[k] = qv
                reactJ += qv
                odJ += hOD * dOD
                gas += gS * dS + gN * dN + gE * dE + gPL * dPL + gOD * dOD
            }
        }}}}}}}}}}}}}}}
        reactionPowerW = reactJ * vCell
        overchargedPowerW = odJ * vCell / dt
        gas *= vCell / dt

        // Electrochemistry (lumped over the face).
        let tMean = heat.temperature.reduce(0, +) / Double(n)
        let tSpot = heat.temperature[hotspotIndex]
        let cell = scenario.cell
        // The supply's set point from the protocol steps (signed current, compliance voltage).
        let demand = supplyDemand(at: time)
        let tMaxK = heat.temperature.max() ?? 0
        // Separator melt-down at the hottest point: the internal short starts at the hotspot.
        if !separatorFailed, tMaxK - 273.15 >= cell.separatorFailureC {
            separatorFailed = true
            truth.separatorFailureS = time
        }
        // Separator shutdown: pores close where the separator passes its shutdown temperature; the
        // ions (and the current, and its heat) crowd into the part still open.
        let tsdK = separatorShutdownC + 273.15
        if tMaxK > tsdK - 8 * Self.shutdownWidthK {
            var open = 0.0
            let eps = Self.shutdownResidual
            heat.temperature.withUnsafeBufferPointer { T in weight.withUnsafeBufferPointer { W in
                liveWeight.withUnsafeMutableBufferPointer { L in
                    for k in 0..<n {
                        let o = eps + (1 - eps) / (1 + exp((T[k] - tsdK) / Self.shutdownWidthK))
                        L[k] = W[k] * o
                        open += o
                    }
                }
            }}
            separatorOpenFraction = open / Double(n)
            let lm = liveWeight.reduce(0, +) / Double(n)
            for k in 0..<n { liveWeight[k] /= lm }
            if truth.separatorShutdownS == nil, separatorOpenFraction < 0.5 { truth.separatorShutdownS = time }
        } else if separatorOpenFraction != 1 {
            separatorOpenFraction = 1
            liveWeight = weight
        }
        // Ohmic resistance: Arrhenius in T (Ea 20 kJ/mol, typical of the electrolyte), through the
        // open separator, raised by gas held between the layers.
        let tR = min(353.15, max(253.15, tMean))
        let gasFill = min(1, gasMol / cell.ventGasMol)
        let rOhm = cell.resistanceOhm * exp(20_000 / gasConstant * (1 / tR - 1 / 298.15))
            * (1 + GasModel.gasResistanceRise * gasFill) / separatorOpenFraction
        // Once the whole separator has collapsed (mean above 200 degC, beyond PE/PP melting)
        // the electrodes are in hard contact: no EMF left at the terminals.
        if !destroyed, tMean > 473.15 { destroyed = true }
        let xs = max(0, storedSOC)
        let u = destroyed ? 0 : electro.ocv(stored: xs) * min(1, xs / 0.02)
        var gShort = 0.0
        if separatorFailed, let tf = truth.separatorFailureS {
            // Hard short from the melt-down: resistance falls from `shortResistanceOhm` e-fold per 5 s and
            // per 20 K of the spot past the melt-down, to a floor of 100 mOhm x (2 Ah / capacity) (current
            // constriction around the short; a larger cell has more electrode layers in contact), a tenth
            // of that once the whole separator has collapsed. It never recovers.
            let floor = 0.1 * min(1, 2 / cell.capacityAh)
            let rs = cell.shortResistanceOhm * exp(-(time - tf) / 5) * exp(-max(0, tSpot - 273.15 - cell.separatorFailureC) / 20)
            shortResistance = max(destroyed ? 0.1 * floor : floor, min(shortResistance, rs))
            gShort = 1 / shortResistance
        }
        let circuit = Circuit(u: u, rct: electro.chargeTransferOhmAh / cell.capacityAh, rOhm: rOhm, gShort: gShort,
                              kelvin: tMean, capacityAh: cell.capacityAh, electro: electro)
        var e = circuit.solve(start: lastE, value: demand.currentA, voltage: false)
        var st = circuit.eval(e)
        if st.v > demand.limitV {
            // Compliance: the supply holds its limit voltage and the current falls.
            e = circuit.solve(start: e, value: demand.limitV, voltage: true)
            st = circuit.eval(e)
        }
        lastE = e
        let iCell = st.iInt + st.iOx
        let iShort = st.v * gShort
        // Heat: everything the cell takes electrically that (de)intercalation does not store:
        // I_cell V - I_int U = I_cell^2 R_ohm + I_int (E - U) + I_ox E. Discharge into the short crowds
        // around it, so that Joule heat is released there with the short's own V^2/R_short.
        let bodyW = iCell * st.v - st.iInt * u
        let elecW = iCell >= 0 ? bodyW : st.iInt * (e - u)
        let shortW = st.v * iShort + (iCell < 0 ? iCell * iCell * rOhm : 0)
        // Charge bookkeeping: SOC = charge passed; stored charge moves with intercalation only.
        let dSOC = iCell * dt / (3600 * cell.capacityAh)
        let dStored = st.iInt * dt / (3600 * cell.capacityAh)
        soc += dSOC
        let x0 = storedSOC
        storedSOC = min(storedSOC + dStored, 1 + electro.cathodeReserveSOC * (1 - 1e-6))
        // Past 100 % the cathode gives up its reserve (over-delithiated share c_od grows) and the
        // graphite, once full, plates what it receives. Both follow the local current density.
        let lim = 1 + electro.anodeHeadroomSOC
        let newPlatedSOC = max(0, storedSOC - max(lim, x0))
        let newOD = max(0, storedSOC - max(1, x0)) / electro.cathodeReserveSOC
        if newPlatedSOC > 0 || newOD > 0 {
            if newPlatedSOC > 0, truth.platingOnsetS == nil { truth.platingOnsetS = time }
            platedAh += newPlatedSOC * cell.capacityAh
            let volume = cell.widthM * cell.heightM * cell.thicknessM
            let dLi = newPlatedSOC * cell.capacityAh * Self.lithiumKgPerAh / volume
            PL.withUnsafeMutableBufferPointer { PL in OD.withUnsafeMutableBufferPointer { OD in
                liveWeight.withUnsafeBufferPointer { W in
                    for k in 0..<n {
                        PL[k] += dLi * W[k]
                        OD[k] = min(1, OD[k] + newOD * W[k])
                    }
                }
            }}
        }
        gas += max(0, st.iOx) / faradayConstant * GasModel.oxidationMolPerElectron
        current = st.iExt
        oxidationCurrentA = st.iOx
        electricalHeatW = elecW
        shortHeatW = shortW
        gasRateMolPerS = gas
        gasTotalMol += gas * dt
        if cidOpenS == nil, let cid = cell.cidGasMol, gasTotalMol >= cid {
            // The CID opens: the jelly roll is cut off from the terminals from the next step on.
            cidOpenS = time + dt
            chargeEnded = true
        }

        // Gas held in the cell; once the vent has opened it escapes with time constant `ventReleaseS`.
        if !vented {
            gasMol += gas * dt
            ventFlowMolPerS = 0
            if gasMol >= cell.ventGasMol {
                vented = true
                truth.ventingS = time + dt
                truth.ventingSOC = soc
                let vol = cell.widthM * cell.heightM * cell.thicknessM
                var ejected = 0.0
                for k in 0..<n {
                    let d = E[k] * GasModel.ventElectrolyteFraction
                    E[k] -= d
                    ejected += d
                }
                let massE = ejected / Double(n) * r.electrolyte.content * vol
                ventCoolingW = massE * GasModel.solventLatentHeat / GasModel.ventCoolingS
                ventCoolingUntil = time + dt + GasModel.ventCoolingS
            }
        } else {
            let keep = exp(-dt / GasModel.ventReleaseS)
            let held = gasMol * keep + gas * GasModel.ventReleaseS * (1 - keep)
            ventFlowMolPerS = (gasMol - held) / dt + gas
            gasMol = held
        }
        // After the CID opened the terminals read the supply: its compliance voltage while a
        // charge step is running (no current flows), 0 V otherwise.
        voltage = cidOpenS != nil ? (demand.requestedA > 0 && demand.limitV.isFinite && supplyOffS == nil ? demand.limitV : 0) : max(0, st.v)

        // Sources (W/m^3) per grid cell.
        let volAll = vCell * Double(n)
        let elecQ = elecW / volAll, shortQ = shortW / volAll
        let coolQ = (time < ventCoolingUntil ? ventCoolingW : 0) / volAll
        liveWeight.withUnsafeBufferPointer { W in shortWeight.withUnsafeBufferPointer { SW in
            for k in 0..<n { Q[k] += elecQ * W[k] + shortQ * SW[k] - coolQ }
        }}
        heat.convection = scenario.ambient.convection
        heat.step(dt: dt, sources: Q, ambientKelvin: scenario.ambient.temperature(at: time + dt) + 273.15)
        return dt
    }
}
