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
        var tally = MoveTally(segments: model.segments.count)
        for (i, g) in times.enumerated() {
            tally.add(new: g.host &- sessionStartMonotonicNs, stored: stored[i], segment: g.segment)
        }
        return tally.plan(model: model, oldModel: oldModel)
    }

    /// The same with a model already fitted (identity video, audio clock, ...).
    public static func apply(model: ClockModel, samples: [RawSampleTime], oldModel: ClockModel?,
                             sessionStartMonotonicNs: Nanoseconds) -> ResyncPlan {
        var tally = MoveTally(segments: model.segments.count)
        for s in samples {
            let k = model.segmentIndex(device: s.device, arrivalHost: s.arrivalHostNs) ?? 0
            let host = model.segments.isEmpty ? s.device : model.segments[k].hostTime(device: s.device)
            tally.add(new: host - s.correctionNs - sessionStartMonotonicNs, stored: s.storedTNs, segment: k)
        }
        return tally.plan(model: model, oldModel: oldModel)
    }
}

/// Every sample's new time and how far it moved from the stored one, overall and per segment.
private struct MoveTally {
    private struct Segment { var n = 0, sumAbs = 0.0, sum = 0.0, maxAbs: Int64 = 0 }
    private var newT: [Nanoseconds] = []
    private var segs: [Segment]
    private var sumAbs = 0.0, maxAbs: Int64 = 0, changed = 0

    init(segments: Int) { segs = Array(repeating: Segment(), count: Swift.max(segments, 1)) }

    mutating func add(new t: Nanoseconds, stored: Nanoseconds, segment k: Int?) {
        newT.append(t)
        let d = t &- stored
        let a = d.magnitude > UInt64(Int64.max) ? Int64.max : Int64(d.magnitude)
        sumAbs += Double(a)
        maxAbs = Swift.max(maxAbs, a)
        if d != 0 { changed += 1 }
        if let k, k < segs.count {
            segs[k].n += 1
            segs[k].sumAbs += Double(a)
            segs[k].sum += Double(d)
            segs[k].maxAbs = Swift.max(segs[k].maxAbs, a)
        }
    }

    func plan(model: ClockModel, oldModel: ClockModel?) -> ResyncPlan {
        let summaries = model.segments.indices.map { i in
            MoveSummary.Segment(
                index: i, reason: model.segments[i].reason, samples: segs[i].n,
                meanAbsDeltaNs: segs[i].n > 0 ? segs[i].sumAbs / Double(segs[i].n) : 0,
                maxAbsDeltaNs: segs[i].maxAbs,
                meanDeltaNs: segs[i].n > 0 ? segs[i].sum / Double(segs[i].n) : 0)
        }
        let moved = MoveSummary(
            samples: newT.count, meanAbsDeltaNs: newT.isEmpty ? 0 : sumAbs / Double(newT.count),
            maxAbsDeltaNs: maxAbs, changed: changed, segments: summaries,
            oldSegmentCount: oldModel?.segments.count ?? 0, newSegmentCount: model.segments.count)
        return ResyncPlan(oldModel: oldModel, newModel: model, newTNs: newT, moved: moved)
    }
}
