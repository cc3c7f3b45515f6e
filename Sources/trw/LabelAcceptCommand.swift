import ArgumentParser
import Foundation
import TRWAnalysis
import TRWAnnotate
import TRWCore
import TRWStore

extension LabelCommand {
    struct Accept: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Store suggestions as labels (method detector:NAME, with the detector's parameters).")
        @Argument(help: "The session file.") var session: String
        @Argument(help: "Which: numbers from `trw label suggest`, detector names, or 'all'.") var which: [String]
        @Option(name: .long) var author: String = LabelCommand.defaultAuthor
        @Option(name: .long, help: "Label set (default: the author).") var set: String?
        @Option(name: .long, help: "Tick rate the suggestions were made at, Hz.") var rate: Double = 4
        func validate() throws { try OptionCheck.tickRate(rate) }
        @Flag(name: .long, help: "Save refused labels anyway (e.g. a second onset in the set); kept in their history.") var force = false
        func run() throws {
            let r = try SessionReader(path: session)
            let all = try SuggestionEngine.suggest(r, rateHz: rate)
            var chosen: [Suggestion] = []
            for w in which {
                if w == "all" { chosen = all; break }
                if let n = Int(w) {
                    guard n >= 1 && n <= all.count else { throw CLIFailure("suggestion \(n) does not exist; there are \(all.count)") }
                    chosen.append(all[n - 1])
                } else if let s = all.first(where: { $0.detector == w }) {
                    chosen.append(s)
                } else {
                    throw CLIFailure("'\(w)' is neither a suggestion number nor a detector that suggested something (\(all.map(\.detector).joined(separator: ", ")))")
                }
            }
            let rows = chosen.map { s in
                AnnotationRecord(label: s.label, startTNs: Int64((s.tS * 1e9).rounded()), author: author, method: s.method,
                                 parametersJson: s.parametersJSON, note: s.note, labelSet: set)
            }
            let ids = try SessionWriter(appendingTo: session).addLabels(rows, force: force)
            for (id, s) in zip(ids, chosen) {
                print(String(format: "label %lld: %@ at %.3f s from %@", id, s.label, s.tS, s.detector))
            }
        }
    }
}
