import Foundation

/// Which label set a consumer (export, score, training) uses on one session. Sets are never
/// mixed: the labels come from one set, chosen explicitly (`--label-set NAME`) or by the one
/// precedence of `LabelSetSelection.choose`, and the choice is named in every output.
public struct LabelSetChoice: Sendable, Equatable {
    /// The set used; nil when the session has no labels to use (a run without onset).
    public var set: String?
    /// Why this set: "--label-set", "reviewed set", "simulator ground truth", "the only set", "no labels".
    public var rule: String
    /// Its current labels (after any method / author filter).
    public var labels: [AnnotationRecord]
    /// The other sets of the session, not used.
    public var otherSets: [String]

    /// The name outputs print: the set, or "none".
    public var name: String { self.set ?? "none" }
    /// "trw-sim (simulator ground truth)".
    public var summary: String { "\(name) (\(rule))" }
    /// The earliest current `runaway_onset` instant of the set, seconds (one per set, `LabelRules`).
    public var onsetS: Double? {
        labels.filter { $0.label == "runaway_onset" }.map { Double($0.startTNs) / 1e9 }.min()
    }
    /// The set's exclude intervals, seconds.
    public var excludedS: [(Double, Double)] {
        labels.filter { $0.label == "exclude" }.map { (Double($0.startTNs) / 1e9, Double($0.endTNs ?? $0.startTNs) / 1e9) }
    }
}

/// Several label sets and no rule to choose between them.
public struct AmbiguousLabelSets: Error, CustomStringConvertible, Equatable {
    public var session: String
    public var sets: [String]
    public var description: String {
        "\(session) has \(sets.count) label sets that could define onset (\(sets.joined(separator: ", "))) and none is "
            + "'\(LabelSetSelection.reviewedSet)': choose one with --label-set NAME (trw label sets \(session) lists them)"
    }
}

public enum LabelSetSelection {
    /// The set a team agrees on (e.g. after `trw label agree`): used first when present.
    public static let reviewedSet = "reviewed"
    /// The method of simulator ground truth labels.
    public static let groundTruthMethod = "simulator_ground_truth"
    /// The precedence, as printed in help texts and documented in docs/annotation.md.
    public static let precedence =
        "--label-set NAME if given; else the set named '\(reviewedSet)'; else simulator ground truth (simulated runs); else the only other set; several: refused"

    /// Chooses the set whose labels a consumer uses on one session (`labels`: its current
    /// labels of every set). `requested`: `--label-set`; `method` / `author`: only labels of
    /// that method / author count (and only sets holding such labels are candidates).
    public static func choose(_ labels: [AnnotationRecord], requested: String? = nil, method: String? = nil,
                              author: String? = nil, session: String) throws -> LabelSetChoice {
        let usable = labels.filter { (method == nil || $0.method == method) && (author == nil || $0.author == author) }
        let sets = Array(Set(usable.map(\.labelSet))).sorted()
        func pick(_ s: String?, _ rule: String) -> LabelSetChoice {
            LabelSetChoice(set: s, rule: rule, labels: usable.filter { $0.labelSet == s },
                           otherSets: Set(labels.map(\.labelSet)).subtracting(s.map { [$0] } ?? []).sorted())
        }
        if let requested {
            let c = pick(requested, "--label-set")
            return c.labels.isEmpty ? pick(requested, "--label-set; it has no labels here") : c
        }
        if sets.isEmpty { return pick(nil, "no labels") }
        if sets.contains(reviewedSet) { return pick(reviewedSet, "reviewed set") }
        let truth = sets.filter { s in usable.filter { $0.labelSet == s }.allSatisfy { $0.method == groundTruthMethod } }
        if truth.count == 1 { return pick(truth[0], "simulator ground truth") }
        if sets.count == 1 { return pick(sets[0], "the only set") }
        throw AmbiguousLabelSets(session: session, sets: sets)
    }
}
