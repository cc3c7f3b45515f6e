import Foundation
import TRWAnalysis
import TRWCore
import TRWStore

/// A key as the annotation UI sees it (the CLI decodes escape sequences).
public enum Key: Equatable, Sendable {
    case char(Character)
    case left, right, up, down, shiftLeft, shiftRight, home, end, pageUp, pageDown
    case tab, backTab, enter, escape, backspace
}

/// One label being edited: a stored row (id) or a new one, possibly changed or deleted.
public struct WorkingLabel: Equatable, Sendable {
    public var storedId: Int64?
    public var label: String
    public var startS: Double
    public var endS: Double?
    public var method: String
    public var parametersJSON: String
    public var note: String
    public var changed = false
    public var deleted = false
}

/// The state of `trw annotate` and everything its keys do, independent of the
/// terminal: tests drive it with keys and read the rendered lines.
public final class AnnotateModel {
    public static let placeKeys: [Character: String] = ["o": "runaway_onset", "v": "venting", "s": "self_heating_onset"]

    public let reader: SessionReader
    public let overview: Overview
    public let markers: [MarkerRecord]
    /// Detector suggestions; `trw annotate` fills them in from a background thread after the first screen.
    public var suggestions: [Suggestion]
    public let author: String
    public let labelSet: String
    public let sessionName: String
    public private(set) var labels: [WorkingLabel] = []
    /// The current labels of every other set: drawn read-only beside the set being edited.
    public private(set) var otherLabels: [AnnotationRecord] = []
    var undoStack: [[WorkingLabel]] = []

    public var viewFrom: Double
    public var viewTo: Double
    public var cursor: Double
    public var showFrame = true
    public var status = "? for help"
    public var showHelp = false
    /// Start of an exclude interval waiting for its end (x pressed once).
    public var pendingExclude: Double?
    /// The label `m` moves and `d` deletes: the last one jumped to or placed.
    public var selected: Int?
    public enum Prompt: Equatable { case customLabel, gotoTime }
    public var prompt: Prompt?
    public var input = ""
    var quitArmed = false
    /// Plot columns in the last render: a cursor step is one column.
    public var plotColumns = 60
    var frameCache: ThermalImage?

    public init(reader: SessionReader, author: String, labelSet: String? = nil, suggestions: [Suggestion]? = nil) throws {
        self.reader = reader
        self.author = author
        self.labelSet = labelSet ?? author
        overview = try Overview.load(reader)
        markers = try reader.markers()
        self.suggestions = try suggestions ?? SuggestionEngine.suggest(reader)
        sessionName = try reader.session().name
        viewFrom = 0
        viewTo = max(1, overview.durationS)
        cursor = viewTo / 2
        try reloadLabels()
    }

    func reloadLabels() throws {
        labels = try reader.annotations(set: labelSet).map {
            WorkingLabel(storedId: $0.id, label: $0.label, startS: Double($0.startTNs) / 1e9, endS: $0.endTNs.map { Double($0) / 1e9 },
                         method: $0.method, parametersJSON: $0.parametersJson, note: $0.note)
        }
        otherLabels = try reader.annotations().filter { $0.labelSet != labelSet }
        undoStack = []
    }

    public var unsavedChanges: Int { labels.filter { $0.storedId == nil || $0.changed || $0.deleted }.count }
    public var visibleLabels: [(index: Int, label: WorkingLabel)] { labels.enumerated().filter { !$0.element.deleted }.map { ($0.offset, $0.element) } }

    var columnS: Double { (viewTo - viewFrom) / Double(max(1, plotColumns)) }

    public enum Outcome: Equatable { case keepGoing, quit }

    // MARK: keys

    @discardableResult
    public func handle(_ key: Key) throws -> Outcome {
        if let p = prompt { return try handlePrompt(p, key) }
        if key != .char("q") { quitArmed = false }
        if showHelp, key != .char("?") { showHelp = false }
        switch key {
        case .left, .char("h"): moveCursor(columns: -1)
        case .right, .char("l"): moveCursor(columns: 1)
        case .shiftLeft, .char("H"): moveCursor(columns: -10)
        case .shiftRight, .char("L"): moveCursor(columns: 10)
        case .home: cursor = viewFrom
        case .end: cursor = viewTo
        case .char("+"), .char("="), .up: zoom(0.5)
        case .char("-"), .char("_"), .down: zoom(2)
        case .char("0"): viewFrom = 0; viewTo = max(1, overview.durationS); status = "whole run"
        case .char("["), .pageUp: pan(-0.5)
        case .char("]"), .pageDown: pan(0.5)
        case .tab, .char("n"): jump(forward: true)
        case .backTab, .char("N"): jump(forward: false)
        case .char("o"), .char("v"), .char("s"):
            if case .char(let c) = key { place(Self.placeKeys[c]!, at: cursor) }
        case .char("x"):
            if let a = pendingExclude {
                pendingExclude = nil
                place("exclude", at: min(a, cursor), end: max(a, cursor))
            } else {
                pendingExclude = cursor
                status = String(format: "exclude from %.2f s: move to its end and press x again (Esc cancels)", cursor)
            }
        case .escape: pendingExclude = nil; status = "cancelled"
        case .char("c"): prompt = .customLabel; input = ""
        case .char("g"): prompt = .gotoTime; input = ""
        case .char("m"): moveSelected()
        case .char("d"): deleteNearest()
        case .char("a"): acceptNearestSuggestion()
        case .char("u"): undo()
        case .char("w"): try save()
        case .char("W"): try save(force: true)
        case .char("f"): showFrame.toggle()
        case .char("?"): showHelp.toggle()
        case .char("q"):
            if unsavedChanges > 0 && !quitArmed {
                quitArmed = true
                status = "\(unsavedChanges) unsaved change(s): w saves, q again quits without saving"
            } else {
                return .quit
            }
        default: break
        }
        return .keepGoing
    }

    func handlePrompt(_ p: Prompt, _ key: Key) throws -> Outcome {
        switch key {
        case .escape: prompt = nil; status = "cancelled"
        case .backspace: if !input.isEmpty { input.removeLast() }
        case .enter:
            prompt = nil
            let text = input.trimmingCharacters(in: .whitespaces)
            switch p {
            case .customLabel:
                do {
                    place(try LabelRules.storedName(text, custom: true), at: cursor)
                } catch {
                    status = "\(error)"
                    return .keepGoing
                }
            case .gotoTime:
                do {
                    let t = Double(try TimeParsing.parse(text, markers: markers,
                                                         startRealtimeNs: try reader.session().startRealtimeNs)) / 1e9
                    cursor = max(0, min(overview.durationS, t))
                    recentre()
                    status = cursor == t ? String(format: "at %.3f s", cursor)
                        : String(format: "%.3f s is outside the run (0–%.3f s): at %.3f s", t, overview.durationS, cursor)
                } catch {
                    status = "\(error)"
                }
            }
        case .char(let c): input.append(c)
        default: break
        }
        return .keepGoing
    }

    func moveCursor(columns: Int) {
        cursor = max(0, min(overview.durationS, cursor + Double(columns) * columnS))
        if cursor < viewFrom || cursor > viewTo { recentre() }
    }

    func zoom(_ factor: Double) {
        let span = max(0.5, min(max(1, overview.durationS) * 1.0, (viewTo - viewFrom) * factor))
        let frac = (cursor - viewFrom) / max(1e-9, viewTo - viewFrom)
        viewFrom = cursor - span * frac
        viewTo = viewFrom + span
        clampView()
        status = String(format: "view %.1f s wide", viewTo - viewFrom)
    }

    func pan(_ fraction: Double) {
        let d = (viewTo - viewFrom) * fraction
        viewFrom += d; viewTo += d
        clampView()
        cursor = max(viewFrom, min(viewTo, cursor + d))
    }

    func clampView() {
        let span = viewTo - viewFrom, total = max(1, overview.durationS)
        if viewFrom < 0 { viewFrom = 0; viewTo = span }
        if viewTo > total { viewTo = total; viewFrom = max(0, total - span) }
    }

    func recentre() {
        let span = viewTo - viewFrom
        viewFrom = cursor - span / 2
        viewTo = cursor + span / 2
        clampView()
    }

    /// Labels, markers and suggestions in time order.
    public var items: [(t: Double, kind: String, text: String)] {
        var out = visibleLabels.map { ($0.label.startS, "label", $0.label.label) }
        out += otherLabels.map { (Double($0.startTNs) / 1e9, Self.isGroundTruth($0) ? "ground truth" : "set \($0.labelSet)", $0.label) }
        out += markers.map { (Double($0.tNs) / 1e9, "marker", $0.text) }
        out += suggestions.map { ($0.tS, "suggestion", "\($0.label) (\($0.detector))") }
        let rank = ["label": 0, "ground truth": 1, "marker": 3, "suggestion": 4]
        return out.sorted { ($0.0, rank[$0.1] ?? 2) < ($1.0, rank[$1.1] ?? 2) }
    }

    static func isGroundTruth(_ a: AnnotationRecord) -> Bool { a.method == LabelSetSelection.groundTruthMethod }

    func jump(forward: Bool) {
        let eps = 1e-6  // every item, however close: several may share a column when zoomed out
        let it = items
        guard let next = forward ? it.first(where: { $0.t > cursor + eps }) : it.last(where: { $0.t < cursor - eps }) else {
            status = forward ? "no more labels, markers or suggestions after the cursor" : "none before the cursor"
            return
        }
        cursor = next.t
        if cursor < viewFrom || cursor > viewTo { recentre() }
        // A label at this instant is selected even when a suggestion or marker shares it.
        if let l = nearestLabel(within: 1e-6) { selected = l }
        status = String(format: "%@: %@ at %.3f s", next.kind, next.text, next.t)
    }

    func snapshot() { undoStack.append(labels) }

    func place(_ name: String, at t: Double, end: Double? = nil, method: String = "manual", parameters: String = "{}", note: String = "") {
        snapshot()
        labels.append(WorkingLabel(storedId: nil, label: name, startS: t, endS: end, method: method, parametersJSON: parameters, note: note))
        selected = labels.count - 1
        status = end.map { String(format: "%@ %.3f–%.3f s placed (w saves)", name, t, $0) } ?? String(format: "%@ at %.3f s placed (w saves)", name, t)
    }

    func nearestLabel(within: Double) -> Int? {
        visibleLabels.filter { abs($0.label.startS - cursor) <= within || ($0.label.endS.map { abs($0 - cursor) <= within } ?? false) }
            .min { abs($0.label.startS - cursor) < abs($1.label.startS - cursor) }?.index
    }

    func moveSelected() {
        guard let i = selected, labels.indices.contains(i), !labels[i].deleted else {
            status = "no label selected: jump to one with n/N or place one first"
            return
        }
        snapshot()
        let d = cursor - labels[i].startS
        labels[i].startS = cursor
        if let e = labels[i].endS { labels[i].endS = e + d }
        labels[i].changed = true
        labels[i].method = "manual"
        status = String(format: "%@ moved to %.3f s", labels[i].label, cursor)
    }

    func deleteNearest() {
        guard let i = nearestLabel(within: 3 * columnS) else { status = "no label within 3 columns of the cursor"; return }
        snapshot()
        labels[i].deleted = true
        status = "\(labels[i].label) deleted (kept in history once saved; u undoes)"
        if labels[i].storedId == nil { labels.remove(at: i) }
        selected = nil
    }

    func acceptNearestSuggestion() {
        guard let s = suggestions.filter({ abs($0.tS - cursor) <= 3 * columnS }).min(by: { abs($0.tS - cursor) < abs($1.tS - cursor) }) else {
            status = "no suggestion within 3 columns of the cursor (n/N jumps to one)"
            return
        }
        place(s.label, at: s.tS, method: s.method, parameters: s.parametersJSON, note: s.note)
        status = String(format: "accepted %@ at %.3f s from %@", s.label, s.tS, s.detector)
    }

    func undo() {
        guard let prev = undoStack.popLast() else { status = "nothing to undo"; return }
        labels = prev
        selected = nil
        status = "undone"
    }

    /// Writes the edits in one transaction: new labels, superseding rows for changed ones,
    /// deletion rows; the old rows stay (history, never loss). The labels pass `LabelRules`
    /// first: a refusal (e.g. two onsets in the set) saves nothing and says why, unless
    /// `force` (key W), which keeps what was overridden in the history.
    public func save(force: Bool = false) throws {
        let changes = unsavedChanges
        guard changes > 0 else { status = "nothing to save"; return }
        let w = try SessionWriter(appendingTo: reader.path)
        var batch: [AnnotationRecord] = []
        for l in labels where l.storedId == nil || l.changed || l.deleted {
            if l.storedId == nil && l.deleted { continue }
            batch.append(AnnotationRecord(
                label: l.label, startTNs: Int64((l.startS * 1e9).rounded()), endTNs: l.endS.map { Int64(($0 * 1e9).rounded()) },
                author: author, method: l.method, parametersJson: l.parametersJSON, supersedesId: l.storedId,
                deleted: l.deleted, note: l.note, labelSet: labelSet))
        }
        do {
            try w.addLabels(batch, force: force)
        } catch let e as LabelRefusal {
            status = "not saved: " + e.problems.joined(separator: "; ") + " (fix it, or W saves anyway, kept in history)"
            return
        }
        try reloadLabels()
        status = "saved \(changes) change(s) to \(reader.path) (set \(labelSet))" + (force ? ", forced" : "")
    }
}
