import Foundation
import Testing
@testable import TRWSimulator

/// Thin-plate heat solver against analytic and conservation results.
@Suite struct HeatSolverTests {
    static let w = 0.08, h = 0.05, d = 0.004, rho = 2500.0, cp = 1100.0, k = 20.0

    func plate(nx: Int, ny: Int, emissivity: Double, convection: Double, initialC: Double) -> ThinPlateHeatSolver {
        ThinPlateHeatSolver(nx: nx, ny: ny, widthM: Self.w, heightM: Self.h, thicknessM: Self.d, density: Self.rho,
                            heatCapacity: Self.cp, conductivity: Self.k, emissivity: emissivity, convection: convection,
                            initialKelvin: initialC + 273.15)
    }

    /// Uniform plate, convection only: lumped exponential decay
    /// T - Ta = (T0 - Ta) exp(-h A t / (rho cp V)), A = both faces + the four edges.
    /// Backward Euler decays by 1/(1 + beta dt) per step instead of exp(-beta dt): relative error
    /// ~ beta^2 dt t / 2 = 0.19 % after 900 s at dt = 1 s (beta = 2.05e-3 1/s); tolerance 0.3 %.
    @Test func uniformPlateCoolingMatchesLumpedExponential() {
        var p = plate(nx: 8, ny: 6, emissivity: 0, convection: 10, initialC: 80)
        let ta = 298.15
        let area = 2 * Self.w * Self.h + 2 * (Self.w + Self.h) * Self.d
        let vol = Self.w * Self.h * Self.d
        let beta = 10 * area / (Self.rho * Self.cp * vol)
        for _ in 0..<900 { p.step(dt: 1, sources: nil, ambientKelvin: ta) }
        let expected = 55 * exp(-beta * 900)
        let mean = p.temperature.reduce(0, +) / Double(p.temperature.count) - ta
        #expect(abs(mean - expected) / expected < 0.003, "mean excess \(mean) K, analytic \(expected) K")
        // Nearly uniform: edge cells lose extra heat through the 4 mm edges (0.5 % of the
        // initial 55 K excess at most, i.e. < 0.25 K), and conduction evens it out.
        #expect((p.temperature.max()! - p.temperature.min()!) < 0.25)
    }

    /// Uniform plate with radiation: compare with the lumped ODE integrated by RK4 at 0.1 s.
    /// Tolerance 0.3 K over a 150 K cool-down (first-order splitting with dt = 1 s).
    @Test func uniformPlateRadiationMatchesLumpedODE() {
        let eps = 0.9, hc = 8.0, ta = 298.15
        var p = plate(nx: 6, ny: 4, emissivity: eps, convection: hc, initialC: 175)
        let area = 2 * Self.w * Self.h + 2 * (Self.w + Self.h) * Self.d
        let c = Self.rho * Self.cp * Self.w * Self.h * Self.d
        func f(_ t: Double) -> Double { -area * (hc * (t - ta) + eps * stefanBoltzmann * (pow(t, 4) - pow(ta, 4))) / c }
        var t = 175 + 273.15
        for _ in 0..<6000 {
            let k1 = f(t), k2 = f(t + 0.05 * k1), k3 = f(t + 0.05 * k2), k4 = f(t + 0.1 * k3)
            t += 0.1 / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        }
        for _ in 0..<600 { p.step(dt: 1, sources: nil, ambientKelvin: ta) }
        let mean = p.temperature.reduce(0, +) / Double(p.temperature.count)
        #expect(abs(mean - t) < 0.3, "solver \(mean - 273.15) degC, ODE \(t - 273.15) degC")
    }

    /// Steady hotspot: a Gaussian source on the plate. At steady state the heat
    /// generated equals the heat lost to the chamber (tolerance 0.5 %), the
    /// maximum sits on the source, and the field falls off monotonically from it.
    @Test func steadyHotspotConservesEnergy() {
        let nx = 32, ny = 20
        var p = plate(nx: nx, ny: ny, emissivity: 0.9, convection: 10, initialC: 25)
        let ta = 298.15
        var q = [Double](repeating: 0, count: nx * ny)
        let cx = 0.6 * Self.w, cy = 0.4 * Self.h, sig = 0.006
        for j in 0..<ny {
            for i in 0..<nx {
                let x = (Double(i) + 0.5) * p.dx, y = (Double(j) + 0.5) * p.dy
                q[j * nx + i] = 2e6 * exp(-((x - cx) * (x - cx) + (y - cy) * (y - cy)) / (2 * sig * sig))
            }
        }
        let generated = q.reduce(0, +) * p.cellVolume
        for _ in 0..<800 { p.step(dt: 10, sources: q, ambientKelvin: ta) }
        let lost = p.heatLossW(ambientKelvin: ta)
        #expect(generated > 1, "test source too small: \(generated) W")
        #expect(abs(lost - generated) / generated < 0.005, "generated \(generated) W, lost \(lost) W")
        let maxIndex = p.temperature.indices.max { p.temperature[$0] < p.temperature[$1] }!
        let (mi, mj) = (maxIndex % nx, maxIndex / nx)
        #expect(abs(mi - Int(0.6 * Double(nx))) <= 1 && abs(mj - Int(0.4 * Double(ny))) <= 1, "max at \(mi),\(mj)")
        // Monotone decay along the row through the hotspot, away from it.
        let row = Array(p.temperature[(mj * nx)..<(mj * nx + nx)])
        for i in (mi + 1)..<nx { #expect(row[i] < row[i - 1]) }
        for i in 0..<mi { #expect(row[i] < row[i + 1]) }
    }
}
