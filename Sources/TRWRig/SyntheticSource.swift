import Foundation
import Synchronization
import TRWCore

/// A deterministic test rig: the three stream kinds with known patterns, so
/// the pipeline is tested without drivers or physics. `trw record --rig synthetic`.
///
/// * ir0: a WxH Y16 frame (TLinear 0.01 K) with a gradient, a hotspot moving
///   on a circle and hash noise; pixel (x, y) of frame n is `pixel(n, x, y)`.
/// * ae0: a 50 kHz tone at 0.3% of full scale plus a 30% burst (an AE hit) every 0.5 s.
/// * bms0: key=value lines at `bmsRateHz`, voltage ramp, with the raw line.
public final class SyntheticSource: Source, @unchecked Sendable {
    public struct Options: Sendable {
        public var width = 160
        public var height = 120
        public var fps = 50.0
        public var aeRateHz = 96_000
        public var aeChannels = 1
        public var aeChunkFrames = 960
        public var bmsRateHz = 10.0
        /// Stop by itself after this much session time (nil: until stop()).
        public var durationS: Double? = 5
        /// Real time (sleep to keep pace) or as fast as the recorder takes it.
        public var paced = false
        /// How events are handed over when not paced.
        public var emitMode: EmitMode = .blockIfFull
        /// Camera clock offset from host, ns (device = host - offset).
        public var cameraOffsetNs: Int64 = 3_000_000
        public init() {}
    }

    public let options: Options
    public let name = "synthetic"
    private let stopFlag = Atomic<Bool>(false)
    /// Events the recorder refused (its queue was full), per stream key.
    public let refused = Atomic<Int>(0)
    /// Set when `run` has returned.
    public let finished = Atomic<Bool>(false)

    public init(options: Options = Options()) { self.options = options }

    public var streams: [StreamDescriptor] {
        [
            StreamDescriptor(key: "ir0", kind: .thermal, device: "synthetic:ir", format: "Y16", nominalRateHz: options.fps,
                             width: options.width, height: options.height, calibration: .tLinear10mK,
                             units: ["pixel": "0.01 K"],
                             properties: ["pattern": "gradient+orbiting hotspot+hash noise", "camera.timebase": "device_clock"]),
            StreamDescriptor(key: "ae0", kind: .ae, device: "synthetic:ae", format: "S32_LE",
                             nominalRateHz: Double(options.aeRateHz), channels: options.aeChannels, sampleFormat: .s32le,
                             units: ["sample": "ADC counts"], properties: ["pattern": "50 kHz tone + bursts every 0.5 s"]),
            StreamDescriptor(key: "bms0", kind: .bms, device: "synthetic:bms", format: "kv", nominalRateHz: options.bmsRateHz,
                             units: ["voltage": "V", "current": "A", "temperature": "degC"], role: .cellBMS),
        ]
    }
    public var cell: CellInfo? { CellInfo(chemistry: "synthetic", capacityAh: 1, format: "none") }
    public var testProtocol: String? { "synthetic patterns (no physics)" }

    public func stop() { stopFlag.store(true, ordering: .relaxed) }

    /// Pixel value of frame `n` at (x, y): deterministic, for tests.
    public static func pixel(frame n: Int64, x: Int, y: Int, width: Int, height: Int) -> UInt16 {
        let angle = Double(n) * 0.05
        let hx = Double(width) * (0.5 + 0.3 * cos(angle)), hy = Double(height) * (0.5 + 0.3 * sin(angle))
        let dx = Double(x) - hx, dy = Double(y) - hy
        let base = 29_815 + x * 2 + y  // 25 degC plus a gradient
        let spot = dx * dx + dy * dy < 64 ? 2_000 + Int(n % 1000) : 0
        var h = UInt64(bitPattern: n) &* 0x9E37_79B9_7F4A_7C15 ^ UInt64(y * width + x) &* 0xBF58_476D_1CE4_E5B9
        h ^= h >> 31
        return UInt16(clamping: base + spot + Int(h % 16) - 8)
    }

    /// AE sample `i` of channel `ch`.
    public static func aeSample(_ i: Int64, channel ch: Int, rate: Int) -> Int32 {
        let t = Double(i) / Double(rate)
        var v = 0.003 * sin(2 * Double.pi * 50_000 * t + Double(ch))  // -50 dBFS: below the default 40 dB_AE threshold
        let inBurst = t.truncatingRemainder(dividingBy: 0.5)
        if inBurst < 0.002 { v += 0.3 * exp(-inBurst / 0.0004) * sin(2 * Double.pi * 35_000 * inBurst) }
        return Int32((v * 2_147_483_647).rounded())
    }

    public func run(into sink: any SampleSink) throws {
        defer { finished.store(true, ordering: .releasing) }
        let o = options
        let start = HostClock.monotonicNanoseconds()
        let framePeriod = 1e9 / o.fps
        let chunkPeriod = 1e9 * Double(o.aeChunkFrames) / Double(o.aeRateHz)
        let bmsPeriod = 1e9 / o.bmsRateHz
        var nFrame: Int64 = 0, nChunk: Int64 = 0, nBMS: Int64 = 0
        let mode: EmitMode = o.paced ? .dropIfFull : o.emitMode
        let endNs = o.durationS.map { Int64($0 * 1e9) } ?? Int64.max
        while !stopFlag.load(ordering: .relaxed) {
            let tf = Int64(Double(nFrame) * framePeriod)
            let ta = Int64(Double(nChunk + 1) * chunkPeriod)  // a chunk is available when its last sample is in
            let tb = Int64(Double(nBMS) * bmsPeriod)
            let t = min(tf, ta, tb)
            if t > endNs { break }
            let host = start + t
            if o.paced {
                let now = HostClock.monotonicNanoseconds()
                if host > now { usleep(UInt32(min(100_000, (host - now) / 1000))); continue }
            }
            let event: SourceEvent
            let key: String
            if t == tf {
                var px = [UInt16](repeating: 0, count: o.width * o.height)
                for y in 0..<o.height {
                    for x in 0..<o.width {
                        px[y * o.width + x] = Self.pixel(frame: nFrame, x: x, y: y, width: o.width, height: o.height)
                    }
                }
                event = .thermal(ThermalFrame(width: o.width, height: o.height, pixels: px, sequence: nFrame,
                                              deviceTimestampNs: host - o.cameraOffsetNs, hostArrivalNs: host + 1_000_000))
                key = "ir0"
                nFrame += 1
            } else if t == ta {
                let first = nChunk * Int64(o.aeChunkFrames)
                var s = [Int32](repeating: 0, count: o.aeChunkFrames * o.aeChannels)
                for i in 0..<o.aeChunkFrames {
                    for ch in 0..<o.aeChannels { s[i * o.aeChannels + ch] = Self.aeSample(first + Int64(i), channel: ch, rate: o.aeRateHz) }
                }
                let lastIndex = first + Int64(o.aeChunkFrames)
                event = .audio(AudioChunk(firstSampleIndex: first, channels: o.aeChannels, format: .s32le, samples: s,
                                          hostArrivalNs: host + 200_000,
                                          clockPair: AudioClockPair(sampleIndex: lastIndex, hostNs: host)))
                key = "ae0"
                nChunk += 1
            } else {
                let v = 4.0 + 0.001 * Double(nBMS)
                let line = String(format: "t=%.3f V=%.3f I=%.3f T1=%.1f Tamb=%.1f", Double(t) / 1e9, v, 1.5, 25.0 + 0.01 * Double(nBMS), 23.0)
                event = .bms(BMSSample(hostArrivalNs: host + 2_000_000, deviceTimeS: Double(t) / 1e9, voltageV: v, currentA: 1.5,
                                       cellTempsC: [25.0 + 0.01 * Double(nBMS)], ambientC: 23, raw: line))
                key = "bms0"
                nBMS += 1
            }
            if !sink.emit(event, stream: key, mode: mode) { refused.wrappingAdd(1, ordering: .relaxed) }
        }
    }
}
