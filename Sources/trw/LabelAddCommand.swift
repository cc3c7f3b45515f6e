import ArgumentParser
import Foundation
import TRWAnalysis
import TRWAnnotate
import TRWCore
import TRWStore

extension LabelCommand {
    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a label at a time (or an interval with --to).",
            discussion: """
                Refused unless --force (which is recorded in trw label history): an unknown kind (declare a custom label \
                with custom:NAME or --custom), a time outside the session, a second runaway_onset, venting or \
                self_heating_onset instant in the same set (edit or remove the first). docs/annotation.md.
                """)
        @Argument(help: "The session file.") var session: String
        @Argument(help: "runaway_onset, venting, self_heating_onset, exclude, or a custom label custom:NAME.") var label: String
        @Argument(help: "Time: \(TimeParsing.help).") var at: String
        @Option(name: .long, help: "End of an interval (required for exclude).") var to: String?
        @Option(name: .long, help: "Author (default $USER).") var author: String = LabelCommand.defaultAuthor
        @Option(name: .long, help: "Label set (default: the author).") var set: String?
        @Option(name: .long, help: "Method (default manual).") var method: String = "manual"
        @Option(name: .long, help: "Free note.") var note: String = ""
        @Flag(name: .long, help: "The label is a custom kind (same as the prefix custom:).") var custom = false
        @Flag(name: .long, help: "Save a refused label anyway; what was overridden is kept in its history.") var force = false
        func validate() throws {
            do { _ = try LabelRules.storedName(label, custom: custom) } catch let e as LabelRefusal {
                throw ValidationError(e.description)
            }
        }
        func run() throws {
            let name = try LabelRules.storedName(label, custom: custom)
            let r = try SessionReader(path: session)
            let t0 = try LabelCommand.time(at, r)
            let t1 = try to.map { try LabelCommand.time($0, r) }
            if name == "exclude" && t1 == nil { throw ValidationError("an exclude label is an interval: give --to") }
            if let t1, t1 < t0 { throw ValidationError("--to is before the start") }
            let rec = AnnotationRecord(label: name, startTNs: t0, endTNs: t1, author: author, method: method, note: note, labelSet: set)
            let id = try SessionWriter(appendingTo: session).addLabels([rec], force: force)[0]
            let stored = try SessionReader(path: session).annotations(includeHistory: true).first { $0.id == id }
            print(String(format: "label %lld: %@ at %.3f s (set %@)", id, name, Double(t0) / 1e9, set ?? author)
                  + (stored.map { $0.forced.isEmpty ? "" : "; forced over: \($0.forced)" } ?? ""))
        }
    }
}
