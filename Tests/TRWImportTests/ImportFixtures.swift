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

    /// The supply's current at session time t: a pulse pattern (rest, 1 A, 3 A pulses, rest)
    /// with step times drawn once from a fixed seed, so every window holds edges.
    static let steps: [(t: Double, i: Double)] = {
        var rng = SplitMix64(seed: 21)
        var out: [(Double, Double)] = [(-400, 0)]
        var t = -400.0
        let levels = [0.0, 1.0, 3.0, 0.5, 2.0]
        while t < 1700 {
            t += 8 + Double(rng.next() % 40)
            out.append((t, levels[Int(rng.next() % UInt64(levels.count))]))
        }
        return out
    }()

    static func current(_ t: Double) -> Double {
        var i = steps[0].i
        for s in steps where s.t <= t { i = s.i }
        return i
    }

    /// Cell voltage: a slow rise with charge plus the ohmic step (30 mOhm).
    static func voltage(_ t: Double) -> Double { 3.6 + 0.0004 * t + 0.03 * current(t) }

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
