import TRWCore

import Foundation

/// What `trw info` and `trw sync-report SESSION` show per stream.
public struct StreamSyncSummary: Sendable, Codable, Equatable {
    public var stream: String
    /// Pair-weighted mean drift over segments, ppm (positive: device clock fast).
    public var driftPpm: Double
    /// Offset of the first segment, ns (host - nominal * device at its reference point).
    public var offsetNs: Double
    /// Pair-weighted RMS of the segments' residual RMS, and the largest residual, ns.
    public var residualRmsNs: Double
    public var residualMaxNs: Double
    public var segments: Int
    /// Why each segment started, in order.
    public var segmentReasons: [SegmentReason]
    public var pairs: Int
    /// Predicted timing uncertainty of this stream (`Alignment.uncertainty`), ns.
    public var timeStdErrNs: Double
    /// True when a segment's slope hit the online estimator's limit: `driftPpm` is a bound.
    public var driftClamped: Bool = false
    /// Set when the stream is timed by arrival (`ClockGuard` fallback): the sentence to show.
    public var fallback: String? = nil
    /// Device-time pairs seen, and those left out of the fit (nil: not recorded by this file's recorder).
    public var pairsSeen: Int? = nil
    public var outliers: Int? = nil
    /// How an imported stream's clock was found (`ClockModel.note`); nil for recorded streams.
    public var note: String? = nil
}

/// Per-stream summaries and the predicted cross-stream alignment error.
public struct SyncReport: Sendable, Codable, Equatable {
    public var streams: [StreamSyncSummary]
    public var alignment: [Alignment.PairEstimate]

    /// Builds the report from each stream's model; `unmodelledNs` per stream key
    /// (e.g. device-clock resolution / sqrt(12), exposure-offset uncertainty).
    /// `units`: per stream key, what it delivers and its nominal rate (for the fallback's delivery rate).
    public init(models: [(stream: String, model: ClockModel)], unmodelledNs: [String: Double] = [:],
                units: [String: (ClockFallback.Units, Double?)] = [:]) {
        var sums: [StreamSyncSummary] = []
        var unc: [Alignment.StreamUncertainty] = []
        for (key, m) in models {
            let n = m.segments.reduce(0) { $0 + $1.pairCount }
            let w = Double(Swift.max(n, 1))
            let drift = m.segments.reduce(0.0) { $0 + $1.driftPpm * Double($1.pairCount) } / w
            let rms = (m.segments.reduce(0.0) { $0 + $1.residualRmsNs * $1.residualRmsNs * Double($1.pairCount) } / w).squareRoot()
            let u = Alignment.uncertainty(stream: key, model: m, unmodelledNs: unmodelledNs[key] ?? 0)
            unc.append(u)
            sums.append(StreamSyncSummary(
                stream: key, driftPpm: n > 0 ? drift : (m.segments.first?.driftPpm ?? 0),
                offsetNs: m.segments.first?.offsetNs ?? 0, residualRmsNs: rms,
                residualMaxNs: m.segments.map(\.residualMaxAbsNs).max() ?? 0, segments: m.segments.count,
                segmentReasons: m.segments.map(\.reason), pairs: n, timeStdErrNs: u.totalNs,
                driftClamped: m.segments.contains { $0.slopeClamped == true },
                fallback: m.fallback.map { $0.text(stream: key, nominalRateHz: units[key]?.1, kind: units[key]?.0 ?? .lines) },
                pairsSeen: m.pairsSeen, outliers: m.outliers, note: m.note))
        }
        streams = sums
        alignment = Alignment.estimate(unc)
    }

    /// Plain-text table for the CLI.
    public var text: String {
        var lines: [String] = []
        lines.append(pad("stream", 8) + pad("drift ppm", 12) + pad("offset s", 16) + pad("jitter rms", 12)
                     + pad("jitter max", 12) + pad("segments", 10) + "time s.e.")
        for s in streams {
            if let f = s.fallback {
                // Timed by arrival: the fit's numbers are not measurements of this stream's clock.
                lines.append(pad(s.stream, 8) + "ARRIVAL TIME  " + f)
            } else {
                let drift = s.driftClamped ? String(format: "clamped %+.0f", s.driftPpm.rounded()) : fixed(s.driftPpm, 3)
                lines.append(pad(s.stream, 8) + pad(drift, 12) + pad(fixed(s.offsetNs / 1e9, 9), 16)
                             + pad(us(s.residualRmsNs), 12) + pad(us(s.residualMaxNs), 12)
                             + pad("\(s.segments)", 10) + us(s.timeStdErrNs))
                if s.driftClamped {
                    lines.append("        drift hit the online estimator's +-500 ppm limit: a bound, not a measurement "
                                 + "(jitter includes the misfit); `trw resync` fits it offline")
                }
                if s.segments > 1 {
                    lines.append("        segments start at: " + s.segmentReasons.map(\.rawValue).joined(separator: ", "))
                }
            }
            if let n = s.note {
                lines.append("        " + n)
            }
            if let o = s.outliers, o > 0 {
                lines.append("        \(o) of \(s.pairsSeen ?? o) device times left out of the fit (clock_outlier gaps; bound in docs/timebase.md)")
            }
        }
        for p in alignment {
            lines.append("alignment \(p.a)-\(p.b): sigma \(us(p.sigmaNs)), expected |error| \(us(p.expectedAbsNs))")
        }
        return lines.joined(separator: "\n")
    }

    private func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s + " " : s + String(repeating: " ", count: n - s.count) }
    private func fixed(_ v: Double, _ digits: Int) -> String { String(format: "%.\(digits)f", v) }
    private func us(_ ns: Double) -> String { fixed(ns / 1e3, 1) + " us" }
}
