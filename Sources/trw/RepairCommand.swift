import ArgumentParser
import Foundation
import TRWStore

struct RepairCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "repair",
        abstract: "Recover a session whose recorder was killed or lost power, or salvage a damaged one into a new file.",
        discussion: """
            Without --out: marks a killed recording `recovered` (data kept up to its last commit), checks the SQLite \
            structure and every payload's checksum, and leaves the session as one self-contained file. A complete \
            session is only checked. Damaged payloads are reported (exit 1): salvage them with --out.
            With --out NEW: copies every readable row into the new file NEW, leaving the original untouched; frames \
            and audio chunks with damaged payloads are left out and recorded as `damaged_payload` gaps, rows SQLite \
            cannot read as `unreadable_rows` gaps. A killed recording is marked `recovered` in the copy.
            Refuses a session that a live recorder is writing (it holds the session's lock).
            """)

    @Argument(help: "The session file.")
    var session: String

    @Option(name: .long, help: "Salvage into this NEW session file (never overwritten); the original is not changed.")
    var out: String?

    func validate() throws {
        if let out {
            if out.isEmpty { throw ValidationError("--out: give the path of a new .sqlite file") }
            let a = URL(fileURLWithPath: out).standardizedFileURL.path, b = URL(fileURLWithPath: session).standardizedFileURL.path
            if a == b { throw ValidationError("--out must name a new file, not the session itself (\(session))") }
        }
    }

    func run() throws {
        if let out {
            let r = try SessionRepair.salvage(path: session, to: out)
            print("\(session) -> \(out): \(r.copiedRows) rows copied; original not changed")
            print("integrity of the original: \(r.integrity.prefix(3).joined(separator: "; "))\(r.integrity.count > 3 ? "; ..." : "")")
            for t in r.tables where t.copied > 0 || t.unreadable > 0 {
                print("  \(t.table): \(t.copied) rows" + (t.unreadable > 0 ? ", \(t.unreadable) unreadable (left out, counted as a gap)" : ""))
            }
            if !r.damaged.isEmpty {
                let frames = r.damaged.filter { $0.table == "thermal_frame" }.count
                print("left out \(frames) frames and \(r.damaged.count - frames) audio chunks with damaged payloads (each a damaged_payload gap):")
                for d in r.damaged.prefix(10) { print("  \(d)") }
                if r.damaged.count > 10 { print("  ... and \(r.damaged.count - 10) more") }
            }
            if let p = r.previousStatus, let n = r.newStatus, p != n { print("status: \(p.rawValue) -> \(n.rawValue)") }
            return
        }
        let r = try SessionRepair.repair(path: session)
        print("\(session): \(r.previousStatus.rawValue) -> \(r.newStatus.rawValue)\(r.changed ? "" : " (nothing to repair)")")
        print("integrity: \(r.integrity)")
        for s in r.streams {
            let t = s.lastTNs.map { String(format: "%.3f s", Double($0) / 1e9) } ?? "no data"
            print("  \(s.key): \(s.rows) rows, last committed at \(t)\(s.sequenceHoles > 0 ? ", \(s.sequenceHoles) frames missing inside the range" : "")")
        }
        if let last = r.lastTNs, r.changed {
            let spread = r.streams.compactMap(\.lastTNs).map { last - $0 }.max() ?? 0
            print(String(format: "kept everything up to t = %.3f s; streams end within %.3f s of each other; anything after the last commit is lost (at most ~1 s)",
                         Double(last) / 1e9, Double(spread) / 1e9))
        }
        if case .walKept(let reason) = r.closeOutcome { print("not one file yet: \(reason)") }
        if !r.damaged.isEmpty {
            print("payloads: \(r.damaged.count) damaged (values unusable; readers skip them):")
            for d in r.damaged.prefix(10) { print("  \(d)") }
            if r.damaged.count > 10 { print("  ... and \(r.damaged.count - 10) more") }
            print("salvage the good rows into a new file: trw repair \(session) --out NEW.sqlite")
        } else {
            print("payloads: every checksum matches")
        }
        if r.integrity != "ok" || !r.damaged.isEmpty { throw ExitCode(1) }
    }
}
