import ArgumentParser
import Foundation
import TRWAnalysis
import TRWAnnotate
import TRWCore
import TRWStore

extension LabelCommand {
    struct Sets: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The label sets in a session and their current label counts.")
        @Argument(help: "The session file.") var session: String
        func run() throws {
            let r = try SessionReader(path: session)
            for (s, n) in try r.labelSets() { print(s.padded(to: 24) + " \(n) labels") }
            do {
                let c = try LabelSetSelection.choose(try r.annotations(), session: session)
                print("export and score use: \(c.summary)")
            } catch let e as AmbiguousLabelSets {
                print("export and score refuse without --label-set: \(e.sets.count) candidate sets (\(e.sets.joined(separator: ", ")))")
            }
        }
    }
}
