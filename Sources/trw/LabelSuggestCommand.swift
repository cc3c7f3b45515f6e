import ArgumentParser
import Foundation
import TRWAnalysis
import TRWAnnotate
import TRWCore
import TRWStore

extension LabelCommand {
    struct Suggest: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run the suggestion detectors (\(SuggestionEngine.detectors.joined(separator: ", "))) and list what they propose.")
        @Argument(help: "The session file.") var session: String
        @Option(name: .long, help: "Comma-separated detectors (default all).") var detectors: String?
        @Option(name: .long, help: "Tick rate for the detectors, Hz.") var rate: Double = 4
        @Flag(name: .long, help: "Print the suggestions as one JSON object (docs/json-reports.md).") var json = false
        func validate() throws { try OptionCheck.tickRate(rate) }
        func run() throws {
            let r = try SessionReader(path: session)
            let names = detectors.map { $0.split(separator: ",").map(String.init) } ?? SuggestionEngine.detectors
            let s = try SuggestionEngine.suggest(r, detectors: names, rateHz: rate)
            if json {
                let rows = s.map { x in
                    SuggestionsJSON.Row(label: x.label, tS: x.tS, detectedS: x.detectedS, detector: x.detector, method: x.method,
                                        parameters: x.parameters.sorted { $0.key < $1.key }.map { SuggestionsJSON.Parameter(name: $0.key, value: finite($0.value)) },
                                        note: x.note)
                }
                print(try ReportJSON.text(SuggestionsJSON(session: session, detectors: names, rateHz: rate, suggestions: rows), pretty: false))
                return
            }
            if s.isEmpty { print("no suggestions from \(names.joined(separator: ", "))"); return }
            print("  #  label                  t_s  detector      confirmed_s  why")
            for (i, x) in s.enumerated() {
                print("\(i + 1)".leftPadded(to: 3) + "  " + x.label.padded(to: 18) + String(format: "%9.2f", x.tS) + "  " + x.detector.padded(to: 13)
                      + String(format: "%11.2f", x.detectedS) + "  " + x.note)
            }
        }
    }
}
