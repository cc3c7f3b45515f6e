import ArgumentParser
import TRWCore
import TRWDatasets
import TRWRecorder
import TRWStore
import TRWFigures

struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "Show what a session holds: streams, rates, counts, gaps, size, codec ratio, labels.")

    @Argument(help: "The session file (.sqlite).")
    var session: String

    @Flag(name: .long, help: "Print the report as one JSON object (docs/json-reports.md).")
    var json = false

    func run() throws {
        if json {
            let summary = try SessionReader(path: session).summary()
            print(try ReportJSON.text(InfoJSON(path: session, summary: summary, sync: try? SessionSync.report(path: session)), pretty: false))
            return
        }
        print(try InfoReport.full(path: session))
    }
}
