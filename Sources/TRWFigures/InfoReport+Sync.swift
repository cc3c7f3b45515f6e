import Foundation
import TRWCore
import TRWDatasets
import TRWStore

extension InfoReport {
    /// `trw info`: the summary plus the synchronisation report.
    /// One line per stored prediction run (live or replayed): ticks, alarms and when they rose.
    static func predictionsText(_ rows: [PredictionRecord]) -> String {
        guard !rows.isEmpty else { return "" }
        var runs: [String: [PredictionRecord]] = [:]
        var order: [String] = []
        for r in rows {
            let key = r.runId + "\u{0}" + r.model
            if runs[key] == nil { order.append(key) }
            runs[key, default: []].append(r)
        }
        var out = ["", "predictions (\(order.count) runs; `trw score` evaluates them against the labels)"]
        for key in order {
            let p = runs[key]!.sorted { $0.tNs < $1.tNs }
            var rises: [Double] = []
            for i in p.indices where p[i].alarm && (i == 0 || !p[i - 1].alarm) { rises.append(Double(p[i].tNs) / 1e9) }
            let shown = rises.prefix(5).map { fmt($0, 1) }.joined(separator: ", ") + (rises.count > 5 ? ", ..." : "")
            out.append("  \(p[0].model.padded(to: 10)) \(p[0].runId.padded(to: 28)) \(p.count) ticks, max score \(fmt(p.map(\.score).max() ?? 0, 2)), "
                       + (rises.isEmpty ? "no alarm" : "\(rises.count) alarm(s) at t = \(shown) s"))
        }
        return out.joined(separator: "\n")
    }

    public static func full(path: String) throws -> String {
        let reader = try SessionReader(path: path)
        let text = render(try reader.summary(), path: path) + predictionsText(try reader.predictions())
        let sync = try SessionSync.report(path: path)
        guard !sync.streams.isEmpty else { return text }
        var clock = ""
        let flagged = sync.streams.compactMap(\.fallback)
        if !flagged.isEmpty {
            clock = "\n\nCLOCK     " + flagged.joined(separator: "\n          ")
        }
        return text + clock + "\n\nsync (causal fit while recording; `trw resync` refits offline)\n" + sync.text
    }
}
