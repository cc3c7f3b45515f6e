import Foundation
import Testing
import TRWCore
import TRWStore
import TRWTestSupport
import TRWRecorder
@testable import TRWLive
import TRWRig

/// A client on the live socket follows a running recording with the replay's lines.
@Suite struct LiveTapTests {
    @Test func clientFollowsTheRecording() throws {
        let dir = TemporaryDirectory()
        var so = SyntheticSource.Options()
        so.width = 32; so.height = 24; so.durationS = 3.5; so.paced = true; so.aeRateHz = 48_000; so.aeChunkFrames = 480
        var o = RecorderOptions(name: "live", outputPath: dir.file("l.sqlite"), rigName: "synthetic")
        // No stop rule: the recording ends when the source does, at t = 3.5 s, so the tick at 3 s is due
        // whatever the load (a host-clock stop rule at 3 s, or a source ending on a sample at exactly
        // 3 s that maps a nanosecond early or is dropped from a full queue, races that tick).
        var live = LiveOptions()
        live.tapPath = dir.file("live.sock")
        let rec = Recorder(sources: [SyntheticSource(options: so)], options: o, observer: LiveRecording(options: live))
        try rec.start()
        // Connect as any predictor would.
        let (fd, received, connected) = followLiveSocket(live.tapPath!)
        #expect(connected)
        usleep(300_000)
        rec.addMarker("vent seen", origin: "key")
        _ = rec.wait()  // sends the end line
        #expect(received.done.wait(timeout: .now() + 10) == .success, "no end line")
        close(fd)
        let text = received.text
        let lines = text.split(separator: "\n").map(String.init)
        let objs = lines.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        #expect(objs.count == lines.count, "every line is a JSON object")
        #expect(objs.first?["type"] as? String == "session")
        #expect(objs.first?["format_version"] as? Int == ReplayFormat.version, "the live stream carries the replay format's version")
        #expect(objs.last?["type"] as? String == "end")
        let ticks = objs.filter { $0["type"] as? String == "tick" }
        #expect(ticks.map { $0["t"] as? Double ?? -1 } == [1, 2, 3])
        let f = ticks.first?["features"] as? [String: Any]
        #expect((f?["voltage_v"] as? Double).map { abs($0 - 4.009) < 0.002 } == true, "\(String(describing: f?["voltage_v"]))")
        #expect(ticks.allSatisfy { ($0["features"] as? [String: Any])?["ae_hit_rate_hz"] as? Double == 2 }, "two bursts per second")
        #expect(objs.contains { $0["type"] as? String == "marker" && $0["text"] as? String == "vent seen" })
        #expect(objs.filter { $0["type"] as? String == "ae_hit" }.count >= 5)
    }
}

/// Connects to a live socket as a predictor would and reads until the end line, on a thread.
/// Returns the descriptor (close it when done) and what arrives; `connected` is false on failure.
func followLiveSocket(_ path: String) -> (fd: Int32, received: ReceivedLines, connected: Bool) {
    let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
    var addr = sockaddr_un()
    addr.sun_family = sa_family_t(AF_UNIX)
    withUnsafeMutableBytes(of: &addr.sun_path) { p in for (i, b) in path.utf8.enumerated() { p[i] = b } }
    let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
    let received = ReceivedLines()
    let reader = Thread {
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = read(fd, &buf, buf.count)
            if n <= 0 { break }
            if received.append(buf[0..<n]) { break }
        }
        received.done.signal()
    }
    reader.start()
    return (fd, received, rc == 0)
}

final class ReceivedLines: @unchecked Sendable {
    private let lock = NSLock()
    private var bytes: [UInt8] = []
    let done = DispatchSemaphore(value: 0)
    /// Appends; true once the end line has arrived.
    func append(_ b: ArraySlice<UInt8>) -> Bool {
        lock.withLock {
            bytes += b
            return String(decoding: bytes, as: UTF8.self).contains("\"type\":\"end\"")
        }
    }
    var text: String { lock.withLock { String(decoding: bytes, as: UTF8.self) } }
}
