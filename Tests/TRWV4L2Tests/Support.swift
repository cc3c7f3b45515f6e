import Dispatch
import Synchronization
import TRWCore
import TRWTestSupport
@_spi(Testing) import TRWV4L2
@_spi(Testing) import TRWV4L2Emulation

/// Collects what a source emits, in order, and can stop the source from inside `emit`
/// (the driver thread), which makes "stop after N frames" deterministic.
final class CollectingSink: SampleSink {
    private let store = Mutex<[SourceEvent]>([])
    private let target = Mutex<(any Source)?>(nil)
    private let stopAfterFrames: Int?
    private let onEvent: (@Sendable (SourceEvent) -> Void)?

    init(stopAfterFrames: Int? = nil, onEvent: (@Sendable (SourceEvent) -> Void)? = nil) {
        self.stopAfterFrames = stopAfterFrames
        self.onEvent = onEvent
    }

    func attach(_ source: any Source) { target.withLock { $0 = source } }

    func emit(_ event: SourceEvent, stream: String, mode: EmitMode) -> Bool {
        let frames = store.withLock { list -> Int in
            list.append(event)
            return list.reduce(0) { n, e in if case .thermal = e { n + 1 } else { n } }
        }
        onEvent?(event)
        if let limit = stopAfterFrames, frames >= limit { target.withLock { $0?.stop() } }
        return true
    }

    var events: [SourceEvent] { store.withLock { $0 } }
    var frames: [ThermalFrame] {
        events.compactMap { if case .thermal(let f) = $0 { f } else { nil } }
    }
    var gaps: [GapEvent] {
        events.compactMap { if case .gap(let g) = $0 { g } else { nil } }
    }
}

/// Opens an emulated camera through the real driver code.
func makeSource(_ device: EmulatedV4L2Device, _ config: V4L2CameraConfig) throws(V4L2Error) -> V4L2CameraSource {
    try V4L2CameraSource(config: config, syscalls: device)
}

/// Runs `source` until it stops itself or the sink stops it. A watchdog stops it
/// after 10 s of wall time so a driver bug fails the test instead of hanging it;
/// tests then assert on what was captured, never on time.
func runCapture(_ source: V4L2CameraSource, _ sink: CollectingSink) throws {
    sink.attach(source)
    let done = Atomic<Bool>(false)
    DispatchQueue.global().asyncAfter(deadline: .now() + 10) {
        if !done.load(ordering: .acquiring) { source.stop() }
    }
    defer { done.store(true, ordering: .releasing) }
    try source.run(into: sink)
}

func camera(_ path: String = "/dev/video0", width: Int = 160, height: Int = 120, fps: Double = 50,
            format: V4L2PixelFormat = .y16, buffers: Int = 4) -> V4L2CameraConfig {
    V4L2CameraConfig(device: path, width: width, height: height, fps: fps, pixelFormat: format, bufferCount: buffers,
                     pollTimeoutMs: 200)
}

/// A generator whose counts use all 16 bits, so truncation and byte order are visible.
let fullRangeGenerator: EmulatedV4L2Device.FrameGenerator = { seq, w, h in
    var rng = SplitMix64(seed: UInt64(seq) &* 0x9E37_79B9 &+ 1)
    return (0..<(w * h)).map { _ in UInt16(truncatingIfNeeded: rng.next()) }
}

extension EmulatedV4L2Device.Configuration {
    static func with(_ body: (inout Self) -> Void) -> Self {
        var c = Self()
        body(&c)
        return c
    }
}

/// Where two pixel arrays first differ ("" when equal), so a failure names the
/// pixel instead of printing 300 000 values.
func pixelDifference(_ a: [UInt16]?, _ b: [UInt16]?) -> String {
    guard let a, let b else { return a == nil && b == nil ? "" : "one frame has no pixels" }
    if a.count != b.count { return "\(a.count) pixels vs \(b.count)" }
    guard let i = a.indices.first(where: { a[$0] != b[$0] }) else { return "" }
    return "pixel \(i): \(a[i]) vs \(b[i])"
}
