import ArgumentParser
import Foundation
import TRWDatasets
import TRWStore
import TRWCore

struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check a session without changing it: SQLite structure, every payload checksum, sequence continuity, status.",
        discussion: """
            Exit 0 when nothing is damaged, 1 when the SQLite structure is not intact, a frame or audio payload fails \
            its checksum (or, for files written before checksums, does not decode), or frames / audio samples are \
            missing without a gap row that accounts for them. An unfinished recording (status `recording`) is \
            reported; `trw repair` finishes it. Opens read-only, also on read-only media.
            """)

    @Argument(help: "The session file.")
    var session: String

    @Flag(name: .long, help: "Print the result as one JSON object (docs/json-reports.md).")
    var json = false

    @Flag(name: .long, help: "Also decode every checksummed payload (slower).")
    var decode = false

    func run() throws {
        let r = try SessionVerifier.verify(path: session, fullDecode: decode)
        if json {
            print(try Self.json(r))
        } else {
            print(Self.text(r))
        }
        if r.isDamaged { throw ExitCode(1) }
    }

    static func text(_ r: VerifyReport) -> String {
        var lines: [String] = []
        let st = r.status?.rawValue ?? "unknown (no session row)"
        var status = "status: \(st)"
        if r.status == .recording {
            status += r.liveRecorder ? " (a live recorder is writing it now)" : " (the recorder ended without finalizing: run trw repair)"
        }
        lines.append("\(r.path)")
        lines.append(status + (r.statusDetail.isEmpty ? "" : " - \(r.statusDetail)"))
        lines.append("sqlite: integrity_check \(r.integrity == ["ok"] ? "ok" : r.integrity.prefix(3).joined(separator: "; ")); journal \(r.journalMode)"
                     + (r.walBytes > 0 ? "; \(r.walBytes) bytes in -wal (not self-contained)" : "; one file"))
        for s in r.streams {
            var l = "  \(s.key) (\(s.kind)): \(s.rows) rows"
            if s.kind == "thermal" || s.kind == "ae" {
                l += ", \(s.checksummed) checksums ok"
                if s.unchecksummed > 0 { l += ", \(s.unchecksummed) without checksum (old codec, decoded)" }
                if !s.damaged.isEmpty { l += ", \(s.damaged.count) DAMAGED" }
                let unit = s.kind == "thermal" ? "frames" : "sample frames"
                l += s.discontinuities == 0 ? ", continuous" : ", \(s.discontinuities) discontinuities (\(s.missing) \(unit) missing, gaps account for \(s.recordedLost))"
                if s.overlaps > 0 { l += ", \(s.overlaps) repeated/backward" }
            }
            lines.append(l)
            for d in s.damaged.prefix(5) { lines.append("    \(d)") }
            if s.damaged.count > 5 { lines.append("    ... and \(s.damaged.count - 5) more") }
        }
        if r.isDamaged {
            lines.append("DAMAGED:")
            for p in r.problems { lines.append("  " + p) }
            if !r.damagedPayloads.isEmpty { lines.append("salvage the good rows into a new file: trw repair \(r.path) --out NEW.sqlite") }
        } else {
            lines.append("ok: nothing damaged")
        }
        return lines.joined(separator: "\n")
    }

    static func json(_ r: VerifyReport) throws -> String {
        try ReportJSON.text(VerifyJSON(r), pretty: false)
    }
}
