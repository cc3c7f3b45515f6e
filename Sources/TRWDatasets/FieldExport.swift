import Foundation
import TRWAnalysis
import TRWCore
import TRWStore

/// The formats of `trw export --format`. `npz` is the training dataset (several sessions,
/// schemas/export-npz.md); the others carry one session to the field's own tools:
/// schemas/export-hdf5.md, export-mcap.md, export-pridb.md.
public enum ExportFormat: String, CaseIterable, Sendable {
    case npz, hdf5, mcap, pridb
}

/// Options of the one-session exports (HDF5, MCAP, pridb).
public struct SessionExportOptions: Sendable {
    /// Session-time window, seconds (nil: from the session's start / to its end).
    public var fromS: Double?
    public var toS: Double?
    /// Per-tick features (HDF5, MCAP): the same accumulator as the NPZ export.
    public var features = FeatureOptions()
    /// Only this label set's labels (nil: every current label, each row naming its set).
    public var labelSet: String?
    public init() {}
}

/// What a one-session export wrote.
public struct SessionExportReport: Sendable {
    public var path: String
    public var format: ExportFormat
    public var bytes: Int64 = 0
    /// The window exported, session time ns (half-open).
    public var range: Range<Int64>
    public var frames = 0
    public var pcmFrames: Int64 = 0
    public var hits = 0
    public var bmsSamples = 0
    public var labels = 0
    public var ticks = 0
    public var predictions = 0
    /// pridb: hit waveforms written to the tradb beside it.
    public var waveforms = 0
    public var tradbPath: String?
    /// Frames and audio chunks left out because their payload was damaged (counted, never wrong values).
    public var damaged = DamageTally()
    public var notes: [String] = []

    public var summary: String {
        var parts = ["\(frames) frames", "\(pcmFrames) AE sample frames", "\(hits) AE hits", "\(bmsSamples) BMS samples",
                     "\(labels) labels"]
        if format != .pridb { parts.append("\(ticks) feature ticks") }
        if format == .mcap || format == .hdf5 { parts.append("\(predictions) predictions") }
        if let t = tradbPath { parts.append("\(waveforms) hit waveforms in \(t)") }
        return "wrote \(path) (\(format.rawValue), \(bytes / 1024) KiB): " + parts.joined(separator: ", ")
            + String(format: "; session time %.3f–%.3f s", Double(range.lowerBound) / 1e9, Double(range.upperBound) / 1e9)
    }
}

public enum SessionExportError: Error, CustomStringConvertible, Equatable {
    case outputExists(String)
    case outsideSession(option: String, valueS: Double, session: String, spanS: ClosedRange<Double>)
    case emptyWindow(fromS: Double, toS: Double)
    case notANumber(option: String, value: Double)
    case unsupported(String)
    case badField(file: String, stream: String, field: String, value: String, expected: String)

    public var description: String {
        switch self {
        case .outputExists(let p):
            "\(p) exists; trw export never overwrites an HDF5, MCAP, pridb or tradb file: remove it or choose another --out"
        case .outsideSession(let o, let v, let s, let span):
            String(format: "%@ %.3f s lies outside the session %@, which spans %.3f–%.3f s of session time", o, v, s,
                   span.lowerBound, span.upperBound)
        case .emptyWindow(let a, let b):
            String(format: "--from %.3f s must be before --to %.3f s", a, b)
        case .notANumber(let o, let v): "\(o) must be a finite number of seconds, got \(v)"
        case .unsupported(let m): m
        case .badField(let f, let st, let field, let v, let e):
            "\(f): stream \(st): \(field) is \(v); expected \(e) (the file is damaged or was edited by hand)"
        }
    }
}

public enum SessionExport {
    /// Writes one session in `format` (not `.npz`, which `DatasetExporter` writes).
    public static func export(session path: String, format: ExportFormat, to out: String,
                              options o: SessionExportOptions = SessionExportOptions()) throws -> SessionExportReport {
        let r = try SessionReader(path: path)
        let range = try window(r, fromS: o.fromS, toS: o.toS)
        if format == .pridb, FileManager.default.fileExists(atPath: TradbExport.path(forPridb: out)) {
            throw SessionExportError.outputExists(TradbExport.path(forPridb: out))
        }
        return try AtomicOutput.write(to: out) { tmp in
            var report: SessionExportReport
            switch format {
            case .hdf5: report = try HDF5Export.write(r, range: range, options: o, to: tmp)
            case .mcap: report = try MCAPExport.write(r, range: range, options: o, to: tmp)
            case .pridb:
                // The tradb (waveforms) beside it: NAME.tradb, written and linked first, equally never overwritten.
                guard try !r.streams(kind: .ae).isEmpty else {
                    report = try PridbExport.write(r, range: range, options: o, to: tmp)
                    break
                }
                let tradb = TradbExport.path(forPridb: out)
                if FileManager.default.fileExists(atPath: tradb) { throw SessionExportError.outputExists(tradb) }
                report = try AtomicOutput.write(to: tradb) { tmpTradb in
                    try PridbExport.write(r, range: range, options: o, to: tmp, tradb: tmpTradb)
                }
                report.tradbPath = tradb
            case .npz: throw SessionExportError.unsupported("NPZ datasets are written by DatasetExporter")
            }
            report.path = out
            return report
        } finish: { report, bytes in
            var r = report
            r.bytes = bytes
            return r
        }
    }

    /// The session-time window [from, to) in ns, checked against the session's span (from its
    /// first data or 0 to its end or last data).
    public static func window(_ r: SessionReader, fromS: Double?, toS: Double?) throws -> Range<Int64> {
        let labelExtent = try r.extentNs()
        // The label extent stops at the last row's start; a hit late in the last audio chunk comes after it.
        let ext = labelExtent.lowerBound...max(labelExtent.upperBound, try r.lastDataNs() ?? labelExtent.upperBound)
        let span = (Double(ext.lowerBound) / 1e9)...(Double(ext.upperBound) / 1e9)
        for (name, v) in [("--from", fromS), ("--to", toS)] {
            guard let v else { continue }
            guard v.isFinite else { throw SessionExportError.notANumber(option: name, value: v) }
            guard span.contains(v) else {
                throw SessionExportError.outsideSession(option: name, valueS: v, session: r.path, spanS: span)
            }
        }
        let lo = fromS.map { Int64(($0 * 1e9).rounded()) } ?? ext.lowerBound
        // The end is inclusive of the last sample when no --to is given.
        let hi = toS.map { Int64(($0 * 1e9).rounded()) } ?? (ext.upperBound == Int64.max ? ext.upperBound : ext.upperBound + 1)
        guard lo < hi else { throw SessionExportError.emptyWindow(fromS: fromS ?? span.lowerBound, toS: toS ?? span.upperBound) }
        return lo..<hi
    }

    /// The labels exported: every current label (or only `set`'s) overlapping the window.
    static func labels(_ r: SessionReader, set: String?, range: Range<Int64>) throws -> [AnnotationRecord] {
        try r.annotations(set: set).filter { a in
            let end = a.endTNs ?? a.startTNs
            return end >= range.lowerBound && a.startTNs < range.upperBound
        }
    }

    /// Per-tick features over the window (nil when the window holds no whole tick).
    static func features(_ r: SessionReader, range: Range<Int64>, options: FeatureOptions) throws -> FeatureTable? {
        var f = options
        f.fromS = max(0, Double(range.lowerBound) / 1e9)
        f.toS = Double(range.upperBound) / 1e9
        do { return try FeatureExtractor.extract(r, options: f) } catch FeatureExtractionError.emptySession { return nil }
    }
}

/// An output written to a temporary file beside it and renamed into place only when
/// complete: an interrupted export leaves no half-written file under the name asked for
/// (a leftover `.NAME.partial-XXXX` is removed on any error thrown). An existing output
/// is refused, never overwritten.
public enum AtomicOutput {
    public static func write<R>(to path: String, _ body: (String) throws -> R,
                                finish: (R, Int64) -> R = { r, _ in r }) throws -> R {
        let fm = FileManager.default
        if fm.fileExists(atPath: path) { throw SessionExportError.outputExists(path) }
        let url = URL(fileURLWithPath: path)
        let dir = url.deletingLastPathComponent().path
        let tmp = dir + "/." + url.lastPathComponent + ".partial-" + String(UUID().uuidString.prefix(8))
        var done = false
        defer { if !done { try? fm.removeItem(atPath: tmp) } }
        let result = try body(tmp)
        // link(2) then unlink: fails instead of replacing a file created meanwhile.
        if link(tmp, path) != 0 {
            let e = errno
            if e == EEXIST { throw SessionExportError.outputExists(path) }
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path,
                                                          NSLocalizedDescriptionKey: "cannot create \(path): \(String(cString: strerror(e)))"])
        }
        unlink(tmp)
        done = true
        let bytes = (try? fm.attributesOfItem(atPath: path)[.size] as? NSNumber)?.int64Value ?? 0
        return finish(result, bytes)
    }
}

extension TradbExport {
    /// RUN.pridb -> RUN.tradb
    static func path(forPridb p: String) -> String {
        (p.lowercased().hasSuffix(".pridb") ? String(p.dropLast(6)) : p) + ".tradb"
    }
}
