import TRWCore

/// Cross-stream alignment: the error budget predicted from the clock models,
/// and the error measured on a common event of known truth.
public enum Alignment {
    /// Predicted timing uncertainty of one stream.
    public struct StreamUncertainty: Sendable, Codable, Equatable {
        public var stream: String
        /// Fit error, ns: RMS over segments (pair-weighted) of each segment's `meanTimeStdErrNs`.
        public var fitStdErrNs: Double
        /// Uncertainty of what the fit cannot see, ns (a calibrated exposure or
        /// device latency that may be off, the unseen minimum transport delay).
        public var unmodelledNs: Double
        /// sqrt(fit^2 + unmodelled^2).
        public var totalNs: Double
    }

    /// Predicted error between two streams.
    public struct PairEstimate: Sendable, Codable, Equatable {
        public var a: String
        public var b: String
        /// sigma_ab = sqrt(sigma_a^2 + sigma_b^2), ns.
        public var sigmaNs: Double
        /// Expected |error| for a Gaussian error: sigma_ab * sqrt(2 / pi), ns.
        public var expectedAbsNs: Double
    }

    /// Uncertainty of one stream from its model.
    public static func uncertainty(stream: String, model: ClockModel, unmodelledNs: Double = 0) -> StreamUncertainty {
        var acc = 0.0, n = 0.0
        for s in model.segments {
            let w = Double(Swift.max(s.pairCount, 1))
            acc += w * s.meanTimeStdErrNs * s.meanTimeStdErrNs
            n += w
        }
        let fit = n > 0 ? (acc / n).squareRoot() : 0
        return StreamUncertainty(stream: stream, fitStdErrNs: fit, unmodelledNs: unmodelledNs,
                                 totalNs: (fit * fit + unmodelledNs * unmodelledNs).squareRoot())
    }

    /// The estimated cross-stream alignment error of every pair of streams.
    ///
    /// Formula: each stream's time error is taken as independent and zero-mean
    /// with sigma_s^2 = se_fit,s^2 + u_s^2, where se_fit is the standard error of
    /// the fitted line averaged over the segment (se_offset^2 + se_slope^2 L^2 / 12)
    /// and u_s the unmodelled uncertainty; then sigma_ab = sqrt(sigma_a^2 + sigma_b^2)
    /// and E|e_ab| = sigma_ab sqrt(2/pi).
    public static func estimate(_ streams: [StreamUncertainty]) -> [PairEstimate] {
        var out: [PairEstimate] = []
        for i in streams.indices {
            for j in streams.indices where j > i {
                let s = (streams[i].totalNs * streams[i].totalNs + streams[j].totalNs * streams[j].totalNs).squareRoot()
                out.append(PairEstimate(a: streams[i].stream, b: streams[j].stream, sigmaNs: s,
                                        expectedAbsNs: s * (2 / Double.pi).squareRoot()))
            }
        }
        return out
    }

    /// One stream's view of a common event: the synchronised time of the
    /// sample where the event shows, and the true time of that same sample.
    public struct Observation: Sendable, Codable, Equatable {
        public var stream: String
        /// Index of the event (several common events per run).
        public var event: Int
        public var estimatedNs: Nanoseconds
        public var trueNs: Nanoseconds

        public init(stream: String, event: Int, estimatedNs: Nanoseconds, trueNs: Nanoseconds) {
            self.stream = stream
            self.event = event
            self.estimatedNs = estimatedNs
            self.trueNs = trueNs
        }

        public var errorNs: Int64 { estimatedNs - trueNs }
    }

    /// One stream's measured error: |estimated - true| over its observations, ns.
    public struct StreamError: Sendable, Codable, Equatable {
        public var meanAbsNs: Double
        public var maxAbsNs: Double
        /// Mean signed error, ns (a constant bias shows here).
        public var meanNs: Double
        public var count: Int
    }

    /// Measured alignment, from observations of common events.
    public struct Measurement: Sendable, Codable, Equatable {
        public var perStream: [String: StreamError]
        /// Over all events and all pairs of streams: |(est_a - true_a) - (est_b - true_b)|, ns.
        public var meanAbsPairNs: Double
        public var maxAbsPairNs: Double
        public var pairCount: Int
    }

    /// Cross-stream error measured against truth: for each event and each pair of
    /// streams that saw it, the difference of their timing errors.
    public static func measure(_ observations: [Observation]) -> Measurement {
        var per: [String: StreamError] = [:]
        for o in observations {
            var v = per[o.stream] ?? StreamError(meanAbsNs: 0, maxAbsNs: 0, meanNs: 0, count: 0)
            let e = Double(o.errorNs)
            v.meanAbsNs += abs(e)
            v.meanNs += e
            v.maxAbsNs = Swift.max(v.maxAbsNs, abs(e))
            v.count += 1
            per[o.stream] = v
        }
        let perStream = per.mapValues { v in
            StreamError(meanAbsNs: v.meanAbsNs / Double(v.count), maxAbsNs: v.maxAbsNs, meanNs: v.meanNs / Double(v.count),
                        count: v.count)
        }
        let byEvent = Dictionary(grouping: observations, by: \.event)
        var sum = 0.0, maxv = 0.0, n = 0
        for (_, obs) in byEvent {
            for i in obs.indices {
                for j in obs.indices where j > i && obs[i].stream != obs[j].stream {
                    let d = Double(abs(obs[i].errorNs - obs[j].errorNs))
                    sum += d
                    maxv = Swift.max(maxv, d)
                    n += 1
                }
            }
        }
        return Measurement(perStream: perStream, meanAbsPairNs: n > 0 ? sum / Double(n) : 0, maxAbsPairNs: maxv, pairCount: n)
    }
}

/// Wall-clock anchoring of a session.
///
/// The time base is CLOCK_MONOTONIC only (`SessionClock`): UTC of a session
/// time is `startRealtimeNs + t_ns`, read once at start. An NTP step of
/// CLOCK_REALTIME during the run does not move any `t_ns`; it only changes
/// what a fresh reading of CLOCK_REALTIME says. The recorder may sample
/// (monotonic, realtime) pairs now and then; `realtimeSteps` reports the steps
/// (for the session log), never to re-time samples.
public enum WallClock {
    /// UTC (ns since the Unix epoch) of session time `tNs`.
    public static func utcNs(sessionTimeNs tNs: Nanoseconds, clock: SessionClock) -> Nanoseconds {
        clock.startRealtimeNs + tNs
    }

    /// A step of CLOCK_REALTIME against CLOCK_MONOTONIC.
    public struct Step: Sendable, Equatable, Codable {
        /// Monotonic time of the first reading after the step.
        public var monotonicNs: Nanoseconds
        /// Size of the step, ns (positive: realtime jumped forward).
        public var stepNs: Int64
    }

    /// Steps larger than `thresholdNs` in (realtime - monotonic) between
    /// consecutive (monotonic, realtime) readings. Slewing (adjtime, at most
    /// 500 ppm) between readings a second apart stays below a 1 ms threshold.
    public static func realtimeSteps(readings: [(monotonicNs: Nanoseconds, realtimeNs: Nanoseconds)],
                                     thresholdNs: Int64 = 1_000_000) -> [Step] {
        var out: [Step] = []
        for i in readings.indices.dropFirst() {
            let d0 = readings[i - 1].realtimeNs - readings[i - 1].monotonicNs
            let d1 = readings[i].realtimeNs - readings[i].monotonicNs
            if abs(d1 - d0) > thresholdNs { out.append(Step(monotonicNs: readings[i].monotonicNs, stepNs: d1 - d0)) }
        }
        return out
    }
}
