/// Robust straight-line fits used by the clock fitters.
///
/// All fits work in local coordinates: `x = device - d0` (device units) and
/// `y = host - h0 - nominalSlope * x` (ns), i.e. the offset of each pair from
/// the nominal-rate line through the first pair. Offsets stay small (jitter
/// plus drift times duration), so Double sums keep sub-nanosecond precision
/// even over hours of recording.

/// A fitted line y = yc + c * (x - xc) in local coordinates, with statistics.
struct LocalLine: Sendable, Equatable {
    /// Reference abscissa (weighted centroid of the data), device units.
    var xc: Double
    /// Line value at `xc`, ns.
    var yc: Double
    /// Slope excess over the nominal slope, ns per device unit.
    var c: Double
    /// Robust scale of the residuals, ns.
    var scale: Double
    /// Standard errors: of `yc` (ns) and of `c` (ns per device unit).
    var seYc: Double
    var seC: Double
    /// Points that kept full or partial weight.
    var inliers: Int

    func value(_ x: Double) -> Double { yc + c * (x - xc) }
}

enum LineFit {
    /// Median of a copy of `v` (0 for an empty array).
    static func median(_ v: [Double]) -> Double {
        guard !v.isEmpty else { return 0 }
        var s = v
        let n = s.count
        if n < 64 {
            s.sort()
            return n % 2 == 1 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2])
        }
        let hi = select(&s, n / 2)
        if n % 2 == 1 { return hi }
        // after selection, s[..<n/2] holds the smaller half
        var lo = -Double.infinity
        for i in 0..<(n / 2) where s[i] > lo { lo = s[i] }
        return 0.5 * (lo + hi)
    }

    /// Hoare's quickselect (median-of-three pivot): the k-th smallest value,
    /// with smaller values moved before index k. Expected O(n).
    static func select(_ a: inout [Double], _ k: Int) -> Double {
        var lo = 0, hi = a.count - 1
        while hi > lo {
            let mid = lo + (hi - lo) / 2
            if a[mid] < a[lo] { a.swapAt(mid, lo) }
            if a[hi] < a[lo] { a.swapAt(hi, lo) }
            if a[hi] < a[mid] { a.swapAt(hi, mid) }
            let pivot = a[mid]
            var i = lo, j = hi
            while i <= j {
                while a[i] < pivot { i += 1 }
                while a[j] > pivot { j -= 1 }
                if i <= j {
                    a.swapAt(i, j)
                    i += 1
                    j -= 1
                }
            }
            if k <= j { hi = j } else if k >= i { lo = i } else { return a[k] }
        }
        return a[k]
    }

    /// Quantile q in [0, 1] of sorted data (linear interpolation).
    static func quantile(sorted s: [Double], _ q: Double) -> Double {
        guard !s.isEmpty else { return 0 }
        let pos = q * Double(s.count - 1)
        let lo = Int(pos.rounded(.down))
        let hi = Swift.min(lo + 1, s.count - 1)
        return s[lo] + (s[hi] - s[lo]) * (pos - Double(lo))
    }

    /// Normalised median absolute deviation about zero: median(|r|) / 0.6745,
    /// a consistent estimate of sigma for Gaussian residuals.
    static func madScale(_ r: [Double]) -> Double {
        median(r.map { abs($0) }) / 0.674_489_75
    }

    /// Weighted least squares line, centred. Returns nil if the x spread is zero.
    static func weightedLS(x: [Double], y: [Double], w: [Double]) -> (xc: Double, yc: Double, c: Double, sw: Double, sxx: Double)? {
        var sw = 0.0, sx = 0.0, sy = 0.0
        for i in x.indices {
            sw += w[i]
            sx += w[i] * x[i]
            sy += w[i] * y[i]
        }
        guard sw > 0 else { return nil }
        let xc = sx / sw, yc = sy / sw
        var sxx = 0.0, sxy = 0.0
        for i in x.indices {
            let dx = x[i] - xc
            sxx += w[i] * dx * dx
            sxy += w[i] * dx * (y[i] - yc)
        }
        guard sxx > 0 else { return (xc, yc, 0, sw, 0) }
        return (xc, yc, sxy / sxx, sw, sxx)
    }

    /// A robust starting line: the points are cut into up to 16 blocks in
    /// order of x; the line goes through the medians of the first and last
    /// third of blocks (a resistant line in the spirit of Tukey's three-group
    /// method), so up to ~1/3 of any block may be outliers.
    static func resistantStart(x: [Double], y: [Double]) -> (xc: Double, yc: Double, c: Double) {
        let n = x.count
        if n < 6 {
            let xm = median(x), ym = median(y)
            if let ls = weightedLS(x: x, y: y, w: [Double](repeating: 1, count: n)) {
                return (xm, ym, ls.c)
            }
            return (xm, ym, 0)
        }
        let third = n / 3
        let xl = median(Array(x[0..<third])), yl = median(Array(y[0..<third]))
        let xr = median(Array(x[(n - third)..<n])), yr = median(Array(y[(n - third)..<n]))
        let c = xr > xl ? (yr - yl) / (xr - xl) : 0
        let xm = median(x)
        let ym = median(zip(x, y).map { $0.1 - c * ($0.0 - xm) })
        return (xm, ym, c)
    }

    /// Huber M-estimator of a line by iteratively reweighted least squares.
    ///
    /// Huber (1964), "Robust estimation of a location parameter"; IRLS as in
    /// Holland & Welsch (1977), "Robust regression using iteratively reweighted
    /// least-squares". Weights w = min(1, k s / |r|) with k = 1.345 (95 %
    /// Gaussian efficiency) and s the normalised MAD of the residuals,
    /// re-estimated each iteration. Starts from `resistantStart`.
    static func huber(x: [Double], y: [Double], k: Double = 1.345, maxIterations: Int = 30) -> LocalLine {
        let n = x.count
        precondition(n > 0 && n == y.count)
        var (xc, yc, c) = resistantStart(x: x, y: y)
        var w = [Double](repeating: 1, count: n)
        var r = [Double](repeating: 0, count: n)
        var s = 0.0
        var sw = Double(n), sxx = 0.0
        for _ in 0..<maxIterations {
            for i in 0..<n { r[i] = y[i] - (yc + c * (x[i] - xc)) }
            s = Swift.max(madScale(r), 1e-3)
            for i in 0..<n {
                let a = abs(r[i])
                w[i] = a <= k * s ? 1 : k * s / a
            }
            guard let ls = weightedLS(x: x, y: y, w: w) else { break }
            let oldAtNew = yc + c * (ls.xc - xc)
            let change = abs(ls.yc - oldAtNew) + abs(ls.c - c) * (x.last! - x.first!)
            (xc, yc, c, sw, sxx) = (ls.xc, ls.yc, ls.c, ls.sw, ls.sxx)
            if change < 1e-3 { break }
        }
        for i in 0..<n { r[i] = y[i] - (yc + c * (x[i] - xc)) }
        s = Swift.max(madScale(r), 1e-3)
        let inliers = r.reduce(0) { $0 + (abs($1) <= 3 * s ? 1 : 0) }
        let seYc = s / sw.squareRoot()
        let seC = sxx > 0 ? s / sxx.squareRoot() : 0
        return LocalLine(xc: xc, yc: yc, c: c, scale: s, seYc: seYc, seC: seC, inliers: inliers)
    }

    /// Lower convex hull (Andrew's monotone chain) of points sorted by x; returns indices.
    static func lowerHull(x: [Double], y: [Double], indices: [Int]) -> [Int] {
        var hull: [Int] = []
        hull.reserveCapacity(64)
        for i in indices {
            while hull.count >= 2 {
                let a = hull[hull.count - 2], b = hull[hull.count - 1]
                // Remove b if it is not strictly below the segment a -> i.
                let cross = (x[b] - x[a]) * (y[i] - y[a]) - (y[b] - y[a]) * (x[i] - x[a])
                if cross <= 0 { hull.removeLast() } else { break }
            }
            if let last = hull.last, x[last] == x[i] {
                if y[i] < y[last] { hull[hull.count - 1] = i }
                continue
            }
            hull.append(i)
        }
        return hull
    }

    /// Lower-envelope fit for one-sided delays (host is always late).
    ///
    /// 1. Minimum-delay filter: the points are cut into windows of `window`
    ///    consecutive pairs and the one with the least offset is kept from each
    ///    (the NTP clock filter keeps the minimum-delay sample of its last 8,
    ///    RFC 5905 section 10; LSL keeps the minimum-RTT probe of each burst).
    /// 2. A Huber fit through these minima gives a robust preliminary line and
    ///    scale; points more than `rejectK` scales *below* it are rejected as
    ///    early outliers (a delay cannot be negative, so they are faults).
    /// 3. The line under all remaining points that maximises its height at the
    ///    centroid is the linear programme of Moon, Skelly & Towsley (1999),
    ///    "Estimation and removal of clock skew from network delay
    ///    measurements": minimise sum(y_i - line(x_i)) subject to
    ///    line(x_i) <= y_i. Its solution is the lower-hull edge above the mean x.
    static func lowerEnvelope(x: [Double], y: [Double], window: Int = 8, rejectK: Double = 6) -> LocalLine {
        let n = x.count
        precondition(n > 0 && n == y.count)
        if n < 3 { return huber(x: x, y: y) }
        // 1. windowed minima
        let wsize = Swift.max(1, Swift.min(window, n / 3))
        var mx: [Double] = [], my: [Double] = []
        var i = 0
        while i < n {
            let end = Swift.min(n, i + wsize)
            var best = i
            for j in i..<end where y[j] < y[best] { best = j }
            mx.append(x[best])
            my.append(y[best])
            i = end
        }
        // 2. preliminary robust line through the minima
        let pre = huber(x: mx, y: my)
        let floor = Swift.max(pre.scale, 1.0)
        var keep: [Int] = []
        keep.reserveCapacity(n)
        for j in 0..<n where y[j] - pre.value(x[j]) >= -rejectK * floor { keep.append(j) }
        if keep.count < 2 { return pre }
        // 3. lower hull and the LP solution at the centroid of kept points
        var sx = 0.0
        for j in keep { sx += x[j] }
        let xbar = sx / Double(keep.count)
        let hull = lowerHull(x: x, y: y, indices: keep)
        var line: (xc: Double, yc: Double, c: Double)
        if hull.count < 2 {
            line = (pre.xc, pre.value(pre.xc), pre.c)
        } else {
            var e = 0
            while e < hull.count - 2 && x[hull[e + 1]] < xbar { e += 1 }
            let a = hull[e], b = hull[e + 1]
            let c = (y[b] - y[a]) / (x[b] - x[a])
            line = (xbar, y[a] + c * (xbar - x[a]), c)
        }
        // Statistics: residuals are delays above the envelope (>= 0 for kept points).
        var sum = 0.0
        var sxx = 0.0
        for j in keep {
            let r = y[j] - (line.yc + line.c * (x[j] - line.xc))
            sum += r
            let dx = x[j] - xbar
            sxx += dx * dx
        }
        let meanDelay = sum / Double(keep.count)
        // Error heuristic: with exponential delays of mean m over n points, the
        // LP estimator's offset error is O(m / n); we report the more cautious
        // m / sqrt(n) (as if the minima were Gaussian), and the matching slope error.
        let kept = Double(keep.count)
        let seYc = meanDelay / kept.squareRoot()
        let seC = sxx > 0 ? meanDelay / sxx.squareRoot() : 0
        return LocalLine(xc: line.xc, yc: line.yc, c: line.c, scale: meanDelay, seYc: seYc, seC: seC, inliers: keep.count)
    }

    /// Right-skew of residuals around a robust line: (q95 - q50) / (q50 - q05)
    /// (Bowley-style quantile skewness). About 1 for symmetric jitter, about 3.6
    /// for exponential (one-sided) delay.
    static func skewRatio(x: [Double], y: [Double], line: LocalLine) -> Double {
        var r = zip(x, y).map { $0.1 - line.value($0.0) }
        r.sort()
        let q05 = quantile(sorted: r, 0.05), q50 = quantile(sorted: r, 0.5), q95 = quantile(sorted: r, 0.95)
        let lower = q50 - q05
        return lower > 0 ? (q95 - q50) / lower : 1
    }
}
