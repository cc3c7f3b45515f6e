import ArgumentParser
import Foundation
import TRWAnalysis
import TRWAnnotate
import TRWCore
import TRWStore

extension LabelCommand {
    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "rm", abstract: "Remove a label (kept in history).")
        @Argument(help: "The session file.") var session: String
        @Argument(help: "Label id (see trw label list).") var id: Int64
        @Option(name: .long) var author: String = LabelCommand.defaultAuthor
        func run() throws {
            guard let a = try SessionReader(path: session).annotations().first(where: { $0.id == id }) else {
                throw CLIFailure("no current label with id \(id) in \(session) (trw label list shows them)")
            }
            try SessionWriter(appendingTo: session).addLabels([
                AnnotationRecord(label: a.label, startTNs: a.startTNs, endTNs: a.endTNs, author: author, method: a.method,
                                 parametersJson: a.parametersJson, supersedesId: id, deleted: true, labelSet: a.labelSet)])
            print("removed label \(id) (\(a.label)); it stays in the history")
        }
    }
}
