#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Universal gas constant, J/(mol K).
public let gasConstant = 8.314462618
/// Faraday constant, C/mol.
public let faradayConstant = 96_485.332
/// Stefan-Boltzmann constant, W/(m^2 K^4).
public let stefanBoltzmann = 5.670374419e-8

/// One Arrhenius abuse reaction in the form of Hatchard et al. (2001) and
/// Kim, Pesaran & Spotnitz (2007): rate = A * exp(-Ea/(R T)) * f(x),
/// heat = H * W * rate.
public struct ArrheniusReaction: Sendable, Equatable, Codable {
    /// Frequency factor A, 1/s.
    public var frequencyFactor: Double
    /// Activation energy Ea, J/mol.
    public var activationEnergy: Double
    /// Reaction enthalpy H, J/kg (the papers give J/g; 257 J/g = 2.57e5 J/kg).
    public var enthalpy: Double
    /// Specific content W of the reactant in the jelly roll, kg/m^3.
    public var content: Double

    public init(frequencyFactor: Double, activationEnergy: Double, enthalpyJPerG: Double, content: Double) {
        self.frequencyFactor = frequencyFactor
        self.activationEnergy = activationEnergy
        self.enthalpy = enthalpyJPerG * 1000
        self.content = content
    }

    /// A * exp(-Ea/(R T)), 1/s.
    @inlinable public func rateConstant(kelvin: Double) -> Double {
        frequencyFactor * exp(-activationEnergy / (gasConstant * kelvin))
    }
}

/// The abuse-reaction set of a cell chemistry, with the initial states
/// (Kim et al. 2007, Table 1, after Hatchard et al. 2001).
public struct ReactionSet: Sendable, Equatable, Codable {
    /// SEI decomposition (m = 1). Kim 2007: A 1.667e15 1/s, Ea 1.3508e5 J/mol, H 257 J/g, W_c 610.4 kg/m3.
    public var sei: ArrheniusReaction
    /// Negative electrode - electrolyte, inhibited by the SEI thickness t_sei:
    /// rate = A exp(-t_sei/t_sei,ref) exp(-Ea/RT) c_ne. Kim 2007: 2.5e13, 1.3508e5, 1714 J/g, 610.4.
    public var negative: ArrheniusReaction
    /// Positive electrode - electrolyte, rate = A exp(-Ea/RT) alpha (1 - alpha).
    /// LCO (Kim 2007): 6.667e13, 1.396e5, 314 J/g, W_p 1221.
    public var positive: ArrheniusReaction
    /// Electrolyte decomposition, rate = A exp(-Ea/RT) c_e. Kim 2007: 5.14e25, 2.74e5, 155 J/g, W_e 406.9.
    public var electrolyte: ArrheniusReaction
    /// Initial dimensionless SEI content c_sei0 (0.15).
    public var cSEI0: Double
    /// Initial dimensionless negative-intercalated lithium c_ne0 (0.75).
    public var cNE0: Double
    /// Initial dimensionless SEI thickness t_sei0 (0.033), also the reference thickness.
    public var tSEI0: Double
    /// Initial conversion of the positive reaction alpha0 (0.04).
    public var alpha0: Double
    /// Initial electrolyte fraction c_e0 (1).
    public var cE0: Double
    /// A second cathode channel sharing the conversion alpha (Hu et al. 2020 NCM), or nil.
    public var positive2: ArrheniusReaction?
    /// The cathode channels are active only at or above this temperature, K (0: always).
    public var positiveMinK: Double = 0
    /// Over-delithiated cathode (charge taken from the cathode past 100 % SOC): oxygen release and
    /// its oxidation of the electrolyte, first order in the over-delithiated fraction c_od (0...1):
    /// rate = A exp(-Ea/RT) c_od, heat H W_p rate. Estimate (see `Chemistry.reactions`); its Ea equals
    /// the first cathode channel's so the solver shares one exponential. nil: the cathode releases no
    /// oxygen when over-delithiated (LFP: FePO4 is stable).
    public var overcharged: ArrheniusReaction? = nil
    /// Plated lithium reacting with the electrolyte (2 Li + EC -> Li2CO3 + C2H4), first order in the
    /// plated mass: rate = A exp(-Ea/RT) m_Li, heat H m_Li rate (H per g of lithium; `content` unused).
    /// Its Ea equals the SEI's so the solver shares one exponential.
    public var plated = ReactionSet.platedLithium

    public init(sei: ArrheniusReaction, negative: ArrheniusReaction, positive: ArrheniusReaction,
                electrolyte: ArrheniusReaction, cSEI0: Double, cNE0: Double, tSEI0: Double, alpha0: Double, cE0: Double) {
        self.sei = sei
        self.negative = negative
        self.positive = positive
        self.electrolyte = electrolyte
        self.cSEI0 = cSEI0
        self.cNE0 = cNE0
        self.tSEI0 = tSEI0
        self.alpha0 = alpha0
        self.cE0 = cE0
        positive2 = nil
    }

    /// Plated lithium + electrolyte. H = 292 kJ/mol Li = 4.2e4 J/g Li from standard formation
    /// enthalpies (2 Li + EC(l) -> Li2CO3 + C2H4: -1216 + 52 - (-580) kJ = -584 kJ per 2 mol Li);
    /// Ea = the SEI's 1.3508e5 J/mol (fresh lithium is covered by an SEI of the same chemistry);
    /// A = 1.6e16 1/s puts the ARC onset (0.02 degC/min) of a cell with 0.1-0.3 Ah plated per 40 g
    /// near 45-60 degC, as ARC tests of lithium-plated cells report self-heating from 30-50 degC
    /// (Friesen et al. 2016, J. Power Sources 334:1; Waldmann et al. 2018, J. Power Sources 384:107).
    /// Estimate, not a fitted value.
    public static let platedLithium = ArrheniusReaction(frequencyFactor: 1.6e16, activationEnergy: 1.3508e5, enthalpyJPerG: 4.2e4, content: 0)

    static let kimSEI = ArrheniusReaction(frequencyFactor: 1.667e15, activationEnergy: 1.3508e5, enthalpyJPerG: 257, content: 610.4)
    static let kimNE = ArrheniusReaction(frequencyFactor: 2.5e13, activationEnergy: 1.3508e5, enthalpyJPerG: 1714, content: 610.4)
    static let kimPE = ArrheniusReaction(frequencyFactor: 6.667e13, activationEnergy: 1.396e5, enthalpyJPerG: 314, content: 1221)
    static let kimE = ArrheniusReaction(frequencyFactor: 5.14e25, activationEnergy: 2.74e5, enthalpyJPerG: 155, content: 406.9)

    /// LiCoO2 / graphite, Kim et al. 2007 Table 1 (after Hatchard et al. 2001).
    public static let lco: ReactionSet = {
        var r = ReactionSet(sei: kimSEI, negative: kimNE, positive: kimPE, electrolyte: kimE,
                            cSEI0: 0.15, cNE0: 0.75, tSEI0: 0.033, alpha0: 0.04, cE0: 1)
        r.overcharged = ArrheniusReaction(frequencyFactor: overchargedLCOA, activationEnergy: kimPE.activationEnergy,
                                          enthalpyJPerG: overchargedH, content: 1221)
        return r
    }()

    /// Heat of the over-delithiated cathode's oxygen with the electrolyte, J/g of cathode. Estimate:
    /// Li(0.4->0) MO2 -> spinel/rock salt releases ~0.1-0.2 mol O2 per mol (96 g), burning electrolyte
    /// at ~400 kJ/mol O2: 400-800 J/g; the lower end is used (DSC of charged layered oxides with
    /// electrolyte reports several hundred J/g; the regular cathode channel adds its own heat).
    static let overchargedH = 400.0
    /// Frequency factors of the over-delithiated channel, with the first cathode channel's Ea. LCO:
    /// 1.6e16 1/s puts the channel's ARC onset (0.02 degC/min, fully over-delithiated) at ~60 degC,
    /// where Ohsaki et al. 2005 report the exothermic oxidation of the electrolyte by the overcharged
    /// cathode accelerating (calibration table `ohsaki2005_lco_650mah`). NCM: 1.0e11 1/s (rate
    /// ~3e-4 1/s near 140 degC; layered NCM releases oxygen later than LCO, e.g. Bak et al. 2014,
    /// ACS Appl. Mater. Interfaces 6:22594). Estimates.
    static let overchargedNCMA = 1.0e11
    static let overchargedLCOA = 1.6e16

    /// NCM / graphite after Hu et al. 2020 (ACS Omega, doi 10.1021/acsomega.0c01862): SEI,
    /// anode and electrolyte as Kim 2007; the NCM cathode as two parallel channels sharing
    /// one conversion alpha (alpha0 0.04, f = alpha(1 - alpha), W_p 1221 kg/m3), active at
    /// T >= 393.15 K: A 1.75e9 1/s, Ea 1.1495e5 J/mol, H 77 J/g and A 1.077e12 1/s,
    /// Ea 1.5888e5 J/mol, H 84 J/g. Values checked against public transcriptions of the
    /// paper (not the PDF); see docs/simulator.md.
    public static let ncm: ReactionSet = {
        var r = ReactionSet(
            sei: kimSEI, negative: kimNE,
            positive: ArrheniusReaction(frequencyFactor: 1.75e9, activationEnergy: 1.1495e5, enthalpyJPerG: 77, content: 1221),
            electrolyte: kimE, cSEI0: 0.15, cNE0: 0.75, tSEI0: 0.033, alpha0: 0.04, cE0: 1)
        r.positive2 = ArrheniusReaction(frequencyFactor: 1.077e12, activationEnergy: 1.5888e5, enthalpyJPerG: 84, content: 1221)
        r.positiveMinK = 393.15
        r.overcharged = ArrheniusReaction(frequencyFactor: overchargedNCMA, activationEnergy: 1.1495e5,
                                          enthalpyJPerG: overchargedH, content: 1221)
        return r
    }()

    /// LFP / graphite: SEI, anode and electrolyte as Kim 2007 with the graphite content scaled to an LFP
    /// cell's lower capacity per volume (W_c 0.7 x 610.4 kg/m3: LFP cells store ~60-70 % of an NCM
    /// cell's Ah per litre); the olivine cathode releases almost no oxygen: the cathode-electrolyte
    /// reaction is small (H 145 J/g) and slow (A 2.0e13 1/s, Ea 1.6e5 J/mol). Cathode values are
    /// estimates, checked only at the cell level against ARC of LFP cells (self-heating onset
    /// 80-100 degC, maximum 300-450 degC; see docs/simulator.md).
    public static let lfp = ReactionSet(
        sei: ArrheniusReaction(frequencyFactor: 1.667e15, activationEnergy: 1.3508e5, enthalpyJPerG: 257, content: 0.7 * 610.4),
        negative: ArrheniusReaction(frequencyFactor: 2.5e13, activationEnergy: 1.3508e5, enthalpyJPerG: 1714, content: 0.7 * 610.4),
        positive: ArrheniusReaction(frequencyFactor: 2.0e13, activationEnergy: 1.6e5, enthalpyJPerG: 145, content: 1221),
        electrolyte: kimE, cSEI0: 0.15, cNE0: 0.75, tSEI0: 0.033, alpha0: 0.04, cE0: 1)
}

/// Cell chemistries the simulator knows.
public enum Chemistry: String, Sendable, Codable, CaseIterable {
    case ncm = "NCM"
    case lco = "LCO"
    case lfp = "LFP"

    /// Abuse-reaction parameters of this chemistry.
    public var reactions: ReactionSet {
        switch self {
        case .ncm: .ncm
        case .lco: .lco
        case .lfp: .lfp
        }
    }

    /// Overcharge electrochemistry of this chemistry (lumped, cell level); see `Electrochemistry`.
    public var electrochemistry: Electrochemistry {
        switch self {
        // NCM/graphite: 3.0-4.2 V; ~0.65 C of lithium left in the cathode at 4.2 V (Li ~0.4 in
        // NCM111), graphite full ~20 % past 100 % (N/P ~1.1-1.2): plating from ~120 % SOC.
        case .ncm: Electrochemistry(shape: .layered, v0: 3.0, v100: 4.20, cathodeReserveSOC: 0.65, overchargeRiseV: 0.45,
                                    anodeHeadroomSOC: 0.20, oxidationV: 5.12)
        case .lco: Electrochemistry(shape: .layered, v0: 3.0, v100: 4.20, cathodeReserveSOC: 0.55, overchargeRiseV: 0.45,
                                    anodeHeadroomSOC: 0.20, oxidationV: 5.0)
        // LFP/graphite: flat ~3.3 V, 3.6 V at full charge; FePO4 holds no lithium past 100 %
        // (reserve 0.02): the voltage jumps straight to electrolyte oxidation; graphite never plates.
        case .lfp: Electrochemistry(shape: .olivine, v0: 2.8, v100: 3.60, cathodeReserveSOC: 0.02, overchargeRiseV: 0.6,
                                    anodeHeadroomSOC: 0.10, oxidationV: 5.0)
        }
    }
}

/// Lumped overcharge electrochemistry (cell level), after the mechanism of Ohsaki et al. 2005
/// (J. Power Sources 146:97) and Ren et al. 2017 (J. Power Sources 364:328):
///
/// * Charge stored past 100 % SOC empties the cathode of its remaining lithium (`cathodeReserveSOC`):
///   its potential climbs by `overchargeRiseV` and then steeply (log term) as it runs out.
/// * The same charge fills the graphite's headroom (`anodeHeadroomSOC`), then plates lithium.
/// * In parallel the cathode oxidises electrolyte: Tafel current `I_ref exp((E - E_ox)/b)` per Ah,
///   Arrhenius in temperature. As the cathode empties the current moves to oxidation, and the cell
///   voltage rises to a peak set by the oxidation kinetics; as the cell heats the same current needs
///   less overpotential and the voltage falls (the drop/plateau after the peak).
/// The terminal voltage is E + I R_ohm; `CellSimulation` adds separator shutdown and shorts.
public struct Electrochemistry: Sendable, Equatable, Codable {
    public enum Shape: String, Sendable, Codable { case layered, olivine }
    /// OCV curve shape up to 100 %: layered oxides rise steadily, olivine is flat.
    public var shape: Shape
    /// OCV at 0 % SOC, V.
    public var v0: Double
    /// OCV at 100 % SOC, V.
    public var v100: Double
    /// Lithium left in the cathode at 100 % SOC, as SOC (charge that can still be extracted).
    public var cathodeReserveSOC: Double
    /// Linear rise of the cathode potential over the reserve, V (plus the log term near its end).
    public var overchargeRiseV: Double
    /// Graphite capacity beyond the cell's nominal, as SOC: stored charge past 1 + this plates lithium.
    public var anodeHeadroomSOC: Double
    /// Electrolyte oxidation potential at which 1C of oxidation current flows at 25 degC, V.
    public var oxidationV: Double
    /// Tafel slope of the oxidation, V per e-fold (~140 mV/decade). Estimate.
    public var tafelV: Double = 0.06
    /// Activation energy of the oxidation rate, J/mol. Estimate.
    public var oxidationEa: Double = 40_000
    /// Log-term scale of the cathode potential near the end of its reserve, V.
    public var depletionV: Double = 0.08
    /// Charge-transfer resistance of (de)intercalation, ohm x Ah.
    public var chargeTransferOhmAh: Double = 0.02

    public init(shape: Shape, v0: Double, v100: Double, cathodeReserveSOC: Double, overchargeRiseV: Double,
                anodeHeadroomSOC: Double, oxidationV: Double) {
        self.shape = shape
        self.v0 = v0
        self.v100 = v100
        self.cathodeReserveSOC = cathodeReserveSOC
        self.overchargeRiseV = overchargeRiseV
        self.anodeHeadroomSOC = anodeHeadroomSOC
        self.oxidationV = oxidationV
    }

    /// Open-circuit (equilibrium) voltage at stored charge `x` (fraction of nominal; may exceed 1
    /// up to the cathode reserve).
    public func ocv(stored x: Double) -> Double {
        if x <= 1 {
            let s = max(0, x)
            switch shape {
            case .layered:
                // Smooth monotone curve: steep knee at low SOC, near-linear middle.
                return v0 + (v100 - v0) * (0.12 * (1 - exp(-s / 0.03)) + 0.88 * s)
            case .olivine:
                // Knee to ~3.2 V, flat 3.25-3.35 V plateau, end-of-charge knee to v100.
                let flat = 3.22 + 0.12 * s
                return flat - (flat - v0) * exp(-s / 0.03) + (v100 - 3.34) * exp((s - 1) / 0.025)
            }
        }
        // Past the reserve the cathode has no lithium left: the potential is capped (log term at
        // 1e-6 of the reserve, ~1.1 V above the linear rise), so no more charge can be stored.
        let d = min((x - 1) / cathodeReserveSOC, 1 - 1e-6)
        return v100 + overchargeRiseV * d - depletionV * log(1 - d)
    }

    /// Electrolyte-oxidation current at interface potential `e`, A, for a cell of `capacityAh` at `kelvin`.
    @inlinable public func oxidationCurrent(e: Double, kelvin: Double, capacityAh: Double) -> Double {
        capacityAh * exp((e - oxidationV) / tafelV + oxidationEa / gasConstant * (1 / 298.15 - 1 / kelvin))
    }
}
