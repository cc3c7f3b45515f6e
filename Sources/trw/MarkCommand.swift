import ArgumentParser
import Foundation
import TRWCore
import TRWStore

struct MarkCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mark",
        abstract: "Add an operator marker to a session (also while it records, from another terminal).",
        discussion: "The marker's time is now on the session's clock, or --at seconds into the session.")

    @Argument(help: "The session file.")
    var session: String

    @Argument(help: "What happened, e.g. \"vent seen\" or \"supply off\".")
    var text: String

    @Option(name: .long, help: "Session time in seconds (default: now).")
    var at: Double?

    @Option(name: .long, help: "Who marks it.")
    var author: String = ProcessInfo.processInfo.environment["USER"] ?? ""

    func validate() throws {
        if let at, !SessionTimeLimit.accepts(at) {
            throw ValidationError("--at must be \(SessionTimeLimit.expected), got \(at)")
        }
    }

    func run() throws {
        let writer = try SessionWriter(appendingTo: session)
        let s = try SessionReader(path: session).session()
        let t = at.flatMap(SessionTimeLimit.nanoseconds) ?? s.clock.sessionTime(monotonic: HostClock.monotonicNanoseconds())
        try writer.addMarker(MarkerRecord(tNs: t, text: text, author: author, origin: "cli"))
        print(String(format: "marker at t = %.3f s: %@", Double(t) / 1e9, text))
    }
}
