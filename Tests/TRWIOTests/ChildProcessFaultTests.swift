import Foundation
import SystemPackage
import Testing
import TRWTestSupport
@testable import TRWIO

/// Every wait on a child is bounded: each test asserts that a hang ends within a generous
/// bound (not how fast), and what was received before is kept.
@Suite struct ChildProcessFaultTests {
    static func elapsed(_ body: () throws -> Void) rethrows -> Double {
        let t0 = Deadline.now()
        try body()
        return Double(Deadline.now() - t0) / 1e9
    }

    /// Processes of group `pgid` that are not zombies, after up to 5 s for SIGKILL to land.
    static func livingMembers(ofGroup pgid: pid_t) -> [String] {
        var living: [String] = []
        for _ in 0..<100 {
            living = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { entry in
                guard Int(entry) != nil, let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                      let close = stat.lastIndex(of: ")") else { return nil }
                let fields = stat[stat.index(after: close)...].split(separator: " ")
                guard fields.count > 2, fields[0] != "Z", Int32(fields[2]) == pgid else { return nil }
                return entry + " " + stat
            }
            if living.isEmpty { break }
            usleep(50_000)
        }
        return living
    }

    @Test func echoesLinesAndExitsOnEndOfInput() throws {
        let c = try ChildProcess(shellCommand: "while read l; do echo \"got $l\"; done")
        for i in 0..<50 {
            try c.write("\(i)\n", deadline: .after(seconds: 10))
            #expect(try c.readLine(deadline: .after(seconds: 10)) == Array("got \(i)".utf8))
        }
        let exit = c.finish(exitWithin: 10, grace: 2)
        #expect(exit.succeeded, "\(exit)")
    }

    /// `sleep 100000` never answers: the read ends at its deadline.
    @Test func hungChildTimesOut() throws {
        let c = try ChildProcess(shellCommand: "sleep 100000")
        try c.write("{\"type\":\"tick\",\"t\":1}\n", deadline: .after(seconds: 10))
        let s = Self.elapsed {
            #expect(throws: ChildProcessError.timedOut) { _ = try c.readLine(deadline: .after(seconds: 0.3)) }
        }
        #expect(s < 10, "a 0.3 s answer deadline took \(s) s")
        let exit = c.terminate(grace: 2)
        #expect(exit.status == .signaled(SIGTERM) && exit.ending == .terminated, "\(exit)")
    }

    /// A child that does not read: writes stop at their deadline once the pipe is full.
    @Test func childThatNeverReadsTimesOutOnWrite() throws {
        let c = try ChildProcess(shellCommand: "sleep 100000")
        let line = [UInt8](repeating: UInt8(ascii: "x"), count: 65536) + [0x0A]
        let s = try Self.elapsed {
            var err: ChildProcessError?
            for _ in 0..<64 {
                do { try c.write(line, deadline: .after(seconds: 0.3)) } catch { err = error as? ChildProcessError; break }
            }
            #expect(err == .timedOut)
        }
        #expect(s < 10)
        c.terminate(grace: 2)
    }

    /// A child that answers but ignores end of input and SIGTERM is killed after the grace period.
    @Test func childThatIgnoresEndOfInputAndSIGTERMIsKilled() throws {
        let c = try ChildProcess(shellCommand: "trap '' TERM; read l; echo \"$l\"; while true; do sleep 0.05; done")
        try c.write("hello\n", deadline: .after(seconds: 10))
        #expect(try c.readLine(deadline: .after(seconds: 10)) == Array("hello".utf8))
        var exit: ChildExit?
        let s = Self.elapsed { exit = c.finish(exitWithin: 0.2, grace: 0.3) }
        #expect(exit?.ending == .killed && exit?.status == .signaled(SIGKILL), "\(String(describing: exit))")
        #expect(Self.livingMembers(ofGroup: c.pid).isEmpty, "nothing of the child outlives finish()")
        #expect(s < 10, "finish(0.2 s + 0.3 s grace) took \(s) s")
    }

    /// The whole `sh -c 'a | b'` pipeline is ended, so its output closes.
    @Test func terminationReachesTheWholePipeline() throws {
        let c = try ChildProcess(shellCommand: "sleep 100000 | cat")
        let exit = c.finish(exitWithin: 0.2, grace: 5)
        #expect(exit.ending == .terminated, "\(exit)")
        #expect(Self.livingMembers(ofGroup: c.pid).isEmpty)
        // A pipeline member that ignores SIGTERM is swept once the leader is gone.
        let d = try ChildProcess(shellCommand: "sh -c \"trap '' TERM; while true; do sleep 0.05; done\" | cat; echo never")
        d.finish(exitWithin: 0.2, grace: 0.5)
        #expect(Self.livingMembers(ofGroup: d.pid).isEmpty, "a member that ignored SIGTERM outlived the child")
        #expect(throws: ChildProcessError.outputClosed(partial: nil)) { _ = try c.readLine(deadline: .after(seconds: 10)) }
    }

    @Test func childThatExitsEarlyIsInputClosedNotSIGPIPE() throws {
        let c = try ChildProcess(shellCommand: "exit 3")
        let exit = c.finish(exitWithin: 10, grace: 1)
        #expect(exit.status == .exited(3))
        // Writing after it exited: EPIPE reported as inputClosed (the input was closed by finish too).
        #expect(throws: ChildProcessError.inputClosed) { try c.write("x\n", deadline: .after(seconds: 1)) }
        let d = try ChildProcess(shellCommand: "exec 0<&-; sleep 0.1")
        let line = [UInt8](repeating: 0x41, count: 1 << 20)
        #expect(throws: ChildProcessError.inputClosed) {
            for _ in 0..<100 { try d.write(line, deadline: .after(seconds: 10)) }
        }
    }

    /// A 50 MB line without a newline is an error at the bound, read in linear time.
    @Test func overlongOutputLineIsAnError() throws {
        let c = try ChildProcess(shellCommand: "head -c 50000000 /dev/zero | tr '\\0' 7", maxLineBytes: 1 << 20)
        do {
            _ = try c.readLine(deadline: .after(seconds: 60))
            Issue.record("read a line longer than the bound")
        } catch {
            guard case .lineTooLong(let l) = error else { Issue.record("\(error)"); return }
            #expect(l.maxLineBytes == 1 << 20 && l.bytes > 1 << 20)
        }
        #expect(c.bytesExamined == c.bytesRead, "each byte read is examined once")
        c.terminate(grace: 2)
    }

    /// Ending output mid-line is reported with the partial line, not as a line.
    @Test func unterminatedLastLineIsReported() throws {
        let c = try ChildProcess(shellCommand: "printf 'one\\ntwo'")
        #expect(try c.readLine(deadline: .after(seconds: 10)) == Array("one".utf8))
        #expect(throws: ChildProcessError.outputClosed(partial: Array("two".utf8))) { _ = try c.readLine(deadline: .after(seconds: 10)) }
        #expect(c.finish(exitWithin: 10, grace: 1).succeeded)
    }

    /// The child gets default signal dispositions even where trw ignores them, and does not
    /// inherit trw's pipes (close-on-exec): only 0, 1 and 2 are open in it.
    @Test func childStartsClean() throws {
        signal(SIGTERM, SIG_IGN)
        defer { signal(SIGTERM, SIG_DFL) }
        let c = try ChildProcess(shellCommand: "ls /proc/self/fd | sort -n | tr '\\n' ' '; echo; grep -E '^(SigIgn|SigBlk)' /proc/self/status | tr -s ' \\t' ' '")
        let fds = String(decoding: try c.readLine(deadline: .after(seconds: 10)), as: UTF8.self)
        // ls itself opens its directory (fd 3).
        #expect(fds.split(separator: " ").compactMap { Int($0) }.filter { $0 > 3 }.isEmpty, "inherited descriptors: \(fds)")
        // /proc/self/status lists SigBlk before SigIgn.
        let blk = String(decoding: try c.readLine(deadline: .after(seconds: 10)), as: UTF8.self)
        let ign = String(decoding: try c.readLine(deadline: .after(seconds: 10)), as: UTF8.self)
        #expect(blk.hasPrefix("SigBlk") && ign.hasPrefix("SigIgn"), "\(blk) / \(ign)")
        let mask = UInt64(ign.split(separator: " ").last ?? "", radix: 16) ?? .max
        #expect(mask & (1 << (UInt64(SIGTERM) - 1)) == 0 && mask & (1 << (UInt64(SIGPIPE) - 1)) == 0, "\(ign)")
        #expect(blk.hasSuffix("0000000000000000"), "\(blk)")
        #expect(c.finish(exitWithin: 10, grace: 1).succeeded)
    }
}
