import Foundation
import TRWCore
import TRWStore
import TRWDatasets

/// A sensing setting that can change while recording (SENSOR-RL's actions, or an operator).
public enum SensingSetting: String, Sendable, CaseIterable {
    /// IR frames kept per second (decimation of the camera's stream; ≥ its rate keeps every frame).
    case irFps = "ir_fps"
    /// AE hit-detector trigger threshold, dB_AE (the PCM is stored in full either way).
    case aeThresholdDb = "ae_threshold_db"
    /// BMS samples kept per second.
    case bmsHz = "bms_hz"

    var kind: StreamKind {
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
        guard value.isFinite else { throw SensingError.badValue(setting, value, "not a number") }
        switch setting {
        case .irFps, .bmsHz:
            guard value > 0 && value <= 10_000 else { throw SensingError.badValue(setting, value, "expected a rate in (0, 10000] Hz") }
        case .aeThresholdDb:
            guard (0...140).contains(value) else { throw SensingError.badValue(setting, value, "expected 0...140 dB_AE") }
        }
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
            if let liveTap {
                var l = JSONLine()
                l.add("type", "sensing"); l.add("t", Double(t) / 1e9); l.add("stream", lane.descriptor.key)
                l.add("setting", setting.rawValue); l.add("value", value)
                liveTap.event(l.text)
            }
        }
        enqueue(batch)
    }

    /// Events skipped so far because of lowered sensing rates, per stream key.
    public func sensingSkipped() -> [String: Int64] {
        Dictionary(uniqueKeysWithValues: lanesSnapshot().map { ($0.descriptor.key, $0.skippedTotal.load(ordering: .relaxed)) })
    }
}

/// A value behind a lock, for state shared between the recorder's threads.
final class LockedBox<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: T
    init(_ v: T) { value = v }
    func withLock<R>(_ body: (inout T) throws -> R) rethrows -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
