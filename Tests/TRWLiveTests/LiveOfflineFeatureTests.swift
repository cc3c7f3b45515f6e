import Foundation
import Testing
import TRWAnalysis
import TRWCore
import TRWSimulator
import TRWStore
import TRWTestSupport
import TRWRecorder
@testable import TRWLive

/// One feature pipeline: what a live detector sees on `--live` is what it was trained
/// on from `trw export`. A simulated overcharge is recorded with the live stream on, then
/// every live tick is compared with the offline tick of the same time.
@Suite struct LiveOfflineFeatureTests {
    @Test func everyLiveTickEqualsTheOfflineTick() throws {
        let dir = TemporaryDirectory()
        var so = SimulatedRig.Options()
        so.pacing = .realTime(speed: 100)  // paced, so one reading client keeps up with the lines
        so.irWidth = 32; so.irHeight = 24; so.aeRateHz = 48_000; so.durationCapS = 440  // past self-heating, venting and the onset (423 s): the IR area above 60 °C is non-zero
        let rig = SimulatedRig(scenario: try Scenario.named("demo"), options: so)
        var o = RecorderOptions(name: "eq", outputPath: dir.file("eq.sqlite"), rigName: "sim:demo")
        o.realTime = false
        var liveOptions = LiveOptions()
        liveOptions.tapPath = dir.file("live.sock")
        liveOptions.stallS = 60  // a lane starved of CPU on a loaded machine is not a stalled device here
        let rec = Recorder(sources: [rig], options: o, observer: LiveRecording(options: liveOptions))
        try rec.start()
        let (fd, received, connected) = followLiveSocket(liveOptions.tapPath!)
        #expect(connected)
        _ = rec.wait()
        #expect(received.done.wait(timeout: .now() + 30) == .success, "no end line")
        close(fd)
        let objs = received.text.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
        let end = try #require(objs.last { $0["type"] as? String == "end" })
        #expect(end["dropped_lines"] as? Int == 0, "the client must have every line for the comparison")
        let live = objs.filter { $0["type"] as? String == "tick" }

        let offline = try FeatureExtractor.extract(SessionReader(path: dir.file("eq.sqlite")))
        #expect(live.count == offline.count, "live \(live.count) ticks, offline \(offline.count)")
        #expect(live.count >= 295)
        var compared = 0, finite = 0
        var mismatches: [String] = []
        for (k, tick) in live.enumerated() where k < offline.count {
            #expect(tick["t"] as? Double == offline.tickTimesS[k])
            let f = try #require(tick["features"] as? [String: Any])
            for (j, name) in offline.names.enumerated() {
                let off = Double(offline.values[k * offline.names.count + j])
                let liveValue = f[name] as? Double  // null (NSNull) when not finite
                compared += 1
                switch (liveValue, off.isFinite) {
                case (nil, false): continue
                case (let x?, true):
                    finite += 1
                    if abs(x - off) > 2e-6 * max(abs(x), abs(off)) + 1e-12 {
                        mismatches.append("t = \(offline.tickTimesS[k]) \(name): live \(x), offline \(off)")
                    }
                default:
                    mismatches.append("t = \(offline.tickTimesS[k]) \(name): live \(String(describing: liveValue)), offline \(off)")
                }
            }
        }
        #expect(mismatches.isEmpty, "\(mismatches.count) of \(compared) values differ; first: \(mismatches.prefix(8))")
        // The comparison covers every kind of feature, not a table of NaNs.
        for name in ["voltage_v", "cell_temp_c", "ir_max_c", "ir_area_ge_60c", "ir_max_gradient_c_per_px",
                     "ae_hit_rate_hz", "ae_rms_fs", "ae_band_20_30khz_log10"] {
            let column = try #require(offline.column(name))
            #expect(column.contains { $0.isFinite && $0 != 0 }, "\(name) is never a finite non-zero value")
        }
        #expect(finite > compared / 2)
        #expect(end["late_samples"] as? Int == 0)
    }
}
