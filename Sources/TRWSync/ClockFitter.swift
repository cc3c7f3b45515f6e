import TRWCore

/// A known discontinuity of a stream's clock: a new segment starts there.
public struct ClockBreak: Sendable, Equatable, Codable {
    /// Where the break is.
    public enum Position: Sendable, Equatable, Codable {
        /// Before the pair with this index in the `pairs` array given to the fitter.
        case pairIndex(Int)
        /// At this device time / sample index: the segment starts at the first
        /// pair whose device time crosses it (previous < value <= this).
        case device(Int64)
        /// At this host CLOCK_MONOTONIC time (e.g. a `GapEvent.startHostNs`):
        /// the segment starts at the first pair with host >= value.
        case host(Nanoseconds)
    }

    public var position: Position
    public var reason: SegmentReason

    public init(_ position: Position, reason: SegmentReason) {
        self.position = position
        self.reason = reason
    }

    /// The break a `GapEvent` implies (xrun -> .xrun, others -> .gap), placed at its start host time.
    public init(gap: GapEvent) {
        self.position = .host(gap.startHostNs)
        self.reason = gap.kind == .xrun ? .xrun : .gap
    }
}

/// Offline clock fitter: splits a stream's pairs into segments and fits each
/// on its own, robustly.
///
/// Segments start at known breaks, at device resets (device time going
/// backwards) and at offset jumps larger than the jump threshold, found in the
/// residuals of a preliminary robust fit.
public struct ClockFitter: Sendable {
    /// Which estimator fits each segment.
    public enum Mode: String, Sendable, Codable, CaseIterable {
        /// Symmetric jitter around the true time: Huber IRLS line fit.
        case symmetric
        /// One-sided delay (arrival is never early): lower envelope.
        case oneSided = "one_sided"
        /// Chooses per segment from the skew of the residuals of a Huber fit
        /// (one-sided when (q95 - q50) / (q50 - q05) > 2: about 3.6 for exponential
        /// delay, 1 for symmetric jitter; a few per cent of outliers do not move q05/q95).
        case automatic
    }

    public struct Configuration: Sendable, Codable, Equatable {
        public var mode: Mode
        /// Host ns per device unit at the nominal rate: 1 for a ns device clock,
        /// 1e9 / sampleRate for a sample index.
        public var nominalSlope: Double
        /// An offset step larger than this (ns) splits a segment. The effective
        /// threshold is max(this, `jumpScaleFactor` * robust residual scale).
        public var jumpThresholdNs: Double
        public var jumpScaleFactor: Double
        /// Pairs on each side used to confirm a jump (medians compared).
        public var jumpConfirmPairs: Int
        /// Below this many pairs a segment gets an offset only (slope from a neighbour).
        public var minimumPairsForSlope: Int
        /// Window of the minimum-delay filter (one-sided mode), pairs.
        public var envelopeWindow: Int
        /// Resolution of the device time, device units (e.g. 1e6 for a ms-resolution
        /// clock in ns). Truncation/rounding of the device time is a symmetric error of
        /// +-resolution/2 which the lower envelope would pick at its extreme, so the
        /// envelope is raised by nominalSlope * resolution / 2.
        public var deviceResolution: Double

        public init(mode: Mode = .automatic, nominalSlope: Double = 1, jumpThresholdNs: Double = 2_000_000,
                    jumpScaleFactor: Double = 10, jumpConfirmPairs: Int = 8, minimumPairsForSlope: Int = 8,
                    envelopeWindow: Int = 8, deviceResolution: Double = 0) {
            self.mode = mode
            self.nominalSlope = nominalSlope
            self.jumpThresholdNs = jumpThresholdNs
            self.jumpScaleFactor = jumpScaleFactor
            self.jumpConfirmPairs = jumpConfirmPairs
            self.minimumPairsForSlope = minimumPairsForSlope
            self.envelopeWindow = envelopeWindow
            self.deviceResolution = deviceResolution
        }
    }

    public var configuration: Configuration

    public init(_ configuration: Configuration = Configuration()) {
        self.configuration = configuration
    }

    public init(mode: Mode, nominalSlope: Double = 1) {
        self.configuration = Configuration(mode: mode, nominalSlope: nominalSlope)
    }

    /// A short description stored with the model.
    public var description: String {
        let c = configuration
        return "ClockFitter(mode: \(c.mode.rawValue), nominalSlope: \(c.nominalSlope), jump: \(c.jumpThresholdNs) ns, "
            + "minPairs: \(c.minimumPairsForSlope), envelopeWindow: \(c.envelopeWindow), resolution: \(c.deviceResolution))"
    }

    /// Fits `pairs` (in the order they were observed) into a clock model.
    public func fit(_ pairs: [ClockPair], breaks: [ClockBreak] = []) -> ClockModel {
        guard !pairs.isEmpty else { return ClockModel(segments: [], fitter: description) }
        // 1. known breaks and resets
        var starts: [Int: (reason: SegmentReason, deviceStart: Int64?)] = [0: (.start, nil)]
        for b in breaks {
            switch b.position {
            case .pairIndex(let i):
                if i > 0 && i < pairs.count { starts[i] = (b.reason, nil) }
            case .device(let d):
                // A break at or before the first pair changes nothing: the first segment starts there anyway.
                if let i = (1..<Swift.max(1, pairs.count)).first(where: { pairs[$0 - 1].device < d && pairs[$0].device >= d }) {
                    starts[i] = (b.reason, d)
                }
            case .host(let h):
                if let i = pairs.firstIndex(where: { $0.host >= h }), i > 0 { starts[i] = (b.reason, nil) }
            }
        }
        for i in 1..<pairs.count where pairs[i].device < pairs[i - 1].device {
            starts[i] = (.reset, nil)
        }
        // 2. jumps within each known piece
        let known = starts.keys.sorted()
        var pieces: [(range: Range<Int>, reason: SegmentReason, deviceStart: Int64?)] = []
        for (k, s) in known.enumerated() {
            let end = k + 1 < known.count ? known[k + 1] : pairs.count
            let info = starts[s]!
            let sub = splitAtJumps(pairs, s..<end)
            for (j, r) in sub.enumerated() {
                pieces.append((r, j == 0 ? info.reason : .jump, j == 0 ? info.deviceStart : nil))
            }
        }
        // 3. fit each piece
        var segments: [ClockSegment?] = pieces.map { p in
            p.range.count >= configuration.minimumPairsForSlope
                ? fitSegment(pairs, p.range, reason: p.reason, deviceStart: p.deviceStart) : nil
        }
        // Short pieces: offset only, slope of the nearest fitted segment (same oscillator).
        for (k, p) in pieces.enumerated() where segments[k] == nil {
            var slope = configuration.nominalSlope
            var d = 1
            search: while d < pieces.count {
                for j in [k - d, k + d] where j >= 0 && j < pieces.count {
                    if let s = segments[j], s.method != .offsetOnly { slope = s.slope; break search }
                }
                d += 1
            }
            segments[k] = offsetOnlySegment(pairs, p.range, slope: slope, reason: p.reason, deviceStart: p.deviceStart)
        }
        return ClockModel(segments: segments.map { $0! }, fitter: description)
    }

    // MARK: - Segment fitting

    private func local(_ pairs: [ClockPair], _ range: Range<Int>) -> (x: [Double], y: [Double], d0: Int64, h0: Int64) {
        let d0 = pairs[range.lowerBound].device, h0 = pairs[range.lowerBound].host
        let ns = configuration.nominalSlope
        var x = [Double](), y = [Double]()
        x.reserveCapacity(range.count)
        y.reserveCapacity(range.count)
        for i in range {
            let dx = Double(pairs[i].device &- d0)
            x.append(dx)
            y.append(Double(pairs[i].host &- h0) - ns * dx)
        }
        return (x, y, d0, h0)
    }

    private func chooseLine(x: [Double], y: [Double]) -> (LocalLine, FitMethod) {
        func envelope() -> LocalLine {
            var l = LineFit.lowerEnvelope(x: x, y: y, window: configuration.envelopeWindow)
            l.yc += configuration.nominalSlope * configuration.deviceResolution / 2
            return l
        }
        switch configuration.mode {
        case .symmetric:
            return (LineFit.huber(x: x, y: y), .huber)
        case .oneSided:
            return (envelope(), .lowerEnvelope)
        case .automatic:
            let h = LineFit.huber(x: x, y: y)
            if x.count >= 20 && LineFit.skewRatio(x: x, y: y, line: h) > 2 {
                return (envelope(), .lowerEnvelope)
            }
            return (h, .huber)
        }
    }

    func fitSegment(_ pairs: [ClockPair], _ range: Range<Int>, reason: SegmentReason, deviceStart: Int64?) -> ClockSegment {
        let (x, y, d0, h0) = local(pairs, range)
        let (line, method) = chooseLine(x: x, y: y)
        return makeSegment(pairs, range, x: x, y: y, d0: d0, h0: h0, line: line, method: method, reason: reason,
                           deviceStart: deviceStart)
    }

    private func offsetOnlySegment(_ pairs: [ClockPair], _ range: Range<Int>, slope: Double, reason: SegmentReason,
                                   deviceStart: Int64?) -> ClockSegment {
        let (x, y, d0, h0) = local(pairs, range)
        let c = slope - configuration.nominalSlope
        let off = x.indices.map { y[$0] - c * x[$0] }
        // one-sided: the least offset; otherwise the median
        let useMin = configuration.mode == .oneSided
        let yc = useMin ? (off.min() ?? 0) : LineFit.median(off)
        let r = off.map { $0 - yc }
        let line = LocalLine(xc: 0, yc: yc, c: c, scale: LineFit.madScale(r), seYc: LineFit.madScale(r),
                             seC: 0, inliers: range.count)
        return makeSegment(pairs, range, x: x, y: y, d0: d0, h0: h0, line: line, method: .offsetOnly, reason: reason,
                           deviceStart: deviceStart)
    }

    private func makeSegment(_ pairs: [ClockPair], _ range: Range<Int>, x: [Double], y: [Double], d0: Int64, h0: Int64,
                             line: LocalLine, method: FitMethod, reason: SegmentReason, deviceStart: Int64?) -> ClockSegment {
        let ns = configuration.nominalSlope
        let refDevice = d0 &+ Int64(line.xc.rounded())
        let xr = Double(refDevice &- d0)
        let yr = line.value(xr)
        let refHostD = Double(h0) + ns * xr + yr
        let refHost = Int64(refHostD.rounded())
        let slope = ns + line.c
        var sum = 0.0, sum2 = 0.0, maxAbs = 0.0
        for i in x.indices {
            let r = y[i] - line.value(x[i])
            sum += r
            sum2 += r * r
            maxAbs = Swift.max(maxAbs, abs(r))
        }
        let n = Double(x.count)
        return ClockSegment(
            reason: reason, method: method,
            deviceStart: deviceStart ?? pairs[range.lowerBound].device,
            firstPairDevice: pairs[range.lowerBound].device, lastPairDevice: pairs[range.upperBound - 1].device,
            firstPairHost: pairs[range.lowerBound].host, lastPairHost: pairs[range.upperBound - 1].host,
            referenceDevice: refDevice, referenceHost: refHost, slope: slope, nominalSlope: ns,
            driftPpm: (ns / slope - 1) * 1e6,
            offsetNs: refHostD - ns * Double(refDevice),
            pairCount: x.count, inlierCount: line.inliers,
            residualRmsNs: (sum2 / n).squareRoot(), residualMaxAbsNs: maxAbs, residualMeanNs: sum / n,
            offsetStdErrNs: line.seYc, driftStdErrPpm: line.seC / ns * 1e6)
    }

    // MARK: - Jump detection

    /// Splits `range` where the residual offset steps by more than the threshold,
    /// confirmed by comparing the medians of `jumpConfirmPairs` residuals on
    /// each side (a single outlier is not a jump). Recursive binary segmentation.
    func splitAtJumps(_ pairs: [ClockPair], _ range: Range<Int>) -> [Range<Int>] {
        let k = configuration.jumpConfirmPairs
        guard range.count >= 2 * k else { return [range] }
        let (x, y, _, _) = local(pairs, range)
        let pre = LineFit.huber(x: x, y: y)
        let r = x.indices.map { y[$0] - pre.value(x[$0]) }
        // Scale from first differences, which a step does not inflate (a step
        // inflates the MAD of the residuals themselves).
        let diffs = (1..<r.count).map { r[$0] - r[$0 - 1] }
        let scale = LineFit.madScale(diffs) / 2.0.squareRoot()
        let threshold = Swift.max(configuration.jumpThresholdNs, configuration.jumpScaleFactor * scale)
        var best: (index: Int, step: Double)? = nil
        for i in k...(r.count - k) where abs(r[i] - r[i - 1]) > threshold / 2 {
            let before = LineFit.median(Array(r[(i - k)..<i]))
            let after = LineFit.median(Array(r[i..<(i + k)]))
            let step = abs(after - before)
            if step > threshold && step > (best?.step ?? 0) { best = (i, step) }
        }
        guard let b = best else { return [range] }
        let split = range.lowerBound + b.index
        return splitAtJumps(pairs, range.lowerBound..<split) + splitAtJumps(pairs, split..<range.upperBound)
    }
}
