import TRWCore
@_exported import struct TRWCore.SplitMix64

public enum TestFrames {
    /// A thermal-looking frame: a warm blob on a 25 degC background with
    /// NETD-like Gaussian noise, in TLinear 0.01 K counts.
    public static func thermal(width: Int, height: Int, seed: UInt64, noiseCounts: Double = 5) -> [UInt16] {
        var rng = SplitMix64(seed: seed)
        var out = [UInt16](repeating: 0, count: width * height)
        let cx = Double(width) * 0.6, cy = Double(height) * 0.4
        for y in 0..<height {
            for x in 0..<width {
                let dx = Double(x) - cx, dy = Double(y) - cy
                let t = 298.15 + 40 * _exp(-(dx * dx + dy * dy) / (2 * 40 * 40))
                let u1 = max(Double(rng.next() >> 11) / Double(1 << 53), 1e-12)
                let u2 = Double(rng.next() >> 11) / Double(1 << 53)
                let n = (-2 * _log(u1)).squareRoot() * _cos(2 * Double.pi * u2) * noiseCounts
                out[y * width + x] = UInt16(clamping: Int((t * 100 + n).rounded()))
            }
        }
        return out
    }
}

#if canImport(Glibc)
import Glibc
@inline(__always) func _exp(_ x: Double) -> Double { Glibc.exp(x) }
@inline(__always) func _log(_ x: Double) -> Double { Glibc.log(x) }
@inline(__always) func _cos(_ x: Double) -> Double { Glibc.cos(x) }
#else
import Darwin
@inline(__always) func _exp(_ x: Double) -> Double { Darwin.exp(x) }
@inline(__always) func _log(_ x: Double) -> Double { Darwin.log(x) }
@inline(__always) func _cos(_ x: Double) -> Double { Darwin.cos(x) }
#endif
