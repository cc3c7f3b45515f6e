import ArgumentParser
import Foundation
import TRWAnalysis
import TRWAnnotate
import TRWCore
import TRWStore

/// Non-interactive labelling for scripts and bulk work.
struct LabelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "label",
        abstract: "Add, list, remove, suggest and accept labels; history and agreement between label sets (edits supersede, never overwrite).",
        subcommands: [Add.self, List.self, Remove.self, Suggest.self, Accept.self, History.self, Sets.self, Agree.self])

    static let knownLabels = LabelRules.kinds
    static var defaultAuthor: String { ProcessInfo.processInfo.environment["USER"] ?? "unknown" }

    static func time(_ s: String, _ r: SessionReader) throws -> Int64 {
        do {
            return try TimeParsing.parse(s, markers: try r.markers(), startRealtimeNs: try r.session().startRealtimeNs)
        } catch let e as TimeParsing.Error {
            throw ValidationError(e.description)
        }
    }

    static func seconds(_ ns: Int64?) -> String { ns.map { String(format: "%.3f", Double($0) / 1e9) } ?? "-" }

    static func jsonRow(_ a: AnnotationRecord) -> [String: String] {
        ["id": "\(a.id!)", "label": a.label, "start_s": String(format: "%.6f", Double(a.startTNs) / 1e9),
         "end_s": a.endTNs.map { String(format: "%.6f", Double($0) / 1e9) } ?? "", "author": a.author, "set": a.labelSet,
         "method": a.method, "parameters": a.parametersJson, "created_utc": a.createdUtc, "note": a.note,
         "supersedes": a.supersedesId.map { "\($0)" } ?? "", "deleted": a.deleted ? "true" : "false", "forced": a.forced]
    }

    static func table(_ labels: [AnnotationRecord], history: Bool = false) -> [String] {
        var out = ["   id  label                  start_s      end_s  set          author       method" + (history ? "                   created_utc           what" : "")]
        for a in labels {
            var l = "\(a.id!)".leftPadded(to: 5) + "  " + a.label.padded(to: 20) + " " + seconds(a.startTNs).leftPadded(to: 9)
                + " " + seconds(a.endTNs).leftPadded(to: 10) + "  " + a.labelSet.padded(to: 12) + " " + a.author.padded(to: 12) + " "
            if history {
                let what = a.deleted ? "deleted \(a.supersedesId.map { "\($0)" } ?? "")" : (a.supersedesId.map { "edit of \($0)" } ?? "new")
                l += a.method.padded(to: 24) + " " + a.createdUtc.padded(to: 22) + "  " + what
                    + (a.forced.isEmpty ? "" : " (forced over: \(a.forced))")
            } else {
                l += a.method
            }
            out.append(l)
        }
        return out
    }

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a label at a time (or an interval with --to).",
            discussion: """
                Refused unless --force (which is recorded in trw label history): an unknown kind (declare a custom label \
                with custom:NAME or --custom), a time outside the session, a second runaway_onset, venting or \
                self_heating_onset instant in the same set (edit or remove the first). docs/annotation.md.
                """)
        @Argument(help: "The session file.") var session: String
        @Argument(help: "runaway_onset, venting, self_heating_onset, exclude, or a custom label custom:NAME.") var label: String
        @Argument(help: "Time: \(TimeParsing.help).") var at: String
        @Option(name: .long, help: "End of an interval (required for exclude).") var to: String?
        @Option(name: .long, help: "Author (default $USER).") var author: String = LabelCommand.defaultAuthor
        @Option(name: .long, help: "Label set (default: the author).") var set: String?
        @Option(name: .long, help: "Method (default manual).") var method: String = "manual"
        @Option(name: .long, help: "Free note.") var note: String = ""
        @Flag(name: .long, help: "The label is a custom kind (same as the prefix custom:).") var custom = false
        @Flag(name: .long, help: "Save a refused label anyway; what was overridden is kept in its history.") var force = false
        func validate() throws {
            do { _ = try LabelRules.storedName(label, custom: custom) } catch let e as LabelRefusal {
                throw ValidationError(e.description)
            }
        }
        func run() throws {
            let name = try LabelRules.storedName(label, custom: custom)
            let r = try SessionReader(path: session)
            let t0 = try LabelCommand.time(at, r)
            let t1 = try to.map { try LabelCommand.time($0, r) }
            if name == "exclude" && t1 == nil { throw ValidationError("an exclude label is an interval: give --to") }
            if let t1, t1 < t0 { throw ValidationError("--to is before the start") }
            let rec = AnnotationRecord(label: name, startTNs: t0, endTNs: t1, author: author, method: method, note: note, labelSet: set)
            let id = try SessionWriter(appendingTo: session).addLabels([rec], force: force)[0]
            let stored = try SessionReader(path: session).annotations(includeHistory: true).first { $0.id == id }
            print(String(format: "label %lld: %@ at %.3f s (set %@)", id, name, Double(t0) / 1e9, set ?? author)
                  + (stored.map { $0.forced.isEmpty ? "" : "; forced over: \($0.forced)" } ?? ""))
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List current labels.")
        @Argument(help: "The session file.") var session: String
        @Option(name: .long, help: "Only this label set.") var set: String?
        @Flag(name: .long, help: "JSON output.") var json = false
        func run() throws {
            let labels = try SessionReader(path: session).annotations(set: set)
            if json { print(JSONText.encode(labels.map(LabelCommand.jsonRow))); return }
            LabelCommand.table(labels).forEach { print($0) }
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "rm", abstract: "Remove a label (kept in history).")
        @Argument(help: "The session file.") var session: String
        @Argument(help: "Label id (see trw label list).") var id: Int64
        @Option(name: .long) var author: String = LabelCommand.defaultAuthor
        func run() throws {
            guard let a = try SessionReader(path: session).annotations().first(where: { $0.id == id }) else {
                throw CLIFailure("no current label with id \(id) in \(session) (trw label list shows them)")
            }
            try SessionWriter(appendingTo: session).addLabels([
                AnnotationRecord(label: a.label, startTNs: a.startTNs, endTNs: a.endTNs, author: author, method: a.method,
                                 parametersJson: a.parametersJson, supersedesId: id, deleted: true, labelSet: a.labelSet)])
            print("removed label \(id) (\(a.label)); it stays in the history")
        }
    }

    struct Suggest: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run the suggestion detectors (\(SuggestionEngine.detectors.joined(separator: ", "))) and list what they propose.")
        @Argument(help: "The session file.") var session: String
        @Option(name: .long, help: "Comma-separated detectors (default all).") var detectors: String?
        @Option(name: .long, help: "Tick rate for the detectors, Hz.") var rate: Double = 4
        @Flag(name: .long, help: "JSON output.") var json = false
        func validate() throws { try OptionCheck.tickRate(rate) }
        func run() throws {
            let r = try SessionReader(path: session)
            let names = detectors.map { $0.split(separator: ",").map(String.init) } ?? SuggestionEngine.detectors
            let s = try SuggestionEngine.suggest(r, detectors: names, rateHz: rate)
            if json { print(JSONText.encode(s)); return }
            if s.isEmpty { print("no suggestions from \(names.joined(separator: ", "))"); return }
            print("  #  label                  t_s  detector      confirmed_s  why")
            for (i, x) in s.enumerated() {
                print("\(i + 1)".leftPadded(to: 3) + "  " + x.label.padded(to: 18) + String(format: "%9.2f", x.tS) + "  " + x.detector.padded(to: 13)
                      + String(format: "%11.2f", x.detectedS) + "  " + x.note)
            }
        }
    }

    struct Accept: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Store suggestions as labels (method detector:NAME, with the detector's parameters).")
        @Argument(help: "The session file.") var session: String
        @Argument(help: "Which: numbers from `trw label suggest`, detector names, or 'all'.") var which: [String]
        @Option(name: .long) var author: String = LabelCommand.defaultAuthor
        @Option(name: .long, help: "Label set (default: the author).") var set: String?
        @Option(name: .long, help: "Tick rate the suggestions were made at, Hz.") var rate: Double = 4
        func validate() throws { try OptionCheck.tickRate(rate) }
        @Flag(name: .long, help: "Save refused labels anyway (e.g. a second onset in the set); kept in their history.") var force = false
        func run() throws {
            let r = try SessionReader(path: session)
            let all = try SuggestionEngine.suggest(r, rateHz: rate)
            var chosen: [Suggestion] = []
            for w in which {
                if w == "all" { chosen = all; break }
                if let n = Int(w) {
                    guard n >= 1 && n <= all.count else { throw CLIFailure("suggestion \(n) does not exist; there are \(all.count)") }
                    chosen.append(all[n - 1])
                } else if let s = all.first(where: { $0.detector == w }) {
                    chosen.append(s)
                } else {
                    throw CLIFailure("'\(w)' is neither a suggestion number nor a detector that suggested something (\(all.map(\.detector).joined(separator: ", ")))")
                }
            }
            let rows = chosen.map { s in
                AnnotationRecord(label: s.label, startTNs: Int64((s.tS * 1e9).rounded()), author: author, method: s.method,
                                 parametersJson: s.parametersJSON, note: s.note, labelSet: set)
            }
            let ids = try SessionWriter(appendingTo: session).addLabels(rows, force: force)
            for (id, s) in zip(ids, chosen) {
                print(String(format: "label %lld: %@ at %.3f s from %@", id, s.label, s.tS, s.detector))
            }
        }
    }

    struct History: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Every label version ever written.")
        @Argument(help: "The session file.") var session: String
        @Option(name: .long, help: "Only this label set.") var set: String?
        @Flag(name: .long, help: "JSON output.") var json = false
        func run() throws {
            let all = try SessionReader(path: session).annotations(includeHistory: true, set: set)
            if json { print(JSONText.encode(all.map(LabelCommand.jsonRow))); return }
            LabelCommand.table(all, history: true).forEach { print($0) }
        }
    }

    struct Sets: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The label sets in a session and their current label counts.")
        @Argument(help: "The session file.") var session: String
        func run() throws {
            let r = try SessionReader(path: session)
            for (s, n) in try r.labelSets() { print(s.padded(to: 24) + " \(n) labels") }
            do {
                let c = try LabelSetSelection.choose(try r.annotations(), session: session)
                print("export and score use: \(c.summary)")
            } catch let e as AmbiguousLabelSets {
                print("export and score refuse without --label-set: \(e.sets.count) candidate sets (\(e.sets.joined(separator: ", ")))")
            }
        }
    }

    struct Agree: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Agreement between two label sets over sessions: onset differences (B − A) and exclude overlap.")
        @Argument(help: "Session files.") var sessions: [String]
        @Option(name: .customLong("a"), help: "Label set A.") var a: String
        @Option(name: .customLong("b"), help: "Label set B.") var b: String
        @Flag(name: .long, help: "JSON output.") var json = false
        func run() throws {
            var input: [(name: String, labels: [AnnotationRecord])] = []
            for s in sessions {
                let r = try SessionReader(path: s)
                input.append((try r.session().name, try r.annotations()))
            }
            let ag = LabelAgreement.compute(sessions: input, setA: a, setB: b)
            if json {
                let rows = ag.rows.map { r -> [String: String] in
                    var d: [String: String] = ["session": r.session, "label": r.label]
                    d["a_s"] = r.aS.map { String($0) } ?? ""
                    d["b_s"] = r.bS.map { String($0) } ?? ""
                    d["b_minus_a_s"] = r.differenceS.map { String($0) } ?? ""
                    return d
                }
                print(JSONText.encode(rows))
                return
            }
            print("session               label                   A (\(a)) s   B (\(b)) s     B−A s")
            for r in ag.rows {
                print(r.session.padded(to: 21) + " " + r.label.padded(to: 20) + (r.aS.map { String(format: "%14.2f", $0) } ?? "             -")
                      + (r.bS.map { String(format: "%12.2f", $0) } ?? "           -") + (r.differenceS.map { String(format: "%10.2f", $0) } ?? "         -"))
            }
            print("")
            print("label                 both  only A  only B   mean |B−A| s   max |B−A| s   mean B−A s")
            for s in ag.summary() {
                print(s.label.padded(to: 20) + "\(s.both)".leftPadded(to: 6) + "\(s.onlyA)".leftPadded(to: 8) + "\(s.onlyB)".leftPadded(to: 8)
                      + String(format: "%15.2f%14.2f%13.2f", s.meanAbsS, s.maxAbsS, s.meanS))
            }
            for i in ag.intervals {
                print(String(format: "exclude %@: A %.1f s, B %.1f s, overlap (IoU) %.2f", i.session, i.aSeconds, i.bSeconds, i.intersectionOverUnion))
            }
        }
    }
}
