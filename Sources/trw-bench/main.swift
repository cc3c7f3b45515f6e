// `make bench`: every benchmark prints ratios against a reference measured in
// the same run (never pass/fail on absolute time alone).
// `trw-bench NAME` runs one section: codec, ingest, simulator, sync, simsync, v4l2, alsa, overview, recording, dplstm, alarm, video.
import Foundation

let only = CommandLine.arguments.dropFirst().first
func section(_ name: String, _ body: () throws -> Void) {
    guard only == nil || only == name else { return }
    print("######## \(name)")
    let t0 = Date()
    do { try body() } catch { print("\(name) benchmark failed: \(error)") }
    print(String(format: "(%@ took %.1f s)\n", name, Date().timeIntervalSince(t0)))
}
section("codec") { try runCodecBench() }
section("ingest") { try runIngestBench() }
section("simulator") { try runSimulatorBench() }
section("sync") { try runSyncBench() }
section("simsync") { try runSimSyncBench() }
section("v4l2") { try runV4L2Bench() }
section("alsa") { try runALSABench() }
section("overview") { try runOverviewBench() }
section("recording") { try runRecordingBench() }
section("dplstm") { try runDPLSTMBench() }
section("alarm") { try runAlarmLatencyBench() }
section("video") { try runVideoBench() }
