import TRWCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Live AE hit detection over the PCM of one stream, one state machine per
/// channel, in the way of Vallen's AMSY hit definition:
///
/// * A hit starts at the first sample with |x| >= threshold (either polarity)
///   once the channel is armed.
/// * It ends when HDT has passed without a sample at or above the threshold;
///   the hit's duration is first to last such sample.
/// * The peak is the largest |x| found before PDT passes without a higher one;
///   rise time is first crossing to that peak.
/// * After a hit ends the channel is locked out for HLT: crossings there start
///   nothing (and are not part of any hit).
/// * Counts are positive-going threshold crossings (x rising to >= threshold)
///   within the hit; energy is the sum of x^2/fs from first to last crossing,
///   in V^2·s at the sensor; `rmsBeforeV` is the RMS of the last complete quiet
///   block (1 ms, aligned on sample index) before the hit, or of the quiet
///   samples of the current block when no complete one exists yet.
///
/// Hits may span chunk boundaries. A chunk whose first sample index is not the
/// one expected (an xrun gap) ends hits in progress at their last sample and
/// restarts the background estimate. Volts at the sensor are
/// `sample / format.fullScale * adcFullScaleV / 10^(preampGainDb/20)`.
public struct AEHitDetector: Sendable {
    public let channels: Int
    public let sampleRate: Double
    public let settings: AEDetectorSettings
    public let format: SampleFormat
    /// Threshold in sample units (counts, or the float value for FLOAT_LE).
    public let thresholdSample: Float
    /// Sensor volts per sample unit.
    public let voltsPerSample: Double

    let hdtSamples: Int64
    let pdtSamples: Int64
    let hltSamples: Int64
    let backgroundBlock: Int64

    struct Channel: Sendable {
        var inHit = false
        var first: Int64 = 0
        var lastAbove: Int64 = 0
        var peakIndex: Int64 = 0
        var peak: Float = 0
        var counts = 0
        var energy: Double = 0
        var energyAtLast: Double = 0
        var rmsBefore: Double = 0
        /// First sample index at which a crossing may start a hit again.
        var armedAt: Int64 = .min
        var previous: Float = 0
        var blockSum: Double = 0
        var blockCount: Int64 = 0
        var blockTainted = false
        var quietMeanSquare: Double? = nil
    }

    var state: [Channel]
    var nextIndex: Int64? = nil
    var scratch: [Float] = []

    /// - Parameters:
    ///   - channels: interleaved channels per frame (>= 1).
    ///   - sampleRate: frames per second (> 0).
    ///   - format: the stored sample format (its full scale maps samples to ADC volts).
    public init(channels: Int, sampleRate: Double, format: SampleFormat, settings: AEDetectorSettings) {
        precondition(channels >= 1, "AEHitDetector needs at least one channel, got \(channels)")
        precondition(sampleRate > 0, "AEHitDetector needs a positive sample rate, got \(sampleRate)")
        self.channels = channels
        self.sampleRate = sampleRate
        self.format = format
        self.settings = settings
        let gain = pow(10, settings.preampGainDb / 20)
        voltsPerSample = settings.adcFullScaleV / format.fullScale / gain
        let thresholdV = 1e-6 * pow(10, settings.thresholdDbAE / 20)
        thresholdSample = Float(thresholdV / voltsPerSample)
        hdtSamples = max(1, Int64((settings.hdtS * sampleRate).rounded()))
        pdtSamples = max(0, Int64((settings.pdtS * sampleRate).rounded()))
        hltSamples = max(0, Int64((settings.hltS * sampleRate).rounded()))
        backgroundBlock = max(16, Int64((1e-3 * sampleRate).rounded()))
        state = Array(repeating: Channel(), count: channels)
    }

    /// dB_AE of a sensor voltage (0 dB_AE = 1 µV).
    @inlinable public static func dbAE(volts: Double) -> Double { 20 * log10(volts / 1e-6) }

    /// Feeds one chunk; returns the hits that ended in it, ordered by first crossing.
    public mutating func process(_ chunk: AudioChunk) -> [AEHit] {
        precondition(chunk.channels == channels && chunk.format == format,
                     "chunk is \(chunk.channels) ch \(chunk.format.rawValue), the detector \(channels) ch \(format.rawValue)")
        var hits: [AEHit] = []
        if let expected = nextIndex, expected != chunk.firstSampleIndex {
            hits += flush()
        }
        let frames = chunk.frameCount
        nextIndex = chunk.firstSampleIndex + Int64(frames)
        guard frames > 0 else { return hits }
        if scratch.count < frames { scratch = [Float](repeating: 0, count: frames) }
        let isFloat = format == .floatle
        var buffer = scratch
        scratch = []
        defer { scratch = buffer }
        // In the samples' capture width (S16 as Int16): no widened copy.
        switch chunk.pcm {
        case .int16(let s): s.withUnsafeBufferPointer { scanChannels($0, frames: frames, isFloat: false, base: chunk.firstSampleIndex, buffer: &buffer, into: &hits) }
        case .int32(let s): s.withUnsafeBufferPointer { scanChannels($0, frames: frames, isFloat: isFloat, base: chunk.firstSampleIndex, buffer: &buffer, into: &hits) }
        }
        if hits.count > 1 { hits.sort { ($0.firstCrossingSampleIndex, $0.channel) < ($1.firstCrossingSampleIndex, $1.channel) } }
        return hits
    }

    /// De-interleaves and converts each channel into `buffer`, then scans it.
    private mutating func scanChannels<S: FixedWidthInteger & SignedInteger>(
        _ src: UnsafeBufferPointer<S>, frames: Int, isFloat: Bool, base: Int64, buffer: inout [Float], into hits: inout [AEHit]
    ) {
        let channels = self.channels
        buffer.withUnsafeMutableBufferPointer { dst in
            for ch in 0..<channels {
                // De-interleave and convert: a plain strided loop the compiler keeps tight.
                if isFloat {
                    for i in 0..<frames { dst[i] = Float(bitPattern: UInt32(truncatingIfNeeded: src[i &* channels &+ ch])) }
                } else {
                    for i in 0..<frames { dst[i] = Float(src[i &* channels &+ ch]) }
                }
                scan(channel: ch, UnsafeBufferPointer(rebasing: dst[0..<frames]), base: base, into: &hits)
            }
        }
    }

    /// First threshold crossing of the earliest hit still in progress (nil: none open).
    /// Every hit `process` returns later starts at or after it, or after the last
    /// sample fed: a live consumer knows the hits up to there are complete.
    public var openHitFirstIndex: Int64? {
        state.lazy.filter(\.inHit).map(\.first).min()
    }

    /// Ends every hit in progress (end of stream, or a gap) and returns them.
    /// The background estimate and lockout restart.
    public mutating func flush() -> [AEHit] {
        var hits: [AEHit] = []
        for ch in 0..<channels {
            if state[ch].inHit { hits.append(finish(channel: ch)) }
            state[ch] = Channel()
        }
        nextIndex = nil
        return hits
    }

    private mutating func scan(channel ch: Int, _ x: UnsafeBufferPointer<Float>, base: Int64, into hits: inout [AEHit]) {
        let thr = thresholdSample
        let n = x.count
        var s = state[ch]
        var i = 0
        while i < n {
            if s.inHit {
                // Sample by sample while a hit is open.
                var j = i
                var ended = false
                while j < n {
                    let v = x[j]
                    let a = abs(v)
                    let idx = base + Int64(j)
                    if idx - s.lastAbove > hdtSamples {
                        ended = true
                        break
                    }
                    s.energy += Double(v) * Double(v)
                    if a >= thr {
                        s.lastAbove = idx
                        s.energyAtLast = s.energy
                        if v >= thr && s.previous < thr { s.counts += 1 }
                    }
                    if a > s.peak && idx - s.peakIndex <= pdtSamples {
                        s.peak = a
                        s.peakIndex = idx
                    }
                    s.previous = v
                    j += 1
                }
                if ended {
                    state[ch] = s
                    hits.append(finish(channel: ch))
                    s = state[ch]
                }
                i = j
                continue
            }
            // Armed or locked out: run to the end of the background block or the chunk.
            let idx = base + Int64(i)
            let blockEnd = (idx / backgroundBlock + 1) * backgroundBlock
            let segEnd = Int(min(Int64(n), Int64(i) + (blockEnd - idx)))
            if idx < s.armedAt {
                let e = Int(min(Int64(segEnd), s.armedAt - base))
                s.blockTainted = true
                s.blockCount += Int64(e - i)
                s.previous = x[e - 1]
                i = e
            } else {
                // The hot loop: no crossing expected, accumulate x^2 and look for |x| >= thr.
                // Summed in sample order into the block's sum, so chunking cannot change the result.
                var sum = s.blockSum
                var j = i
                while j < segEnd {
                    let v = x[j]
                    if abs(v) >= thr { break }
                    sum += Double(v * v)
                    j += 1
                }
                s.blockSum = sum
                s.blockCount += Int64(j - i)
                if j < segEnd {
                    // A hit starts at j.
                    let idxJ = base + Int64(j)
                    if let q = s.quietMeanSquare {
                        s.rmsBefore = q.squareRoot() * voltsPerSample
                    } else if !s.blockTainted && s.blockCount > 0 {
                        s.rmsBefore = (s.blockSum / Double(s.blockCount)).squareRoot() * voltsPerSample
                    } else {
                        s.rmsBefore = 0
                    }
                    s.blockTainted = true
                    s.inHit = true
                    s.first = idxJ
                    s.lastAbove = idxJ
                    s.peakIndex = idxJ
                    s.peak = 0
                    s.counts = 0
                    s.energy = 0
                    s.energyAtLast = 0
                    i = j
                    continue
                }
                s.previous = x[segEnd - 1]
                i = segEnd
            }
            if base + Int64(i) == blockEnd {
                if !s.blockTainted && s.blockCount == backgroundBlock {
                    s.quietMeanSquare = s.blockSum / Double(backgroundBlock)
                }
                s.blockSum = 0
                s.blockCount = 0
                s.blockTainted = false
            }
        }
        state[ch] = s
    }

    /// Closes the open hit of `ch`, arms the lockout, returns its features.
    private mutating func finish(channel ch: Int) -> AEHit {
        var s = state[ch]
        let fs = sampleRate
        let peakV = Double(s.peak) * voltsPerSample
        let hit = AEHit(
            channel: ch, firstCrossingSampleIndex: s.first,
            amplitudeDbAE: Self.dbAE(volts: peakV),
            riseTimeS: Double(s.peakIndex - s.first) / fs,
            durationS: Double(s.lastAbove - s.first) / fs,
            counts: s.counts,
            energyV2s: s.energyAtLast * voltsPerSample * voltsPerSample / fs,
            rmsBeforeV: s.rmsBefore)
        s.inHit = false
        s.armedAt = s.lastAbove + hdtSamples + 1 + hltSamples
        state[ch] = s
        return hit
    }
}

extension AEHitDetector {
    /// A detector for an `ae` stream as its source described it: channels,
    /// rate and format from the descriptor, `settings` as configured.
    public init(stream: StreamDescriptor, settings: AEDetectorSettings) {
        guard let format = stream.sampleFormat ?? SampleFormat(rawValue: stream.format) else {
            preconditionFailure("stream \(stream.key) has no PCM sample format (format \(stream.format))")
        }
        self.init(channels: stream.channels ?? 1, sampleRate: stream.nominalRateHz, format: format, settings: settings)
    }
}
