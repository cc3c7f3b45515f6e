import ArgumentParser
import Foundation
import TRWStore

struct RepairCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "repair",
        abstract: "Recover a session whose recorder was killed or lost power: mark it recovered and report what was kept.",
        discussion: "Safe to run on any session: a complete one is only checked.")

    @Argument(help: "The session file.")
    var session: String

    func run() throws {
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
        if r.integrity != "ok" { throw ExitCode(1) }
    }
}
