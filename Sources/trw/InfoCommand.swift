import ArgumentParser
import TRWRecorder
import TRWStore

struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "Show what a session holds: streams, rates, counts, gaps, size, codec ratio, labels.")

    @Argument(help: "The session file (.sqlite).")
    var session: String

    func run() throws {
        let summary = try SessionReader(path: session).summary()
        print(InfoReport.render(summary, path: session))
    }
}
