import TRWCore
import ArgumentParser
import Foundation
import TRWStore

/// Non-interactive labelling for scripts and bulk work.
struct LabelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "label",
        abstract: "Add, list, remove labels and show their history (edits supersede, never overwrite).",
        subcommands: [Add.self, List.self, Remove.self, History.self])

    static let knownLabels = ["runaway_onset", "venting", "self_heating_onset", "exclude"]

    /// Seconds ("123.4"), minutes:seconds ("2:03.4"), hours ("1:02:03"), or relative
    /// to a marker ("marker:vent seen+2.5").
    static func parseTime(_ s: String, markers: [MarkerRecord]) throws -> Int64 {
        if s.hasPrefix("marker:") {
            var body = String(s.dropFirst(7))
            var offset = 0.0
            if let r = body.range(of: #"[+-][0-9.]+$"#, options: .regularExpression) {
                offset = Double(body[r])!
                body.removeSubrange(r)
            }
            guard let m = markers.first(where: { $0.text == body }) else {
                throw ValidationError("no marker named '\(body)'; markers: \(markers.map(\.text).joined(separator: ", "))")
            }
            return m.tNs + Int64((offset * 1e9).rounded())
        }
        let parts = s.split(separator: ":").map(String.init)
        guard (1...3).contains(parts.count), let last = Double(parts.last!) else {
            throw ValidationError("'\(s)' is not a time; use seconds (123.4), m:s (2:03.4), h:m:s, or marker:TEXT[+-s]")
        }
        var total = last
        for (i, p) in parts.dropLast().reversed().enumerated() {
            guard let v = Int(p), v >= 0 else { throw ValidationError("'\(s)' is not a time") }
            total += Double(v) * (i == 0 ? 60 : 3600)
        }
        return Int64((total * 1e9).rounded())
    }

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add a label at a time (or an interval with --to).")
        @Argument(help: "The session file.") var session: String
        @Argument(help: "runaway_onset, venting, self_heating_onset, exclude, or a custom name.") var label: String
        @Argument(help: "Time: seconds, m:s, h:m:s, or marker:TEXT[+-s].") var at: String
        @Option(name: .long, help: "End of an interval (required for exclude).") var to: String?
        @Option(name: .long, help: "Author (default $USER).") var author: String = ProcessInfo.processInfo.environment["USER"] ?? "unknown"
        @Option(name: .long, help: "Method (default manual).") var method: String = "manual"
        @Option(name: .long, help: "Free note.") var note: String = ""
        func run() throws {
            let r = try SessionReader(path: session)
            let markers = try r.markers()
            let t0 = try LabelCommand.parseTime(at, markers: markers)
            let t1 = try to.map { try LabelCommand.parseTime($0, markers: markers) }
            if label == "exclude" && t1 == nil { throw ValidationError("an exclude label is an interval: give --to") }
            if let t1, t1 < t0 { throw ValidationError("--to is before the start") }
            let id = try SessionWriter(appendingTo: session).addAnnotation(
                AnnotationRecord(label: label, startTNs: t0, endTNs: t1, author: author, method: method, note: note))
            print(String(format: "label %lld: %@ at %.3f s", id, label, Double(t0) / 1e9))
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List current labels.")
        @Argument(help: "The session file.") var session: String
        @Flag(name: .long, help: "JSON output.") var json = false
        func run() throws {
            let labels = try SessionReader(path: session).annotations()
            if json {
                let rows = labels.map { a -> [String: String] in
                    ["id": "\(a.id!)", "label": a.label, "start_s": String(format: "%.6f", Double(a.startTNs) / 1e9),
                     "end_s": a.endTNs.map { String(format: "%.6f", Double($0) / 1e9) } ?? "", "author": a.author,
                     "method": a.method, "parameters": a.parametersJson, "created_utc": a.createdUtc]
                }
                print(JSONText.encode(rows))
                return
            }
            print("   id  label                  start_s      end_s  author       method")
            for a in labels {
                print(("\(a.id!)").leftPadded(to: 5) + "  " + a.label.padded(to: 20) + " " + (String(format: "%.3f", Double(a.startTNs) / 1e9)).leftPadded(to: 9)
                      + " " + (a.endTNs.map { String(format: "%.3f", Double($0) / 1e9) } ?? "-").leftPadded(to: 10) + "  "
                      + a.author.padded(to: 12) + " " + a.method)
            }
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "rm", abstract: "Remove a label (kept in history).")
        @Argument(help: "The session file.") var session: String
        @Argument(help: "Label id (see trw label list).") var id: Int64
        @Option(name: .long) var author: String = ProcessInfo.processInfo.environment["USER"] ?? "unknown"
        func run() throws {
            guard let a = try SessionReader(path: session).annotations().first(where: { $0.id == id }) else {
                throw ValidationError("no current label with id \(id) in \(session)")
            }
            try SessionWriter(appendingTo: session).addAnnotation(
                AnnotationRecord(label: a.label, startTNs: a.startTNs, endTNs: a.endTNs, author: author, method: a.method,
                                 parametersJson: a.parametersJson, supersedesId: id, deleted: true))
            print("removed label \(id) (\(a.label)); it stays in the history")
        }
    }

    struct History: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Every label version ever written.")
        @Argument(help: "The session file.") var session: String
        func run() throws {
            for a in try SessionReader(path: session).annotations(includeHistory: true) {
                let what = a.deleted ? "deleted" : (a.supersedesId != nil ? "edit of \(a.supersedesId!)" : "new")
                print(("\(a.id!)").leftPadded(to: 5) + "  " + a.label.padded(to: 20) + " " + (String(format: "%.3f", Double(a.startTNs) / 1e9)).leftPadded(to: 9)
                      + " s  " + a.author.padded(to: 12) + " " + a.method.padded(to: 24) + " " + a.createdUtc + "  " + what)
            }
        }
    }
}
