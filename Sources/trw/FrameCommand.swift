import ArgumentParser
import Foundation
import TRWAnalysis
import TRWAnnotate
import TRWStore
import TRWFigures

/// `trw frame`: one IR frame as a figure with a colour bar and its hotspot.
struct FrameCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "frame",
        abstract: "Write one IR frame (nearest to a time) as PNG or SVG with a colour bar, the hotspot and its time.")

    @Argument(help: "The session file.") var session: String
    @Option(name: .long, help: "Time inside the session (the nearest frame is shown): \(TimeParsing.help).") var at: String
    @Option(name: [.short, .customLong("out")], help: "Output .png or .svg.") var out: String
    @Option(name: .long, help: "Thermal stream key (default: the first).") var stream: String?
    @Option(name: .long, help: "Colour range LO:HI in °C (default: the frame's min:max).") var range: String?
    @Option(name: .long, help: "Colour map: \(ColorMap.allCases.map(\.rawValue).joined(separator: ", ")).") var cmap: String = "inferno"

    /// --range as (LO, HI) °C, nil when absent or malformed (`validate` refuses malformed).
    var colourRange: (Float, Float)? {
        guard let range else { return nil }
        let p = range.split(separator: ":").compactMap { Float($0) }
        guard p.count == 2, p[0] < p[1], p.allSatisfy({ $0.isFinite && $0 >= -273.15 && $0 <= 10_000 }) else { return nil }
        return (p[0], p[1])
    }

    func validate() throws {
        guard ColorMap(rawValue: cmap) != nil else { throw ValidationError("--cmap: '\(cmap)' is not one of \(ColorMap.allCases.map(\.rawValue).joined(separator: ", "))") }
        if let range, colourRange == nil {
            throw ValidationError("--range wants LO:HI in °C with -273.15 <= LO < HI <= 10000; got '\(range)'")
        }
    }

    func run() throws {
        let reader = try SessionReader(path: session)
        let s = try reader.session()
        let t = Double(try LabelCommand.time(at, reader)) / 1e9
        let endS = s.endTNs.map { Double($0) / 1e9 }
        if t < 0 || endS.map({ t > $0 }) == true {
            throw CLIFailure(String(format: "--at %@ is t = %.3f s, outside the session (0 to %@ s); no frame shown", at, t,
                                    endS.map { String(format: "%.3f", $0) } ?? "its last sample"))
        }
        let img = try ThermalImage.load(reader, at: t, stream: stream)
        if let d = img.skippedDamaged.first {
            printErr("warning: passed over \(img.skippedDamaged.count) damaged frame(s) nearer to the asked time (counted, not shown); first: \(d)")
        }
        let map = ColorMap(rawValue: cmap) ?? .inferno
        let r = colourRange
        let svg = try FrameFigure.svg(img, title: "\(s.name): IR frame", range: r, map: map)
        try SVGRaster.write(svg: svg, to: out)
        let hs = img.hotspot
        print(String(format: "wrote %@: %@ frame %lld at %.3f s, max %.1f °C at (%d, %d)", out, img.streamKey, img.sequence, img.tS, hs.c, hs.x, hs.y))
    }
}
