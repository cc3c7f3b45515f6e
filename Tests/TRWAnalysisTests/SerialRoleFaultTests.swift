import Foundation
import Testing
import TRWCore
import TRWStore
import TRWTestSupport
@testable import TRWAnalysis

/// A 494 s session with two serial instruments as in rigs/chamber-full.toml: the cell's BMS
/// (voltage ~4.1 V, current, cell temperature) and the supply (12 V, current, no temperature),
/// each at 1 Hz, half a second apart. `roles`: the roles stored on (bms0, psu0); `psuFirst`:
/// the supply is the first stream of the rig.
func twoInstrumentSession(_ dir: TemporaryDirectory, roles: (InstrumentRole?, InstrumentRole?), psuFirst: Bool = false,
                          seconds: Int = 494) throws -> String {
    let path = dir.file("two.sqlite")
    let w = try SessionWriter(creating: path, session: NewSession(
        name: "two", rigName: "chamber-1 full", clock: SessionClock(startMonotonicNs: 0, startRealtimeNs: 0)), softwareVersion: "test")
    let bmsD = StreamDescriptor(key: "bms0", kind: .bms, device: "/dev/pts/1", format: "key_value", nominalRateHz: 1, role: roles.0)
    let psuD = StreamDescriptor(key: "psu0", kind: .bms, device: "/dev/pts/2", format: "scpi", nominalRateHz: 1, role: roles.1)
    let psu: Int64, bms: Int64
    if psuFirst {
        psu = try w.addStream(psuD)
        bms = try w.addStream(bmsD)
    } else {
        bms = try w.addStream(bmsD)
        psu = try w.addStream(psuD)
    }
    var batch = WriteBatch()
    for s in 0..<seconds {
        let tb = Int64(s) * 1_000_000_000 + 200_000_000, tp = Int64(s) * 1_000_000_000 + 700_000_000
        batch.bms.append(BMSSampleRecord(streamId: bms, sample: BMSSample(
            hostArrivalNs: tb, voltageV: 4.1 + Double(s) * 1e-4, currentA: 1.0, cellTempsC: [25 + Double(s) * 0.01], ambientC: 23, raw: "bms"), tNs: tb))
        batch.bms.append(BMSSampleRecord(streamId: psu, sample: BMSSample(hostArrivalNs: tp, voltageV: 12, currentA: 1.01, raw: "psu"), tNs: tp))
    }
    try w.write(batch)
    try w.finalize(status: .complete, endTNs: Int64(seconds) * 1_000_000_000)
    return path
}

@Suite struct SerialRoleFaultTests {
    /// Issue 17: with bms0 and psu0, cell_temp_c was empty on 246 of 494 ticks and voltage_v
    /// alternated between the two instruments.
    @Test(arguments: [false, true]) func featuresTakeEachFieldFromTheCellBMS(psuFirst: Bool) throws {
        let dir = TemporaryDirectory()
        let path = try twoInstrumentSession(dir, roles: (.cellBMS, .supply), psuFirst: psuFirst)
        var o = FeatureOptions()
        o.decodePayloads = false
        let t = try FeatureExtractor.extract(try SessionReader(path: path), options: o)
        #expect(t.count == 494)
        #expect(t.serialRoles == SerialRoles(cell: "bms0", ambient: "bms0", note: nil))
        let temp = try #require(t.column("cell_temp_c")), volts = try #require(t.column("voltage_v"))
        #expect(temp.filter(\.isNaN).count == 0, "cell_temp_c present on every tick after the first sample")
        #expect(volts.allSatisfy { $0 > 4.0 && $0 < 4.2 }, "voltage_v from the cell's BMS only, never the supply's 12 V")
        let amps = try #require(t.column("current_a"))
        #expect(amps.allSatisfy { $0 == 1.0 }, "current_a from the cell's BMS (1.0 A), not the supply (1.01 A)")
        // dv_v is the cell's change, never the 8 V jump between instruments.
        #expect(try #require(t.column("dv_v")).dropFirst().allSatisfy { $0 < 0.01 })
    }

    /// Old files (no roles) with several serial streams: the first in the rig is the cell's
    /// BMS, the choice is said, and fields never alternate.
    @Test func withoutRolesTheFirstStreamIsTakenAndSaidSo() throws {
        let dir = TemporaryDirectory()
        let path = try twoInstrumentSession(dir, roles: (nil, nil))
        var o = FeatureOptions()
        o.decodePayloads = false
        let t = try FeatureExtractor.extract(try SessionReader(path: path), options: o)
        #expect(t.serialRoles.cell == "bms0")
        let note = try #require(t.serialRoles.note)
        #expect(note.contains("2 serial streams without a role (bms0, psu0)") && note.contains("role = \"cell_bms\""))
        #expect(try #require(t.column("voltage_v")).allSatisfy { $0 > 4.0 && $0 < 4.2 })
        #expect(try #require(t.column("cell_temp_c")).filter(\.isNaN).isEmpty)
    }

    @Test func roleRules() {
        // One stream without a role is the cell's BMS, silently (the old single-BMS files).
        #expect(SerialRoles.resolve([("bms0", nil)]) == SerialRoles(cell: "bms0", ambient: "bms0", note: nil))
        // A supply is never the cell's, even as the only serial stream.
        let onlySupply = SerialRoles.resolve([("psu0", .supply)])
        #expect(onlySupply.cell == nil && onlySupply.note?.contains("no serial stream has role cell_bms") == true)
        // Named supply + unnamed BMS: the unnamed one is the cell's, no note needed.
        #expect(SerialRoles.resolve([("psu0", .supply), ("bms0", nil)]).cell == "bms0")
        // An ambient sensor feeds ambient_c.
        #expect(SerialRoles.resolve([("bms0", .cellBMS), ("amb0", .ambient)]) == SerialRoles(cell: "bms0", ambient: "amb0", note: nil))
        #expect(SerialRoles.resolve([]) == SerialRoles(cell: nil, ambient: nil, note: nil))
    }
}
