import ArgumentParser
import Foundation
import TRWRecorder
import TRWRig

extension RigCommand {
    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate a rig file, open every device it names, and print what would be recorded.")
        @Argument(help: "The rig file (.toml); examples in rigs/.") var file: String
        func run() throws {
            let rig = try RigFile.load(path: file)
            let (ok, report) = rig.check()
            print(report)
            if !ok { throw ExitCode(1) }
        }
    }
}
