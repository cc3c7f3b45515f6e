import Foundation
import Testing
import TRWStore
import TRWTestSupport
@testable import TRWFigures
@testable import TRWRecorder

/// The dashboard renderer. The live terminal test (tmux) is tests/terminal/dashboard-tmux.sh.
@Suite struct TerminalTests {
    @Test func dashboardRendersRatesFromSnapshots() {
        var d = Dashboard(title: "t")
        func status(_ n: Int64, bytes: Int64) -> RecorderStatus {
            RecorderStatus(streams: [StreamStatus(key: "ir0", kind: .thermal, events: n, droppedInQueue: 0, payloadBytes: 0,
                                                  queueFill: 3, queueCapacity: 128, queueHighWater: 5, lastTNs: 0,
                                                  lastValues: ["max_c": 41.25])],
                           commits: 1, rowsWritten: n, fileBytes: bytes, elapsedWallS: 1, sessionTimeS: 1, writerError: nil)
        }
        _ = d.render(status(0, bytes: 0), now: 0, freeBytes: 1_000_000_000)
        let lines = d.render(status(100, bytes: 2_000_000), now: 2, freeBytes: 1_000_000_000)
        #expect(lines[2].contains("50.0"), "\(lines[2])")
        #expect(lines[2].contains("max 41.2 °C") || lines[2].contains("max 41.3 °C"))
        #expect(lines[2].contains("3/128"))
        #expect(lines[3].contains("write 1.0 MB/s") && lines[3].contains("disk free 1.00 GB"))
        #expect(lines.allSatisfy { $0.count <= 80 })
    }

    func status(_ streams: [StreamStatus], bytes: Int64, t: Double) -> RecorderStatus {
        RecorderStatus(streams: streams, commits: 1, rowsWritten: 1, fileBytes: bytes, elapsedWallS: t, sessionTimeS: t, writerError: nil)
    }

    /// Issue 22: the cell temperature was cut at 80 columns.
    @Test func everyStreamsValuesFitEightyColumns() {
        var d = Dashboard(title: "trw record — rig sim:demo -> sessions/a-long-session-name.sqlite")
        let streams = [
            StreamStatus(key: "ir0", kind: .thermal, events: 123_456, droppedInQueue: 0, payloadBytes: 0, queueFill: 12, queueCapacity: 128,
                         queueHighWater: 20, lastTNs: 0, lastValues: ["max_c": 382.2]),
            StreamStatus(key: "ae0", kind: .ae, events: 9_876_543, droppedInQueue: 17, payloadBytes: 0, queueFill: 1000, queueCapacity: 1024,
                         queueHighWater: 1024, lastTNs: 0, lastValues: ["rms": 0.0123, "hits_total": 123_456]),
            StreamStatus(key: "bms0", kind: .bms, events: 14_400, droppedInQueue: 0, payloadBytes: 0, queueFill: 0, queueCapacity: 4096,
                         queueHighWater: 3, lastTNs: 0, lastValues: ["voltage_v": 10.312, "current_a": -12.5, "cell_c": 138.7]),
        ]
        _ = d.render(status(streams, bytes: 0, t: 0), now: 0, freeBytes: 1 << 40)
        let lines = d.render(status(streams, bytes: 50_000_000, t: 2), now: 2, freeBytes: 1 << 40)
        let bms = lines.first { $0.hasPrefix("bms0") }!
        #expect(bms.hasSuffix("10.312 V -12.500 A cell 138.7 °C"), "\(bms)")
        #expect(lines.first { $0.hasPrefix("ae0") }!.contains("17!"))
        #expect(lines.allSatisfy { $0.count <= 80 }, "\(lines.filter { $0.count > 80 })")
    }

    /// Issue 22: file size and write rate jumped (54.5 MB shown at 33 s for an 18.5 MB file): the
    /// size was the file plus its write-ahead log, the rate a 2 s difference of lumpy commits.
    /// The recorder now reports the database's own size; the rate is taken over 5 s.
    @Test func writeRateIsSteadyUnderLumpyCommits() {
        var d = Dashboard(title: "t")
        var shown: [Double] = []
        // 10 MB/s arriving as a commit every 1.5 s; the dashboard redraws every 0.5 s.
        for k in 0...60 {
            let now = Double(k) * 0.5
            let committed = (now / 1.5).rounded(.down) * 1.5
            let lines = d.render(status([], bytes: Int64(committed * 10_000_000), t: now), now: now, freeBytes: nil)
            let disk = lines.first { $0.hasPrefix("data ") }!
            if now >= 6, let r = disk.split(separator: " ").firstIndex(of: "write").map({ disk.split(separator: " ")[$0 + 1] }), let v = Double(r) {
                shown.append(v)
            }
        }
        #expect(shown.count > 40)
        #expect(shown.allSatisfy { $0 >= 7 && $0 <= 13 }, "MB/s shown: \(shown)")
    }
}
