import Foundation
import Testing
import TRWCore
import TRWStore
import TRWTestSupport
@testable import TRWAnnotate

/// The label and marker commands as a person runs them (the `trw` binary), on a finished
/// 494 s session as in issue 17's measurements.
@Suite struct LabelCommandFaultTests {
    func finished(_ dir: TemporaryDirectory) throws -> String {
        let path = dir.file("run.sqlite")
        let w = try SessionWriter(creating: path, session: NewSession(
            name: "run", rigName: "test", clock: SessionClock(startMonotonicNs: 0, startRealtimeNs: 0)), softwareVersion: "test")
        let id = try w.addStream(StreamDescriptor(key: "bms0", kind: .bms, device: "test", format: "kv", nominalRateHz: 1))
        var batch = WriteBatch()
        for s in 0...494 {
            let t = Int64(s) * 1_000_000_000
            batch.bms.append(BMSSampleRecord(streamId: id, sample: BMSSample(hostArrivalNs: t, voltageV: 4.1, raw: ""), tNs: t))
        }
        try w.write(batch)
        try w.finalize(status: .complete, endTNs: 494_000_000_000)
        return path
    }

    /// Runs trw; returns (exit status, stdout + stderr).
    func trw(_ args: [String]) throws -> (Int32, String) {
        let exe = try #require(builtProduct("trw"), "build the trw product first (swift build)")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: exe)
        p.arguments = args
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        try p.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        return (p.terminationStatus, text)
    }

    @Test func refusedLabelsAndForce() throws {
        let dir = TemporaryDirectory()
        let s = try finished(dir)
        var (st, out) = try trw(["label", "add", s, "runaway_onset", "9999", "--author", "ana"])
        #expect(st == 1 && out.contains("outside the session (0.000 s to 494.000 s)") && out.contains("--force"), "\(out)")
        (st, out) = try trw(["label", "add", s, "runaway_onest", "300", "--author", "ana"])
        #expect(st == 1 && out.contains("did you mean runaway_onset?"), "\(out)")
        (st, out) = try trw(["label", "add", s, "runaway_onset", "300", "--author", "ana"])
        #expect(st == 0, "\(out)")
        (st, out) = try trw(["label", "add", s, "runaway_onset", "320", "--author", "ana"])
        #expect(st == 1 && out.contains("set 'ana' already has runaway_onset at 300.000 s"), "\(out)")
        (st, out) = try trw(["label", "add", s, "smoke_seen", "100", "--author", "ana", "--custom"])
        #expect(st == 0 && out.contains("custom:smoke_seen"), "\(out)")
        (st, out) = try trw(["label", "add", s, "bad name", "100"])
        #expect(st == 64, "a malformed name is a usage error: \(out)")
        (st, out) = try trw(["label", "add", s, "runaway_onset", "9999", "--author", "ana", "--force"])
        #expect(st == 0 && out.contains("forced over: time 9999.000 s is outside the session"), "\(out)")
        (st, out) = try trw(["label", "history", s])
        #expect(out.contains("(forced over: "), "\(out)")
        let labels = try SessionReader(path: s).annotations()
        #expect(labels.map(\.label).sorted() == ["custom:smoke_seen", "runaway_onset", "runaway_onset"])
    }

    @Test func markersOnAFinishedSession() throws {
        let dir = TemporaryDirectory()
        let s = try finished(dir)
        // Issue 17: without --at the marker landed at "now" (inside or after the data).
        var (st, out) = try trw(["mark", s, "vent seen"])
        #expect(st == 1 && out.contains("give --at SECONDS"), "\(out)")
        (st, out) = try trw(["mark", s, "vent seen", "--at", "9999"])
        #expect(st == 1 && out.contains("outside"), "\(out)")
        #expect(try SessionReader(path: s).markers(includeHistory: true).isEmpty, "nothing stored by refused marks")
        (st, out) = try trw(["mark", s, "vent seen", "--at", "240"])
        #expect(st == 0, "\(out)")
        (st, out) = try trw(["mark", s, "typo", "--at", "156"])
        #expect(st == 0, "\(out)")
        let typo = try #require(try SessionReader(path: s).markers().first { $0.text == "typo" }?.id)
        (st, out) = try trw(["mark", s, "--remove", "\(typo)"])
        #expect(st == 0 && out.contains("removed marker \(typo)"), "\(out)")
        (st, out) = try trw(["mark", s, "--list"])
        #expect(st == 0 && out.contains("vent seen") && !out.contains("typo"), "\(out)")
        (st, out) = try trw(["mark", s, "--list", "--history"])
        #expect(out.contains("(removal of \(typo))"), "\(out)")
        (st, out) = try trw(["mark", s, "--remove", "\(typo)"])
        #expect(st == 1 && out.contains("no current marker with id \(typo)"), "\(out)")
        // A removed marker no longer resolves as a time.
        #expect(throws: TimeParsing.Error.self) { try TimeParsing.parse("marker:typo", markers: try SessionReader(path: s).markers()) }
    }
}
