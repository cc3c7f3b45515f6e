import Foundation
import TRWCore
import TRWStore
import TRWSync

/// `trw import SESSION FILE`: a cycler's or logger's file added to a finished session as a new
/// `bms`-table stream with a role (default `cycler`), its clock fitted onto the session's
/// time base. The session is backed up first and the import is one transaction (docs/import.md).
public enum SessionImport {
    public enum ClockMode: String, Sendable, CaseIterable, Codable {
        /// The file's absolute timestamps against the session's realtime anchor.
        case timestamps
        /// Cross-correlation of a shared signal with a recorded stream.
        case xcorr
        /// xcorr when a recorded stream shares the signal, else timestamps.
        case auto
    }

    public struct Request: Sendable {
        public var session: String
        public var file: String
        public var format: ImportFormat
        public var role: InstrumentRole = .cycler
        /// Stream key; default the role and the first free number (`cycler0`).
        public var key: String?
        public var clock: ClockMode = .auto
        /// voltage or current; default voltage, else current.
        public var signal: ImportField?
        /// Key of the recorded stream to correlate with; default: the supply, else the cell's BMS, else the first serial stream with the signal.
        public var reference: String?
        public var csv = CSVOptions()
        /// Bad lines tolerated (each stored as a `parse_error` gap); more refuse the import.
        public var maxBadLines = 0
        /// Declared error of the file's timestamps against the session's realtime anchor, s.
        public var timestampUncertaintyS = 1.0
        /// Where the session is copied before it changes; default SESSION.bak.
        public var backup: String?
        public var python: String = "python3"
        /// Hours to subtract from a converted file's local wall-clock times to get UTC; nil: not used.
        public var utcOffsetHours: Double?
        public var converterTimeoutS = 300.0
        public var xcorr = ClockAlignment.Settings()

        public init(session: String, file: String, format: ImportFormat) {
            self.session = session
            self.file = file
            self.format = format
        }
    }

    /// What an import did (the CLI prints it; `--json` encodes it).
    public struct Result: Sendable, Codable {
        public var session: String
        public var file: String
        public var format: String
        public var stream: String
        public var role: String
        public var rows: Int
        public var dataLines: Int
        public var badLines: Int
        /// The first bad lines (at most 20), as sentences.
        public var problems: [String]
        public var columns: [String]
        public var ignoredColumns: [String]
        public var clock: String
        public var reference: String?
        public var signal: String?
        /// Session time of file time 0, s; drift of the file's clock, ppm; their standard errors.
        public var offsetS: Double
        public var offsetStdErrS: Double
        public var driftPpm: Double
        public var driftStdErrPpm: Double
        /// False: the drift was within two standard errors of zero and is not applied.
        public var driftResolved: Bool
        public var windowsUsed: Int
        public var medianPeakCorrelation: Double?
        /// Session times of the first and last imported row, s, and the session's own span.
        public var firstSessionS: Double
        public var lastSessionS: Double
        public var sessionEndS: Double?
        public var backup: String
        public var notes: [String]

        public var text: String {
            var l: [String] = []
            l.append("imported \(rows) rows of \(file) (\(format)) into \(session) as stream \(stream) (role \(role))")
            l.append("columns: " + columns.joined(separator: ", ") + (ignoredColumns.isEmpty ? "" : "; kept in raw only: " + ignoredColumns.joined(separator: ", ")))
            if clock == ClockMode.xcorr.rawValue {
                l.append("clock: cross-correlation of \(signal ?? "?") with \(reference ?? "?") over \(windowsUsed) windows"
                         + String(format: " (median peak r %.4f)", medianPeakCorrelation ?? .nan))
            } else {
                l.append("clock: timestamps (declared uncertainty \(fmt(offsetStdErrS)) s; drift not measured)")
            }
            l.append(String(format: "  file t=0 s at session t = %.6f s +- %.3f ms; ", offsetS, offsetStdErrS * 1e3)
                     + (driftResolved ? String(format: "drift %+.2f +- %.2f ppm", driftPpm, driftStdErrPpm)
                        : String(format: "drift not resolved (within 2 s.e. of 0): none applied, +- %.2f ppm", driftStdErrPpm)))
            l.append(String(format: "  rows span session t = %.3f .. %.3f s", firstSessionS, lastSessionS) + (sessionEndS.map { String(format: " (session 0 .. %.3f s)", $0) } ?? ""))
            if badLines > 0 {
                l.append("\(badLines) bad lines left out (stored as parse_error gaps):")
                l += problems.map { "  " + $0 }
                if badLines > problems.count { l.append("  ... and \(badLines - problems.count) more") }
            }
            l += notes.map { "note: " + $0 }
            l.append("backup of the session before the import: \(backup)")
            return l.joined(separator: "\n")
        }
        private func fmt(_ v: Double) -> String { String(format: "%g", v) }
    }

    /// Reads the file, fits its clock, backs the session up and adds the stream in one transaction.
    public static func run(_ q: Request) throws -> Result {
        // 1. The file, fully parsed and checked before the session is touched.
        let table: ImportedTable = switch q.format {
        case .bdf: try DelimitedParser.parseBDF(path: q.file)
        case .csv: try DelimitedParser.parseCSV(path: q.file, options: q.csv)
        case .maccor: try MaccorParser.parse(path: q.file, utcOffsetHours: q.utcOffsetHours)
        default: try CyclerConverter.convert(input: q.file, format: q.format, python: q.python,
                                             utcOffsetHours: q.utcOffsetHours, timeoutS: q.converterTimeoutS)
        }
        let converted = q.format.needsConverter ? " (line numbers of the BDF CSV converted from it)" : ""
        if table.problems.count > q.maxBadLines {
            let shown = table.problems.prefix(10).map { "  " + $0.description }.joined(separator: "\n")
            throw ImportError("\(q.file)\(converted): \(table.problems.count) of \(table.dataLines) data lines are bad "
                              + "(--max-bad-lines \(q.maxBadLines)); nothing was imported:\n\(shown)"
                              + (table.problems.count > 10 ? "\n  ... and \(table.problems.count - 10) more" : ""))
        }
        guard !table.rows.isEmpty else {
            throw ImportError("\(q.file): no data lines after the header; nothing to import")
        }
        if q.format == .maccor && q.utcOffsetHours == nil && q.clock == .timestamps {
            throw ImportError("\(q.file): --clock timestamps needs --utc-offset HOURS for a Maccor file (its DPt Time is the cycler PC's local wall time, without a zone)")
        }

        // 2. The session as it is.
        let reader = try SessionReader(path: q.session)
        let session = try reader.session()
        let streams = try reader.streams()
        let key = try q.key ?? freeKey(role: q.role, taken: Set(streams.map(\.key)))
        if streams.contains(where: { $0.key == key }) {
            throw ImportError("\(q.session) already has a stream \(key); choose another --key")
        }
        let startUnixS = Double(session.startRealtimeNs) / 1e9
        let sessionEndS = session.endTNs.map { Double($0) / 1e9 }
        let describe = "\(q.file) against \(q.session)"

        // 3. The clock.
        var notes: [String] = []
        var fit: ClockAlignment.Fit
        var reference: String? = nil
        var signal: ImportField? = nil
        let hasTimestamps = table.rows.contains { $0.unixTimeS != nil }
        let shared = try pickReference(q, table: table, streams: streams, reader: reader)
        switch (q.clock, shared) {
        case (.timestamps, _), (.auto, nil):
            if q.clock == .auto && !hasTimestamps {
                throw ImportError("\(describe): cannot place the file in time: it has no absolute timestamps and no recorded serial stream "
                                  + "shares its voltage or current (--reference, --signal)")
            }
            fit = try ClockAlignment.timestamps(rows: table.rows, sessionStartUnixS: startUnixS,
                                                uncertaintyS: q.timestampUncertaintyS, describe: describe)
        case (.xcorr, nil):
            throw ImportError("\(describe): --clock xcorr needs a recorded serial stream with the file's \(q.signal?.description ?? "voltage or current") "
                              + "(streams: \(streams.filter { $0.streamKind == .bms }.map(\.key).joined(separator: ", ")))")
        case (.xcorr, let s?), (.auto, let s?):
            do {
                fit = try ClockAlignment.crossCorrelate(file: table.series(s.signal), reference: s.series, settings: q.xcorr, describe: describe)
                reference = s.key
                signal = s.signal
            } catch let e as ImportError where q.clock == .auto && hasTimestamps {
                notes.append("cross-correlation failed (\(e.description)); placed by the file's timestamps instead")
                fit = try ClockAlignment.timestamps(rows: table.rows, sessionStartUnixS: startUnixS,
                                                    uncertaintyS: q.timestampUncertaintyS, describe: describe)
            }
        }
        if fit.method == .crossCorrelation && hasTimestamps {
            let d = table.rows.compactMap { r in r.unixTimeS.map { ($0 - startUnixS) - fit.sessionTime(fileS: r.timeS) } }
            let mean = d.reduce(0, +) / Double(d.count)
            notes.append(String(format: "the file's own timestamps are %+.3f s off the fitted times (its clock against the session's host)", mean))
        }

        // 4. Rows on the session's time base; everything range-checked once more as integers.
        let startMono = session.startMonotonicNs
        var samples: [BMSSampleRecord] = []
        samples.reserveCapacity(table.rows.count)
        var tNsOf: [Int: Int64] = [:]
        for r in table.rows {
            let ts = fit.sessionTime(fileS: r.timeS)
            guard ts.isFinite, abs(ts) < 9e9 else { throw ImportError("\(q.file) line \(r.line): its session time \(ts) s is out of range") }
            let tNs = Int64((ts * 1e9).rounded())
            tNsOf[r.line] = tNs
            var cellTemps = r.cellTempsC
            if cellTemps.isEmpty, let c = r.extra["cell_temp"] { cellTemps = [c] }
            var extra = r.extra
            if let u = r.unixTimeS { extra["unix_time_s"] = u }
            let s = BMSSample(hostArrivalNs: startMono &+ tNs, deviceTimeS: r.timeS, voltageV: r.voltageV, currentA: r.currentA,
                              cellTempsC: cellTemps, ambientC: r.ambientC, soc: r.soc, extra: extra, raw: r.raw)
            samples.append(BMSSampleRecord(streamId: 0, sample: s, tNs: tNs))
        }
        let firstTS = Double(samples.map(\.tNs).min()!) / 1e9, lastTS = Double(samples.map(\.tNs).max()!) / 1e9
        if let end = sessionEndS, lastTS < 0 || firstTS > end {
            throw ImportError("\(describe): the file does not cover the session: "
                              + String(format: "its rows fall at session t = %.3f .. %.3f s, the session spans 0 .. %.3f s", firstTS, lastTS, end)
                              + (fit.method == .timestamps ? " (by timestamps: is the cycler's clock or --utc-offset wrong? try --clock xcorr)" : ""))
        }
        let goodLines = table.rows.map(\.line)
        let gaps = table.problems.map { p -> GapRecord in
            // At the time of the last good line before it (or the first good line).
            let before = goodLines.last { $0 < p.line } ?? goodLines[0]
            return GapRecord(streamId: nil, kind: GapEvent.Kind.parseError.rawValue, startTNs: tNsOf[before]!, endTNs: nil, lostCount: 1,
                             detail: "import of \((q.file as NSString).lastPathComponent)\(converted): \(p.description)")
        }

        // 5. The clock model, as the store keeps every stream's.
        let model = clockModel(fit, startMonotonicNs: startMono, firstFileS: table.rows.first!.timeS, lastFileS: table.rows.last!.timeS,
                               note: note(fit, file: q.file, format: q.format, reference: reference, signal: signal, extraNotes: notes),
                               fitter: "trw import \(q.format.rawValue) \(fit.method.rawValue)")

        // 6. Backup, then one transaction.
        let backup = q.backup ?? q.session + ".bak"
        let units = unitsOf(table)
        let rate = table.rows.count > 1 ? Double(table.rows.count - 1) / max(table.rows.last!.timeS - table.rows.first!.timeS, 1e-9) : 0
        let descriptor = StreamDescriptor(
            key: key, kind: .bms, device: "import:" + (q.file as NSString).lastPathComponent, format: "import-\(q.format.rawValue)",
            nominalRateHz: rate, units: units,
            properties: [StreamRecord.importFormatProperty: q.format.rawValue, "import.source": q.file, "import.clock": fit.method.rawValue,
                         "import.columns": table.columns.map { "\($0.header)->\($0.field)" }.joined(separator: "; "),
                         "import.bad_lines": String(table.problems.count), "import.imported_utc": ISOTime.now()]
                .merging(table.banner.isEmpty ? [:] : ["import.header": table.banner.joined(separator: "\n")]) { a, _ in a },
            role: q.role)
        let writer = try SessionWriter(appendingTo: q.session, refuseLive: true)
        try writer.backup(to: backup)
        try writer.addImportedStream(descriptor, samples: samples, gaps: gaps,
                                     clockMethod: "import-" + fit.method.rawValue, clockModelJSON: try model.jsonText())
        _ = try writer.close()

        return Result(
            session: q.session, file: q.file, format: q.format.rawValue, stream: key, role: q.role.rawValue, rows: samples.count,
            dataLines: table.dataLines, badLines: table.problems.count, problems: table.problems.prefix(20).map(\.description),
            columns: table.columns.map { "\($0.header) -> \($0.field)" + ($0.scale != 1 || $0.offset != 0 ? " (from \($0.unit))" : "") },
            ignoredColumns: table.ignoredColumns, clock: fit.method == .crossCorrelation ? ClockMode.xcorr.rawValue : ClockMode.timestamps.rawValue,
            reference: reference, signal: signal?.description, offsetS: fit.offsetS, offsetStdErrS: fit.stdErrS(fileS: 0),
            driftPpm: fit.driftPpm, driftStdErrPpm: fit.driftStdErrPpm, driftResolved: fit.driftResolved, windowsUsed: fit.windowsUsed,
            medianPeakCorrelation: fit.method == .crossCorrelation ? fit.medianPeakCorrelation : nil,
            firstSessionS: firstTS, lastSessionS: lastTS, sessionEndS: sessionEndS, backup: backup, notes: notes)
    }

    // MARK: - pieces

    struct SharedSignal {
        var key: String
        var signal: ImportField
        var series: [(t: Double, v: Double)]
    }

    /// The recorded stream and signal to correlate with, or nil when none fits.
    static func pickReference(_ q: Request, table: ImportedTable, streams: [StreamRecord], reader: SessionReader) throws -> SharedSignal? {
        if let s = q.signal, s != .voltage && s != .current { throw ImportError("--signal must be voltage or current") }
        let signals: [ImportField] = q.signal.map { [$0] } ?? [.voltage, .current]
        var candidates = streams.filter { $0.streamKind == .bms && !$0.isImported }
        if let r = q.reference {
            guard let s = candidates.first(where: { $0.key == r }) else {
                throw ImportError("\(q.session) has no recorded serial stream \(r) to correlate with; it has: \(candidates.map(\.key).joined(separator: ", "))")
            }
            candidates = [s]
        } else {
            let order: [InstrumentRole?] = [.supply, .cellBMS, nil, .logger, .ambient, .other]
            candidates.sort { (order.firstIndex(of: $0.instrumentRole) ?? 9) < (order.firstIndex(of: $1.instrumentRole) ?? 9) }
        }
        for signal in signals where table.series(signal).count >= 20 {
            for st in candidates {
                let rows = try reader.bmsSamples(streamId: st.id!)
                let series: [(t: Double, v: Double)] = rows.compactMap { r in
                    let v = signal == .voltage ? r.voltageV : r.currentA
                    guard let v, v.isFinite else { return nil }
                    return (Double(r.tNs) / 1e9, v)
                }.sorted { $0.t < $1.t }
                if series.count >= 20 { return SharedSignal(key: st.key, signal: signal, series: series) }
            }
        }
        if q.reference != nil || q.signal != nil || q.clock == .xcorr {
            // Asked for explicitly: say what is missing rather than fall back silently.
            if q.clock != .timestamps {
                throw ImportError("\(q.file) against \(q.session): no \(signals.map(\.description).joined(separator: " or ")) shared by the file (at least 20 values) and "
                                  + (q.reference.map { "stream \($0)" } ?? "a recorded serial stream"))
            }
        }
        return nil
    }

    static func freeKey(role: InstrumentRole, taken: Set<String>) throws -> String {
        let base = role == .cellBMS ? "bms" : role.rawValue
        for n in 0..<1000 where !taken.contains("\(base)\(n)") { return "\(base)\(n)" }
        throw ImportError("no free stream key \(base)0 ... \(base)999; name one with --key")
    }

    static func unitsOf(_ t: ImportedTable) -> [String: String] {
        var u: [String: String] = [:]
        for c in t.columns {
            switch c.field {
            case .voltage: u["voltage"] = "V"
            case .current: u["current"] = "A"
            case .cellTemp, .ambient: u["temperature"] = "degC"
            case .soc: u["soc"] = "1"
            case .extra(let k): u[k] = c.unit
            case .time, .unixTime: break
            }
        }
        return u
    }

    /// The fit as a `ClockModel` (device unit: ns of the file's elapsed time; host: CLOCK_MONOTONIC ns).
    static func clockModel(_ f: ClockAlignment.Fit, startMonotonicNs: Int64, firstFileS: Double, lastFileS: Double,
                           note: String, fitter: String) -> ClockModel {
        let refDevice = Int64((f.referenceFileS * 1e9).rounded())
        let refHost = startMonotonicNs &+ Int64((f.sessionTime(fileS: f.referenceFileS) * 1e9).rounded())
        let firstDevice = Int64((firstFileS * 1e9).rounded()), lastDevice = Int64((lastFileS * 1e9).rounded())
        let slope = 1 + f.rateError
        let seg = ClockSegment(
            startReason: .start, method: f.method, deviceStart: .min, firstPairDevice: firstDevice, lastPairDevice: lastDevice,
            firstPairHost: startMonotonicNs &+ Int64((f.sessionTime(fileS: firstFileS) * 1e9).rounded()),
            lastPairHost: startMonotonicNs &+ Int64((f.sessionTime(fileS: lastFileS) * 1e9).rounded()),
            referenceDevice: refDevice, referenceHost: refHost, slope: slope, nominalSlope: 1, driftPpm: f.driftPpm,
            offsetNs: Double(refHost &- refDevice), pairCount: f.windowsUsed, inlierCount: f.windowsUsed,
            residualRmsNs: f.residualRmsS * 1e9, residualMaxAbsNs: f.residualMaxS * 1e9, residualMeanNs: 0,
            offsetStdErrNs: f.offsetStdErrS * 1e9, driftStdErrPpm: f.driftStdErrPpm)
        var m = ClockModel(segments: [seg], fitter: fitter)
        m.note = note
        return m
    }

    static func note(_ f: ClockAlignment.Fit, file: String, format: ImportFormat, reference: String?, signal: ImportField?,
                     extraNotes: [String]) -> String {
        let name = (file as NSString).lastPathComponent
        var s = "imported from \(name) (\(format.rawValue)): "
        if f.method == .crossCorrelation {
            s += "clock by cross-correlation of \(signal?.description ?? "?") with \(reference ?? "?") ("
                + String(format: "%ld windows, median peak r %.4f): ", f.windowsUsed, f.medianPeakCorrelation)
            s += String(format: "file t=0 at session t=%.6f s +- %.3f ms, ", f.offsetS, f.stdErrS(fileS: 0) * 1e3)
                + (f.driftResolved ? String(format: "drift %+.2f +- %.2f ppm", f.driftPpm, f.driftStdErrPpm)
                   : String(format: "drift not resolved, none applied (+- %.2f ppm)", f.driftStdErrPpm))
        } else {
            s += String(format: "clock by the file's timestamps: file t=0 at session t=%.3f s +- %g s (declared), drift not measured",
                        f.offsetS, f.offsetStdErrS)
        }
        return ([s] + extraNotes).joined(separator: "; ")
    }
}
