import CTRWCodecKernels

/// The spatial predictor of `pfit16-zstd-v1`.
///
/// Interior pixels (row >= 2, 3 <= x < width-3) are predicted by a 17-tap
/// causal window — 3 pixels to the left on the current row and 7 pixels
/// (x-3...x+3) on each of the two rows above — with the weights of the
/// least-squares plane through that window evaluated at the pixel
/// (minimum-norm weights that are exact for any plane a + b*x + c*y).
/// On sensor noise this averages 17 samples instead of 1-3 (MED, delta), so
/// the residual variance is about 1.26 sigma^2 instead of 2 sigma^2.
///
/// Because those weights are linear in dx on each row, the two rows above
/// reduce to a box sum S0 and a ramp sum S1 per row:
///
///     pred = (105*S0[y-1] - 53*S0[y-2] + 23*(S1[y-1] + S1[y-2])
///             + 256*v[x-1] + 180*v[x-2] + 224*v[x-3] + 512) >> 10
///
/// The weights are the least-squares ones in units of 1/1024, except that the
/// left neighbour's is set to exactly 256 (a shift on the decoder's serial
/// path, 243 in the exact solution) and the other two left weights re-solved
/// so that the weights still sum to 1024 and cancel any x and y gradient
/// exactly; this raises the noise gain by under 0.2%. The residual is
/// (v - pred) mod 2^16, zigzagged.
/// Integer arithmetic in Int32 with wrapping adds; the exact sum always fits
/// (|sum| < 2^29), so encoder and decoder agree bit for bit on every platform.
///
/// Borders: pixel (0,0) is predicted as 0; the rest of row 0 by its left
/// neighbour; column 0 of later rows by the pixel above; every other border
/// pixel (row 1, the 3 first and 3 last columns, frames narrower than 7) by
/// (left + above + 1) >> 1.
enum PlaneFit {
    /// Must stay 256: the decoder's serial path relies on it.
    static let wLeft1: Int32 = 256
    static let wLeft2: Int32 = 180
    static let wLeft3: Int32 = 224
    static let wBox1: Int32 = 105
    static let wBox2: Int32 = -53
    static let wRamp: Int32 = 23
    static let rounding: Int32 = 512
    static let shift: Int32 = 10

    @inline(__always)
    static func zigzag(_ e: Int32) -> UInt16 {
        let s = Int16(truncatingIfNeeded: e)
        return UInt16(bitPattern: (s &<< 1) ^ (s >> 15))
    }

    @inline(__always)
    static func unzigzag(_ z: UInt16) -> Int32 {
        Int32(Int16(bitPattern: (z >> 1) ^ (0 &- (z & 1))))
    }

    /// Prediction mod 2^16 (no clamp: residuals are taken mod 2^16, so a
    /// prediction past 0 or 65535 wraps to the same small residual).
    @inline(__always)
    static func interior(_ t: Int32, _ l1: Int32, _ l2: Int32, _ l3: Int32) -> Int32 {
        (t &+ wLeft1 &* l1 &+ wLeft2 &* l2 &+ wLeft3 &* l3) >> shift
    }

    @inline(__always)
    static func border(_ cur: UnsafePointer<UInt16>, _ prev: UnsafePointer<UInt16>, _ x: Int) -> Int32 {
        x == 0 ? Int32(prev[0]) : (Int32(cur[x - 1]) &+ Int32(prev[x]) &+ 1) >> 1
    }

    /// For one row, for 3 <= x < width-3, with box sum S0 = sum of v[x-3...x+3]
    /// and ramp sum S1 = sum of d*v[x+d], d in -3...3:
    /// asRow1 = 105*S0 + 23*S1 (its weight as the row above) and
    /// asRow2 = -53*S0 + 23*S1 (its weight two rows above).
    /// (C kernel `trw_pfit_row_terms`: AVX2 when the CPU has it.)
    @inline(__always)
    static func rowTerms(_ v: UnsafePointer<UInt16>, width: Int,
                         asRow1: UnsafeMutablePointer<Int32>, asRow2: UnsafeMutablePointer<Int32>) {
        trw_pfit_row_terms(v, width, asRow1, asRow2)
    }

    /// Residuals of a whole frame, written as low bytes to `lo` and high bytes to `hi`.
    static func encode(_ p: UnsafePointer<UInt16>, width w: Int, height h: Int,
                       lo: UnsafeMutablePointer<UInt8>, hi: UnsafeMutablePointer<UInt8>,
                       scratch: UnsafeMutablePointer<Int32>) {
        @inline(__always) func put(_ i: Int, _ v: UInt16, _ pred: Int32) {
            let z = zigzag(Int32(v) &- pred)
            lo[i] = UInt8(truncatingIfNeeded: z)
            hi[i] = UInt8(truncatingIfNeeded: z >> 8)
        }
        // Terms of the row above (r1) and of the row two above (r2); each row's
        // terms are computed once and reused for the next two rows.
        var r1 = (scratch, scratch + w), r2 = (scratch + 2 * w, scratch + 3 * w)
        // Row 0.
        put(0, p[0], 0)
        for x in 1..<w { put(x, p[x], Int32(p[x - 1])) }
        for y in 1..<h {
            let cur = p + y * w, prev = cur - w, base = y * w
            if y == 1 || w < 7 {
                for x in 0..<w { put(base + x, cur[x], border(cur, prev, x)) }
                continue
            }
            if y == 2 {
                rowTerms(p, width: w, asRow1: r2.0, asRow2: r2.1)
            } else {
                swap(&r1, &r2)
            }
            rowTerms(prev, width: w, asRow1: r1.0, asRow2: r1.1)
            let t1 = r1.0, t2 = r2.1
            for x in 0..<3 { put(base + x, cur[x], border(cur, prev, x)) }
            // Same arithmetic as `interior` + `zigzag`, in the C kernel (AVX2 when available).
            trw_pfit_encode_interior(cur, t1, t2, w, lo + base, hi + base)
            for x in (w - 3)..<w { put(base + x, cur[x], border(cur, prev, x)) }
        }
    }

    /// Inverse of `encode`.
    static func decode(lo: UnsafePointer<UInt8>, hi: UnsafePointer<UInt8>, width w: Int, height h: Int,
                       into p: UnsafeMutablePointer<UInt16>, scratch: UnsafeMutablePointer<Int32>) {
        @inline(__always) func get(_ i: Int, _ pred: Int32) -> UInt16 {
            let z = UInt16(lo[i]) | UInt16(hi[i]) << 8
            return UInt16(truncatingIfNeeded: pred &+ unzigzag(z))
        }
        // Terms of the row above (r1) and of the row two above (r2); each row's
        // terms are computed once and reused for the next two rows.
        var r1 = (scratch, scratch + w), r2 = (scratch + 2 * w, scratch + 3 * w)
        p[0] = get(0, 0)
        for x in 1..<w { p[x] = get(x, Int32(p[x - 1])) }
        for y in 1..<h {
            let cur = p + y * w, prev = UnsafePointer(cur - w), base = y * w
            if y == 1 || w < 7 {
                for x in 0..<w { cur[x] = get(base + x, border(cur, prev, x)) }
                continue
            }
            if y == 2 {
                rowTerms(p, width: w, asRow1: r2.0, asRow2: r2.1)
            } else {
                swap(&r1, &r2)
            }
            rowTerms(prev, width: w, asRow1: r1.0, asRow2: r1.1)
            let t1 = r1.0, t2 = r2.1
            for x in 0..<3 { cur[x] = get(base + x, border(cur, prev, x)) }
            let lo2 = lo + base, hi2 = hi + base
            var l1 = Int32(cur[2]), l2 = Int32(cur[1]), l3 = Int32(cur[0])
            var x = 3
            let end = w - 3
            while x < end {
                // `interior` rearranged for a short serial path (wLeft1 == 256):
                // floor((b + 256*l1) / 1024) == floor((floor(b / 256) + l1) / 4).
                let base = (t1[x] &+ t2[x] &+ wLeft2 &* l2 &+ wLeft3 &* l3) >> 8
                let pred = (base &+ l1) >> 2
                let z = UInt16(lo2[x]) | UInt16(hi2[x]) << 8
                let v = Int32(UInt16(truncatingIfNeeded: pred &+ unzigzag(z)))
                cur[x] = UInt16(truncatingIfNeeded: v)
                l3 = l2
                l2 = l1
                l1 = v
                x += 1
            }
            for x in (w - 3)..<w { cur[x] = get(base + x, border(cur, prev, x)) }
        }
    }
}

/// The prototype reference: horizontal delta (column 0 from the pixel above),
/// zigzag, byte-plane shuffle; the caller compresses with zstd level 1.
enum DeltaShuffle {
    static func encode(_ p: UnsafePointer<UInt16>, width w: Int, height h: Int,
                       lo: UnsafeMutablePointer<UInt8>, hi: UnsafeMutablePointer<UInt8>) {
        for y in 0..<h {
            let cur = p + y * w, base = y * w
            let z0 = PlaneFit.zigzag(Int32(cur[0]) &- (y == 0 ? 0 : Int32(cur[-w])))
            lo[base] = UInt8(truncatingIfNeeded: z0)
            hi[base] = UInt8(truncatingIfNeeded: z0 >> 8)
            var x = 1
            while x < w {
                let z = PlaneFit.zigzag(Int32(cur[x]) &- Int32(cur[x - 1]))
                lo[base + x] = UInt8(truncatingIfNeeded: z)
                hi[base + x] = UInt8(truncatingIfNeeded: z >> 8)
                x += 1
            }
        }
    }

    static func decode(lo: UnsafePointer<UInt8>, hi: UnsafePointer<UInt8>, width w: Int, height h: Int,
                       into p: UnsafeMutablePointer<UInt16>) {
        for y in 0..<h {
            let cur = p + y * w, base = y * w
            var prev: Int32 = y == 0 ? 0 : Int32(cur[-w])
            for x in 0..<w {
                let z = UInt16(lo[base + x]) | UInt16(hi[base + x]) << 8
                let v = UInt16(truncatingIfNeeded: prev &+ PlaneFit.unzigzag(z))
                cur[x] = v
                prev = Int32(v)
            }
        }
    }
}

extension PlaneFit {
    /// Test hook: the row terms and interior residuals of row `cur` (with the
    /// rows `above1`, `above2` over it) from one kernel variant — baseline
    /// (`wide == false`) or AVX2 — or nil if that variant is unavailable here.
    static func interiorResiduals(wide: Bool, cur: [UInt16], above1: [UInt16], above2: [UInt16])
        -> (lo: [UInt8], hi: [UInt8])?
    {
        let w = cur.count
        precondition(above1.count == w && above2.count == w)
        var r1a = [Int32](repeating: 0, count: w), r1b = r1a, r2a = r1a, r2b = r1a
        var lo = [UInt8](repeating: 0, count: w), hi = lo
        let flag: Int32 = wide ? 1 : 0
        guard trw_pfit_row_terms_variant(flag, above1, w, &r1a, &r1b) == 1,
              trw_pfit_row_terms_variant(flag, above2, w, &r2a, &r2b) == 1,
              trw_pfit_encode_interior_variant(flag, cur, r1a, r2b, w, &lo, &hi) == 1 else { return nil }
        return (lo, hi)
    }

    /// Test hook: the same residuals from the Swift reference arithmetic
    /// (`interior` + `zigzag`), which the decoder uses.
    static func referenceResiduals(cur: [UInt16], above1: [UInt16], above2: [UInt16]) -> (lo: [UInt8], hi: [UInt8]) {
        let w = cur.count
        var lo = [UInt8](repeating: 0, count: w), hi = lo
        guard w >= 7 else { return (lo, hi) }
        func terms(_ v: [UInt16], _ x: Int) -> (Int32, Int32) {
            var s0: Int32 = 0, s1: Int32 = 0
            for d in -3...3 {
                s0 &+= Int32(v[x + d])
                s1 &+= Int32(d) &* Int32(v[x + d])
            }
            return (wBox1 &* s0 &+ wRamp &* s1 &+ rounding, wBox2 &* s0 &+ wRamp &* s1)
        }
        for x in 3..<(w - 3) {
            let t = terms(above1, x).0 &+ terms(above2, x).1
            let pred = interior(t, Int32(cur[x - 1]), Int32(cur[x - 2]), Int32(cur[x - 3]))
            let z = zigzag(Int32(cur[x]) &- pred)
            lo[x] = UInt8(truncatingIfNeeded: z)
            hi[x] = UInt8(truncatingIfNeeded: z >> 8)
        }
        return (lo, hi)
    }
}
