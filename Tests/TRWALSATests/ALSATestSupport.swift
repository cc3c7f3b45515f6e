import CALSA
import Foundation
import TRWAcoustics
import TRWCore
import TRWTestSupport
@_spi(Testing) @testable import TRWALSA

/// Collects what a source emits.
final class CollectingSink: SampleSink, @unchecked Sendable {
    // @unchecked: every access to `events` holds `lock`.
    private let lock = NSLock()
    private var events: [SourceEvent] = []

    func emit(_ event: SourceEvent, stream: String, mode: EmitMode) -> Bool {
        lock.lock()
        events.append(event)
        lock.unlock()
        return true
    }

    var all: [SourceEvent] {
        lock.lock()
        defer { lock.unlock() }
        return events
    }
    var chunks: [AudioChunk] { all.compactMap { if case let .audio(c) = $0 { c } else { nil } } }
    var gaps: [GapEvent] { all.compactMap { if case let .gap(g) = $0 { g } else { nil } } }
}

/// A capture PCM defined in a test-only ALSA configuration: the `file` plugin
/// reading `infile` (raw interleaved PCM) on a `null` slave. alsa-lib delivers
/// the file byte-exact at any rate, unpaced, and never reports its end.
struct FilePCM {
    let directory: URL
    let configPath: String
    let pcmName = "trw_test_capture"
    let infile: String

    init(raw: [UInt8], label: String) throws {
        directory = try ExternalTool.temporaryDirectory(label)
        infile = directory.appendingPathComponent("in.raw").path
        try Data(raw).write(to: URL(fileURLWithPath: infile))
        configPath = directory.appendingPathComponent("asound.conf").path
        try Self.writeConfig(to: configPath, infile: infile, name: pcmName)
    }

    /// For a file another tool made.
    init(existingRawFile path: String, directory: URL) throws {
        self.directory = directory
        infile = path
        configPath = directory.appendingPathComponent("asound.conf").path
        try Self.writeConfig(to: configPath, infile: infile, name: pcmName)
    }

    private static func writeConfig(to path: String, infile: String, name: String) throws {
        let text = """
            pcm.\(name) {
                type file
                slave.pcm { type null }
                file "/dev/null"
                infile "\(infile)"
                format "raw"
            }
            # Only 96 kHz without resampling (plug converts formats and channels, not the rate here).
            pcm.trw_test_96k_only {
                type plug
                slave { pcm { type null } format S16_LE rate 96000 channels 2 }
            }

            """
        try text.write(toFile: path, atomically: true, encoding: .utf8)
    }

    func source(_ config: ALSACaptureConfig) throws -> ALSACaptureSource {
        try ALSACaptureSource(config: config, alsaConfigOverlay: configPath)
    }

    func remove() { try? FileManager.default.removeItem(at: directory) }
}

/// trw samples -> the little-endian bytes ALSA delivers for `format`.
func rawBytes(_ samples: [Int32], format: SampleFormat) -> [UInt8] {
    var out: [UInt8] = []
    out.reserveCapacity(samples.count * format.bytesPerSample)
    for s in samples {
        let v = UInt32(bitPattern: s)
        for k in 0..<format.bytesPerSample { out.append(UInt8(truncatingIfNeeded: v >> (8 * UInt32(k)))) }
    }
    return out
}

/// Calls made through the read seam, for fault injection.
final class ReadCounter: @unchecked Sendable {
    // @unchecked: used only on the source's capture thread (run() is synchronous in the test).
    var calls = 0
}
