import ArgumentParser
import Foundation
import TRWRecorder
import TRWRig

struct RigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rig",
        abstract: "Rig files: check one against the devices present.",
        subcommands: [Check.self])
}
