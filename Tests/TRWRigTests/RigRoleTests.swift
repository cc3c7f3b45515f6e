import Foundation
import Testing
import TRWCore
import TRWSimulator
import TRWTestSupport
@testable import TRWRecorder
import TRWRig

@Suite struct RigRoleTests {
    static func serial(_ key: String, role: String?) -> String {
        "[[serial]]\nstream = \"\(key)\"\n" + (role.map { "role = \"\($0)\"\n" } ?? "")
            + "[serial.port]\npath = \"/dev/ttyUSB0\"\nbaud = 9600\n[serial.protocol]\ntype = \"key_value\"\n"
    }

    @Test func chamberRigNamesTheCellBMSAndTheSupply() throws {
        let rig = try RigFile.load(path: repositoryRoot() + "/rigs/chamber-full.toml")
        #expect(rig.serial.map { "\($0.stream)=\($0.role?.rawValue ?? "nil")" } == ["bms0=cell_bms", "psu0=supply"])
    }

    @Test func unknownRoleNamesTheAllowedOnes() {
        do {
            _ = try RigFile.parse(text: Self.serial("bms0", role: "cell_bsm"), path: "r.toml")
            Issue.record("accepted an unknown role")
        } catch {
            #expect(error.description.contains("unknown role 'cell_bsm'"), "\(error)")
            #expect(error.description.contains(InstrumentRole.names), "\(error)")
            #expect(error.description.hasPrefix("r.toml"), "\(error)")
        }
    }

    @Test func twoCellBMSAreRefused() {
        do {
            _ = try RigFile.parse(text: Self.serial("bms0", role: "cell_bms") + Self.serial("bms1", role: "cell_bms"), path: "r.toml")
            Issue.record("accepted two cell_bms")
        } catch {
            #expect(error.description.contains("bms0 and bms1 both have role cell_bms"), "\(error)")
            #expect(error.line == 9, "\(error)")
        }
    }

    @Test func rolesAreOptional() throws {
        let rig = try RigFile.parse(text: Self.serial("bms0", role: nil) + Self.serial("psu0", role: "supply"), path: "r.toml")
        #expect(rig.serial.map(\.role) == [nil, .supply])
    }

    /// The simulated rig names the same roles as a rig file.
    @Test func simulatedAndSyntheticRigsHaveACellBMS() throws {
        #expect(SyntheticSource().streams.filter { $0.kind == .bms }.map(\.role) == [.cellBMS])
        let sim = SimulatedRig(scenario: try Scenario.named("demo"))
        #expect(sim.streams.filter { $0.kind == .bms }.map { "\($0.key)=\($0.role?.rawValue ?? "nil")" } == ["bms0=cell_bms"])
    }
}
