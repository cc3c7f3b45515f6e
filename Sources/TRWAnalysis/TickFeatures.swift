import Foundation
import TRWCore

/// The streams a per-tick feature table is computed from, as far as the features need them.
public struct TickLayout: Sendable, Equatable {
    /// Session time of tick 0's start, ns (tick k covers (start + k/R, start + (k+1)/R]).
    public var startNs: Int64
    /// The thermal stream's calibration and frame size (nil: no IR features).
    public var irCalibration: ThermalCalibration?
    public var irWidth: Int?
    public var irHeight: Int?
    /// The AE stream's nominal rate, channels and format (rate nil: no AE stream, AE features NaN).
    public var aeRateHz: Double?
    public var aeChannels: Int
    public var aeFormat: SampleFormat?

    public init(startNs: Int64 = 0, irCalibration: ThermalCalibration? = nil, irWidth: Int? = nil, irHeight: Int? = nil,
                aeRateHz: Double? = nil, aeChannels: Int = 1, aeFormat: SampleFormat? = nil) {
        self.startNs = startNs
        self.irCalibration = irCalibration
        self.irWidth = irWidth
        self.irHeight = irHeight
        self.aeRateHz = aeRateHz
        self.aeChannels = aeChannels
        self.aeFormat = aeFormat
    }
}

/// The one per-tick feature pipeline (export, replay, predict, score, suggestions and the
/// live tap): samples in, ticks out, no store. Samples of different streams may come in
/// any order; each stream's own samples come in time order. A sample at session time t
/// belongs to the tick whose interval (start + k/R, start + (k+1)/R] holds it; a tick is
/// closed by `close()` once every sample up to its end has been added (offline: all of
/// them; live: when every stream has delivered past the tick's end, see `LiveTap`).
///
/// Slow signals (BMS fields, IR frame values) are sample-and-hold: NaN before the
/// stream's first sample. Counted signals (AE hits, chunk RMS, STFT windows) use only
/// the tick's own interval; samples at or before the start feed the holds only.
public struct TickFeatureAccumulator: @unchecked Sendable {
    public let options: FeatureOptions
    public let layout: TickLayout
    public let names: [String]
    /// The next tick `close()` ends.
    public private(set) var nextTick = 0
    /// Samples that came after their tick was closed (live only): folded into the next tick.
    public private(set) var lateSamples = 0

    private let periodNs: Double
    private let bands: Int
    private let bandOfBin: [Int]
    private var open: [Int: Partial] = [:]
    // Holds (the latest value up to the last closed tick's end).
    private var v = Double.nan, i = Double.nan, tc = Double.nan, soc = Double.nan, ambient = Double.nan
    private var irMax = Double.nan, irMean = Double.nan, irGradient = Double.nan
    private var irAreas: [Double]
    private var prevV = Double.nan, prevT = Double.nan, prevIR = Double.nan

    /// One IR frame: its statistics, and its pixels on demand (decoded only for the
    /// last frame of a tick; nil when they cannot be had, e.g. a damaged payload).
    public struct Frame {
        public var maxCounts: UInt16
        public var meanCounts: Double
        public var pixels: (() -> [UInt16]?)?
        public init(maxCounts: UInt16, meanCounts: Double, pixels: (() -> [UInt16]?)? = nil) {
            self.maxCounts = maxCounts
            self.meanCounts = meanCounts
            self.pixels = pixels
        }
    }

    /// The cell's BMS fields of one sample (nil: not in this sample).
    public struct CellSample: Sendable {
        public var voltageV: Double?, currentA: Double?, cellTempC: Double?, soc: Double?
        public init(voltageV: Double? = nil, currentA: Double? = nil, cellTempC: Double? = nil, soc: Double? = nil) {
            self.voltageV = voltageV; self.currentA = currentA; self.cellTempC = cellTempC; self.soc = soc
        }
    }

    private struct Partial {
        var v: Double?, i: Double?, tc: Double?, soc: Double?, ambient: Double?
        var frame: Frame?
        var hits = 0, energy = 0.0, maxAmp = -Double.infinity
        var rmsSum = 0.0, rmsN = 0
        var bandPower: [Double] = [], windows = 0
        var spectrum: [Double] = []
    }

    public init(options: FeatureOptions, layout: TickLayout) {
        self.options = options
        self.layout = layout
        names = FeatureExtractor.names(options)
        periodNs = 1e9 / options.rateHz
        bands = max(0, options.aeBandEdgesHz.count - 1)
        irAreas = Array(repeating: .nan, count: options.irAreaThresholdsC.count)
        if let rate = layout.aeRateHz {
            let binHz = rate / Double(options.fftSize)
            let edges = options.aeBandEdgesHz
            bandOfBin = (0...(options.fftSize / 2)).map { k in
                let f = Double(k) * binHz
                return edges.indices.dropLast().first { f >= edges[$0] && f < edges[$0 + 1] } ?? -1
            }
        } else {
            bandOfBin = []
        }
    }

    /// End of tick k, ns of session time.
    public func tickEnd(_ k: Int) -> Int64 { layout.startNs + Int64((Double(k + 1) * periodNs).rounded()) }

    /// The tick a sample at `tNs` belongs to, and whether it counts in the tick's interval
    /// (false at or before the start: it only sets the holds).
    private mutating func slot(_ tNs: Int64) -> (k: Int, counts: Bool) {
        guard tNs > layout.startNs else { return (nextTick, false) }
        var k = max(0, Int((Double(tNs - layout.startNs) / periodNs).rounded(.up)) - 1)
        while k > 0 && tNs <= tickEnd(k - 1) { k -= 1 }
        while tNs > tickEnd(k) { k += 1 }
        if k < nextTick {
            lateSamples += 1
            return (nextTick, true)
        }
        return (k, true)
    }

    private mutating func update(_ k: Int, _ body: (inout Partial) -> Void) {
        body(&open[k, default: Partial()])
    }

    /// A sample of the cell's BMS (role `cell_bms`, see `SerialRoles`).
    public mutating func cell(tNs: Int64, _ s: CellSample) {
        let (k, _) = slot(tNs)
        update(k) { p in
            if let x = s.voltageV { p.v = x }
            if let x = s.currentA { p.i = x }
            if let x = s.cellTempC { p.tc = x }
            if let x = s.soc { p.soc = x }
        }
    }

    /// An ambient temperature (from the `ambient` role's stream, else the cell's).
    public mutating func ambient(tNs: Int64, celsius: Double) {
        let (k, _) = slot(tNs)
        update(k) { $0.ambient = celsius }
    }

    /// An IR frame of the session's thermal stream.
    public mutating func frame(tNs: Int64, _ f: Frame) {
        let (k, _) = slot(tNs)
        update(k) { $0.frame = f }
    }

    /// An AE hit (at its first threshold crossing).
    public mutating func hit(tNs: Int64, energyV2s: Double, amplitudeDb: Double) {
        let (k, counts) = slot(tNs)
        guard counts else { return }
        update(k) { p in
            p.hits += 1; p.energy += energyV2s; p.maxAmp = max(p.maxAmp, amplitudeDb)
        }
    }

    /// An AE chunk's RMS (fraction of full scale, all channels).
    public mutating func chunk(tNs: Int64, rms: Double) {
        let (k, counts) = slot(tNs)
        guard counts else { return }
        update(k) { p in p.rmsSum += rms * rms; p.rmsN += 1 }
    }

    /// One STFT window's power spectrum (`AEWindowing`), at the window's end.
    public mutating func window(endTNs: Int64, power p: [Double]) {
        let (k, counts) = slot(endTNs)
        guard counts else { return }
        let nb = bands, sb = options.aeSpectrumBins, half = options.fftSize / 2
        let map = bandOfBin
        update(k) { q in
            if q.bandPower.isEmpty { q.bandPower = Array(repeating: 0, count: nb) }
            for (bin, b) in map.enumerated() where b >= 0 { q.bandPower[b] += p[bin] }
            if sb > 0 {
                if q.spectrum.isEmpty { q.spectrum = Array(repeating: 0, count: sb) }
                for bin in 0..<half { q.spectrum[bin * sb / half] += p[bin] }
            }
            q.windows += 1
        }
    }

    /// Ends tick `nextTick`: its feature row (in `names` order) and, when
    /// `options.aeSpectrumBins` > 0, its log10 mean spectrum.
    public mutating func close() -> (endNs: Int64, row: [Double], spectrum: [Double]) {
        let k = nextTick
        let p = open.removeValue(forKey: k) ?? Partial()
        nextTick += 1
        if let x = p.v { v = x }
        if let x = p.i { i = x }
        if let x = p.tc { tc = x }
        if let x = p.soc { soc = x }
        if let x = p.ambient { ambient = x }
        let nan = Double.nan
        var row = [Double](repeating: nan, count: names.count)
        row[0] = v; row[1] = i; row[2] = abs(v - prevV); row[3] = tc; row[4] = abs(tc - prevT)
        row[5] = ambient; row[6] = soc
        prevV = v; prevT = tc
        if let cal = layout.irCalibration {
            if let f = p.frame {
                irMax = cal.celsius(f.maxCounts)
                irMean = cal.kelvin(0) - 273.15 + f.meanCounts * cal.kelvinPerCount
                (irGradient, irAreas) = pixelFeatures(f, cal)
            }
            if !irMax.isNaN {
                row[7] = irMax; row[8] = irMean; row[9] = abs(irMax - prevIR)
                prevIR = irMax
                row[10] = irGradient
                for a in irAreas.indices { row[11 + a] = irAreas[a] }
            }
        }
        let j = 11 + options.irAreaThresholdsC.count
        var spectrum: [Double] = []
        if let rate = layout.aeRateHz {
            row[j] = Double(p.hits) * options.rateHz
            row[j + 1] = p.energy
            row[j + 2] = p.hits > 0 ? p.maxAmp : nan
            row[j + 3] = p.rmsN > 0 ? (p.rmsSum / Double(p.rmsN)).squareRoot() : nan
            for b in 0..<bands where p.windows > 0 && options.aeBandEdgesHz[b] < rate / 2 {
                row[j + 4 + b] = log10(p.bandPower[b] / Double(p.windows) + 1e-30)
            }
            let sb = options.aeSpectrumBins
            if sb > 0 {
                let perBin = Double(options.fftSize / 2) / Double(sb)
                spectrum = (0..<sb).map { p.windows > 0 ? log10(p.spectrum[$0] / Double(p.windows) / perBin + 1e-30) : nan }
            }
        } else if options.aeSpectrumBins > 0 {
            spectrum = Array(repeating: nan, count: options.aeSpectrumBins)
        }
        return (tickEnd(k), row, spectrum)
    }

    /// Largest neighbour difference (K) and the fraction of pixels at or above each area
    /// threshold, from the frame's pixels (NaN without them or without decoding).
    private func pixelFeatures(_ f: Frame, _ cal: ThermalCalibration) -> (Double, [Double]) {
        let none = (Double.nan, [Double](repeating: .nan, count: options.irAreaThresholdsC.count))
        guard options.decodePayloads, let w = layout.irWidth, let h = layout.irHeight, let px = f.pixels?(),
              px.count == w * h, !px.isEmpty else { return none }
        var maxG: UInt16 = 0
        for y in 0..<h {
            for x in 0..<w {
                let p = px[y * w + x]
                if x + 1 < w { let q = px[y * w + x + 1]; maxG = max(maxG, p > q ? p - q : q - p) }
                if y + 1 < h { let q = px[(y + 1) * w + x]; maxG = max(maxG, p > q ? p - q : q - p) }
            }
        }
        let areas = options.irAreaThresholdsC.map { thr -> Double in
            let c = cal.counts(celsius: thr)
            var n = 0
            for p in px where p >= c { n += 1 }
            return Double(n) / Double(px.count)
        }
        return (Double(maxG) * cal.kelvinPerCount, areas)
    }
}

/// Cuts an AE stream's PCM into consecutive Hann-windowed STFT windows (channels
/// averaged) across chunk boundaries, for `TickFeatureAccumulator.window`. A damaged
/// chunk (`restart()`) or a hole in the sample indices (lost chunks) restarts the
/// windowing: windows never span a hole, and their times never drift from the chunks'.
public struct AEWindowing: @unchecked Sendable {
    private let fft: FFT
    private let size: Int
    private let channels: Int
    private let format: SampleFormat
    private let samplePeriodNs: Double
    private var carry: [Double] = []
    private var carryT0: Int64 = 0
    private var nextIndex: Int64?

    public init(fftSize: Int, rateHz: Double, channels: Int, format: SampleFormat) {
        fft = FFT(size: fftSize)
        size = fftSize
        self.channels = max(1, channels)
        self.format = format
        samplePeriodNs = 1e9 / rateHz
    }

    public mutating func restart() {
        carry.removeAll()
        nextIndex = nil
    }

    /// Adds a chunk's interleaved samples (`tNs`: the chunk's session time, `firstSampleIndex`:
    /// its first sample's index in the stream) and calls `window` with each completed
    /// window's end time and power spectrum.
    public mutating func add(tNs: Int64, firstSampleIndex: Int64, samples s: [Int32], frameCount: Int,
                             window: (Int64, [Double]) -> Void) {
        addSamples(tNs: tNs, firstSampleIndex: firstSampleIndex, samples: s, frameCount: frameCount, window: window)
    }

    /// The same for samples in their capture width (S16 as `Int16`, as the recorder hands them on).
    public mutating func add(tNs: Int64, firstSampleIndex: Int64, samples: PCMSamples, frameCount: Int,
                             window: (Int64, [Double]) -> Void) {
        switch samples {
        case .int16(let s): addSamples(tNs: tNs, firstSampleIndex: firstSampleIndex, samples: s, frameCount: frameCount, window: window)
        case .int32(let s): addSamples(tNs: tNs, firstSampleIndex: firstSampleIndex, samples: s, frameCount: frameCount, window: window)
        }
    }

    private mutating func addSamples<S: FixedWidthInteger & SignedInteger>(tNs: Int64, firstSampleIndex: Int64, samples s: [S],
                                                                          frameCount: Int, window: (Int64, [Double]) -> Void) {
        if let n = nextIndex, n != firstSampleIndex { carry.removeAll() }
        nextIndex = firstSampleIndex + Int64(frameCount)
        if carry.isEmpty { carryT0 = tNs }
        let ch = channels
        let scale = 1 / format.fullScale / Double(ch)
        let isFloat = format == .floatle
        for i in 0..<min(frameCount, s.count / ch) {
            var v = 0.0
            for j in 0..<ch {
                let x = s[i * ch + j]
                v += isFloat ? Double(Float(bitPattern: UInt32(truncatingIfNeeded: x))) * format.fullScale : Double(x)
            }
            carry.append(v * scale)
        }
        var off = 0
        while carry.count - off >= size {
            window(carryT0 + Int64(Double(off + size) * samplePeriodNs), fft.powerSpectrum(carry[off..<(off + size)]))
            off += size
        }
        carry.removeFirst(off)
        carryT0 += Int64(Double(off) * samplePeriodNs)
    }
}
