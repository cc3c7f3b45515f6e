import TRWCore

/// Causal clock estimator for use while recording (live view and the stored `t_ns`).
///
/// Usable from the first pair: with one pair it is an offset on the nominal
/// slope; from the second bucket on it is offset + drift fitted over a sliding
/// window of buckets. Each bucket (default 1 s of host time) is reduced to one
/// representative point when it closes:
/// * `.oneSided`: the pair with the least offset (the minimum-delay sample, as
///   NTP's clock filter keeps the least-delay sample of its last eight,
///   RFC 5905 section 10.1, and LSL's time-correction probes keep the
///   minimum round trip);
/// * `.symmetric`: the mean of the bucket's pairs after rejecting those more
///   than 4 MADs from the bucket median.
/// The line is refitted over the window's representatives (Huber for
/// symmetric, lower envelope for one-sided), so an update costs O(1) while a
/// bucket fills and O(window) when it closes. During warm-up (fewer than two
/// closed buckets) it is refitted on every pair.
///
/// Segments: `startSegment(reason:)` at a known gap or xrun; a device time
/// going backwards starts a `.reset` segment; `jumpConfirmPairs` consecutive
/// residuals beyond the jump threshold on the same side start a `.jump`
/// segment.
///
/// Not thread-safe: one per stream, on the thread that handles that stream.
public struct OnlineClockEstimator: Sendable {
    public struct Configuration: Sendable, Codable, Equatable {
        /// `.automatic` is treated as `.symmetric` online.
        public var mode: ClockFitter.Mode
        /// Host ns per device unit at the nominal rate.
        public var nominalSlope: Double
        /// Host duration of one bucket, ns.
        public var bucketNs: Int64
        /// Buckets in the sliding window.
        public var windowBuckets: Int
        /// Offset step (ns) that counts as a jump, and how many consecutive pairs confirm it.
        public var jumpThresholdNs: Double
        public var jumpConfirmPairs: Int

        public init(mode: ClockFitter.Mode = .symmetric, nominalSlope: Double = 1, bucketNs: Int64 = 1_000_000_000,
                    windowBuckets: Int = 120, jumpThresholdNs: Double = 2_000_000, jumpConfirmPairs: Int = 5) {
            self.mode = mode
            self.nominalSlope = nominalSlope
            self.bucketNs = bucketNs
            self.windowBuckets = windowBuckets
            self.jumpThresholdNs = jumpThresholdNs
            self.jumpConfirmPairs = jumpConfirmPairs
        }
    }

    private struct Point: Sendable {
        var device: Int64
        var host: Int64
    }

    public let configuration: Configuration
    private var oneSided: Bool { configuration.mode == .oneSided }

    // Current segment
    private var reason: SegmentReason = .start
    private var pendingBreakDevice: Int64? = nil
    private var origin: Point? = nil             // first pair of the segment: local coordinates
    private var reps: [(x: Double, y: Double, w: Double)] = []  // closed bucket representatives
    private var bucket: [(x: Double, y: Double)] = []
    private var bucketStartHost: Int64 = 0
    private var warmup: [(x: Double, y: Double)] = []
    private var line: LocalLine? = nil
    private var lastDevice: Int64? = nil
    private var suspect: [Point] = []
    private var segmentPairs = 0
    private var firstPair: Point? = nil
    private var lastPair: Point? = nil
    private var residualSum2 = 0.0
    private var residualMax = 0.0
    private var residualSum = 0.0
    private var closedSegments: [ClockSegment] = []
    /// Slope excess of the last well-fitted segment, used while a new one warms up.
    private var carriedC: Double = 0
    /// The last refit hit the +-500 ppm slope limit.
    private var clamped = false

    public init(_ configuration: Configuration = Configuration()) {
        self.configuration = configuration
    }

    /// Segments so far, the current one last (its line as it stands now).
    public var model: ClockModel {
        var segs = closedSegments
        if let s = currentSegment() { segs.append(s) }
        return ClockModel(segments: segs, fitter: "OnlineClockEstimator(mode: \(configuration.mode.rawValue), bucket: \(configuration.bucketNs) ns, window: \(configuration.windowBuckets))")
    }

    /// Number of pairs accepted so far in the current segment.
    public var pairsInSegment: Int { segmentPairs }

    /// Starts a new segment at a known gap or xrun. `device`, if known, is where
    /// the new segment begins (e.g. the first sample index after an xrun).
    public mutating func startSegment(reason: SegmentReason, atDevice device: Int64? = nil) {
        if let s = currentSegment() { closedSegments.append(s) }
        // Same oscillator: its drift carries over until the new segment has its own.
        if let l = line, reps.count >= 2 { carriedC = l.c }
        resetState()
        self.reason = reason
        self.pendingBreakDevice = device
    }

    /// Drops the current segment without keeping it (its pairs were outliers, as
    /// `ClockGuard` found out later); the next pair starts a segment with the same reason.
    public mutating func discardCurrentSegment() {
        let r = reason, d = pendingBreakDevice
        resetState()
        reason = r
        pendingBreakDevice = d
    }

    /// Whether the current line's slope is at the +-500 ppm limit (a bound, not a measurement).
    public var slopeClamped: Bool { clamped }

    /// Adds one pair and returns the host time of `device` on the updated model.
    @discardableResult
    public mutating func add(device: Int64, host: Nanoseconds) -> Nanoseconds {
        if let last = lastDevice, device < last {
            startSegment(reason: .reset)
        }
        lastDevice = device
        guard let o = origin else {
            origin = Point(device: device, host: host)
            firstPair = origin
            bucketStartHost = host
            accept(x: 0, y: 0, host: host)
            return hostTime(device: device)
        }
        let x = Double(device &- o.device)
        let y = Double(host &- o.host) - configuration.nominalSlope * x
        // Jump detection and early-outlier rejection against the current line.
        // Not during warm-up: a line from a few pairs must not lock out the pairs that would correct it.
        if let l = line, reps.count >= 2 {
            let r = y - l.value(x)
            let tooEarly = oneSided && r < -Swift.max(6 * l.scale, configuration.jumpThresholdNs / 2)
            if abs(r) > configuration.jumpThresholdNs || tooEarly {
                let sameSide = suspect.isEmpty || (r > 0) == (residualOf(suspect[0]) > 0)
                if sameSide { suspect.append(Point(device: device, host: host)) } else { suspect = [Point(device: device, host: host)] }
                if suspect.count >= configuration.jumpConfirmPairs && abs(r) > configuration.jumpThresholdNs {
                    let held = suspect
                    startSegment(reason: .jump)
                    for p in held { add(device: p.device, host: p.host) }
                }
                return hostTime(device: device)
            }
            suspect.removeAll()
        }
        accept(x: x, y: y, host: host)
        lastPair = Point(device: device, host: host)
        return hostTime(device: device)
    }

    /// Host time of `device` on the current model (nominal slope through the first pair if
    /// nothing is known yet; `device` itself before any pair).
    public func hostTime(device: Int64) -> Nanoseconds {
        guard let o = origin else { return device }
        let x = Double(device &- o.device)
        let y = line?.value(x) ?? 0
        return o.host &+ Int64((configuration.nominalSlope * x + y).rounded())
    }

    /// Current drift estimate of the device clock, ppm (positive: device runs fast; 0 until a slope is known).
    public var driftPpm: Double { (configuration.nominalSlope / (configuration.nominalSlope + (line?.c ?? 0)) - 1) * 1e6 }

    // MARK: - internals

    private func residualOf(_ p: Point) -> Double {
        guard let o = origin, let l = line else { return 0 }
        let x = Double(p.device &- o.device)
        return Double(p.host &- o.host) - configuration.nominalSlope * x - l.value(x)
    }

    private mutating func resetState() {
        origin = nil
        reps.removeAll()
        bucket.removeAll()
        warmup.removeAll()
        line = nil
        suspect.removeAll()
        segmentPairs = 0
        firstPair = nil
        lastPair = nil
        residualSum2 = 0
        residualMax = 0
        residualSum = 0
        pendingBreakDevice = nil
        lastDevice = nil
        clamped = false
    }

    private mutating func accept(x: Double, y: Double, host: Int64) {
        if let l = line {
            let r = y - l.value(x)
            residualSum += r
            residualSum2 += r * r
            residualMax = Swift.max(residualMax, abs(r))
        }
        segmentPairs += 1
        if host &- bucketStartHost >= configuration.bucketNs && !bucket.isEmpty {
            closeBucket()
            bucketStartHost = host
        }
        bucket.append((x, y))
        if reps.count < 2 {
            warmup.append((x, y))
            refit(points: warmup.map { ($0.x, $0.y, 1.0) }, raw: true)
        }
    }

    private mutating func closeBucket() {
        let rep: (x: Double, y: Double, w: Double)
        if oneSided {
            let m = bucket.min { $0.y - (line?.c ?? 0) * $0.x < $1.y - (line?.c ?? 0) * $1.x }!
            rep = (m.x, m.y, 1)
        } else {
            let ys = bucket.map { $0.y - (line?.c ?? 0) * $0.x }
            let med = LineFit.median(ys)
            let mad = Swift.max(LineFit.madScale(ys.map { $0 - med }), 1)
            var sx = 0.0, sy = 0.0, n = 0.0
            for (i, p) in bucket.enumerated() where abs(ys[i] - med) <= 4 * mad {
                sx += p.x
                sy += p.y
                n += 1
            }
            rep = (sx / n, sy / n, n)
        }
        bucket.removeAll(keepingCapacity: true)
        reps.append(rep)
        if reps.count > configuration.windowBuckets { reps.removeFirst(reps.count - configuration.windowBuckets) }
        if reps.count >= 2 {
            warmup.removeAll()
            refit(points: reps, raw: false)
        }
    }

    private mutating func refit(points: [(Double, Double, Double)], raw: Bool) {
        let x = points.map { $0.0 }, y = points.map { $0.1 }
        if x.count == 1 || (x.max()! - x.min()!) <= 0 || (raw && spanHostNs(x) < Double(configuration.bucketNs) / 2) {
            // One pair, or less than half a bucket: a slope from so short a span is noise;
            // an offset on the carried (previous segment's) or nominal slope.
            let c = carriedC
            let off = x.indices.map { y[$0] - c * (x[$0] - x[0]) }
            let yc = oneSided ? off.min()! : LineFit.median(off)
            line = LocalLine(xc: x[0], yc: yc, c: c, scale: 0, seYc: 0, seC: 0, inliers: x.count)
            clamped = false
            return
        }
        if oneSided {
            line = raw && x.count < 24 ? lowerHullOnly(x: x, y: y) : LineFit.lowerEnvelope(x: x, y: y, window: raw ? 8 : 1)
        } else if raw {
            line = LineFit.huber(x: x, y: y)
        } else {
            // weighted by bucket counts; representatives are already outlier-free
            let w = points.map { $0.2 }
            if let ls = LineFit.weightedLS(x: x, y: y, w: w) {
                line = LocalLine(xc: ls.xc, yc: ls.yc, c: ls.c, scale: line?.scale ?? 0, seYc: 0, seC: 0, inliers: x.count)
                var r2 = 0.0
                for i in x.indices { r2 += pow2(y[i] - line!.value(x[i])) }
                line!.scale = (r2 / Double(x.count)).squareRoot()
            }
        }
        // Early in a segment a slope from a short span is noise: limit it to +-500 ppm.
        clamped = false
        if var l = line {
            let lim = 5e-4 * configuration.nominalSlope
            if abs(l.c) > lim {
                // Keep the line through the centroid it was fitted at, with the limited slope.
                l.c = l.c > 0 ? lim : -lim
                line = l
                clamped = true
            }
        }
    }

    private func spanHostNs(_ x: [Double]) -> Double {
        (x.max()! - x.min()!) * configuration.nominalSlope
    }

    private func lowerHullOnly(x: [Double], y: [Double]) -> LocalLine {
        // Few points: the lowest point, with the slope of the hull edge under the centroid.
        let idx = Array(x.indices)
        let hull = LineFit.lowerHull(x: x, y: y, indices: idx)
        let xbar = x.reduce(0, +) / Double(x.count)
        if hull.count < 2 {
            return LocalLine(xc: x[hull[0]], yc: y[hull[0]], c: 0, scale: 0, seYc: 0, seC: 0, inliers: x.count)
        }
        var e = 0
        while e < hull.count - 2 && x[hull[e + 1]] < xbar { e += 1 }
        let a = hull[e], b = hull[e + 1]
        let c = (y[b] - y[a]) / (x[b] - x[a])
        return LocalLine(xc: xbar, yc: y[a] + c * (xbar - x[a]), c: c, scale: 0, seYc: 0, seC: 0, inliers: x.count)
    }

    private func currentSegment() -> ClockSegment? {
        guard let o = origin, let f = firstPair else { return nil }
        let l = line ?? LocalLine(xc: 0, yc: 0, c: 0, scale: 0, seYc: 0, seC: 0, inliers: 1)
        let last = lastPair ?? f
        let ns = configuration.nominalSlope
        let refDevice = o.device &+ Int64(l.xc.rounded())
        let xr = Double(refDevice &- o.device)
        let refHostD = Double(o.host) + ns * xr + l.value(xr)
        let n = Double(Swift.max(segmentPairs - 1, 1))
        return ClockSegment(
            reason: reason, method: segmentPairs < 2 ? .offsetOnly : (oneSided ? .lowerEnvelope : .huber),
            deviceStart: pendingBreakDevice ?? f.device, firstPairDevice: f.device, lastPairDevice: last.device,
            firstPairHost: f.host, lastPairHost: last.host, referenceDevice: refDevice,
            referenceHost: Int64(refHostD.rounded()), slope: ns + l.c, nominalSlope: ns, driftPpm: (ns / (ns + l.c) - 1) * 1e6,
            offsetNs: refHostD - ns * Double(refDevice), pairCount: segmentPairs, inlierCount: segmentPairs,
            residualRmsNs: (residualSum2 / n).squareRoot(), residualMaxAbsNs: residualMax,
            residualMeanNs: residualSum / n, offsetStdErrNs: l.seYc, driftStdErrPpm: l.seC / ns * 1e6,
            slopeClamped: clamped ? true : nil)
    }
}

@inline(__always) private func pow2(_ v: Double) -> Double { v * v }
