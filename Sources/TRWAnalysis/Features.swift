import Foundation
import TRWCodec
import TRWCore
import TRWStore

/// Options of the per-tick feature table shared by `export`, `replay`,
/// `predict` and the annotation suggestions.
public struct FeatureOptions: Sendable, Equatable {
    /// Ticks per second (1 Hz default; 10 Hz also usual).
    public var rateHz: Double = 1
    /// IR hotspot area is the fraction of pixels at or above each threshold.
    public var irAreaThresholdsC: [Double] = [60, 100, 150]
    /// AE STFT: window length (power of two) and the band edges, Hz.
    public var fftSize: Int = 1024
    public var aeBandEdgesHz: [Double] = [20_000, 30_000, 40_000, 50_000, 60_000, 70_000, 80_000, 90_000, 100_000]
    /// AE STFT tensor: the tick's mean Hann-windowed power spectrum in this many
    /// equal bins from 0 Hz to Nyquist, log10 (0: not computed).
    public var aeSpectrumBins: Int = 0
    /// Session-time range to cover, s (nil: the whole session).
    public var fromS: Double?
    public var toS: Double?
    /// false: only what is stored per sample (BMS, frame statistics, AE hits): no frame or
    /// PCM decoding, so hours of full-rate data take seconds. Pixel- and PCM-derived
    /// features (gradient, areas, RMS, bands) are then NaN.
    public var decodePayloads = true
    public init() {}
}

/// Per-tick features, aligned on the session time base. Tick k covers
/// (start + k/R, start + (k+1)/R]; its values use only data up to the tick's
/// end (causal: a replayed detector never sees the future). Slow signals are
/// sample-and-hold (NaN before their first sample).
public struct FeatureTable: Sendable {
    public var names: [String]
    public var tickTimesS: [Double]
    /// Row-major [ticks x names].
    public var values: [Float]
    /// Row-major [ticks x aeSpectrumBins] log10 mean power (empty when not asked; NaN without AE).
    public var aeSpectrum: [Float] = []
    /// Frames and audio chunks whose payload was damaged (checksum mismatch or undecodable):
    /// skipped, their pixel/PCM features NaN for the ticks they would have fed.
    public var damaged = DamageTally()
    /// Which serial stream the BMS fields came from.
    public var serialRoles = SerialRoles(cell: nil, ambient: nil, note: nil)
    public var count: Int { tickTimesS.count }
    public func row(_ k: Int) -> ArraySlice<Float> { values[(k * names.count)..<((k + 1) * names.count)] }
    public func column(_ name: String) -> [Float]? {
        guard let j = names.firstIndex(of: name) else { return nil }
        return (0..<count).map { values[$0 * names.count + j] }
    }
}

/// Which serial (`bms`) stream each per-tick BMS field comes from (docs/annotation.md "Roles"),
/// one rule for export, replay, predict, score, suggestions and the live tap:
///
/// * the cell's fields (`voltage_v`, `current_a`, `cell_temp_c`, `soc`) come from the stream
///   with role `cell_bms`; `ambient_c` from the stream with role `ambient`, else the cell's;
/// * without a `cell_bms` role (files from before roles, rigs that name none): the only
///   serial stream without a role is the cell's BMS; with several, the first one in the rig
///   (lowest stream id) is, and `note` says so; streams with another role (supply, logger,
///   ambient, other) are never the cell's;
/// * each field is sample-and-hold over its own stream: the latest value that stream gave for
///   that field (a line without a temperature does not blank the temperature). Fields never
///   alternate between instruments.
public struct SerialRoles: Sendable, Equatable {
    /// Stream key of the cell's BMS (nil: no stream qualifies; the cell fields are NaN).
    public var cell: String?
    /// Stream key `ambient_c` comes from.
    public var ambient: String?
    /// How the cell stream was chosen when not by role (nil: by role, or the only serial stream).
    public var note: String?

    public init(cell: String?, ambient: String?, note: String?) {
        self.cell = cell
        self.ambient = ambient
        self.note = note
    }

    /// `streams`: the serial streams in rig order (stream id), with their stored roles.
    public static func resolve(_ streams: [(key: String, role: InstrumentRole?)]) -> SerialRoles {
        let ambient = streams.first { $0.role == .ambient }?.key
        if let c = streams.first(where: { $0.role == .cellBMS }) {
            return SerialRoles(cell: c.key, ambient: ambient ?? c.key, note: nil)
        }
        let unnamed = streams.filter { $0.role == nil }
        guard let first = unnamed.first else {
            let note = streams.isEmpty ? nil
                : "no serial stream has role cell_bms (\(streams.map { "\($0.key): \($0.role?.rawValue ?? "none")" }.joined(separator: ", "))): cell voltage, current and temperature features are empty"
            return SerialRoles(cell: nil, ambient: ambient, note: note)
        }
        let note = unnamed.count > 1
            ? "\(unnamed.count) serial streams without a role (\(unnamed.map(\.key).joined(separator: ", "))): \(first.key), the first in the rig, is taken as the cell's BMS; name roles in the rig file (role = \"cell_bms\", \"supply\", ...)"
            : nil
        return SerialRoles(cell: first.key, ambient: ambient ?? first.key, note: note)
    }

    /// The roles of a session's serial streams.
    public static func resolve(_ r: SessionReader) throws -> SerialRoles {
        resolve(try r.streams(kind: .bms).map { ($0.key, $0.instrumentRole) })
    }
}

public enum FeatureExtractionError: Error, CustomStringConvertible {
    case emptySession(String)
    case badOption(String)
    public var description: String {
        switch self {
        case .emptySession(let p): "\(p) holds no samples to compute features from"
        case .badOption(let m): m
        }
    }
}

public enum FeatureExtractor {
    public static func names(_ o: FeatureOptions) -> [String] {
        var n = ["voltage_v", "current_a", "dv_v", "cell_temp_c", "dt_c", "ambient_c", "soc",
                 "ir_max_c", "ir_mean_c", "ir_dmax_c", "ir_max_gradient_c_per_px"]
        n += o.irAreaThresholdsC.map { "ir_area_ge_\(Int($0))c" }
        n += ["ae_hit_rate_hz", "ae_energy_v2s", "ae_max_amplitude_db", "ae_rms_fs"]
        for i in 0..<max(0, o.aeBandEdgesHz.count - 1) {
            n.append("ae_band_\(Int(o.aeBandEdgesHz[i] / 1000))_\(Int(o.aeBandEdgesHz[i + 1] / 1000))khz_log10")
        }
        return n
    }

    /// Computes the table for one session. Memory: the BMS rows, frame
    /// statistics and hits (small), one decoded frame and one audio chunk at a time.
    public static func extract(_ r: SessionReader, options o: FeatureOptions = FeatureOptions(),
                               progress: ((Double) -> Void)? = nil) throws -> FeatureTable {
        guard o.rateHz > 0, o.rateHz <= 1000 else { throw FeatureExtractionError.badOption("feature rate must be in (0, 1000] Hz, got \(o.rateHz)") }
        let names = names(o)
        let sess = try r.session()
        let roles = try SerialRoles.resolve(r)
        let bmsStreams = try r.streams(kind: .bms)
        func samples(_ key: String?) throws -> [BMSSampleRecord] {
            guard let key, let id = bmsStreams.first(where: { $0.key == key })?.id else { return [] }
            return try r.bmsSamples(streamId: id)
        }
        let bms = try samples(roles.cell)
        let amb = roles.ambient == roles.cell ? bms : try samples(roles.ambient)
        let lastBMS = try bmsStreams.compactMap { try r.bmsSamples(streamId: $0.id!).last?.tNs }.max()
        let thermal = try r.streams(kind: .thermal).first
        let frames = try thermal.map { try r.frameSummaries(streamId: $0.id!) } ?? []
        let ae = try r.streams(kind: .ae).first
        let hits = try ae.map { try r.aeHits(streamId: $0.id!) } ?? []
        let lastData = max(lastBMS ?? 0, frames.last?.tNs ?? 0, hits.last?.tNs ?? 0)
        let endNs = o.toS.map { Int64($0 * 1e9) } ?? (sess.endTNs.map { max($0, lastData) } ?? lastData)
        let startNs = o.fromS.map { Int64($0 * 1e9) } ?? 0
        let periodNs = 1e9 / o.rateHz
        let ticks = Int((Double(endNs - startNs) / periodNs).rounded(.down))
        guard ticks > 0 else { throw FeatureExtractionError.emptySession(r.path) }
        func tickEnd(_ k: Int) -> Int64 { startNs + Int64((Double(k + 1) * periodNs).rounded()) }

        // Pass 1: audio, streamed chunk by chunk: RMS and STFT band power per tick.
        let nb = max(0, o.aeBandEdgesHz.count - 1)
        var bandPower = [Double](repeating: 0, count: ticks * nb)
        var bandFrames = [Int](repeating: 0, count: ticks)
        var rmsSum = [Double](repeating: 0, count: ticks), rmsN = [Int](repeating: 0, count: ticks)
        let sb = o.aeSpectrumBins
        var damaged = DamageTally()
        var spec = [Double](repeating: 0, count: ticks * sb)
        if o.decodePayloads, let ae, let fmt = SampleFormat(rawValue: ae.sampleFormat ?? "") {
            let fft = FFT(size: o.fftSize)
            let rate = ae.nominalRateHz
            let ch = ae.channels ?? 1
            let binHz = rate / Double(o.fftSize)
            let bandOfBin: [Int] = (0...(o.fftSize / 2)).map { k in
                let f = Double(k) * binHz
                return o.aeBandEdgesHz.indices.dropLast().first { f >= o.aeBandEdgesHz[$0] && f < o.aeBandEdgesHz[$0 + 1] } ?? -1
            }
            let dec = try PCMDecoder()
            var carry: [Double] = []  // channel-averaged samples not yet in a full window
            var carryT0: Int64 = 0
            let samplePeriodNs = 1e9 / rate
            try r.forEachAudioChunk(streamId: ae.id!) { c in
                if c.tNs > endNs { return }
                let k = Int(Double(c.tNs - startNs) / periodNs)
                if k >= 0 && k < ticks { rmsSum[k] += c.rms * c.rms; rmsN[k] += 1 }
                let s: [Int32]
                do throws(DamagedPayload) { s = try r.samples(of: c, stream: ae, decoder: dec) } catch {
                    // Skip the damaged chunk; never splice windows across it.
                    damaged.record(error)
                    carry.removeAll()
                    return
                }
                if carry.isEmpty { carryT0 = c.tNs }
                let scale = 1 / fmt.fullScale / Double(ch)
                for i in 0..<c.frameCount {
                    var v = 0.0
                    for j in 0..<ch {
                        let x = s[i * ch + j]
                        v += fmt == .floatle ? Double(Float(bitPattern: UInt32(bitPattern: x))) * fmt.fullScale : Double(x)
                    }
                    carry.append(v * scale)
                }
                var off = 0
                while carry.count - off >= o.fftSize {
                    let t = carryT0 + Int64(Double(off + o.fftSize) * samplePeriodNs)  // window end
                    let kk = Int(Double(t - startNs - 1) / periodNs)
                    if kk >= 0 && kk < ticks {
                        let p = fft.powerSpectrum(carry[off..<(off + o.fftSize)])
                        for (bin, b) in bandOfBin.enumerated() where b >= 0 { bandPower[kk * nb + b] += p[bin] }
                        if sb > 0 {
                            for bin in 0..<(o.fftSize / 2) { spec[kk * sb + bin * sb / (o.fftSize / 2)] += p[bin] }
                        }
                        bandFrames[kk] += 1
                    }
                    off += o.fftSize
                }
                carry.removeFirst(off)
                carryT0 += Int64(Double(off) * samplePeriodNs)
            }
        }

        // Pass 2: ticks.
        let cal = thermal?.calibration
        let fdec = try FrameDecoder()
        var values = [Float](repeating: .nan, count: ticks * names.count)
        var ib = 0, ia = 0, iff = 0, ih = 0
        // Sample-and-hold per field over its role's stream.
        var v = Double.nan, i = Double.nan, tc = Double.nan, soc = Double.nan, ambient = Double.nan
        var prevV = Double.nan, prevT = Double.nan, prevIR = Double.nan
        let nan = Double.nan
        for k in 0..<ticks {
            let te = tickEnd(k), ts = te - Int64(periodNs.rounded())
            while ib < bms.count && bms[ib].tNs <= te {
                let b = bms[ib]
                if let x = b.voltageV { v = x }
                if let x = b.currentA { i = x }
                if let x = b.cellTempC { tc = x }
                if let x = b.soc { soc = x }
                if roles.ambient == roles.cell, let x = b.ambientC { ambient = x }
                ib += 1
            }
            if roles.ambient != roles.cell {
                while ia < amb.count && amb[ia].tNs <= te {
                    if let x = amb[ia].ambientC { ambient = x }
                    ia += 1
                }
            }
            while iff < frames.count && frames[iff].tNs <= te { iff += 1 }
            var hitCount = 0, energy = 0.0, maxAmp = -Double.infinity
            while ih < hits.count && hits[ih].tNs <= te {
                if hits[ih].tNs > ts { hitCount += 1; energy += hits[ih].energyV2s; maxAmp = max(maxAmp, hits[ih].amplitudeDb) }
                ih += 1
            }
            var row = [Double](repeating: nan, count: names.count)
            row[0] = v; row[1] = i; row[2] = abs(v - prevV); row[3] = tc; row[4] = abs(tc - prevT)
            row[5] = ambient; row[6] = soc
            prevV = v; prevT = tc
            var j = 7
            if let cal, iff > 0 {
                let f = frames[iff - 1]
                let irMax = cal.celsius(UInt16(clamping: f.maxCounts))
                row[j] = irMax; row[j + 1] = cal.kelvin(0) - 273.15 + f.meanCounts * cal.kelvinPerCount
                row[j + 2] = abs(irMax - prevIR)
                prevIR = irMax
                // Area and gradient need the pixels: decode the tick's frame only.
                if o.decodePayloads, let rec = try r.frame(streamId: thermal!.id!, nearest: f.tNs), let w = thermal!.width, let h = thermal!.height,
                   let px = { () -> [UInt16]? in
                       do throws(DamagedPayload) { return try r.pixels(of: rec, stream: thermal!, decoder: fdec) } catch { damaged.record(error); return nil }
                   }() {
                    var maxG: UInt16 = 0
                    for y in 0..<h {
                        for x in 0..<w {
                            let p = px[y * w + x]
                            if x + 1 < w { let q = px[y * w + x + 1]; maxG = max(maxG, p > q ? p - q : q - p) }
                            if y + 1 < h { let q = px[(y + 1) * w + x]; maxG = max(maxG, p > q ? p - q : q - p) }
                        }
                    }
                    row[j + 3] = Double(maxG) * cal.kelvinPerCount
                    for (a, thr) in o.irAreaThresholdsC.enumerated() {
                        let c = cal.counts(celsius: thr)
                        var n = 0
                        for p in px where p >= c { n += 1 }
                        row[j + 4 + a] = Double(n) / Double(px.count)
                    }
                }
            }
            j = 11 + o.irAreaThresholdsC.count
            if ae != nil {
                row[j] = Double(hitCount) * o.rateHz
                row[j + 1] = energy
                row[j + 2] = hitCount > 0 ? maxAmp : nan
                row[j + 3] = rmsN[k] > 0 ? (rmsSum[k] / Double(rmsN[k])).squareRoot() : nan
                for bnd in 0..<nb where bandFrames[k] > 0 && o.aeBandEdgesHz[bnd] < (ae?.nominalRateHz ?? 0) / 2 {
                    row[j + 4 + bnd] = log10(bandPower[k * nb + bnd] / Double(bandFrames[k]) + 1e-30)
                }
            }
            for (c, x) in row.enumerated() { values[k * names.count + c] = Float(x) }
            if let progress, k % 500 == 0 { progress(Double(k) / Double(ticks)) }
        }
        progress?(1)
        var table = FeatureTable(names: names, tickTimesS: (0..<ticks).map { Double(tickEnd($0)) / 1e9 }, values: values)
        table.damaged = damaged
        table.serialRoles = roles
        if sb > 0 {
            let perBin = Double(o.fftSize / 2) / Double(sb)
            table.aeSpectrum = (0..<(ticks * sb)).map { i in
                let k = i / sb
                return bandFrames[k] > 0 ? Float(log10(spec[i] / Double(bandFrames[k]) / perBin + 1e-30)) : .nan
            }
        }
        return table
    }
}
