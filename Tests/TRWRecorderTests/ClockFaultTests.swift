import Foundation
import Testing
import TRWCore
import TRWStore
import TRWSync
import TRWTestSupport
@testable import TRWRecorder
import TRWDatasets
import TRWFigures

/// Device-clock faults through the whole recorder (issue 17): a recording is never ended,
/// shortened or moved by a device value. The source plays a BMS whose lines carry a device
/// clock; host arrival times are the ones a serial port would give (the recorder is not
/// real time here, so the duration rule runs on these host arrivals).
@Suite struct ClockFaultTests {
    enum Fault: String, CaseIterable, Sendable {
        /// One line's device time corrupted (the issue: t = 922,611 s at line 117 of 600).
        case spike
        /// A `ts` in milliseconds read as seconds.
        case unitMistake
        /// A device log replayed 100x fast: lines arrive every 1 ms, device time steps 0.1 s.
        case replayed
    }

    final class FaultyBMS: Source, @unchecked Sendable {
        let name = "faulty bms"
        let fault: Fault
        let lines: Int
        private(set) var arrivals: [Int64] = []
        init(_ fault: Fault, lines: Int = 600) {
            self.fault = fault
            self.lines = lines
        }
        var streams: [StreamDescriptor] {
            [StreamDescriptor(key: "bms0", kind: .bms, device: "/dev/ttyTEST", format: "key_value", nominalRateHz: 10)]
        }
        func run(into sink: any SampleSink) throws {
            let start = HostClock.monotonicNanoseconds()
            let step: Int64 = fault == .replayed ? 1_000_000 : 100_000_000
            for i in 0..<lines {
                let deviceS = 1000 + Double(i) * 0.1
                let t: Double = switch fault {
                case .spike: i == 116 ? 922_611 : deviceS
                case .unitMistake: deviceS * 1000
                case .replayed: deviceS
                }
                let arrival = start + Int64(i) * step + 2_000_000 + Int64(i % 7) * 100_000
                arrivals.append(arrival)
                let raw = String(format: "t=%.3f V=4.100 I=1.500", t)
                guard sink.emit(.bms(BMSSample(hostArrivalNs: arrival, deviceTimeS: t, voltageV: 4.1, currentA: 1.5, raw: raw)),
                                stream: "bms0", mode: .blockIfFull) else { return }
            }
        }
        func stop() {}
    }

    /// Each fault: every line recorded, the `--duration 60` rule does not end the run early,
    /// t_ns monotone and within the guard's bound of arrival, outliers counted as gaps, the
    /// fallback named in `trw info` / `trw sync-report` text, and `trw resync` stays sane.
    @Test(arguments: Fault.allCases) func recordingRunsToItsEnd(fault: Fault) throws {
        let dir = TemporaryDirectory()
        let source = FaultyBMS(fault)
        let (result, reader) = try record(source, dir: dir) { $0.durationS = 65 }
        #expect(result.status == .complete)
        #expect(!result.detail.contains("duration"), "stopped by a device value: \(result.detail)")
        let session = try reader.session()
        let bms = try #require(try reader.stream(key: "bms0"))
        let rows = try reader.bmsSamples(streamId: bms.id!).sorted { $0.id! < $1.id! }  // arrival order
        #expect(rows.count == 600, "all lines recorded")
        let start = session.startMonotonicNs
        for (i, r) in rows.enumerated() {
            let arrival = r.hostArrivalNs - start
            #expect(abs(r.tNs - arrival) <= 500_000_000, "line \(i): t \(Double(r.tNs) / 1e9) s, arrival \(Double(arrival) / 1e9) s")
            if i > 0 { #expect(r.tNs > rows[i - 1].tNs, "t_ns monotone at line \(i)") }
        }
        // Raw device times are kept as they came.
        if fault == .spike { #expect(rows[116].deviceTimeS == 922_611) }
        // The session's end is an honest time: the last arrival, not a device value.
        let lastArrival = Double(source.arrivals.last! - start) / 1e9
        let end = Double(try #require(session.endTNs)) / 1e9
        #expect(abs(end - lastArrival) < 0.5, "end \(end) s, last arrival \(lastArrival) s")

        let gaps = try reader.gaps(streamId: bms.id!)
        let outliers = gaps.filter { $0.kind == ClockGuard.outlierGapKind }
        let fallbacks = gaps.filter { $0.kind == ClockGuard.fallbackGapKind }
        let info = try InfoReport.full(path: dir.file("s.sqlite"))
        let report = try SessionSync.report(path: dir.file("s.sqlite")).text
        switch fault {
        case .spike:
            #expect(outliers.count == 1 && outliers[0].lostCount == 1 && fallbacks.isEmpty)
            #expect(outliers.first?.detail.contains("922611.000 s") == true)
            #expect(info.contains("clock_outlier 1 (device times not used, samples kept)"), "\(info)")
            #expect(!info.contains("ARRIVAL TIME"))
            var dash = Dashboard(title: "t")
            let screen = dash.render(result.final, now: 1, freeBytes: nil, width: 400).joined(separator: "\n")
            #expect(screen.contains("clock bms0: 1 device times left out of the fit"), "\(screen)")
        case .unitMistake, .replayed:
            // The live dashboard names the stream too.
            var dash = Dashboard(title: "t")
            let screen = dash.render(result.final, now: 1, freeBytes: nil, width: 400).joined(separator: "\n")
            #expect(screen.contains("CLOCK bms0: device clock disagrees with arrival") && screen.contains("lines/s"), "\(screen)")
            #expect(fallbacks.count == 1 && (4...6).contains(outliers.count), "\(gaps.map(\.kind))")
            #expect(fallbacks[0].detail.contains("bms0: device clock disagrees with arrival"), "\(fallbacks[0].detail)")
            #expect(info.contains("CLOCK     bms0: device clock disagrees with arrival"), "\(info)")
            #expect(info.contains("measured delivery"), "\(info)")
            #expect(report.contains("bms0    ARRIVAL TIME"), "\(report)")
            #expect(report.contains("x host time"), "\(report)")
            let stored = try #require(try reader.clockModels(streamId: bms.id!).last.map { try ClockModel.fromJSONText($0.modelJson) })
            let factor = fault == .unitMistake ? 1000.0 : 100.0
            #expect(abs(try #require(stored.fallback?.deviceRateRatio) / factor - 1) < 0.05)
        }

        // trw resync: the same rejection; nothing is crushed or thrown away.
        let results = try SessionSync.resync(path: dir.file("s.sqlite"))
        #expect(results.first?.samples == 600)
        let after = try SessionReader(path: dir.file("s.sqlite")).bmsSamples(streamId: bms.id!).sorted { $0.id! < $1.id! }
        for (i, r) in after.enumerated() {
            #expect(abs(r.tNs - (r.hostArrivalNs - start)) <= 500_000_000, "resync line \(i)")
            if i > 0 { #expect(r.tNs > after[i - 1].tNs, "resync keeps t_ns monotone at line \(i)") }
        }
        let model = try #require(results.first?.newModel)
        #expect(model.segments.allSatisfy { abs($0.driftPpm) < 1000 }, "\(model.segments.map(\.driftPpm))")
        #expect((model.fallback != nil) == (fault != .spike), "\(model.fitter) \(String(describing: model.pairsSeen)) \(String(describing: model.outliers)) \(gaps.map(\.kind))")
    }
}
