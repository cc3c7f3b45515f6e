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
}
