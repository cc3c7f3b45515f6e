import Foundation
import SystemPackage
import Testing
import TRWTestSupport
@testable import TRWIO


@Suite struct UnixSocketFaultTests {
    @Test func clientThatNeverReadsIsDroppedAfterTheSendDeadline() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("r.sock")
        let server = try UnixSocketServer(path: path)
        let client = try IdleClient(path: path)
        let conn = try #require(try server.accept(until: .after(seconds: 10)))
        let line = Array(String(repeating: "x", count: 4095).utf8) + [0x0A]
        let t0 = Deadline.now()
        var sent = 0
        var failure: SocketError?
        while sent < 100_000 {
            do { try conn.send(line, stallTimeout: 0.3) } catch { failure = error; break }
            sent += 1
        }
        let s = Double(Deadline.now() - t0) / 1e9
        #expect(failure == .sendTimedOut)
        #expect(sent < 100_000 && conn.bytesSent < 100_000 * line.count, "the kernel took everything?")
        #expect(s < 20, "a 0.3 s send deadline took \(s) s")
        _ = client
    }

    @Test func clientThatLeavesIsPeerClosed() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("r.sock")
        let server = try UnixSocketServer(path: path)
        var client: IdleClient? = try IdleClient(path: path)
        let conn = try #require(try server.accept(until: .after(seconds: 10)))
        client = nil
        _ = client
        #expect(throws: SocketError.peerClosed) {
            for _ in 0..<1000 { try conn.send("hello\n", stallTimeout: 5) }
        }
    }

    @Test func acceptEndsAtItsDeadline() throws {
        let dir = TemporaryDirectory()
        let server = try UnixSocketServer(path: dir.file("a.sock"))
        let t0 = Deadline.now()
        #expect(try server.accept(until: .after(seconds: 0.2)) == nil)
        #expect(Double(Deadline.now() - t0) / 1e9 < 10)
    }

    /// A regular file (a session, say) at the path is refused and left exactly as it was.
    @Test func regularFileIsRefusedAndUntouched() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("session.sqlite")
        let content = Data("SQLite format 3\0 precious".utf8)
        try content.write(to: URL(fileURLWithPath: path))
        #expect(throws: SocketError.self) { try UnixSocketPath.check(path) }
        do {
            _ = try UnixSocketServer(path: path)
            Issue.record("listened over a regular file")
        } catch {
            #expect("\(error)".contains("regular file") && "\(error)".contains("never deletes"), "\(error)")
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == content)
        // A directory, a symbolic link, a FIFO: refused too.
        try FileManager.default.createDirectory(atPath: dir.file("d"), withIntermediateDirectories: false)
        try FileManager.default.createSymbolicLink(atPath: dir.file("l"), withDestinationPath: path)
        #expect(mkfifo(dir.file("f"), 0o600) == 0)
        for p in ["d", "l", "f"] {
            #expect(throws: SocketError.self) { try UnixSocketPath.check(dir.file(p)) }
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == content)
    }

    @Test func missingOrUnwritableDirectoryIsRefused() throws {
        let dir = TemporaryDirectory()
        do {
            try UnixSocketPath.check(dir.file("no-such-dir/x.sock"))
            Issue.record("accepted a missing directory")
        } catch {
            #expect("\(error)".contains("does not exist"), "\(error)")
        }
        #expect(!FileManager.default.fileExists(atPath: dir.file("no-such-dir")))
        let long = dir.file(String(repeating: "n", count: 120) + ".sock")
        #expect(throws: SocketError.self) { try UnixSocketPath.check(long) }
        if getuid() != 0 {  // root writes anywhere
            try FileManager.default.createDirectory(atPath: dir.file("ro"), withIntermediateDirectories: false, attributes: [.posixPermissions: 0o500])
            #expect(throws: SocketError.self) { try UnixSocketPath.check(dir.file("ro/x.sock")) }
        }
    }

    /// A socket left by a process that died is replaced; one a live process listens on is not.
    @Test func staleSocketIsReplacedLiveOneRefused() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("s.sock")
        // Stale: bound, then closed without unlinking.
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        #expect(UnixSocketPath.withAddress(path) { bind(fd, $0, $1) } == 0)
        close(fd)
        #expect(try UnixSocketPath.occupant(path) == .staleSocket)
        let server = try UnixSocketServer(path: path)
        #expect(try UnixSocketPath.occupant(path) == .liveSocket)
        #expect(throws: SocketError.self) { _ = try UnixSocketServer(path: path) }
        _ = server
    }

    /// On close the server removes its own socket file, never a file put there since.
    @Test func closingRemovesOnlyItsOwnSocket() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("s.sock")
        var server: UnixSocketServer? = try UnixSocketServer(path: path)
        #expect(FileManager.default.fileExists(atPath: path))
        server = nil
        #expect(!FileManager.default.fileExists(atPath: path))
        server = try UnixSocketServer(path: path)
        try FileManager.default.removeItem(atPath: path)
        try Data("someone else's".utf8).write(to: URL(fileURLWithPath: path))
        server = nil
        _ = server
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "someone else's")
    }

    /// Standard output whose reader went away (`| head -1`) ends quietly.
    @Test func outputSinkNoticesTheReaderLeaving() throws {
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        let out = OutputSink(fd: fds[1], capacity: 0)
        #expect(try out.write("first\n"))
        close(fds[0])
        #expect(try out.write("second\n") == false)
        #expect(out.outcome == .readerGone && out.bytesWritten == 6)
        close(fds[1])
    }
}
