import ArgumentParser
import Foundation
import TRWAnalysis
import TRWAnnotate
import TRWDatasets
import TRWStore

struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Export sessions to an NPZ training dataset, or one session to HDF5, MCAP (Foxglove) or a Vallen pridb.",
        discussion: """
            npz (default): several sessions, per-tick features, labels, split metadata (schemas/export-npz.md); numpy reads it.
            hdf5: one session, lossless: 16-bit radiometric frames, PCM, BMS, AE hits, labels, features (schemas/export-hdf5.md); h5py, MATLAB h5read.
            mcap: one session for Foxglove: mono16 frames, BMS, features, AE hits, labels, predictions on session time (schemas/export-mcap.md).
            pridb: one session's AE hits and acquisition settings for VisualAE and vallenae (schemas/export-pridb.md).
            hdf5, mcap and pridb take --from/--to, never overwrite an existing file, and appear under their name only when complete.
            """)

    @Argument(help: "Session files (one for hdf5, mcap and pridb).")
    var sessions: [String]

    @Option(name: .long, help: "npz (default), hdf5, mcap or pridb.")
    var format: String = ExportFormat.npz.rawValue

    @Option(name: .long, help: "The file to write (.npz, .h5, .mcap, .pridb).")
    var out: String

    @Option(name: .long, help: "hdf5, mcap, pridb: start of the window, \(TimeParsing.help); inside the session.")
    var from: String?

    @Option(name: .long, help: "hdf5, mcap, pridb: end of the window (same forms); inside the session.")
    var to: String?

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
        guard let f = ExportFormat(rawValue: format) else {
            throw ValidationError("--format must be one of \(ExportFormat.allCases.map(\.rawValue).joined(separator: ", ")), got '\(format)'")
        }
        if f == .npz {
            if from != nil || to != nil { throw ValidationError("--from/--to apply to --format hdf5, mcap and pridb; an NPZ dataset covers whole sessions") }
        } else {
            if sessions.count != 1 { throw ValidationError("--format \(format) writes one session; got \(sessions.count) (NPZ datasets take several)") }
            if irFrames != nil || aeStft != 0 || labelMethod != nil || labelAuthor != nil {
                throw ValidationError("--ir-frames, --ae-stft, --label-method and --label-author apply to NPZ datasets only")
            }
            if f == .pridb && !out.lowercased().hasSuffix(".pridb") {
                throw ValidationError("a Vallen pridb must end in .pridb (vallenae and VisualAE refuse other names), got '\(out)'")
            }
        }
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
        if let f = ExportFormat(rawValue: format), f != .npz { return try runOne(f) }
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

    /// HDF5, MCAP, pridb: one session, an optional window.
    func runOne(_ f: ExportFormat) throws {
        let reader = try SessionReader(path: sessions[0])
        let t = { (s: String) in Double(try LabelCommand.time(s, reader)) / 1e9 }
        var o = SessionExportOptions()
        o.fromS = try from.map(t)
        o.toS = try to.map(t)
        o.features.rateHz = rate
        o.labelSet = labelSet
        let started = Date()
        let report: SessionExportReport
        do {
            report = try SessionExport.export(session: sessions[0], format: f, to: out, options: o)
        } catch let e as SessionExportError {
            throw CLIFailure(e.description)
        }
        print(report.summary + String(format: " in %.1f s", Date().timeIntervalSince(started)))
        if !report.damaged.isEmpty { print("warning: " + report.damaged.summary) }
        for n in report.notes { printErr("note: \(n)") }
    }
}
