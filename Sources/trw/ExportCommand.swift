import ArgumentParser
import Foundation
import TRWAnalysis
import TRWDatasets
import TRWStore

struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Export sessions to an NPZ dataset (per-tick features, labels, split metadata) for training.",
        discussion: "Layout: schemas/export-npz.md. Python reads it with numpy alone: np.load(\"DATASET.npz\").")

    @Argument(help: "Session files.")
    var sessions: [String]

    @Option(name: .long, help: "The .npz to write.")
    var out: String

    @Option(name: .long, help: "Ticks per second (1 default, 10 also usual).")
    var rate: Double = 1

    @Option(name: .long, help: "Horizon H of the 'runaway within H seconds' label.")
    var horizon: Double = 60

    @Option(name: .long, help: "The label set defining onset and exclusions on every session (trw label sets lists them). Default, per session: \(LabelSetSelection.precedence).")
    var labelSet: String?

    @Option(name: .long, help: "Use only labels of this method (manual, simulator_ground_truth, detector:...).")
    var labelMethod: String?

    @Option(name: .long, help: "Use only labels by this author (one annotator's label set).")
    var labelAuthor: String?

    @Option(name: .long, help: "Add IR frame tensors downsampled to WxH, e.g. 64x48 or 160x120.")
    var irFrames: String?

    @Option(name: .long, help: "Add AE STFT tensors: the tick's mean spectrum in N bins up to Nyquist (e.g. 64).")
    var aeStft: Int = 0

    func validate() throws {
        try OptionCheck.tickRate(rate)
        try OptionCheck.number(horizon, "--horizon", OptionCheck.secondsRange, openLower: true, unit: "seconds")
        if !(0...512).contains(aeStft) { throw ValidationError("--ae-stft must be 0 (none) to 512 bins, got \(aeStft)") }
        if let f = irFrames, Self.size(f) == nil { throw ValidationError("--ir-frames expects WxH such as 64x48, got '\(f)'") }
    }

    static func size(_ s: String) -> (width: Int, height: Int)? {
        let p = s.lowercased().split(separator: "x").compactMap { Int($0) }
        guard p.count == 2, p[0] > 0, p[1] > 0, p[0] <= 1024, p[1] <= 1024 else { return nil }
        return (p[0], p[1])
    }

    func run() throws {
        var o = ExportOptions()
        o.features.rateHz = rate
        o.horizonS = horizon
        o.labelSet = labelSet
        o.labelMethod = labelMethod
        o.labelAuthor = labelAuthor
        o.irFrameSize = irFrames.flatMap(Self.size)
        o.aeSpectrumBins = aeStft
        var last = -1
        let report = try DatasetExporter.export(sessions: sessions, to: out, options: o) { path, f in
            let pct = Int(f * 100)
            if pct / 10 != last / 10 || pct == 100 {
                last = pct
                printErr("exporting \(path): \(pct)%")
            }
        }
        print("wrote \(report.path): \(report.sessions) sessions (\(report.sessionsWithOnset) with a runaway onset label), "
              + "\(report.ticks) ticks x \(report.features) features at \(rate) Hz, \(report.bytes / 1024) KiB")
        if !report.damaged.isEmpty { print("warning: " + report.damaged.summary) }
        for n in report.notes { printErr("note: \(n)") }
        for (path, c) in zip(sessions, report.labelSets) {
            print("  \(path): label set \(c.summary)" + (c.otherSets.isEmpty ? "" : "; not used: \(c.otherSets.joined(separator: ", "))"))
        }
    }
}
