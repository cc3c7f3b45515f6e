import TRWCore
import TRWStore

/// A line of what happened during a recording that a live consumer may want (the live
/// JSON Lines tap sends these; the session stores them as rows either way).
public enum RecordingEvent: Sendable, Equatable {
    case gap(tNs: Int64, stream: String, kind: String, lost: Int64)
    case label(tNs: Int64, label: String, method: String, author: String)
    case marker(tNs: Int64, text: String)
    case sensing(tNs: Int64, stream: String, setting: String, value: Double)
}

/// What an observer may do to the recording it follows.
public struct RecordingControl: Sendable {
    /// Queues rows for the session file (committed in order with the lanes' rows).
    public let write: @Sendable (WriteBatch) -> Void
    /// Asks every source to stop (as `Recorder.stop()`).
    public let stop: @Sendable () -> Void
    /// The rig's sources (e.g. the one that can switch the supply off).
    public let sources: [any Source]
    /// The session file being written (for an alarm command's environment).
    public let sessionPath: String

    public init(write: @escaping @Sendable (WriteBatch) -> Void, stop: @escaping @Sendable () -> Void, sources: [any Source],
                sessionPath: String = "") {
        self.write = write
        self.stop = stop
        self.sources = sources
        self.sessionPath = sessionPath
    }
}

/// How an observer's part of the recording ended: sentences for the session's status
/// detail and gap rows stored with the end (e.g. a live client that lost lines).
public struct RecordingObserverEnd: Sendable {
    public var detail: [String] = []
    public var gaps: [GapRecord] = []
    public init(detail: [String] = [], gaps: [GapRecord] = []) {
        self.detail = detail
        self.gaps = gaps
    }
}

/// A live detector's state, for the dashboard and the final summary.
public struct LiveDetectorStatus: Sendable, Equatable {
    public var name: String
    public var score: Double
    public var alarm: Bool
    /// Session time of the first alarm, s.
    public var firstAlarmS: Double?
    public var alarms: Int
    public var lastTickS: Double?
    /// Scores outside [0, 1] or not finite (a model-backed detector gone wrong): stored as 0
    /// and counted, never an alarm.
    public var invalidScores = 0
    /// Session time of the first invalid score, s.
    public var firstInvalidS: Double?

    public init(name: String, score: Double = 0, alarm: Bool = false, firstAlarmS: Double? = nil, alarms: Int = 0, lastTickS: Double? = nil) {
        self.name = name; self.score = score; self.alarm = alarm; self.firstAlarmS = firstAlarmS; self.alarms = alarms; self.lastTickS = lastTickS
    }
}

/// Something that follows a recording as it is made (TRWLive: live ticks for the JSON
/// Lines tap and the live detectors). The recorder knows nothing of features, sockets or
/// detectors; it hands an observer every sample it keeps, on the lanes' threads, in each
/// stream's order, and lets it write rows and stop the recording.
public protocol RecordingObserver: AnyObject, Sendable {
    /// Called before the session file exists: throwing refuses the recording and no file
    /// is created. `session` and `streams` are what the file will hold.
    func prepare(session: NewSession, streams: [StreamDescriptor], control: RecordingControl) throws
    /// A kept IR frame and its statistics.
    func frame(tNs: Int64, stream: String, maxCounts: UInt16, meanCounts: Double, pixels: [UInt16])
    /// An AE chunk, after its hits, and the session time of the first crossing of a hit still
    /// open (nil: none; every hit before it has been given to `hit`). The samples come in
    /// their capture width (S16 as `Int16`); `PCMSamples.widened` gives `Int32`.
    func audio(tNs: Int64, stream: String, rms: Double, firstSampleIndex: Int64, samples: PCMSamples, frameCount: Int, openHitTNs: Int64?)
    /// A complete AE hit.
    func hit(_ h: AEHitRecord, stream: String)
    /// A kept BMS / supply / logger sample.
    func bms(tNs: Int64, _ s: BMSSample, stream: String)
    /// A gap, label, marker or sensing change (stored by the recorder either way).
    func event(_ e: RecordingEvent)
    /// The sources and lanes have ended; rows written through the control still reach the
    /// file. Bounded in time.
    func finish(endTNs: Int64) -> RecordingObserverEnd
    /// The recording did not start after `prepare` succeeded: release what it opened.
    func cancel()
    /// The live detectors' states (empty when the observer runs none).
    var detectorStatus: [LiveDetectorStatus] { get }
    /// What an alarm does besides its marker, for the dashboard ("stop", "supply-off").
    var alarmActionNames: [String] { get }
}
