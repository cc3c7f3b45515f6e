/// Test protocols as a sequence of supply steps, and chamber temperature profiles.
///
/// A scenario's `[protocol]` holds the start SOC and a list of `[[protocol.step]]`
/// tables; the steps run in order, each until its end condition, and after the
/// last one the cell rests at open circuit. The supply is one bipolar source
/// with a compliance voltage: while charging it holds the set current as long
/// as the terminal voltage stays below the limit ("raise the voltage to hold
/// the current", the abuse-test protocol), at the limit it holds the voltage
/// (the CV phase of a normal CC-CV charge, or a supply that runs out of
/// compliance during overcharge).

/// What a protocol step does.
public enum ProtocolStepKind: String, Sendable, Codable, CaseIterable {
    /// Constant-current charge beyond full (abuse): the supply raises its voltage to hold
    /// the current up to `supply_limit_v`, then holds that voltage.
    case ccOvercharge = "cc_overcharge"
    /// Normal charge: constant current to `v_max`, then constant voltage until the
    /// current falls to `taper_c`.
    case ccCV = "cc_cv"
    /// Constant-current discharge (an electronic load) to `until_v` (default: the
    /// chemistry's cut-off) or `until_soc`.
    case discharge
    /// Open circuit (a rest, or the pause of a stop-and-resume test) for `duration_s`.
    case rest
}

/// One step of a test protocol. Ends at the first of its end conditions; a step
/// with none runs until the run ends.
public struct ProtocolStep: Sendable, Equatable, Codable {
    public var kind: ProtocolStepKind
    /// Current magnitude as a C-rate (charge steps charge, discharge discharges).
    public var cRate: Double
    /// Supply compliance voltage while charging, V (cc_overcharge: `supply_limit_v`;
    /// cc_cv: `v_max`, the CV voltage).
    public var limitV: Double
    /// cc_cv: end when the current in the CV phase falls to this C-rate.
    public var taperC: Double?
    /// End when the SOC reaches this fraction (charge: at or above; discharge: at or below).
    public var untilSOC: Double?
    /// End when the terminal voltage reaches this value, V (charge: at or above; discharge: at or below).
    public var untilV: Double?
    /// End after this long, s.
    public var durationS: Double?

    public init(kind: ProtocolStepKind, cRate: Double = 0, limitV: Double = 12, taperC: Double? = nil,
                untilSOC: Double? = nil, untilV: Double? = nil, durationS: Double? = nil) {
        self.kind = kind
        self.cRate = cRate
        self.limitV = limitV
        self.taperC = taperC
        self.untilSOC = untilSOC
        self.untilV = untilV
        self.durationS = durationS
    }

    /// A cc_overcharge step (the abuse protocol).
    public static func ccOvercharge(cRate: Double, supplyLimitV: Double = 12, untilSOC: Double? = nil,
                                    untilV: Double? = nil, durationS: Double? = nil) -> ProtocolStep {
        ProtocolStep(kind: .ccOvercharge, cRate: cRate, limitV: supplyLimitV, untilSOC: untilSOC, untilV: untilV, durationS: durationS)
    }
    /// A normal CC-CV charge to `vMax`, ending at `taperC`.
    public static func ccCV(cRate: Double, vMax: Double, taperC: Double = 0.05, durationS: Double? = nil) -> ProtocolStep {
        ProtocolStep(kind: .ccCV, cRate: cRate, limitV: vMax, taperC: taperC, durationS: durationS)
    }
    /// A constant-current discharge.
    public static func discharge(cRate: Double, untilV: Double? = nil, untilSOC: Double? = nil, durationS: Double? = nil) -> ProtocolStep {
        ProtocolStep(kind: .discharge, cRate: cRate, limitV: 0, untilSOC: untilSOC, untilV: untilV, durationS: durationS)
    }
    /// An open-circuit rest.
    public static func rest(durationS: Double?) -> ProtocolStep {
        ProtocolStep(kind: .rest, limitV: 0, durationS: durationS)
    }

    /// One line for the session's protocol text.
    public var summary: String {
        func pct(_ x: Double) -> String { "\(Int((x * 100).rounded())) %" }
        var s: String
        switch kind {
        case .ccOvercharge: s = "overcharge \(cRate)C CC, supply limit \(limitV) V"
        case .ccCV: s = "CC-CV charge \(cRate)C to \(limitV) V, taper \(taperC ?? 0.05)C"
        case .discharge: s = "discharge \(cRate)C"
        case .rest: s = "rest"
        }
        if let untilSOC { s += " until \(pct(untilSOC)) SOC" }
        if let untilV { s += " until \(untilV) V" }
        if let durationS { s += " for \(Int(durationS)) s" }
        return s
    }
}

/// What the supply does: the start SOC and the steps.
public struct ProtocolSpec: Sendable, Equatable, Codable {
    /// State of charge at start (fraction; 1 = 100 %).
    public var startSOC: Double
    /// The steps, run in order; after the last the cell rests at open circuit.
    public var steps: [ProtocolStep]

    public init(startSOC: Double = 1.0, steps: [ProtocolStep]) {
        self.startSOC = startSOC
        self.steps = steps
    }

    /// The single-step form of scenario files before protocol steps (`[protocol] c_rate,
    /// start_soc, stop_soc, stop_after_s, supply_limit_v`), exactly as it was simulated:
    /// one cc_overcharge step ending at `stopSOC` or after `stopAfterS` (the step starts at
    /// t = 0, so its duration is the old absolute stop time), then open circuit. A C-rate of
    /// 0 (oven / ambient tests) is no step at all.
    public init(cRate: Double = 0.5, startSOC: Double = 1.0, stopSOC: Double? = nil, stopAfterS: Double? = nil,
                supplyLimitV: Double = 12) {
        self.startSOC = startSOC
        steps = cRate > 0 ? [.ccOvercharge(cRate: cRate, supplyLimitV: supplyLimitV, untilSOC: stopSOC, durationS: stopAfterS)] : []
    }

    /// The C-rate of the first CC overcharge step (0 without one). Setting it sets every CC
    /// overcharge step's rate (calibration sweeps over one-step overcharges).
    public var cRate: Double {
        get { steps.first { $0.kind == .ccOvercharge }?.cRate ?? 0 }
        set { for i in steps.indices where steps[i].kind == .ccOvercharge { steps[i].cRate = newValue } }
    }

    /// The highest compliance voltage of any charging step (nil without one).
    public var supplyLimitV: Double? {
        steps.filter { $0.cRate > 0 && $0.kind != .discharge && $0.kind != .rest }.map(\.limitV).max()
    }

    /// Text for the session's protocol field. The one-step overcharge keeps the wording
    /// sessions recorded before protocol steps carry.
    public var summary: String {
        if steps.isEmpty { return "no current (thermal abuse)" }
        let start = "\(Int((startSOC * 100).rounded())) % SOC"
        if steps.count == 1, let p = steps.first, p.kind == .ccOvercharge, p.untilV == nil {
            var s = "overcharge \(p.cRate)C CC from \(start), supply limit \(p.limitV) V"
            if let stopSOC = p.untilSOC { s += ", stop at \(Int((stopSOC * 100).rounded())) % SOC" }
            if let stopAfterS = p.durationS { s += ", stop after \(Int(stopAfterS)) s" }
            return s
        }
        return "from \(start): " + steps.enumerated().map { "\($0.offset + 1). \($0.element.summary)" }.joined(separator: "; ")
    }
}

/// The supply's set point for the next physics step.
public struct SupplyDemand: Sendable, Equatable {
    /// Set current, A (positive charges the cell, negative discharges it, 0 = open circuit).
    public var currentA: Double
    /// Compliance voltage, V: while charging the supply never drives the terminals above it.
    public var limitV: Double
    /// Index of the running step (nil: no step, the cell is at open circuit).
    public var step: Int?

    public static let open = SupplyDemand(currentA: 0, limitV: .infinity, step: nil)
}

/// Runs a `ProtocolSpec` over time: which step is active, when it ends, and the
/// supply's set point. The physics asks it once per step for the demand, handing
/// back the state the last step ended in. Deterministic; holds no clock of its own.
public struct ProtocolRunner: Sendable {
    public let spec: ProtocolSpec
    public let capacityAh: Double
    public let chemistry: Chemistry
    /// Index of the running step; `spec.steps.count` once all are done.
    public private(set) var index = 0
    /// When the running step started, s.
    public private(set) var stepStartS = 0.0
    /// (step index, start s, end s) of every step that has ended.
    public private(set) var finished: [(index: Int, startS: Double, endS: Double)] = []
    private var stepCalls = 0

    public init(spec: ProtocolSpec, capacityAh: Double, chemistry: Chemistry) {
        self.spec = spec
        self.capacityAh = capacityAh
        self.chemistry = chemistry
    }

    /// Whether every step has ended (the cell is at open circuit for good).
    public var done: Bool { index >= spec.steps.count }

    /// Default discharge cut-off of a chemistry, V (cell makers' lower limits).
    public static func cutoffV(_ c: Chemistry) -> Double { c == .lfp ? 2.5 : 2.75 }

    /// Whether step `s`, running since `stepStartS`, has ended at `time` given the state the
    /// cell is in (SOC, terminal voltage and supply current of the last physics step).
    func ended(_ s: ProtocolStep, time: Double, soc: Double, voltage: Double, currentA: Double) -> Bool {
        if let d = s.durationS, time - stepStartS >= d { return true }
        switch s.kind {
        case .ccOvercharge:
            if let u = s.untilSOC, soc >= u { return true }
            if let u = s.untilV, stepCalls > 0, voltage >= u { return true }
        case .ccCV:
            if let u = s.untilSOC, soc >= u { return true }
            if let u = s.untilV, stepCalls > 0, voltage >= u { return true }
            // CV phase: the supply is at its limit and the current has tapered.
            if stepCalls > 0, voltage >= s.limitV - 1e-6, currentA <= (s.taperC ?? 0.05) * capacityAh { return true }
        case .discharge:
            if soc <= 0 { return true }
            if let u = s.untilSOC, soc <= u { return true }
            if stepCalls > 0, voltage <= (s.untilV ?? Self.cutoffV(chemistry)) { return true }
        case .rest:
            break
        }
        return false
    }

    /// The supply's set point from `time` on. Advances past every step that has ended.
    public mutating func demand(time: Double, soc: Double, voltage: Double, currentA: Double) -> SupplyDemand {
        while index < spec.steps.count, ended(spec.steps[index], time: time, soc: soc, voltage: voltage, currentA: currentA) {
            finished.append((index, stepStartS, time))
            index += 1
            stepStartS = time
            stepCalls = 0
        }
        guard index < spec.steps.count else { return .open }
        stepCalls += 1
        let s = spec.steps[index]
        switch s.kind {
        case .ccOvercharge, .ccCV: return SupplyDemand(currentA: s.cRate * capacityAh, limitV: s.limitV, step: index)
        case .discharge: return SupplyDemand(currentA: -s.cRate * capacityAh, limitV: .infinity, step: index)
        case .rest: return SupplyDemand(currentA: 0, limitV: .infinity, step: index)
        }
    }
}

/// One segment of a chamber temperature profile: from `atS` on, the chamber moves
/// towards `toC` at `rateCPerMin` (0 = a step change) and then holds it.
public struct AmbientSegment: Sendable, Equatable, Codable {
    public var atS: Double
    public var toC: Double
    public var rateCPerMin: Double
    public init(atS: Double, toC: Double, rateCPerMin: Double = 0) {
        self.atS = atS
        self.toC = toC
        self.rateCPerMin = rateCPerMin
    }

    /// Chamber temperature at `t` (> `atS`) for a segment that starts from `startC`.
    func value(startC: Double, at t: Double) -> Double {
        if rateCPerMin <= 0 { return toC }
        let moved = rateCPerMin / 60 * (t - atS)
        return toC >= startC ? min(toC, startC + moved) : max(toC, startC - moved)
    }
}

/// The chamber around the cell.
public struct AmbientSpec: Sendable, Equatable, Codable {
    /// Chamber temperature at start, degC.
    public var temperatureC: Double
    /// Convection coefficient h on each face, W/(m^2 K) (5-15 in still air).
    public var convection: Double
    /// Temperature profile: segments in order of start time (empty = constant).
    public var profile: [AmbientSegment]

    public init(temperatureC: Double = 25, convection: Double = 10, profile: [AmbientSegment] = []) {
        self.temperatureC = temperatureC
        self.convection = convection
        self.profile = profile
    }

    /// The single-ramp form of scenario files before profiles (`ramp_to_c`, `ramp_c_per_min`,
    /// `ramp_start_s`): one segment.
    public init(temperatureC: Double = 25, convection: Double = 10, rampToC: Double?, rampCPerMin: Double = 0, rampStartS: Double = 0) {
        self.init(temperatureC: temperatureC, convection: convection,
                  profile: rampToC.map { [AmbientSegment(atS: rampStartS, toC: $0, rateCPerMin: rampCPerMin)] } ?? [])
    }

    /// Chamber temperature at time `t` seconds, degC. Each segment starts from the
    /// temperature the chamber has when it begins.
    public func temperature(at t: Double) -> Double {
        var value = temperatureC
        var start = temperatureC
        for (k, seg) in profile.enumerated() {
            guard t > seg.atS else { break }
            if k > 0 { start = profile[k - 1].value(startC: start, at: seg.atS) }
            value = seg.value(startC: start, at: t)
        }
        return value
    }
}
