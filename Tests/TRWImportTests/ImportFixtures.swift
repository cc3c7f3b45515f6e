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

/// Synthetic Maccor text exports of the fixture cell (the same voltage and current as
/// `cyclerBDF`), in the layouts MacTest/MIMS writes (docs/import.md, "Maccor"). They are
/// written here, not taken from a cycler: each follows the column names, units, banner and
/// number formatting of published exports (beep's and battdat's `.001` test files for the
/// one-line banner; cellpy's `maccor_001.txt` for MIMS Client 2; cellpy's S4000 / KIT
/// configuration for the bracketed-unit columns), with values from the fixture cell model.
extension ImportFixture {
    enum MaccorLayout {
        /// One banner line; `Test (Min)`, `Step (Min)`, `Amps` in A, `DPt Time` a time of day.
        case mims
        /// Three banner lines (MIMS Client 2); `TestTime`/`StepTime` as `0d 00:01:30.88`,
        /// `DPt Time` with its date, Aux columns with a Units column, a trailing tab.
        case mimsClient2
        /// Comma-separated, units in brackets: `TestTime [s]`, `Current [mA]`, `Voltage [V]`, `Md`.
        case csv
    }

    /// The cycler PC's zone: CET (UTC+1), so its wall times are the session's UTC + 1 h.
    static let maccorUTCOffsetHours = 1.0

    /// A Maccor export at 1 Hz of the cycler's clock over session times `from` ... `to` (session
    /// t = offsetS + (1 + rateError) * file t); its wall clock (DPt Time) is `wallErrorS` fast.
    static func maccorText(_ layout: MaccorLayout, offsetS: Double, rateError: Double, from: Double = -200, to: Double = 1400,
                           wallErrorS: Double = 0) -> String {
        var rng = SplitMix64(seed: 99)
        let f0 = (from - offsetS) / (1 + rateError), f1 = (to - offsetS) / (1 + rateError)
        var tf = max(0, f0.rounded(.up))
        let firstTf = tf
        var capacity = 0.0, energy = 0.0
        var lines: [String] = []
        // Naive local wall time (CET) of a session time.
        func wall(_ ts: Double) -> Double { startUnixS + ts + wallErrorS + maccorUTCOffsetHours * 3600 }
        func civil(_ s: Double) -> (date: String, time: String) {
            let d = Date(timeIntervalSince1970: s.rounded(.down))
            var cal = Calendar(identifier: .gregorian)
            cal.timeZone = TimeZone(identifier: "UTC")!
            let c = cal.dateComponents([.year, .month, .day, .hour, .minute, .second], from: d)
            return (String(format: "%02ld/%02ld/%04ld", c.month!, c.day!, c.year!), String(format: "%02ld:%02ld:%02ld", c.hour!, c.minute!, c.second!))
        }
        let testStart = civil(wall(offsetS + (1 + rateError) * firstTf))
        switch layout {
        case .mims:
            lines.append("Today's Date 03/02/2026  Date of Test:\t\(testStart.date)\t Filename:\tC:\\Data\\MIMS\\Backup\\TRW #1\\OC-0.5C-cell07.001 "
                         + "Procedure: OC-0.5C.000Overcharge at 0.5C\tComment/Barcode: synthetic fixture (trw tests)")
            lines.append("Rec#\tCyc#\tStep\tTest (Min)\tStep (Min)\tAmp-hr\tWatt-hr\tAmps\tVolts\tState\tES\tDPt Time")
        case .mimsClient2:
            lines.append("Today's Date:\t2 March 2026\tDate of Test:\t1 March 2026, 11:00:00 AM")
            lines.append("Filename:\tOC-0.5C-cell07\tTester Channel:\t7")
            lines.append("Procedure:\tOC-0.5C.000\tDescription:\tsynthetic fixture (trw tests)")
            lines.append("Rec#\tCyc#\tStep\tTestTime\tStepTime\tAmp-hr\tWatt-hr\tAmps\tVolts\tState\tES\tDPt Time\tACImp/Ohms\tDCIR/Ohms\tAux #1\t Units\tAux #2\t Units\tVAR1\t")
        case .csv:
            lines.append("Rec,Cycle P,Cycle C,Step,TestTime [s],StepTime [s],Cap. [Ah],Ener. [Wh],Current [mA],Voltage [V],Md,ES,DPT Time")
        }
        var rec = 0
        var step = 0, lastLevel = -1.0, stepStart = tf
        while tf <= f1 {
            rec += 1
            let ts = offsetS + (1 + rateError) * tf
            let i = current(ts) + noise(&rng, 0.003)
            let v = 0.998 * voltage(ts) + 0.012 + noise(&rng, 0.001)
            let level = steps[stepIndex(ts)].i
            if level != lastLevel { step += 1; lastLevel = level; stepStart = tf; capacity = 0; energy = 0 }
            capacity += abs(i) / 3600
            energy += abs(i) * v / 3600
            let state = level == 0 ? "R" : "C"
            let amps = level == 0 ? 0 : abs(i)
            let w = civil(wall(ts))
            let es = tf == stepStart ? 0 : 5
            switch layout {
            case .mims:
                lines.append(String(format: "%ld\t0\t%ld\t%.4f\t%.4f\t%.10f\t%.10f\t%.10f\t%.8f\t%@\t%ld\t%@", rec, step, tf / 60, (tf - stepStart) / 60,
                                    capacity, energy, amps, v, state, es, w.time))
            case .mimsClient2:
                func dur(_ s: Double) -> String {
                    let d = Int(s / 86_400), h = Int(s.truncatingRemainder(dividingBy: 86_400) / 3600)
                    let m = Int(s.truncatingRemainder(dividingBy: 3600) / 60), sec = s.truncatingRemainder(dividingBy: 60)
                    return String(format: "  %ldd %02ld:%02ld:%@", d, h, m, sec == sec.rounded() ? String(Int(sec)) : String(sec))
                }
                lines.append(String(format: "%ld\t0\t%ld\t%@\t%@\t%.5f\t%.5f\t%.5f\t%.5f\t%@\t%ld\t%@ %@\t0.00000\t0.00000\t%.5f\t C  \t-2501.71411\t C  \t0.00000\t",
                                    rec, step, dur(tf), dur(tf - stepStart), capacity, energy, amps, v, state, es, w.date, w.time,
                                    25 + 0.005 * ts))
            case .csv:
                lines.append(String(format: "%ld,1,0,%ld,%.3f,%.3f,%.6f,%.6f,%.3f,%.5f,%@,%ld,%@ %@", rec, step, tf, tf - stepStart,
                                    capacity, energy, amps * 1000, v, state, es, w.date, w.time))
            }
            tf += 1
        }
        return lines.joined(separator: "\r\n") + "\r\n"
    }
}
