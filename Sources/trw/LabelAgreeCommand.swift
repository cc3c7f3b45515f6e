import ArgumentParser
import Foundation
import TRWAnalysis
import TRWAnnotate
import TRWCore
import TRWStore

extension LabelCommand {
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
