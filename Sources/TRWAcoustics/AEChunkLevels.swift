import TRWCore

/// Per-channel RMS and peak of one PCM chunk, in sample units (counts, or the
/// float value for FLOAT_LE), for the per-chunk statistics stored beside the
/// chunk so overviews never decode PCM. Volts: multiply by
/// `AEHitDetector.voltsPerSample`.
public struct AEChunkLevels: Sendable, Equatable {
    public var rms: [Double]
    /// Largest |sample| per channel.
    public var peak: [Double]

    public init(rms: [Double], peak: [Double]) {
        self.rms = rms
        self.peak = peak
    }

    /// One pass over the interleaved samples (in their capture width).
    public static func compute(_ chunk: AudioChunk) -> AEChunkLevels {
        switch chunk.pcm {
        case .int16(let s): s.withUnsafeBufferPointer { compute($0, channels: chunk.channels, isFloat: false) }
        case .int32(let s): s.withUnsafeBufferPointer { compute($0, channels: chunk.channels, isFloat: chunk.format == .floatle) }
        }
    }

    private static func compute<S: FixedWidthInteger & SignedInteger>(_ p: UnsafeBufferPointer<S>, channels ch: Int,
                                                                      isFloat: Bool) -> AEChunkLevels {
        let frames = ch == 0 ? 0 : p.count / ch
        var sumSq = [Double](repeating: 0, count: ch)
        var peak = [Double](repeating: 0, count: ch)
        for c in 0..<ch {
            var s = 0.0
            var m = 0.0
            var i = c
            for _ in 0..<frames {
                let v = isFloat ? Double(Float(bitPattern: UInt32(truncatingIfNeeded: p[i]))) : Double(p[i])
                s += v * v
                m = max(m, abs(v))
                i += ch
            }
            sumSq[c] = s
            peak[c] = m
        }
        let n = Double(max(frames, 1))
        return AEChunkLevels(rms: sumSq.map { ($0 / n).squareRoot() }, peak: peak)
    }
}
