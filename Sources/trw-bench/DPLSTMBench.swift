import Foundation
import TRWCore
import TRWModels

/// DP-LSTM online step (issue 11): latency p50/p99 of the pruned step and of
/// the dense step (same weights, M = 1) in the same run, and the fraction of
/// the dense LSTM stack's multiply-adds skipped (policy and mask overhead
/// counted against the pruned step) on nominal and on pre-runaway input.
/// Model: $TRW_DPLSTM_MODEL, else models/experiments/out/dp-lstm/s0 (written by
/// models/experiments/table1.sh). Inputs are synthetic 1 Hz BMS ticks:
/// nominal = 0.5C charge (T 30 °C + 0.3 °C/min, V 4.15 V, sensor noise);
/// pre-runaway = self-heating (T from 90 °C rising 0.3 -> 3 °C/s, V falling, noisy).
func runDPLSTMBench() throws {
    print("== dplstm (issue 11) ==")
    let dir = ProcessInfo.processInfo.environment["TRW_DPLSTM_MODEL"] ?? "models/experiments/out/dp-lstm/s0"
    guard FileManager.default.fileExists(atPath: dir + "/config.json") else {
        print("no trained DP-LSTM at \(dir): run models/experiments/table1.sh or set TRW_DPLSTM_MODEL=DIR; skipped")
        return
    }
    let w = try DPLSTMWeights(directory: dir)
    let cfg = w.config
    print("model \(dir): \(cfg.layers) x \(cfg.hidden) LSTM, policy \(cfg.policyLayers) x d\(cfg.d) window \(cfg.window); dense LSTM step = \(w.denseLSTMMACs) MACs")
    var rng = SystemRandomNumberGenerator()
    func noise(_ s: Float) -> Float { Float.random(in: -s...s, using: &rng) }
    func ticks(_ n: Int, nominal: Bool) -> [[Float]] {
        var out: [[Float]] = []
        var pt: Float = nominal ? 30 : 90, pv: Float = 4.15
        for k in 0..<n {
            let t = Float(k % 600)
            let temp = nominal ? 30 + 0.005 * t + noise(0.02) : 90 + 0.3 * t + 0.0045 * t * t + noise(0.2)
            let volt = nominal ? 4.15 + 0.00002 * t + noise(0.0005) : 4.15 - 0.0005 * t + noise(0.01)
            var row = [Float](repeating: 0, count: cfg.nIn)
            for (j, name) in cfg.features.enumerated() {
                switch name {
                case "dt_c": row[j] = abs(temp - pt)
                case "dv_v": row[j] = abs(volt - pv)
                case "cell_temp_c": row[j] = temp
                case "voltage_v": row[j] = volt
                default: row[j] = cfg.mean[j]
                }
            }
            pt = temp; pv = volt
            out.append(row)
        }
        return out
    }
    let n = 3000
    let nominal = ticks(n, nominal: true), pre = ticks(n, nominal: false)
    func measure(_ rows: [[Float]], prune: Bool) -> (p50: Double, p99: Double, work: Double, active: Double) {
        var rt = DPLSTMRuntime(weights: w)
        for r in nominal.prefix(200) { _ = rt.step(raw: r, prune: prune) }  // warm state
        var lat: [Double] = [], work = 0.0, act = 0.0
        var sink: Float = 0
        for r in rows {
            let t0 = HostClock.monotonicNanoseconds()
            sink += rt.step(raw: r, prune: prune)
            lat.append(Double(HostClock.monotonicNanoseconds() - t0) / 1e6)
            work += Double(rt.lastMACs) / Double(w.denseLSTMMACs)
            act += Double(rt.lastActive.reduce(0, +)) / Double(cfg.layers * cfg.hidden)
        }
        if sink.isNaN { print("(score NaN)") }
        lat.sort()
        return (lat[lat.count / 2], lat[Int(Double(lat.count - 1) * 0.99)], work / Double(rows.count), act / Double(rows.count))
    }
    let dn = measure(nominal, prune: false)
    let sn = measure(nominal, prune: true)
    let sp = measure(pre, prune: true)
    let dp = measure(pre, prune: false)
    func row(_ name: String, _ m: (p50: Double, p99: Double, work: Double, active: Double)) -> String {
        name.padded(to: 34) + String(format: "%8.4f %8.4f %9.4f %9.1f%%", m.p50, m.p99, m.active, 100 * (1 - m.work))
    }
    print("step".padded(to: 34) + "p50 ms".leftPadded(to: 8) + "p99 ms".leftPadded(to: 9) + "active".leftPadded(to: 10) + "skipped".leftPadded(to: 11))
    print(row("dense (M = 1), nominal", dn))
    print(row("dense (M = 1), pre-runaway", dp))
    print(row("pruned, nominal", sn))
    print(row("pruned, pre-runaway", sp))
    print(String(format: "speed-up p50: nominal %.2fx, pre-runaway %.2fx; goals: <= 0.1 ms per step (pruned nominal p50 %.4f ms), >= 50%% skipped on nominal (%.1f%%)",
                 dn.p50 / sn.p50, dp.p50 / sp.p50, sn.p50, 100 * (1 - sn.work)))
}
