import TRWCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A burst-type AE signal with a known envelope, for tests, benchmarks and
/// simulated rigs: a sine carrier under a triangular envelope that rises
/// linearly from 0 to `peakV` in `riseS`, then falls linearly to 0 in `decayS`.
public struct AEBurst: Sendable, Equatable {
    /// Start of the envelope, s from the start of the signal.
    public var startS: Double
    /// Peak amplitude at the sensor, V.
    public var peakV: Double
    public var riseS: Double
    public var decayS: Double
    public var carrierHz: Double
    /// Carrier phase at `startS`, radians.
    public var phase: Double

    public init(startS: Double, peakV: Double, riseS: Double, decayS: Double, carrierHz: Double, phase: Double = 0) {
        self.startS = startS
        self.peakV = peakV
        self.riseS = riseS
        self.decayS = decayS
        self.carrierHz = carrierHz
        self.phase = phase
    }

    public init(startS: Double, peakDbAE: Double, riseS: Double, decayS: Double, carrierHz: Double, phase: Double = 0) {
        self.init(startS: startS, peakV: 1e-6 * pow(10, peakDbAE / 20), riseS: riseS, decayS: decayS,
                  carrierHz: carrierHz, phase: phase)
    }

    /// Envelope at time t, V.
    public func envelope(_ t: Double) -> Double {
        let u = t - startS
        if u < 0 || u > riseS + decayS { return 0 }
        return u <= riseS ? peakV * u / riseS : peakV * (1 - (u - riseS) / decayS)
    }

    /// Signal at time t, V.
    public func value(_ t: Double) -> Double {
        let e = envelope(t)
        return e == 0 ? 0 : e * sin(2 * Double.pi * carrierHz * (t - startS) + phase)
    }
}

/// Renders AE signals to trw samples.
public enum AESignal {
    /// `frames` frames of `channels` interleaved channels at `sampleRate`:
    /// the bursts of each channel plus Gaussian noise of RMS `noiseV` (V at the
    /// sensor, deterministic from `seed`), converted to `format` through the
    /// preamp gain and ADC full scale of `settings`, rounded and clipped.
    public static func render(
        frames: Int, channels: Int, sampleRate: Double, format: SampleFormat, settings: AEDetectorSettings,
        bursts: [[AEBurst]], noiseV: Double = 0, seed: UInt64 = 1
    ) -> [Int32] {
        precondition(bursts.count == channels, "one burst list per channel: \(bursts.count) lists for \(channels) channels")
        let samplesPerVolt = pow(10, settings.preampGainDb / 20) / settings.adcFullScaleV * format.fullScale
        var rng = seed
        func uniform() -> Double {
            rng &+= 0x9E37_79B9_7F4A_7C15
            var z = rng
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            z ^= z >> 31
            return Double(z >> 11) / Double(1 << 53)
        }
        var out = [Int32](repeating: 0, count: frames * channels)
        let lo = -format.fullScale, hi = format.fullScale - 1
        for f in 0..<frames {
            let t = Double(f) / sampleRate
            for ch in 0..<channels {
                var v = 0.0
                for b in bursts[ch] { v += b.value(t) }
                if noiseV > 0 {
                    let u1 = max(uniform(), 1e-300), u2 = uniform()
                    v += noiseV * (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
                }
                let s = v * samplesPerVolt
                if format == .floatle {
                    out[f * channels + ch] = Int32(bitPattern: Float(max(-1, min(1, s))).bitPattern)
                } else {
                    out[f * channels + ch] = Int32(max(lo, min(hi, s.rounded())))
                }
            }
        }
        return out
    }
}
