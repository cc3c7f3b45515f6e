import TRWCore
import ArgumentParser
import Foundation
import TRWDatasets

struct SyncReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sync-report",
        abstract: "Per stream: drift (ppm), offset, residual jitter (RMS, max), segments; and the estimated cross-stream alignment error.")

    @Argument(help: "The session file.") var session: String

    func run() throws {
        print(try SessionSync.report(path: session).text)
    }
}
