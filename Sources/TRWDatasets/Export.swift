import Foundation
import TRWAnalysis
import TRWCodec
import TRWCore
import TRWStore

/// What `trw export` writes; the layout is documented in schemas/export-npz.md.
public struct ExportOptions: Sendable {
    public var features = FeatureOptions()
    /// "runaway within horizon H" label, seconds.
    public var horizonS: Double = 60
    /// The label set that defines onset and exclusions on every session (`--label-set`);
    /// nil: per session by `LabelSetSelection.precedence`. Sets are never mixed.
    public var labelSet: String?
    /// Only labels of this method ("manual", "simulator_ground_truth", "detector:gb38031", ...) count.
    public var labelMethod: String?
    /// Only labels by this author count.
    public var labelAuthor: String?
    /// Optional IR tensors downsampled (block mean) to this size, °C as float16.
    public var irFrameSize: (width: Int, height: Int)?
    /// Optional AE STFT tensors: bins of the per-tick mean spectrum (0: none).
    public var aeSpectrumBins: Int { get { features.aeSpectrumBins } set { features.aeSpectrumBins = newValue } }
    public init() {}
}

public struct ExportReport: Sendable {
    public var path: String
    public var sessions: Int
    public var ticks: Int
    public var features: Int
    public var bytes: Int64
    public var sessionsWithOnset: Int
    /// Frames and audio chunks skipped because their payload was damaged (features NaN there).
    public var damaged = DamageTally()
    /// The label set used on each session, in order.
    public var labelSets: [LabelSetChoice] = []
    /// Things the user should know (e.g. how the cell's serial stream was chosen without roles).
    public var notes: [String] = []
}

public enum ExportError: Error, CustomStringConvertible {
    case noSessions
    case badFrameSize(String)
    public var description: String {
        switch self {
        case .noSessions: "no sessions given; pass one or more .sqlite files"
        case .badFrameSize(let m): m
        }
    }
}

public enum DatasetExporter {
    /// Exports sessions to one NPZ, one session at a time (memory: one
    /// session's feature table, which is small, plus one frame).
    public static func export(sessions paths: [String], to outPath: String, options o: ExportOptions = ExportOptions(),
                              progress: ((String, Double) -> Void)? = nil) throws -> ExportReport {
        guard !paths.isEmpty else { throw ExportError.noSessions }
        let tmp = NSTemporaryDirectory() + "trw-export-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: tmp, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: tmp) }
        let names = FeatureExtractor.names(o.features)
        let nf = names.count
        func w(_ n: String, _ t: NPYDType, _ shape: [Int] = []) throws -> NPYStreamWriter {
            try NPYStreamWriter(path: "\(tmp)/\(n).npy", dtype: t, trailingShape: shape)
        }
        let features = try w("features", .float32, [nf])
        let tS = try w("t_s", .float64)
        let sessionIndex = try w("session_index", .int32)
        let tto = try w("time_to_onset_s", .float32)
        let within = try w("runaway_within_horizon", .int8)
        let post = try w("post_onset", .bool)
        let mask = try w("mask", .bool)
        let ir = try o.irFrameSize.map { try w("ir_frames_c", .float16, [$0.height, $0.width]) }
        let aeSpec = o.aeSpectrumBins > 0 ? try w("ae_stft_log10", .float32, [o.aeSpectrumBins]) : nil
        var sUUID: [String] = [], sName: [String] = [], sChem: [String] = [], sCap: [Double] = [], sFormat: [String] = []
        var sOnset: [Double] = [], sHasOnset: [Bool] = [], sTicks: [Int32] = [], sLabelSet: [String] = [], sLabelRule: [String] = []
        var total = 0
        var damaged = DamageTally()
        var choices: [LabelSetChoice] = []
        var notes: [String] = []
        for (si, path) in paths.enumerated() {
            let r = try SessionReader(path: path)
            let sess = try r.session()
            let table = try FeatureExtractor.extract(r, options: o.features) { progress?(path, $0 * 0.9) }
            damaged.merge(table.damaged)
            let choice = try LabelSetSelection.choose(try r.annotations(), requested: o.labelSet, method: o.labelMethod,
                                                      author: o.labelAuthor, session: path)
            choices.append(choice)
            if let n = table.serialRoles.note { notes.append("\(path): \(n)") }
            let onset = choice.onsetS
            let excluded = choice.excludedS
            try features.append(table.values)
            try tS.append(table.tickTimesS)
            try sessionIndex.append([Int32](repeating: Int32(si), count: table.count))
            try tto.append(table.tickTimesS.map { t in onset.map { Float($0 - t) } ?? .nan })
            try within.append(table.tickTimesS.map { t -> Int8 in onset.map { t >= $0 - o.horizonS ? 1 : 0 } ?? 0 })
            try post.append(table.tickTimesS.map { t in onset.map { t >= $0 } ?? false })
            try mask.append(table.tickTimesS.map { t in !excluded.contains { t >= $0.0 && t <= $0.1 } })
            if let aeSpec { try aeSpec.append(table.aeSpectrum) }
            if let ir, let size = o.irFrameSize {
                try appendFrames(r, ticks: table.tickTimesS, size: size, to: ir, damaged: &damaged)
            }
            sUUID.append(sess.uuid); sName.append(sess.name)
            sChem.append(sess.cellChemistry ?? ""); sCap.append(sess.cellCapacityAh ?? .nan); sFormat.append(sess.cellFormat ?? "")
            sOnset.append(onset ?? .nan); sHasOnset.append(onset != nil); sTicks.append(Int32(table.count))
            sLabelSet.append(choice.name)
            sLabelRule.append(choice.rule)
            total += table.count
            progress?(path, 1)
        }
        func strings(_ n: String, _ v: [String]) throws {
            let x = try w(n, .unicode(max(1, v.map(\.unicodeScalars.count).max() ?? 1)))
            try x.append(strings: v)
            try x.finish()
        }
        try strings("feature_names", names)
        try strings("session_uuid", sUUID)
        try strings("session_name", sName)
        try strings("session_cell_chemistry", sChem)
        try strings("session_cell_format", sFormat)
        try strings("session_label_set", sLabelSet)
        try strings("session_label_rule", sLabelRule)
        let cap = try w("session_cell_capacity_ah", .float64); try cap.append(sCap); try cap.finish()
        let on = try w("session_onset_s", .float64); try on.append(sOnset); try on.finish()
        let ho = try w("session_has_onset", .bool); try ho.append(sHasOnset); try ho.finish()
        let tk = try w("session_ticks", .int32); try tk.append(sTicks); try tk.finish()
        let meta = try w("meta_json", .unicode(4096))
        let metaText = JSONText.encode([
            "format": "trw-dataset-1", "rate_hz": String(o.features.rateHz), "horizon_s": String(o.horizonS),
            "label_method": o.labelMethod ?? "any", "label_author": o.labelAuthor ?? "any",
            "label_set": Self.labelSetSummary(o.labelSet, sLabelSet),
            "label_set_rule": o.labelSet == nil ? LabelSetSelection.precedence : "--label-set \(o.labelSet!)",
            "ir_frame_size": o.irFrameSize.map { "\($0.width)x\($0.height)" } ?? "none",
            "ae_stft_bins": String(o.aeSpectrumBins), "ae_stft_fft_size": String(o.features.fftSize),
            "damaged_payloads_skipped": String(damaged.count),
        ])
        try meta.append(strings: [metaText])
        try meta.finish()
        for x in [features, tS, sessionIndex, tto, within, post, mask] { try x.finish() }
        try ir?.finish()
        try aeSpec?.finish()
        var members = ["features", "feature_names", "t_s", "session_index", "time_to_onset_s", "runaway_within_horizon",
                       "post_onset", "mask", "session_uuid", "session_name", "session_cell_chemistry", "session_cell_format",
                       "session_cell_capacity_ah", "session_onset_s", "session_has_onset", "session_ticks", "session_label_set",
                       "session_label_rule", "meta_json"]
        if ir != nil { members.append("ir_frames_c") }
        if aeSpec != nil { members.append("ae_stft_log10") }
        try NPZArchive.write(members: members.map { ($0, "\(tmp)/\($0).npy") }, to: outPath)
        let bytes = (try? FileManager.default.attributesOfItem(atPath: outPath)[.size] as? NSNumber)?.int64Value ?? 0
        return ExportReport(path: outPath, sessions: paths.count, ticks: total, features: nf, bytes: bytes,
                            sessionsWithOnset: sHasOnset.filter { $0 }.count, damaged: damaged, labelSets: choices, notes: notes)
    }

    /// meta_json's `label_set`: the one set every session used ("none" without labels), or
    /// "per session: a, b" when the precedence chose different sets on different sessions
    /// (each session's own set is in `session_label_set`; one session never mixes sets).
    public static func labelSetSummary(_ requested: String?, _ perSession: [String]) -> String {
        if let requested { return requested }
        let used = Array(Set(perSession)).sorted()
        if used.count <= 1 { return used.first ?? "none" }
        if used.count > 8 { return "per session: \(used.count) sets (see session_label_set)" }
        return "per session: " + used.joined(separator: ", ")
    }

    /// The frame at each tick's end, block-mean downsampled, in °C.
    static func appendFrames(_ r: SessionReader, ticks: [Double], size: (width: Int, height: Int),
                             to out: NPYStreamWriter, damaged: inout DamageTally) throws {
        let st = try r.streams(kind: .thermal).first
        let dec = try FrameDecoder()
        let n = size.width * size.height
        for t in ticks {
            var cell = [Float16](repeating: .nan, count: n)
            if let st, let cal = st.calibration, let w = st.width, let h = st.height,
               let f = try r.frame(streamId: st.id!, nearest: Int64(t * 1e9)), f.tNs <= Int64(t * 1e9) {
                // A damaged frame leaves the tick's IR tensor NaN (counted, never wrong values).
                do throws(DamagedPayload) {
                    let px = try r.pixels(of: f, stream: st, decoder: dec)
                    let means = IRDownsample.blockMeanCelsius(px, width: w, height: h, calibration: cal,
                                                              toWidth: size.width, toHeight: size.height)
                    cell = means.map { $0.map { Float16($0) } ?? .nan }
                } catch {
                    damaged.record(error)
                }
            }
            try out.append(cell)
        }
    }
}
