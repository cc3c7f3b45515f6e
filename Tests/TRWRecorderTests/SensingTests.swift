import Foundation
import Testing
import TRWAnalysis
import TRWCore
import TRWStore
import TRWTestSupport
@testable import TRWRecorder
import TRWRig
import TRWLive

@Suite struct SensingTests {
    func pacedSynthetic(seconds: Double) -> SyntheticSource {
        var so = SyntheticSource.Options()
        so.width = 32; so.height = 24; so.fps = 50; so.durationS = seconds; so.aeRateHz = 48_000; so.aeChunkFrames = 480
        so.bmsRateHz = 10; so.paced = true
        return SyntheticSource(options: so)
    }

    @Test func lowerRatesDecimateAndEveryFrameIsKeptOrCounted() throws {
        let dir = TemporaryDirectory()
        var o = RecorderOptions(name: "t", outputPath: dir.file("s.sqlite"), rigName: "synthetic")
        o.realTime = true
        let r = Recorder(sources: [pacedSynthetic(seconds: 3)], options: o)
        try r.start()
        try r.applySensing(.irFps, 10, origin: "test")
        try r.applySensing(.bmsHz, 2, origin: "test")
        #expect(throws: SensingError.self) { try r.applySensing(.irFps, -1, origin: "test") }
        #expect(throws: SensingError.self) { try r.applySensing(.aeThresholdDb, 400, origin: "test") }
        usleep(1_500_000)
        try r.applySensing(.irFps, 50, origin: "test")  // back to every frame
        let result = r.wait()
        #expect(result.status == .complete)
        let reader = try SessionReader(path: o.outputPath)
        let ir = try #require(try reader.stream(key: "ir0"))
        let frames = try reader.frameSummaries(streamId: ir.id!)
        let ev = try reader.sensingEvents()
        let irEv = ev.filter { $0.streamId == ir.id }
        let skipped = irEv.reduce(0) { $0 + $1.skipped }
        // Every frame the camera delivered is either stored or counted as skipped by choice.
        let delivered = (frames.map(\.sequence).max() ?? 0) + 1
        #expect(Int64(frames.count) + skipped == delivered, "stored \(frames.count) + skipped \(skipped) != delivered \(delivered)")
        #expect(skipped > 40, "10 Hz for ~1.5 s of 50 Hz skips ~60 frames, got \(skipped)")
        #expect(try reader.gaps().isEmpty, "decimation is not loss")
        // While at 10 Hz, kept frames are at least ~90 ms apart.
        let change = try #require(irEv.first { $0.value == 50 }).tNs
        let slow = frames.filter { $0.tNs > irEv[0].tNs + 40_000_000 && $0.tNs < change }
        for (a, b) in zip(slow, slow.dropFirst()) { #expect(b.tNs - a.tNs >= 89_000_000, "kept frames \(b.tNs - a.tNs) ns apart at 10 Hz") }
        #expect(irEv.map(\.setting) == ["ir_fps", "ir_fps"] && irEv[0].previous == nil && irEv[1].previous == 10 && irEv[0].origin == "test")
        let bms = try reader.bmsSamples()
        #expect(bms.count >= 5 && bms.count <= 8, "2 Hz for 3 s: \(bms.count) samples")
    }

    @Test func raisingTheAEThresholdSilencesQuietHits() throws {
        func hits(threshold: Double?) throws -> Int {
            let dir = TemporaryDirectory()
            var o = RecorderOptions(name: "t", outputPath: dir.file("s.sqlite"), rigName: "synthetic")
            o.realTime = true
            let r = Recorder(sources: [pacedSynthetic(seconds: 2)], options: o)
            try r.start()
            if let threshold { try r.applySensing(.aeThresholdDb, threshold, origin: "test") }
            _ = r.wait()
            return try SessionReader(path: o.outputPath).aeHits().count
        }
        let base = try hits(threshold: nil)
        #expect(base > 0)
        #expect(try hits(threshold: 130) == 0)
    }

    /// A policy program over the documented line protocol drives the settings; its changes are
    /// sensing events with origin `policy`, and the energy account falls below full sensing.
    @Test func aPolicyProgramDrivesTheSettings() throws {
        let dir = TemporaryDirectory()
        let script = dir.file("policy.py")
        try """
            import json, sys
            for line in sys.stdin:
                m = json.loads(line)
                fps = 1.0 if m["t"] < 2 else 0.5
                print(json.dumps({"t": m["t"], "ir_fps": fps, "ae_threshold_db": 70.0, "bms_hz": 0.2}), flush=True)
            """.write(toFile: script, atomically: true, encoding: .utf8)
        var o = RecorderOptions(name: "t", outputPath: dir.file("s.sqlite"), rigName: "synthetic")
        o.realTime = true
        let r = Recorder(sources: [pacedSynthetic(seconds: 4.5)], options: o)
        try r.start()
        let driver = SensingPolicyDriver(recorder: r, command: "python3 \(script)", riskDetector: DTDTDetector())
        try driver.start()
        _ = r.wait()
        let report = driver.finish()
        #expect(report.error == nil)
        #expect(report.decisions >= 3)
        #expect(report.energyFraction < 0.8, "energy \(report.energyFraction)")
        let ev = try SessionReader(path: o.outputPath).sensingEvents().filter { $0.origin == "policy" }
        #expect(ev.filter { $0.setting == "ir_fps" }.map(\.value) == [1, 0.5])
        #expect(ev.contains { $0.setting == "ae_threshold_db" && $0.value == 70 })
        #expect(ev.contains { $0.setting == "bms_hz" && $0.value == 0.2 })
    }
}
