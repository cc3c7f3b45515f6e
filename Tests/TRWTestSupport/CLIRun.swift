import Foundation

/// Runs the built `trw` binary for fault tests: output goes to files (no pipe
/// can fill up), the run is bounded in time (killed after `timeoutS`), and the
/// result says whether it ended with an exit status or by a signal (a trap).
public struct CLIRun: Sendable, CustomStringConvertible {
    public var arguments: [String]
    /// Exit status, or the signal number when `signaled`.
    public var status: Int32
    public var signaled: Bool
    public var timedOut: Bool
    public var stdout: String
    public var stderr: String
    public var seconds: Double

    public var description: String {
        "trw \(arguments.joined(separator: " ")) -> \(signaled ? "signal" : "status") \(status)\(timedOut ? " (timed out)" : "")"
            + String(format: " in %.1f s", seconds) + (stderr.isEmpty ? "" : ": " + String(stderr.prefix(400)))
    }

    /// Runs `executable` with `arguments` in `directory`; `shellPrefix` (e.g. `ulimit -f 0`) runs
    /// in /bin/sh before `exec`ing the program.
    /// `pipes`: stdout and stderr go through pipes instead of files (for runs under a
    /// file-size limit, where writing to a file fails).
    public static func run(_ executable: String, _ arguments: [String], in directory: String, timeoutS: Double = 30,
                           shellPrefix: String? = nil, pipes: Bool = false) throws -> CLIRun {
        let p = Process()
        if let shellPrefix {
            p.executableURL = URL(fileURLWithPath: "/bin/sh")
            p.arguments = ["-c", shellPrefix + "; exec \"$0\" \"$@\"", executable] + arguments
        } else {
            p.executableURL = URL(fileURLWithPath: executable)
            p.arguments = arguments
        }
        p.currentDirectoryURL = URL(fileURLWithPath: directory)
        let tag = UUID().uuidString.prefix(8)
        let outPath = directory + "/.cli-\(tag).out", errPath = directory + "/.cli-\(tag).err"
        FileManager.default.createFile(atPath: outPath, contents: nil)
        FileManager.default.createFile(atPath: errPath, contents: nil)
        defer {
            try? FileManager.default.removeItem(atPath: outPath)
            try? FileManager.default.removeItem(atPath: errPath)
        }
        let out = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
        let err = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
        let drained = DispatchGroup()
        if pipes {
            for (pipe, file) in [(Pipe(), out), (Pipe(), err)] {
                if file === out { p.standardOutput = pipe } else { p.standardError = pipe }
                drained.enter()
                DispatchQueue.global().async {
                    let data = pipe.fileHandleForReading.readDataToEndOfFile()
                    try? file.write(contentsOf: data)
                    drained.leave()
                }
            }
        } else {
            p.standardOutput = out
            p.standardError = err
        }
        p.standardInput = FileHandle.nullDevice
        let t0 = Date()
        try p.run()
        var timedOut = false
        let deadline = Date(timeIntervalSinceNow: timeoutS)
        while p.isRunning {
            if Date() > deadline {
                timedOut = true
                kill(p.processIdentifier, SIGKILL)
                break
            }
            usleep(10_000)
        }
        p.waitUntilExit()
        _ = drained.wait(timeout: .now() + 10)
        try? out.close()
        try? err.close()
        let read = { (path: String) in String(decoding: FileManager.default.contents(atPath: path) ?? Data(), as: UTF8.self) }
        return CLIRun(arguments: arguments, status: p.terminationStatus, signaled: p.terminationReason == .uncaughtSignal,
                      timedOut: timedOut, stdout: read(outPath), stderr: read(errPath), seconds: Date().timeIntervalSince(t0))
    }
}
