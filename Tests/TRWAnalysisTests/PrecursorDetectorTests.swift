import Foundation
import Testing
@testable import TRWAnalysis

/// The precursor detector (issue 20): venting needs two kinds of evidence together (or one
/// that persists when it is the only sensor), self-heating comes from the heat balance, and
/// both latch.
@Suite struct PrecursorDetectorTests {
    /// A 1 Hz run of `n` ticks of a cell charged at 2 A, heating slowly (a first-order
    /// approach to equilibrium), with AE background; `edit` changes tick t's features.
    static func run(_ d: inout PrecursorDetector, n: Int, sensors: Set<String> = ["ae", "ir", "v"],
                    edit: (Int, inout [String: Double]) -> Void = { _, _ in }) -> [Double] {
        (0..<n).map { k in
            let t = Double(k)
            var f: [String: Double] = ["cell_temp_c": 25 + 10 * (1 - exp(-t / 600)), "ambient_c": 25]
            if sensors.contains("ae") { f["ae_hit_rate_hz"] = 2 }
            if sensors.contains("ir") { f["ir_mean_c"] = 25 + 10 * (1 - exp(-t / 600)) }
            if sensors.contains("v") { f["voltage_v"] = 4.6 + 0.0002 * t; f["current_a"] = 2 }
            edit(k, &f)
            return d.step(t: t, features: f)
        }
    }

    @Test func aeBurstWithASurfaceDipIsVentingAndLatches() {
        var d = PrecursorDetector()
        let s = Self.run(&d, n: 400) { k, f in
            if (200...205).contains(k) { f["ae_hit_rate_hz"] = 300 }  // the vent's burst
            if (203...210).contains(k) { f["ir_mean_c"]! -= 1.2 * Double(min(k - 202, 3)) / 3 }  // the surface cools
        }
        #expect(s[..<200].allSatisfy { $0 < 0.5 }, "no alarm before the vent: \(s[..<200].max()!)")
        #expect(d.ventingS.map { (203...206).contains($0) } == true, "venting at \(String(describing: d.ventingS))")
        #expect(s[210...].allSatisfy { $0 == 1 }, "latched after the evidence is gone")
    }

    @Test func oneKindOfEvidenceAloneIsNotVenting() {
        // An AE burst (a knock on the chamber) with IR and electrical data quiet.
        var d = PrecursorDetector()
        let s = Self.run(&d, n: 300) { k, f in if (100...130).contains(k) { f["ae_hit_rate_hz"] = 500 } }
        #expect(d.ventingS == nil && s.allSatisfy { $0 < 0.5 })
        // A voltage step alone (a contact re-seated).
        var e = PrecursorDetector()
        let s2 = Self.run(&e, n: 300) { k, f in if k >= 100 { f["voltage_v"]! += 0.2 } }
        #expect(e.ventingS == nil && s2.allSatisfy { $0 < 0.5 })
    }

    @Test func theOnlySensorMustPersist() {
        var short = PrecursorDetector()
        _ = Self.run(&short, n: 200, sensors: ["ae"]) { k, f in if (100...102).contains(k) { f["ae_hit_rate_hz"] = 400 } }
        #expect(short.ventingS == nil)
        var long = PrecursorDetector()
        _ = Self.run(&long, n: 200, sensors: ["ae"]) { k, f in if (100...120).contains(k) { f["ae_hit_rate_hz"] = 400 } }
        // The 2 s mean reaches 50/s at the first burst tick; 5 s of it after that.
        #expect(long.ventingS.map { (104...107).contains($0) } == true, "\(String(describing: long.ventingS))")
    }

    @Test func switchingTheChargeOffAndCoolingIsNotAPrecursor() {
        var d = PrecursorDetector()
        let s = Self.run(&d, n: 600) { k, f in
            guard k >= 300 else { return }
            f["current_a"] = 0
            f["voltage_v"] = 4.2
            let cool = 35 - 5 * (1 - exp(-Double(k - 300) / 120))
            f["ir_mean_c"] = cool
            f["cell_temp_c"] = cool
        }
        #expect(d.ventingS == nil && d.selfHeatingS == nil && s.allSatisfy { $0 < 0.5 }, "max \(s.max()!)")
    }

    @Test func selfHeatingUnderSteadyChargeIsAPrecursor() {
        var d = PrecursorDetector()
        // From t = 600 s the cell adds heat of its own: the rate climbs (Arrhenius-like).
        let s = Self.run(&d, n: 1500) { k, f in
            let t = Double(k)
            if k > 600 {
                let extra = 0.5 * (exp((t - 600) / 200) - 1)
                f["cell_temp_c"]! += extra
                f["ir_mean_c"]! += extra
            }
            _ = t
        }
        #expect(s[..<600].allSatisfy { $0 < 0.5 })
        #expect(d.ventingS == nil)
        // The extra rate, 0.15 °C/min x exp((t - 600) / 200), is 1 °C/min above the minimum near t = 1000 s; then the 60 s slope and the 20 s hold.
        #expect(d.selfHeatingS.map { $0 > 1000 && $0 < 1100 } == true, "\(String(describing: d.selfHeatingS))")
        let after = s[Int(d.selfHeatingS!)...]
        #expect(after.allSatisfy { $0 == 0.8 })
    }

    @Test func registeredAndDescribed() {
        #expect(DetectorRegistry.builtIn.contains("precursor"))
        let d = DetectorRegistry.make("precursor")
        #expect(d?.name == "precursor")
        #expect(d?.parameters["coincidence_s"] == 10 && d?.parameters["self_heating_hold_s"] == 20)
    }
}
