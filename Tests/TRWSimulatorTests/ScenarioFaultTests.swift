import Foundation
import Testing
import TRWTestSupport
@testable import TRWSimulator

/// Typos in scenario files are refused with FILE:LINE, the dotted key and the
/// nearest known key (issue 17 item 5): `capcity_ah = 20` must not simulate a 2 Ah cell.
@Suite struct ScenarioFaultTests {
    static var demo: String {
        (try? String(contentsOfFile: repositoryRoot() + "/scenarios/demo.toml", encoding: .utf8)) ?? ""
    }

    @Test(arguments: [
        ("capacity_ah = 2.0", "capcity_ah = 20", "cell.capcity_ah", "capacity_ah"),
        ("fps = 1", "fsp = 5", "sensors.ir.fsp", "fps"),
        ("seed = 20240601", "sed = 20240601", "sed", "seed"),
        ("[run]", "[rnu]", "rnu", "run"),
        ("[sensors.ae]", "[sensors.aee]", "sensors.aee", "ae"),
        ("c_rate = 2.0", "crate = 2.0", "protocol.crate", "c_rate"),
        ("temperature_c = 25", "temprature_c = 25", "ambient.temprature_c", "temperature_c"),
        ("step_s = 0.1", "step = 0.1", "grid.step", "step_s"),
        ("stop_after_peak_s = 30", "stop_after_peak = 30", "run.stop_after_peak", "stop_after_peak_s"),
        ("clock_ppm = -42", "clock_pmm = -42", "sensors.ae.clock_pmm", "clock_ppm"),
    ])
    func unknownKeyIsRefused(line: String, replacement: String, key: String, suggestion: String) throws {
        let text = Self.demo.replacingOccurrences(of: line, with: replacement)
        #expect(text != Self.demo)
        let expectedLine = text.split(separator: "\n", omittingEmptySubsequences: false)
            .firstIndex { $0.hasPrefix(replacement.split(separator: "\n")[0]) }.map { $0 + 1 }
        do {
            _ = try Scenario.parse(toml: text, file: "s.toml")
            Issue.record("a scenario with '\(replacement)' was accepted")
        } catch let ScenarioError.unknownKey(file, l, k, s, known) {
            #expect(file == "s.toml")
            #expect(l == expectedLine)
            #expect(k == key)
            #expect(s == suggestion)
            #expect(known.contains(suggestion))
        } catch {
            Issue.record("expected unknownKey, got \(error)")
        }
    }

    @Test func messageNamesFileLineKeyAndSuggestion() {
        let e = ScenarioError.unknownKey(file: "s.toml", line: 14, key: "cell.capcity_ah", suggestion: "capacity_ah", known: ["capacity_ah"])
        #expect(e.description.hasPrefix("s.toml:14: unknown key 'cell.capcity_ah'; did you mean 'capacity_ah'?"))
    }

    @Test(arguments: ["demo", "ncm_overcharge_05c", "lco_overcharge_1c", "lfp_overcharge_1c", "control_charge_rest",
                      "control_mild_overcharge_stopped", "control_ambient_heating"])
    func everyShippedScenarioHasOnlyKnownKeys(name: String) throws {
        _ = try Scenario.load(contentsOf: URL(fileURLWithPath: repositoryRoot() + "/scenarios/\(name).toml"))
    }

    @Test(arguments: [
        ("width = 640", "width = 100000"), ("width = 640", "width = 0"), ("width = 640", "width = -640"),
        ("height = 480", "height = 2049"), ("fps = 1", "fps = nan"), ("fps = 1", "fps = inf"),
        ("rate_hz = 96000", "rate_hz = 100000000"), ("duration_cap_s = 1800", "duration_cap_s = 1e300"),
        ("capacity_ah = 2.0", "capacity_ah = -inf"),
    ])
    func extremeNumbersAreRefused(line: String, replacement: String) {
        let text = Self.demo.replacingOccurrences(of: line, with: replacement)
        #expect(text != Self.demo)
        #expect(throws: ScenarioError.self) { _ = try Scenario.parse(toml: text, file: "s.toml") }
    }
}
