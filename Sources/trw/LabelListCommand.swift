import ArgumentParser
import Foundation
import TRWAnalysis
import TRWAnnotate
import TRWCore
import TRWStore

extension LabelCommand {
    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List current labels.")
        @Argument(help: "The session file.") var session: String
        @Option(name: .long, help: "Only this label set.") var set: String?
        @Flag(name: .long, help: "Print the labels as one JSON object (docs/json-reports.md).") var json = false
        func run() throws {
            let labels = try SessionReader(path: session).annotations(set: set)
            if json { print(try ReportJSON.text(LabelsJSON(session: session, set: set, labels: labels.map(LabelJSON.init)), pretty: false)); return }
            LabelCommand.table(labels).forEach { print($0) }
        }
    }
}
