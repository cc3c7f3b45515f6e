import Foundation
import TRWCore
import TRWSimulator

/// A sink that discards everything (storage excluded) but counts what it saw.
private final class DiscardingSink: SampleSink, @unchecked Sendable {
    // Only the rig's run thread calls emit; the counters are read after run returns.
    var frames = 0, chunks = 0, samples = 0, bms = 0, annotations = 0, bytes = 0
    func emit(_ event: SourceEvent, stream: String, mode: EmitMode) -> Bool {
        switch event {
        case let .thermal(f): frames += 1; bytes += f.pixels.count * 2
        case let .audio(c): chunks += 1; samples += c.samples.count; bytes += c.samples.count * c.format.bytesPerSample
        case .bms: bms += 1
        case .annotation: annotations += 1
        default: break
        }
        return true
    }
}

private func seconds(_ body: () throws -> Void) rethrows -> Double {
    let t0 = HostClock.monotonicNanoseconds()
    try body()
    return Double(HostClock.monotonicNanoseconds() - t0) / 1e9
}

/// Simulated rig benchmark: full-rate 640x480 @ 50 Hz IR + 192 kHz AE + 1 Hz BMS
/// for 60 simulated seconds into a discarding sink (storage excluded), then the
/// cost of each part, then the whole `demo` scenario at its own settings.
func runSimulatorBench() throws {
    print("== simulator (issue 3) ==")
    let demo = try Scenario.named("demo")
    var full = demo
    full.grid = GridSpec(nx: 128, ny: 96, stepS: 0.1)
    let simS = 60.0
    let opts = SimulatedRig.Options(pacing: .max, irWidth: 640, irHeight: 480, irFPS: 50, aeRateHz: 192_000, aeChannels: 1,
                                    bmsRateHz: 1, durationCapS: simS)
    let rig = SimulatedRig(scenario: full, options: opts)
    let sink = DiscardingSink()
    let wall = try seconds { try rig.run(into: sink) }
    print(String(format: "full rate (640x480@50 Hz Y16, 192 kHz S16 mono AE, 1 Hz BMS, grid 128x96): %.0f simulated s in %.2f s wall = %.1fx real time (target >= 10x)",
                 simS, wall, simS / wall))
    print(String(format: "  emitted: %d frames, %d AE chunks (%d samples), %d BMS lines, %.0f MB payload",
                 sink.frames, sink.chunks, sink.samples, sink.bms, Double(sink.bytes) / 1e6))

    // Parts, measured alone.
    let sim = CellSimulation(scenario: full)
    let steps = 200
    let physics = seconds { for _ in 0..<steps { sim.step(dt: 0.1) } }
    var renderer = IRRenderer(width: 640, height: 480, gridNX: 128, gridNY: 96, cellAspect: full.cell.widthM / full.cell.heightM,
                              trueEmissivity: full.cell.emissivity, assumedEmissivity: 0.95, netdK: 0.05, seed: 1)
    let field = sim.heat.temperature
    var checksum = 0
    let nFrames = 250
    let render = seconds {
        for _ in 0..<nFrames { checksum &+= Int(renderer.render(fieldK: field, ambientK: 298.15)[12345]) }
    }
    var ae = AESynthesizer(sampleRate: 192_000, channels: 1, format: .s16le, seed: 1)
    let chunks = 200 // 10 s
    let drivers = AESynthesizer.Drivers(gasRateMolPerS: 2e-5, reactionPowerW: 5, hissStart: 0.2, hissEnd: 0.2)
    let aeT = seconds {
        for i in 0..<chunks {
            checksum &+= Int(ae.synthesize(frames: 9600, startTime: Double(i) * 0.05, samplePeriod: 1 / 192_000.0, drivers: drivers)[7])
        }
    }
    let perFrameMs = render / Double(nFrames) * 1000
    print(String(format: "  IR render: %.3f ms/frame = %.1f%% of the 20 ms frame period (%.0fx headroom)",
                 perFrameMs, perFrameMs / 20 * 100, 20 / perFrameMs))
    print(String(format: "  physics (128x96, 0.1 s steps, pre-runaway): %.3f ms/step = %.1f ms per simulated s",
                 physics / Double(steps) * 1000, physics / Double(steps) * 10_000))
    print(String(format: "  AE synth (192 kHz, ~%.0f hits/s + hiss): %.2f ms per simulated s (%.0fx real time)",
                 ae.hitRate(drivers), aeT / 10 * 1000, 10 / aeT))

    // The demo run end to end at full rate (through venting, runaway and cooling; the
    // runaway's reaction sub-steps included), 128x96 grid.
    let fullDemo = SimulatedRig(scenario: full, options: SimulatedRig.Options(
        pacing: .max, irWidth: 640, irHeight: 480, irFPS: 50, aeRateHz: 192_000, aeChannels: 1, bmsRateHz: 1))
    let fullSink = DiscardingSink()
    let fullWall = try seconds { try fullDemo.run(into: fullSink) }
    let fullSim = fullDemo.groundTruth.map { $0.peakS + demo.run.stopAfterPeakS } ?? 0
    print(String(format: "full rate, whole demo run through runaway: %.0f simulated s in %.2f s wall = %.1fx real time (%d frames)",
                 fullSim, fullWall, fullSim / fullWall, fullSink.frames))

    // The demo scenario end to end (its own sensor settings), as `make demo` runs it minus storage.
    let demoRig = SimulatedRig(scenario: demo, options: SimulatedRig.Options(pacing: .max))
    let demoSink = DiscardingSink()
    let demoWall = try seconds { try demoRig.run(into: demoSink) }
    let truth = demoRig.groundTruth
    print(String(format: "demo scenario: %.0f simulated s in %.2f s wall (%.1fx), %d frames, %.0f MB raw payload, runaway onset %@ s, venting %@ s, self-heating %@ s (checksum %d)",
                 truth.map { $0.peakS + demo.run.stopAfterPeakS } ?? 0, demoWall,
                 (truth.map { $0.peakS + demo.run.stopAfterPeakS } ?? 0) / demoWall, demoSink.frames, Double(demoSink.bytes) / 1e6,
                 truth?.runawayOnsetS.map { String(format: "%.1f", $0) } ?? "none",
                 truth?.ventingS.map { String(format: "%.1f", $0) } ?? "none",
                 truth?.selfHeatingOnsetS.map { String(format: "%.1f", $0) } ?? "none", checksum))
}
