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
        let thermal = try r.streams(kind: .thermal).first
        let ae = try r.streams(kind: .ae).first
        let startNs = o.fromS.map { Int64($0 * 1e9) } ?? 0
        // A window with both ends given (the field exports' --from/--to) reads only the rows it
        // needs: those inside it, and before it only what the accumulator carries in (the latest
        // value of each held BMS field, the latest frame, one FFT window of audio).
        let window: ClosedRange<Int64>? = o.toS.flatMap { to in startNs > 0 ? startNs...Int64(to * 1e9) : nil }
        func samples(_ key: String?, holds: [SessionReader.BMSHoldColumn]) throws -> [BMSSampleRecord] {
            guard let key, let id = bmsStreams.first(where: { $0.key == key })?.id else { return [] }
            guard let w = window else { return try r.bmsSamples(streamId: id) }
            var before: [Int64: BMSSampleRecord] = [:]
            for c in holds { if let b = try r.lastBMSSample(streamId: id, atOrBefore: w.lowerBound, nonNull: c) { before[b.id ?? b.tNs] = b } }
            return before.values.sorted { ($0.tNs, $0.id ?? 0) < ($1.tNs, $1.id ?? 0) }
                + (try r.bmsSamples(streamId: id, range: (w.lowerBound + 1)..<(w.upperBound + 1)))
        }
        let bms = try samples(roles.cell, holds: SessionReader.BMSHoldColumn.allCases)
        let amb = roles.ambient == roles.cell ? bms : try samples(roles.ambient, holds: [.ambientC])
        let frames: [ThermalFrameSummary] = try thermal.map { st -> [ThermalFrameSummary] in
            guard let w = window else { return try r.frameSummaries(streamId: st.id!) }
            let from = try r.lastRowTime(.thermal, streamId: st.id!, atOrBefore: w.lowerBound) ?? w.lowerBound
            return try r.frameSummaries(streamId: st.id!, range: from..<(w.upperBound + 1))
        } ?? []
        let hits = try ae.map { try r.aeHits(streamId: $0.id!, range: window.map { ($0.lowerBound + 1)..<($0.upperBound + 1) }) } ?? []
        let endNs: Int64
        if let w = window { endNs = w.upperBound } else {
            let lastBMS = try bmsStreams.compactMap { try r.bmsSamples(streamId: $0.id!).last?.tNs }.max()
            let lastData = max(lastBMS ?? 0, frames.last?.tNs ?? 0, hits.last?.tNs ?? 0)
            endNs = o.toS.map { Int64($0 * 1e9) } ?? (sess.endTNs.map { max($0, lastData) } ?? lastData)
        }
        let periodNs = 1e9 / o.rateHz
        let ticks = Int((Double(endNs - startNs) / periodNs).rounded(.down))
        guard ticks > 0 else { throw FeatureExtractionError.emptySession(r.path) }
        var acc = TickFeatureAccumulator(options: o, layout: TickLayout(
            startNs: startNs, irCalibration: thermal?.calibration, irWidth: thermal?.width, irHeight: thermal?.height,
            aeRateHz: ae?.nominalRateHz, aeChannels: ae?.channels ?? 1, aeFormat: ae.flatMap { SampleFormat(rawValue: $0.sampleFormat ?? "") }))
        var damaged = DamageTally()
        // Each stream is fed in its own time order (the accumulator takes streams in any
        // order); everything up to the last tick's end, then the ticks are closed.
        let lastEnd = acc.tickEnd(ticks - 1)
        for b in bms where b.tNs <= lastEnd {
            acc.cell(tNs: b.tNs, .init(voltageV: b.voltageV, currentA: b.currentA, cellTempC: b.cellTempC, soc: b.soc))
            if roles.ambient == roles.cell, let x = b.ambientC { acc.ambient(tNs: b.tNs, celsius: x) }
        }
        if roles.ambient != roles.cell {
            for b in amb where b.tNs <= lastEnd { if let x = b.ambientC { acc.ambient(tNs: b.tNs, celsius: x) } }
        }
        for h in hits where h.tNs <= lastEnd { acc.hit(tNs: h.tNs, energyV2s: h.energyV2s, amplitudeDb: h.amplitudeDb) }
        if let thermal, let sid = thermal.id {
            let fdec = try FrameDecoder()
            for f in frames where f.tNs <= lastEnd {
                // Pixels are decoded only for the frame a tick ends on (the accumulator asks).
                acc.frame(tNs: f.tNs, .init(maxCounts: UInt16(clamping: f.maxCounts), meanCounts: f.meanCounts) {
                    guard let rec = try? r.frame(streamId: sid, nearest: f.tNs) else { return nil }
                    do throws(DamagedPayload) { return try r.pixels(of: rec, stream: thermal, decoder: fdec) } catch {
                        damaged.record(error)
                        return nil
                    }
                })
            }
        }
        // Audio, streamed chunk by chunk: RMS, and STFT windows when payloads are decoded.
        if let ae, let sid = ae.id {
            let fmt = SampleFormat(rawValue: ae.sampleFormat ?? "")
            var windowing = fmt.map { AEWindowing(fftSize: o.fftSize, rateHz: ae.nominalRateHz, channels: ae.channels ?? 1, format: $0) }
            let dec = try PCMDecoder()
            // A window reads audio from the last chunk that begins one FFT length before it, and
            // skips to the STFT window grid a read from the run's start has (windows every fftSize
            // samples from the start of the chunk run, restarting at holes), so its band powers are
            // the same (unless a damaged chunk, which also restarts the grid, lies before the window).
            let chunks: Range<Int64>? = try window.map { w in
                let lead = Int64(Double(o.fftSize) / max(ae.nominalRateHz, 1) * 1e9)
                return (try r.lastRowTime(.ae, streamId: sid, atOrBefore: w.lowerBound - lead) ?? Int64.min)..<(lastEnd + 1)
            }
            var skip: Int64 = 0
            if let from = chunks?.lowerBound, let run = try r.audioRun(streamId: sid, fromTNs: from) {
                let size = Int64(max(1, o.fftSize))
                skip = (size - (run.firstSampleIndex - run.runStart) % size) % size
            }
            let channels = max(1, ae.channels ?? 1), periodNs = 1e9 / max(ae.nominalRateHz, 1)
            try r.forEachAudioChunk(streamId: sid, range: chunks) { c in
                if c.tNs > lastEnd { return }
                acc.chunk(tNs: c.tNs, rms: c.rms)
                guard o.decodePayloads, windowing != nil else { return }
                if skip >= Int64(c.frameCount) {
                    skip -= Int64(c.frameCount)
                    return
                }
                var s: [Int32]
                do throws(DamagedPayload) { s = try r.samples(of: c, stream: ae, decoder: dec) } catch {
                    // Skip the damaged chunk; never splice windows across it.
                    damaged.record(error)
                    windowing!.restart()
                    return
                }
                var t = c.tNs, first = c.firstSampleIndex, frames = c.frameCount
                if skip > 0 {
                    s.removeFirst(min(s.count, Int(skip) * channels))
                    t += Int64(Double(skip) * periodNs)
                    first += skip
                    frames -= Int(skip)
                    skip = 0
                }
                windowing!.add(tNs: t, firstSampleIndex: first, samples: s, frameCount: frames) { acc.window(endTNs: $0, power: $1) }
            }
        }
        var values = [Float](repeating: .nan, count: ticks * names.count)
        var spectrum: [Float] = []
        var times: [Double] = []
        times.reserveCapacity(ticks)
        for k in 0..<ticks {
            let (end, row, spec) = acc.close()
            times.append(Double(end) / 1e9)
            for (c, x) in row.enumerated() { values[k * names.count + c] = Float(x) }
            spectrum += spec.map(Float.init)
            if let progress, k % 500 == 0 { progress(Double(k) / Double(ticks)) }
        }
        progress?(1)
        var table = FeatureTable(names: names, tickTimesS: times, values: values)
        table.damaged = damaged
        table.serialRoles = roles
        table.aeSpectrum = spectrum
        return table
    }
}
