import TRWCore

/// One stored sample's raw time, as the store keeps it.
public struct RawSampleTime: Sendable, Equatable, Codable {
    /// Device time (driver timestamp, device clock ns) or first sample index.
    public var device: Int64
    /// Host CLOCK_MONOTONIC at arrival, ns (disambiguates device resets).
    public var arrivalHostNs: Nanoseconds
    /// Subtracted after the model: exposure offset (video), transmission time
    /// and device latency (serial), 0 for audio.
    public var correctionNs: Int64
    /// The `t_ns` currently stored.
    public var storedTNs: Nanoseconds

    public init(device: Int64, arrivalHostNs: Nanoseconds, correctionNs: Int64 = 0, storedTNs: Nanoseconds) {
        self.device = device
        self.arrivalHostNs = arrivalHostNs
        self.correctionNs = correctionNs
        self.storedTNs = storedTNs
    }
}

/// What a re-fit moved.
public struct MoveSummary: Sendable, Codable, Equatable {
    /// Per segment of the new model.
    public struct Segment: Sendable, Codable, Equatable {
        public var index: Int
        public var reason: SegmentReason
        public var samples: Int
        public var meanAbsDeltaNs: Double
        public var maxAbsDeltaNs: Int64
        /// Mean signed delta (new - old), ns.
        public var meanDeltaNs: Double
    }

    public var samples: Int
    public var meanAbsDeltaNs: Double
    public var maxAbsDeltaNs: Int64
    /// Samples whose t_ns changed at all.
    public var changed: Int
    public var segments: [Segment]
    /// Old and new segment counts and drift per segment, for the report.
    public var oldSegmentCount: Int
    public var newSegmentCount: Int
}

/// Result of `ResyncPlanner.plan`: the new model, every sample's new `t_ns`
/// (same order as the input) and what moved. The old model goes to history.
public struct ResyncPlan: Sendable, Codable, Equatable {
    public var oldModel: ClockModel?
    public var newModel: ClockModel
    public var newTNs: [Nanoseconds]
    public var moved: MoveSummary
}

/// Offline re-synchronisation of one stream, pure: `trw resync` reads the raw
/// times and clock pairs of each stream, calls `plan`, writes `newTNs` and the
/// new model, and keeps the old model in the stream's clock-model history.
public enum ResyncPlanner {
    /// Re-fits `pairs` (with `breaks`) and recomputes every sample's `t_ns`:
    /// t_ns = model.hostTime(device, arrival) - correction - sessionStartMonotonic.
    public static func plan(pairs: [ClockPair], breaks: [ClockBreak] = [], samples: [RawSampleTime],
                            oldModel: ClockModel?, fitter: ClockFitter, sessionStartMonotonicNs: Nanoseconds) -> ResyncPlan {
        let model = fitter.fit(pairs, breaks: breaks)
        return apply(model: model, samples: samples, oldModel: oldModel, sessionStartMonotonicNs: sessionStartMonotonicNs)
    }

    /// A plan from new host times already computed per sample (each with the model
    /// segment it came from, or nil when it was timed by arrival).
    static func finish(model: ClockModel, times: [GuardedTime], stored: [Nanoseconds], oldModel: ClockModel?,
                       sessionStartMonotonicNs: Nanoseconds) -> ResyncPlan {
        var newT: [Nanoseconds] = []
        newT.reserveCapacity(times.count)
        var segStats = [(n: Int, sumAbs: Double, sum: Double, maxAbs: Int64)](
            repeating: (0, 0, 0, 0), count: Swift.max(model.segments.count, 1))
        var sumAbs = 0.0, maxAbs: Int64 = 0, changed = 0
        for (i, g) in times.enumerated() {
            let t = g.host &- sessionStartMonotonicNs
            newT.append(t)
            let d = t &- stored[i]
            let a = d.magnitude > UInt64(Int64.max) ? Int64.max : Int64(d.magnitude)
            sumAbs += Double(a)
            maxAbs = Swift.max(maxAbs, a)
            if d != 0 { changed += 1 }
            if let k = g.segment, k < segStats.count {
                segStats[k].n += 1
                segStats[k].sumAbs += Double(a)
                segStats[k].sum += Double(d)
                segStats[k].maxAbs = Swift.max(segStats[k].maxAbs, a)
            }
        }
        let segs = model.segments.indices.map { i in
            MoveSummary.Segment(
                index: i, reason: model.segments[i].reason, samples: segStats[i].n,
                meanAbsDeltaNs: segStats[i].n > 0 ? segStats[i].sumAbs / Double(segStats[i].n) : 0,
                maxAbsDeltaNs: segStats[i].maxAbs,
                meanDeltaNs: segStats[i].n > 0 ? segStats[i].sum / Double(segStats[i].n) : 0)
        }
        let moved = MoveSummary(
            samples: times.count, meanAbsDeltaNs: times.isEmpty ? 0 : sumAbs / Double(times.count),
            maxAbsDeltaNs: maxAbs, changed: changed, segments: segs,
            oldSegmentCount: oldModel?.segments.count ?? 0, newSegmentCount: model.segments.count)
        return ResyncPlan(oldModel: oldModel, newModel: model, newTNs: newT, moved: moved)
    }

    /// The same with a model already fitted (identity video, audio clock, ...).
    public static func apply(model: ClockModel, samples: [RawSampleTime], oldModel: ClockModel?,
                             sessionStartMonotonicNs: Nanoseconds) -> ResyncPlan {
        var newT: [Nanoseconds] = []
        newT.reserveCapacity(samples.count)
        var segStats = [(n: Int, sumAbs: Double, sum: Double, maxAbs: Int64)](
            repeating: (0, 0, 0, 0), count: Swift.max(model.segments.count, 1))
        var sumAbs = 0.0, maxAbs: Int64 = 0, changed = 0
        for s in samples {
            let k = model.segmentIndex(device: s.device, arrivalHost: s.arrivalHostNs) ?? 0
            let host = model.segments.isEmpty ? s.device : model.segments[k].hostTime(device: s.device)
            let t = host - s.correctionNs - sessionStartMonotonicNs
            newT.append(t)
            let d = t - s.storedTNs
            let a = d.magnitude > UInt64(Int64.max) ? Int64.max : Int64(d.magnitude)
            sumAbs += Double(a)
            maxAbs = Swift.max(maxAbs, a)
            if d != 0 { changed += 1 }
            segStats[k].n += 1
            segStats[k].sumAbs += Double(a)
            segStats[k].sum += Double(d)
            segStats[k].maxAbs = Swift.max(segStats[k].maxAbs, a)
        }
        let segs = model.segments.indices.map { i in
            MoveSummary.Segment(
                index: i, reason: model.segments[i].reason, samples: segStats[i].n,
                meanAbsDeltaNs: segStats[i].n > 0 ? segStats[i].sumAbs / Double(segStats[i].n) : 0,
                maxAbsDeltaNs: segStats[i].maxAbs,
                meanDeltaNs: segStats[i].n > 0 ? segStats[i].sum / Double(segStats[i].n) : 0)
        }
        let moved = MoveSummary(
            samples: samples.count, meanAbsDeltaNs: samples.isEmpty ? 0 : sumAbs / Double(samples.count),
            maxAbsDeltaNs: maxAbs, changed: changed, segments: segs,
            oldSegmentCount: oldModel?.segments.count ?? 0, newSegmentCount: model.segments.count)
        return ResyncPlan(oldModel: oldModel, newModel: model, newTNs: newT, moved: moved)
    }
}
