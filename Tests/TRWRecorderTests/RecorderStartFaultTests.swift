import Foundation
import Testing
import TRWCore
import TRWStore
import TRWTestSupport
@testable import TRWRecorder
import TRWLive
import TRWRig

/// Validate before creating; finalise on failure (issue 17 item 5).
@Suite struct RecorderStartFaultTests {
    func synthetic(seconds: Double) -> SyntheticSource {
        var so = SyntheticSource.Options()
        so.width = 32; so.height = 24; so.fps = 20; so.durationS = seconds; so.aeRateHz = 48_000; so.aeChunkFrames = 480
        so.bmsRateHz = 10; so.paced = true
        return SyntheticSource(options: so)
    }

    /// A failure after the file exists (here: `abort`) finalises the session as `aborted`
    /// with the reason, never leaves it `recording`, and keeps what was recorded.
    @Test func abortFinalisesAsAbortedWithTheReason() throws {
        let dir = TemporaryDirectory()
        let o = RecorderOptions(name: "t", outputPath: dir.file("a.sqlite"), rigName: "synthetic")
        let r = Recorder(sources: [synthetic(seconds: 30)], options: o)
        try r.start()
        usleep(300_000)
        let t0 = Date()
        r.abort(reason: "aborted at start: sensing policy did not start")
        let result = r.wait()
        #expect(Date().timeIntervalSince(t0) < 10, "abort ends the run within a generous bound")
        #expect(result.status == .aborted)
        #expect(result.detail == "aborted at start: sensing policy did not start")
        let s = try SessionReader(path: o.outputPath).session()
        #expect(s.status == .aborted)
        #expect(s.statusDetail == "aborted at start: sensing policy did not start")
    }

    /// A file already at the output path is never touched: the start fails and the file stays byte for byte.
    @Test func anExistingFileIsNeverRemovedOrOverwritten() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("precious.sqlite")
        let bytes = Data("not a session, but someone's data".utf8)
        try bytes.write(to: URL(fileURLWithPath: path))
        let r = Recorder(sources: [synthetic(seconds: 1)], options: RecorderOptions(name: "t", outputPath: path, rigName: "synthetic"))
        #expect(throws: SessionStoreError.alreadyExists(path: path)) { try r.start() }
        #expect(FileManager.default.contents(atPath: path) == bytes)
    }

    /// A live socket that cannot be bound fails before the session file exists.
    @Test func liveTapFailureCreatesNoFile() throws {
        let dir = TemporaryDirectory()
        var o = RecorderOptions(name: "t", outputPath: dir.file("l.sqlite"), rigName: "synthetic")
        var live = LiveOptions()
        live.tapPath = "/nonexistent-dir/trw-live.sock"
        let r = Recorder(sources: [synthetic(seconds: 1)], options: o, observer: LiveRecording(options: live))
        #expect(throws: (any Error).self) { try r.start() }
        #expect(!FileManager.default.fileExists(atPath: o.outputPath))
    }

    /// Sensing values are checked by one function, before creation by the CLI and again when applied.
    @Test(arguments: [(SensingSetting.irFps, 20_000.0), (.irFps, 0), (.irFps, .nan), (.bmsHz, -1), (.bmsHz, .infinity),
                      (.aeThresholdDb, 141), (.aeThresholdDb, -1e300)])
    func outOfRangeSensingIsRefused(setting: SensingSetting, value: Double) {
        #expect(throws: SensingError.self) { try setting.check(value) }
    }
}
