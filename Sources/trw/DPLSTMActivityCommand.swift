import ArgumentParser
import Foundation
import TRWAnalysis
import TRWModels
import TRWStore

/// `trw dplstm-activity`: the DP-LSTM paper's Figure 3(a) from the Swift runtime.
struct DPLSTMActivityCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dplstm-activity",
        abstract: "Run a trained DP-LSTM over sessions in Swift and plot active cells against input complexity (Figure 3(a)).")

    @Argument(help: "Model directory (model.safetensors + config.json from `python -m trw_models train --model dp-lstm`).") var model: String
    @Argument(help: "Session files.") var sessions: [String]
    @Option(name: .long, help: "Write the figure here (SVG).") var svg: String
    @Option(name: .long, help: "Complexity bins (log-spaced).") var bins: Int = 10
    @Option(name: .long, help: "Tick rate, Hz.") var rate: Double = 1

    func validate() throws {
        try OptionCheck.integer(bins, "--bins", 2...1000)
        try OptionCheck.tickRate(rate)
    }

    func run() throws {
        let w = try DPLSTMWeights(directory: model)
        let cfg = w.config
        var cx: [Double] = [], act: [Double] = [], work: [Double] = []
        for path in sessions {
            printErr("running \(path)")
            var fo = FeatureOptions()
            fo.rateHz = rate
            let table = try FeatureExtractor.extract(try SessionReader(path: path), options: fo)
            let cols = try cfg.features.map { n -> Int in
                guard let j = table.names.firstIndex(of: n) else { throw CLIFailure("\(path) has no feature '\(n)'") }
                return j
            }
            var rt = DPLSTMRuntime(weights: w)
            var raw = [Float](repeating: .nan, count: cfg.nIn)
            for k in 0..<table.count {
                for (i, j) in cols.enumerated() { raw[i] = table.values[k * table.names.count + j] }
                _ = rt.step(raw: raw)
                let dT = abs(Double(rt.last[cfg.driveIndex[0]])) / Double(cfg.driveScale[0])
                let dV = abs(Double(rt.last[cfg.driveIndex[1]])) / Double(cfg.driveScale[1])
                cx.append(dT + dV)
                act.append(Double(rt.lastActive.reduce(0, +)) / Double(cfg.layers * cfg.hidden))
                work.append(Double(rt.lastMACs) / Double(w.denseLSTMMACs))
            }
        }
        let curve = ActivityCurve(complexity: cx, activeFraction: act, workFraction: work, binCount: bins)
        print(curve.table)
        try curve.svg(title: "DP-LSTM: active cells vs input complexity (\(sessions.count) runs, \(cx.count) ticks)")
            .write(toFile: svg, atomically: true, encoding: .utf8)
        print("wrote \(svg)")
    }
}
