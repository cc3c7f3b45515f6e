import Foundation

/// Runs command-line tools (sox, soxi) from tests, to check trw's output
/// against an independent implementation.
public enum ExternalTool {
    public struct Failure: Error, CustomStringConvertible {
        public var command: String
        public var status: Int32
        public var stderr: String
        public var description: String { "`\(command)` exited with \(status): \(stderr)" }
    }

    /// Runs `tool` (looked up on PATH) with `arguments`; returns stdout, throws on a
    /// non-zero exit unless `anyStatus`.
    @discardableResult
    public static func run(_ tool: String, _ arguments: [String], anyStatus: Bool = false) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = [tool] + arguments
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 || anyStatus else {
            throw Failure(command: ([tool] + arguments).joined(separator: " "), status: p.terminationStatus,
                          stderr: String(decoding: e, as: UTF8.self))
        }
        return String(decoding: o, as: UTF8.self)
    }

    /// A fresh temporary directory for one test.
    public static func temporaryDirectory(_ label: String) throws -> URL {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("trw-\(label)-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}
