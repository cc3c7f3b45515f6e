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
    /// Venting (gas reached the vent threshold), s.
    public var ventingS: Double?
    /// Self-heating onset: the cell-mean heating rate from the abuse reactions alone
    /// first exceeds 0.02 degC/min (the ARC detection threshold), s.
    public var selfHeatingOnsetS: Double?
    /// Separator failure (internal short starts at the hotspot), s.
    public var separatorFailureS: Double?
    /// Peak of the true max temperature, degC, and when.
    public var peakMaxC: Double = -.infinity
    public var peakS: Double = 0
}

/// The physics of one cell under abuse: heat equation over the face, Arrhenius
/// abuse reactions per grid cell (Kim et al. 2007 after Hatchard et al. 2001),
/// lumped overcharge electrochemistry, gas and venting, separator failure and
/// internal short at the hotspot, and the ground-truth detectors.
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

    /// State of charge (fraction, may exceed 1 under overcharge).
    public private(set) var soc: Double
    /// Supply current into the cell, A (positive = charging).
    public private(set) var current: Double = 0
    /// Terminal voltage, V (includes the vent glitch).
    public private(set) var voltage: Double
    /// Gas accumulated inside the cell since the last vent, mol.
    public private(set) var gasMol: Double = 0
    /// Gas generated since the start, mol.
    public private(set) var gasTotalMol: Double = 0
    /// Gas generation rate, mol/s (last step).
    public private(set) var gasRateMolPerS: Double = 0
    /// Total abuse-reaction heat (SEI+NE+PE+E), W (last step).
    public private(set) var reactionPowerW: Double = 0
    /// Electrochemical heat (Joule + electrolyte oxidation), W (last step).
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
    private let hotspotIndex: Int
    private var ventCoolingW: Double = 0
    private var ventCoolingUntil: Double = 0
    private var plating: Double = 0
    private var destroyed = false
    private var softShortStartS: Double?
    private var shortResistance = Double.infinity
    /// Time of the last physics sample fed to the GB 38031 detector.
    private var lastSampleT: Double = -1

    /// Width of the soft-short band below the separator melt-down, K.
    public static let softShortSpanK = 15.0
    /// The self-heating threshold, degC/min (ARC detection threshold).
    public static let selfHeatingThresholdCPerMin = 0.02

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
        kSEI = q; kNE = q; kPE = q; kE = q; hPE = q
        soc = scenario.testProtocol.startSOC
        supply = ProtocolRunner(spec: scenario.testProtocol, capacityAh: c.capacityAh, chemistry: c.chemistry)
        voltage = electro.ocv(soc: soc)
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
            if let onset = gb.feed(t: time, celsius: tmax) { truth.runawayOnsetS = onset }
        }
        if truth.selfHeatingOnsetS == nil, selfHeatRateCPerMin >= Self.selfHeatingThresholdCPerMin {
            truth.selfHeatingOnsetS = time
        }
    }

    /// The GB 38031 criterion parameters as JSON.
    public var runawayCriterionJSON: String {
        "{\"criterion\":\"\(gb.summary)\",\"dTdt_min_C_per_s\":\(gb.rateCPerS),\"sustain_s\":\(gb.sustainS),\"window_s\":\(gb.windowS),\"sample_interval_s\":\(Self.gbSampleIntervalS),\"signal\":\"true max cell temperature (simulator field)\"}"
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
        swap(&S, &cSEI); swap(&N, &cNE); swap(&Z, &tSEI); swap(&A, &alpha); swap(&E, &cE); swap(&Q, &q)
        swap(&KS, &kSEI); swap(&KN, &kNE); swap(&KP, &kPE); swap(&KE, &kE); swap(&HP, &hPE)
        defer {
            swap(&S, &cSEI); swap(&N, &cNE); swap(&Z, &tSEI); swap(&A, &alpha); swap(&E, &cE); swap(&Q, &q)
            swap(&KS, &kSEI); swap(&KN, &kNE); swap(&KP, &kPE); swap(&KE, &kE); swap(&HP, &hPE)
        }
        var maxRate = 0.0 // K/s
        // Over-delithiated cathodes react with electrolyte at lower temperature
        // (MacNeil & Dahn 2001; modelled as a rate factor growing e-fold per 0.12 SOC past 100 %, capped at e^3).
        let cathodeFactor = exp(min(3, max(0, soc - 1) / 0.12))
        let hS = r.sei.enthalpy * r.sei.content, hN = r.negative.enthalpy * r.negative.content
        let hP = r.positive.enthalpy * r.positive.content, hE = r.electrolyte.enthalpy * r.electrolyte.content
        let aS = r.sei.frequencyFactor, eS = r.sei.activationEnergy / gasConstant
        let aN = r.negative.frequencyFactor, eN = r.negative.activationEnergy / gasConstant
        let aP = r.positive.frequencyFactor * cathodeFactor, eP = r.positive.activationEnergy / gasConstant
        let aE = r.electrolyte.frequencyFactor, eE = r.electrolyte.activationEnergy / gasConstant
        // Second cathode channel (Hu 2020 NCM), same conversion alpha; zero when absent.
        let aP2 = (r.positive2?.frequencyFactor ?? 0) * cathodeFactor
        let eP2 = (r.positive2?.activationEnergy ?? 0) / gasConstant
        let hP2 = (r.positive2?.enthalpy ?? 0) * (r.positive2?.content ?? 0)
        let pMinK = r.positiveMinK
        let sameSN = eS == eN
        let invT0 = 1 / r.tSEI0
        heat.temperature.withUnsafeBufferPointer { T in
            S.withUnsafeBufferPointer { S in N.withUnsafeBufferPointer { N in Z.withUnsafeBufferPointer { Z in
            A.withUnsafeBufferPointer { A in E.withUnsafeBufferPointer { E in
            KS.withUnsafeMutableBufferPointer { KS in KN.withUnsafeMutableBufferPointer { KN in
            KP.withUnsafeMutableBufferPointer { KP in KE.withUnsafeMutableBufferPointer { KE in
            HP.withUnsafeMutableBufferPointer { HP in
                for k in 0..<n {
                    let i = 1 / T[k]
                    let es = exp(-eS * i)
                    let ks = aS * es
                    let kn = aN * (sameSN ? es : exp(-eN * i)) * exp(-Z[k] * invT0)
                    let active = T[k] >= pMinK
                    let kp1 = active ? aP * exp(-eP * i) : 0
                    let kp2 = active && aP2 > 0 ? aP2 * exp(-eP2 * i) : 0
                    let kp = kp1 + kp2
                    let hp = kp > 0 ? (hP * kp1 + hP2 * kp2) / kp : hP
                    let ke = aE * exp(-eE * i)
                    KS[k] = ks; KN[k] = kn; KP[k] = kp; KE[k] = ke; HP[k] = hp
                    let qr = hS * ks * S[k] + hN * kn * N[k] + hp * kp * A[k] * (1 - A[k]) + hE * ke * E[k]
                    maxRate = max(maxRate, qr / rc)
                }
            }}}}}}}}}}
        }
        var dt = maxDt
        if maxRate * dt > maxRisePerSubstepK { dt = max(minSubstepS, maxRisePerSubstepK / maxRate) }
        dt = min(dt, maxDt)

        // Reactions: exact integrators for frozen rate constants over dt.
        var reactJ = 0.0, gas = 0.0
        let gS = GasModel.seiMolPerKg * r.sei.content, gN = GasModel.negativeMolPerKg * r.negative.content
        let gE = GasModel.electrolyteMolPerKg * r.electrolyte.content
        let invDt = 1 / dt
        S.withUnsafeMutableBufferPointer { S in N.withUnsafeMutableBufferPointer { N in Z.withUnsafeMutableBufferPointer { Z in
        A.withUnsafeMutableBufferPointer { A in E.withUnsafeMutableBufferPointer { E in Q.withUnsafeMutableBufferPointer { Q in
        KS.withUnsafeBufferPointer { KS in KN.withUnsafeBufferPointer { KN in
        KP.withUnsafeBufferPointer { KP in KE.withUnsafeBufferPointer { KE in
        HP.withUnsafeBufferPointer { HP in
            for k in 0..<n {
                let s0 = S[k]
                let xs = KS[k] * dt
                // exp(-x) ~ 1 - x + x^2/2 for tiny x (saves an exp in cold cells; error < x^3/6).
                let s1 = s0 * (xs < 1e-6 ? 1 - xs + 0.5 * xs * xs : exp(-xs))
                let dS = s0 - s1
                let n0 = N[k], xn = KN[k] * dt
                let n1 = n0 * (xn < 1e-6 ? 1 - xn + 0.5 * xn * xn : exp(-xn))
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
                let e0 = E[k], xe = KE[k] * dt
                let e1 = e0 * (xe < 1e-6 ? 1 - xe + 0.5 * xe * xe : exp(-xe))
                let dE = e0 - e1
                S[k] = s1; N[k] = n1; Z[k] += dN; A[k] = a1; E[k] = e1
                let qv = (hS * dS + hN * dN + HP[k] * dA + hE * dE) * invDt
                Q[k] = qv
                reactJ += qv
                gas += gS * dS + gN * dN + gE * dE
            }
        }}}}}}}}}}}
        reactionPowerW = reactJ * vCell
        gas *= vCell / dt

        // Electrochemistry (lumped): CC supply with compliance, internal short across the EMF.
        let tMean = heat.temperature.reduce(0, +) / Double(n)
        let tSpot = heat.temperature[hotspotIndex]
        let cell = scenario.cell
        // The supply's set point from the protocol steps (signed current, compliance voltage).
        let demand = supply.demand(time: time, soc: soc, voltage: voltage, currentA: current)
        if supply.done || cidOpenS != nil { chargeEnded = true }
        // Separator failure: when the hottest point passes the melt-down temperature.
        let tMaxK = heat.temperature.max() ?? 0
        if !separatorFailed, tMaxK - 273.15 >= cell.separatorFailureC {
            separatorFailed = true
            truth.separatorFailureS = time
        }
        // Resistance: Arrhenius in T (Ea 20 kJ/mol, typical of the electrolyte), rising with lithium plating.
        let tR = min(353.15, max(253.15, tMean))
        let rBase = cell.resistanceOhm * exp(20_000 / gasConstant * (1 / tR - 1 / 298.15)) * (1 + 3 * plating)
        // The depleted cathode's polarisation opposes further charging only; discharge through a short does not see it.
        var rInt = rBase + electro.delithiationResistance(soc: soc, capacityAh: cell.capacityAh)
        let socEff = max(0, soc)
        // Once the whole separator has collapsed (mean above 200 degC, beyond PE/PP melting)
        // the electrodes are in hard contact: no EMF left at the terminals.
        if !destroyed, tMean > 473.15 { destroyed = true }
        let voc = destroyed ? 0 : electro.ocv(soc: socEff) * min(1, socEff / 0.02)
        var rShort = Double.infinity
        let tHot = tMaxK - 273.15
        if !separatorFailed, tHot >= cell.separatorFailureC - Self.softShortSpanK {
            // Soft short before the melt-down: the separator shrinks (PE shuts down near 130-135 degC)
            // and micro-shorts form at the hotspot: 50 ohm at (melt-down - 15 K), falling e-fold per 4 K.
            // This is the voltage sag that precedes runaway.
            // The shrinkage goes on at temperature: the resistance also falls e-fold per 30 s.
            if softShortStartS == nil { softShortStartS = time }
            let r = 50 * exp(-(tHot - (cell.separatorFailureC - Self.softShortSpanK)) / 4) * exp(-(time - (softShortStartS ?? time)) / 30)
            shortResistance = min(shortResistance, max(cell.shortResistanceOhm, r))
            rShort = shortResistance
        }
        if separatorFailed, let tf = truth.separatorFailureS {
            // Hard short from the melt-down: resistance falls from `shortResistanceOhm` e-fold per 5 s and
            // per 20 K of the spot past the melt-down, to a 100 mOhm floor (current constriction around
            // the short), 10 mOhm once the whole separator has collapsed. It never recovers.
            let r = cell.shortResistanceOhm * exp(-(time - tf) / 5) * exp(-max(0, tSpot - 273.15 - cell.separatorFailureC) / 20)
            shortResistance = max(destroyed ? 0.01 : 0.1, min(shortResistance, r))
            rShort = shortResistance
        }
        var iExt = chargeEnded ? 0 : demand.currentA
        if iExt < 0 { rInt = rBase }
        let g = rShort.isFinite ? rInt / rShort : 0
        var v = (voc + iExt * rInt) / (1 + g)
        if v > demand.limitV {
            iExt = max(0, (demand.limitV * (1 + g) - voc) / rInt)
            v = (voc + iExt * rInt) / (1 + g)
        }
        if rShort.isFinite, v / rShort > iExt {
            // The cell discharges into the short: solve again with the discharge resistance.
            rInt = rBase
            let g2 = rInt / rShort
            v = (voc + iExt * rInt) / (1 + g2)
        }
        if v < 0 {
            // A discharge cannot pull the terminals below 0 V.
            iExt = -voc / rInt
            v = 0
        }
        let iShort = rShort.isFinite ? v / rShort : 0
        let iCell = iExt - iShort
        let fOx = iCell > 0 ? electro.oxidationFraction(soc: soc) : 0
        let storedW = iCell > 0 ? (1 - fOx) * iCell * voc : iCell * voc
        // Discharge into the short: the current crowds through the electrodes around the
        // short, so its Joule heat is released there, not over the whole face.
        let elecW = iCell > 0 ? iCell * iCell * rInt + fOx * iCell * voc : 0
        let shortW = (rShort.isFinite ? v * v / rShort : 0) + (iCell < 0 ? iCell * iCell * rInt : 0)
        // SOC is coulomb counting (charge passed, as labs report overcharge SOC);
        // the oxidised share heats instead of storing energy.
        soc += iCell * dt / (3600 * cell.capacityAh)
        if soc > 1, iCell > 0 { plating += (1 - fOx) * iCell * dt / (3600 * cell.capacityAh) }
        _ = storedW
        gas += fOx * max(0, iCell) / faradayConstant * GasModel.oxidationMolPerElectron
        current = iExt
        electricalHeatW = elecW
        shortHeatW = shortW
        gasRateMolPerS = gas
        gasTotalMol += gas * dt
        if !vented { gasMol += gas * dt }
        if cidOpenS == nil, let cid = cell.cidGasMol, gasTotalMol >= cid {
            // The CID opens: the jelly roll is cut off from the terminals from the next step on.
            cidOpenS = time + dt
            chargeEnded = true
        }

        // Venting.
        if !vented, gasMol >= cell.ventGasMol {
            vented = true
            truth.ventingS = time + dt
            let vol = cell.widthM * cell.heightM * cell.thicknessM
            var ejected = 0.0
            for k in 0..<n {
                let d = E[k] * GasModel.ventElectrolyteFraction
                E[k] -= d
                ejected += d
            }
            let massE = ejected / Double(n) * r.electrolyte.content * vol
            ventCoolingW = massE * GasModel.solventLatentHeat / GasModel.ventCoolingS
            ventCoolingUntil = time + GasModel.ventCoolingS
        }
        var glitch = 0.0
        if let tv = truth.ventingS, time + dt >= tv {
            // Tab/contact transient at venting: a 150 mV dip relaxing in 0.4 s.
            glitch = -0.15 * exp(-(time + dt - tv) / 0.4)
        }
        // After the CID opened the terminals read the supply: its compliance voltage while a
        // charge step is running (no current flows), 0 V otherwise.
        voltage = cidOpenS != nil ? (demand.currentA > 0 && demand.limitV.isFinite && supplyOffS == nil ? demand.limitV : 0) : max(0, v + glitch)

        // Sources (W/m^3) per grid cell.
        let volAll = vCell * Double(n)
        let elecQ = elecW / volAll, shortQ = shortW / volAll
        let coolQ = (time < ventCoolingUntil ? ventCoolingW : 0) / volAll
        weight.withUnsafeBufferPointer { W in shortWeight.withUnsafeBufferPointer { SW in
            for k in 0..<n { Q[k] += elecQ * W[k] + shortQ * SW[k] - coolQ }
        }}
        heat.convection = scenario.ambient.convection
        heat.step(dt: dt, sources: Q, ambientKelvin: scenario.ambient.temperature(at: time + dt) + 273.15)
        return dt
    }
}

extension Double {
    fileprivate var nonZero: Double { self == 0 ? 1 : self }
}
