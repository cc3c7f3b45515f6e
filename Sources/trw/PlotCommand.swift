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
        abstract: "Figure of a session (SVG or PNG): IR max, cell and ambient temperature, voltage, current, AE hit rate, stored detector scores, with labels, markers, first alarms, excluded intervals and gaps; several sessions overlaid, aligned at a label.",
        discussion: """
            One session: time is session time. Several: one colour per run, aligned so that each run's \
            --align label (runaway_onset by default) is time zero; --from/--to are then seconds from that \
            label (negative before it). The time axis is in s, min or h by the span shown.
            """)

    @Argument(help: "Session files (several: overlaid).")
    var sessions: [String]

    @Option(name: [.short, .customLong("out")], help: "Output .svg or .png (default: the first session's path with .svg).")
    var out: String?

    @Option(name: .long, help: "Start of the window: \(TimeParsing.help); with several sessions, seconds from the --align label (--from=-600 for 10 min before it).") var from: String?
    @Option(name: .long, help: "End of the window.") var to: String?
    @Option(name: .long, help: "Comma-separated panels: \(SessionPlot.panelKeys.joined(separator: ",")) (default all that have data).") var channels: String?
    @Option(name: .long, help: "Several sessions: the label aligned at time zero, or 'start' for session time.") var align: String = "runaway_onset"
    @Option(name: .long, help: "PNG scale factor (2 for print).") var scale: Double = 2
    @Option(name: .long, help: "PNG resolution in dots per inch for a 1000-px-wide figure (overrides --scale; 300 for print).") var dpi: Double?

    func validate() throws {
        if sessions.isEmpty { throw ValidationError("give at least one session file") }
        if sessions.count > 20 { throw ValidationError("at most 20 sessions can be overlaid, got \(sessions.count)") }
        try OptionCheck.number(scale, "--scale", 0.1...8, unit: "(PNG scale factor)")
        try OptionCheck.number(dpi, "--dpi", 10...768, unit: "dots per inch")
        if align.isEmpty || align.count > 64 { throw ValidationError("--align must be a label name or 'start', got '\(align)'") }
    }

    func run() throws {
        let channelList = channels.map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }
        let first = sessions[0]
        let path = out ?? (first.hasSuffix(".sqlite") ? String(first.dropLast(7)) + ".svg" : first + ".svg")
        let figure: SessionPlot.Figure
        if sessions.count == 1 {
            let reader = try SessionReader(path: first)
            let t = { (s: String) in Double(try LabelCommand.time(s, reader)) / 1e9 }
            let f = try from.map(t), e = try to.map(t)
            if let f, let e, e <= f { throw ValidationError("--to must be after --from") }
            figure = try SessionPlot.figure(reader, from: f, to: e, channels: channelList)
        } else {
            func seconds(_ s: String?, _ option: String) throws -> Double? {
                guard let s else { return nil }
                guard let v = Double(s), v.isFinite, abs(v) <= OptionCheck.secondsRange.upperBound else {
                    throw CLIFailure("\(option) '\(s)': with several sessions give seconds from the --align label (e.g. -600), within ±\(OptionCheck.format(OptionCheck.secondsRange.upperBound))")
                }
                return v
            }
            let f = try seconds(from, "--from"), e = try seconds(to, "--to")
            if let f, let e, e <= f { throw CLIFailure("--to must be after --from") }
            let readers = try sessions.map { try SessionReader(path: $0) }
            do {
                figure = try SessionPlot.overlay(readers, align: align == "start" ? .start : .label(align), from: f, to: e,
                                                 channels: channelList)
            } catch let e as SessionPlot.OverlayError {
                throw CLIFailure(e.description)
            }
        }
        try SVGRaster.write(svg: SessionPlot.svg(figure), to: path, scale: dpi.map { $0 / 96 } ?? scale)
        print("wrote \(path)")
    }
}
