import Foundation
import TRWCore
import TRWStore

/// The whole run as a few time series, read from what is stored per sample
/// (frame statistics through their covering index, BMS rows, AE hits): no frame
/// or PCM is decoded, so an hour of full-rate data opens in well under a second.
/// `trw annotate` and `trw plot` draw from it at any zoom.
public struct Overview: Sendable {
    public enum Kind: Sendable { case level, rate }

    public struct Channel: Sendable {
        public var key: String
        public var title: String
        public var unit: String
        public var kind: Kind
        /// Sample times, seconds, increasing.
        public var t: [Double]
        /// Levels: the value; rates: the event's weight (1 per hit, or its energy).
        public var v: [Float]
    }

    public var channels: [Channel]
    public var durationS: Double
    public var frameCount: Int

    public static let allKeys = ["ir_max", "ir_mean", "cell_temp", "ambient", "voltage", "current", "ae_rate", "ae_energy"]
    /// Channels of stored detector scores (live or replayed prediction runs), first three runs in storage order.
    public static let scoreKeys = ["score0", "score1", "score2"]

    public static func load(_ r: SessionReader) throws -> Overview {
        var channels: [Channel] = []
        var frames = 0
        var end = 0.0
        if let s = try r.streams(kind: .thermal).first, let cal = s.calibration {
            let st = try r.frameStatisticColumns(streamId: s.id!)
            frames = st.tNs.count
            let t = st.tNs.map { Double($0) / 1e9 }
            let maxC = st.maxCounts.map { Float(cal.celsius(UInt16(clamping: $0))) }
            let k0 = cal.kelvin(0) - 273.15
            let meanC = st.meanCounts.map { Float(k0 + $0 * cal.kelvinPerCount) }
            channels.append(Channel(key: "ir_max", title: "IR max", unit: "°C", kind: .level, t: t, v: maxC))
            channels.append(Channel(key: "ir_mean", title: "IR mean", unit: "°C", kind: .level, t: t, v: meanC))
            end = max(end, t.last ?? 0)
        }
        // The cell's fields from the cell's BMS, ambient from its role's stream (SerialRoles).
        let roles = try SerialRoles.resolve(r)
        let serial = try r.streams(kind: .bms)
        func samples(_ key: String?) throws -> [BMSSampleRecord] {
            guard let id = serial.first(where: { $0.key == key })?.id else { return [] }
            return try r.bmsSamples(streamId: id)
        }
        let cellSamples = try samples(roles.cell)
        let ambientSamples = roles.ambient == roles.cell ? cellSamples : try samples(roles.ambient)
        func bmsChannel(_ key: String, _ title: String, _ unit: String, from bms: [BMSSampleRecord] = cellSamples,
                        _ get: (BMSSampleRecord) -> Double?) {
            var t: [Double] = [], v: [Float] = []
            for b in bms { if let x = get(b), x.isFinite { t.append(Double(b.tNs) / 1e9); v.append(Float(x)) } }
            if !t.isEmpty { channels.append(Channel(key: key, title: title, unit: unit, kind: .level, t: t, v: v)) }
            end = max(end, t.last ?? 0)
        }
        bmsChannel("cell_temp", "cell T", "°C") { $0.cellTempC }
        bmsChannel("ambient", "ambient", "°C", from: ambientSamples) { $0.ambientC }
        bmsChannel("voltage", "voltage", "V") { $0.voltageV }
        bmsChannel("current", "current", "A") { $0.currentA }
        if !(try r.streams(kind: .ae).isEmpty) {
            let hits = try r.aeHits()
            let t = hits.map { Double($0.tNs) / 1e9 }
            channels.append(Channel(key: "ae_rate", title: "AE hits", unit: "/s", kind: .rate, t: t, v: [Float](repeating: 1, count: t.count)))
            channels.append(Channel(key: "ae_energy", title: "AE energy", unit: "V²s/s", kind: .rate, t: t, v: hits.map { Float($0.energyV2s) }))
            end = max(end, t.last ?? 0)
        }
        var runs: [String] = [], scores: [String: (title: String, t: [Double], v: [Float])] = [:]
        for p in try r.predictions() {
            let key = p.model + "\u{0}" + p.runId
            if scores[key] == nil {
                guard runs.count < scoreKeys.count else { continue }
                runs.append(key)
                scores[key] = ("\(p.model) (\(p.runId))", [], [])
            }
            scores[key]!.t.append(Double(p.tNs) / 1e9)
            scores[key]!.v.append(Float(p.score))
        }
        for (i, k) in runs.enumerated() {
            let s = scores[k]!
            let order = s.t.indices.sorted { s.t[$0] < s.t[$1] }
            channels.append(Channel(key: scoreKeys[i], title: s.title, unit: "score", kind: .level,
                                    t: order.map { s.t[$0] }, v: order.map { s.v[$0] }))
        }
        if let e = try r.session().endTNs { end = max(end, Double(e) / 1e9) }
        return Overview(channels: channels, durationS: end, frameCount: frames)
    }

    public func channel(_ key: String) -> Channel? { channels.first { $0.key == key } }

    /// Per-column (min, max) of a channel over [from, to) split into `count` columns;
    /// rates give events per second in each column. nil: no sample in the column.
    public func columns(_ c: Channel, from: Double, to: Double, count: Int) -> [(lo: Float, hi: Float)?] {
        guard count > 0, to > from else { return [] }
        var out = [(lo: Float, hi: Float)?](repeating: nil, count: count)
        let w = (to - from) / Double(count)
        var i = Self.lowerBound(c.t, from)
        switch c.kind {
        case .level:
            // A column without a sample holds the previous value (sample-and-hold), so slow BMS data draws as a line.
            var last: Float? = i > 0 ? c.v[i - 1] : nil
            for col in 0..<count {
                let end = from + Double(col + 1) * w
                var lo = Float.infinity, hi = -Float.infinity
                while i < c.t.count && c.t[i] < end {
                    lo = min(lo, c.v[i]); hi = max(hi, c.v[i]); last = c.v[i]; i += 1
                }
                if lo <= hi { out[col] = (lo, hi) } else if let l = last { out[col] = (l, l) }
                if i >= c.t.count && end > (c.t.last ?? 0) + w { last = nil }
            }
        case .rate:
            var sums = [Float](repeating: 0, count: count)
            while i < c.t.count && c.t[i] < to {
                let col = min(count - 1, Int((c.t[i] - from) / w))
                sums[col] += c.v[i]
                i += 1
            }
            for col in 0..<count { let r = sums[col] / Float(w); out[col] = (r, r) }
        }
        return out
    }

    /// The value at time t: levels hold the last sample at or before t; rates count the
    /// events in the `windowS` seconds ending at t, per second.
    public func value(_ c: Channel, at t: Double, windowS: Double = 1) -> Double? {
        switch c.kind {
        case .level:
            let i = Self.lowerBound(c.t, t.nextUp)
            return i > 0 ? Double(c.v[i - 1]) : nil
        case .rate:
            let a = Self.lowerBound(c.t, t - windowS), b = Self.lowerBound(c.t, t.nextUp)
            var s: Float = 0
            for k in a..<b { s += c.v[k] }
            return Double(s) / windowS
        }
    }

    /// First index with a[i] >= x.
    public static func lowerBound(_ a: [Double], _ x: Double) -> Int {
        var lo = 0, hi = a.count
        while lo < hi {
            let m = (lo + hi) / 2
            if a[m] < x { lo = m + 1 } else { hi = m }
        }
        return lo
    }
}

extension SessionReader {
    /// The per-frame statistics of a stream as columns, read through the covering
    /// index `thermal_frame_stats` (no payload page is touched).
    public func frameStatisticColumns(streamId: Int64) throws -> (tNs: [Int64], maxCounts: [Int64], meanCounts: [Double], hotspot: [(Int32, Int32)]) {
        var t: [Int64] = [], mx: [Int64] = [], mean: [Double] = [], hs: [(Int32, Int32)] = []
        try forEachFrameStatistic(streamId: streamId) { tn, _, maxC, meanC, hx, hy in
            t.append(tn); mx.append(maxC); mean.append(meanC); hs.append((Int32(hx), Int32(hy)))
        }
        return (t, mx, mean, hs)
    }
}
