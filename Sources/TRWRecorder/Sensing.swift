import Foundation
import Synchronization
import TRWCore
import TRWStore

/// A sensing setting that can change while recording (SENSOR-RL's actions, or an operator).
public enum SensingSetting: String, Sendable, CaseIterable {
    /// IR frames kept per second (decimation of the camera's stream; ≥ its rate keeps every frame).
    case irFps = "ir_fps"
    /// AE hit-detector trigger threshold, dB_AE (the PCM is stored in full either way).
    case aeThresholdDb = "ae_threshold_db"
    /// BMS samples kept per second.
    case bmsHz = "bms_hz"

    /// Values a setting takes (rates: the lower bound 0 itself is excluded).
    public var allowedRange: ClosedRange<Double> {
        switch self {
        case .irFps, .bmsHz: 0...10_000
        case .aeThresholdDb: 0...140
        }
    }

    /// "a rate in (0, 10000] Hz" / "0...140 dB_AE".
    public var expected: String {
        switch self {
        case .irFps, .bmsHz: "a rate in (0, 10000] Hz"
        case .aeThresholdDb: "0...140 dB_AE"
        }
    }

    /// Throws `.badValue` unless `value` is finite and in `allowedRange`. The command
    /// line checks this before the session file exists; `applySensing` checks it again.
    public func check(_ value: Double) throws(SensingError) {
        guard value.isFinite else { throw .badValue(self, value, "not a finite number; expected \(expected)") }
        let r = allowedRange
        guard r.contains(value), self == .aeThresholdDb || value > 0 else { throw .badValue(self, value, "expected \(expected)") }
    }

    /// The stream kind a setting acts on.
    public var kind: StreamKind {
        switch self {
        case .irFps: .thermal
        case .aeThresholdDb: .ae
        case .bmsHz: .bms
        }
    }
}

public enum SensingError: Error, CustomStringConvertible, Equatable {
    case badValue(SensingSetting, Double, String)
    case noStream(SensingSetting)
    case notRecording
    case policy(String)
    public var description: String {
        switch self {
        case .badValue(let s, let v, let why): "sensing \(s.rawValue) = \(v): \(why)"
        case .noStream(let s): "sensing \(s.rawValue): the rig has no \(s.kind.rawValue) stream"
        case .notRecording: "sensing changes need a running recording"
        case .policy(let why): why
        }
    }
}

extension Recorder {
    /// Changes a sensing setting now; every affected stream gets a `sensing_event` row
    /// (value, previous value, origin, events skipped under the previous setting).
    /// `atNs`: the session time to record (default: now on the host clock; a simulated run passes its data time).
    public func applySensing(_ setting: SensingSetting, _ value: Double, origin: String, detail: String = "", atNs: Int64? = nil) throws {
        try setting.check(value)
        let targets = lanesSnapshot().filter { $0.descriptor.kind == setting.kind }
        guard !targets.isEmpty else { throw SensingError.noStream(setting) }
        guard let now = sessionTimeNow() else { throw SensingError.notRecording }
        let t = atNs ?? now
        var batch = WriteBatch()
        for lane in targets {
            let previous = sensingState.withLock { $0[lane.descriptor.key + "/" + setting.rawValue] }
            let skipped: Int64
            switch setting {
            case .irFps, .bmsHz:
                let native = lane.descriptor.nominalRateHz
                skipped = lane.setKeepInterval(value >= native ? 0 : Int64((1e9 / value).rounded()))
            case .aeThresholdDb:
                skipped = lane.setAEThreshold(value)
            }
            sensingState.withLock { $0[lane.descriptor.key + "/" + setting.rawValue] = value }
            batch.sensing.append(SensingEventRecord(tNs: t, streamId: lane.streamId, setting: setting.rawValue, value: value,
                                                    previous: previous, origin: origin, skipped: skipped, detail: detail))
            observer?.event(.sensing(tNs: t, stream: lane.descriptor.key, setting: setting.rawValue, value: value))
        }
        enqueue(batch)
    }

    /// Events skipped so far because of lowered sensing rates, per stream key.
    public func sensingSkipped() -> [String: Int64] {
        Dictionary(uniqueKeysWithValues: lanesSnapshot().map { ($0.descriptor.key, $0.skippedTotal.load(ordering: .relaxed)) })
    }
}
