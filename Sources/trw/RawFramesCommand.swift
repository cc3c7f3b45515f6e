import ArgumentParser
import Foundation
import TRWCodec
import TRWCore
import TRWStore

/// `trw raw-frames` (hidden, for tools and tests): every frame of a thermal stream, decoded
/// by trw's own decoder, as raw little-endian UInt16 counts — the lossless reference the
/// Python reader is compared with (python/tests) — and the decoder's speed on them
/// (`make bench`). Prints one JSON object.
struct RawFramesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "raw-frames",
        abstract: "Write every frame of a thermal stream as raw UInt16 LE counts (frame after frame, row-major) and time the decoder.",
        discussion: """
            Prints {"stream", "frames", "width", "height", "passes", "best_pass_s", "frames_per_s", "zstd"}: \
            the payloads are read first, then decoded --passes times (checksums verified); \
            frames_per_s is from the fastest pass. A damaged frame stops the command, naming its row.
            """,
        shouldDisplay: false)

    @Argument(help: "The session file.") var session: String
    @Option(name: .long, help: "Thermal stream key (default: the only thermal stream).") var stream: String?
    @Option(name: .long, help: "Output file (raw UInt16 LE; not overwritten). Omit to only time the decoder.") var out: String?
    @Option(name: .long, help: "Decode passes to time, 1...1000.") var passes: Int = 1

    func validate() throws {
        guard (1...1000).contains(passes) else { throw ValidationError("--passes must be 1...1000; got \(passes)") }
        if let out, FileManager.default.fileExists(atPath: out) {
            throw ValidationError("--out \(out) already exists; choose another file (nothing is overwritten)")
        }
    }

    func run() throws {
        let reader = try SessionReader(path: session)
        let thermal = try reader.streams(kind: .thermal)
        let st: StreamRecord
        if let stream {
            guard let s = thermal.first(where: { $0.key == stream }) else {
                throw CLIFailure("\(session) has no thermal stream \(stream); it has: \(thermal.map(\.key).joined(separator: ", "))")
            }
            st = s
        } else {
            guard thermal.count == 1 else {
                throw CLIFailure("\(session) has \(thermal.count) thermal streams (\(thermal.map(\.key).joined(separator: ", "))); name one with --stream")
            }
            st = thermal[0]
        }
        guard let width = st.width, let height = st.height else {
            throw CLIFailure("\(session): thermal stream \(st.key) has no width/height")
        }
        let frames = try reader.frames(streamId: st.id!)
        let decoder = try FrameDecoder()
        var decoded: [[UInt16]] = []
        decoded.reserveCapacity(frames.count)
        var best = Double.infinity
        for pass in 0..<passes {
            let start = DispatchTime.now().uptimeNanoseconds
            for f in frames {
                let px: [UInt16]
                do { px = try reader.pixels(of: f, stream: st, decoder: decoder) } catch { throw CLIFailure("\(error)") }
                if pass == 0 { decoded.append(px) }
            }
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        }
        if let out {
            var bytes = [UInt8]()
            bytes.reserveCapacity(frames.count * width * height * 2)
            for px in decoded {
                for v in px {
                    bytes.append(UInt8(truncatingIfNeeded: v))
                    bytes.append(UInt8(truncatingIfNeeded: v >> 8))
                }
            }
            guard FileManager.default.createFile(atPath: out, contents: Data(bytes)) else {
                throw CLIFailure("cannot write \(out): check that its folder exists and is writable")
            }
        }
        var line = JSONLine()
        line.add("stream", st.key)
        line.add("frames", Double(frames.count))
        line.add("width", Double(width))
        line.add("height", Double(height))
        line.add("passes", Double(passes))
        line.add("best_pass_s", best)
        line.add("frames_per_s", best > 0 ? Double(frames.count) / best : .nan)
        line.add("zstd", ZstdInfo.version)
        print(line.text)
    }
}
