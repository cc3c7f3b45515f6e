import ArgumentParser
import Foundation
import TRWALSA
import TRWDatasets
import TRWV4L2

struct DevicesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "devices",
        abstract: "List the cameras (V4L2), AE capture devices (ALSA) and serial ports present, with what they offer.")

    func run() throws {
        print("cameras (V4L2):")
        let cams = V4L2CameraSource.listCameras()
        if cams.isEmpty { print("  none found (/dev/video*)") }
        for c in cams { print("  " + c.description.replacingOccurrences(of: "\n", with: "\n  ")) }
        print("AE capture devices (ALSA):")
        let cards = ALSACaptureSource.listCaptureDevices()
        if cards.isEmpty { print("  no sound cards with capture devices") }
        for d in cards { print("  " + d.summary) }
        if let names = try? ALSACaptureSource.listCapturePCMNames(), !names.isEmpty {
            print("  PCM names usable in a rig file: " + names.map(\.name).prefix(12).joined(separator: ", "))
        }
        printSerialPorts()
    }
}

struct ExportWAVCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export-wav",
        abstract: "Write each AE stream of a session as a WAV file (Audacity, sox); lost samples become silence.")

    @Argument(help: "The session file.") var session: String
    @Option(name: .long, help: "Output prefix (default: the session path without .sqlite, plus '-'); files are PREFIX<stream>.wav.") var out: String?
    @Option(name: .long, help: "Only this AE stream (e.g. ae0).") var stream: String?

    func run() throws {
        let prefix = out ?? (session.hasSuffix(".sqlite") ? String(session.dropLast(7)) : session) + "-"
        let results = try WAVExport.export(session: session, outputPrefix: prefix, stream: stream)
        if results.isEmpty { throw CLIFailure("\(session) has no AE stream\(stream.map { " named \($0)" } ?? "")") }
        for r in results {
            print("wrote \(r.path): \(r.frames) frames" + (r.gaps > 0 ? " (\(r.silenceFrames) frames of silence for \(r.gaps) gaps)" : ""))
            if !r.damaged.isEmpty { print("warning: " + r.damaged.summary) }
        }
    }
}
