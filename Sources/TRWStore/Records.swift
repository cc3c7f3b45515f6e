import Foundation
import GRDB
import TRWCore

// One Sendable value type per table, with its Columns. Names follow the SQL of
// schemas/migrations.

/// The `session` row: identity, cell, protocol, time anchors, status.
public struct SessionRecord: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "session"
    public enum Status: String, Codable, Sendable { case recording, complete, aborted, recovered }

    public var id: Int64 = 1
    public var uuid: String
    public var name: String
    public var `operator`: String
    public var cellChemistry: String?
    public var cellCapacityAh: Double?
    public var cellFormat: String?
    public var cellMaker: String?
    public var cellSerial: String?
    public var `protocol`: String?
    public var rigName: String
    public var rigConfig: String
    public var softwareVersion: String
    public var hostName: String
    public var startMonotonicNs: Int64
    public var startRealtimeNs: Int64
    public var startUtc: String
    public var endTNs: Int64?
    public var status: Status
    public var statusDetail: String

    public enum CodingKeys: String, CodingKey {
        case id, uuid, name, `operator`, cellChemistry = "cell_chemistry", cellCapacityAh = "cell_capacity_ah"
        case cellFormat = "cell_format", cellMaker = "cell_maker", cellSerial = "cell_serial", `protocol`
        case rigName = "rig_name", rigConfig = "rig_config", softwareVersion = "software_version"
        case hostName = "host_name", startMonotonicNs = "start_monotonic_ns", startRealtimeNs = "start_realtime_ns"
        case startUtc = "start_utc", endTNs = "end_t_ns", status, statusDetail = "status_detail"
    }

    public var clock: SessionClock { SessionClock(startMonotonicNs: startMonotonicNs, startRealtimeNs: startRealtimeNs) }
    public var cell: CellInfo? {
        guard let chem = cellChemistry else { return nil }
        return CellInfo(chemistry: chem, capacityAh: cellCapacityAh ?? 0, format: cellFormat ?? "",
                        maker: cellMaker ?? "", serial: cellSerial ?? "")
    }
}

/// What a new session is created with.
public struct NewSession: Sendable {
    public var name: String
    public var operatorName: String
    public var cell: CellInfo?
    public var testProtocol: String?
    public var rigName: String
    public var rigConfig: String
    public var clock: SessionClock
    public var uuid: UUID

    public init(name: String, operatorName: String = "", cell: CellInfo? = nil, testProtocol: String? = nil,
                rigName: String, rigConfig: String = "", clock: SessionClock, uuid: UUID = UUID()) {
        self.name = name
        self.operatorName = operatorName
        self.cell = cell
        self.testProtocol = testProtocol
        self.rigName = rigName
        self.rigConfig = rigConfig
        self.clock = clock
        self.uuid = uuid
    }
}

/// A `stream` row.
public struct StreamRecord: Codable, Sendable, Equatable, FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "stream"
    public var id: Int64?
    public var key: String
    public var kind: String
    public var device: String
    public var format: String
    public var nominalRateHz: Double
    public var width: Int?
    public var height: Int?
    public var channels: Int?
    public var sampleFormat: String?
    public var calibrationJson: String?
    public var unitsJson: String
    public var propertiesJson: String
    public var aeDetectorJson: String?
    /// Serial instruments: the rig's role (`cell_bms`, `supply`, ...); nil in files from before roles.
    public var role: String?

    public enum CodingKeys: String, CodingKey {
        case id, key, kind, device, format, nominalRateHz = "nominal_rate_hz", width, height, channels
        case sampleFormat = "sample_format", calibrationJson = "calibration_json", unitsJson = "units_json"
        case propertiesJson = "properties_json", aeDetectorJson = "ae_detector_json", role
    }

    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }

    public init(_ d: StreamDescriptor, aeDetector: AEDetectorSettings? = nil) {
        id = nil
        key = d.key
        kind = d.kind.rawValue
        device = d.device
        format = d.format
        nominalRateHz = d.nominalRateHz
        width = d.width
        height = d.height
        channels = d.channels
        sampleFormat = d.sampleFormat?.rawValue
        calibrationJson = d.calibration.map(JSONText.encode)
        unitsJson = JSONText.encode(d.units)
        propertiesJson = JSONText.encode(d.properties)
        aeDetectorJson = aeDetector.map(JSONText.encode)
        role = d.role?.rawValue
    }

    public var streamKind: StreamKind? { StreamKind(rawValue: kind) }
    public var instrumentRole: InstrumentRole? { role.flatMap(InstrumentRole.init(rawValue:)) }
    public var calibration: ThermalCalibration? { calibrationJson.flatMap { JSONText.decode(ThermalCalibration.self, $0) } }
    public var properties: [String: String] { JSONText.decode([String: String].self, propertiesJson) ?? [:] }
    public var units: [String: String] { JSONText.decode([String: String].self, unitsJson) ?? [:] }
    public var aeDetector: AEDetectorSettings? { aeDetectorJson.flatMap { JSONText.decode(AEDetectorSettings.self, $0) } }
    public var descriptor: StreamDescriptor {
        StreamDescriptor(key: key, kind: streamKind ?? .bms, device: device, format: format, nominalRateHz: nominalRateHz,
                         width: width, height: height, channels: channels,
                         sampleFormat: sampleFormat.flatMap(SampleFormat.init(rawValue:)),
                         calibration: calibration, units: units, properties: properties, role: instrumentRole)
    }
}

/// A `clock_model` row (the model itself is JSON from TRWSync).
public struct ClockModelRecord: Codable, Sendable, Equatable, FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "clock_model"
    public var id: Int64?
    public var streamId: Int64
    public var method: String
    public var modelJson: String
    public var createdUtc: String
    public var isCurrent: Bool
    public enum CodingKeys: String, CodingKey {
        case id, streamId = "stream_id", method, modelJson = "model_json", createdUtc = "created_utc", isCurrent = "is_current"
    }
    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
    public init(id: Int64? = nil, streamId: Int64, method: String, modelJson: String, createdUtc: String, isCurrent: Bool = true) {
        self.id = id
        self.streamId = streamId
        self.method = method
        self.modelJson = modelJson
        self.createdUtc = createdUtc
        self.isCurrent = isCurrent
    }
}

/// A `thermal_frame` row. `payload` is the encoded frame; decode with TRWCodec.
public struct ThermalFrameRecord: Codable, Sendable, Equatable, FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "thermal_frame"
    public var id: Int64?
    public var streamId: Int64
    public var sequence: Int64
    public var deviceTsNs: Int64
    public var hostArrivalNs: Int64
    public var tNs: Int64
    public var codec: String
    public var payload: Data
    public var minCounts: Int
    public var maxCounts: Int
    public var meanCounts: Double
    public var hotspotX: Int
    public var hotspotY: Int
    public var flags: Int
    public enum CodingKeys: String, CodingKey {
        case id, streamId = "stream_id", sequence, deviceTsNs = "device_ts_ns", hostArrivalNs = "host_arrival_ns"
        case tNs = "t_ns", codec, payload, minCounts = "min_counts", maxCounts = "max_counts"
        case meanCounts = "mean_counts", hotspotX = "hotspot_x", hotspotY = "hotspot_y", flags
    }
    public enum Columns {
        public static let streamId = Column(CodingKeys.streamId)
        public static let tNs = Column(CodingKeys.tNs)
        public static let sequence = Column(CodingKeys.sequence)
    }
    public static let flagDriverError = 1
    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
    public init(id: Int64? = nil, streamId: Int64, sequence: Int64, deviceTsNs: Int64, hostArrivalNs: Int64, tNs: Int64,
                codec: String, payload: Data, stats: FrameStatistics, flags: Int = 0) {
        self.id = id
        self.streamId = streamId
        self.sequence = sequence
        self.deviceTsNs = deviceTsNs
        self.hostArrivalNs = hostArrivalNs
        self.tNs = tNs
        self.codec = codec
        self.payload = payload
        minCounts = Int(stats.minCounts)
        maxCounts = Int(stats.maxCounts)
        meanCounts = stats.meanCounts
        hotspotX = stats.hotspotX
        hotspotY = stats.hotspotY
        self.flags = flags
    }
    public var statistics: FrameStatistics {
        FrameStatistics(minCounts: UInt16(clamping: minCounts), maxCounts: UInt16(clamping: maxCounts),
                        meanCounts: meanCounts, hotspotX: hotspotX, hotspotY: hotspotY)
    }
}

/// Frame statistics without the payload, for overviews and features.
public struct ThermalFrameSummary: Codable, Sendable, Equatable, FetchableRecord {
    public var id: Int64
    public var sequence: Int64
    public var tNs: Int64
    public var minCounts: Int
    public var maxCounts: Int
    public var meanCounts: Double
    public var hotspotX: Int
    public var hotspotY: Int
    public var flags: Int
    public enum CodingKeys: String, CodingKey {
        case id, sequence, tNs = "t_ns", minCounts = "min_counts", maxCounts = "max_counts"
        case meanCounts = "mean_counts", hotspotX = "hotspot_x", hotspotY = "hotspot_y", flags
    }
}

/// An `audio_chunk` row.
public struct AudioChunkRecord: Codable, Sendable, Equatable, FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "audio_chunk"
    public var id: Int64?
    public var streamId: Int64
    public var firstSampleIndex: Int64
    public var frameCount: Int
    public var hostArrivalNs: Int64
    public var pairSampleIndex: Int64?
    public var pairHostNs: Int64?
    public var tNs: Int64
    public var codec: String
    public var payload: Data
    public var rms: Double
    public var peak: Double
    public enum CodingKeys: String, CodingKey {
        case id, streamId = "stream_id", firstSampleIndex = "first_sample_index", frameCount = "frame_count"
        case hostArrivalNs = "host_arrival_ns", pairSampleIndex = "pair_sample_index", pairHostNs = "pair_host_ns"
        case tNs = "t_ns", codec, payload, rms, peak
    }
    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
    public init(id: Int64? = nil, streamId: Int64, firstSampleIndex: Int64, frameCount: Int, hostArrivalNs: Int64,
                pairSampleIndex: Int64?, pairHostNs: Int64?, tNs: Int64, codec: String, payload: Data, rms: Double, peak: Double) {
        self.id = id
        self.streamId = streamId
        self.firstSampleIndex = firstSampleIndex
        self.frameCount = frameCount
        self.hostArrivalNs = hostArrivalNs
        self.pairSampleIndex = pairSampleIndex
        self.pairHostNs = pairHostNs
        self.tNs = tNs
        self.codec = codec
        self.payload = payload
        self.rms = rms
        self.peak = peak
    }
}

/// An `ae_hit` row.
public struct AEHitRecord: Codable, Sendable, Equatable, FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "ae_hit"
    public var id: Int64?
    public var streamId: Int64
    public var channel: Int
    public var sampleIndex: Int64
    public var tNs: Int64
    public var amplitudeDb: Double
    public var riseTimeS: Double
    public var durationS: Double
    public var counts: Int
    public var energyV2s: Double
    public var rmsBeforeV: Double
    public enum CodingKeys: String, CodingKey {
        case id, streamId = "stream_id", channel, sampleIndex = "sample_index", tNs = "t_ns"
        case amplitudeDb = "amplitude_db", riseTimeS = "rise_time_s", durationS = "duration_s", counts
        case energyV2s = "energy_v2s", rmsBeforeV = "rms_before_v"
    }
    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
    public init(streamId: Int64, hit: AEHit, tNs: Int64) {
        id = nil
        self.streamId = streamId
        channel = hit.channel
        sampleIndex = hit.firstCrossingSampleIndex
        self.tNs = tNs
        amplitudeDb = hit.amplitudeDbAE
        riseTimeS = hit.riseTimeS
        durationS = hit.durationS
        counts = hit.counts
        energyV2s = hit.energyV2s
        rmsBeforeV = hit.rmsBeforeV
    }
}

/// A `bms_sample` row.
public struct BMSSampleRecord: Codable, Sendable, Equatable, FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "bms_sample"
    public var id: Int64?
    public var streamId: Int64
    public var hostArrivalNs: Int64
    public var deviceTimeS: Double?
    public var tNs: Int64
    public var voltageV: Double?
    public var currentA: Double?
    public var cellTempC: Double?
    public var cellTempsJson: String
    public var ambientC: Double?
    public var soc: Double?
    public var extraJson: String
    public var raw: String
    public enum CodingKeys: String, CodingKey {
        case id, streamId = "stream_id", hostArrivalNs = "host_arrival_ns", deviceTimeS = "device_time_s", tNs = "t_ns"
        case voltageV = "voltage_v", currentA = "current_a", cellTempC = "cell_temp_c", cellTempsJson = "cell_temps_json"
        case ambientC = "ambient_c", soc, extraJson = "extra_json", raw
    }
    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
    public init(streamId: Int64, sample s: BMSSample, tNs: Int64) {
        id = nil
        self.streamId = streamId
        hostArrivalNs = s.hostArrivalNs
        deviceTimeS = s.deviceTimeS
        self.tNs = tNs
        voltageV = s.voltageV
        currentA = s.currentA
        cellTempC = s.cellTempsC.first
        cellTempsJson = JSONText.encode(s.cellTempsC)
        ambientC = s.ambientC
        soc = s.soc
        extraJson = JSONText.encode(s.extra)
        raw = s.raw
    }
    public var cellTempsC: [Double] { JSONText.decode([Double].self, cellTempsJson) ?? [] }
    public var extra: [String: Double] { JSONText.decode([String: Double].self, extraJson) ?? [:] }
}

/// A `gap` row: something lost, never silently.
public struct GapRecord: Codable, Sendable, Equatable, FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "gap"
    public var id: Int64?
    public var streamId: Int64?
    public var kind: String
    public var startTNs: Int64
    public var endTNs: Int64?
    public var lostCount: Int64
    public var detail: String
    public enum CodingKeys: String, CodingKey {
        case id, streamId = "stream_id", kind, startTNs = "start_t_ns", endTNs = "end_t_ns", lostCount = "lost_count", detail
    }
    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
    public init(id: Int64? = nil, streamId: Int64?, kind: String, startTNs: Int64, endTNs: Int64?, lostCount: Int64, detail: String) {
        self.id = id
        self.streamId = streamId
        self.kind = kind
        self.startTNs = startTNs
        self.endTNs = endTNs
        self.lostCount = lostCount
        self.detail = detail
    }
}

/// A `sensing_event` row: a sensing setting changed while recording.
public struct SensingEventRecord: Codable, Sendable, Equatable, FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "sensing_event"
    public var id: Int64?
    public var tNs: Int64
    public var streamId: Int64?
    public var setting: String
    public var value: Double
    public var previous: Double?
    public var origin: String
    public var skipped: Int64
    public var detail: String
    public enum CodingKeys: String, CodingKey {
        case id, tNs = "t_ns", streamId = "stream_id", setting, value, previous, origin, skipped, detail
    }
    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
    public init(tNs: Int64, streamId: Int64?, setting: String, value: Double, previous: Double?, origin: String, skipped: Int64 = 0, detail: String = "") {
        self.tNs = tNs; self.streamId = streamId; self.setting = setting; self.value = value; self.previous = previous
        self.origin = origin; self.skipped = skipped; self.detail = detail
    }
}

/// A `marker` row: an operator event during recording. Removals supersede, never
/// delete: a removal is a row with `supersedesId` = the removed marker and `deleted`.
public struct MarkerRecord: Codable, Sendable, Equatable, FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "marker"
    public var id: Int64?
    public var tNs: Int64
    public var text: String
    public var author: String
    public var origin: String
    public var createdUtc: String
    public var supersedesId: Int64?
    public var deleted: Bool
    public enum CodingKeys: String, CodingKey {
        case id, tNs = "t_ns", text, author, origin, createdUtc = "created_utc", supersedesId = "supersedes_id", deleted
    }
    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
    public init(id: Int64? = nil, tNs: Int64, text: String, author: String = "", origin: String, createdUtc: String = ISOTime.now(),
                supersedesId: Int64? = nil, deleted: Bool = false) {
        self.id = id
        self.tNs = tNs
        self.text = text
        self.author = author
        self.origin = origin
        self.createdUtc = createdUtc
        self.supersedesId = supersedesId
        self.deleted = deleted
    }
}

/// An `annotation` row. Edits supersede, never overwrite.
public struct AnnotationRecord: Codable, Sendable, Equatable, FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "annotation"
    public var id: Int64?
    public var label: String
    public var startTNs: Int64
    public var endTNs: Int64?
    public var author: String
    public var method: String
    public var parametersJson: String
    public var createdUtc: String
    public var supersedesId: Int64?
    public var deleted: Bool
    public var note: String
    /// The set the label belongs to (default: its author), e.g. one per annotator.
    public var labelSet: String
    /// The refusals a `--force` overrode ("" when the label passed every check; see `LabelRules`).
    public var forced: String
    public enum CodingKeys: String, CodingKey {
        case id, label, startTNs = "start_t_ns", endTNs = "end_t_ns", author, method, parametersJson = "parameters_json"
        case createdUtc = "created_utc", supersedesId = "supersedes_id", deleted, note, labelSet = "label_set", forced
    }
    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
    public init(id: Int64? = nil, label: String, startTNs: Int64, endTNs: Int64? = nil, author: String, method: String,
                parametersJson: String = "{}", createdUtc: String = ISOTime.now(), supersedesId: Int64? = nil,
                deleted: Bool = false, note: String = "", labelSet: String? = nil, forced: String = "") {
        self.id = id
        self.forced = forced
        self.labelSet = labelSet ?? author
        self.label = label
        self.startTNs = startTNs
        self.endTNs = endTNs
        self.author = author
        self.method = method
        self.parametersJson = parametersJson
        self.createdUtc = createdUtc
        self.supersedesId = supersedesId
        self.deleted = deleted
        self.note = note
    }
}

/// A `prediction` row.
public struct PredictionRecord: Codable, Sendable, Equatable, FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "prediction"
    public var id: Int64?
    public var model: String
    public var modelVersion: String
    public var runId: String
    public var tNs: Int64
    public var score: Double
    public var alarm: Bool
    public var latencyNs: Int64?
    public var parametersJson: String
    public enum CodingKeys: String, CodingKey {
        case id, model, modelVersion = "model_version", runId = "run_id", tNs = "t_ns", score, alarm
        case latencyNs = "latency_ns", parametersJson = "parameters_json"
    }
    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
    public init(id: Int64? = nil, model: String, modelVersion: String, runId: String, tNs: Int64, score: Double, alarm: Bool,
                latencyNs: Int64?, parametersJson: String) {
        self.id = id
        self.model = model
        self.modelVersion = modelVersion
        self.runId = runId
        self.tNs = tNs
        self.score = score
        self.alarm = alarm
        self.latencyNs = latencyNs
        self.parametersJson = parametersJson
    }
}

/// Small JSON helpers for the *_json columns (sorted keys: stable files).
public enum JSONText {
    public static func encode<T: Encodable>(_ value: T) -> String {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        guard let data = try? enc.encode(value), let s = String(data: data, encoding: .utf8) else {
            preconditionFailure("JSON encoding of \(T.self) failed")
        }
        return s
    }
    public static func decode<T: Decodable>(_ type: T.Type, _ text: String) -> T? {
        try? JSONDecoder().decode(T.self, from: Data(text.utf8))
    }
}

/// ISO 8601 UTC timestamps for *_utc columns.
public enum ISOTime {
    public static func now() -> String { string(realtimeNs: HostClock.realtimeNanoseconds()) }
    public static func string(realtimeNs: Int64) -> String {
        let date = Date(timeIntervalSince1970: Double(realtimeNs) / 1e9)
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f.string(from: date)
    }
}
