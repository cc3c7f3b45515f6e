import Foundation
import Testing
import TRWAnalysis
import TRWCore
import TRWStore
import TRWSessionFixtures
import TRWTestSupport
import TRWIO
@testable import TRWDatasets
import TRWRecorder
@testable import TRWLive
import TRWRig

@Suite struct ReplayTests {
    @Test func orderedWithHeaderFirstAndEventsBeforeTheirTick() throws {
        let dir = TemporaryDirectory()
        let path = try syntheticSession(dir, seconds: 5)
        try SessionWriter(appendingTo: path).addMarker(MarkerRecord(tNs: 2_000_000_000, text: "vent seen", origin: "cli"))
        var o = ReplayOptions()
        o.frames = .references
        let ev = try ReplayBuilder.events(try SessionReader(path: path), options: o)
        #expect(ev.first?.kind == .session)
        #expect(ev.last?.kind == .end)
        for (a, b) in zip(ev.dropFirst(), ev.dropFirst(2)) {
            #expect(a.tS < b.tS || (a.tS == b.tS && a.kind <= b.kind), "out of order: \(a.json) then \(b.json)")
        }
        #expect(ev.filter { $0.kind == .tick }.count == 5)
        #expect(ev.filter { $0.kind == .frame }.count == 251)
        // The marker at 2.0 s comes before the tick ending at 2.0 s.
        let m = try #require(ev.firstIndex { $0.kind == .marker })
        let tick2 = try #require(ev.firstIndex { $0.kind == .tick && $0.tS == 2.0 })
        #expect(m < tick2)
        // Every line is one JSON object.
        for e in ev { #expect((try? JSONSerialization.jsonObject(with: Data(e.json.utf8))) is [String: Any], "\(e.json)") }
        // The session line names the format's version (schemas/replay.schema.json).
        let head = try #require(try JSONSerialization.jsonObject(with: Data(ev[0].json.utf8)) as? [String: Any])
        #expect(head["format_version"] as? Int == ReplayFormat.version)
        #expect(ReplayFormat.version == 1)
    }

    @Test func pacingAt10xIsWithinOnePercentOverAMinute() throws {
        let dir = TemporaryDirectory()
        let path = try syntheticSession(dir, seconds: 60)
        var o = ReplayOptions()
        o.features.rateHz = 10
        let ev = try ReplayBuilder.events(try SessionReader(path: path), options: o)
        let span = ev.last!.tS - ev.first { $0.kind != .session }!.tS
        #expect(span >= 59.8)
        let start = Date()
        var lines = 0
        try ReplayBuilder.play(ev, speed: 10) { _ in lines += 1 }
        let elapsed = Date().timeIntervalSince(start)
        #expect(lines == ev.count)
        #expect(abs(elapsed - span / 10) / (span / 10) < 0.01, "replayed \(span) s in \(elapsed) s at 10x")
    }

    @Test func unixSocketDeliversTheSameLines() throws {
        let dir = TemporaryDirectory()
        let path = try syntheticSession(dir, seconds: 3)
        let ev = try ReplayBuilder.events(try SessionReader(path: path))
        let sockPath = dir.file("r.sock")
        let server = try UnixSocketServer(path: sockPath)
        let received = ReceivedText()
        let reader = Thread {
            let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
            var addr = sockaddr_un()
            addr.sun_family = sa_family_t(AF_UNIX)
            withUnsafeMutableBytes(of: &addr.sun_path) { p in for (i, b) in sockPath.utf8.enumerated() { p[i] = b } }
            _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
            var buf = [UInt8](repeating: 0, count: 65536)
            while true {
                let n = read(fd, &buf, buf.count)
                if n <= 0 { break }
                received.append(buf[0..<n])
            }
            close(fd)
            received.done.signal()
        }
        reader.start()
        do {
            let c = try #require(try server.accept(until: .after(seconds: 30)))
            try ReplayBuilder.play(ev, speed: nil) { try c.send($0, stallTimeout: 10) }
        }
        received.done.wait()
        #expect(received.text == ev.map { $0.json + "\n" }.joined())
    }
}

final class ReceivedText: @unchecked Sendable {
    private let lock = NSLock()
    private var bytes: [UInt8] = []
    let done = DispatchSemaphore(value: 0)
    func append(_ b: ArraySlice<UInt8>) { lock.withLock { bytes += b } }
    var text: String { lock.withLock { String(decoding: bytes, as: UTF8.self) } }
}
