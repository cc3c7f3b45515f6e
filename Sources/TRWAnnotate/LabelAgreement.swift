import Foundation
import TRWStore

/// Agreement between two label sets (e.g. two annotators, or a person and a detector) on the
/// same sessions: for each event label the difference of the earliest instants (B − A), for
/// exclude intervals their overlap (intersection over union).
public struct LabelAgreement: Sendable {
    public struct Row: Sendable, Equatable {
        public var session: String
        public var label: String
        public var aS: Double?
        public var bS: Double?
        /// B − A, seconds, when both have the label.
        public var differenceS: Double? { aS.flatMap { a in bS.map { $0 - a } } }
    }

    public struct IntervalRow: Sendable, Equatable {
        public var session: String
        public var aSeconds: Double
        public var bSeconds: Double
        public var intersectionOverUnion: Double
    }

    public var setA: String
    public var setB: String
    public var rows: [Row]
    public var intervals: [IntervalRow]

    public static let eventLabels = ["self_heating_onset", "venting", "runaway_onset"]

    public static func compute(sessions: [(name: String, labels: [AnnotationRecord])], setA: String, setB: String) -> LabelAgreement {
        var rows: [Row] = [], iv: [IntervalRow] = []
        for (name, labels) in sessions {
            let a = labels.filter { $0.labelSet == setA }, b = labels.filter { $0.labelSet == setB }
            let kinds = Set(a.map(\.label) + b.map(\.label)).subtracting(["exclude"])
            for k in eventLabels.filter(kinds.contains) + kinds.subtracting(eventLabels).sorted() {
                func first(_ l: [AnnotationRecord]) -> Double? { l.filter { $0.label == k }.map { Double($0.startTNs) / 1e9 }.min() }
                rows.append(Row(session: name, label: k, aS: first(a), bS: first(b)))
            }
            func spans(_ l: [AnnotationRecord]) -> [(Double, Double)] {
                l.filter { $0.label == "exclude" }.map { (Double($0.startTNs) / 1e9, Double($0.endTNs ?? $0.startTNs) / 1e9) }
            }
            let sa = spans(a), sb = spans(b)
            if !sa.isEmpty || !sb.isEmpty {
                let la = union(sa), lb = union(sb)
                let inter = intersection(la, lb)
                let uni = length(la) + length(lb) - inter
                iv.append(IntervalRow(session: name, aSeconds: length(la), bSeconds: length(lb), intersectionOverUnion: uni > 0 ? inter / uni : 1))
            }
        }
        return LabelAgreement(setA: setA, setB: setB, rows: rows, intervals: iv)
    }

    /// Per label: how many sessions both sets marked, only one did, and |B − A| mean / max / the signed mean.
    public func summary() -> [(label: String, both: Int, onlyA: Int, onlyB: Int, meanAbsS: Double, maxAbsS: Double, meanS: Double)] {
        let labels = Array(Set(rows.map(\.label))).sorted { (Self.eventLabels.firstIndex(of: $0) ?? 99, $0) < (Self.eventLabels.firstIndex(of: $1) ?? 99, $1) }
        return labels.map { l in
            let r = rows.filter { $0.label == l }
            let d = r.compactMap(\.differenceS)
            return (l, d.count, r.filter { $0.aS != nil && $0.bS == nil }.count, r.filter { $0.aS == nil && $0.bS != nil }.count,
                    d.isEmpty ? .nan : d.map(abs).reduce(0, +) / Double(d.count), d.map(abs).max() ?? .nan,
                    d.isEmpty ? .nan : d.reduce(0, +) / Double(d.count))
        }
    }

    static func union(_ s: [(Double, Double)]) -> [(Double, Double)] {
        var out: [(Double, Double)] = []
        for (a, b) in s.sorted(by: { $0.0 < $1.0 }) {
            if let last = out.last, a <= last.1 { out[out.count - 1].1 = max(last.1, b) } else { out.append((a, b)) }
        }
        return out
    }

    static func length(_ s: [(Double, Double)]) -> Double { s.reduce(0) { $0 + ($1.1 - $1.0) } }

    static func intersection(_ a: [(Double, Double)], _ b: [(Double, Double)]) -> Double {
        var total = 0.0
        for x in a { for y in b { total += max(0, min(x.1, y.1) - max(x.0, y.0)) } }
        return total
    }
}
