import ArgumentParser
import Foundation
import TRWRecorder
import TRWRig

struct RigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rig",
        abstract: "Rig files: check one against the devices present.",
        subcommands: [Check.self])

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
