import Foundation
import TRWCore
import TRWStore
import TRWSync

/// `trw resync` and `trw sync-report`: offline re-fit of every stream's
/// clock from the stored raw times, and the synchronisation report.
public enum SessionSync {
    public struct StreamResult: Sendable {
        public var key: String
        public var samples: Int
        public var moved: MoveSummary
        public var newModel: ClockModel
    }

    static func timing(_ st: StreamRecord) -> StreamTiming {
        st.properties["sync.timing"].flatMap { JSONText.decode(StreamTiming.self, $0) } ?? StreamTimingChoice.timing(for: st.descriptor)
    }

    /// Recomputes every `t_ns` of every stream from the stored raw times;
    /// the previous model stays in the clock-model history.
    public static func resync(path: String) throws -> [StreamResult] {
        let r = try SessionReader(path: path)
        let w = try SessionWriter(appendingTo: path)
        let start = try r.session().startMonotonicNs
        var out: [StreamResult] = []
        for st in try r.streams() {
            // An imported file (`trw import`) has no host arrival times to re-fit from: its
            // clock model came from the import (cross-correlation or timestamps) and stays.
            if st.isImported { continue }
            let id = st.id!
            let old = try r.clockModels(streamId: id).last.flatMap { try? ClockModel.fromJSONText($0.modelJson) }
            let gaps = try r.gaps(streamId: id)
            let plan: ResyncPlan
            var table = ""
            var ids: [Int64] = []
            switch timing(st) {
            case .thermal(let cfg):
                let f = try r.rawFrameTimes(streamId: id)
                guard !f.isEmpty else { continue }
                ids = f.map(\.id)
                table = "thermal_frame"
                plan = ResyncPlanner.thermal(
                    frames: f.map { StoredFrameTime(sequence: $0.sequence, deviceTimestampNs: $0.deviceTsNs, hostArrivalNs: $0.hostArrivalNs, tNs: $0.tNs) },
                    config: cfg, oldModel: old, sessionStartMonotonicNs: start)
            case .ae(let rate, _):
                let c = try r.rawChunkTimes(streamId: id)
                guard !c.isEmpty else { continue }
                ids = c.map(\.id)
                table = "audio_chunk"
                let stored = c.map { StoredChunkTime(firstSampleIndex: $0.firstSampleIndex, hostArrivalNs: $0.hostArrivalNs, tNs: $0.tNs) }
                let pairs = c.compactMap { x in x.pairSampleIndex.map { AudioClockPair(sampleIndex: $0, hostNs: x.pairHostNs!) } }
                let xruns = ResyncPlanner.xrunSampleIndices(
                    xrunGapStartHostNs: gaps.filter { $0.kind == GapEvent.Kind.xrun.rawValue }.map { $0.startTNs + start }, chunks: stored)
                plan = ResyncPlanner.audio(chunks: stored, pairs: pairs, xrunSampleIndices: xruns, nominalRateHz: rate,
                                           oldModel: old, sessionStartMonotonicNs: start)
                // AE hits move with their samples: from the chunk that holds them, at the nominal
                // rate (as the recorder placed them), so a chunk timed by arrival carries its hits.
                let hits = try r.aeHits(streamId: id)
                let firsts = stored.map(\.firstSampleIndex)
                try w.updateTimes(table: "ae_hit", updates: hits.map { h in
                    var lo = 0, hi = firsts.count - 1
                    while lo < hi {
                        let mid = (lo + hi + 1) / 2
                        if firsts[mid] <= h.sampleIndex { lo = mid } else { hi = mid - 1 }
                    }
                    let offset = Int64((Double(h.sampleIndex - firsts[lo]) * 1e9 / rate).rounded())
                    return (h.id!, plan.newTNs[lo] + offset)
                })
            case .bms(let cfg, let res):
                // In arrival order (the guard is causal), not in stored t_ns order.
                let b = try r.bmsSamples(streamId: id).sorted { ($0.hostArrivalNs, $0.id ?? 0) < ($1.hostArrivalNs, $1.id ?? 0) }
                guard !b.isEmpty else { continue }
                ids = b.map { $0.id! }
                table = "bms_sample"
                plan = ResyncPlanner.bms(
                    readings: b.map { StoredReadingTime(hostArrivalNs: $0.hostArrivalNs, deviceTimeS: $0.deviceTimeS, lineBytes: $0.raw.utf8.count + 1, tNs: $0.tNs) },
                    config: cfg, deviceResolutionNs: res,
                    // The clock guard's own rows are not breaks of the device clock.
                    breaks: gaps.filter { !$0.kind.hasPrefix("clock_") }.map { ClockBreak(.host($0.startTNs + start), reason: .gap) },
                    oldModel: old, sessionStartMonotonicNs: start)
            }
            try w.updateTimes(table: table, updates: zip(ids, plan.newTNs).map { ($0, $1) })
            try w.setClockModel(streamId: id, method: "offline-resync", modelJSON: try plan.newModel.jsonText())
            out.append(StreamResult(key: st.key, samples: ids.count, moved: plan.moved, newModel: plan.newModel))
        }
        return out
    }

    /// The current model of every stream, as the sync engine's report.
    public static func report(path: String) throws -> SyncReport {
        let r = try SessionReader(path: path)
        var models: [(stream: String, model: ClockModel)] = []
        var unmodelled: [String: Double] = [:]
        var units: [String: (ClockFallback.Units, Double?)] = [:]
        for st in try r.streams() {
            guard let rec = try r.clockModels(streamId: st.id!).last, let m = try? ClockModel.fromJSONText(rec.modelJson) else { continue }
            models.append((st.key, m))
            unmodelled[st.key] = timing(st).unmodelledNs
            units[st.key] = switch st.descriptor.kind {
            case .ae: (.samples, st.descriptor.nominalRateHz)
            case .thermal: (.frames, nil)
            case .bms: (.lines, nil)
            }
        }
        return SyncReport(models: models, unmodelledNs: unmodelled, units: units)
    }
}
