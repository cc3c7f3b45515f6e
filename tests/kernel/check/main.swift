// trw-kernel-check: the driver checks `make test-kernel` runs inside a qemu guest
// against the real kernel's vivid (V4L2) and snd-aloop (ALSA) drivers, using the
// real TRWV4L2 / TRWALSA / TRWSerial / TRWSync code and the `trw` CLI.
// Prints one line per check: `CHECK name PASS|FAIL detail`, then `CHECKS DONE`.
import Foundation

#if canImport(Glibc)
import Glibc
#endif

var options: [String: String] = [
    "--trw": "/opt/trw/bin/trw",
    "--video": "/dev/video0",
    "--capture": "hw:Loopback,1",
    "--playback": "hw:Loopback,0",
    "--rig": "/etc/trw/kernel-rig.toml",
    "--bms-link": "/dev/ttyBMS0",
    "--out": "/tmp/out",
    "--only": "",
]
var args = CommandLine.arguments.dropFirst()
while let a = args.popFirst() {
    guard options[a] != nil, let v = args.popFirst() else {
        FileHandle.standardError.write(Data("usage: trw-kernel-check [\(options.keys.sorted().map { "\($0) X" }.joined(separator: "] ["))]\n".utf8))
        exit(64)
    }
    options[a] = v
}
let only = Set(options["--only"]!.split(separator: ",").map(String.init))
func enabled(_ group: String) -> Bool { only.isEmpty || only.contains(group) }
try? FileManager.default.createDirectory(atPath: options["--out"]!, withIntermediateDirectories: true)

let started = nowNs()
if enabled("v4l2") { V4L2Checks(device: options["--video"]!).runAll() }
if enabled("alsa") { ALSAChecks(capture: options["--capture"]!, playback: options["--playback"]!, outDir: options["--out"]!).runAll() }
if enabled("cli") {
    CLIChecks(trw: options["--trw"]!, video: options["--video"]!, capture: options["--capture"]!,
              playback: options["--playback"]!, rig: options["--rig"]!, bmsLink: options["--bms-link"]!,
              outDir: options["--out"]!).runAll()
}
// Last: an unplug (vivid's Disconnect) and the replug vivid does when its last user closes.
if enabled("replug") { check("v4l2.replug") { try V4L2Checks(device: options["--video"]!).replug() } }
say("CHECKS DONE in \((nowNs() - started) / 1_000_000) ms")
