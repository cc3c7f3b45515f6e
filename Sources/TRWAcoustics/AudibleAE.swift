import Foundation
import TRWCore

/// How `trw export-wav --audible` brings 20–100 kHz acoustic emission into hearing range.
public enum AudibleMethod: Sendable, Equatable, CustomStringConvertible {
    /// Mix with a local oscillator at `loHz` (a bat detector's heterodyne, single sideband): a
    /// component at f is heard at |f - loHz|; then low-pass at `HeterodyneProcessor.cutoffHz` and resample to
    /// `HeterodyneProcessor.outputRate`.
    case heterodyne(loHz: Int)
    /// Time expansion: the same samples played `factor` times slower (written at the input
    /// rate divided by `factor`, rounded to whole Hz): every frequency is divided by the
    /// effective factor, every duration multiplied by it. Lossless.
    case stretch(factor: Double)

    public static let defaultLoHz = 40_000
    public static let defaultStretch = 10.0
    public static let help = "heterodyne[:KHZ] (local oscillator, default \(defaultLoHz / 1000) kHz; 48 kHz out) or stretch[:FACTOR] (time expansion, default \(Int(defaultStretch)))"

    /// Parses `heterodyne[:KHZ]` or `stretch[:FACTOR]`; range-checks the number (the rate
    /// check against a stream is `check(inputRate:)`).
    public init(parsing text: String) throws(AudibleError) {
        let parts = text.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        let arg = parts.count > 1 ? parts[1] : nil
        switch parts[0] {
        case "heterodyne", "het":
            var lo = Self.defaultLoHz
            if let arg {
                guard let k = Double(arg), k.isFinite, k >= 1, k <= 1000 else {
                    throw .bad("--audible heterodyne:KHZ wants a local oscillator in kHz, 1 to 1000; got '\(arg)'")
                }
                lo = Int((k * 1000).rounded())
            }
            self = .heterodyne(loHz: lo)
        case "stretch":
            var f = Self.defaultStretch
            if let arg {
                guard let v = Double(arg), v.isFinite, v > 1, v <= 1000 else {
                    throw .bad("--audible stretch:FACTOR wants a factor above 1 and at most 1000; got '\(arg)'")
                }
                f = v
            }
            self = .stretch(factor: f)
        default:
            throw .bad("--audible: '\(text)' is not \(Self.help)")
        }
    }

    /// Refuses settings a stream of `inputRate` Hz cannot give.
    public func check(inputRate: Int, stream: String) throws(AudibleError) {
        switch self {
        case .heterodyne(let lo):
            guard lo < inputRate / 2 else {
                throw .bad("--audible heterodyne: a \(Double(lo) / 1000) kHz oscillator is at or above the Nyquist frequency of \(stream) (\(inputRate) Hz sampled, \(inputRate / 2) Hz); choose below \(inputRate / 2000) kHz")
            }
            guard inputRate >= HeterodyneProcessor.outputRate else {
                throw .bad("--audible heterodyne: \(stream) is sampled at \(inputRate) Hz, below the \(HeterodyneProcessor.outputRate) Hz output; it is audible as it is (export without --audible)")
            }
        case .stretch:
            let r = outputRate(inputRate: inputRate)
            guard r >= 1000 else {
                throw .bad("--audible stretch: \(stream) at \(inputRate) Hz stretched gives \(r) Hz, below 1000 Hz that players accept; choose a smaller factor")
            }
        }
    }

    /// The WAV file's sample rate.
    public func outputRate(inputRate: Int) -> Int {
        switch self {
        case .heterodyne: HeterodyneProcessor.outputRate
        case .stretch(let f): Int((Double(inputRate) / f).rounded())
        }
    }

    public var description: String {
        switch self {
        case .heterodyne(let lo): "heterodyne:\(Double(lo) / 1000)"
        case .stretch(let f): "stretch:\(f)"
        }
    }

    /// The method and its parameters in words, for the file's metadata.
    public func explanation(inputRate: Int) -> String {
        switch self {
        case .heterodyne(let lo):
            let p = HeterodyneProcessor(inputRate: inputRate, loHz: lo, channels: 1, format: .s16le)
            return String(format: "audible: heterodyne, local oscillator %.3f kHz, single sideband (%d-tap Hilbert FIR; a component at f is heard at |f - %.3f kHz| with its amplitude), low-pass %.0f Hz (%d-tap Blackman windowed sinc), resampled %d -> %d Hz",
                          Double(lo) / 1000, 2 * p.hilbert.count + 1, Double(lo) / 1000, HeterodyneProcessor.cutoffHz, p.taps.count, inputRate, HeterodyneProcessor.outputRate)
        case .stretch(let f):
            let r = outputRate(inputRate: inputRate)
            return String(format: "audible: time stretch, factor %g (effective %.6f: %d Hz samples written at %d Hz; frequencies divided and durations multiplied by it), samples unchanged",
                          f, Double(inputRate) / Double(r), inputRate, r)
        }
    }
}

public enum AudibleError: Error, Equatable, CustomStringConvertible {
    case bad(String)
    public var description: String { switch self { case .bad(let s): s } }
}

/// The heterodyne as a streaming filter over interleaved samples in trw's Int32
/// representation of `format` (float as its bit pattern), single sideband so that nothing
/// folds: the analytic signal x + j·H{x} (H: a Blackman-windowed Hilbert FIR) is shifted
/// down by the oscillator and its real part kept, x[n]·cos(2π lo n / rate) + H{x}[n]·sin(...):
/// a component at f comes out at |f - lo| with its amplitude (a plain product x·2cos would
/// also put f + lo there, folded at the input's Nyquist frequency). Then a Blackman-windowed
/// sinc low-pass at `cutoffHz` (stop band from 30 kHz, the first frequency that would alias
/// into 0–18 kHz at 48 kHz), read out at 48 kHz (every rate/48000-th filter output when that is
/// whole, linear interpolation between two filter outputs otherwise). Output sample m is the
/// input's time m / 48000 s (both filters are zero-phase). Integer formats are rounded and
/// clamped to their range.
public struct HeterodyneProcessor {
    public static let outputRate = 48_000
    public static let cutoffHz = 18_000.0
    static let stopHz = 30_000.0
    /// Hilbert filter transition width near 0 and near the Nyquist frequency, Hz.
    static let hilbertTransitionHz = 4_000.0

    public let inputRate: Int
    public let loHz: Int
    public let channels: Int
    public let format: SampleFormat
    /// The low-pass taps (odd count, centred).
    public let taps: [Double]
    /// Hilbert taps h[m] for m = 1...M (h[-m] = -h[m]; zero for even m).
    public let hilbert: [Double]
    /// cos and sin of 2π lo n / rate for n in one exact period of the oscillator.
    private let loCos: [Double], loSin: [Double]
    private var raw: [[Double]]
    private var rawStart: Int64 = 0
    /// Shifted (mixed) samples per channel, from absolute input index `bufStart`.
    private var buf: [[Double]]
    private var bufStart: Int64 = 0
    private var inputCount: Int64 = 0
    private var mixedCount: Int64 = 0
    private var outputCount: Int64 = 0

    public init(inputRate: Int, loHz: Int, channels: Int, format: SampleFormat) {
        self.inputRate = inputRate; self.loHz = loHz; self.channels = channels; self.format = format
        let width = max(1e-6, (Self.stopHz - Self.cutoffHz) / Double(inputRate))
        var n = Int((5.5 / width).rounded(.up))
        if n % 2 == 0 { n += 1 }
        let fc = Self.cutoffHz / Double(inputRate), mid = Double(n - 1) / 2
        var h = (0..<n).map { i -> Double in
            let x = Double(i) - mid
            let sinc = x == 0 ? 2 * fc : sin(2 * Double.pi * fc * x) / (Double.pi * x)
            let w = 0.42 - 0.5 * cos(2 * Double.pi * Double(i) / Double(n - 1)) + 0.08 * cos(4 * Double.pi * Double(i) / Double(n - 1))
            return sinc * w
        }
        let sum = h.reduce(0, +)
        h = h.map { $0 / sum }
        taps = h
        let m = max(3, Int((2.75 * Double(inputRate) / Self.hilbertTransitionHz).rounded(.up)))
        hilbert = (1...m).map { k -> Double in
            guard k % 2 == 1 else { return 0 }
            let w = 0.42 + 0.5 * cos(Double.pi * Double(k) / Double(m + 1)) + 0.08 * cos(2 * Double.pi * Double(k) / Double(m + 1))
            return 2 / (Double.pi * Double(k)) * w
        }
        func gcd(_ a: Int, _ b: Int) -> Int { b == 0 ? a : gcd(b, a % b) }
        let period = inputRate / gcd(inputRate, loHz)
        loCos = (0..<period).map { cos(2 * Double.pi * Double((loHz * $0) % inputRate) / Double(inputRate)) }
        loSin = (0..<period).map { sin(2 * Double.pi * Double((loHz * $0) % inputRate) / Double(inputRate)) }
        raw = Array(repeating: [], count: channels)
        buf = Array(repeating: [], count: channels)
    }

    private func toDouble(_ s: Int32) -> Double {
        format == .floatle ? Double(Float(bitPattern: UInt32(bitPattern: s))) : Double(s)
    }

    private func fromDouble(_ v: Double) -> Int32 {
        switch format {
        case .floatle: return Int32(bitPattern: Float(v).bitPattern)
        case .s16le: return Int32(max(-32768, min(32767, v.rounded())))
        case .s24le: return Int32(max(-8_388_608, min(8_388_607, v.rounded())))
        case .s32le: return Int32(max(-2_147_483_648, min(2_147_483_647, v.rounded())))
        }
    }

    /// Feeds interleaved input samples; returns the interleaved output samples now complete.
    public mutating func process(_ samples: [Int32]) -> [Int32] {
        let frames = samples.count / channels
        for c in 0..<channels {
            raw[c].reserveCapacity(raw[c].count + frames)
            for i in 0..<frames { raw[c].append(toDouble(samples[i * channels + c])) }
        }
        inputCount += Int64(frames)
        mix(final: false)
        return drain(final: false)
    }

    /// Ends the input: the filters' tails are computed with zeros after the last sample. Returns
    /// the last output samples (ceil(input frames · 48000 / rate) frames in all).
    public mutating func finish() -> [Int32] {
        mix(final: true)
        return drain(final: true)
    }

    /// Shifts the samples whose Hilbert window is complete.
    private mutating func mix(final: Bool) {
        let m = hilbert.count
        let limit = final ? inputCount : inputCount - Int64(m)
        guard mixedCount < limit else { return }
        let period = Int64(loCos.count)
        for c in 0..<channels {
            let r = raw[c]
            let count = Int64(r.count), start = rawStart
            @inline(__always) func at(_ k: Int64) -> Double {
                let i = k - start
                return i >= 0 && i < count ? r[Int(i)] : 0
            }
            var k = mixedCount
            while k < limit {
                var q = 0.0
                var j = 1
                while j <= m { q += hilbert[j - 1] * (at(k - Int64(j)) - at(k + Int64(j))); j += 2 }
                let p = Int(k % period)
                buf[c].append(at(k) * loCos[p] + q * loSin[p])
                k += 1
            }
        }
        mixedCount = limit
        // Keep the raw samples the next Hilbert windows still read.
        let drop = Int(min(Int64(raw[0].count), max(0, mixedCount - Int64(m) - rawStart)))
        if drop > 4096 {
            for c in 0..<channels { raw[c].removeFirst(drop) }
            rawStart += Int64(drop)
        }
    }

    private mutating func drain(final: Bool) -> [Int32] {
        let half = Int64(taps.count / 2)
        let total = (inputCount * Int64(Self.outputRate) + Int64(inputRate) - 1) / Int64(inputRate)
        var out: [Int32] = []
        while outputCount < total {
            // Input position of output sample m: m · rate / 48000 = k + frac.
            let num = outputCount * Int64(inputRate)
            let k = num / Int64(Self.outputRate)
            let frac = Double(num % Int64(Self.outputRate)) / Double(Self.outputRate)
            let needLast = k + (frac > 0 ? 1 : 0) + half  // newest mixed sample the filter reads
            if !final && needLast >= mixedCount { break }
            for c in 0..<channels {
                var y = filtered(c, at: k)
                if frac > 0 { y += (filtered(c, at: k + 1) - y) * frac }
                out.append(fromDouble(y))
            }
            outputCount += 1
        }
        // Keep what the next outputs can still read.
        let nextK = outputCount * Int64(inputRate) / Int64(Self.outputRate)
        let keepFrom = max(bufStart, nextK - half)
        let drop = Int(min(Int64(buf[0].count), keepFrom - bufStart))
        if drop > 4096 {
            for c in 0..<channels { buf[c].removeFirst(drop) }
            bufStart += Int64(drop)
        }
        return out
    }

    /// The zero-phase low-pass output at input index k (zeros outside the input).
    private func filtered(_ c: Int, at k: Int64) -> Double {
        let half = taps.count / 2
        var y = 0.0
        let b = buf[c]
        for j in 0..<taps.count {
            let idx = k + Int64(j - half) - bufStart
            if idx >= 0 && idx < Int64(b.count) { y += taps[j] * b[Int(idx)] }
        }
        return y
    }
}
