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
