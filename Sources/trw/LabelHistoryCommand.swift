import ArgumentParser
import Foundation
import TRWAnalysis
import TRWAnnotate
import TRWCore
import TRWStore

extension LabelCommand {
    struct History: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Every label version ever written.")
        @Argument(help: "The session file.") var session: String
        @Option(name: .long, help: "Only this label set.") var set: String?
        @Flag(name: .long, help: "Print every version as one JSON object (docs/json-reports.md).") var json = false
        func run() throws {
            let all = try SessionReader(path: session).annotations(includeHistory: true, set: set)
            if json { print(try ReportJSON.text(LabelsJSON(session: session, set: set, labels: all.map(LabelJSON.init)), pretty: false)); return }
            LabelCommand.table(all, history: true).forEach { print($0) }
        }
    }
}
