import Foundation
import TRWCore
import TRWRecorder
import TRWSimulator
import TRWStore
import TRWFigures

/// CPU seconds of every thread of this process, by thread name (/proc/self/task/*/stat).
func threadCPUSecondsByName() -> [String: Double] {
    var out: [String: Double] = [:]
    let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
    guard let tids = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task") else { return out }
    for tid in tids {
        guard let stat = try? String(contentsOfFile: "/proc/self/task/\(tid)/stat", encoding: .utf8),
              let open = stat.firstIndex(of: "("), let close = stat.lastIndex(of: ")") else { continue }
        let name = String(stat[stat.index(after: open)..<close])
        let fields = stat[stat.index(close, offsetBy: 2)...].split(separator: " ")
        guard fields.count > 13, let u = Double(fields[11]), let s = Double(fields[12]) else { continue }
        out[name, default: 0] += (u + s) / ticks
    }
    return out
}

/// Issue 8: a simulated full-rate recording in real time (640x480 Y16 at 50 Hz,
/// 2 x 192 kHz AE, 1 Hz BMS) for TRW_BENCH_RECORD_S seconds (default 600):
/// CPU per stream (per thread, as % of one core), peak memory, drops.
func runRecordingBench() throws {
    let seconds = ProcessInfo.processInfo.environment["TRW_BENCH_RECORD_S"].flatMap(Double.init) ?? 600
    print("== real-time full-rate simulated recording, \(Int(seconds)) s (TRW_BENCH_RECORD_S to change) ==")
    let dir = NSTemporaryDirectory() + "trw-bench-rec-\(getpid())"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    var so = SimulatedRig.Options()
    so.pacing = .realTime(speed: 1)
    so.irWidth = 640; so.irHeight = 480; so.irFPS = 50
    so.aeRateHz = 192_000; so.aeChannels = 2; so.aeFormat = .s32le
    so.bmsRateHz = 1
    so.durationCapS = seconds
    let rig = SimulatedRig(scenario: try Scenario.named("ncm_overcharge_05c"), options: so)
    var o = RecorderOptions(name: "bench-rt", outputPath: dir + "/rt.sqlite", rigName: "sim:ncm_overcharge_05c")
    o.durationS = seconds
    o.realTime = true
    let before = threadCPUSecondsByName()
    let rec = Recorder(sources: [rig], options: o)
    let t0 = Date()
    try rec.start()
    // Sample thread CPU just before the end (threads exit at the end).
    var lastSample: [String: Double] = [:]
    var lastAt = t0
    // A thread's counter disappears when it exits: keep the highest reading of each.
    while !rec.isStopping {
        Thread.sleep(forTimeInterval: 0.5)
        for (k, v) in threadCPUSecondsByName() { lastSample[k] = max(lastSample[k] ?? 0, v) }
        lastAt = Date()
    }
    let result = rec.wait()
    let wall = lastAt.timeIntervalSince(t0)
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    let summary = try SessionReader(path: o.outputPath).summary()
    let lost = summary.streams.reduce(0) { $0 + $1.lostTotal }
    print(String(format: "recorded %.0f s of session time in %.0f s wall; status %@; file %@", result.final.sessionTimeS, wall,
                 result.status.rawValue, InfoReport.bytes(summary.fileBytes)))
    for st in summary.streams {
        print("  \(st.stream.key): \(st.count) rows, lost \(st.lostTotal)")
    }
    print("CPU by thread (% of one core over the run):")
    var groups: [(String, Double)] = []
    for (name, cpu) in lastSample.sorted(by: { $0.key < $1.key }) where name.hasPrefix("trw-") {
        let pct = (cpu - (before[name] ?? 0)) / wall * 100
        groups.append((name, pct))
        print("  " + name.padding(toLength: 16, withPad: " ", startingAt: 0) + String(format: "%6.1f %%", pct))
    }
    func sum(_ f: (String) -> Bool) -> Double { groups.filter { f($0.0) }.reduce(0) { $0 + $1.1 } }
    print(String(format: "per stream: ir0 (lane + encoders) %.1f %%, ae0 %.1f %%, bms0 %.1f %%, simulator (source) %.1f %%, writer %.1f %%",
                 sum { ($0.contains("ir0") && !$0.hasPrefix("trw-src")) || $0.hasPrefix("trw-encode") }, sum { $0.contains("ae0") }, sum { $0.contains("bms0") },
                 sum { $0.hasPrefix("trw-src") }, sum { $0 == "trw-writer" }))
    print(String(format: "peak memory (max RSS): %.0f MB", Double(usage.ru_maxrss) / 1024))
    print("drops: \(lost) (goal: zero) \(lost == 0 ? "PASS" : "FAIL")")
}
