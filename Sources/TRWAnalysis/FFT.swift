#if canImport(Glibc)
import Glibc
#endif

/// In-place iterative radix-2 FFT (Cooley-Tukey) with precomputed twiddles,
/// and a Hann-windowed power spectrum for STFT band energies.
public final class FFT {
    public let n: Int
    private let cosT: [Double]
    private let sinT: [Double]
    private let rev: [Int]
    public let window: [Double]
    private var re: [Double]
    private var im: [Double]

    public init(size n: Int) {
        precondition(n >= 2 && n & (n - 1) == 0, "FFT size must be a power of two, got \(n)")
        self.n = n
        cosT = (0..<(n / 2)).map { cos(2 * Double.pi * Double($0) / Double(n)) }
        sinT = (0..<(n / 2)).map { -sin(2 * Double.pi * Double($0) / Double(n)) }
        let bits = n.trailingZeroBitCount
        rev = (0..<n).map { i in
            var r = 0, x = i
            for _ in 0..<bits { r = (r << 1) | (x & 1); x >>= 1 }
            return r
        }
        window = (0..<n).map { 0.5 - 0.5 * cos(2 * Double.pi * Double($0) / Double(n)) }
        re = [Double](repeating: 0, count: n)
        im = [Double](repeating: 0, count: n)
    }

    /// Forward transform of (real, imag) in place.
    public func transform(_ xr: inout [Double], _ xi: inout [Double]) {
        for i in 0..<n where i < rev[i] {
            xr.swapAt(i, rev[i])
            xi.swapAt(i, rev[i])
        }
        var len = 2
        while len <= n {
            let half = len / 2, step = n / len
            var start = 0
            while start < n {
                for k in 0..<half {
                    let wr = cosT[k * step], wi = sinT[k * step]
                    let a = start + k, b = a + half
                    let tr = xr[b] * wr - xi[b] * wi
                    let ti = xr[b] * wi + xi[b] * wr
                    xr[b] = xr[a] - tr; xi[b] = xi[a] - ti
                    xr[a] += tr; xi[a] += ti
                }
                start += len
            }
            len <<= 1
        }
    }

    /// Power spectrum |X_k|^2 for k in 0...n/2 of a Hann-windowed real frame
    /// (values as given; callers scale to volts first if they want V^2).
    public func powerSpectrum(_ frame: ArraySlice<Double>) -> [Double] {
        precondition(frame.count == n)
        var i = 0
        for v in frame { re[i] = v * window[i]; im[i] = 0; i += 1 }
        transform(&re, &im)
        return (0...(n / 2)).map { re[$0] * re[$0] + im[$0] * im[$0] }
    }
}
