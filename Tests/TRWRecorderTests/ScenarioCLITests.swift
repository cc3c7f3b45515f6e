import Foundation
import Testing
import TRWSimulator
import TRWTestSupport

/// `trw scenario sample` and `trw scenario upgrade` as a user runs them.
@Suite struct ScenarioCLITests {
    /// The same seed writes byte-identical files (and samples.json); every file loads
    /// (`trw scenario check` exits 0) to the scenario the sampler library draws.
    @Test func sampleIsReproducibleAndEveryFileLoads() throws {
        let trw = try #require(builtProduct("trw"), "build the trw product first (swift build)")
        let dir = TemporaryDirectory()
        for out in ["a", "b"] {
            let r = try CLIRun.run(trw, ["scenario", "sample", "--n", "12", "--seed", "9", "--out", dir.file(out)], in: dir.path, timeoutS: 60)
            #expect(r.status == 0 && !r.signaled, "\(r)")
        }
        let names = try FileManager.default.contentsOfDirectory(atPath: dir.file("a")).sorted()
        #expect(names.filter { $0.hasSuffix(".toml") }.count == 12 && names.contains("samples.json"))
        for n in names {
            let a = try Data(contentsOf: URL(fileURLWithPath: dir.file("a/\(n)")))
            let b = try Data(contentsOf: URL(fileURLWithPath: dir.file("b/\(n)")))
            #expect(a == b, "\(n) differs between two runs with seed 9")
        }
        let tomls = names.filter { $0.hasSuffix(".toml") }.map { dir.file("a/\($0)") }
        let check = try CLIRun.run(trw, ["scenario", "check"] + tomls, in: dir.path, timeoutS: 60)
        #expect(check.status == 0 && check.stdout.split(separator: "\n").count == 12, "\(check)")
        for (i, path) in tomls.enumerated() {
            let expected = ScenarioSampler(seed: 9).scenario(i).0
            #expect(try Scenario.load(contentsOf: URL(fileURLWithPath: path)) == expected)
        }
    }

    /// An old single-step file upgrades to [[protocol.step]] / [[ambient.profile]] tables that
    /// load to the same scenario; its leading comment is kept.
    @Test func upgradeKeepsTheScenario() throws {
        let trw = try #require(builtProduct("trw"), "build the trw product first (swift build)")
        let dir = TemporaryDirectory()
        for name in ["control_charge_rest", "control_ambient_heating"] {
            let src = repositoryRoot() + "/scenarios/\(name).toml"
            let r = try CLIRun.run(trw, ["scenario", "upgrade", src, "--out", dir.file("\(name).toml")], in: dir.path, timeoutS: 60)
            #expect(r.status == 0, "\(r)")
            let text = try String(contentsOfFile: dir.file("\(name).toml"), encoding: .utf8)
            #expect(text.hasPrefix("# Negative control"))
            #expect(text.contains(name == "control_charge_rest" ? "[[protocol.step]]" : "[[ambient.profile]]"))
            #expect(try Scenario.load(contentsOf: URL(fileURLWithPath: dir.file("\(name).toml")))
                    == Scenario.load(contentsOf: URL(fileURLWithPath: src)))
        }
        let bad = try CLIRun.run(trw, ["scenario", "upgrade", dir.file("missing.toml")], in: dir.path, timeoutS: 30)
        #expect(bad.status == 1 && bad.stderr.contains("missing.toml"), "\(bad)")
    }

    /// A camera whose calibrated range ends at 60 degC (0.1 K mode) in a 90 degC chamber: every
    /// frame saturates; the session says so (`custom:ir_saturated` in the sensor-truth set, the
    /// stream's `saturation_counts`) and `trw plot` marks the frames and the limit.
    @Test func saturationIsRecordedAndPlotted() throws {
        let trw = try #require(builtProduct("trw"), "build the trw product first (swift build)")
        let dir = TemporaryDirectory()
        try """
            name = "hot"
            [cell]
            capacity_ah = 2.0
            [ambient]
            temperature_c = 90
            [protocol]
            start_soc = 0.5
            step = []
            [grid]
            nx = 8
            ny = 5
            [sensors.ir]
            width = 16
            height = 12
            fps = 1
            range = "0.1K"
            range_max_c = 60
            [sensors.ae]
            rate_hz = 8000
            [run]
            duration_cap_s = 10
            """.write(toFile: dir.file("hot.toml"), atomically: true, encoding: .utf8)
        let sim = try CLIRun.run(trw, ["simulate", dir.file("hot.toml"), "--out", dir.file("hot.sqlite")], in: dir.path, timeoutS: 120)
        #expect(sim.status == 0, "\(sim)")
        #expect(sim.stdout.contains("custom:ir_saturated") && sim.stdout.contains("simulator_sensor_truth"), "\(sim.stdout)")
        let plot = try CLIRun.run(trw, ["plot", dir.file("hot.sqlite"), "-o", dir.file("hot.svg")], in: dir.path, timeoutS: 120)
        #expect(plot.status == 0, "\(plot)")
        let svg = try String(contentsOfFile: dir.file("hot.svg"), encoding: .utf8)
        #expect(svg.contains("ir0 saturates at 60") && svg.contains("IR frames at saturation"))
    }
}
