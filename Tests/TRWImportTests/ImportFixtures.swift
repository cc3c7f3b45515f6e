import Foundation
import TRWCore
import TRWStore
import TRWSync
import TRWTestSupport

/// A simulated session with a power supply stream (2 Hz voltage and current under a pulsed
/// charge), and cycler files that saw the same cell on their own clock.
enum ImportFixture {
    static let startMonotonicNs: Int64 = 5_000_000_000_000
    /// 2026-03-01T10:00:00Z
    static let startUnixS: Double = 1_772_359_200
    static let sessionSpanS = 1200.0

    /// The current at session time t: a pulse pattern (rest, 0.5 to 3 A) whose step times are
    /// drawn once from a fixed seed at arbitrary (not whole-second) times, as a cycler's
    /// schedule is unrelated to the supply's sampling.
    static let steps: [(t: Double, i: Double)] = {
        var rng = SplitMix64(seed: 21)
        var out: [(Double, Double)] = [(-400, 0)]
        var t = -400.0
        let levels = [0.0, 1.0, 3.0, 0.5, 2.0]
        while t < 1700 {
            t += 8 + Double(rng.next() % 40_000) / 1000
            out.append((t, levels[Int(rng.next() % UInt64(levels.count))]))
        }
        return out
    }()

    static func stepIndex(_ t: Double) -> Int {
        var lo = 0, hi = steps.count - 1
        while lo < hi { let m = (lo + hi + 1) / 2; if steps[m].t <= t { lo = m } else { hi = m - 1 } }
        return lo
    }

    /// The supply changes current at a programmed slew rate: each step is a 2 s ramp.
    static let slewS = 2.0

    static func current(_ t: Double) -> Double {
        let k = stepIndex(t)
        guard k > 0 else { return steps[0].i }
        let f = min(1, (t - steps[k].t) / slewS)
        return steps[k - 1].i + (steps[k].i - steps[k - 1].i) * f
    }

    /// Cell model: open-circuit voltage rising with charge, 15 mOhm ohmic, and a 30 mOhm / 15 s
    /// RC branch (the polarisation that relaxes after each step), integrated once on a 10 ms grid.
    static let r0 = 0.015, r1 = 0.03, tau = 15.0
    static let gridStart = -400.0, gridStep = 0.01
    static let rcTable: [Double] = {
        let n = Int((1750 - gridStart) / gridStep) + 2
        var v = [Double](repeating: 0, count: n)
        let decay = exp(-gridStep / tau)
        for j in 1..<n {
            let target = r1 * current(gridStart + (Double(j) - 0.5) * gridStep)
            v[j] = target + (v[j - 1] - target) * decay
        }
        return v
    }()

    static func voltage(_ t: Double) -> Double {
        let x = (t - gridStart) / gridStep
        let j = max(0, min(rcTable.count - 2, Int(x.rounded(.down))))
        let f = x - Double(j)
        let rc = rcTable[j] + (rcTable[j + 1] - rcTable[j]) * f
        return 3.6 + 0.0004 * t + r0 * current(t) + rc
    }

    /// Deterministic noise, +-amplitude.
    static func noise(_ rng: inout SplitMix64, _ amplitude: Double) -> Double {
        (Double(rng.next() % 10_000) / 10_000 - 0.5) * 2 * amplitude
    }

    /// Writes the session: one supply stream (role supply) at 2 Hz over 0 ... 1200 s.
    static func session(at path: String) throws {
        let w = try SessionWriter(
            creating: path,
            session: NewSession(name: "import-fixture", rigName: "test",
                                clock: SessionClock(startMonotonicNs: startMonotonicNs, startRealtimeNs: Int64(startUnixS * 1e9))),
            softwareVersion: "test")
        let id = try w.addStream(StreamDescriptor(key: "supply0", kind: .bms, device: "/dev/ttyUSB0", format: "scpi", nominalRateHz: 2,
                                                  units: ["voltage": "V", "current": "A"], role: .supply))
        var rng = SplitMix64(seed: 7)
        var batch = WriteBatch()
        var t = 0.0
        while t <= sessionSpanS {
            let tNs = Int64((t * 1e9).rounded())
            let s = BMSSample(hostArrivalNs: startMonotonicNs + tNs, voltageV: voltage(t) + noise(&rng, 0.0005),
                              currentA: current(t) + noise(&rng, 0.002), raw: "MEAS")
            batch.bms.append(BMSSampleRecord(streamId: id, sample: s, tNs: tNs))
            t += 0.5
        }
        try w.write(batch)
        try w.setClockModel(streamId: id, method: "online", modelJSON: try ClockModel.identity.jsonText())
        try w.finalize(status: .complete, endTNs: Int64(sessionSpanS * 1e9))
    }

    /// A cycler's BDF CSV at 1 Hz of its own clock, over session times `from` ... `to`:
    /// session t = offsetS + (1 + rateError) * file t. Its voltage has another gain and offset
    /// (its own leads) and 1 mV noise. `unixErrorS`: its timestamps' error against the session's clock.
    static func cyclerBDF(offsetS: Double, rateError: Double, from: Double = -200, to: Double = 1400,
                          unixErrorS: Double? = nil, temperature: Bool = true) -> String {
        var rng = SplitMix64(seed: 99)
        var lines = ["Test Time / s," + (unixErrorS != nil ? "Unix Time / s," : "") + "Voltage / V,Current / A,Cumulative Capacity / Ah"
                     + (temperature ? ",Surface Temperature / degC" : "") + ",Step Index / 1"]
        let f0 = (from - offsetS) / (1 + rateError), f1 = (to - offsetS) / (1 + rateError)
        var tf = max(0, f0.rounded(.up))
        var capacity = 0.0
        while tf <= f1 {
            let ts = offsetS + (1 + rateError) * tf
            capacity += current(ts) / 3600
            var cols = [String(tf)]
            if let e = unixErrorS { cols.append(String(format: "%.3f", startUnixS + ts + e)) }
            cols.append(String(format: "%.5f", 0.998 * voltage(ts) + 0.012 + noise(&rng, 0.001)))
            cols.append(String(format: "%.4f", current(ts) + noise(&rng, 0.003)))
            cols.append(String(format: "%.6f", capacity))
            if temperature { cols.append(String(format: "%.2f", 25 + 0.005 * ts)) }
            cols.append("1")
            lines.append(cols.joined(separator: ","))
            tf += 1
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
