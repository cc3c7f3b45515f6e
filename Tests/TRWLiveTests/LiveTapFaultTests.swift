import Foundation
import Testing
import TRWCore
import TRWIO
import TRWStore
import TRWTestSupport
import TRWRecorder
@testable import TRWLive
import TRWRig

/// A live client that connects and never reads is dropped after the send deadline; the
/// lines it did not get are a `live_client` gap of the session, and the recording is complete.
@Suite struct LiveTapFaultTests {
    @Test func clientThatNeverReadsIsDroppedAndCounted() throws {
        let dir = TemporaryDirectory()
        var so = SyntheticSource.Options()
        so.width = 32; so.height = 24; so.durationS = 3; so.paced = true; so.aeRateHz = 48_000; so.aeChunkFrames = 480
        var o = RecorderOptions(name: "live", outputPath: dir.file("l.sqlite"), rigName: "synthetic")
        o.durationS = 3
        var live = LiveOptions()
        live.tapPath = dir.file("live.sock")
        live.tapSendTimeoutS = 0.3
        let rec = Recorder(sources: [SyntheticSource(options: so)], options: o, observer: LiveRecording(options: live))
        try rec.start()
        let idle = try IdleClient(path: live.tapPath!)
        // Markers of 16 KB each fill the socket buffer of a client that never reads.
        let big = String(repeating: "m", count: 16_384)
        for i in 0..<200 { rec.addMarker("\(i) \(big)") }
        let t0 = Date()
        let result = rec.wait()
        #expect(Date().timeIntervalSince(t0) < 30, "wait() must not hang on the client")
        #expect(result.status == .complete)
        let r = try SessionReader(path: o.outputPath)
        let gaps = try r.gaps().filter { $0.kind == "live_client" }
        #expect(gaps.count == 1, "\(gaps)")
        let g = try #require(gaps.first)
        #expect(g.lostCount > 0 && g.detail.contains("stopped reading") && g.detail.contains("not delivered"), "\(g.detail)")
        #expect(try r.markers().count == 200, "the session itself lost nothing")
        #expect(result.detail.contains("live stream"))
        _ = idle
    }
}
