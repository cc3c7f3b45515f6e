import Foundation
import GRDB
import TRWCore

// One Sendable value type per table, with its Columns. Names follow the SQL of
// schemas/migrations: each column is the snake_case of its property (`start_t_ns` <->
// `startTNs`), mapped by GRDB's column coding strategies (`convertFromSnakeCase` /
// `convertToSnakeCase`); a type keeps explicit `CodingKeys` only where that mapping
// does not give its column (AEHitRecord). The records are not encoded to JSON anywhere
// (`--json` outputs build their own keys), so the strategies touch the database only.

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

    public static let databaseColumnDecodingStrategy = DatabaseColumnDecodingStrategy.convertFromSnakeCase
    public static let databaseColumnEncodingStrategy = DatabaseColumnEncodingStrategy.convertToSnakeCase
    public enum Columns {
        public static let id = Column("id")
        public static let uuid = Column("uuid")
        public static let name = Column("name")
        public static let `operator` = Column("operator")
        public static let cellChemistry = Column("cell_chemistry")
        public static let cellCapacityAh = Column("cell_capacity_ah")
        public static let cellFormat = Column("cell_format")
        public static let cellMaker = Column("cell_maker")
        public static let cellSerial = Column("cell_serial")
        public static let `protocol` = Column("protocol")
        public static let rigName = Column("rig_name")
        public static let rigConfig = Column("rig_config")
        public static let softwareVersion = Column("software_version")
        public static let hostName = Column("host_name")
        public static let startMonotonicNs = Column("start_monotonic_ns")
        public static let startRealtimeNs = Column("start_realtime_ns")
        public static let startUtc = Column("start_utc")
        public static let endTNs = Column("end_t_ns")
        public static let status = Column("status")
        public static let statusDetail = Column("status_detail")
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

    public static let databaseColumnDecodingStrategy = DatabaseColumnDecodingStrategy.convertFromSnakeCase
    public static let databaseColumnEncodingStrategy = DatabaseColumnEncodingStrategy.convertToSnakeCase
    public enum Columns {
        public static let id = Column("id")
        public static let key = Column("key")
        public static let kind = Column("kind")
        public static let device = Column("device")
        public static let format = Column("format")
        public static let nominalRateHz = Column("nominal_rate_hz")
        public static let width = Column("width")
        public static let height = Column("height")
        public static let channels = Column("channels")
        public static let sampleFormat = Column("sample_format")
        public static let calibrationJson = Column("calibration_json")
        public static let unitsJson = Column("units_json")
        public static let propertiesJson = Column("properties_json")
        public static let aeDetectorJson = Column("ae_detector_json")
        public static let role = Column("role")
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

    /// The property `trw import` sets on the stream it adds (the imported file's format).
    public static let importFormatProperty = "import.format"
    /// A stream added by `trw import` from a cycler or logger file: its times come from the
    /// import's clock model, not from host arrivals (`trw resync` leaves it alone).
    public var isImported: Bool { properties[Self.importFormatProperty] != nil }

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
    public static let databaseColumnDecodingStrategy = DatabaseColumnDecodingStrategy.convertFromSnakeCase
    public static let databaseColumnEncodingStrategy = DatabaseColumnEncodingStrategy.convertToSnakeCase
    public enum Columns {
        public static let id = Column("id")
        public static let streamId = Column("stream_id")
        public static let method = Column("method")
        public static let modelJson = Column("model_json")
        public static let createdUtc = Column("created_utc")
        public static let isCurrent = Column("is_current")
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
    public static let databaseColumnDecodingStrategy = DatabaseColumnDecodingStrategy.convertFromSnakeCase
    public static let databaseColumnEncodingStrategy = DatabaseColumnEncodingStrategy.convertToSnakeCase
    public enum Columns {
        public static let id = Column("id")
        public static let streamId = Column("stream_id")
        public static let sequence = Column("sequence")
        public static let deviceTsNs = Column("device_ts_ns")
        public static let hostArrivalNs = Column("host_arrival_ns")
        public static let tNs = Column("t_ns")
        public static let codec = Column("codec")
        public static let payload = Column("payload")
        public static let minCounts = Column("min_counts")
        public static let maxCounts = Column("max_counts")
        public static let meanCounts = Column("mean_counts")
        public static let hotspotX = Column("hotspot_x")
        public static let hotspotY = Column("hotspot_y")
        public static let flags = Column("flags")
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
    public static let databaseColumnDecodingStrategy = DatabaseColumnDecodingStrategy.convertFromSnakeCase
    public enum Columns {
        public static let id = Column("id")
        public static let sequence = Column("sequence")
        public static let tNs = Column("t_ns")
        public static let minCounts = Column("min_counts")
        public static let maxCounts = Column("max_counts")
        public static let meanCounts = Column("mean_counts")
        public static let hotspotX = Column("hotspot_x")
        public static let hotspotY = Column("hotspot_y")
        public static let flags = Column("flags")
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
    public static let databaseColumnDecodingStrategy = DatabaseColumnDecodingStrategy.convertFromSnakeCase
    public static let databaseColumnEncodingStrategy = DatabaseColumnEncodingStrategy.convertToSnakeCase
    public enum Columns {
        public static let id = Column("id")
        public static let streamId = Column("stream_id")
        public static let firstSampleIndex = Column("first_sample_index")
        public static let frameCount = Column("frame_count")
        public static let hostArrivalNs = Column("host_arrival_ns")
        public static let pairSampleIndex = Column("pair_sample_index")
        public static let pairHostNs = Column("pair_host_ns")
        public static let tNs = Column("t_ns")
        public static let codec = Column("codec")
        public static let payload = Column("payload")
        public static let rms = Column("rms")
        public static let peak = Column("peak")
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
    // Explicit keys, not the snake_case strategies: GRDB's convertToSnakeCase (Foundation's
    // algorithm) splits `energyV2s` before the digit, "energy_v_2s", but the column is
    // `energy_v2s`; the schema is fixed, so this type names its columns itself.
    public enum CodingKeys: String, CodingKey {
        case id, streamId = "stream_id", channel, sampleIndex = "sample_index", tNs = "t_ns"
        case amplitudeDb = "amplitude_db", riseTimeS = "rise_time_s", durationS = "duration_s", counts
        case energyV2s = "energy_v2s", rmsBeforeV = "rms_before_v"
    }
    public enum Columns {
        public static let id = Column(CodingKeys.id)
        public static let streamId = Column(CodingKeys.streamId)
        public static let channel = Column(CodingKeys.channel)
        public static let sampleIndex = Column(CodingKeys.sampleIndex)
        public static let tNs = Column(CodingKeys.tNs)
        public static let amplitudeDb = Column(CodingKeys.amplitudeDb)
        public static let riseTimeS = Column(CodingKeys.riseTimeS)
        public static let durationS = Column(CodingKeys.durationS)
        public static let counts = Column(CodingKeys.counts)
        public static let energyV2s = Column(CodingKeys.energyV2s)
        public static let rmsBeforeV = Column(CodingKeys.rmsBeforeV)
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
    public static let databaseColumnDecodingStrategy = DatabaseColumnDecodingStrategy.convertFromSnakeCase
    public static let databaseColumnEncodingStrategy = DatabaseColumnEncodingStrategy.convertToSnakeCase
    public enum Columns {
        public static let id = Column("id")
        public static let streamId = Column("stream_id")
        public static let hostArrivalNs = Column("host_arrival_ns")
        public static let deviceTimeS = Column("device_time_s")
        public static let tNs = Column("t_ns")
        public static let voltageV = Column("voltage_v")
        public static let currentA = Column("current_a")
        public static let cellTempC = Column("cell_temp_c")
        public static let cellTempsJson = Column("cell_temps_json")
        public static let ambientC = Column("ambient_c")
        public static let soc = Column("soc")
        public static let extraJson = Column("extra_json")
        public static let raw = Column("raw")
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
    public static let databaseColumnDecodingStrategy = DatabaseColumnDecodingStrategy.convertFromSnakeCase
    public static let databaseColumnEncodingStrategy = DatabaseColumnEncodingStrategy.convertToSnakeCase
    public enum Columns {
        public static let id = Column("id")
        public static let streamId = Column("stream_id")
        public static let kind = Column("kind")
        public static let startTNs = Column("start_t_ns")
        public static let endTNs = Column("end_t_ns")
        public static let lostCount = Column("lost_count")
        public static let detail = Column("detail")
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
    public static let databaseColumnDecodingStrategy = DatabaseColumnDecodingStrategy.convertFromSnakeCase
    public static let databaseColumnEncodingStrategy = DatabaseColumnEncodingStrategy.convertToSnakeCase
    public enum Columns {
        public static let id = Column("id")
        public static let tNs = Column("t_ns")
        public static let streamId = Column("stream_id")
        public static let setting = Column("setting")
        public static let value = Column("value")
        public static let previous = Column("previous")
        public static let origin = Column("origin")
        public static let skipped = Column("skipped")
        public static let detail = Column("detail")
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
    public static let databaseColumnDecodingStrategy = DatabaseColumnDecodingStrategy.convertFromSnakeCase
    public static let databaseColumnEncodingStrategy = DatabaseColumnEncodingStrategy.convertToSnakeCase
    public enum Columns {
        public static let id = Column("id")
        public static let tNs = Column("t_ns")
        public static let text = Column("text")
        public static let author = Column("author")
        public static let origin = Column("origin")
        public static let createdUtc = Column("created_utc")
        public static let supersedesId = Column("supersedes_id")
        public static let deleted = Column("deleted")
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
    public static let databaseColumnDecodingStrategy = DatabaseColumnDecodingStrategy.convertFromSnakeCase
    public static let databaseColumnEncodingStrategy = DatabaseColumnEncodingStrategy.convertToSnakeCase
    public enum Columns {
        public static let id = Column("id")
        public static let label = Column("label")
        public static let startTNs = Column("start_t_ns")
        public static let endTNs = Column("end_t_ns")
        public static let author = Column("author")
        public static let method = Column("method")
        public static let parametersJson = Column("parameters_json")
        public static let createdUtc = Column("created_utc")
        public static let supersedesId = Column("supersedes_id")
        public static let deleted = Column("deleted")
        public static let note = Column("note")
        public static let labelSet = Column("label_set")
        public static let forced = Column("forced")
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
    public static let databaseColumnDecodingStrategy = DatabaseColumnDecodingStrategy.convertFromSnakeCase
    public static let databaseColumnEncodingStrategy = DatabaseColumnEncodingStrategy.convertToSnakeCase
    public enum Columns {
        public static let id = Column("id")
        public static let model = Column("model")
        public static let modelVersion = Column("model_version")
        public static let runId = Column("run_id")
        public static let tNs = Column("t_ns")
        public static let score = Column("score")
        public static let alarm = Column("alarm")
        public static let latencyNs = Column("latency_ns")
        public static let parametersJson = Column("parameters_json")
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
