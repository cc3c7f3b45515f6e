import Foundation
import Testing
import TRWAnalysis
import TRWCore
import TRWStore
import TRWTestSupport
import TRWRecorder
@testable import TRWLive

/// The live tap takes each BMS field from its role's stream, as the export does: with a cell's
/// BMS and a supply interleaved, voltage_v is the cell's on every tick and cell_temp_c is never
/// blanked by a supply reading (issue 17, item 8).
@Suite struct LiveTapRoleFaultTests {
    @Test func liveTicksTakeTheCellBMSFields() throws {
        let dir = TemporaryDirectory()
        let sock = dir.file("live.sock")
        let streams = [
            StreamDescriptor(key: "psu0", kind: .bms, device: "p", format: "scpi", nominalRateHz: 1, role: .supply),
            StreamDescriptor(key: "bms0", kind: .bms, device: "b", format: "key_value", nominalRateHz: 1, role: .cellBMS),
        ]
        let tap = try LiveTap(path: sock, rateHz: 1, featureNames: FeatureExtractor.names(FeatureOptions()))
        tap.setHeader(session: NewSession(name: "live", rigName: "t", clock: SessionClock(startMonotonicNs: 0, startRealtimeNs: 0)), uuid: "u")
        let ticks = LiveTicks(rateHz: 1, stallS: 60, streams: streams, sinks: [tap])
        let (fd, received, connected) = followLiveSocket(sock)
        defer { close(fd) }
        #expect(connected)
        // Accepted once the header line arrives (bounded wait, generous for a loaded machine).
        let deadline = Date(timeIntervalSinceNow: 10)
        while !received.text.contains("\"type\":\"session\"") && Date() < deadline { usleep(10_000) }
        #expect(received.text.contains("\"type\":\"session\""), "the tap never accepted the client")
        for s in 0..<10 {
            let tb = Int64(s) * 1_000_000_000 + 200_000_000, tp = tb + 500_000_000
            ticks.bms(tNs: tb, BMSSample(hostArrivalNs: tb, voltageV: 4.1, currentA: 1, cellTempsC: [25 + Double(s)], raw: ""), stream: "bms0")
            ticks.bms(tNs: tp, BMSSample(hostArrivalNs: tp, voltageV: 12, currentA: 1.01, raw: ""), stream: "psu0")
        }
        let late = ticks.finish(endTNs: 10_000_000_000)
        #expect(late == 0)
        tap.finish(endTNs: 10_000_000_000, lateSamples: late)
        #expect(received.done.wait(timeout: .now() + 10) == .success, "no end line")
        let tickLines = received.text.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            .filter { $0["type"] as? String == "tick" }
        #expect(tickLines.count == 10)
        for t in tickLines {
            let f = try #require(t["features"] as? [String: Any])
            #expect(f["voltage_v"] as? Double == 4.1, "tick \(t["t"] ?? "?"): voltage_v \(f["voltage_v"] ?? "null")")
            #expect(f["current_a"] as? Double == 1, "tick \(t["t"] ?? "?")")
            #expect(f["cell_temp_c"] as? Double != nil, "tick \(t["t"] ?? "?"): cell_temp_c empty")
        }
    }
}
