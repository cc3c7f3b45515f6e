import Foundation
import Testing
import TRWCore
@testable import TRWSimulator

/// A short run with small sensors (IR 16x12 at 5 Hz, AE 8 kHz, BMS 10 Hz) and `faults`.
func faultyRun(_ faults: [SensorFault], capS: Double = 12) throws -> (SimulatedRig, CollectingSink) {
    var s = try loadScenario("demo")
    s.testProtocol.startSOC = 1.0
    s.sensors.faults = faults
    let rig = SimulatedRig(scenario: s, options: SimulatedRig.Options(
        pacing: .max, irWidth: 16, irHeight: 12, irFPS: 5, aeRateHz: 8000, aeChannels: 1, bmsRateHz: 10, durationCapS: capS,
        gridNX: 8, gridNY: 5, seed: 3, startMonotonicNs: 1_000_000_000))
    let sink = CollectingSink()
    try rig.run(into: sink)
    return (rig, sink)
}

/// The integer after `"key":` in a JSON text.
func jsonInt(_ text: String, _ key: String) -> Int? {
    guard let r = text.range(of: "\"\(key)\":") else { return nil }
    return Int(text[r.upperBound...].prefix { $0.isNumber || $0 == "-" })
}

@Suite struct SensorFaultTests {
    /// Every fault kind shows in the data where and only where it was asked for, and each is
    /// written as a `custom:sensor_fault` label (sensor-truth set, on its stream) counting what it touched.
    @Test func faultsAppearAndAreCounted() throws {
        let faults = [
            SensorFault(channel: .ir, kind: .dropout, startS: 1, endS: 2),
            SensorFault(channel: .bms, kind: .dropout, startS: 2, endS: 4),
            SensorFault(channel: .ir, kind: .stuck, startS: 3, endS: 4),
            SensorFault(channel: .bmsVoltage, kind: .stuck, startS: 5, endS: 7),
            SensorFault(channel: .ae, kind: .dropout, startS: 6, endS: 7),
            SensorFault(channel: .bmsCellTemp, kind: .spike, startS: 8, endS: 10, rateHz: 100, amplitude: 50),
            SensorFault(channel: .ae, kind: .spike, startS: 9, endS: 10, rateHz: 20, amplitude: 0.5),
        ]
        let (_, sink) = try faultyRun(faults)
        let labels = sink.events.compactMap { e -> (String, AnnotationEvent)? in
            if case let .annotation(a) = e.1, a.label == "custom:sensor_fault" { (e.0, a) } else { nil }
        }
        #expect(labels.count == faults.count)
        #expect(labels.allSatisfy { $0.1.method == SimulatedRig.sensorTruthMethod && $0.1.author == SimulatedRig.sensorTruthAuthor })
        func label(_ channel: String, _ kind: String) throws -> (String, AnnotationEvent) {
            try #require(labels.first { $0.1.parametersJSON.contains("\"channel\":\"\(channel)\"") && $0.1.parametersJSON.contains("\"kind\":\"\(kind)\"") })
        }
        func trueS(_ hostNs: Int64) -> Double { Double(hostNs - 1_000_000_000) / 1e9 }

        // IR dropout: the frames of 1-2 s are missing (the sequence jumps by as many), counted.
        let irDrop = try label("ir", "dropout")
        #expect(irDrop.0 == "ir0")
        let seqs = Set(sink.frames.map(\.sequence))
        let missing = (0..<(sink.frames.map(\.sequence).max()! + 1)).filter { !seqs.contains($0) }
        #expect(missing.count == 5 && jsonInt(irDrop.1.parametersJSON, "affected") == 5, "missing \(missing)")
        #expect(irDrop.1.startHostNs == 2_000_000_000 && irDrop.1.endHostNs == 3_000_000_000)
        // IR stuck: every frame of 3-4 s is the same image.
        let stuck = sink.frames.filter { let t = trueS($0.hostArrivalNs - 2_000_000); return t > 3.05 && t < 3.95 }
        #expect(stuck.count >= 4 && Set(stuck.map(\.pixels)).count == 1)
        #expect(jsonInt(try label("ir", "stuck").1.parametersJSON, "affected") == 5)

        // BMS dropout: no line in 2-4 s; the count is the lines not sent.
        let bms = sink.bms.map { (t: ($0.deviceTimeS ?? 0) - 1000, s: $0) }
        #expect(!bms.contains { $0.t > 2.01 && $0.t < 3.99 })
        let drop = try label("bms", "dropout")
        #expect(drop.0 == "bms0" && jsonInt(drop.1.parametersJSON, "affected") == 20)
        #expect(bms.count == 120 - 20 || bms.count == 121 - 20, "lines \(bms.count)")
        // Voltage stuck at its value at 5 s while current and temperatures go on.
        let held = bms.filter { $0.t > 5.01 && $0.t < 6.99 }.map { $0.s.voltageV ?? 0 }
        #expect(held.count >= 18 && Set(held).count == 1)
        let moving = bms.filter { $0.t > 5.01 && $0.t < 6.99 }.map { $0.s.currentA ?? 0 }
        #expect(Set(moving).count > 1)
        // Thermocouple spikes of +50 degC at ~100/s > the 10 Hz line rate: (almost) every line of 8-10 s.
        let spiked = bms.filter { $0.t > 8.01 && $0.t < 10.001 }.map { $0.s.cellTempsC.first ?? 0 }
        #expect(spiked.filter { $0 > 60 }.count >= 18)
        #expect(bms.filter { $0.t < 7.99 || $0.t > 10.01 }.allSatisfy { ($0.s.cellTempsC.first ?? 0) < 40 })
        let sp = try label("bms.cell_temp", "spike").1.parametersJSON
        #expect(jsonInt(sp, "spikes") == spiked.filter { $0 > 60 }.count)

        // AE dropout: a dead input (zeros) over 6-7 s, 8000 samples.
        var samples: [(t: Double, v: Int32)] = []
        for c in sink.chunks {
            for (k, v) in c.samples.enumerated() { samples.append((0.0025 + Double(c.firstSampleIndex + Int64(k)) / (8000 * (1 - 42e-6)), v)) }
        }
        let dead = samples.filter { $0.t > 6.001 && $0.t < 6.999 }
        #expect(!dead.isEmpty && dead.allSatisfy { $0.v == 0 })
        #expect(samples.filter { $0.t > 5 && $0.t < 5.999 }.contains { $0.v != 0 })
        let aeDrop = try label("ae", "dropout")
        #expect(aeDrop.0 == "ae0" && abs((jsonInt(aeDrop.1.parametersJSON, "affected") ?? 0) - 8000) <= 1)
        // AE spikes: impulses at half full scale (16384) in 9-10 s only.
        let spikes = jsonInt(try label("ae", "spike").1.parametersJSON, "spikes") ?? 0
        #expect(spikes >= 5)
        #expect(samples.filter { $0.v == 16384 }.allSatisfy { $0.t >= 9 && $0.t < 10 })
        #expect(samples.filter { $0.v == 16384 }.count >= spikes)
    }

    /// Settable BMS noise and offsets: 0.5 V offset on the voltage, noise 0 on the current.
    @Test func bmsOffsetAndNoise() throws {
        var s = try loadScenario("demo")
        s.testProtocol.startSOC = 1.0
        s.sensors.bmsNoise.voltageOffsetV = 0.5
        s.sensors.bmsNoise.currentNoiseA = 0
        let rig = SimulatedRig(scenario: s, options: SimulatedRig.Options(
            pacing: .max, irWidth: 16, irHeight: 12, irFPS: 1, aeRateHz: 8000, bmsRateHz: 2, durationCapS: 5,
            gridNX: 8, gridNY: 5, seed: 3, startMonotonicNs: 0))
        let sink = CollectingSink()
        try rig.run(into: sink)
        #expect(sink.bms.allSatisfy { ($0.voltageV ?? 0) > 4.6 && $0.currentA == 4.0 })
        #expect(rig.streams[2].properties["sim.offset"]?.contains("V 0.5 V") == true)
    }
}

@Suite struct IRRangeTests {
    /// At 500 degC the 0.01 K mode clamps every cell pixel at 65535 (382.2 degC) and counts
    /// them; the 0.1 K mode reads 500 degC (within 0.5 K) and counts none.
    @Test func lowResolutionModeDoesNotSaturateWhereHighResolutionDoes() {
        let field = [Double](repeating: 773.15, count: 40)
        var hi = IRRenderer(width: 64, height: 48, gridNX: 8, gridNY: 5, cellAspect: 1.6, trueEmissivity: 0.95,
                            assumedEmissivity: 0.95, netdK: 0.05, seed: 1)
        let a = hi.render(fieldK: field, ambientK: 298)
        let cell = hi.cellRect.w * hi.cellRect.h
        #expect(a[24 * 64 + 32] == 65535)
        #expect(hi.lastSaturatedPixels == cell)
        var sen = SensorSpec()
        sen.irRange = .lowResolution
        sen.irRangeMaxC = 1500
        #expect(SimulatedRig.saturationCounts(sen) == 17731)
        #expect(SimulatedRig.saturationCounts(SensorSpec()) == 65535)
        var lo = IRRenderer(width: 64, height: 48, gridNX: 8, gridNY: 5, cellAspect: 1.6, trueEmissivity: 0.95,
                            assumedEmissivity: 0.95, netdK: 0.05, calibration: .tLinear100mK, saturationCounts: 17731, seed: 1)
        let b = lo.render(fieldK: field, ambientK: 298)
        #expect(abs(ThermalCalibration.tLinear100mK.celsius(b[24 * 64 + 32]) - 500) < 0.5)
        #expect(lo.lastSaturatedPixels == 0)
        // Above the calibrated range (2000 degC) the 0.1 K mode clamps at 1500 degC and counts.
        _ = lo.render(fieldK: [Double](repeating: 2273.15, count: 40), ambientK: 298)
        #expect(lo.lastSaturatedPixels == cell)
    }

    /// Saturated frames are joined into intervals (gaps up to 1 s) with a count per delivered frame.
    @Test func saturationLogCountsPerFrame() throws {
        var sen = SensorSpec()
        sen.irFPS = 2
        var log = SaturationLog(sensors: sen)
        log.frame(at: 0.0, sequence: 0, saturated: 0)
        log.frame(at: 0.5, sequence: 1, saturated: 12)
        log.frame(at: 1.0, sequence: 2, saturated: 0)
        log.frame(at: 1.5, sequence: 3, saturated: 30)
        let early = log.close(at: 1.5, final: false)
        #expect(early == nil)
        log.frame(at: 2.0, sequence: 4, saturated: 0)
        log.frame(at: 2.5, sequence: 5, saturated: 0)
        log.frame(at: 3.0, sequence: 6, saturated: 0)
        let closed = log.close(at: 3.0, final: false)
        let e = try #require(closed)
        #expect(e.from == 0.5 && e.to == 2.0)
        #expect(e.params.contains("\"saturated_pixels\":[12,0,30]") && e.params.contains("\"first_sequence\":1"))
        #expect(e.params.contains("\"saturation_c\":382.2") && e.params.contains("\"max_saturated_pixels\":30"))
        let none = log.close(at: 10, final: true)
        #expect(none == nil)
    }

    /// A run into runaway: in the 0.01 K mode the frames saturate and an `custom:ir_saturated` label
    /// (sensor-truth set, on ir0) says when and how many pixels; in the 0.1 K mode nothing saturates
    /// and the frames show the peak.
    @Test func runawayRunFlagsSaturation() throws {
        func run(_ mode: IRRangeMode) throws -> (SimulatedRig, CollectingSink) {
            var s = try loadScenario("demo")
            s.testProtocol.startSOC = 1.55
            s.ambient.temperatureC = 90
            s.sensors.irRange = mode
            s.sensors.irRangeMaxC = mode.defaultRangeMaxC
            let rig = SimulatedRig(scenario: s, options: SimulatedRig.Options(
                pacing: .max, irWidth: 32, irHeight: 24, irFPS: 2, aeRateHz: 8000, bmsRateHz: 1, durationCapS: 600,
                gridNX: 16, gridNY: 10, seed: 7, startMonotonicNs: 1_000_000_000))
            let sink = CollectingSink()
            try rig.run(into: sink)
            return (rig, sink)
        }
        let (hiRig, hi) = try run(.highResolution)
        let peak = try #require(hiRig.groundTruth?.peakMaxC)
        try #require(peak > 420, "peak \(peak) degC")
        let sat = hi.annotations.filter { $0.label == "custom:ir_saturated" }
        #expect(!sat.isEmpty && sat.allSatisfy { $0.method == SimulatedRig.sensorTruthMethod })
        #expect(hi.events.contains { if case let .annotation(a) = $0.1, a.label == "custom:ir_saturated" { $0.0 == "ir0" } else { false } })
        let counted = sat.map { jsonInt($0.parametersJSON, "max_saturated_pixels") ?? 0 }.max() ?? 0
        let clipped = hi.frames.map { $0.pixels.filter { $0 == 65535 }.count }.max() ?? 0
        #expect(counted == clipped && counted > 0)
        let (loRig, lo) = try run(.lowResolution)
        _ = peak
        #expect(lo.annotations.allSatisfy { $0.label != "custom:ir_saturated" })
        #expect(loRig.streams[0].calibration?.kelvinPerCount == 0.1 && loRig.streams[0].properties["saturation_counts"] == "17731")
        let seen = lo.frames.map { ThermalCalibration.tLinear100mK.celsius($0.pixels.max()!) }.max()!
        #expect(seen > 390, "0.1 K mode shows \(seen) degC (true peak \(peak) degC)")
    }
}
