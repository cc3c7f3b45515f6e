import ArgumentParser
import Foundation
import TRWAnnotate
import TRWFigures
import TRWStore

/// `trw video`: the IR stream as an MP4 with a °C colour bar, session time, hotspot and label flashes.
struct VideoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "video",
        abstract: "Write the IR stream as an MP4 (H.264 through ffmpeg) with a °C colour bar, session time, hotspot and label flashes.",
        discussion: """
            Each video frame shows the session's frame nearest to its time (from + k * speed / fps). \
            Colours: matplotlib's inferno over a fixed scale, \(Int(IRVideo.defaultFixed.lo)) to \(Int(IRVideo.defaultFixed.hi)) °C \
            unless --min/--max say otherwise (hotter pixels show the top colour), or --scale auto: the window's coldest to \
            hottest pixel. Labels of one label set (\(LabelSetSelection.precedence)) flash for about a second of video \
            around their time. Needs ffmpeg (Debian package ffmpeg).
            """)

    @Argument(help: "The session file.") var session: String
    @Option(name: [.short, .customLong("out")], help: "Output video (.mp4).") var out: String
    @Option(name: .long, help: "Start (inclusive): \(TimeParsing.help). Default: the session's start.") var from: String?
    @Option(name: .long, help: "End: \(TimeParsing.help). Default: the session's end.") var to: String?
    @Option(name: .long, help: "Session seconds per video second (0 < X <= 10000).") var speed: Double = 1
    @Option(name: .long, help: "Video frames per second (1-120).") var fps: Int = 25
    @Option(name: .long, help: "Colour scale: fixed (--min..--max) or auto (the window's range).") var scale: String = "fixed"
    @Option(name: .long, help: "Bottom of the fixed scale, °C.") var min: Double = Double(IRVideo.defaultFixed.lo)
    @Option(name: .long, help: "Top of the fixed scale, °C.") var max: Double = Double(IRVideo.defaultFixed.hi)
    @Option(name: .long, help: "Thermal stream key (default: the first).") var stream: String?
    @Option(name: .customLong("label-set"), help: "Label set whose labels flash (default: the precedence above).") var labelSet: String?
    @Option(name: .customLong("ffmpeg-timeout"), help: "Longest wait, s, for ffmpeg to take frames or to finish; beyond it ffmpeg is ended and the error shows its stderr (0.5-3600).") var ffmpegTimeout: Double = 60

    func validate() throws {
        guard scale == "fixed" || scale == "auto" else { throw ValidationError("--scale: '\(scale)' is not fixed or auto") }
        guard speed.isFinite, speed > 0, speed <= 10_000 else { throw ValidationError("--speed \(speed): expected above 0 and at most 10000") }
        guard (1...120).contains(fps) else { throw ValidationError("--fps \(fps): expected 1 to 120") }
        for (name, v) in [("--min", min), ("--max", max)] where !(v.isFinite && v >= -273.15 && v <= 10_000) {
            throw ValidationError("\(name) \(v): expected a temperature from -273.15 to 10000 °C")
        }
        guard min < max else { throw ValidationError("--min \(min) must be below --max \(max)") }
        guard ffmpegTimeout.isFinite, ffmpegTimeout >= 0.5, ffmpegTimeout <= 3600 else {
            throw ValidationError("--ffmpeg-timeout \(ffmpegTimeout): expected 0.5 to 3600 s")
        }
        guard out.lowercased().hasSuffix(".mp4") else { throw ValidationError("--out \(out): write an .mp4 file") }
    }

    func run() throws {
        let reader = try SessionReader(path: session)
        let s = try reader.session()
        let endNs = try s.endTNs ?? reader.extentNs().upperBound
        func time(_ text: String?, _ name: String) throws -> Int64? {
            guard let text else { return nil }
            let t = try LabelCommand.time(text, reader)
            guard t >= 0, t <= endNs else {
                throw CLIFailure(String(format: "--%@ %@ is t = %.3f s, outside the session (0 to %.3f s); no video written", name, text, Double(t) / 1e9, Double(endNs) / 1e9))
            }
            return t
        }
        var o = IRVideo.Options()
        o.fromNs = try time(from, "from")
        o.toNs = try time(to, "to")
        if (o.fromNs ?? 0) >= (o.toNs ?? endNs) {
            throw CLIFailure(String(format: "the window t = %.3f to %.3f s is empty (--from must be before --to); no video written",
                                    Double(o.fromNs ?? 0) / 1e9, Double(o.toNs ?? endNs) / 1e9))
        }
        o.speed = speed
        o.fps = fps
        o.scale = scale == "auto" ? .auto : .fixed(lo: Float(min), hi: Float(max))
        o.stream = stream
        o.labelSet = labelSet
        o.stallTimeoutS = ffmpegTimeout
        let result: IRVideo.Result
        do {
            result = try IRVideo.render(session: session, to: out, options: o)
        } catch let e as IRVideo.Failure {
            throw CLIFailure(e.description)
        } catch let e as AmbiguousLabelSets {
            throw CLIFailure(e.description)
        }
        print(String(format: "wrote %@: %d frames %dx%d at %d fps (%.2f s of video), t = %.3f to %.3f s at speed %g; %@",
                     out, result.frames, result.width, result.height, result.fps, Double(result.frames) / Double(result.fps),
                     result.fromS, result.toS, speed, result.encoder))
        print(String(format: "colour scale: inferno %.1f to %.1f °C (%@); labels: %@, %d shown",
                     result.scale.lo, result.scale.hi, scale, result.labelSet, result.labelsShown))
        print(String(format: "rendered in %.1f s: %.1fx real time", result.wallS, result.realTimeFactor))
        if !result.damaged.isEmpty { print("warning: " + result.damaged.summary + " (the previous frame is held, marked DAMAGED FRAME)") }
    }
}
