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

    static let kimSEI = ArrheniusReaction(frequencyFactor: 1.667e15, activationEnergy: 1.3508e5, enthalpyJPerG: 257, content: 610.4)
    static let kimNE = ArrheniusReaction(frequencyFactor: 2.5e13, activationEnergy: 1.3508e5, enthalpyJPerG: 1714, content: 610.4)
    static let kimPE = ArrheniusReaction(frequencyFactor: 6.667e13, activationEnergy: 1.396e5, enthalpyJPerG: 314, content: 1221)
    static let kimE = ArrheniusReaction(frequencyFactor: 5.14e25, activationEnergy: 2.74e5, enthalpyJPerG: 155, content: 406.9)

    /// LiCoO2 / graphite, Kim et al. 2007 Table 1 (after Hatchard et al. 2001).
    public static let lco = ReactionSet(sei: kimSEI, negative: kimNE, positive: kimPE, electrolyte: kimE,
                                        cSEI0: 0.15, cNE0: 0.75, tSEI0: 0.033, alpha0: 0.04, cE0: 1)

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
        return r
    }()

    /// LFP-like / graphite: anode and electrolyte as Kim 2007; olivine cathode is far more
    /// stable (little oxygen release). Estimate, not from a verified source:
    /// A 2.0e13 1/s, Ea 1.6e5 J/mol, H 145 J/g.
    public static let lfp = ReactionSet(
        sei: kimSEI, negative: kimNE,
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

    /// Overcharge electrochemistry of this chemistry (lumped, cell level).
    public var electrochemistry: Electrochemistry {
        switch self {
        // NCM: 3.0-4.2 V window; overcharge curve rises to a ~5.1 V plateau
        // (electrolyte oxidation; e.g. Ohsaki et al. 2005, J. Power Sources 146:97;
        // Ren et al. 2017 J. Power Sources 364:328 report 5.0-5.4 V before runaway).
        case .ncm: Electrochemistry(v0: 3.0, v100: 4.20, plateauV: 5.10, plateauScaleSOC: 0.10,
                                    oxidationOnsetSOC: 1.25, oxidationWidthSOC: 0.05,
                                    delithiationSOC: 1.55, delithiationOhmPerSOC: 25)
        case .lco: Electrochemistry(v0: 3.0, v100: 4.20, plateauV: 5.00, plateauScaleSOC: 0.08,
                                    oxidationOnsetSOC: 1.20, oxidationWidthSOC: 0.05,
                                    delithiationSOC: 1.45, delithiationOhmPerSOC: 25)
        // LFP: flat 3.3 V curve, 3.6 V at full charge, sharp rise to ~4.9 V on overcharge.
        case .lfp: Electrochemistry(v0: 2.8, v100: 3.60, plateauV: 4.90, plateauScaleSOC: 0.04,
                                    oxidationOnsetSOC: 1.15, oxidationWidthSOC: 0.05,
                                    delithiationSOC: 1.10, delithiationOhmPerSOC: 25)
        }
    }
}

/// Lumped overcharge electrochemistry: OCV beyond 100 % SOC, the share of
/// current going into electrolyte oxidation instead of storage.
public struct Electrochemistry: Sendable, Equatable, Codable {
    /// OCV at 0 % SOC, V.
    public var v0: Double
    /// OCV at 100 % SOC, V.
    public var v100: Double
    /// Plateau approached past 100 % SOC, V.
    public var plateauV: Double
    /// SOC scale of the approach to the plateau.
    public var plateauScaleSOC: Double
    /// SOC at which half of the current oxidises electrolyte.
    public var oxidationOnsetSOC: Double
    /// Width of the oxidation onset (logistic), SOC.
    public var oxidationWidthSOC: Double
    /// Charge passed (as SOC) at which the cathode is depleted of lithium
    /// (Ohsaki et al. 2005: the voltage rises steeply, then runaway follows).
    public var delithiationSOC: Double
    /// Growth of the polarisation resistance past `delithiationSOC`, ohm per unit SOC
    /// for a 1 Ah cell (scaled by 1/capacity).
    public var delithiationOhmPerSOC: Double

    /// Extra polarisation resistance of a depleted cathode at `soc`, ohm, for a cell of `capacityAh`.
    /// Smooth ramp (softplus, width 0.02 SOC) starting at `delithiationSOC`.
    public func delithiationResistance(soc: Double, capacityAh: Double) -> Double {
        let w = 0.02
        let x = (soc - delithiationSOC) / w
        let sp = x > 30 ? x : log1p(exp(x))
        return delithiationOhmPerSOC * w * sp / capacityAh
    }

    /// Open-circuit voltage at state of charge `soc` (fraction; may exceed 1).
    public func ocv(soc: Double) -> Double {
        if soc <= 1 {
            let s = max(0, soc)
            // Smooth monotone curve: steep knee at low SOC, near-linear middle.
            return v0 + (v100 - v0) * (0.12 * (1 - exp(-s / 0.03)) + 0.88 * s)
        }
        return v100 + (plateauV - v100) * (1 - exp(-(soc - 1) / plateauScaleSOC))
    }

    /// Fraction of the charging current consumed by electrolyte oxidation (logistic in SOC).
    public func oxidationFraction(soc: Double) -> Double {
        1 / (1 + exp(-(soc - oxidationOnsetSOC) / oxidationWidthSOC))
    }
}
