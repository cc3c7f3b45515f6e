import Foundation
import TRWCodec
import TRWCore

// Codec benchmark: our codecs against references measured in the same run
// (ffmpeg FFV1 for thermal frames, ffmpeg FLAC for PCM, and the delta+zstd prototype).

/// Deterministic thermal frames like `TestFrames.thermal`: a warm blob on a
/// 25 degC background plus Gaussian noise, TLinear 0.01 K counts; the blob
/// moves, grows and heats from frame to frame and the noise is fresh.
private struct BenchFrames {
    var state: UInt64
    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func uniform() -> Double { Double(next() >> 11) / Double(1 << 53) }

    /// `cell`: also a hot, sharp-edged pouch cell (+120 K over its face) in the
    /// scene, as in a runaway test: edges the smoothing predictor must cross.
    mutating func frame(index k: Int, width: Int, height: Int, noiseCounts: Double, cell: Bool = false) -> [UInt16] {
        let cx = Double(width) * (0.5 + 0.15 * sin(Double(k) * 0.05))
        let cy = Double(height) * (0.4 + 0.1 * cos(Double(k) * 0.03))
        let sigma = 30 + 20 * uniform()
        let peak = 20 + 40 * uniform()
        let gx = (0..<width).map { exp(-(Double($0) - cx) * (Double($0) - cx) / (2 * sigma * sigma)) }
        var out = [UInt16](repeating: 0, count: width * height)
        var spare: Double? = nil
        for y in 0..<height {
            let dy = Double(y) - cy
            let gy = exp(-dy * dy / (2 * sigma * sigma))
            for x in 0..<width {
                let n: Double
                if let s = spare {
                    n = s
                    spare = nil
                } else {
                    let r = (-2 * log(max(uniform(), 1e-12))).squareRoot()
                    let a = 2 * Double.pi * uniform()
                    n = r * cos(a)
                    spare = r * sin(a)
                }
                var t = 298.15 + peak * gx[x] * gy
                if cell && x >= width / 4 + k % 7 && x < 3 * width / 4 && y >= height / 5 && y < 4 * height / 5 {
                    t += 120 + 0.05 * Double(x - width / 4)
                }
                out[y * width + x] = UInt16(clamping: Int((t * 100 + n * noiseCounts).rounded()))
            }
        }
        return out
    }
}

/// AE-like PCM: Gaussian background plus decaying sinusoid bursts at 20-90 kHz, 192 kHz.
private func aeSignal(format: SampleFormat, channels: Int, frames: Int, seed: UInt64) -> [Int32] {
    var g = BenchFrames(seed: seed)
    var out = [Int32](repeating: 0, count: frames * channels)
    let rate = 192_000.0
    var burstStart = 0, burstFreq = 40_000.0, burstAmp = 0.1
    for i in 0..<frames {
        if i - burstStart > 9_600 && g.uniform() < 0.0005 {  // a few hits per second
            burstStart = i
            burstFreq = 20_000 + 70_000 * g.uniform()
            burstAmp = 0.02 + 0.4 * g.uniform()
        }
        let t = Double(i - burstStart) / rate
        let burst = burstAmp * exp(-t * 2_000) * sin(2 * Double.pi * burstFreq * t)
        for ch in 0..<channels {
            let r = (-2 * log(max(g.uniform(), 1e-12))).squareRoot() * cos(2 * Double.pi * g.uniform())
            let v = burst * (1 - 0.2 * Double(ch)) + 0.001 * r  // background about -60 dBFS
            switch format {
            case .floatle:
                out[i * channels + ch] = Int32(bitPattern: Float(v).bitPattern)
            default:
                let s = (v * format.fullScale).rounded()
                out[i * channels + ch] = Int32(clamping: Int64(max(-format.fullScale, min(format.fullScale - 1, s))))
            }
        }
    }
    return out
}

private func seconds(_ d: Duration) -> Double {
    Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
}

/// Wall time and CPU time of a piece of work, seconds.
private struct Timing {
    var wall: Double
    var cpu: Double
    static let worst = Timing(wall: .infinity, cpu: .infinity)
    func best(_ o: Timing) -> Timing { Timing(wall: min(wall, o.wall), cpu: min(cpu, o.cpu)) }
}

private func threadCPUSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

private func childrenCPUSeconds() -> Double {
    var ru = rusage()
    getrusage(__rusage_who_t(RUSAGE_CHILDREN.rawValue), &ru)
    return Double(ru.ru_utime.tv_sec) + Double(ru.ru_utime.tv_usec) * 1e-6
        + Double(ru.ru_stime.tv_sec) + Double(ru.ru_stime.tv_usec) * 1e-6
}

/// Best of `repeats` timings of `body`: the machine is shared, so the least
/// disturbed run is the one to compare; CPU time (this thread) is reported too,
/// as it does not count time the scheduler gave to other processes.
private func bestTime(repeats: Int, _ body: () throws -> Void) rethrows -> Timing {
    var best = Timing.worst
    let clock = ContinuousClock()
    for _ in 0..<repeats {
        let c0 = threadCPUSeconds()
        let t = try clock.measure(body)
        best = best.best(Timing(wall: seconds(t), cpu: threadCPUSeconds() - c0))
    }
    return best
}

private func findExecutable(_ name: String) -> String? {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
    for dir in path.split(separator: ":") {
        let candidate = "\(dir)/\(name)"
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
    }
    return nil
}

/// Runs ffmpeg with `arguments`; returns its wall time and CPU time (user + system).
private func runFFmpeg(_ ffmpeg: String, _ arguments: [String]) throws -> Timing {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: ffmpeg)
    p.arguments = arguments
    let clock = ContinuousClock()
    let c0 = childrenCPUSeconds()
    let start = clock.now
    try p.run()
    p.waitUntilExit()
    let t = Timing(wall: seconds(clock.now - start), cpu: childrenCPUSeconds() - c0)
    guard p.terminationStatus == 0 else {
        throw NSError(domain: "trw-bench", code: Int(p.terminationStatus),
                      userInfo: [NSLocalizedDescriptionKey: "ffmpeg \(arguments.joined(separator: " ")) exited \(p.terminationStatus)"])
    }
    return t
}

private func fileSize(_ path: String) throws -> Int {
    (try FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.intValue ?? 0
}

private func f(_ x: Double, _ digits: Int = 3) -> String { String(format: "%.\(digits)f", x) }

/// Thermal and PCM codec benchmark. Prints labelled figures and ratios against
/// ffmpeg FFV1 / FLAC and the delta+zstd prototype, all measured in this run.
func runCodecBench() throws {
    let width = 640, height = 480
    let ffmpeg = findExecutable("ffmpeg")
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("trw-codec-bench-\(getpid())")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }

    print("== thermal frame codec: \(FrameCodecName.planeFitZstd.rawValue) (\(FrameEncoder.kernelVariant) kernels) vs ffv1 (ffmpeg, 1 thread) and prototype \(FrameCodecName.deltaShuffleZstd.rawValue)")
    if ffmpeg == nil { print("ffmpeg not found on PATH: FFV1 reference skipped (apt-get install ffmpeg)") }
    var allPass = true
    let variants = [("standard (noise 5 counts)", 5.0, 200, false), ("smooth (noise 1 count)", 1.0, 100, false),
                    ("noisy (noise 20 counts)", 20.0, 100, false), ("hot sharp-edged cell (noise 5 counts)", 5.0, 100, true)]
    for (label, noise, count, cell) in variants {
        var gen = BenchFrames(seed: 2026 + UInt64(noise * 10))
        let frames = (0..<count).map { gen.frame(index: $0, width: width, height: height, noiseCounts: noise, cell: cell) }
        let rawBytes = frames.count * width * height * 2

        func measure(_ codec: FrameCodecName) throws -> (ratio: Double, enc: Timing, dec: Timing) {
            let enc = try FrameEncoder(codec: codec)
            let dec = try FrameDecoder()
            var payloads: [[UInt8]] = []
            payloads.reserveCapacity(frames.count)
            let tEnc = try bestTime(repeats: 3) {
                payloads.removeAll(keepingCapacity: true)
                for fr in frames { payloads.append(try enc.encode(fr, width: width, height: height)) }
            }
            var decoded: [[UInt16]] = []
            let tDec = try bestTime(repeats: 3) {
                decoded.removeAll(keepingCapacity: true)
                for p in payloads { decoded.append(try dec.decode(p, codec: codec.rawValue, width: width, height: height)) }
            }
            guard decoded == frames else {
                throw CodecError.corrupt(codec: codec.rawValue, reason: "bench round trip was not bit-exact")
            }
            let total = payloads.reduce(0) { $0 + $1.count }
            return (Double(rawBytes) / Double(total), tEnc, tDec)
        }

        let ours = try measure(.planeFitZstd)
        let proto = try measure(.deltaShuffleZstd)
        let n = Double(frames.count)
        func fps(_ t: Timing) -> String { "\(f(n / t.wall, 0)) frames/s wall, \(f(n / t.cpu, 0)) frames/s CPU" }
        print("-- \(label): \(count) frames \(width)x\(height), one thread, best of 3")
        print("  ours      ratio \(f(ours.ratio))  encode \(fps(ours.enc))  decode \(fps(ours.dec))  (bit-exact)")
        print("  prototype ratio \(f(proto.ratio))  encode \(fps(proto.enc))  decode \(fps(proto.dec))")
        print("  ours/prototype ratio_of_ratios \(f(ours.ratio / proto.ratio))  encode speed \(f(proto.enc.cpu / ours.enc.cpu, 2))x (CPU)")
        guard let ffmpeg else { continue }
        let raw = dir.appendingPathComponent("in.raw").path
        let nut = dir.appendingPathComponent("out.nut").path
        var data = Data(capacity: rawBytes)
        for fr in frames { fr.withUnsafeBytes { data.append(contentsOf: $0) } }  // little-endian host
        try data.write(to: URL(fileURLWithPath: raw))
        let args = ["-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "gray16le", "-s", "\(width)x\(height)",
                    "-r", "50", "-i", raw, "-c:v", "ffv1", "-level", "3", "-threads", "1", "-y", nut]
        var tFF = Timing.worst
        for _ in 0..<2 { tFF = tFF.best(try runFFmpeg(ffmpeg, args)) }
        let ffRatio = Double(rawBytes) / Double(try fileSize(nut))
        let rr = ours.ratio / ffRatio
        let srCPU = tFF.cpu / ours.enc.cpu, srWall = tFF.wall / ours.enc.wall
        let pass = rr >= 0.98 && srCPU >= 20
        allPass = allPass && pass
        print("  ffv1      ratio \(f(ffRatio))  encode \(fps(tFF)) (ffmpeg process incl. startup and file I/O, best of 2)")
        print("  ratio_of_ratios ours/ffv1 \(f(rr)) (goal >= 0.98)  speed ours/ffv1 \(f(srCPU, 1))x CPU, \(f(srWall, 1))x wall (goal >= 20, judged on CPU)  \(pass ? "PASS" : "FAIL")")
        print("  prototype/ffv1 ratio_of_ratios \(f(proto.ratio / ffRatio))  speed \(f(tFF.cpu / proto.enc.cpu, 1))x CPU")
    }
    if ffmpeg != nil { print("thermal goals overall: \(allPass ? "PASS" : "FAIL")") }

    print("== PCM codec: \(PCMCodecName.fixedZstd.rawValue) vs flac (ffmpeg, default level)")
    let rate = 192_000, seconds = 10, chunkFrames = 4096
    for (format, channels) in [(SampleFormat.s16le, 2), (.s24le, 2), (.s32le, 1), (.floatle, 1)] {
        let samples = aeSignal(format: format, channels: channels, frames: rate * seconds, seed: 7)
        let chunks = stride(from: 0, to: samples.count, by: chunkFrames * channels).map {
            Array(samples[$0..<min(samples.count, $0 + chunkFrames * channels)])
        }
        let enc = try PCMEncoder()
        let dec = try PCMDecoder()
        var payloads: [[UInt8]] = []
        let tEnc = try bestTime(repeats: 3) {
            payloads.removeAll(keepingCapacity: true)
            for c in chunks { payloads.append(try enc.encode(c, channels: channels)) }
        }
        var back: [Int32] = []
        let tDec = try bestTime(repeats: 3) {
            back.removeAll(keepingCapacity: true)
            for (c, p) in zip(chunks, payloads) {
                back += try dec.decode(p, codec: enc.codec.rawValue, channels: channels, frameCount: c.count / channels)
            }
        }
        guard back == samples else {
            throw CodecError.corrupt(codec: enc.codec.rawValue, reason: "bench PCM round trip was not bit-exact")
        }
        let total = payloads.reduce(0) { $0 + $1.count }
        let s32Bytes = samples.count * 4
        let nativeBytes = samples.count * format.bytesPerSample
        let nativeLabel = format == .s24le ? "3-byte packed" : "\(format.bytesPerSample)-byte"
        let packedBytes = format == .s24le ? samples.count * 3 : nativeBytes
        print("-- \(format.rawValue) \(channels) ch, \(seconds) s at \(rate) Hz, chunks of \(chunkFrames) frames")
        print("  ours ratio \(f(Double(s32Bytes) / Double(total))) vs Int32 storage, \(f(Double(packedBytes) / Double(total))) vs \(nativeLabel) samples;"
              + " encode \(f(Double(s32Bytes) / tEnc.cpu / 1e6, 0)) MB/s, decode \(f(Double(s32Bytes) / tDec.cpu / 1e6, 0)) MB/s"
              + " (CPU time, MB of Int32 samples; bit-exact)")
        guard let ffmpeg, format == .s16le || format == .s24le else {
            // ffmpeg's FLAC encoder keeps only 24 bits of S32 input, so it is no lossless reference there.
            continue
        }
        // FLAC reference on the same samples, as one stream (no per-chunk restart).
        let raw = dir.appendingPathComponent("in.pcm").path
        let out = dir.appendingPathComponent("out.flac").path
        var data = Data(capacity: packedBytes)
        for s in samples {
            let v = UInt32(bitPattern: s)
            let bytes = format == .s16le ? 2 : format == .s24le ? 3 : 4
            for b in 0..<bytes { data.append(UInt8(truncatingIfNeeded: v >> (8 * b))) }
        }
        try data.write(to: URL(fileURLWithPath: raw))
        let fmt = format == .s16le ? "s16le" : format == .s24le ? "s24le" : "s32le"
        var tFlac = Timing.worst
        for _ in 0..<2 {
            tFlac = tFlac.best(try runFFmpeg(ffmpeg, ["-loglevel", "error", "-f", fmt, "-ar", "\(rate)", "-ac", "\(channels)",
                                                      "-i", raw, "-c:a", "flac", "-threads", "1", "-y", out]))
        }
        let flacRatio = Double(packedBytes) / Double(try fileSize(out))
        let oursPacked = Double(packedBytes) / Double(total)
        print("  flac ratio \(f(flacRatio)) vs \(nativeLabel) samples; encode \(f(Double(s32Bytes) / tFlac.cpu / 1e6, 0)) MB/s (CPU time of the ffmpeg process, same sample count)")
        print("  ratio_of_ratios ours/flac \(f(oursPacked / flacRatio))  speed ours/flac \(f(tFlac.cpu / tEnc.cpu, 1))x CPU")
    }
}
