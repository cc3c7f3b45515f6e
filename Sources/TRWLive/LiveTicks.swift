import Foundation
import Logging
import TRWAnalysis
import TRWCore
import TRWStore

/// Follows the live ticks of a recording: the live socket (`LiveTap`) and the live
/// detectors (`LiveDetection`). Called on the lanes' threads, in tick order, one at a time.
protocol LiveTickSink: AnyObject, Sendable {
    func tick(k: Int, endNs: Int64, names: [String], row: [Double])
    func hit(_ h: AEHitRecord, stream: String)
    func event(_ json: String)
}

extension LiveTickSink {
    func hit(_ h: AEHitRecord, stream: String) {}
    func event(_ json: String) {}
}

/// The per-tick features of a running recording, from the one feature pipeline
/// (`TickFeatureAccumulator`) fed the same samples the export reads back, so a live tick
/// equals the offline tick of the same time. A tick is closed once every feature stream
/// has delivered past its end (AE hits: once no hit still open could start in it); a
/// stream that has delivered nothing for `stallS` seconds of the host clock stops holding
/// ticks back (a stalled device, a stream decimated by the sensing controls), and its
/// samples that come after their tick was closed go into the next tick and are counted
/// as late (`finish`).
final class LiveTicks: @unchecked Sendable {
    let rateHz: Double
    /// Host seconds a feature stream may deliver nothing before ticks stop waiting for it.
    let stallS: Double
    let names: [String]
    private let sinks: [any LiveTickSink]
    private let lock = NSLock()
    // Guarded by lock.
    private var acc: TickFeatureAccumulator
    private var windowing: AEWindowing?
    private let roles: SerialRoles
    /// The streams the features read (the first thermal and AE streams, as the export does).
    private let thermalKey: String?, aeKey: String?
    /// Per feature stream, the session time up to which it has delivered everything,
    /// and when (host monotonic ns) it last delivered.
    private var watermarks: [String: (tNs: Int64, hostNs: Int64)] = [:]
    private var lastTNs: Int64 = 0
    private var finished = false

    init(rateHz: Double, stallS: Double, streams: [StreamDescriptor], sinks: [any LiveTickSink]) {
        self.rateHz = rateHz
        self.stallS = stallS
        self.sinks = sinks
        var fo = FeatureOptions()
        fo.rateHz = rateHz
        names = FeatureExtractor.names(fo)
        roles = SerialRoles.resolve(streams.filter { $0.kind == .bms }.map { ($0.key, $0.role) })
        let ir = streams.first { $0.kind == .thermal }, ae = streams.first { $0.kind == .ae }
        thermalKey = ir?.key
        aeKey = ae?.key
        acc = TickFeatureAccumulator(options: fo, layout: TickLayout(
            irCalibration: ir?.calibration, irWidth: ir?.width, irHeight: ir?.height,
            aeRateHz: ae?.nominalRateHz, aeChannels: ae?.channels ?? 1, aeFormat: ae?.sampleFormat))
        windowing = ae.flatMap { a in
            a.sampleFormat.map { AEWindowing(fftSize: fo.fftSize, rateHz: a.nominalRateHz, channels: a.channels ?? 1, format: $0) }
        }
        let now = HostClock.monotonicNanoseconds()
        for key in [ir?.key, ae?.key, roles.cell, roles.ambient].compactMap({ $0 }) { watermarks[key] = (.min, now) }
    }

    /// Closes every tick the feature streams have delivered past; at the end (`final`),
    /// every tick that ends by the last session time seen.
    private func closeReadyTicksLocked(final: Bool = false) {
        let stalledBefore = HostClock.monotonicNanoseconds() - Int64(stallS * 1e9)
        let waitingFor = watermarks.values.filter { $0.hostNs >= stalledBefore }.map(\.tNs)
        while true {
            let end = acc.tickEnd(acc.nextTick)
            let ready: Bool
            if final {
                ready = end <= lastTNs
            } else if waitingFor.isEmpty {
                ready = end < lastTNs
            } else {
                ready = waitingFor.allSatisfy { $0 > end }
            }
            guard ready else { return }
            let k = acc.nextTick
            let (_, row, _) = acc.close()
            for s in sinks { s.tick(k: k, endNs: end, names: names, row: row) }
        }
    }

    /// A stream delivered everything up to `tNs`.
    private func advanceLocked(_ stream: String, to tNs: Int64) {
        guard !finished else { return }
        lastTNs = max(lastTNs, tNs)
        if let w = watermarks[stream] { watermarks[stream] = (max(w.tNs, tNs), HostClock.monotonicNanoseconds()) }
        closeReadyTicksLocked()
    }

    /// An IR frame: its statistics, and its pixels for the tick's area and gradient features.
    func frame(tNs: Int64, stream: String, maxCounts: UInt16, meanCounts: Double, pixels: [UInt16]) {
        lock.withLock {
            if stream == thermalKey {
                acc.frame(tNs: tNs, .init(maxCounts: maxCounts, meanCounts: meanCounts) { pixels })
            }
            advanceLocked(stream, to: tNs)
        }
    }

    func bms(tNs: Int64, _ s: BMSSample, stream: String) {
        lock.withLock {
            if stream == roles.cell {
                acc.cell(tNs: tNs, .init(voltageV: s.voltageV, currentA: s.currentA, cellTempC: s.cellTempsC.first, soc: s.soc))
            }
            if stream == roles.ambient, let a = s.ambientC { acc.ambient(tNs: tNs, celsius: a) }
            advanceLocked(stream, to: tNs)
        }
    }

    /// An AE chunk, after its hits: its RMS and samples, and the session time of the first
    /// crossing of a hit still open (nil: none; the hits before it are complete).
    func audio(tNs: Int64, stream: String, rms: Double, firstSampleIndex: Int64, samples: PCMSamples, frameCount: Int,
               openHitTNs: Int64?) {
        lock.withLock {
            if stream == aeKey {
                acc.chunk(tNs: tNs, rms: rms)
                windowing?.add(tNs: tNs, firstSampleIndex: firstSampleIndex, samples: samples, frameCount: frameCount) {
                    acc.window(endTNs: $0, power: $1)
                }
            }
            advanceLocked(stream, to: openHitTNs.map { min(tNs, $0 &- 1) } ?? tNs)
        }
    }

    func hit(_ h: AEHitRecord, stream: String) {
        lock.withLock {
            if stream == aeKey { acc.hit(tNs: h.tNs, energyV2s: h.energyV2s, amplitudeDb: h.amplitudeDb) }
            for s in sinks { s.hit(h, stream: stream) }
        }
    }

    /// A line for the live socket (gap, marker, sensing change).
    func event(_ json: String) {
        lock.withLock { for s in sinks { s.event(json) } }
    }

    /// Closes the ticks that end by `endTNs`; returns the samples that came after their
    /// tick was closed (they went into the next tick).
    func finish(endTNs: Int64) -> Int {
        lock.withLock {
            guard !finished else { return acc.lateSamples }
            lastTNs = max(lastTNs, endTNs)
            closeReadyTicksLocked(final: true)
            finished = true
            return acc.lateSamples
        }
    }
}
