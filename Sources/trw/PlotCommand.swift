import ArgumentParser
import Foundation
import TRWRecorder
import TRWStore

struct PlotCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plot",
        abstract: "Write an SVG of a session: IR max and cell temperature, voltage, current, AE hit rate, with labels and markers.")

    @Argument(help: "The session file.")
    var session: String

    @Option(name: .long, help: "SVG file to write (default: the session path with .svg).")
    var out: String?

    func run() throws {
        let reader = try SessionReader(path: session)
        let path = out ?? (session.hasSuffix(".sqlite") ? String(session.dropLast(7)) + ".svg" : session + ".svg")
        try SessionPlot.render(reader).write(toFile: path, atomically: true, encoding: .utf8)
        print("wrote \(path)")
    }
}
