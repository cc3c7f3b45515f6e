import TRWCore
import ArgumentParser
import Foundation
import TRWDatasets
import TRWSync

struct SyncReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sync-report",
        abstract: "Per stream: drift (ppm), offset, residual jitter (RMS, max), segments; and the estimated cross-stream alignment error.")

    @Argument(help: "The session file.") var session: String
    @Flag(name: .long, help: "Print the report as one JSON object (docs/json-reports.md).") var json = false

    func run() throws {
        let report = try SessionSync.report(path: session)
        print(json ? try ReportJSON.text(SyncReportJSON(session: session, report: report), pretty: false) : report.text)
    }
}

/// `sync-report --json`: the report's streams and alignment estimates.
struct SyncReportJSON: Encodable {
    var session: String
    var report: SyncReport
    enum K: String, CodingKey { case session }
    func encode(to encoder: Encoder) throws {
        try report.encode(to: encoder)
        var c = encoder.container(keyedBy: K.self)
        try c.encode(session, forKey: .session)
    }
}
