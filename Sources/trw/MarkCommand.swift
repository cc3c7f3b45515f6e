import ArgumentParser
import Foundation
import TRWCore
import TRWStore

struct MarkCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mark",
        abstract: "Add, list or remove operator markers of a session (also while it records, from another terminal).",
        discussion: """
            While the session records, a marker without --at is placed now on the session's clock. On a finished \
            session (complete, aborted, recovered) "now" is after the data, so --at is required and must lie inside \
            the session. Removing a marker (--remove ID) keeps it in the history (--list --history).
            """)

    @Argument(help: "The session file.")
    var session: String

    @Argument(help: "What happened, e.g. \"vent seen\" or \"supply off\".")
    var text: String?

    @Option(name: .long, help: "Session time in seconds (default while recording: now; required on a finished session).")
    var at: Double?

    @Option(name: .long, help: "Who marks (or removes) it.")
    var author: String = ProcessInfo.processInfo.environment["USER"] ?? ""

    @Flag(name: .long, help: "List the current markers with their ids.")
    var list = false

    @Flag(name: .long, help: "With --list: every marker row ever written, removals included.")
    var history = false

    @Option(name: .long, help: "Remove the marker with this id (see --list); it stays in the history.")
    var remove: Int64?

    func validate() throws {
        let modes = (text != nil ? 1 : 0) + (list ? 1 : 0) + (remove != nil ? 1 : 0)
        if modes != 1 { throw ValidationError("give exactly one of: a marker TEXT, --list, or --remove ID") }
        if history && !list { throw ValidationError("--history goes with --list") }
        if let at, !SessionTimeLimit.accepts(at) {
            throw ValidationError("--at must be \(SessionTimeLimit.expected), got \(at)")
        }
        if (at != nil) && text == nil { throw ValidationError("--at goes with a marker TEXT") }
    }

    func run() throws {
        if list {
            let rows = try SessionReader(path: session).markers(includeHistory: history)
            print("   id        t_s  author        origin  created_utc               text" + (history ? "  (what)" : ""))
            for m in rows {
                let what = m.deleted ? "  (removal of \(m.supersedesId.map { "\($0)" } ?? "?"))" : ""
                print("\(m.id!)".leftPadded(to: 5) + String(format: " %10.3f", Double(m.tNs) / 1e9) + "  " + m.author.padded(to: 12)
                      + "  " + m.origin.padded(to: 6) + "  " + m.createdUtc.padded(to: 24) + "  " + m.text + (history ? what : ""))
            }
            return
        }
        if let remove {
            let m = try SessionWriter(appendingTo: session).removeMarker(id: remove, author: author)
            print(String(format: "removed marker %lld at t = %.3f s: %@ (kept in trw mark %@ --list --history)", remove, Double(m.tNs) / 1e9, m.text, session))
            return
        }
        guard let text else { return }
        let r = try SessionReader(path: session)
        let s = try r.session()
        let t: Int64
        if let at {
            t = Int64((at * 1e9).rounded())
            if s.status != .recording {
                let ext = try r.extentNs()
                guard ext.contains(t) else {
                    throw MarkError(message: String(format: "--at %.3f s is outside %@ (%.3f s to %.3f s); markers mark moments of the recording",
                                                    at, session, Double(ext.lowerBound) / 1e9, Double(ext.upperBound) / 1e9))
                }
            }
        } else {
            guard s.status == .recording else {
                let ext = try r.extentNs()
                throw MarkError(message: String(format: "%@ is a finished session (%@, data up to %.3f s): \"now\" is not a time in it; give --at SECONDS",
                                                session, s.status.rawValue, Double(ext.upperBound) / 1e9))
            }
            t = s.clock.sessionTime(monotonic: HostClock.monotonicNanoseconds())
        }
        let id = try SessionWriter(appendingTo: session).addMarker(MarkerRecord(tNs: t, text: text, author: author, origin: "cli"))
        print(String(format: "marker %lld at t = %.3f s: %@", id, Double(t) / 1e9, text))
    }
}

/// A marker request that cannot be honoured (runtime error, exit 1).
struct MarkError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}
