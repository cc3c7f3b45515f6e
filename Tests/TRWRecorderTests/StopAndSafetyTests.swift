import Foundation
import Testing
import TRWCore
import TRWStore
import TRWTestSupport
@testable import TRWRecorder
import TRWRig

@Suite struct StopRuleTests {
    @Test func maxTemperatureMustHoldForTheWholeTime() {
        let e = StopRuleEngine(rules: [.maxTemperature(celsius: 100, holdS: 2)])
        var t: Int64 = 0
        // 1.5 s above, then a dip: the hold restarts.
        for c in [101.0, 102, 103, 99, 101, 101, 101, 101] {
            #expect(e.observeTemperature(tNs: t, celsius: c) == nil || t >= 6_500_000_000)
            t += 500_000_000
        }
        #expect(e.firedRule == nil)
        #expect(e.observeTemperature(tNs: t, celsius: 105) == .maxTemperature(celsius: 100, holdS: 2))
        #expect(e.firedRule == .maxTemperature(celsius: 100, holdS: 2))
    }

    @Test func voltageRuleWaitsForRunaway() {
        let e = StopRuleEngine(rules: [.voltageBelowAfterRunaway(volts: 1.0)])
        // Voltage collapse before runaway does not stop the run.
        #expect(e.observeVoltage(tNs: 0, volts: 0.5) == nil)
        // Runaway: +2 degC/s for 5 s (GB 38031 needs >= 1 degC/s for 3 s).
        for i in 0...50 { _ = e.observeTemperature(tNs: Int64(i) * 100_000_000, celsius: 60 + 0.2 * Double(i)) }
        let onset = try! #require(e.runawayTNs)
        #expect(onset <= 1_000_000_000, "runaway onset is the start of the sustained rise")
        #expect(e.observeVoltage(tNs: 5_100_000_000, volts: 3.9) == nil)
        #expect(e.observeVoltage(tNs: 5_200_000_000, volts: 0.8) == .voltageBelowAfterRunaway(volts: 1.0))
    }

    @Test func slowHeatingIsNotRunaway() {
        let e = StopRuleEngine(rules: [])
        for i in 0...600 { _ = e.observeTemperature(tNs: Int64(i) * 100_000_000, celsius: 25 + 0.05 * Double(i)) }  // 0.5 degC/s
        #expect(e.runawayTNs == nil)
    }

    @Test func recorderStopsOnRuleAndSaysWhy() throws {
        final class Heating: Source, @unchecked Sendable {
            let name = "heating"
            var streams: [StreamDescriptor] { [StreamDescriptor(key: "bms0", kind: .bms, device: "x", format: "kv", nominalRateHz: 10)] }
            func run(into sink: any SampleSink) throws {
                let start = HostClock.monotonicNanoseconds()
                for i in 0..<10_000 {
                    let c = 25 + Double(i) * 0.5
                    let ok = sink.emit(.bms(BMSSample(hostArrivalNs: start + Int64(i) * 100_000_000, voltageV: 4.2, cellTempsC: [c], raw: "T1=\(c)")),
                                       stream: "bms0", mode: .blockIfFull)
                    if !ok { return }
                }
            }
            func stop() {}
        }
        let dir = TemporaryDirectory()
        var o = RecorderOptions(name: "t", outputPath: dir.file("s.sqlite"), rigName: "t")
        o.realTime = false
        o.stopRules = [.maxTemperature(celsius: 150, holdS: 1)]
        let r = Recorder(sources: [Heating()], options: o)
        try r.start()
        let res = r.wait()
        #expect(res.status == .complete)
        #expect(res.detail == "stopped by rule: temperature >= 150.0 °C held 1.0 s")
        #expect(try SessionReader(path: o.outputPath).session().statusDetail == res.detail)
    }
}

@Suite struct PreflightTests {
    @Test func refusesWhenTheRunCannotFitWithNumbers() throws {
        let ir = StreamDescriptor(key: "ir0", kind: .thermal, device: "x", format: "Y16", nominalRateHz: 50, width: 640, height: 480)
        let est = Preflight.estimate(streams: [ir], outputPath: NSTemporaryDirectory() + "x.sqlite")
        let free = try #require(est.freeBytes)
        let tooLong = Double(free) / est.bytesPerSecond * 2
        do {
            _ = try Preflight.check(streams: [ir], outputPath: NSTemporaryDirectory() + "x.sqlite", durationS: tooLong)
            Issue.record("preflight accepted a run twice the free space")
        } catch let e as PreflightError {
            #expect(e.description.contains("MB are free") && e.description.contains("not starting"))
        }
        _ = try Preflight.check(streams: [ir], outputPath: NSTemporaryDirectory() + "x.sqlite", durationS: 1)
    }
}

@Suite(.serialized) struct DiskFullRecorderTests {
    /// ENOSPC on a real small filesystem: the recording stops cleanly with a
    /// clear message and everything committed stays readable.
    @Test func enospcOnSmallTmpfsStopsCleanly() throws {
        let dir = TemporaryDirectory()
        let mnt = dir.file("small")
        try FileManager.default.createDirectory(atPath: mnt, withIntermediateDirectories: true)
        let mount = Process()
        mount.executableURL = URL(fileURLWithPath: "/bin/mount")
        mount.arguments = ["-t", "tmpfs", "-o", "size=8m", "tmpfs", mnt]
        mount.standardError = FileHandle.nullDevice
        try mount.run()
        mount.waitUntilExit()
        guard mount.terminationStatus == 0 else {
            print("skipping ENOSPC test: cannot mount a tmpfs here (needs root); SQLITE_FULL is still tested in TRWStoreTests")
            return
        }
        defer {
            let u = Process()
            u.executableURL = URL(fileURLWithPath: "/bin/umount")
            u.arguments = [mnt]
            try? u.run()
            u.waitUntilExit()
        }
        var so = SyntheticSource.Options()
        so.width = 160; so.height = 120; so.durationS = 30
        var o = RecorderOptions(name: "full", outputPath: mnt + "/full.sqlite", rigName: "synthetic")
        o.realTime = false
        o.preflight = false  // the point is to hit the wall
        o.commitBytes = 200_000  // many small commits before the wall
        let r = Recorder(sources: [SyntheticSource(options: so)], options: o)
        try r.start()
        let res = r.wait()
        #expect(res.status == .aborted)
        #expect(res.detail.contains("disk full"), "detail: \(res.detail)")
        let reader = try SessionReader(path: o.outputPath)
        let ir = try #require(try reader.stream(key: "ir0"))
        let frames = try reader.frameSummaries(streamId: ir.id!)
        #expect(frames.count >= 5)
        #expect(frames.map(\.sequence) == Array(0..<Int64(frames.count)))
    }
}

@Suite struct PreflightPathTests {
    @Test(arguments: ["sessions/new/x.sqlite", "x.sqlite", "/nonexistent-root-dir/a/b.sqlite", "./a/b/c.sqlite"])
    func freeSpaceIsFoundForFoldersThatDoNotExistYet(path: String) {
        #expect(Preflight.freeBytes(atDirectoryOf: path) != nil)
    }
}
