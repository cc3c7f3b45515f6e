import ArgumentParser
import Foundation
import TRWAcoustics
import TRWALSA
import TRWAnnotate
import TRWDatasets
import TRWStore
import TRWV4L2

struct ExportWAVCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export-wav",
        abstract: "Write each AE stream of a session as a WAV file (Audacity, sox; RF64 beyond 4 GiB); lost samples become silence.",
        discussion: """
            --audible heterodyne[:KHZ] mixes the signal with a local oscillator (default 40 kHz: a burst at \
            f is heard at |f - 40 kHz|), low-passes at 18 kHz and writes 48 kHz; --audible stretch[:FACTOR] \
            writes the same samples at the rate divided by FACTOR (default 10: 20-100 kHz becomes 2-10 kHz, \
            one second lasts ten). The file's LIST/INFO comment (ICMT) names the session, its start (UTC), \
            the window, the first sample's session time and the method with its parameters.
            """)

    @Argument(help: "The session file.") var session: String
    @Option(name: .long, help: "Output prefix (default: the session path without .sqlite, plus '-'); files are PREFIX<stream>[-heterodyne|-stretch].wav.") var out: String?
    @Option(name: .long, help: "Only this AE stream (e.g. ae0).") var stream: String?
    @Option(name: .long, help: "Start of the window (inclusive): \(TimeParsing.help).") var from: String?
    @Option(name: .long, help: "End of the window (exclusive): \(TimeParsing.help).") var to: String?
    @Option(name: .long, help: "Bring 20-100 kHz into hearing range: \(AudibleMethod.help).") var audible: String?
    @Flag(name: .long, help: "Write RF64 (EBU Tech 3306) even below 4 GiB; above 4 GiB it is always RF64.") var rf64 = false

    func validate() throws {
        if let audible {
            do { _ = try AudibleMethod(parsing: audible) } catch { throw ValidationError(error.description) }
        }
    }

    func run() throws {
        let reader = try SessionReader(path: session)
        let s = try reader.session()
        let endNs = try s.endTNs ?? reader.extentNs().upperBound
        let span = String(format: "0 to %.3f s", Double(endNs) / 1e9)
        func window(_ text: String?, _ name: String) throws -> Int64? {
            guard let text else { return nil }
            let t = try LabelCommand.time(text, reader)
            guard t >= 0, t <= endNs else {
                throw CLIFailure(String(format: "--%@ %@ is t = %.3f s, outside the session (%@); nothing written", name, text, Double(t) / 1e9, span))
            }
            return t
        }
        let fromNs = try window(from, "from"), toNs = try window(to, "to")
        if let fromNs, let toNs, fromNs >= toNs {
            throw CLIFailure(String(format: "--from %@ (t = %.3f s) is not before --to %@ (t = %.3f s); nothing written",
                                    from!, Double(fromNs) / 1e9, to!, Double(toNs) / 1e9))
        }
        let method = try audible.map { try AudibleMethod(parsing: $0) }
        let prefix = out ?? (session.hasSuffix(".sqlite") ? String(session.dropLast(7)) : session) + "-"
        let results: [WAVExport.Result]
        do {
            results = try WAVExport.export(session: session, outputPrefix: prefix,
                                           options: .init(stream: stream, fromNs: fromNs, toNs: toNs, audible: method, forceRF64: rf64))
        } catch let e as AudibleError {
            throw CLIFailure(e.description)
        }
        if results.isEmpty { throw CLIFailure("\(session) has no AE stream\(stream.map { " named \($0)" } ?? "")") }
        for r in results {
            var line = "wrote \(r.path)\(r.rf64 ? " (RF64)" : ""): \(r.frames) frames"
            if let t0 = r.firstSampleS { line += String(format: " from t = %.6f s", t0) }
            if r.gaps > 0 { line += " (\(r.silenceFrames) frames of silence for \(r.gaps) gaps)" }
            if let method { line += "; \(method): \(r.fileFrames) frames at \(r.fileRate) Hz" }
            print(line)
            if !r.damaged.isEmpty { print("warning: " + r.damaged.summary) }
        }
    }
}
