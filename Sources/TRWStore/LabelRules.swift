import Foundation
import GRDB
import TRWCore

/// The checks every label must pass before it is stored (docs/annotation.md "Checks"),
/// shared by `trw label add`, `trw label accept` and `trw annotate`:
///
/// * its kind is one of `kinds`, or declared custom (`custom:NAME`);
/// * its times lie inside the session (0 ... the end of the recording);
/// * an instant of an event kind (`eventKinds`) is the only current one of its kind in its set.
///
/// A refused label is stored only with `force`, and then names what was overridden in
/// `AnnotationRecord.forced` (shown by `trw label history`).
public enum LabelRules {
    /// The label kinds trw knows; consumers (export, score, agreement) read these.
    public static let kinds = ["runaway_onset", "venting", "self_heating_onset", "exclude"]
    /// Kinds that happen once per run: a second current instant in one set is refused.
    public static let eventKinds = ["runaway_onset", "venting", "self_heating_onset"]
    /// Prefix of a declared custom label (`custom:smoke_seen`); such labels are stored with it.
    public static let customPrefix = "custom:"

    /// A name is letters, digits, `_` or `-`.
    public static func isValidName(_ s: Substring) -> Bool {
        !s.isEmpty && s.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" }
    }

    /// The stored name of a label typed as `typed`, declared custom by `custom` (or by its
    /// `custom:` prefix). Throws for names that can never be stored (bad characters, a custom
    /// label named like a known kind); an unknown kind that is not declared custom is returned
    /// as is and refused later by `problems` (forcible).
    public static func storedName(_ typed: String, custom: Bool) throws -> String {
        let isCustom = custom || typed.hasPrefix(customPrefix)
        let body = typed.hasPrefix(customPrefix) ? typed.dropFirst(customPrefix.count) : Substring(typed)
        guard isValidName(body) else {
            throw LabelRefusal(label: typed, problems: [
                "a label name is letters, digits, _ or - (known kinds: \(kinds.joined(separator: ", ")); custom: custom:NAME)",
            ], forcible: false)
        }
        if isCustom {
            if kinds.contains(String(body)) {
                throw LabelRefusal(label: typed, problems: ["'\(body)' is a known kind, not a custom label; drop custom"], forcible: false)
            }
            return customPrefix + body
        }
        return String(body)
    }

    /// The nearest known kind to a (mistyped) name, when it is close (edit distance <= 3).
    public static func nearestKind(_ s: String) -> String? {
        let scored = kinds.map { ($0, editDistance(Array(s), Array($0))) }.min { $0.1 < $1.1 }
        return scored.flatMap { $0.1 <= 3 ? $0.0 : nil }
    }

    /// Optimal-string-alignment distance: insertions, deletions, substitutions and
    /// transpositions of neighbours (onest / onset) each count one.
    static func editDistance(_ a: [Character], _ b: [Character]) -> Int {
        var d = [[Int]](repeating: [Int](repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in 0...a.count { d[i][0] = i }
        for j in 0...b.count { d[0][j] = j }
        for i in stride(from: 1, through: a.count, by: 1) {
            for j in stride(from: 1, through: b.count, by: 1) {
                d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
                if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] { d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1) }
            }
        }
        return d[a.count][b.count]
    }

    /// Why `a` would be refused next to the current labels `current` in a session whose
    /// times span `extent` (empty: it passes).
    public static func problems(_ a: AnnotationRecord, current: [AnnotationRecord], extent: ClosedRange<Int64>) -> [String] {
        var out: [String] = []
        if !a.label.hasPrefix(customPrefix) && !kinds.contains(a.label) {
            let near = nearestKind(a.label).map { "did you mean \($0)? " } ?? ""
            out.append("unknown label kind '\(a.label)': \(near)known kinds: \(kinds.joined(separator: ", ")); a custom label is custom:\(a.label) (or --custom)")
        }
        func s(_ ns: Int64) -> String { String(format: "%.3f s", Double(ns) / 1e9) }
        let range = "\(s(extent.lowerBound)) to \(s(extent.upperBound))"
        if !extent.contains(a.startTNs) {
            out.append("time \(s(a.startTNs)) is outside the session (\(range))")
        }
        if let e = a.endTNs {
            if e < a.startTNs { out.append("the end \(s(e)) is before the start \(s(a.startTNs))") }
            if !extent.contains(e) { out.append("end \(s(e)) is outside the session (\(range))") }
        }
        if a.endTNs == nil, eventKinds.contains(a.label),
           let other = current.first(where: { $0.labelSet == a.labelSet && $0.label == a.label && $0.endTNs == nil && !$0.deleted }) {
            let ref = other.id.map { "label \($0)" } ?? "another new label"
            out.append("set '\(a.labelSet)' already has \(a.label) at \(s(other.startTNs)) (\(ref)); a run has one \(a.label): edit or remove that one (trw label rm \(other.id.map { "\($0)" } ?? "ID"))")
        }
        return out
    }

    /// The session's time extent for label checks: from min(0, first data) to the later of
    /// the stored end and the last data; while status is `recording`, up to now on its clock.
    static func extent(_ db: Database, nowMonotonicNs: Int64 = HostClock.monotonicNanoseconds()) throws -> ClosedRange<Int64> {
        guard let s = try SessionRecord.fetchOne(db, key: 1) else { return 0...0 }
        var lo: Int64 = 0, hi: Int64 = s.endTNs ?? 0
        let ids = try Row.fetchAll(db, sql: "SELECT id, kind FROM stream")
        for r in ids {
            let id: Int64 = r[0], kind: String = r[1]
            let table = kind == StreamKind.thermal.rawValue ? "thermal_frame" : kind == StreamKind.ae.rawValue ? "audio_chunk" : "bms_sample"
            if let row = try Row.fetchOne(db, sql: "SELECT MIN(t_ns), MAX(t_ns) FROM \(table) WHERE stream_id = ?", arguments: [id]),
               let a: Int64 = row[0], let b: Int64 = row[1] {
                lo = min(lo, a)
                hi = max(hi, b)
            }
        }
        if s.status == .recording { hi = max(hi, s.clock.sessionTime(monotonic: nowMonotonicNs)) }
        return lo...max(lo, hi)
    }
}

/// A label (or labels) refused by `LabelRules`; nothing of the batch was written.
public struct LabelRefusal: Error, CustomStringConvertible, Equatable {
    public var label: String
    public var problems: [String]
    /// false: no --force can store it (a malformed name).
    public var forcible: Bool = true
    public init(label: String, problems: [String], forcible: Bool = true) {
        self.label = label
        self.problems = problems
        self.forcible = forcible
    }
    public var description: String {
        "label '\(label)' refused: " + problems.joined(separator: "; ")
            + (forcible ? ". Nothing was saved; --force saves it anyway (recorded in trw label history)" : "")
    }
}

/// An edit or removal of a row that is not current (unknown id, already edited or removed).
public struct HistoryError: Error, CustomStringConvertible, Equatable {
    public var message: String
    public var description: String { message }
}

extension SessionWriter {
    /// Adds labels (edits and removals included) in one transaction after `LabelRules`:
    /// each new or edited label is checked against the current labels as the batch leaves
    /// them. With any refusal nothing is written, unless `force`: then each refused row
    /// stores what was overridden in `forced`. Returns the new row ids in order.
    @discardableResult
    public func addLabels(_ batch: [AnnotationRecord], force: Bool = false,
                          nowMonotonicNs: Int64 = HostClock.monotonicNanoseconds()) throws -> [Int64] {
        do {
            return try dbQueue.write { db in
                let ext = try LabelRules.extent(db, nowMonotonicNs: nowMonotonicNs)
                var current = try AnnotationRecord.all().current().orderedByTime().fetchAll(db)
                var rows: [AnnotationRecord] = []
                var refused: [(String, [String])] = []
                for var a in batch {
                    if let old = a.supersedesId {
                        guard let i = current.firstIndex(where: { $0.id == old }) else {
                            throw HistoryError(message: "\(path): label \(old) does not exist or was already edited or removed; edit its latest version (trw label list)")
                        }
                        current.remove(at: i)
                    }
                    if !a.deleted {
                        let p = LabelRules.problems(a, current: current, extent: ext)
                        if !p.isEmpty {
                            refused.append((a.label, p))
                            a.forced = p.joined(separator: "; ")
                        }
                        current.append(a)
                    }
                    rows.append(a)
                }
                if !refused.isEmpty && !force {
                    throw LabelRefusal(label: refused.map(\.0).joined(separator: ", "), problems: refused.flatMap(\.1))
                }
                return try rows.map { r in
                    var r = r
                    try r.insert(db)
                    return r.id!
                }
            }
        } catch let e as LabelRefusal {
            throw e
        } catch {
            throw SessionStoreError.wrap(error, path: path)
        }
    }

    /// Removes a current marker: a removal row supersedes it (the marker stays in the history).
    @discardableResult
    public func removeMarker(id: Int64, author: String) throws -> MarkerRecord {
        do {
            return try dbQueue.write { db in
                guard let m = try MarkerRecord.filter(key: id).current().fetchOne(db) else {
                    throw HistoryError(message: "\(path): no current marker with id \(id) (trw mark \(path) --list shows them)")
                }
                var removal = MarkerRecord(tNs: m.tNs, text: m.text, author: author, origin: "cli", supersedesId: id, deleted: true)
                try removal.insert(db)
                return m
            }
        } catch {
            throw SessionStoreError.wrap(error, path: path)
        }
    }
}
