import Foundation

/// Runaway precursors, physically grounded and latched: the cell has vented, or it heats
/// itself. Either is minutes ahead of thermal runaway in overcharge experiments (venting
/// 119-1,586 s and self-heating 174-1,509 s before onset on the held-out runs of issue 20;
/// safety venting precedes runaway in the overcharge tests of Ouyang et al. 2015 and Ren et
/// al. 2017, see docs/simulator-calibration.md), and neither undoes itself: a vented cell
/// has lost electrolyte and gas-tightness, a self-heating cell has started its abuse
/// reactions. So each, once established, stays on for the rest of the run (latched).
///
/// **Venting**, from three kinds of evidence, each judged per 1 s tick:
/// * acoustic: the AE hit rate, averaged over `aeWindowS`, at or above `aeHitsPerS` (the
///   vent's rupture impulse and the hiss of escaping gas; gas evolution alone gives an order
///   of magnitude fewer hits);
/// * thermal: the IR mean temperature falls by `irDipC` or more within `dipWindowS` while
///   the cell was heating or steady (expanding gas and evaporating electrolyte cool the
///   surface: the temperature dip at safety venting that overcharge and oven tests report);
/// * electrical: the terminal voltage steps by `voltageStepV` or more within `dipWindowS`
///   under a steady current (the current interrupt device of a cylindrical cell opening, or
///   the stack losing pressure), or the current falls to nothing although it was flowing.
/// Venting is declared when two different kinds of evidence fall within `coincidenceS` of
/// each other (one sensor's glitch never raises it); when only one kind is available (no AE
/// stream, say), that one must persist `singleHoldS`.
///
/// **Self-heating**, from the heat balance (`SelfHeatingDetector`): under a steady current
/// and a steady chamber a passive cell's heating rate only falls towards equilibrium; a rate
/// that instead climbs is heat from inside the cell.
///
/// Score: 1 once venting is established, 0.8 once self-heating is; before that, the largest
/// partial evidence scaled below 0.5 (no alarm).
public struct PrecursorDetector: OnlineDetector {
    public var name: String { "precursor" }
    public var aeHitsPerS = 50.0
    public var aeWindowS = 2.0
    public var irDipC = 0.5
    public var dipWindowS = 5.0
    public var voltageStepV = 0.05
    public var coincidenceS = 10.0
    public var singleHoldS = 5.0
    public var selfHeating = SelfHeatingDetector()

    /// When venting and self-heating were established (session seconds), nil until then.
    public private(set) var ventingS: Double?
    public private(set) var selfHeatingS: Double?

    var ae = AEBurstDetector(hitsPerS: 50, windowS: 2)
    var irHistory: [(t: Double, v: Double)] = []
    var vHistory: [(t: Double, v: Double, i: Double)] = []
    var lastEvidence: [Kind: Double] = [:]
    var firstEvidence: [Kind: Double] = [:]
    var available: Set<Kind> = []

    enum Kind: Hashable { case acoustic, thermal, electrical }

    public init() {}

    public var parameters: [String: Double] {
        var p: [String: Double] = [
            "ae_hits_per_s": aeHitsPerS, "ae_window_s": aeWindowS, "ir_dip_c": irDipC, "dip_window_s": dipWindowS,
            "voltage_step_v": voltageStepV, "coincidence_s": coincidenceS, "single_hold_s": singleHoldS,
        ]
        for (k, v) in selfHeating.parameters { p["self_heating_" + k] = v }
        return p
    }

    public mutating func step(t: Double, features f: [String: Double]) -> Double {
        ae.hitsPerS = aeHitsPerS
        ae.windowS = aeWindowS
        var partial = 0.0
        var now: Set<Kind> = []

        if let h = f["ae_hit_rate_hz"], h.isFinite {
            available.insert(.acoustic)
            let s = ae.step(t: t, features: f)
            partial = max(partial, min(0.49, s * 0.98))
            if s >= 0.5 { now.insert(.acoustic) }
        }
        if let m = f["ir_mean_c"], m.isFinite {
            available.insert(.thermal)
            irHistory.append((t, m))
            while let first = irHistory.first, first.t < t - dipWindowS { irHistory.removeFirst() }
            // The fall from the window's highest value, reached inside the window (the surface
            // was heating or steady, then dipped): a cell cooling since before the window (the
            // current switched off, the chamber cooled) has its highest value first.
            if let peak = irHistory.max(by: { $0.v < $1.v }), peak.t < t, peak.t > irHistory.first!.t {
                let dip = peak.v - m
                partial = max(partial, min(0.49, max(0, dip / irDipC) * 0.3))
                if dip >= irDipC { now.insert(.thermal) }
            }
        }
        if let v = f["voltage_v"], v.isFinite, let i = f["current_a"], i.isFinite {
            available.insert(.electrical)
            vHistory.append((t, v, i))
            while let first = vHistory.first, first.t < t - dipWindowS { vHistory.removeFirst() }
            if let first = vHistory.first, first.t < t {
                let steady = abs(i - first.i) <= max(0.02, 0.05 * abs(first.i))
                let step = abs(v - first.v)
                if steady {
                    partial = max(partial, min(0.49, step / voltageStepV * 0.3))
                    if step >= voltageStepV { now.insert(.electrical) }
                }
                // The current stopped on its own (an interrupt device opened) while the cell
                // was being charged or discharged.
                if abs(first.i) >= 0.05 && abs(i) < 0.02 * abs(first.i) { now.insert(.electrical) }
            }
        }
        for k in now {
            lastEvidence[k] = t
            if firstEvidence[k] == nil { firstEvidence[k] = t }
        }
        if ventingS == nil {
            let recent = lastEvidence.filter { t - $0.value <= coincidenceS }
            if recent.count >= 2 {
                ventingS = t
            } else if available.count == 1, let k = available.first, now.contains(k), let since = firstRun(k, t: t), t - since >= singleHoldS {
                ventingS = t
            }
        }
        let sh = selfHeating.step(t: t, features: f)
        if selfHeatingS == nil && sh >= 0.5 { selfHeatingS = t }
        partial = max(partial, min(0.49, sh))

        if ventingS != nil { return 1 }
        if selfHeatingS != nil { return 0.8 }
        return partial
    }

    /// Start of the current unbroken run of evidence of kind `k` (ticks at most 1.5 s apart).
    var runStart: [Kind: (start: Double, last: Double)] = [:]
    mutating func firstRun(_ k: Kind, t: Double) -> Double? {
        if let r = runStart[k], t - r.last <= 1.5 {
            runStart[k] = (r.start, t)
        } else {
            runStart[k] = (t, t)
        }
        return runStart[k]?.start
    }
}
