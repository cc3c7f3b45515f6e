import ArgumentParser
import Foundation
import TRWCore
import TRWSimulator

/// Scenario files of the simulated rig: check, upgrade to the current format, sample corpora.
struct ScenarioCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scenario",
        abstract: "Check, upgrade and sample simulator scenario files (docs/simulator.md).",
        subcommands: [Check.self, Upgrade.self, Sample.self])

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Load scenario files (names or paths) and print what each simulates; exit 1 at the first invalid one.")
        @Argument(help: "Scenario names or .toml files.") var scenarios: [String]

        func validate() throws {
            if scenarios.isEmpty { throw ValidationError("give at least one scenario name or .toml file") }
        }

        func run() throws {
            for name in scenarios {
                let s = try Scenario.named(name)
                let c = s.cell
                print("\(name): \(s.name): \(c.chemistry.rawValue) \(c.capacityAh) Ah \(c.format); \(s.testProtocol.summary); "
                    + "chamber \(s.ambient.temperatureC) degC\(s.ambient.profile.isEmpty ? "" : " + \(s.ambient.profile.count)-segment profile"); "
                    + "\(s.sensors.faults.count) sensor fault(s); IR \(s.sensors.irRange.rawValue); cap \(s.run.durationCapS) s")
            }
        }
    }

    struct Upgrade: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Rewrite a scenario file in the current format (protocol steps, ambient profile, every key spelled out).",
            discussion: """
                Files of the single-step form ([protocol] c_rate / start_soc / stop_soc / stop_after_s / \
                supply_limit_v, [ambient] ramp_to_c / ramp_c_per_min / ramp_start_s) still load as they are; \
                upgrading writes the same scenario as [[protocol.step]] and [[ambient.profile]] tables, and \
                the upgraded file loads to exactly the same scenario (checked before anything is written). \
                The comment lines at the top of the file are kept; other comments are not.
                """)
        @Argument(help: "Scenario .toml file.") var file: String
        @Option(name: .long, help: "Write here (default: print to standard output).") var out: String?
        @Flag(name: .long, help: "Rewrite FILE in place.") var inPlace = false

        func validate() throws {
            if inPlace && out != nil { throw ValidationError("--in-place and --out exclude each other") }
        }

        func run() throws {
            let url = URL(fileURLWithPath: file)
            let s = try Scenario.load(contentsOf: url)
            let text = (try? String(contentsOf: url, encoding: .utf8)) ?? ""
            let header = text.split(separator: "\n", omittingEmptySubsequences: false).prefix { $0.hasPrefix("#") }
                .map { String($0.dropFirst().drop { $0 == " " }) }
            let upgraded = s.tomlText(comment: header + ["Upgraded by `trw scenario upgrade` (protocol steps, ambient profile)."])
            let again = try Scenario.parse(toml: upgraded, file: "\(file) (upgraded)", defaultName: s.name)
            guard again == s else {
                throw CLIFailure("\(file): the upgraded text does not load to the same scenario; nothing written (please report this)")
            }
            if let path = inPlace ? file : out {
                try upgraded.write(toFile: path, atomically: true, encoding: .utf8)
                print("wrote \(path)")
            } else {
                print(upgraded, terminator: "")
            }
        }
    }

    struct Sample: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write N scenario files drawn from the documented distributions (reproducible from --seed).",
            discussion: """
                Draws chemistry, format (pouch, prismatic, 18650/21700 cylindrical), capacity, protocol, C-rate, \
                chamber, cooling, defects and sensor quality; --control-fraction of the files are negative \
                controls (normal and fast CC-CV charge, aged cell, discharge heating, chamber step and ramp, \
                overcharge stopped at 105-120 % SOC). The same --seed and distributions always write \
                byte-identical files; file i depends only on the seed and i. DIR/samples.json lists what was drawn. \
                The distributions and their defaults: docs/simulator.md, "Scenario sampler".
                """)
        @Option(name: .long, help: "Number of scenario files.") var n: Int
        @Option(name: .long, help: "Seed.") var seed: UInt64 = 1
        @Option(name: .long, help: "Output folder (created).") var out: String
        @Option(name: .long, help: "TOML file overriding the distributions (keys: docs/simulator.md).") var distributions: String?
        @Option(name: .long, help: "Share of negative controls (overrides the distributions file).") var controlFraction: Double?
        @Option(name: .long, help: "File name prefix.") var prefix = "sample"

        func validate() throws {
            try OptionCheck.integer(n, "--n", 1...100_000, unit: "files")
            try OptionCheck.number(controlFraction, "--control-fraction", 0...1, unit: "")
            if prefix.isEmpty || !prefix.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" }) {
                throw ValidationError("--prefix must be letters, digits, _ or -, got '\(prefix)'")
            }
        }

        func run() throws {
            var d = SamplerDistributions()
            if let path = distributions {
                let text: String
                do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
                    throw CLIFailure("\(path): cannot read the distributions file: \(error.localizedDescription)")
                }
                d = try SamplerDistributions.parse(toml: text, file: path)
            }
            if let f = controlFraction { d.controlFraction = f }
            let sampler = ScenarioSampler(seed: seed, distributions: d)
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
            var manifest: [String] = []
            var kinds: [String: Int] = [:]
            for i in 0..<n {
                let (s, kind) = sampler.scenario(i, prefix: prefix)
                let text = s.tomlText(comment: ["\(s.description)", "Drawn by `trw scenario sample --seed \(seed)` (file \(i)); distributions: docs/simulator.md."])
                // Every file written loads and validates.
                let back = try Scenario.parse(toml: text, file: "\(out)/\(s.name).toml", defaultName: s.name)
                guard back == s else { throw CLIFailure("\(s.name): the written file does not load to the drawn scenario (please report this)") }
                try text.write(toFile: "\(out)/\(s.name).toml", atomically: true, encoding: .utf8)
                kinds[kind.rawValue, default: 0] += 1
                let c = s.cell
                manifest.append("{\"name\":\(JSONLine.quote(s.name)),\"kind\":\"\(kind.rawValue)\",\"chemistry\":\"\(c.chemistry.rawValue)\","
                    + "\"format\":\"\(c.format)\",\"capacity_ah\":\(c.capacityAh),\"expect_runaway\":\(s.expectRunaway),"
                    + "\"ambient_c\":\(s.ambient.temperatureC),\"convection_w_m2_k\":\(s.ambient.convection),"
                    + "\"separator_failure_c\":\(c.separatorFailureC),\"hotspot_strength\":\(c.hotspotStrength),"
                    + "\"ir_range\":\"\(s.sensors.irRange.rawValue)\",\"sensor_faults\":\(s.sensors.faults.count),"
                    + "\"protocol\":\(JSONLine.quote(s.testProtocol.summary))}")
            }
            let json = "{\"seed\":\(seed),\"n\":\(n),\"control_fraction\":\(d.controlFraction),\"scenarios\":[\n"
                + manifest.joined(separator: ",\n") + "\n]}\n"
            try json.write(toFile: "\(out)/samples.json", atomically: true, encoding: .utf8)
            print("wrote \(n) scenario files to \(out) (seed \(seed)): "
                + kinds.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        }
    }
}
