import ArgumentParser
import Foundation
import TRWAnalysis
import TRWAnnotate
import TRWRecorder
import TRWStore
import TRWFigures

struct PlotCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plot",
        abstract: "Figure of a session (SVG or PNG): IR max, cell and ambient temperature, voltage, current, AE hit rate, with labels, excluded intervals and markers.")

    @Argument(help: "The session file.")
    var session: String

    @Option(name: [.short, .customLong("out")], help: "Output .svg or .png (default: the session path with .svg).")
    var out: String?

    @Option(name: .long, help: "Start of the window: \(TimeParsing.help).") var from: String?
    @Option(name: .long, help: "End of the window.") var to: String?
    @Option(name: .long, help: "Comma-separated panels: \(SessionPlot.panelKeys.joined(separator: ",")) (default all).") var channels: String?
    @Option(name: .long, help: "PNG scale factor (2 for print).") var scale: Double = 2

    func validate() throws {
        try OptionCheck.number(scale, "--scale", 0.1...8, unit: "(PNG scale factor)")
    }

    func run() throws {
        let reader = try SessionReader(path: session)
        let path = out ?? (session.hasSuffix(".sqlite") ? String(session.dropLast(7)) + ".svg" : session + ".svg")
        let t = { (s: String) in Double(try LabelCommand.time(s, reader)) / 1e9 }
        let f = try from.map(t), e = try to.map(t)
        if let f, let e, e <= f { throw ValidationError("--to must be after --from") }
        let svg = try SessionPlot.render(reader, from: f, to: e, channels: channels.map { $0.split(separator: ",").map(String.init) })
        try SVGRaster.write(svg: svg, to: path, scale: scale)
        print("wrote \(path)")
    }
}
