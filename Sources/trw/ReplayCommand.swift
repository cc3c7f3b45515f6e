import ArgumentParser
import Foundation
import TRWDatasets
import TRWIO
import TRWStore
import TRWLive
import TRWCore

struct ReplayCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Stream a session as time-ordered JSON Lines (ticks with features, AE hits, frames, markers, labels).",
        discussion: """
            Format: schemas/replay.schema.json. Any predictor in any language can listen:
              trw replay sessions/demo.sqlite --speed max | python3 my_detector.py
              trw replay sessions/demo.sqlite --speed 10 --to unix:/tmp/trw.sock
            Output ends quietly when the reader goes away (trw replay S | head -1 exits 0). A socket \
            client that accepts no data for --send-timeout seconds is dropped (exit 1, with a message \
            counting the lines it did not get).
            """)

    @Argument(help: "The session file.") var session: String
    @OptionGroup(title: "Pace (default: max, no waiting)") var pacing: PacingOptions
    @Option(name: .long, help: "stdout, or unix:PATH (waits for one client to connect).") var to: String = "stdout"
    @Option(name: .long, help: "Tick rate, Hz.") var rate: Double = 1
    @Option(name: .long, help: "Frame events: none, ref, or WxH for downsampled arrays in °C.") var frames: String = "none"
    @Flag(name: .long, help: "Leave labels (ground truth) out of the stream.") var noLabels = false
    @Option(name: .long, help: "unix:PATH: seconds a client may accept no data before it is dropped as not reading.")
    var sendTimeout: Double = 10
    @Option(name: .long, help: "unix:PATH: seconds to wait for the client to connect before giving up (exit 1).")
    var acceptTimeout: Double = 600

    static let sendTimeoutRange = 0.001...86_400.0

    func validate() throws {
        try OptionCheck.tickRate(rate)
        if to != "stdout" && !to.hasPrefix("unix:") { throw ValidationError("--to must be 'stdout' or 'unix:PATH', got '\(to)'") }
        if frames != "none" && frames != "ref" && ExportCommand.size(frames) == nil { throw ValidationError("--frames must be none, ref or WxH, got '\(frames)'") }
        guard sendTimeout.isFinite, Self.sendTimeoutRange.contains(sendTimeout) else {
            throw ValidationError("--send-timeout must be a number of seconds in [\(Self.sendTimeoutRange.lowerBound), \(Int(Self.sendTimeoutRange.upperBound))], got \(sendTimeout)")
        }
        guard acceptTimeout.isFinite, Self.sendTimeoutRange.contains(acceptTimeout) else {
            throw ValidationError("--accept-timeout must be a number of seconds in [\(Self.sendTimeoutRange.lowerBound), \(Int(Self.sendTimeoutRange.upperBound))], got \(acceptTimeout)")
        }
        if to.hasPrefix("unix:") {
            do { try UnixSocketPath.check(String(to.dropFirst(5))) } catch { throw ValidationError("--to: \(error)") }
        }
    }

    func run() throws {
        var o = ReplayOptions()
        o.features.rateHz = rate
        o.includeLabels = !noLabels
        o.frames = try Self.parseFrames(frames)
        // The socket is open (and its accept deadline runs) while the session is read, so a
        // predictor can connect at once.
        let server = try to.hasPrefix("unix:") ? UnixSocketServer(path: String(to.dropFirst(5))) : nil
        let opened = Date()
        if let server { printErr("waiting up to \(JSONLine.number(acceptTimeout)) s for a client on \(server.path) ...") }
        let events = try ReplayBuilder.events(try SessionReader(path: session), options: o)
        let damaged = ReplayBuilder.damagedPayloadCount(events)
        if damaged > 0 { printErr("warning: skipped \(damaged) damaged payload(s); each is a \"damaged_payload\" gap line in the stream") }
        let s = pacing.pace(default: .max).factor
        if to == "stdout" {
            // Paced output goes out line by line; --speed max in 64 KB writes.
            let out = OutputSink(capacity: s == nil ? 1 << 16 : 0)
            do {
                try ReplayBuilder.play(events, speed: s) { line in
                    if !(try out.write(line)) { throw ReplayEnded.readerGone }
                }
                try out.flush()
            } catch ReplayEnded.readerGone {
                return  // the reader has all it wanted
            }
        } else {
            let sock = server!
            let left = Swift.max(0, acceptTimeout - Date().timeIntervalSince(opened))
            guard let client = try sock.accept(until: .after(seconds: left)) else {
                throw CLIFailure("no client connected to \(sock.path) within \(JSONLine.number(acceptTimeout)) s (--accept-timeout); nothing was sent")
            }
            var sent = 0
            do {
                try ReplayBuilder.play(events, speed: s) { line in
                    try client.send(line, stallTimeout: sendTimeout)
                    sent += 1
                }
            } catch SocketError.sendTimedOut {
                printErr("replay: the client on \(sock.path) accepted no data for \(sendTimeout) s (it stopped reading); "
                         + "dropped after \(sent) of \(events.count) lines (\(events.count - sent) not delivered)")
                throw ExitCode.failure
            } catch SocketError.peerClosed {
                printErr("replay: the client on \(sock.path) closed the connection after \(sent) of \(events.count) lines")
            }
        }
    }

    /// The stdout reader went away (`| head`): output ends, exit 0.
    enum ReplayEnded: Error { case readerGone }

    static func parseFrames(_ s: String) throws -> ReplayOptions.Frames {
        if s == "none" { return .none }
        if s == "ref" { return .references }
        guard let z = ExportCommand.size(s) else { throw ValidationError("--frames must be none, ref or WxH, got '\(s)'") }
        return .arrays(width: z.width, height: z.height)
    }
}
