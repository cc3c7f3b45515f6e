import ArgumentParser
import TRWRecorder
import TRWStore
import TRWFigures

struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "Show what a session holds: streams, rates, counts, gaps, size, codec ratio, labels.")

    @Argument(help: "The session file (.sqlite).")
    var session: String

    func run() throws {
        print(try InfoReport.full(path: session))
    }
}
