// `make bench` section for the V4L2 driver (issue 5): the driver's own cost per
// 640x480 frame as a fraction of the 20 ms frame period at 50 Hz, against a
// plain memcpy of the same bytes measured in the same run.
import Foundation
import Synchronization
import TRWCore
@_spi(Testing) import TRWV4L2
@_spi(Testing) import TRWV4L2Emulation

/// Counts frames and, like the recorder, computes each frame's statistics.
private final class StatisticsSink: SampleSink {
    let frames = Atomic<Int>(0)
    let gaps = Atomic<Int>(0)
    let statisticsNs = Atomic<Int64>(0)
    let limit: Int
    let target = Mutex<V4L2CameraSource?>(nil)
    init(limit: Int) { self.limit = limit }

    func emit(_ event: SourceEvent, stream: String, mode: EmitMode) -> Bool {
        switch event {
        case .thermal(let f):
            let t0 = HostClock.monotonicNanoseconds()
            let s = FrameStatistics.compute(pixels: f.pixels, width: f.width, height: f.height)
            statisticsNs.add(HostClock.monotonicNanoseconds() - t0, ordering: .relaxed)
            precondition(s.maxCounts >= s.minCounts)
            if frames.add(1, ordering: .relaxed).newValue >= limit { target.withLock { $0?.stop() } }
        case .gap:
            gaps.add(1, ordering: .relaxed)
        default:
            break
        }
        return true
    }
}

private func median(_ xs: [Int64]) -> Double {
    let s = xs.sorted()
    return s.isEmpty ? 0 : Double(s[s.count / 2])
}

func runV4L2Bench() throws {
    let width = 640, height = 480, periodNs = 20_000_000.0
    let iterations = 300
    print("v4l2: driver cost per \(width)x\(height) frame, as a fraction of the 20 ms period at 50 Hz")

    // Reference: memcpy of one Y16 frame (614 400 bytes), same run.
    let bytes = width * height * 2
    let src = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 4096)
    defer { src.deallocate() }
    var seed: UInt64 = 0x5EED
    for i in 0..<bytes {
        seed = seed &* 6364136223846793005 &+ 1442695040888963407
        src.storeBytes(of: UInt8(truncatingIfNeeded: seed >> 33), toByteOffset: i, as: UInt8.self)
    }
    let dst = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 4096)
    defer { dst.deallocate() }
    var memcpyNs: [Int64] = []
    for _ in 0..<iterations {
        let t0 = HostClock.monotonicNanoseconds()
        dst.copyMemory(from: src, byteCount: bytes)
        memcpyNs.append(HostClock.monotonicNanoseconds() - t0)
    }
    let memcpyMedian = median(memcpyNs)
    print("  reference memcpy 614400 B: \(String(format: "%.1f", memcpyMedian / 1000)) us")

    // Copy-out per format, then statistics on the counts (what every frame costs on the device thread).
    print("  format   copy-out us  x memcpy   +stats us   % of 20 ms")
    for format in V4L2PixelFormat.allCases {
        let stride = width * format.bytesPerPixel
        var copyNs: [Int64] = [], totalNs: [Int64] = []
        for _ in 0..<iterations {
            let t0 = HostClock.monotonicNanoseconds()
            let pixels = [UInt16](unsafeUninitializedCapacity: width * height) { out, n in
                format.copyOut(from: UnsafeRawBufferPointer(start: src, count: stride * height),
                               width: width, height: height, bytesPerLine: stride, into: out)
                n = width * height
            }
            let t1 = HostClock.monotonicNanoseconds()
            let s = FrameStatistics.compute(pixels: pixels, width: width, height: height)
            let t2 = HostClock.monotonicNanoseconds()
            precondition(s.maxCounts >= s.minCounts)
            copyNs.append(t1 - t0)
            totalNs.append(t2 - t0)
        }
        let c = median(copyNs), t = median(totalNs)
        print("  " + [format.rawValue.padding(6),
                      String(format: "%10.1f", c / 1000), String(format: "%9.2f", c / memcpyMedian),
                      String(format: "%10.1f", t / 1000), String(format: "%11.2f%%", 100 * t / periodNs)].joined(separator: "  "))
    }

    // The whole driver loop (poll, DQBUF, copy-out, event, QBUF) against the emulated
    // device on its virtual clock, minus the emulated device's own frame writing.
    let frames = 500
    let cached = EmulatedV4L2Device.defaultGenerator(0, width, height)
    var config = EmulatedV4L2Device.Configuration()
    config.recordPixels = false
    let device = EmulatedV4L2Device(config, generator: { _, _, _ in cached })
    let source = try V4L2CameraSource(
        config: V4L2CameraConfig(device: "/dev/video0", width: width, height: height, fps: 50, pixelFormat: .y16),
        syscalls: device)
    let sink = StatisticsSink(limit: frames)
    sink.target.withLock { $0 = source }
    let t0 = HostClock.monotonicNanoseconds()
    try source.run(into: sink)
    let wall = Double(HostClock.monotonicNanoseconds() - t0)
    let n = Double(sink.frames.load(ordering: .relaxed))
    let device_ = Double(device.counters.productionNanoseconds)
    let stats = Double(sink.statisticsNs.load(ordering: .relaxed))
    let driver = (wall - device_ - stats) / n
    print("  full loop, Y16 via emulated device, \(Int(n)) frames, \(sink.gaps.load(ordering: .relaxed)) gaps:")
    print("    driver (poll/DQBUF/copy-out/QBUF/emit): \(String(format: "%.1f", driver / 1000)) us/frame = \(String(format: "%.2f", 100 * driver / periodNs))% of 20 ms")
    print("    + statistics:                           \(String(format: "%.1f", (driver + stats / n) / 1000)) us/frame = \(String(format: "%.2f", 100 * (driver + stats / n) / periodNs))% of 20 ms")
    print("    (emulated device writing frames, excluded: \(String(format: "%.1f", device_ / n / 1000)) us/frame)")
}

extension String {
    fileprivate func padding(_ n: Int) -> String { count >= n ? self : self + String(repeating: " ", count: n - count) }
}
