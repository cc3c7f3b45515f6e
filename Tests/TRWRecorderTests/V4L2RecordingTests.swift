import Foundation
import Testing
import TRWCodec
import TRWCore
import TRWSimulator
import TRWStore
import TRWTestSupport
@_spi(Testing) import TRWV4L2
@_spi(Testing) import TRWV4L2Emulation
@testable import TRWRecorder

/// Issue 5: simulated IR frames through the emulated V4L2 capture driver,
/// through the real driver code, through the recorder into the session: the
/// stored frames, sequences and drops are exactly what the emulation produced.
@Suite struct V4L2RecordingTests {
    /// Frame `seq` rendered by the simulator's IR camera model (a hot spot
    /// growing over the cell, NETD noise seeded by the sequence).
    static let simulatedFrames: EmulatedV4L2Device.FrameGenerator = { seq, w, h in
        var r = IRRenderer(width: w, height: h, gridNX: 32, gridNY: 24, cellAspect: 1.6, trueEmissivity: 0.95,
                           assumedEmissivity: 0.95, netdK: 0.05, seed: UInt64(seq) &+ 1)
        let field = (0..<(32 * 24)).map { i -> Double in
            let x = Double(i % 32) - 20, y = Double(i / 32) - 10
            return 298.15 + (10 + Double(seq)) * exp(-(x * x + y * y) / 18)
        }
        return r.render(fieldK: field, ambientK: 298.15)
    }

    @Test func storedFramesSequencesAndDropsMatchTheEmulation() throws {
        var cfg = EmulatedV4L2Device.Configuration()
        cfg.appCostPerFrameNs = 50_000_000  // a slow application: 2.5 periods per frame, so frames drop
        cfg.unplugAfterSequence = 60         // the stream ends with a device loss
        let device = EmulatedV4L2Device(cfg, generator: Self.simulatedFrames)
        let source = try V4L2CameraSource(
            config: V4L2CameraConfig(key: "ir0", device: "/dev/video0", width: 160, height: 120, fps: 50, bufferCount: 4),
            syscalls: device)
        let dir = TemporaryDirectory()
        var o = RecorderOptions(name: "v4l2", outputPath: dir.file("v.sqlite"), rigName: "emulated v4l2")
        o.realTime = false
        let rec = Recorder(sources: [source], options: o)
        try rec.start()
        let result = rec.wait()
        #expect(result.status == .complete)

        let reader = try SessionReader(path: o.outputPath)
        let ir = try #require(try reader.stream(key: "ir0"))
        #expect(ir.properties["v4l2.granted_fps"] != nil)
        let stored = try reader.frames(streamId: ir.id!)
        let delivered = device.deliveredFrames
        #expect(stored.map(\.sequence) == delivered.map { Int64($0.sequence) })
        #expect(stored.map(\.deviceTsNs) == delivered.map(\.timestampNs))
        let dec = try FrameDecoder()
        for (s, d) in zip(stored, delivered) {
            let px = try dec.decode([UInt8](s.payload), codec: s.codec, width: 160, height: 120)
            #expect(px == d.pixels, "frame \(s.sequence) differs from what the camera produced")
        }
        let gaps = try reader.gaps(streamId: ir.id!)
        let lastDelivered = Int64(delivered.last?.sequence ?? 0)
        let dropped = device.droppedFrames.filter { Int64($0.sequence) < lastDelivered }.count
        #expect(dropped > 0, "the scenario must drop frames")
        #expect(gaps.filter { $0.kind == "frame_drop" }.reduce(0) { $0 + $1.lostCount } == Int64(dropped))
        #expect(gaps.filter { $0.kind == "device_loss" }.count == 1)
        #expect(gaps.allSatisfy { $0.kind != "queue_overflow" })
        // Summary counts the same losses.
        let summary = try reader.summary().streams.first { $0.stream.key == "ir0" }!
        #expect(summary.count == delivered.count)
    }
}
