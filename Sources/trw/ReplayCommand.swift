import ArgumentParser
import Foundation
import TRWDatasets
import TRWStore

struct ReplayCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Stream a session as time-ordered JSON Lines (ticks with features, AE hits, frames, markers, labels).",
        discussion: """
            Format: schemas/replay.schema.json. Any predictor in any language can listen:
              trw replay sessions/demo.sqlite --speed max | python3 my_detector.py
              trw replay sessions/demo.sqlite --speed 10 --to unix:/tmp/trw.sock
            """)

    @Argument(help: "The session file.") var session: String
    @Option(name: .long, help: "1 = real time, N = N times faster, max = no waiting.") var speed: String = "max"
    @Option(name: .long, help: "stdout, or unix:PATH (waits for one client to connect).") var to: String = "stdout"
    @Option(name: .long, help: "Tick rate, Hz.") var rate: Double = 1
    @Option(name: .long, help: "Frame events: none, ref, or WxH for downsampled arrays in °C.") var frames: String = "none"
    @Flag(name: .long, help: "Leave labels (ground truth) out of the stream.") var noLabels = false

    func validate() throws {
        if speed != "max" {
            guard let s = Double(speed), s.isFinite, OptionCheck.speedRange.contains(s) else {
                throw ValidationError("--speed must be 'max' or a number \(OptionCheck.describe(OptionCheck.speedRange, openLower: false)) (times real time), got '\(speed)'")
            }
        }
        try OptionCheck.tickRate(rate)
        if to != "stdout" && !to.hasPrefix("unix:") { throw ValidationError("--to must be 'stdout' or 'unix:PATH', got '\(to)'") }
        if frames != "none" && frames != "ref" && ExportCommand.size(frames) == nil { throw ValidationError("--frames must be none, ref or WxH, got '\(frames)'") }
    }

    func run() throws {
        var o = ReplayOptions()
        o.features.rateHz = rate
        o.includeLabels = !noLabels
        o.frames = try Self.parseFrames(frames)
        let events = try ReplayBuilder.events(try SessionReader(path: session), options: o)
        let s = Double(speed)
        if to == "stdout" {
            signal(SIGPIPE, SIG_IGN)
            let out = FileHandle.standardOutput
            try ReplayBuilder.play(events, speed: s) { try out.write(contentsOf: Data($0.utf8)) }
        } else {
            let sock = try UnixSocketServer(path: String(to.dropFirst(5)))
            printErr("waiting for a client on \(sock.path) ...")
            let client = try sock.acceptOne()
            try ReplayBuilder.play(events, speed: s) { try client.write($0) }
        }
    }

    static func parseFrames(_ s: String) throws -> ReplayOptions.Frames {
        if s == "none" { return .none }
        if s == "ref" { return .references }
        guard let z = ExportCommand.size(s) else { throw ValidationError("--frames must be none, ref or WxH, got '\(s)'") }
        return .arrays(width: z.width, height: z.height)
    }
}
