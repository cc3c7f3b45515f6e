import ArgumentParser
import Foundation
import TRWALSA
import TRWDatasets
import TRWV4L2

struct ExportWAVCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export-wav",
        abstract: "Write each AE stream of a session as a WAV file (Audacity, sox); lost samples become silence.")

    @Argument(help: "The session file.") var session: String
    @Option(name: .long, help: "Output prefix (default: the session path without .sqlite, plus '-'); files are PREFIX<stream>.wav.") var out: String?
    @Option(name: .long, help: "Only this AE stream (e.g. ae0).") var stream: String?

    func run() throws {
        let prefix = out ?? (session.hasSuffix(".sqlite") ? String(session.dropLast(7)) : session) + "-"
        let results = try WAVExport.export(session: session, outputPrefix: prefix, stream: stream)
        if results.isEmpty { throw CLIFailure("\(session) has no AE stream\(stream.map { " named \($0)" } ?? "")") }
        for r in results {
            print("wrote \(r.path): \(r.frames) frames" + (r.gaps > 0 ? " (\(r.silenceFrames) frames of silence for \(r.gaps) gaps)" : ""))
            if !r.damaged.isEmpty { print("warning: " + r.damaged.summary) }
        }
    }
}
