import Foundation
import TRWCore
import TRWDatasets
import TRWFigures
import TRWStore
import TRWSync

// The `--json` reports of the commands that print one (docs/json-reports.md). Each is a
// Codable value written by `ReportJSON` (snake_case keys, sorted, typed numbers, `format_version`).
// Values that do not exist are null (custom `encode(to:)` where a key must always be present).

/// A finite number or nil (JSON has no NaN or infinity).
func finite(_ v: Double?) -> Double? { v.flatMap { $0.isFinite ? $0 : nil } }

/// One label row (`label list`, `label history`, `info`).
struct LabelJSON: Encodable {
    var id: Int64
    var label: String
    var startS: Double
    var endS: Double?
    var author: String
    var set: String
    var method: String
    /// The label's parameters as stored: JSON text (its keys are the detector's own).
    var parametersJson: String
    var createdUtc: String
    var note: String
    var supersedes: Int64?
    var deleted: Bool
    var forced: String

    init(_ a: AnnotationRecord) {
        id = a.id ?? 0
        label = a.label
        startS = Double(a.startTNs) / 1e9
        endS = a.endTNs.map { Double($0) / 1e9 }
        author = a.author
        set = a.labelSet
        method = a.method
        parametersJson = a.parametersJson
        createdUtc = a.createdUtc
        note = a.note
        supersedes = a.supersedesId
        deleted = a.deleted
        forced = a.forced
    }

    enum K: String, CodingKey { case id, label, startS, endS, author, set, method, parametersJson, createdUtc, note, supersedes, deleted, forced }
    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: K.self)
        try c.encode(id, forKey: .id)
        try c.encode(label, forKey: .label)
        try c.encode(startS, forKey: .startS)
        try c.encode(endS, forKey: .endS)
        try c.encode(author, forKey: .author)
        try c.encode(set, forKey: .set)
        try c.encode(method, forKey: .method)
        try c.encode(parametersJson, forKey: .parametersJson)
        try c.encode(createdUtc, forKey: .createdUtc)
        try c.encode(note, forKey: .note)
        try c.encode(supersedes, forKey: .supersedes)
        try c.encode(deleted, forKey: .deleted)
        try c.encode(forced, forKey: .forced)
    }
}

/// `label list --json`, `label history --json`.
struct LabelsJSON: Encodable {
    var session: String
    var set: String?
    var labels: [LabelJSON]
}

/// `label suggest --json`.
struct SuggestionsJSON: Encodable {
    struct Row: Encodable {
        var label: String
        var tS: Double
        var detectedS: Double
        var detector: String
        var method: String
        /// Detector parameters as name/value pairs (names are the detector's own, never re-cased).
        var parameters: [Parameter]
        var note: String
    }
    struct Parameter: Encodable {
        var name: String
        var value: Double?
    }
    var session: String
    var detectors: [String]
    var rateHz: Double
    var suggestions: [Row]
}

/// `info --json`.
struct InfoJSON: Encodable {
    struct Session: Encodable {
        var uuid: String
        var name: String
        var operatorName: String
        var status: String
        var statusDetail: String
        var startUtc: String
        var startRealtimeNs: Int64
        var endS: Double?
        var rigName: String
        var softwareVersion: String
        var hostName: String
        var cellChemistry: String?
        var cellCapacityAh: Double?
        var testProtocol: String?
    }
    struct Gap: Encodable {
        var kind: String
        var events: Int
        var lost: Int64
    }
    struct Stream: Encodable {
        var key: String
        var kind: String
        var role: String?
        var device: String
        var format: String
        var nominalRateHz: Double
        var rows: Int
        var firstS: Double?
        var lastS: Double?
        var payloadBytes: Int64
        var rawBytes: Int64
        var compressionRatio: Double?
        var sampleFrames: Int64
        var aeHits: Int
        var peakValue: Double?
        var peakVoltageV: Double?
        var codecs: [String]
        var gaps: [Gap]
        var imported: Bool
    }
    var path: String
    var session: Session
    var streams: [Stream]
    var recorderGaps: [Gap]
    var markers: Int
    var labels: [LabelJSON]
    var fileBytes: Int64
    var sync: SyncReport?

    init(path: String, summary s: SessionSummary, sync: SyncReport?) {
        self.path = path
        let r = s.session
        session = Session(uuid: r.uuid, name: r.name, operatorName: r.operator, status: r.status.rawValue, statusDetail: r.statusDetail,
                          startUtc: r.startUtc, startRealtimeNs: r.startRealtimeNs, endS: r.endTNs.map { Double($0) / 1e9 },
                          rigName: r.rigName, softwareVersion: r.softwareVersion, hostName: r.hostName, cellChemistry: r.cellChemistry,
                          cellCapacityAh: finite(r.cellCapacityAh), testProtocol: r.protocol)
        streams = s.streams.map { st in
            Stream(key: st.stream.key, kind: st.stream.kind, role: st.stream.role, device: st.stream.device, format: st.stream.format,
                   nominalRateHz: st.stream.nominalRateHz, rows: st.count, firstS: st.firstTNs.map { Double($0) / 1e9 },
                   lastS: st.lastTNs.map { Double($0) / 1e9 }, payloadBytes: st.payloadBytes, rawBytes: st.rawBytes,
                   compressionRatio: finite(st.compressionRatio), sampleFrames: st.sampleFrames, aeHits: st.hits,
                   peakValue: finite(st.peakValue), peakVoltageV: finite(st.peakVoltage),
                   codecs: st.codecs.split(separator: ",").map(String.init), gaps: st.gaps.map { Gap(kind: $0.kind, events: $0.events, lost: $0.lost) },
                   imported: st.stream.isImported)
        }
        recorderGaps = s.recorderGaps.map { Gap(kind: $0.kind, events: $0.events, lost: $0.lost) }
        markers = s.markerCount
        labels = s.labels.map(LabelJSON.init)
        fileBytes = s.fileBytes
        self.sync = sync
    }
}

/// `ls --json`.
struct ListJSON: Encodable {
    struct Entry: Encodable {
        var file: String
        var name: String?
        var status: String?
        var startUtc: String?
        var durationS: Double?
        var frames: Int?
        var bmsSamples: Int?
        var labels: Int?
        var fileBytes: Int64?
        /// Why the file could not be read (then only `file` and `error` are set).
        var error: String?
    }
    var directory: String
    var sessions: [Entry]
}

/// `verify --json`.
struct VerifyJSON: Encodable {
    struct DamagedRow: Encodable {
        var table: String
        var row: Int64
        var tS: Double
        var checksumMismatch: Bool
        var reason: String
    }
    struct Stream: Encodable {
        var key: String
        var kind: String
        var rows: Int
        var checksummed: Int
        var unchecksummed: Int
        var damaged: Int
        var discontinuities: Int
        var missing: Int64
        var gapLost: Int64
        var unexplained: Int64
        var overlaps: Int
        var damagedRows: [DamagedRow]
        var readErrors: [String]
    }
    var path: String
    var ok: Bool
    var status: String
    var statusDetail: String
    var liveRecorder: Bool
    var integrity: [String]
    var journalMode: String
    var walBytes: Int64
    var streams: [Stream]
    var problems: [String]

    init(_ r: VerifyReport) {
        path = r.path
        ok = !r.isDamaged
        status = r.status?.rawValue ?? "unknown"
        statusDetail = r.statusDetail
        liveRecorder = r.liveRecorder
        integrity = r.integrity
        journalMode = r.journalMode
        walBytes = r.walBytes
        streams = r.streams.map { s in
            Stream(key: s.key, kind: s.kind, rows: s.rows, checksummed: s.checksummed, unchecksummed: s.unchecksummed, damaged: s.damaged.count,
                   discontinuities: s.discontinuities, missing: s.missing, gapLost: s.recordedLost, unexplained: s.unexplained,
                   overlaps: s.overlaps,
                   damagedRows: s.damaged.map { DamagedRow(table: $0.table, row: $0.rowId, tS: Double($0.tNs) / 1e9,
                                                           checksumMismatch: $0.checksumMismatch, reason: $0.reason) },
                   readErrors: s.readErrors)
        }
        problems = r.problems
    }
}
