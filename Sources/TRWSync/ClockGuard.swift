import Foundation
import TRWCore

/// The arrival guard: no single device value can move the session clock.
///
/// Every (device, host) pair of a stream is checked against the stream's
/// current clock model *before* it may enter the fit. The rules (also in
/// docs/timebase.md; the numbers are `Configuration`'s defaults):
///
/// 1. **Outlier.** A pair whose host time differs from the time the current
///    model gives its device value by more than `boundNs` (500 ms) is left out
///    of the fit; its sample is timed by its arrival (`OnlineStreamClock`) and
///    counted as a `clock_outlier` gap. Its raw device time stays stored.
///    1a. While a segment has fewer than 2 * `confirmPairs` pairs, a pair whose
///    step from the last accepted pair differs from the host's step by more than
///    `rateTolerance` of it plus `jitterNs` is held too (a young model cannot see
///    a wrong rate yet) and its sample timed by arrival; when a good pair follows,
///    such a pair (a burst of lines looks the same) is released without counting.
/// 2. **Jump.** `confirmPairs` (5) consecutive outliers that agree with each
///    other (their offsets host - nominal * device within `boundNs` of each
///    other, and their device clock advancing at the host's rate within
///    `rateTolerance` plus the jitter allowance) are a step of the device
///    clock (clock set, firmware resync): a new `.jump` segment starts from
///    them. When the segment they leave had fewer than `confirmPairs` pairs, it
///    was the outlier (e.g. a corrupted first line): it is discarded.
/// 3. **Fallback (persistent disagreement).** The stream's device clock is
///    abandoned for the rest of the stream, and its samples are timed by their
///    arrival, when
///    a. `confirmPairs` consecutive outliers do not agree with each other
///       (a device clock running at another rate: a unit mistake, a replayed
///       log, an unpaced device);
///    b. `windowOutliers` (10) of the last `windowPairs` (20) pairs were outliers;
///    c. `maxJumps` (3) jumps happened within `jumpWindowNs` (60 s) of host time;
///    d. over at least `rateWindowNs` (30 s) of host time the device clock
///       advanced at a rate differing from the host's by more than
///       `rateTolerance` (2 %; crystals are within 0.01 %).
///
/// The guard never trusts the first pair more than the others: rule 2 replaces
/// a first segment that the following pairs disagree with.
public struct ClockGuard: Sendable {
    public struct Configuration: Sendable, Codable, Equatable {
        /// Largest accepted disagreement between a pair and the current model, ns.
        public var boundNs: Int64
        /// Consecutive outliers that decide between a jump and a fallback.
        public var confirmPairs: Int
        /// Fallback when `windowOutliers` of the last `windowPairs` pairs are outliers.
        public var windowPairs: Int
        public var windowOutliers: Int
        /// Fallback when `maxJumps` jumps happen within `jumpWindowNs` of host time.
        public var maxJumps: Int
        public var jumpWindowNs: Int64
        /// Fallback when the device clock's rate differs from the host's by more than
        /// this fraction, measured over at least `rateWindowNs` of host time.
        public var rateTolerance: Double
        public var rateWindowNs: Int64
        /// Jitter of consecutive pairs tolerated when deciding that outliers agree
        /// with each other (rule 2), ns.
        public var jitterNs: Double
        /// Audio only: how much later than its first sample plus its length a chunk may
        /// arrive (samples wait in the ALSA ring buffer, up to its size), ns.
        public var audioBufferAllowanceNs: Int64 = 2_000_000_000

        public init(boundNs: Int64 = 500_000_000, confirmPairs: Int = 5, windowPairs: Int = 20, windowOutliers: Int = 10,
                    maxJumps: Int = 3, jumpWindowNs: Int64 = 60_000_000_000, rateTolerance: Double = 0.02,
                    rateWindowNs: Int64 = 30_000_000_000, jitterNs: Double = 50_000_000) {
            self.boundNs = boundNs
            self.confirmPairs = confirmPairs
            self.windowPairs = windowPairs
            self.windowOutliers = windowOutliers
            self.maxJumps = maxJumps
            self.jumpWindowNs = jumpWindowNs
            self.rateTolerance = rateTolerance
            self.rateWindowNs = rateWindowNs
            self.jitterNs = jitterNs
        }
    }

    /// The gap kinds the guard's decisions are stored as.
    public static let outlierGapKind = "clock_outlier"
    public static let fallbackGapKind = "clock_fallback"

    /// What happened to one pair.
    public enum Outcome: Sendable, Equatable {
        /// In the fit.
        case accepted
        /// Left out of the fit: disagrees with the model by this many ns (host - model).
        case outlier(disagreementNs: Double)
        /// The stream is (now) timed by arrival; the pair is not used.
        case fallback
    }

    /// A pair left out of the fit, once the guard is sure of it.
    public struct Outlier: Sendable, Equatable {
        public var pair: ClockPair
        /// host - model(device), ns, at the time it was decided.
        public var disagreementNs: Double
    }

    public let configuration: Configuration
    /// Host ns per device unit at the nominal rate.
    public let nominalSlope: Double
    /// Held pairs; `rateOnly`: within the bound, held only by rule 1a (a burst of lines
    /// looks the same): released without counting when a good pair follows.
    private var suspects: [(pair: ClockPair, dis: Double, rateOnly: Bool)] = []
    /// The first pairs of the estimator's current segment (up to `confirmPairs`).
    private var segmentHead: [ClockPair] = []
    private var recent: [Bool] = []
    private var jumpHosts: [Nanoseconds] = []
    private var rateAnchor: ClockPair?
    private var firstPair: ClockPair?
    private var lastPair: ClockPair?
    private var decided: [Outlier] = []
    private var lastAccepted: ClockPair?
    public private(set) var pairs = 0
    /// Pairs confirmed as outliers (left out of the fit).
    public private(set) var outliers = 0
    public private(set) var jumps = 0
    public private(set) var fallback: ClockFallback?

    public init(nominalSlope: Double, configuration: Configuration = Configuration()) {
        self.nominalSlope = nominalSlope
        self.configuration = configuration
    }

    /// Outliers decided since the last call (each exactly once; a suspect is decided
    /// when a good pair follows it, at a fallback, or by `finish()`).
    public mutating func takeOutliers() -> [Outlier] {
        defer { decided.removeAll() }
        return decided
    }

    /// End of the stream: pending suspects are outliers.
    public mutating func finish() {
        confirmSuspects()
    }

    /// Checks `pair` against `estimator` and feeds it when it agrees (or re-anchors the
    /// estimator on a confirmed jump). Returns what happened to the pair.
    public mutating func add(_ pair: ClockPair, to estimator: inout OnlineClockEstimator) -> Outcome {
        pairs += 1
        if firstPair == nil { firstPair = pair }
        if let l = lastPair, pair.device < l.device { rateAnchor = nil }  // a device reset: measure the rate afresh
        lastPair = pair
        if fallback != nil { return .fallback }
        if rateAnchor == nil { rateAnchor = pair }
        if estimator.pairsInSegment == 0 {
            feed(pair, &estimator)
            note(outlier: false)
            return .accepted
        }
        let predicted = estimator.hostTime(device: pair.device)
        let dis = Double(pair.host) - Double(predicted)
        let withinBound = abs(dis) <= Double(configuration.boundNs)
        if withinBound && !youngAndOffRate(pair, estimator) {
            confirmSuspects(releasingRateOnly: true)
            note(outlier: false)
            feed(pair, &estimator)
            checkRate(pair)
            return fallback == nil ? .accepted : .fallback
        }
        note(outlier: true)
        suspects.append((pair, dis, withinBound))
        if suspects.count >= configuration.confirmPairs {
            let held = suspects.map(\.pair)
            if agree(held) {
                let discard = estimator.pairsInSegment < configuration.confirmPairs
                let dropped = discard ? segmentHead : []
                if discard {
                    estimator.discardCurrentSegment()
                } else {
                    estimator.startSegment(reason: .jump)
                }
                segmentHead.removeAll()
                suspects.removeAll()
                for p in held { feed(p, &estimator) }
                for p in dropped {
                    outliers += 1
                    decided.append(Outlier(pair: p, disagreementNs: Double(p.host) - Double(estimator.hostTime(device: p.device))))
                }
                // The held pairs were not outliers after all.
                for _ in held { unnote() }
                if !discard {
                    jumps += 1
                    jumpHosts.append(pair.host)
                    jumpHosts.removeAll { pair.host - $0 > configuration.jumpWindowNs }
                    if jumpHosts.count >= configuration.maxJumps { setFallback(.repeatedJumps, at: pair) }
                }
                rateAnchor = pair
                return fallback == nil ? .accepted : .fallback
            }
            setFallback(.rateMismatch, at: pair)
        }
        if fallback == nil && recent.filter({ $0 }).count >= configuration.windowOutliers {
            setFallback(.manyOutliers, at: pair)
        }
        return fallback == nil ? .outlier(disagreementNs: dis) : .fallback
    }

    /// For a stream whose device values are host times already (no fit): `outlier` says
    /// whether this one disagreed with arrival beyond the bound; rule 3b applies.
    public mutating func noteDirect(_ pair: ClockPair, outlier: Bool, disagreementNs: Double) -> Outcome {
        pairs += 1
        if firstPair == nil { firstPair = pair }
        lastPair = pair
        if fallback != nil { return .fallback }
        note(outlier: outlier)
        if outlier {
            outliers += 1
            decided.append(Outlier(pair: pair, disagreementNs: disagreementNs))
            if recent.filter({ $0 }).count >= configuration.windowOutliers { setFallback(.manyOutliers, at: pair) }
            return fallback == nil ? .outlier(disagreementNs: disagreementNs) : .fallback
        }
        return .accepted
    }

    /// The fallback with its device-rate ratio and delivery rate measured over all pairs
    /// seen so far (the guard keeps counting after it decided).
    public var fallbackMeasuredToNow: ClockFallback? {
        guard var f = fallback else { return nil }
        f.deviceRateRatio = deviceRateRatio ?? f.deviceRateRatio
        f.deliveryRateHz = deliveryRateHz ?? f.deliveryRateHz
        return f
    }

    /// Host time advanced per nominal host time of the device clock, over all pairs seen.
    public var deviceRateRatio: Double? {
        guard let f = firstPair, let l = lastPair, l.device != f.device else { return nil }
        return nominalSlope * Double(l.device &- f.device) / Double(l.host &- f.host)
    }

    /// Pairs delivered per host second, over all pairs seen.
    public var deliveryRateHz: Double? {
        guard let f = firstPair, let l = lastPair, l.host > f.host, pairs > 1 else { return nil }
        return Double(pairs - 1) / (Double(l.host &- f.host) / 1e9)
    }

    // MARK: - internals

    /// While a segment is young (fewer than 2 * `confirmPairs` pairs) its model cannot
    /// see a wrong rate yet: a pair whose step from the last accepted one differs from the
    /// host's step by more than the jitter allowance is held as a suspect (rule 1a).
    private func youngAndOffRate(_ p: ClockPair, _ estimator: OnlineClockEstimator) -> Bool {
        guard estimator.pairsInSegment < 2 * configuration.confirmPairs, let a = lastAccepted, p.device >= a.device else { return false }
        let dh = Double(p.host &- a.host)
        let dd = nominalSlope * Double(p.device &- a.device)
        return abs(dh - dd) > configuration.rateTolerance * Swift.max(abs(dh), abs(dd)) + configuration.jitterNs
    }

    private mutating func feed(_ p: ClockPair, _ estimator: inout OnlineClockEstimator) {
        lastAccepted = p
        estimator.add(device: p.device, host: p.host)
        if estimator.pairsInSegment <= 1 {
            segmentHead = [p]  // the estimator started a segment (first pair, or a reset)
        } else if segmentHead.count < configuration.confirmPairs {
            segmentHead.append(p)
        }
    }

    private mutating func confirmSuspects(releasingRateOnly: Bool = false) {
        for s in suspects {
            if releasingRateOnly && s.rateOnly {
                unnote()
                continue
            }
            decided.append(Outlier(pair: s.pair, disagreementNs: s.dis))
            outliers += 1
        }
        suspects.removeAll()
    }

    private mutating func unnote() {
        if let i = recent.lastIndex(of: true) { recent[i] = false }
    }

    private mutating func note(outlier: Bool) {
        recent.append(outlier)
        if recent.count > configuration.windowPairs { recent.removeFirst(recent.count - configuration.windowPairs) }
    }

    /// Whether consecutive outliers agree with each other: same offset within the
    /// bound, and the device clock advancing at the host's rate between the first and last.
    private func agree(_ p: [ClockPair]) -> Bool {
        let offsets = p.map { Double($0.host) - nominalSlope * Double($0.device) }
        guard let lo = offsets.min(), let hi = offsets.max(), hi - lo <= Double(configuration.boundNs) else { return false }
        for i in 1..<p.count where p[i].device < p[i - 1].device { return false }
        let dh = Double(p.last!.host &- p.first!.host)
        let dd = nominalSlope * Double(p.last!.device &- p.first!.device)
        return abs(dh - dd) <= configuration.rateTolerance * Swift.max(abs(dh), abs(dd)) + configuration.jitterNs
    }

    private mutating func checkRate(_ pair: ClockPair) {
        guard let a = rateAnchor, pair.host - a.host >= configuration.rateWindowNs else { return }
        let dh = Double(pair.host &- a.host)
        let dd = nominalSlope * Double(pair.device &- a.device)
        if abs(dd - dh) > configuration.rateTolerance * dh + configuration.jitterNs {
            setFallback(.rateMismatch, at: pair)
        }
        rateAnchor = pair
    }

    private mutating func setFallback(_ reason: ClockFallback.Reason, at pair: ClockPair) {
        guard fallback == nil else { return }
        confirmSuspects()
        fallback = ClockFallback(reason: reason, sinceHostNs: pair.host, pairsBefore: pairs, outliersBefore: outliers,
                                 deviceRateRatio: deviceRateRatio, deliveryRateHz: deliveryRateHz)
    }
}

/// Why and since when a stream is timed by arrival instead of its device clock
/// (stored in the stream's clock-model JSON, shown by `trw info`, `trw sync-report`
/// and the live dashboard).
public struct ClockFallback: Sendable, Codable, Equatable {
    public enum Reason: String, Sendable, Codable {
        /// Consecutive outliers that do not agree with each other, or a rate off by more than the tolerance.
        case rateMismatch = "rate_mismatch"
        /// Too many outliers among recent pairs.
        case manyOutliers = "many_outliers"
        /// Too many jumps in a short time.
        case repeatedJumps = "repeated_jumps"
        /// An offline re-fit found the stream's device clock unusable.
        case offline
    }

    public var reason: Reason
    /// Host CLOCK_MONOTONIC of the pair that decided it, ns.
    public var sinceHostNs: Nanoseconds
    /// Pairs and outliers seen until then.
    public var pairsBefore: Int
    public var outliersBefore: Int
    /// Device-clock advance per host time (1 for a healthy clock; 1000 for ms read as s,
    /// 100 for a log replayed 100x fast, 10 for an audio device delivering 10x its rate).
    public var deviceRateRatio: Double?
    /// Samples (pairs) delivered per host second until then.
    public var deliveryRateHz: Double?

    public init(reason: Reason, sinceHostNs: Nanoseconds, pairsBefore: Int, outliersBefore: Int, deviceRateRatio: Double?,
                deliveryRateHz: Double?) {
        self.reason = reason
        self.sinceHostNs = sinceHostNs
        self.pairsBefore = pairsBefore
        self.outliersBefore = outliersBefore
        self.deviceRateRatio = deviceRateRatio
        self.deliveryRateHz = deliveryRateHz
    }

    /// What a stream delivers, for the delivery rate in `text`.
    public enum Units: String, Sendable, Codable {
        case samples, frames, lines
    }

    /// Measured delivery rate in `units` per host second: for audio the sample rate the
    /// device really delivered (its clock pairs advance `deviceRateRatio` times the nominal
    /// rate), else events with a device time per host second.
    public func deliveredPerSecond(units: Units, nominalRateHz: Double?) -> Double? {
        if units == .samples, let r = deviceRateRatio, let n = nominalRateHz, r.isFinite { return r * n }
        return deliveryRateHz
    }

    /// One line for people: what disagrees, by how much, and what the recorder does instead.
    public func text(stream: String, nominalRateHz: Double? = nil, kind: Units) -> String {
        var s = "\(stream): device clock disagrees with arrival ("
        switch reason {
        case .rateMismatch: s += "runs at another rate"
        case .manyOutliers: s += "too many outliers"
        case .repeatedJumps: s += "keeps jumping"
        case .offline: s += "found by the offline re-fit"
        }
        if let r = deviceRateRatio, r.isFinite { s += String(format: "; device time advances %.4gx host time", r) }
        s += "): timed by arrival"
        if let d = deliveredPerSecond(units: kind, nominalRateHz: nominalRateHz), d.isFinite {
            s += String(format: "; measured delivery %.6g %@/s", d, kind.rawValue)
            if let n = nominalRateHz, n > 0 { s += String(format: " (nominal %.6g)", n) }
        }
        return s
    }
}
