import Foundation
import Testing
import TRWCore
@testable import TRWSimulator

@Suite struct SensorTests {
    /// Uniform 300 K field, camera emissivity = true emissivity: cell pixels average 30000 counts
    /// (tolerance 1 count) with a noise standard deviation of NETD / 0.01 K (tolerance 10 %).
    @Test func irRendererRadiometry() {
        var r = IRRenderer(width: 160, height: 120, gridNX: 16, gridNY: 10, cellAspect: 1.6, trueEmissivity: 0.95,
                           assumedEmissivity: 0.95, netdK: 0.05, seed: 3)
        let px = r.render(fieldK: [Double](repeating: 300, count: 160), ambientK: 295)
        let rect = r.cellRect
        var vals: [Double] = []
        for y in rect.y..<(rect.y + rect.h) { for x in rect.x..<(rect.x + rect.w) { vals.append(Double(px[y * 160 + x])) } }
        let mean = vals.reduce(0, +) / Double(vals.count)
        let sd = (vals.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(vals.count)).squareRoot()
        #expect(abs(mean - 30000) < 1, "mean \(mean)")
        #expect(abs(sd - 5) < 0.5, "noise sd \(sd) counts")
        // Background: the chamber near 295 K.
        #expect(abs(Double(px[0]) - 29_550) < 40)
    }

    /// Emissivity error: a 400 K surface of true emissivity 0.90 seen by a camera set to 0.95
    /// reads cold, as the grey-body formula says (tolerance 0.05 K plus noise).
    @Test func irEmissivityErrorReadsCold() {
        var r = IRRenderer(width: 64, height: 48, gridNX: 8, gridNY: 5, cellAspect: 1.6, trueEmissivity: 0.90,
                           assumedEmissivity: 0.95, netdK: 0, seed: 1)
        let expected = r.apparentKelvin(400, reflected: 298)
        #expect(expected < 400 - 2 && expected > 400 - 10)
        let px = r.render(fieldK: [Double](repeating: 400, count: 40), ambientK: 298)
        let c = px[24 * 64 + 32]
        #expect(abs(Double(c) * 0.01 - expected) < 0.05)
    }

    /// Bilinear interpolation: a linear ramp across the grid renders as a monotone ramp.
    @Test func irBilinearRampIsMonotone() {
        var r = IRRenderer(width: 128, height: 96, gridNX: 8, gridNY: 5, cellAspect: 1.6, trueEmissivity: 1,
                           assumedEmissivity: 1, netdK: 0, seed: 1)
        var field = [Double](repeating: 0, count: 40)
        for j in 0..<5 { for i in 0..<8 { field[j * 8 + i] = 300 + Double(i) * 10 } }
        let px = r.render(fieldK: field, ambientK: 300)
        let y = r.cellRect.y + r.cellRect.h / 2
        let row = (r.cellRect.x..<(r.cellRect.x + r.cellRect.w)).map { px[y * 128 + $0] }
        for i in 1..<row.count { #expect(row[i] >= row[i - 1]) }
        #expect(row.first! <= 30_100 && row.last! >= 36_900)
    }

    /// AE hits (threshold crossings at 10x background RMS with a 2 ms dead time) increase
    /// with gas generation: 20 s at 0 and at 1e-4 mol/s; expected rates 0.05/s and ~25/s.
    @Test func aeBurstRateIncreasesWithGasGeneration() {
        func hits(gas: Double) -> (detected: Int, generated: Int) {
            var ae = AESynthesizer(sampleRate: 48_000, channels: 1, format: .s16le, seed: 11)
            var detected = 0, dead = 0
            let thr = Int32(10 * ae.backgroundRMS * 32767)
            for i in 0..<400 {
                let s = ae.synthesize(frames: 2400, startTime: Double(i) * 0.05, samplePeriod: 1 / 48_000.0,
                                      drivers: .init(gasRateMolPerS: gas))
                for v in s {
                    if dead > 0 { dead -= 1; continue }
                    if abs(v) > thr { detected += 1; dead = 96 }
                }
            }
            return (detected, ae.burstCount)
        }
        let quiet = hits(gas: 0), gassing = hits(gas: 1e-4)
        #expect(quiet.generated <= 5, "background bursts \(quiet.generated) in 20 s")
        #expect(gassing.generated > 400 && gassing.generated < 620, "gassing bursts \(gassing.generated), expected ~510")
        #expect(gassing.detected > 10 * max(1, quiet.detected), "detected \(quiet.detected) -> \(gassing.detected)")
    }

    @Test func aeSamplesStayInFormatRange() {
        var ae = AESynthesizer(sampleRate: 96_000, channels: 2, format: .s16le, seed: 5)
        let s = ae.synthesize(frames: 9600, startTime: 0, samplePeriod: 1 / 96_000.0,
                              drivers: .init(gasRateMolPerS: 1e-2, reactionPowerW: 1000, hissStart: 1, hissEnd: 1, impulses: [0.01]))
        #expect(s.count == 19_200)
        #expect(s.allSatisfy { $0 >= -32767 && $0 <= 32767 })
        #expect(s.contains { abs($0) > 20_000 }, "impulse burst missing")
    }

    @Test func bmsLineRoundTripsAndQuantises() throws {
        let line = BMSLine.format(deviceTimeS: 12.00049, voltageV: 4.21349, currentA: -1.5016, cellC: 25.34, ambientC: 23.0)
        #expect(line == "t=12.000 V=4.213 I=-1.502 T1=25.3 Tamb=23.0")
        let s = try #require(BMSLine.parse(line, hostArrivalNs: 5))
        #expect(s.voltageV == 4.213 && s.currentA == -1.502 && s.cellTempsC == [25.3] && s.ambientC == 23.0 && s.deviceTimeS == 12.0)
        #expect(BMSLine.parse("t=1 V=x", hostArrivalNs: 0) == nil)
    }

    @Test func sensorClockRoundTrip() {
        let c = SensorClock(offsetNs: 1_234_500_000, driftPPM: 35, jitterNs: 0)
        let d = c.deviceNs(atTrue: 100)
        #expect(d == 1_234_500_000 + 100_003_500_000)
        #expect(abs(c.trueTime(atDevice: d) - 100) < 1e-9)
    }
}
