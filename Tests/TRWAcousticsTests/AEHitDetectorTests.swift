import Foundation
import Testing
import TRWAcoustics
import TRWCore
import TRWTestSupport

/// Feeds `samples` to a detector in chunks of `chunkFrames` and flushes at the end.
func detect(
    _ samples: [Int32], channels: Int, rate: Double, format: SampleFormat, settings: AEDetectorSettings,
    chunkFrames: Int, firstIndex: Int64 = 0
) -> [AEHit] {
    var d = AEHitDetector(channels: channels, sampleRate: rate, format: format, settings: settings)
    var hits: [AEHit] = []
    let frames = samples.count / channels
    var f = 0
    while f < frames {
        let n = min(chunkFrames, frames - f)
        let chunk = AudioChunk(
            firstSampleIndex: firstIndex + Int64(f), channels: channels, format: format,
            samples: Array(samples[(f * channels)..<((f + n) * channels)]), hostArrivalNs: 0)
        hits += d.process(chunk)
        f += n
    }
    return hits + d.flush()
}

@Suite struct AEHitDetectorTests {
    static let settings = AEDetectorSettings(
        thresholdDbAE: 40, hdtS: 200e-6, pdtS: 50e-6, hltS: 1e-3, adcFullScaleV: 1.0, preampGainDb: 40)

    /// One triangular burst (70 dB_AE, rise 200 µs, decay 800 µs, carrier fs/4)
    /// on 5 µV of noise, checked against its analytic features, for every format
    /// and for chunk sizes from 1 frame to the whole signal (hits span chunks).
    @Test(arguments: [SampleFormat.s16le, .s24le, .s32le, .floatle], [1, 7, 384, 4096, 1 << 20])
    func burstFeaturesMatchTheEnvelope(format: SampleFormat, chunkFrames: Int) {
        let fs = 384_000.0
        let startS = 2.5e-3
        let burst = AEBurst(startS: startS, peakDbAE: 70, riseS: 200e-6, decayS: 800e-6, carrierHz: fs / 4)
        let noiseV = 5e-6
        let samples = AESignal.render(
            frames: 3_840, channels: 1, sampleRate: fs, format: format, settings: Self.settings,
            bursts: [[burst]], noiseV: noiseV, seed: 7)
        let hits = detect(samples, channels: 1, rate: fs, format: format, settings: Self.settings, chunkFrames: chunkFrames)
        #expect(hits.count == 1, "one burst must give one hit, got \(hits)")
        guard let h = hits.first else { return }
        let ratio = 1e-6 * pow(10, 40.0 / 20) / burst.peakV  // threshold / peak
        let period = 1 / burst.carrierHz
        // First crossing: where the envelope reaches the threshold, within half a carrier period.
        let firstS = startS + burst.riseS * ratio
        #expect(abs(Double(h.firstCrossingSampleIndex) / fs - firstS) <= period / 2 + 1 / fs)
        // Peak amplitude within 0.1 dB (the carrier samples the envelope peak within 1.3 µs).
        #expect(abs(h.amplitudeDbAE - 70) <= 0.1, "amplitude \(h.amplitudeDbAE) dB_AE, expected 70")
        // Rise time and duration within one carrier period.
        #expect(abs(h.riseTimeS - burst.riseS * (1 - ratio)) <= period, "rise \(h.riseTimeS) s")
        let lastS = startS + burst.riseS + burst.decayS * (1 - ratio)
        #expect(abs(h.durationS - (lastS - firstS)) <= period, "duration \(h.durationS) s")
        // Counts: one positive crossing per carrier cycle above threshold, +-2 for noise at the edges.
        let expectedCounts = (lastS - firstS) * burst.carrierHz
        #expect(abs(Double(h.counts) - expectedCounts) <= 2, "counts \(h.counts), expected \(expectedCounts)")
        // Energy of a sine under a triangle: A^2/2 * (rise + decay)/3, within 2 %.
        let expectedEnergy = burst.peakV * burst.peakV / 2 * (burst.riseS + burst.decayS) / 3
        #expect(abs(h.energyV2s / expectedEnergy - 1) <= 0.02, "energy \(h.energyV2s), expected \(expectedEnergy)")
        // Background RMS from a 1 ms block of 384 noise samples: within 15 % (3 sigma of the estimate).
        #expect(abs(h.rmsBeforeV / noiseV - 1) <= 0.15, "rms before \(h.rmsBeforeV) V, expected \(noiseV)")
        #expect(h.channel == 0)
    }

    /// Chunking never changes the result: the same signal split at every size gives identical hits.
    @Test func hitsDoNotDependOnChunking() {
        let fs = 192_000.0
        let bursts = (0..<6).map { k in
            AEBurst(startS: 1.5e-3 + Double(k) * 3.1e-3, peakDbAE: 55 + Double(k) * 4, riseS: 30e-6,
                    decayS: 300e-6, carrierHz: 31_000, phase: Double(k))
        }
        let samples = AESignal.render(
            frames: 4_000, channels: 2, sampleRate: fs, format: .s32le, settings: Self.settings,
            bursts: [bursts, Array(bursts.reversed().map { var b = $0; b.startS += 0.4e-3; return b })],
            noiseV: 3e-6, seed: 3)
        let reference = detect(samples, channels: 2, rate: fs, format: .s32le, settings: Self.settings, chunkFrames: 1 << 20)
        #expect(reference.count == 12)
        for chunk in [1, 2, 3, 5, 64, 191, 1000] {
            let hits = detect(samples, channels: 2, rate: fs, format: .s32le, settings: Self.settings, chunkFrames: chunk)
            #expect(hits == reference, "chunks of \(chunk) frames changed the hits")
        }
    }

    /// HDT and HLT: a second burst closer than HDT extends the hit; one after
    /// the hit ended but within HLT is locked out (still one hit); one after
    /// HDT + HLT is a second hit.
    @Test(arguments: [(100e-6, 1), (600e-6, 1), (2e-3, 2)])
    func hitDefinitionAndLockout(gapS: Double, expectedHits: Int) {
        let fs = 384_000.0
        let b1 = AEBurst(startS: 2e-3, peakDbAE: 70, riseS: 20e-6, decayS: 80e-6, carrierHz: fs / 4)
        let b2 = AEBurst(startS: b1.startS + 100e-6 + gapS, peakDbAE: 70, riseS: 20e-6, decayS: 80e-6, carrierHz: fs / 4)
        let samples = AESignal.render(
            frames: 3_000, channels: 1, sampleRate: fs, format: .s32le, settings: Self.settings, bursts: [[b1, b2]])
        let hits = detect(samples, channels: 1, rate: fs, format: .s32le, settings: Self.settings, chunkFrames: 256)
        #expect(hits.count == expectedHits, "gap \(gapS) s gave \(hits.count) hits")
        let single = detect(
            AESignal.render(frames: 3_000, channels: 1, sampleRate: fs, format: .s32le, settings: Self.settings, bursts: [[b1]]),
            channels: 1, rate: fs, format: .s32le, settings: Self.settings, chunkFrames: 256)
        #expect(single.count == 1)
        guard let first = hits.first, let alone = single.first else { return }
        if gapS < Self.settings.hdtS {
            // Both bursts in one hit: twice the counts, duration across the gap.
            // (+-1: the second burst starts between samples, so the carrier is sampled at another phase)
            #expect(abs(first.counts - 2 * alone.counts) <= 1)
            #expect(first.durationS > alone.durationS + gapS)
        } else {
            // The first hit is the first burst alone; a locked-out burst adds nothing.
            #expect(first == alone)
        }
        if expectedHits == 2 {
            #expect(abs(Double(hits[1].firstCrossingSampleIndex) / fs - b2.startS) < 10e-6)
        }
    }

    /// PDT: a higher peak within PDT of the current peak becomes the peak; one
    /// later than PDT (same hit) does not.
    @Test(arguments: [(30e-6, 66.0, 40e-6), (100e-6, 60.0, 10e-6)])
    func peakDefinitionTime(secondStartS: Double, expectedDbAE: Double, expectedRiseS: Double) {
        let fs = 1_000_000.0
        let t0 = 1e-3
        // Phase 3pi/2: the carrier is at +1 on the sample of each envelope peak.
        let b1 = AEBurst(startS: t0, peakDbAE: 60, riseS: 10e-6, decayS: 20e-6, carrierHz: 250_000, phase: 1.5 * .pi)
        let b2 = AEBurst(startS: t0 + secondStartS, peakDbAE: 66, riseS: 10e-6, decayS: 20e-6, carrierHz: 250_000,
                         phase: 1.5 * .pi)
        let samples = AESignal.render(
            frames: 2_000, channels: 1, sampleRate: fs, format: .s32le, settings: Self.settings, bursts: [[b1, b2]])
        let hits = detect(samples, channels: 1, rate: fs, format: .s32le, settings: Self.settings, chunkFrames: 100)
        #expect(hits.count == 1)
        guard let h = hits.first else { return }
        #expect(abs(h.amplitudeDbAE - expectedDbAE) <= 0.2, "amplitude \(h.amplitudeDbAE)")
        #expect(abs(h.riseTimeS - expectedRiseS) <= 4e-6, "rise \(h.riseTimeS)")
    }

    /// Hits on several channels come out ordered by time with their channel.
    @Test func channelsAreIndependent() {
        let fs = 192_000.0
        // Rise of 10 samples at fs/4 with phase 3pi/2: the envelope peak falls on a sample at +1.
        let late = AEBurst(startS: 5e-3, peakDbAE: 65, riseS: 10 / fs, decayS: 200e-6, carrierHz: fs / 4, phase: 1.5 * .pi)
        let early = AEBurst(startS: 3e-3, peakDbAE: 75, riseS: 10 / fs, decayS: 200e-6, carrierHz: fs / 4, phase: 1.5 * .pi)
        let samples = AESignal.render(
            frames: 1_500, channels: 3, sampleRate: fs, format: .s16le, settings: Self.settings,
            bursts: [[late], [], [early]])
        let hits = detect(samples, channels: 3, rate: fs, format: .s16le, settings: Self.settings, chunkFrames: 333)
        #expect(hits.map(\.channel) == [2, 0])
        #expect(hits.count == 2 && abs(hits[0].amplitudeDbAE - 75) < 0.05 && abs(hits[1].amplitudeDbAE - 65) < 0.05)
    }

    /// A chunk that does not follow the previous one (an xrun gap) ends the hit
    /// in progress at its last crossing before the gap.
    @Test func gapEndsHitInProgress() {
        let fs = 384_000.0
        let burst = AEBurst(startS: 1e-3, peakDbAE: 70, riseS: 100e-6, decayS: 900e-6, carrierHz: fs / 4)
        let samples = AESignal.render(
            frames: 1_000, channels: 1, sampleRate: fs, format: .s32le, settings: Self.settings, bursts: [[burst]])
        var d = AEHitDetector(channels: 1, sampleRate: fs, format: .s32le, settings: Self.settings)
        let before = d.process(AudioChunk(firstSampleIndex: 0, channels: 1, format: .s32le,
                                          samples: Array(samples[0..<500]), hostArrivalNs: 0))
        #expect(before.isEmpty)
        let quiet = [Int32](repeating: 0, count: 100)
        let after = d.process(AudioChunk(firstSampleIndex: 10_000, channels: 1, format: .s32le, samples: quiet, hostArrivalNs: 0))
        #expect(after.count == 1)
        if let h = after.first {
            #expect(h.firstCrossingSampleIndex < 500 && Double(h.firstCrossingSampleIndex) > 1e-3 * fs)
            #expect(h.durationS < (500 - 1e-3 * fs) / fs)
        }
        #expect(d.flush().isEmpty)
    }

    /// Threshold conversion: 40 dB_AE through 40 dB gain at 1 V full scale is 10 mV at the ADC.
    @Test(arguments: SampleFormat.allCases)
    func thresholdInSampleUnits(format: SampleFormat) {
        let d = AEHitDetector(channels: 1, sampleRate: 96_000, format: format, settings: Self.settings)
        let expected = 0.01 * format.fullScale
        #expect(abs(Double(d.thresholdSample) / expected - 1) < 1e-6)
    }
}

@Suite struct AEStreamSettingsTests {
    @Test func settingsRoundTripThroughStreamProperties() throws {
        let settings = AEDetectorSettings(thresholdDbAE: 37.5, hdtS: 400e-6, pdtS: 100e-6, hltS: 2e-3, adcFullScaleV: 2.5, preampGainDb: 34)
        var d = StreamDescriptor(key: "ae0", kind: .ae, device: "hw:1,0", format: "S24_LE", nominalRateHz: 192_000,
                                 channels: 4, sampleFormat: .s24le)
        #expect(try AEHitDetector(stream: d) == nil, "no settings on the stream: no detector")
        d.properties[AEDetectorSettings.streamPropertyKey] = settings.streamPropertyValue
        let det = try #require(try AEHitDetector(stream: d))
        #expect(det.settings == settings && det.channels == 4 && det.sampleRate == 192_000 && det.format == .s24le)
        d.properties[AEDetectorSettings.streamPropertyKey] = "{\"thresholdDbAE\": \"high\"}"
        #expect(throws: DecodingError.self) { try AEHitDetector(stream: d) }
    }
}

@Suite struct AEChunkLevelsTests {
    /// A full-scale-relative sine has RMS peak/sqrt(2); a constant has RMS = |value|.
    @Test(arguments: [SampleFormat.s16le, .s32le, .floatle])
    func sineAndConstant(format: SampleFormat) {
        let frames = 4_800  // 100 whole periods of fs/48
        let amp = format.fullScale / 2
        var samples: [Int32] = []
        for f in 0..<frames {
            let v = amp * sin(2 * Double.pi * Double(f) / 48)
            let c = -amp / 4
            for x in [v, c] {
                samples.append(format == .floatle ? Int32(bitPattern: Float(x).bitPattern) : Int32(x.rounded()))
            }
        }
        let levels = AEChunkLevels.compute(AudioChunk(firstSampleIndex: 0, channels: 2, format: format,
                                                      samples: samples, hostArrivalNs: 0))
        // Rounding to integers moves the RMS by far less than 1e-4 relative.
        #expect(abs(levels.rms[0] / (amp / 2.squareRoot()) - 1) < 1e-4)
        #expect(abs(levels.peak[0] / amp - 1) < 1e-4)
        #expect(abs(levels.rms[1] - amp / 4) <= 1e-6 * amp && abs(levels.peak[1] - amp / 4) <= 1e-6 * amp)
    }
}
