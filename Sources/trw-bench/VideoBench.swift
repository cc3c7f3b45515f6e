import Foundation
import TRWCodec
import TRWCore
import TRWFigures
import TRWStore

/// `trw video` speed: a 640x480 @ 50 Hz session (real pfit16 payloads: a moving warm blob, a
/// hot cell face and sensor noise; 50 distinct frames cycled) rendered at the command's
/// defaults (25 fps, speed 1, fixed scale): decode, colour map, overlays and libx264 encode.
/// Goal: at least 10x real time (session seconds per wall second); printed as a ratio to the
/// goal. Reference in the same run: ffmpeg alone encoding the same frames, ready-made (the
/// run's own video decoded back to raw I420), with the same settings: the encoder's ceiling
/// on this machine now. CPU seconds (trw and ffmpeg) per session second are printed too:
/// unlike wall time they hardly change with other load on the machine.
func runVideoBench() throws {
    // TRW_BENCH_VIDEO_S: 1 to 600 s of session; anything else (NaN, inf, 0, negative) is the default 20.
    let seconds = Double(ProcessInfo.processInfo.environment["TRW_BENCH_VIDEO_S"] ?? "20").flatMap { $0 >= 1 && $0 <= 600 ? $0 : nil } ?? 20
    let dir = NSTemporaryDirectory() + "trw-bench-video-\(getpid())"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let path = dir + "/run.sqlite"
    let w = try SessionWriter(creating: path, session: NewSession(name: "video-bench", rigName: "bench",
                                                                  clock: SessionClock(startMonotonicNs: 0, startRealtimeNs: 1_790_000_000_000_000_000)),
                              softwareVersion: "bench")
    let (W, H) = (640, 480)
    let ir = try w.addStream(StreamDescriptor(key: "ir0", kind: .thermal, device: "bench", format: "Y16", nominalRateHz: 50,
                                              width: W, height: H, calibration: .tLinear10mK))
    let enc = try FrameEncoder()
    var rng: UInt64 = 0x1234_5678
    func noise() -> Double { rng = rng &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407; return Double(rng >> 40) / Double(1 << 24) - 0.5 }
    var encoded: [(Data, FrameStatistics)] = []
    for k in 0..<50 {
        let cx = 320 + 120 * sin(Double(k) * 0.12), cy = 240 + 80 * cos(Double(k) * 0.1)
        var px = [UInt16](repeating: 0, count: W * H)
        for y in 0..<H {
            for x in 0..<W {
                let d2 = (Double(x) - cx) * (Double(x) - cx) + (Double(y) - cy) * (Double(y) - cy)
                var t = 298.15 + 60 * exp(-d2 / 3000)
                if x >= 200 && x < 440 && y >= 120 && y < 360 { t += 90 + 0.05 * Double(x - 200) }
                px[y * W + x] = UInt16(clamping: Int((t * 100 + 8 * noise()).rounded()))
            }
        }
        encoded.append((Data(try enc.encode(px, width: W, height: H)), FrameStatistics.compute(pixels: px, width: W, height: H)))
    }
    let frames = Int(seconds * 50)
    var batch = WriteBatch()
    for k in 0..<frames {
        let tNs = Int64(k) * 20_000_000
        let (payload, stats) = encoded[k % encoded.count]
        batch.frames.append(ThermalFrameRecord(streamId: ir, sequence: Int64(k), deviceTsNs: tNs, hostArrivalNs: tNs, tNs: tNs,
                                               codec: enc.codec.rawValue, payload: payload, stats: stats))
        if batch.frames.count == 250 { try w.write(batch); batch = WriteBatch() }
    }
    try w.write(batch)
    _ = try w.finalize(status: .complete, endTNs: Int64(frames) * 20_000_000)
    try w.checkpoint()

    let o = IRVideo.Options()
    let out = dir + "/run.mp4"
    func cpuSeconds() -> (own: Double, children: Double) {
        var a = rusage(), b = rusage()
        getrusage(RUSAGE_SELF.rawValue, &a); getrusage(RUSAGE_CHILDREN.rawValue, &b)
        func s(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
        return (s(a.ru_utime) + s(a.ru_stime), s(b.ru_utime) + s(b.ru_stime))
    }
    let c0 = cpuSeconds()
    let res = try IRVideo.render(session: path, to: out, options: o)
    let c1 = cpuSeconds()
    let goal = 10.0
    print(String(format: "trw video, %.0f s of 640x480 @ 50 Hz at the defaults (%d fps, speed %g, %@): %d frames %dx%d in %.2f s wall",
                 seconds, o.fps, o.speed, res.encoder, res.frames, res.width, res.height, res.wallS))
    print(String(format: "achieved %.1fx real time; goal >= %.0fx: ratio %.2f (%@)", res.realTimeFactor, goal, res.realTimeFactor / goal,
                 res.realTimeFactor >= goal ? "met" : "NOT met"))
    let cores = Double(ProcessInfo.processInfo.activeProcessorCount)
    let cpu = (c1.own - c0.own) + (c1.children - c0.children)
    print(String(format: "CPU: trw %.2f s + ffmpeg %.2f s = %.3f CPU s per session s; all %.0f cores busy on it would give %.1fx real time",
                 c1.own - c0.own, c1.children - c0.children, cpu / seconds, cores, seconds / (cpu / cores)))

    // The same run with ffmpeg replaced by a sink that discards the frames: trw's own share
    // (frame reads, decode, colour map, overlays, the pipe).
    let sink = dir + "/sink/ffmpeg"
    try FileManager.default.createDirectory(atPath: dir + "/sink", withIntermediateDirectories: true)
    try "#!/bin/sh\ncase \"$*\" in *-encoders*) echo ' V....D libx264  H.264'; exit 0;; esac\nexec cat > /dev/null\n"
        .write(toFile: sink, atomically: true, encoding: .utf8)
    try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: sink)
    var os = o
    os.ffmpeg = sink
    let noEnc = try IRVideo.render(session: path, to: dir + "/sink.mp4", options: os)
    print(String(format: "without the encoder (ffmpeg replaced by a sink): %.2f s -> %.1fx real time (%.0f frames/s); the encoder's share of the full run: %.0f%%",
                 noEnc.wallS, noEnc.realTimeFactor, Double(noEnc.frames) / noEnc.wallS, 100 * max(0, res.wallS - noEnc.wallS) / res.wallS))

    // Reference: ffmpeg alone, the same encoder settings, frames already made (testsrc2 would
    // cost ffmpeg its own generation time; raw frames from a file do not).
    guard let ffmpeg = IRVideo.findExecutable("ffmpeg") else { print("reference skipped: no ffmpeg on PATH"); return }
    let raw = dir + "/frames.yuv"
    let dec = Process()
    dec.executableURL = URL(fileURLWithPath: ffmpeg)
    dec.arguments = ["-hide_banner", "-loglevel", "error", "-y", "-i", out, "-f", "rawvideo", "-pix_fmt", "yuv420p", raw]
    try dec.run()
    dec.waitUntilExit()
    let p = Process()
    p.executableURL = URL(fileURLWithPath: ffmpeg)
    p.arguments = ["-hide_banner", "-loglevel", "error", "-y", "-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", "\(res.width)x\(res.height)", "-r", "\(o.fps)",
                   "-i", raw, "-an", "-c:v", "libx264", "-preset", "ultrafast", "-crf", "18", "-pix_fmt", "yuv420p", dir + "/ref.mp4"]
    let t0 = Date()
    try p.run()
    p.waitUntilExit()
    let refS = Date().timeIntervalSince(t0)
    print(String(format: "reference, ffmpeg alone encoding the same %d frames ready in I420 (same settings): %.2f s -> %.1fx real time; trw video reaches %.0f%% of it",
                 res.frames, refS, seconds / refS, 100 * res.realTimeFactor / (seconds / refS)))
    print("(machine load makes these noisy; re-measure: swift build -c release --product trw-bench && .build/release/trw-bench video)")
}
