import Foundation
import Testing
@testable import TRWSimulator

/// The package's scenarios folder, found from this file.
let scenariosFolder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("scenarios")

func loadScenario(_ name: String) throws -> Scenario {
    try Scenario.load(contentsOf: scenariosFolder.appendingPathComponent("\(name).toml"))
}

/// Runs the physics of a scenario on a coarse grid (16 x 10, 0.5 s steps) until
/// runaway has run its course or the scenario's duration cap.
func runPhysics(_ name: String) throws -> (Scenario, CellSimulation) {
    var s = try loadScenario(name)
    s.grid = GridSpec(nx: 16, ny: 10, stepS: 0.5)
    let sim = CellSimulation(scenario: s)
    while sim.time < s.run.durationCapS {
        sim.step(dt: 0.5)
        // Until the runaway has run its course: 30 s past the temperature peak (as the rig stops), at most 10 min.
        if let o = sim.truth.runawayOnsetS, sim.time > o + 60, sim.time > sim.truth.peakS + 30 || sim.time > o + 600 { break }
    }
    return (s, sim)
}

@Suite struct ScenarioTests {
    static let runaway = ["demo", "ncm_overcharge_05c", "lco_overcharge_1c"]
    static let controls = ["control_charge_rest", "control_mild_overcharge_stopped", "control_ambient_heating"]
    /// Abuse that vents without running away (issue 19: a small LFP cell at 1C settles on the oxidation heat).
    static let tolerant = ["lfp_overcharge_1c"]

    @Test(arguments: runaway + controls + tolerant)
    func scenarioLoads(name: String) throws {
        let s = try loadScenario(name)
        #expect(s.name == name)
        #expect(s.expectRunaway == Self.runaway.contains(name))
    }

    /// Runaway scenarios cross GB 38031 (dT/dt >= 1 degC/s for 3 s on the true max temperature),
    /// after venting and self-heating onset, with the voltage collapsing.
    @Test(arguments: runaway)
    func runawayScenarioCrossesGB38031(name: String) throws {
        let (s, sim) = try runPhysics(name)
        let onset = try #require(sim.truth.runawayOnsetS, "\(name): no runaway in \(sim.time) s, peak \(sim.truth.peakMaxC) degC")
        #expect(onset < s.run.durationCapS)
        let vent = try #require(sim.truth.ventingS)
        let sh = try #require(sim.truth.selfHeatingOnsetS)
        // Venting within 30 s after the onset is accepted: the plated lithium's reaction, which drives the
        // runaway, is also the largest gas source, so at 2C (demo) the vent opens with the runaway itself.
        #expect(vent < onset + 30 && sh < onset, "\(name): vent \(vent), self-heating \(sh), onset \(onset)")
        #expect(sim.truth.peakMaxC > 200, "\(name): peak \(sim.truth.peakMaxC) degC")
        #expect(sim.voltage < 1.0, "\(name): voltage after runaway \(sim.voltage) V; onset \(onset), separator \(String(describing: sim.truth.separatorFailureS)), peak \(sim.truth.peakMaxC) at \(sim.truth.peakS), end \(sim.time)")
    }

    /// Negative controls never cross GB 38031 and stay below the separator melt-down.
    @Test(arguments: controls)
    func negativeControlNeverRunsAway(name: String) throws {
        let (s, sim) = try runPhysics(name)
        #expect(sim.time >= s.run.durationCapS - 1)
        #expect(sim.truth.runawayOnsetS == nil, "\(name): runaway at \(String(describing: sim.truth.runawayOnsetS))")
        #expect(!sim.separatorFailed)
        #expect(sim.truth.peakMaxC < 100, "\(name): peak \(sim.truth.peakMaxC) degC")
    }

    /// An overcharge-tolerant cell vents, heats and does not run away (no separator melt-down).
    @Test(arguments: tolerant)
    func tolerantScenarioVentsWithoutRunaway(name: String) throws {
        let (s, sim) = try runPhysics(name)
        #expect(sim.time >= s.run.durationCapS - 1)
        #expect(sim.truth.ventingS != nil, "\(name) did not vent")
        #expect(sim.truth.runawayOnsetS == nil, "\(name): runaway at \(String(describing: sim.truth.runawayOnsetS))")
        #expect(!sim.separatorFailed)
        #expect(sim.truth.peakMaxC > 60 && sim.truth.peakMaxC < 150, "\(name): peak \(sim.truth.peakMaxC) degC")
    }

    @Test func wrongTypeNamesFileAndKey() {
        let toml = """
        name = "x"
        [cell]
        chemistry = "NCM"
        capacity_ah = "two"
        """
        do {
            _ = try Scenario.parse(toml: toml, file: "bad.toml")
            Issue.record("a string capacity was accepted")
        } catch let ScenarioError.invalidValue(file, key, found, expected) {
            #expect(file == "bad.toml" && key == "cell.capacity_ah" && expected == "a number")
            #expect(found.contains("two"))
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    @Test func unknownChemistryAndRangeAreRejected() {
        #expect(throws: ScenarioError.self) { _ = try Scenario.parse(toml: "[cell]\nchemistry = \"NaS\"", file: "c.toml") }
        do {
            _ = try Scenario.parse(toml: "[protocol]\nc_rate = 50", file: "r.toml")
            Issue.record("c_rate 50 accepted")
        } catch {
            #expect("\(error)".contains("r.toml") && "\(error)".contains("protocol.c_rate") && "\(error)".contains("0.0...20.0"))
        }
    }

    @Test func syntaxErrorNamesFileAndLine() {
        do {
            _ = try Scenario.parse(toml: "name = \"x\"\n[cell\n", file: "s.toml")
            Issue.record("bad TOML accepted")
        } catch let ScenarioError.syntax(file, line, _, _) {
            #expect(file == "s.toml")
            #expect(line == 2)
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    @Test func namedFindsPackageScenarios() throws {
        let s = try Scenario.named("demo")
        #expect(s.name == "demo")
        #expect(throws: ScenarioError.self) { _ = try Scenario.named("no_such_scenario_here") }
        #expect(Set(Self.runaway + Self.controls + Self.tolerant).isSubset(of: Set(Scenario.available())))
    }
}

/// Venting: when the gas held in the cell reaches the threshold the vent opens (the ground-truth
/// instant), the cell ejects electrolyte vapour (surface cooling: the heating rate over the next 5 s
/// falls below half of the 5 s before), the gas escapes within seconds, and the only electrical
/// signature is the release of the gas-filled layers' extra resistance: the terminal voltage steps
/// down by I x 10 % of R_ohm at most (issue 19 removed a fixed 150 mV, 0.4 s "contact glitch" that
/// a detector could learn instead of the physics).
@Test func ventingCoolsTheSurfaceAndReleasesTheGas() throws {
    var s = try loadScenario("demo")
    s.grid = GridSpec(nx: 16, ny: 10, stepS: 0.1)
    let sim = CellSimulation(scenario: s)
    var history: [(t: Double, mean: Double, v: Double, gas: Double, flow: Double)] = []
    while sim.time < 1200 {
        sim.step(dt: 0.1)
        history.append((sim.time, sim.meanTemperatureC, sim.voltage, sim.gasMol, sim.ventFlowMolPerS))
        if let tv = sim.truth.ventingS, sim.time > tv + 6 { break }
    }
    let tv = try #require(sim.truth.ventingS, "demo did not vent within 1200 s")
    func at(_ t: Double) -> (t: Double, mean: Double, v: Double, gas: Double, flow: Double) { history.min { abs($0.t - t) < abs($1.t - t) }! }
    let before = (at(tv).mean - at(tv - 5).mean) / 5
    let during = (at(tv + 5).mean - at(tv).mean) / 5
    #expect(before > 0.05, "heating before the vent \(before) K/s")
    #expect(during < 0.5 * before, "heating rate \(before) K/s before the vent, \(during) K/s during")
    // The gas reached the threshold at the instant, then escapes (time constant 1 s).
    #expect(history.last { $0.t < tv - 0.05 }!.gas >= s.cell.ventGasMol * 0.95)
    #expect(at(tv + 5).gas < 0.05 * s.cell.ventGasMol, "gas held 5 s after venting: \(at(tv + 5).gas) mol")
    #expect(at(tv + 0.2).flow > s.cell.ventGasMol / 2, "vent flow at opening \(at(tv + 0.2).flow) mol/s")
    // Electrical signature: at most I x 0.1 R_ohm (plus the trend), no fixed glitch.
    let vBefore = history.last { $0.t < tv - 0.05 }!.v
    let vAfter = history.filter { $0.t >= tv && $0.t <= tv + 2 }.map(\.v)
    let bound = 0.1 * s.testProtocol.cRate * s.cell.capacityAh * s.cell.resistanceOhm + 0.01
    #expect(vAfter.allSatisfy { abs($0 - vBefore) <= bound }, "voltage \(vBefore) -> \(vAfter.min()!)...\(vAfter.max()!) V, bound \(bound) V")
}
