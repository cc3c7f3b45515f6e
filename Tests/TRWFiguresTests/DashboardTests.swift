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
}
