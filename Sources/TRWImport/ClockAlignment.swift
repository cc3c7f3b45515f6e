import Foundation
import TRWSync

/// Placing an imported file's own time on the session's time base:
/// session time = offset + (1 + drift) * file time (seconds), found by cross-correlating a
/// signal the file shares with a recorded stream, or from the file's absolute timestamps.
public enum ClockAlignment {
    /// The fitted line and its uncertainty.
    public struct Fit: Sendable, Equatable {
        /// Session time (s) of file time 0.
        public var offsetS: Double
        /// Session seconds per file second, minus 1 (positive: the file's clock runs slow).
        public var rateError: Double
        /// Standard error of the session time at `referenceFileS` (s), and of `rateError`.
        public var offsetStdErrS: Double
        public var rateStdErr: Double
        /// File time (s) at which the offset error is smallest (the centroid of the windows).
        public var referenceFileS: Double
        /// Windows whose offsets went into the line, windows tried, and their offsets' residuals.
        public var windowsUsed: Int
        public var windowsTried: Int
        public var residualRmsS: Double
        public var residualMaxS: Double
        /// Lowest and median peak correlation of the windows used (1 for timestamps).
        public var minPeakCorrelation: Double
        public var medianPeakCorrelation: Double
        public var method: FitMethod
        /// False when the fitted drift was within two standard errors of zero: the model then
        /// assumes none (rate nominal) and keeps the drift's standard error as its uncertainty.
        public var driftResolved: Bool = true

        /// Session time (s) of file time `t` (s).
        public func sessionTime(fileS t: Double) -> Double { offsetS + (1 + rateError) * t }

        /// Device clock drift in the store's sense, ppm: positive when the file's clock runs fast.
        public var driftPpm: Double { (1 / (1 + rateError) - 1) * 1e6 }
        public var driftStdErrPpm: Double { rateStdErr * 1e6 }

        /// Standard error of the session time of file time `t`, s.
        public func stdErrS(fileS t: Double) -> Double {
            let dt = t - referenceFileS
            return (offsetStdErrS * offsetStdErrS + rateStdErr * rateStdErr * dt * dt).squareRoot()
        }
    }

    public struct Settings: Sendable, Equatable {
        /// Windows the file's overlap with the reference is cut into for the drift.
        public var windows: Int = 8
        /// Windows whose best correlation is below this are not used; no window at or above it is an error.
        public var minCorrelation: Double = 0.7
        /// The file and the reference must overlap for at least this fraction of the shorter one.
        public var minOverlapFraction: Double = 0.5
        /// The largest drift searched for (window offsets are looked for within it), ppm.
        public var maxDriftPpm: Double = 2000
        public init() {}
    }

    /// Cross-correlation of `file` (file time s, value) with `reference` (session time s, value).
    /// Pearson correlation over the overlap, so a different gain or offset of the two
    /// instruments (supply terminals vs cycler leads) does not matter.
    public static func crossCorrelate(file: [(t: Double, v: Double)], reference: [(t: Double, v: Double)],
                                      settings: Settings = Settings(), describe: String) throws -> Fit {
        guard file.count >= 20 else { throw ImportError("\(describe): the file has \(file.count) values of the signal; cross-correlation needs at least 20") }
        guard reference.count >= 20 else { throw ImportError("\(describe): the session's stream has \(reference.count) values of the signal; cross-correlation needs at least 20") }
        let f0 = file.first!.t, f1 = file.last!.t
        let r0 = reference.first!.t, r1 = reference.last!.t
        let fileSpan = f1 - f0, refSpan = r1 - r0
        guard fileSpan > 0, refSpan > 0 else { throw ImportError("\(describe): the file or the session's stream spans no time") }
        // Coarse: both signals on one uniform grid, correlation at every whole-step lag.
        let h = max(medianStep(file.map { $0.t }), medianStep(reference.map { $0.t }), (fileSpan + refSpan) / 6000)
        let fg = resample(file, from: f0, step: h, count: Int(fileSpan / h) + 1)
        let rg = resample(reference, from: r0, step: h, count: Int(refSpan / h) + 1)
        let minOverlap = max(10, Int(settings.minOverlapFraction * Double(min(fg.count, rg.count))))
        guard let coarse = bestLag(file: fg, reference: rg, minOverlap: minOverlap) else {
            throw ImportError("\(describe): the file (\(fmt(fileSpan)) s) and the session's stream (\(fmt(refSpan)) s) cannot overlap by "
                              + "\(Int(settings.minOverlapFraction * 100)) % of the shorter one")
        }
        // session time = file time + o  at the coarse lag (parabolic refinement between steps).
        let o0 = r0 - f0 + coarse.lag * h
        guard coarse.r >= settings.minCorrelation else {
            throw ImportError("\(describe): no match: the best correlation over all offsets is \(fmt(coarse.r, 3)) "
                              + "(at least \(settings.minCorrelation) needed); the file may not cover the session, or the signal differs")
        }
        // The file's part that lies inside the reference at the coarse offset.
        let inside = file.filter { $0.t + o0 >= r0 && $0.t + o0 <= r1 }
        guard inside.count >= 20, let a = inside.first?.t, let b = inside.last?.t, b > a else {
            throw ImportError("\(describe): fewer than 20 of the file's values fall inside the session at the best offset")
        }
        let k = max(1, min(settings.windows, inside.count / 20))
        let halfSearch = max(2 * h, settings.maxDriftPpm * 1e-6 * (b - a))
        var centres: [Double] = [], offsets: [Double] = [], peaks: [Double] = []
        // Both signals are compared as what the samples say of a continuous signal: their linear
        // interpolants, on a grid a quarter of the finer sample interval (a sampled step is then
        // a ramp in both, centred without bias, instead of a point against a ramp).
        let g = min(medianStep(file.map { $0.t }), medianStep(reference.map { $0.t })) / 4
        for w in 0..<k {
            let lo = a + (b - a) * Double(w) / Double(k), hi = a + (b - a) * Double(w + 1) / Double(k)
            let n = Int((hi - lo) / g) + 1
            guard n >= 10, file.filter({ $0.t >= lo && $0.t <= hi }).count >= 10 else { continue }
            let grid = (0..<n).map { lo + Double($0) * g }
            var hint = 0
            let values = grid.map { t -> Double in
                while hint + 1 < file.count && file[hint + 1].t < t { hint += 1 }
                return interpolate(file, at: t, hint: hint)
            }
            guard variance(values) > 0 else { continue }
            guard let best = refine(grid: grid, values: values, reference: reference, around: o0, halfWidth: halfSearch, step: h),
                  best.r >= settings.minCorrelation else { continue }
            centres.append((lo + hi) / 2)
            offsets.append(best.offset)
            peaks.append(best.r)
        }
        guard !offsets.isEmpty else {
            throw ImportError("\(describe): no window of the file correlates with the session's stream at \(settings.minCorrelation) or more "
                              + "(the signal is flat or differs); try --signal current or --clock timestamps")
        }
        let finest = h / 20000
        let sorted = peaks.sorted()
        if offsets.count < 3 {
            // Too few windows for a slope: offset only, spread of the windows (or the search step) as its error.
            let o = offsets.reduce(0, +) / Double(offsets.count)
            let spread = offsets.count > 1 ? abs(offsets[1] - offsets[0]) / 2 : h / 12.0.squareRoot()
            return Fit(offsetS: o, rateError: 0, offsetStdErrS: max(spread, finest), rateStdErr: settings.maxDriftPpm * 1e-6,
                       referenceFileS: centres.reduce(0, +) / Double(centres.count), windowsUsed: offsets.count, windowsTried: k,
                       residualRmsS: 0, residualMaxS: 0, minPeakCorrelation: sorted.first!, medianPeakCorrelation: sorted[sorted.count / 2],
                       method: .crossCorrelation, driftResolved: false)
        }
        // Least squares: offset(t) = c + slope * (t - tc).
        let n = Double(offsets.count)
        let tc = centres.reduce(0, +) / n
        let oc = offsets.reduce(0, +) / n
        var sxx = 0.0, sxy = 0.0
        for (t, o) in zip(centres, offsets) { sxx += (t - tc) * (t - tc); sxy += (t - tc) * (o - oc) }
        let slope = sxx > 0 ? sxy / sxx : 0
        let residuals = zip(centres, offsets).map { $1 - (oc + slope * ($0 - tc)) }
        let ss = residuals.reduce(0) { $0 + $1 * $1 }
        let sigma = max((ss / max(n - 2, 1)).squareRoot(), finest)
        let rateSE = sxx > 0 ? sigma / sxx.squareRoot() : settings.maxDriftPpm * 1e-6
        if abs(slope) < 2 * rateSE {
            // The drift is not resolved (a smooth signal, a short file): fitting it would add more
            // error than it removes. Offset only, the drift's standard error kept as its bound.
            let dev = offsets.map { $0 - oc }
            let sd = max((dev.reduce(0) { $0 + $1 * $1 } / max(n - 1, 1)).squareRoot(), finest)
            var f = Fit(offsetS: oc, rateError: 0, offsetStdErrS: sd / n.squareRoot(), rateStdErr: rateSE, referenceFileS: tc,
                        windowsUsed: offsets.count, windowsTried: k, residualRmsS: (dev.reduce(0) { $0 + $1 * $1 } / n).squareRoot(),
                        residualMaxS: dev.map { abs($0) }.max() ?? 0, minPeakCorrelation: sorted.first!,
                        medianPeakCorrelation: sorted[sorted.count / 2], method: .crossCorrelation)
            f.driftResolved = false
            return f
        }
        return Fit(offsetS: oc - slope * tc, rateError: slope, offsetStdErrS: sigma / n.squareRoot(),
                   rateStdErr: rateSE, referenceFileS: tc,
                   windowsUsed: offsets.count, windowsTried: k,
                   residualRmsS: (ss / n).squareRoot(), residualMaxS: residuals.map { abs($0) }.max() ?? 0,
                   minPeakCorrelation: sorted.first!, medianPeakCorrelation: sorted[sorted.count / 2], method: .crossCorrelation)
    }

    /// The file's Unix times against the session's realtime anchor: offset from their mean
    /// difference, rate nominal. `uncertaintyS` is the declared error of the two clocks together.
    public static func timestamps(rows: [ImportedRow], sessionStartUnixS: Double, uncertaintyS: Double, describe: String) throws -> Fit {
        let pairs = rows.compactMap { r in r.unixTimeS.map { (r.timeS, $0 - sessionStartUnixS) } }
        guard !pairs.isEmpty else {
            throw ImportError("\(describe): --clock timestamps needs absolute times in the file (BDF 'Unix Time / s', CSV --timestamp-column); it has none")
        }
        // Each row: session time - file time. Their mean is the offset; their spread says whether
        // the file's elapsed time and its timestamps agree.
        let d = pairs.map { $0.1 - $0.0 }
        let mean = d.reduce(0, +) / Double(d.count)
        let rms = (d.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(d.count)).squareRoot()
        let maxDev = d.map { abs($0 - mean) }.max() ?? 0
        return Fit(offsetS: mean, rateError: 0, offsetStdErrS: max(uncertaintyS, rms), rateStdErr: 0,
                   referenceFileS: pairs.map { $0.0 }.reduce(0, +) / Double(pairs.count), windowsUsed: pairs.count, windowsTried: pairs.count,
                   residualRmsS: rms, residualMaxS: maxDev, minPeakCorrelation: 1, medianPeakCorrelation: 1, method: .timestamps,
                   driftResolved: false)
    }

    // MARK: - pieces

    static func medianStep(_ t: [Double]) -> Double {
        guard t.count > 1 else { return 1 }
        var d = zip(t.dropFirst(), t).map { $0 - $1 }.filter { $0 > 0 }
        guard !d.isEmpty else { return 1 }
        d.sort()
        return d[d.count / 2]
    }

    /// Linear interpolation of a sorted series at `count` points from `from` every `step`.
    static func resample(_ s: [(t: Double, v: Double)], from: Double, step: Double, count: Int) -> [Double] {
        var out = [Double](repeating: 0, count: max(count, 0))
        var j = 0
        for i in 0..<out.count {
            let t = from + Double(i) * step
            while j + 1 < s.count && s[j + 1].t < t { j += 1 }
            out[i] = interpolate(s, at: t, hint: j)
        }
        return out
    }

    @inline(__always)
    static func interpolate(_ s: [(t: Double, v: Double)], at t: Double, hint j: Int) -> Double {
        if t <= s[0].t { return s[0].v }
        if t >= s[s.count - 1].t { return s[s.count - 1].v }
        var k = min(max(j, 0), s.count - 2)
        while k > 0 && s[k].t > t { k -= 1 }
        while k + 1 < s.count - 1 && s[k + 1].t < t { k += 1 }
        let (ta, va) = s[k], (tb, vb) = s[k + 1]
        return tb > ta ? va + (vb - va) * (t - ta) / (tb - ta) : va
    }

    /// Best whole-step lag L (file index j meets reference index j + L) by Pearson correlation
    /// over overlaps of at least `minOverlap` points; the lag is refined by a parabola.
    static func bestLag(file f: [Double], reference r: [Double], minOverlap: Int) -> (lag: Double, r: Double)? {
        let nf = f.count, nr = r.count
        guard nf >= minOverlap, nr >= minOverlap else { return nil }
        // Prefix sums for the means and variances of every overlap.
        var pf = [0.0], pf2 = [0.0], pr = [0.0], pr2 = [0.0]
        for x in f { pf.append(pf.last! + x); pf2.append(pf2.last! + x * x) }
        for x in r { pr.append(pr.last! + x); pr2.append(pr2.last! + x * x) }
        let lags = (-(nf - minOverlap))...(nr - minOverlap)
        var scores = [Double](repeating: -2, count: lags.count)
        for (li, lag) in lags.enumerated() {
            let j0 = max(0, -lag), j1 = min(nf, nr - lag)
            let n = j1 - j0
            guard n >= minOverlap else { continue }
            var dot = 0.0
            f.withUnsafeBufferPointer { fp in
                r.withUnsafeBufferPointer { rp in
                    for j in j0..<j1 { dot += fp[j] * rp[j + lag] }
                }
            }
            let sf = pf[j1] - pf[j0], sf2 = pf2[j1] - pf2[j0]
            let sr = pr[j1 + lag] - pr[j0 + lag], sr2 = pr2[j1 + lag] - pr2[j0 + lag]
            let dn = Double(n)
            let cov = dot - sf * sr / dn
            let vf = sf2 - sf * sf / dn, vr = sr2 - sr * sr / dn
            guard vf > 1e-12 * dn, vr > 1e-12 * dn else { continue }
            scores[li] = cov / (vf * vr).squareRoot()
        }
        guard let bi = scores.indices.max(by: { scores[$0] < scores[$1] }), scores[bi] > -2 else { return nil }
        var lag = Double(lags.lowerBound + bi)
        if bi > 0 && bi < scores.count - 1 && scores[bi - 1] > -2 && scores[bi + 1] > -2 {
            let (ym, y0, yp) = (scores[bi - 1], scores[bi], scores[bi + 1])
            let den = ym - 2 * y0 + yp
            if den < 0 { lag += max(-0.5, min(0.5, 0.5 * (ym - yp) / den)) }
        }
        return (lag, scores[bi])
    }

    /// Pearson correlation of a window's interpolated values (at file times `grid`) with the
    /// reference's interpolant read at file time + offset.
    static func correlation(grid: [Double], values: [Double], reference: [(t: Double, v: Double)], offset: Double, hint start: Int) -> Double {
        var sx = 0.0, sy = 0.0, sxx = 0.0, syy = 0.0, sxy = 0.0
        let n = Double(grid.count)
        var j = start
        for (t0, x) in zip(grid, values) {
            let t = t0 + offset
            while j + 1 < reference.count && reference[j + 1].t < t { j += 1 }
            let y = interpolate(reference, at: t, hint: j)
            sx += x; sy += y; sxx += x * x; syy += y * y; sxy += x * y
        }
        let vx = sxx - sx * sx / n, vy = syy - sy * sy / n
        guard vx > 0, vy > 0 else { return -1 }
        return (sxy - sx * sy / n) / (vx * vy).squareRoot()
    }

    /// The offset (within `around` +- `halfWidth`) that best correlates one window: a grid of
    /// half the coarse step, then four grids ten times finer around the best (to step/20000),
    /// and a parabola through the best and its two neighbours on the last grid.
    static func refine(grid: [Double], values: [Double], reference: [(t: Double, v: Double)], around: Double,
                       halfWidth: Double, step: Double) -> (offset: Double, r: Double)? {
        var lo = around - halfWidth, hi = around + halfWidth
        var d = step / 2
        var best = (offset: around, r: -2.0)
        // The first reference point at the window's earliest possible start (binary search).
        var a = 0, b = reference.count - 1
        let t0 = grid[0] + lo
        while a < b { let m = (a + b) / 2; if reference[m].t < t0 { a = m + 1 } else { b = m } }
        let startHint = max(0, a - 1)
        var lastStep = d
        for _ in 0..<5 {
            var o = lo
            while o <= hi + d * 0.5 {
                let r = correlation(grid: grid, values: values, reference: reference, offset: o, hint: startHint)
                if r > best.r { best = (o, r) }
                o += d
            }
            lastStep = d
            lo = best.offset - d
            hi = best.offset + d
            d /= 10
        }
        guard best.r > -2 else { return nil }
        let rm = correlation(grid: grid, values: values, reference: reference, offset: best.offset - lastStep, hint: startHint)
        let rp = correlation(grid: grid, values: values, reference: reference, offset: best.offset + lastStep, hint: startHint)
        let den = rm - 2 * best.r + rp
        if den < 0 { best.offset += lastStep * max(-0.5, min(0.5, 0.5 * (rm - rp) / den)) }
        return best
    }

    static func variance(_ v: [Double]) -> Double {
        guard v.count > 1 else { return 0 }
        let m = v.reduce(0, +) / Double(v.count)
        return v.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(v.count - 1)
    }

    static func fmt(_ v: Double, _ digits: Int = 1) -> String { String(format: "%.\(digits)f", v) }
}
