import Foundation
import Logging
import TRWCore
import TRWLive

/// Issue 20: time from the sample that closes a tick to the live detector's decision and to
/// the start of the alarm's action (p50/p99), for a built-in detector and for the DP-LSTM,
/// through the recorder's own live path (`LiveLatencyProbe`). Goal: p99 <= 100 ms.
/// Reference in the same run: the same path with no detector work beyond the built-in vdrop.
func runAlarmLatencyBench() throws {
    print("== alarm latency (issue 20): closing sample -> decision -> alarm action, 2 Hz BMS, 100 alarm cycles ==")
    func pct(_ xs: [Double], _ p: Double) -> Double {
        guard !xs.isEmpty else { return .nan }
        let s = xs.sorted()
        return s[min(s.count - 1, Int((Double(s.count - 1) * p).rounded()))]
    }
    var specs = ["vdrop", "gb38031"]
    let model = ProcessInfo.processInfo.environment["TRW_DPLSTM_MODEL"] ?? "models/experiments/out/dp-lstm/s0"
    if FileManager.default.fileExists(atPath: model + "/config.json") { specs.append("dplstm:" + model) } else {
        print("no trained DP-LSTM at \(model) (models/experiments/table1.sh, or TRW_DPLSTM_MODEL=DIR): its row is skipped")
    }
    print("detector".padded(to: 44) + "ticks".leftPadded(to: 7) + "decide p50/p99 ms".leftPadded(to: 20)
          + "alarms".leftPadded(to: 8) + "action p50/p99 ms".leftPadded(to: 20))
    var reference: Double?
    for spec in specs {
        var quiet = Logger(label: "trw.bench")
        quiet.logLevel = .error  // one warning per alarm otherwise
        let r = try LiveLatencyProbe.run(detector: spec, logger: quiet)
        let p99 = pct(r.actionMs.isEmpty ? r.tickMs : r.actionMs, 0.99)
        if reference == nil { reference = pct(r.tickMs, 0.5) }
        print(String(spec.suffix(44)).padded(to: 44) + "\(r.tickMs.count)".leftPadded(to: 7)
              + String(format: "%9.3f / %-8.3f", pct(r.tickMs, 0.5), pct(r.tickMs, 0.99)).leftPadded(to: 20)
              + "\(r.actionMs.count)".leftPadded(to: 8)
              + (r.actionMs.isEmpty ? "-".leftPadded(to: 20) : String(format: "%9.3f / %-8.3f", pct(r.actionMs, 0.5), pct(r.actionMs, 0.99)).leftPadded(to: 20))
              + String(format: "  p99 %.1f%% of the 100 ms goal; decide p50 %.1fx vdrop's", p99, pct(r.tickMs, 0.5) / (reference ?? 1)))
    }
    print("(not included: the time a sample waits in the recorder's queue before its lane hands it on; see the ingest section)")
}
