import Foundation
import Synchronization
import TRWCore
import TRWRecorder
import TRWStore

/// A full rig at real rates with precomputed payloads, so the benchmark
/// measures the recorder (statistics, encoding, storage), not the source.
final class BenchRigSource: Source, @unchecked Sendable {
    let name = "bench-rig"
    let durationS: Double
    let pace: Double?  // nil: unpaced (block when full); N: N x real time, drop when full
    let width = 640, height = 480, fps = 50.0
    let aeRate = 192_000, aeChannels = 2, aeChunk = 1920
    let bmsRate = 10.0
    private let frames: [[UInt16]]
    private let audio: [[Int32]]
    private let stopFlag = Atomic<Bool>(false)
    let refused = Atomic<Int>(0)

    init(durationS: Double, pace: Double?) {
        self.durationS = durationS
        self.pace = pace
        var rng = UInt64(0x1234_5678)
        func next() -> UInt64 {
            rng &+= 0x9E37_79B9_7F4A_7C15
            var z = rng
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        // Noisy thermal frames: a warm blob on 25 degC, NETD-like noise (~5 counts at 0.01 K).
        frames = (0..<8).map { k in
            var px = [UInt16](repeating: 0, count: 640 * 480)
            let cx = 200.0 + Double(k) * 20, cy = 240.0
            for y in 0..<480 {
                for x in 0..<640 {
                    let dx = Double(x) - cx, dy = Double(y) - cy
                    let t = 29_815 + 4_000 * exp(-(dx * dx + dy * dy) / 3_200)
                    // Sum of 4 uniforms ~ Gaussian, sigma ~ 5 counts.
                    var n = 0.0
                    for _ in 0..<4 { n += Double(next() % 1000) / 1000 - 0.5 }
                    px[y * 640 + x] = UInt16(clamping: Int((t + n * 17).rounded()))
                }
            }
            return px
        }
        // AE-like noise: Gaussian-ish background at ~0.5% FS, occasional bursts.
        audio = (0..<16).map { k in
            var s = [Int32](repeating: 0, count: 1920 * 2)
            for i in 0..<1920 {
                for ch in 0..<2 {
                    var n = 0.0
                    for _ in 0..<4 { n += Double(next() % 1000) / 1000 - 0.5 }
                    var v = n * 0.01
                    if k % 5 == 0 && i < 600 { v += 0.2 * exp(-Double(i) / 150) * sin(Double(i) * 2 * .pi * 45_000 / 192_000) }
                    s[i * 2 + ch] = Int32((v * 2_147_483_647).rounded())
                }
            }
            return s
        }
    }

    var streams: [StreamDescriptor] {
        [
            StreamDescriptor(key: "ir0", kind: .thermal, device: "bench", format: "Y16", nominalRateHz: fps, width: width,
                             height: height, calibration: .tLinear10mK),
            StreamDescriptor(key: "ae0", kind: .ae, device: "bench", format: "S32_LE", nominalRateHz: Double(aeRate),
                             channels: aeChannels, sampleFormat: .s32le),
            StreamDescriptor(key: "bms0", kind: .bms, device: "bench", format: "kv", nominalRateHz: bmsRate),
        ]
    }

    func stop() { stopFlag.store(true, ordering: .relaxed) }

    func run(into sink: any SampleSink) throws {
        let start = HostClock.monotonicNanoseconds()
        let fp = 1e9 / fps, cp = 1e9 * Double(aeChunk) / Double(aeRate), bp = 1e9 / bmsRate
        var nf: Int64 = 0, nc: Int64 = 0, nb: Int64 = 0
        let end = Int64(durationS * 1e9)
        let mode: EmitMode = pace == nil ? .blockIfFull : .dropIfFull
        while !stopFlag.load(ordering: .relaxed) {
            let tf = Int64(Double(nf) * fp), tc = Int64(Double(nc + 1) * cp), tb = Int64(Double(nb) * bp)
            let t = min(tf, tc, tb)
            if t > end { break }
            if let p = pace {
                let due = start + Int64(Double(t) / p)
                let now = HostClock.monotonicNanoseconds()
                if due > now { usleep(UInt32(min(20_000, (due - now) / 1000))); continue }
            }
            let host = start + t
            let ok: Bool
            if t == tf {
                ok = sink.emit(.thermal(ThermalFrame(width: width, height: height, pixels: frames[Int(nf) % frames.count],
                                                     sequence: nf, deviceTimestampNs: host, hostArrivalNs: host)),
                               stream: "ir0", mode: mode)
                nf += 1
            } else if t == tc {
                ok = sink.emit(.audio(AudioChunk(firstSampleIndex: nc * Int64(aeChunk), channels: 2, format: .s32le,
                                                 samples: audio[Int(nc) % audio.count], hostArrivalNs: host,
                                                 clockPair: AudioClockPair(sampleIndex: (nc + 1) * Int64(aeChunk), hostNs: host))),
                               stream: "ae0", mode: mode)
                nc += 1
            } else {
                let line = String(format: "t=%.3f V=%.3f I=1.500 T1=25.0 Tamb=23.0", Double(t) / 1e9, 4.2 + Double(nb) * 1e-4)
                ok = sink.emit(.bms(BMSSample(hostArrivalNs: host, deviceTimeS: Double(t) / 1e9, voltageV: 4.2, currentA: 1.5,
                                              cellTempsC: [25], ambientC: 23, raw: line)), stream: "bms0", mode: mode)
                nb += 1
            }
            if !ok { refused.wrappingAdd(1, ordering: .relaxed) }
        }
    }
}

/// The disk's own sequential write rate in `dir` (where the bench sessions go): 8 MiB
/// blocks of incompressible bytes until 1 GiB or 2 s, then fsync; MB (10^6) per second
/// over the writes and the fsync. The file is removed.
func diskWriteRate(dir: String) throws -> (mbPerS: Double, mb: Double, seconds: Double) {
    struct DiskRateError: Error, CustomStringConvertible {
        var description: String
    }
    let path = dir + "/disk-rate.bin"
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
    guard fd >= 0 else { throw DiskRateError(description: "cannot create \(path): \(String(cString: strerror(errno)))") }
    defer {
        close(fd)
        unlink(path)
    }
    let block = 8 << 20, limit = 1 << 30
    var rng = UInt64(0x9E37_79B9)
    let bytes = [UInt64](unsafeUninitializedCapacity: block / 8) { b, n in
        for i in 0..<(block / 8) {
            rng &+= 0x9E37_79B9_7F4A_7C15
            var z = rng
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            b[i] = z ^ (z >> 31)
        }
        n = block / 8
    }
    let t0 = HostClock.monotonicNanoseconds()
    var written = 0
    while written < limit && HostClock.monotonicNanoseconds() - t0 < 2_000_000_000 {
        var off = 0
        while off < block {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + off, block - off) }
            if n < 0 {
                if errno == EINTR { continue }
                throw DiskRateError(description: "writing \(path): \(String(cString: strerror(errno)))")
            }
            off += n
        }
        written += block
    }
    guard fsync(fd) == 0 else { throw DiskRateError(description: "fsync \(path): \(String(cString: strerror(errno)))") }
    let s = Double(HostClock.monotonicNanoseconds() - t0) / 1e9
    return (Double(written) / 1e6 / s, Double(written) / 1e6, s)
}

func runIngestBench() throws {
    print("== ingest: full rig at real rates (640x480 Y16 @ 50 Hz, 2 x 192 kHz S32, 10 Hz BMS) ==")
    let dir = NSTemporaryDirectory() + "trw-bench-\(getpid())"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }

    let disk = try diskWriteRate(dir: dir)
    print(String(format: "disk           : %.0f MB/s sequential write (%.0f MB in 8 MiB blocks + fsync, %.2f s, beside the sessions in %@)",
                 disk.mbPerS, disk.mb, disk.seconds, dir))

    func once(_ label: String, durationS: Double, pace: Double?) throws
        -> (ratio: Double, lost: Int64, bytesPerFrame: Double, fileMB: Double, wallS: Double) {
        let src = BenchRigSource(durationS: durationS, pace: pace)
        var o = RecorderOptions(name: label, outputPath: "\(dir)/\(label).sqlite", rigName: "bench")
        o.realTime = false
        let rec = Recorder(sources: [src], options: o)
        let t0 = Date()
        try rec.start()
        let res = rec.wait()
        let wall = Date().timeIntervalSince(t0)
        let summary = try SessionReader(path: o.outputPath).summary()
        let ir = summary.streams.first { $0.stream.key == "ir0" }!
        let lost = summary.streams.reduce(0) { $0 + $1.lostTotal }
        precondition(res.status == .complete, "bench recording failed: \(res.detail)")
        return (durationS / wall, lost, Double(ir.payloadBytes) / Double(max(ir.count, 1)), Double(summary.fileBytes) / 1e6, wall)
    }

    let seconds = Double(ProcessInfo.processInfo.environment["TRW_BENCH_INGEST_S"] ?? "60").flatMap { $0 >= 1 && $0 <= 3600 ? $0 : nil } ?? 60
    let m = try once("max", durationS: seconds, pace: nil)
    print(String(format: "max speed      : %.1fx real time (%.0f s of data), lost %d, %.0f bytes/frame (raw 614400, %.2fx), file %.0f MB",
                 m.ratio, seconds, m.lost, m.bytesPerFrame, 614_400 / m.bytesPerFrame, m.fileMB))
    let recMBps = m.fileMB / m.wallS
    print(String(format: "recorder write : %.0f MB/s (file MB / wall s at max speed) = %.2fx the disk's sequential rate",
                 recMBps, recMBps / disk.mbPerS))
    // The write-ahead log takes every page once and the checkpoint writes it again into the
    // file (SQLite WAL; synchronous=NORMAL fsyncs both at each checkpoint): the disk sees about
    // twice the file's growth, which bounds any sustained ingest rate.
    let dataMBPerSessionS = m.fileMB / seconds
    print(String(format: "disk ceiling   : the rig makes %.1f MB of session per second; WAL + checkpoint write it twice -> at most %.1fx real time sustained on this disk",
                 dataMBPerSessionS, disk.mbPerS / (2 * dataMBPerSessionS)))
    let goal = 20.0
    let p = try once("paced", durationS: seconds, pace: goal)
    print(String(format: "paced at %.0fx   : achieved %.1fx, lost %d events %@", goal, p.ratio, p.lost,
                 p.lost == 0 ? "(goal: zero drops at 20x: PASS)" : "(goal: zero drops at 20x: FAIL)"))
    print(String(format: "goal >= 20x real time with zero drops: %@", m.ratio >= goal && p.lost == 0 ? "PASS" : "FAIL"))
}
