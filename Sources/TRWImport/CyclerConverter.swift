import Foundation
import TRWIO

/// Runs the Python converter (`CyclerConverterScript`) as a child process with a bounded
/// wait, and reads the Battery Data Format CSV it writes.
public enum CyclerConverter {
    /// The interpreter: `--python`, else $TRW_PYTHON, else ./.venv/bin/python3 when it exists
    /// (the project's venv, `make deps`), else python3 on PATH.
    public static func interpreter(explicit: String?, environment: [String: String] = ProcessInfo.processInfo.environment,
                                   currentDirectory: String = FileManager.default.currentDirectoryPath) -> String {
        if let e = explicit { return e }
        if let e = environment["TRW_PYTHON"], !e.isEmpty { return e }
        let venv = (currentDirectory as NSString).appendingPathComponent(".venv/bin/python3")
        if FileManager.default.isExecutableFile(atPath: venv) { return venv }
        return "python3"
    }

    /// Converts `input` (a `format` file) to BDF CSV in a temporary folder and parses it.
    /// `timeoutS` bounds the whole conversion; the child is ended (SIGTERM, then SIGKILL) after it.
    public static func convert(input: String, format: ImportFormat, python: String, utcOffsetHours: Double?,
                               timeoutS: Double) throws -> ImportedTable {
        precondition(format.needsConverter)
        guard FileManager.default.fileExists(atPath: input) else { throw ImportError("\(input): no such file") }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("trw-import-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let script = dir.appendingPathComponent(CyclerConverterScript.fileName).path
        let output = dir.appendingPathComponent("converted.bdf.csv").path
        try CyclerConverterScript.source.write(toFile: script, atomically: true, encoding: .utf8)
        let offset = utcOffsetHours.map { String($0) } ?? "none"
        let command = ([python, script, format.rawValue, input, output, offset]).map(shellQuote).joined(separator: " ")
        let child: ChildProcess
        do { child = try ChildProcess(shellCommand: command) } catch {
            throw ImportError("could not start the \(format.rawValue) converter (\(python)): \(error)")
        }
        child.closeInput()
        let deadline = Deadline.after(seconds: timeoutS)
        let line: [UInt8]
        do {
            line = try child.readLine(deadline: deadline)
        } catch {
            let exit = child.terminate(grace: 2)
            if case .timedOut? = error as? ChildProcessError {
                throw ImportError("the \(format.rawValue) converter (\(python)) did not finish within \(timeoutS) s (--converter-timeout); it was ended (\(exit))")
            }
            throw ImportError("the \(format.rawValue) converter (\(python)) gave no answer: \(error) (\(exit)); is \(python) the project's venv (make deps)?")
        }
        let exit = child.finish(exitWithin: 5, grace: 2)
        struct Answer: Decodable { var ok: Bool; var rows: Int?; var columns: [String]?; var error: String? }
        guard let answer = try? JSONDecoder().decode(Answer.self, from: Data(line)) else {
            throw ImportError("the \(format.rawValue) converter wrote '\(String(decoding: line.prefix(200), as: UTF8.self))' instead of its JSON answer (\(exit))")
        }
        guard answer.ok else {
            throw ImportError("\(input): the \(format.rawValue) reader failed: \(answer.error ?? "no reason given")")
        }
        guard exit.succeeded else { throw ImportError("the \(format.rawValue) converter ended badly (\(exit)) after converting") }
        return try DelimitedParser.parseBDF(path: output, source: input, format: format)
    }

    static func shellQuote(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'" }
}
