#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import TRWCore

/// Deterministic PRNG for the simulator (xoshiro256**, seeded through SplitMix64).
/// Fast enough for per-sample use; the same seed always gives the same run.
public struct SimRandom: RandomNumberGenerator, Sendable {
    private var s0: UInt64, s1: UInt64, s2: UInt64, s3: UInt64

    public init(seed: UInt64) {
        var x = seed
        func splitmix(_ x: inout UInt64) -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s0 = splitmix(&x); s1 = splitmix(&x); s2 = splitmix(&x); s3 = splitmix(&x)
    }

    @inline(__always) public mutating func next() -> UInt64 {
        let result = ((s1 &* 5) << 7 | (s1 &* 5) >> 57) &* 9
        let t = s1 << 17
        s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3; s2 ^= t
        s3 = (s3 << 45) | (s3 >> 19)
        return result
    }

    /// Uniform in [0, 1).
    @inline(__always) public mutating func uniform() -> Double { Double(next() >> 11) * 0x1.0p-53 }

    /// Standard normal (Box-Muller).
    public mutating func gaussian() -> Double {
        let u1 = max(uniform(), 1e-300), u2 = uniform()
        return (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
    }

    /// Poisson-distributed count with mean `lambda` (inversion for small means, normal approximation above 50).
    public mutating func poisson(_ lambda: Double) -> Int {
        if lambda <= 0 { return 0 }
        if lambda > 50 { return max(0, Int((lambda + lambda.squareRoot() * gaussian()).rounded())) }
        let l = exp(-lambda)
        var k = 0, p = 1.0
        repeat { k += 1; p *= uniform() } while p > l
        return k - 1
    }

    /// A derived generator for an independent sub-stream (per sensor).
    public mutating func fork() -> SimRandom { SimRandom(seed: next()) }
}

/// A table of standard-normal deviates (Float), indexed cheaply in hot loops.
struct NormalTable: Sendable {
    static let size = 1 << 17
    let values: [Float]
    init(rng: inout SimRandom) {
        values = (0..<Self.size).map { _ in Float(rng.gaussian()) }
    }
}

/// A device clock: device = offset + (1 + drift) * true time + jitter, with
/// jitter Gaussian (RMS `jitterNs`). The truth is stored on the stream.
public struct SensorClock: Sendable, Equatable {
    public var offsetNs: Int64
    public var driftPPM: Double
    public var jitterNs: Double
    public init(offsetNs: Int64, driftPPM: Double, jitterNs: Double) {
        self.offsetNs = offsetNs
        self.driftPPM = driftPPM
        self.jitterNs = jitterNs
    }
    /// Device reading at true time `t` (s), without jitter, ns.
    public func deviceNs(atTrue t: Double) -> Int64 {
        offsetNs + Int64((t * (1 + driftPPM * 1e-6) * 1e9).rounded())
    }
    /// True time (s) at which the device clock reads `deviceNs`.
    public func trueTime(atDevice d: Int64) -> Double {
        Double(d - offsetNs) / 1e9 / (1 + driftPPM * 1e-6)
    }
    /// Properties recording the truth, for the sync engine's evaluation.
    public func properties(prefix: String = "sim.clock") -> [String: String] {
        ["\(prefix)_offset_ns": "\(offsetNs)", "\(prefix)_drift_ppm": "\(driftPPM)", "\(prefix)_jitter_ns": "\(jitterNs)"]
    }
}

/// Renders the simulated temperature field into radiometric Y16 frames
/// (TLinear: counts = T[K] / kelvinPerCount), with the cell centred in the
/// view over a chamber background, bilinear interpolation of the grid,
/// NETD-like noise from a precomputed Gaussian table and an optional
/// emissivity error.
///
/// Emissivity model (grey body, Stefan-Boltzmann approximation of the band
/// radiance, e.g. Vollmer & Moellmann, Infrared Thermal Imaging, 2nd ed., ch. 2):
/// the camera sees L = eps T^4 + (1 - eps) Trefl^4 and, assuming eps_cam,
/// reports T_app = ((L - (1 - eps_cam) Trefl^4) / eps_cam)^(1/4).
public struct IRRenderer: Sendable {
    public let width: Int
    public let height: Int
    public let gridNX: Int
    public let gridNY: Int
    public let calibration: ThermalCalibration
    public let trueEmissivity: Double
    public let assumedEmissivity: Double
    public let netdK: Double
    /// Cell rectangle in the image, pixels (x0, y0, w, h).
    public let cellRect: (x: Int, y: Int, w: Int, h: Int)
    /// Highest count the camera reports (the top of its calibrated range); pixels there are saturated.
    public let saturationCounts: UInt16
    /// Camera offset error, K.
    public let offsetK: Double
    /// Saturated pixels in the last rendered frame.
    public private(set) var lastSaturatedPixels = 0

    private let ix0: [Int32]
    private let ix1: [Int32]
    private let wx: [Float]
    private let iy0: [Int32]
    private let iy1: [Int32]
    private let wy: [Float]
    private let noise: [Float]
    private var rng: SimRandom
    private var apparent: [Float]
    private var rowBuf: [Float]

    public init(width: Int, height: Int, gridNX: Int, gridNY: Int, cellAspect: Double, trueEmissivity: Double,
                assumedEmissivity: Double, netdK: Double, calibration: ThermalCalibration = .tLinear10mK,
                saturationCounts: UInt16 = .max, offsetK: Double = 0, seed: UInt64) {
        precondition(width >= 8 && height >= 8 && width < NormalTable.size / 2, "IR frame \(width)x\(height) out of range (8...65535 wide)")
        precondition(gridNX >= 2 && gridNY >= 2, "grid \(gridNX)x\(gridNY) must be at least 2x2")
        self.width = width
        self.height = height
        self.gridNX = gridNX
        self.gridNY = gridNY
        self.calibration = calibration
        self.trueEmissivity = trueEmissivity
        self.assumedEmissivity = assumedEmissivity
        self.netdK = netdK
        self.saturationCounts = saturationCounts
        self.offsetK = offsetK
        // The cell fills 75 % of the view in its limiting direction.
        var cw = Double(width) * 0.75, ch = cw / cellAspect
        if ch > Double(height) * 0.75 { ch = Double(height) * 0.75; cw = ch * cellAspect }
        let w = max(2, Int(cw.rounded())), h = max(2, Int(ch.rounded()))
        let x0 = (width - w) / 2, y0 = (height - h) / 2
        cellRect = (x0, y0, w, h)
        func table(_ n: Int, _ grid: Int) -> ([Int32], [Int32], [Float]) {
            var a = [Int32](repeating: 0, count: n), b = a, f = [Float](repeating: 0, count: n)
            for p in 0..<n {
                let g = min(Double(grid - 1), max(0, (Double(p) + 0.5) / Double(n) * Double(grid) - 0.5))
                let i = min(grid - 2, Int(g))
                a[p] = Int32(i); b[p] = Int32(i + 1); f[p] = Float(g - Double(i))
            }
            return (a, b, f)
        }
        (ix0, ix1, wx) = table(w, gridNX)
        (iy0, iy1, wy) = table(h, gridNY)
        var r = SimRandom(seed: seed)
        let sigmaCounts = Float(netdK / calibration.kelvinPerCount)
        noise = NormalTable(rng: &r).values.map { $0 * sigmaCounts }
        rng = r
        apparent = [Float](repeating: 0, count: gridNX * gridNY)
        rowBuf = []
    }

    /// Apparent temperature (K) the camera reports for a surface at `t` (K) with reflected `tRefl` (K).
    public func apparentKelvin(_ t: Double, reflected tRefl: Double) -> Double {
        let tr4 = tRefl * tRefl * tRefl * tRefl
        let l = trueEmissivity * t * t * t * t + (1 - trueEmissivity) * tr4
        return max(0, (l - (1 - assumedEmissivity) * tr4) / assumedEmissivity).squareRoot().squareRoot()
    }

    /// Renders one frame of the field `fieldK` (kelvin, gridNX x gridNY row-major) in a chamber at `ambientK`.
    ///
    /// Two passes keep the per-pixel loop free of gathers so it vectorises: first each grid
    /// row is interpolated horizontally to the cell's pixel width (gridNY x w values), then
    /// every image row is a blend of two of those rows plus a slice of the noise table.
    public mutating func render(fieldK: [Double], ambientK: Double) -> [UInt16] {
        precondition(fieldK.count == gridNX * gridNY, "field has \(fieldK.count) cells, renderer expects \(gridNX)x\(gridNY)")
        let inv = 1 / calibration.kelvinPerCount, off = calibration.offsetKelvin - offsetK
        let exact = abs(trueEmissivity - assumedEmissivity) < 1e-12
        for k in 0..<fieldK.count {
            let t = exact ? fieldK[k] : apparentKelvin(fieldK[k], reflected: ambientK)
            apparent[k] = Float((t - off) * inv)
        }
        // Chamber wall: a black-ish wall at ambient, 0.5 K warmer at the top (stratification).
        let bgTop = Float((ambientK + 0.5 - off) * inv), bgBottom = Float((ambientK - off) * inv)
        let W = width, H = height, nx = gridNX, ny = gridNY
        let rect = cellRect
        let cw = rect.w
        let size = NormalTable.size
        let top = Float(saturationCounts)
        if rowBuf.count != ny * cw { rowBuf = [Float](repeating: 0, count: ny * cw) }
        // Pass 1: horizontal interpolation of every grid row.
        apparent.withUnsafeBufferPointer { A in
            rowBuf.withUnsafeMutableBufferPointer { R in
                ix0.withUnsafeBufferPointer { X0 in ix1.withUnsafeBufferPointer { X1 in wx.withUnsafeBufferPointer { WX in
                    for j in 0..<ny {
                        let g = j * nx, o = j * cw
                        for x in 0..<cw {
                            let a = A[g + Int(X0[x])], b = A[g + Int(X1[x])]
                            R[o + x] = a + WX[x] * (b - a)
                        }
                    }
                }}}
            }
        }
        // Noise offsets per image row, drawn up front (deterministic order).
        var offsets = [Int](repeating: 0, count: H)
        for y in 0..<H { offsets[y] = Int(rng.next() % UInt64(size - W)) }
        let out = [UInt16](unsafeUninitializedCapacity: W * H) { buf, count in
            noise.withUnsafeBufferPointer { N in
            rowBuf.withUnsafeBufferPointer { R in
                for y in 0..<H {
                    let base = y * W
                    let nb = offsets[y]   // a contiguous run of W noise values: N[nb ..< nb + W]
                    let bg = bgBottom + (bgTop - bgBottom) * Float(H - 1 - y) / Float(max(1, H - 1))
                    let cy = y - rect.y
                    let inside = cy >= 0 && cy < rect.h
                    let left = inside ? rect.x : W
                    for x in 0..<left {
                        buf[base + x] = UInt16(Int32(max(0, min(top, bg + N[nb + x] + 0.5))))
                    }
                    guard inside else { continue }
                    let r0 = Int(iy0[cy]) * cw, r1 = Int(iy1[cy]) * cw
                    let fy = wy[cy]
                    let px = base + rect.x, nn = nb + rect.x
                    for x in 0..<cw {
                        let a = R[r0 + x], b = R[r1 + x]
                        let v = a + fy * (b - a) + N[nn + x]
                        buf[px + x] = UInt16(Int32(max(0, min(top, v + 0.5))))
                    }
                    for x in (rect.x + cw)..<W {
                        buf[base + x] = UInt16(Int32(max(0, min(top, bg + N[nb + x] + 0.5))))
                    }
                }
            }}
            count = W * H
        }
        var saturated = 0
        let sat = saturationCounts
        out.withUnsafeBufferPointer { p in for v in p { saturated &+= v >= sat ? 1 : 0 } }
        lastSaturatedPixels = saturated
        return out
    }
}

/// Acoustic-emission synthesiser: background noise, burst-type AE hits
/// A exp(-t/tau) sin(2 pi f t) (f 20-90 kHz, clamped below Nyquist) arriving
/// as a Poisson process whose rate follows gas generation and reaction heat,
/// and broadband venting hiss.
///
/// Burst-type AE from gas evolution and particle cracking in Li-ion cells:
/// Ohzuku et al. 1997 (J. Electrochem. Soc. 144:3496); Sommer et al. 2015
/// (Sensors/JES) for AE during cycling and gas evolution; Lyu et al. 2019 for
/// AE of venting. The rate law and amplitudes here are modelling choices.
public struct AESynthesizer: Sendable {
    /// Drivers of the AE activity over one chunk.
    public struct Drivers: Sendable, Equatable {
        public var gasRateMolPerS: Double
        public var reactionPowerW: Double
        /// Hiss envelope (0...1 of full hiss) at the chunk start and end.
        public var hissStart: Double
        public var hissEnd: Double
        /// Times (s, true) of impulsive events in this chunk (vent opening): a big burst each.
        public var impulses: [Double]
        public init(gasRateMolPerS: Double = 0, reactionPowerW: Double = 0, hissStart: Double = 0, hissEnd: Double = 0,
                    impulses: [Double] = []) {
            self.gasRateMolPerS = gasRateMolPerS
            self.reactionPowerW = reactionPowerW
            self.hissStart = hissStart
            self.hissEnd = hissEnd
            self.impulses = impulses
        }
    }

    struct Burst: Sendable {
        var startSample: Int64
        var amplitude: Float
        var decay: Float       // per-sample multiplier exp(-1/(tau*fs))
        var cosW: Float
        var sinW: Float
        var channelGain: [Float]
        var re: Float = 0      // phasor state (sin component is the output)
        var im: Float = 0
        var env: Float = 0
        var started = false
        var remaining: Int
    }

    public let sampleRate: Int
    public let channels: Int
    public let format: SampleFormat
    /// Background rate of hits, 1/s.
    public var baseRatePerS = 0.05
    /// Hits per second per mol/s of gas generated.
    public var ratePerMolPerS = 2.5e5
    /// Hits per second per watt of abuse-reaction heat.
    public var ratePerWatt = 0.5
    /// Cap of the hit rate, 1/s.
    public var maxRatePerS = 3000.0
    /// Background noise RMS, fraction of full scale.
    public var backgroundRMS = 6e-4
    /// Full hiss RMS, fraction of full scale.
    public var hissRMS = 0.08

    private var rng: SimRandom
    private let noise: [Float]
    private var active: [Burst] = []
    private var hissState: Float = 0
    /// Bursts generated so far (for tests and statistics).
    public private(set) var burstCount = 0
    private var nextSample: Int64 = 0
    private var scratch: [Float] = []

    public init(sampleRate: Int, channels: Int, format: SampleFormat, seed: UInt64) {
        precondition(format == .s16le || format == .s32le, "AE synthesiser writes S16_LE or S32_LE, not \(format.rawValue)")
        self.sampleRate = sampleRate
        self.channels = channels
        self.format = format
        var r = SimRandom(seed: seed)
        noise = NormalTable(rng: &r).values
        rng = r
    }

    /// Current hit rate for these drivers, 1/s.
    public func hitRate(_ d: Drivers) -> Double {
        min(maxRatePerS, baseRatePerS + ratePerMolPerS * max(0, d.gasRateMolPerS) + ratePerWatt * max(0, d.reactionPowerW))
    }

    /// Synthesises the next `frames` frames (interleaved), sample index continuing from the last call.
    /// `startTime` is the true time (s) of the first sample, `samplePeriod` the true sample period.
    public mutating func synthesize(frames: Int, startTime: Double, samplePeriod: Double, drivers d: Drivers) -> [Int32] {
        render(Int32.self, frames: frames, startTime: startTime, samplePeriod: samplePeriod, drivers: d)
    }

    /// The same samples in the capture width of `format` (S16 as `Int16`, never widened),
    /// as an ALSA device would deliver them.
    public mutating func synthesizePCM(frames: Int, startTime: Double, samplePeriod: Double, drivers d: Drivers) -> PCMSamples {
        format == .s16le
            ? .int16(render(Int16.self, frames: frames, startTime: startTime, samplePeriod: samplePeriod, drivers: d))
            : .int32(render(Int32.self, frames: frames, startTime: startTime, samplePeriod: samplePeriod, drivers: d))
    }

    /// Values clamped to the format's full scale, so `Int16` and `Int32` hold the same numbers.
    private mutating func render<Sample: FixedWidthInteger & SignedInteger>(_: Sample.Type, frames: Int, startTime: Double,
                                                                       samplePeriod: Double, drivers d: Drivers) -> [Sample] {
        let first = nextSample
        nextSample += Int64(frames)
        let fs = 1 / samplePeriod
        // New bursts in this chunk.
        let dur = Double(frames) * samplePeriod
        let count = rng.poisson(hitRate(d) * dur)
        let nyq = 0.45 * fs
        func addBurst(at s: Int64, amplitude a: Double) {
            let f = min(nyq, 20_000 + rng.uniform() * 70_000)
            let tau = 5e-5 + rng.uniform() * 3.5e-4
            let w = 2 * Double.pi * f / fs
            var gains: [Float] = []
            for c in 0..<channels { gains.append(c == 0 ? 1 : Float(0.3 + 0.7 * rng.uniform())) }
            let n = Int(8 * tau * fs) + 1
            active.append(Burst(startSample: s, amplitude: Float(a), decay: Float(exp(-1 / (tau * fs))),
                                cosW: Float(cos(w)), sinW: Float(sin(w)), channelGain: gains, remaining: n))
            burstCount += 1
        }
        for _ in 0..<count {
            let s = first + Int64(rng.uniform() * Double(frames))
            // Amplitude: power law over 2.5 decades (Gutenberg-Richter-like b-value ~1), 0.5 %...100 % of 0.9 FS.
            let a = 0.9 * pow(10, -2.3 * rng.uniform())
            addBurst(at: s, amplitude: a)
        }
        for t in d.impulses {
            let s = first + max(0, min(Int64(frames - 1), Int64(((t - startTime) * fs).rounded())))
            addBurst(at: s, amplitude: 0.95)
        }
        active.sort { $0.startSample < $1.startSample }

        // Mono signal first, then channels with gains.
        if scratch.count < frames { scratch = [Float](repeating: 0, count: frames) }
        let mask = NormalTable.size - 1
        var nOff = Int(truncatingIfNeeded: rng.next()) & mask
        let bg = Float(backgroundRMS), h0 = Float(d.hissStart * hissRMS), h1 = Float(d.hissEnd * hissRMS)
        let dh = frames > 1 ? (h1 - h0) / Float(frames - 1) : 0
        var out = [Sample](repeating: 0, count: frames * channels)
        scratch.withUnsafeMutableBufferPointer { S in
            noise.withUnsafeBufferPointer { N in
                var hs = hissState
                for i in 0..<frames {
                    // Hiss: first-order high-pass of white noise (turbulent jet, broadband).
                    let wn = N[(nOff &+ i) & mask]
                    let hp = wn - 0.7 * hs
                    hs = wn
                    S[i] = bg * N[(nOff &+ i &* 7 &+ 12_345) & mask] + (h0 + dh * Float(i)) * hp
                }
                hissState = hs
                nOff &+= frames
            }
        }
        let full = Float(format.fullScale - 1)
        let chans = channels
        out.withUnsafeMutableBufferPointer { O in
            scratch.withUnsafeBufferPointer { S in
                for c in 0..<chans {
                    // Per-channel independent background: offset the mono by a shifted noise copy for c > 0.
                    for i in 0..<frames {
                        var v = S[i]
                        if c > 0 { v = S[(i &+ 97 &* c) % frames] }
                        O[i * chans + c] = Sample(max(-full, min(full, v * full)))
                    }
                }
            }
            // Add bursts.
            var keep: [Burst] = []
            for var b in active {
                let from = max(0, Int(b.startSample - first))
                if from >= frames { keep.append(b); continue }
                if !b.started { b.re = b.amplitude; b.im = 0; b.env = 1; b.started = true }
                var i = from
                while i < frames && b.remaining > 0 {
                    let s = b.im
                    for c in 0..<chans {
                        let idx = i * chans + c
                        O[idx] = Sample(max(-full, min(full, Float(O[idx]) + s * b.channelGain[c] * full)))
                    }
                    let re = b.re * b.cosW - b.im * b.sinW
                    let im = b.re * b.sinW + b.im * b.cosW
                    b.re = re * b.decay
                    b.im = im * b.decay
                    b.remaining -= 1
                    i += 1
                }
                if b.remaining > 0 { keep.append(b) }
            }
            active = keep
        }
        return out
    }
}

/// Formats BMS readings as the key=value line a serial instrument would send,
/// quantised to instrument resolution (1 mV, 1 mA, 0.1 degC), and parses them back.
public enum BMSLine {
    /// "t=12.000 V=4.213 I=1.502 T1=25.3 Tamb=23.0"
    public static func format(deviceTimeS: Double, voltageV: Double, currentA: Double, cellC: Double, ambientC: Double) -> String {
        func f(_ v: Double, _ decimals: Int) -> String {
            let scale = pow(10, Double(decimals))
            let q = (v * scale).rounded() / scale
            let s = String(Int64((abs(q) * scale).rounded()))
            let padded = String(repeating: "0", count: max(0, decimals + 1 - s.count)) + s
            let ip = padded.dropLast(decimals), fp = padded.suffix(decimals)
            return (q < 0 ? "-" : "") + ip + (decimals > 0 ? "." + fp : "")
        }
        return "t=\(f(deviceTimeS, 3)) V=\(f(voltageV, 3)) I=\(f(currentA, 3)) T1=\(f(cellC, 1)) Tamb=\(f(ambientC, 1))"
    }

    /// Parses a line made by `format` back into a sample (host time supplied by the caller).
    public static func parse(_ line: String, hostArrivalNs: Nanoseconds) -> BMSSample? {
        var kv: [String: Double] = [:]
        for part in line.split(separator: " ") {
            let p = part.split(separator: "=", maxSplits: 1)
            guard p.count == 2, let v = Double(p[1]) else { return nil }
            kv[String(p[0])] = v
        }
        guard let v = kv["V"], let i = kv["I"], let t1 = kv["T1"] else { return nil }
        return BMSSample(hostArrivalNs: hostArrivalNs, deviceTimeS: kv["t"], voltageV: v, currentA: i,
                         cellTempsC: [t1], ambientC: kv["Tamb"], raw: line)
    }
}
