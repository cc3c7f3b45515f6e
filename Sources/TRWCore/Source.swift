/// How a source wants `emit` to behave when the recorder's queue is full.
public enum EmitMode: Sendable {
    /// Real devices: never block the device thread; a full queue drops the
    /// event and the recorder records the loss as a gap.
    case dropIfFull
    /// Unpaced sources (simulator at max speed, file replays): wait for room.
    case blockIfFull
}

/// Where a source sends what it captures. Implemented by the recorder.
public protocol SampleSink: Sendable {
    /// Hands one event of stream `stream` (a `StreamDescriptor.key`) to the recorder.
    /// Returns false when the event was dropped (full queue, recorder stopping);
    /// the recorder has then already recorded the loss.
    @discardableResult
    func emit(_ event: SourceEvent, stream: String, mode: EmitMode) -> Bool
}

extension SampleSink {
    @discardableResult
    public func emit(_ event: SourceEvent, stream: String) -> Bool {
        emit(event, stream: stream, mode: .dropIfFull)
    }
}

/// The cell under test.
public struct CellInfo: Sendable, Codable, Equatable {
    public var chemistry: String
    public var capacityAh: Double
    public var format: String
    public var maker: String
    public var serial: String

    public init(chemistry: String, capacityAh: Double, format: String, maker: String = "", serial: String = "") {
        self.chemistry = chemistry
        self.capacityAh = capacityAh
        self.format = format
        self.maker = maker
        self.serial = serial
    }
}

/// A producer of samples: a V4L2 camera, an ALSA device, a serial instrument,
/// the simulated rig, or the synthetic test source.
///
/// The recorder calls `run(into:)` on a dedicated thread (never on Swift's
/// cooperative pool); it blocks until the source ends by itself or `stop()`
/// is called from another thread.
public protocol Source: AnyObject, Sendable {
    /// Human-readable name for logs and errors ("ir camera /dev/video0").
    var name: String { get }
    /// The streams this source produces, with what the device granted.
    var streams: [StreamDescriptor] { get }
    /// The cell, when the source knows it (the simulator does).
    var cell: CellInfo? { get }
    /// Test protocol text, when the source knows it ("overcharge 0.5C").
    var testProtocol: String? { get }
    /// Captures until the end or `stop()`. Errors end only this source.
    func run(into sink: any SampleSink) throws
    /// Asks `run` to return soon. Safe from any thread.
    func stop()
}

extension Source {
    public var cell: CellInfo? { nil }
    public var testProtocol: String? { nil }
}

/// A source that can switch the charging supply's output off (an alarm action,
/// `trw record --on-alarm supply-off`): the simulated rig, a programmable supply.
public protocol SupplyControl: AnyObject, Sendable {
    /// Whether this source was configured to switch the supply off (a SCPI supply needs
    /// `output_off` commands in its rig file); checked before the recording starts.
    var canSwitchSupplyOff: Bool { get }
    /// Switches the output off; returns what was done, for the session's marker.
    /// Throws when the instrument refused or did not answer (bounded wait).
    func switchSupplyOff(reason: String) throws -> String
}

extension SupplyControl {
    public var canSwitchSupplyOff: Bool { true }
}
