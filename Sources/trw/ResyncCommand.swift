import TRWCore
import ArgumentParser
import Foundation
import TRWDatasets

struct ResyncCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resync",
        abstract: "Re-fit every stream's clock over the whole session and recompute every t_ns from the stored raw times.",
        discussion: "The previous fit stays in the clock-model history; the report says what moved.")

    @Argument(help: "The session file.") var session: String

    func run() throws {
        let results = try SessionSync.resync(path: session)
        for r in results {
            let m = r.moved
            print("\(r.key.padded(to: 6)) \(("\(r.samples)").leftPadded(to: 8)) samples: \(m.changed) moved, mean |Δt| "
                  + String(format: "%.1f µs, max %.1f µs", m.meanAbsDeltaNs / 1000, Double(m.maxAbsDeltaNs) / 1000)
                  + "; segments \(m.oldSegmentCount) -> \(m.newSegmentCount)")
        }
        print("")
        print(try SessionSync.report(path: session).text)
    }
}
