import Foundation
import Synchronization
import TRWCore

/// Conditions that end a recording by themselves (from the rig file or flags).
/// Every path finalizes the session; the rule that fired is its status detail.
public enum StopRule: Sendable, Equatable, CustomStringConvertible {
    /// Session time reached (seconds).
    case duration(seconds: Double)
    /// The hottest observed temperature (IR max or cell thermocouple) stayed at
    /// or above `celsius` for `holdS` seconds.
    case maxTemperature(celsius: Double, holdS: Double)
    /// After runaway (GB 38031: dT/dt >= 1 degC/s for 3 s on the hottest
    /// temperature), the voltage fell below `volts`.
    case voltageBelowAfterRunaway(volts: Double)

    public var description: String {
        switch self {
        case .duration(let s): String(format: "duration %.1f s reached", s)
        case .maxTemperature(let c, let h): String(format: "temperature >= %.1f °C held %.1f s", c, h)
        case .voltageBelowAfterRunaway(let v): String(format: "voltage below %.3f V after runaway", v)
        }
    }
}

/// Evaluates stop rules on the values the pipeline sees. Thread-safe.
public final class StopRuleEngine: Sendable {
    public let rules: [StopRule]
    private struct State {
        var hotSince: Int64?
        var runawayAt: Int64?
        var fired: StopRule?
        var runaway = GB38031RateCriterion()
    }
    private let state = Mutex(State())

    public init(rules: [StopRule]) { self.rules = rules }

    /// The rule that fired, if any.
    public var firedRule: StopRule? { state.withLock { $0.fired } }
    /// One line per rule with its state, for the dashboard.
    public var stateLines: [String] {
        state.withLock { st in
            rules.map { r in
                var line = "\(r)"
                if case .voltageBelowAfterRunaway = r {
                    line += st.runawayAt.map { String(format: " (armed: runaway seen at t = %.1f s)", Double($0) / 1e9) } ?? " (waits for runaway)"
                }
                if case .maxTemperature = r, let h = st.hotSince { line += String(format: " (hot since t = %.1f s)", Double(h) / 1e9) }
                if st.fired == r { line += "  FIRED" }
                return line
            }
        }
    }

    /// Session time at which runaway was seen (GB 38031), if it was.
    public var runawayTNs: Int64? { state.withLock { $0.runawayAt } }

    /// Feeds a temperature (degC) at session time t; returns the rule that fires now, if one does.
    public func observeTemperature(tNs: Int64, celsius: Double) -> StopRule? {
        state.withLock { temperature(&$0, tNs: tNs, celsius: celsius) }
    }

    public func observeVoltage(tNs: Int64, volts: Double) -> StopRule? {
        state.withLock { voltage(&$0, tNs: tNs, volts: volts) }
    }

    public func observeTime(tNs: Int64) -> StopRule? {
        state.withLock { time(&$0, tNs: tNs) }
    }

    /// What one event brings, in one lock round-trip: its time, then its temperature,
    /// then its voltage (as `observeTime`, `observeTemperature`, `observeVoltage` in
    /// that order, stopping at the first rule that fires).
    public func observe(tNs: Int64, celsius: Double? = nil, volts: Double? = nil) -> StopRule? {
        state.withLock { st in
            if let r = time(&st, tNs: tNs) { return r }
            if let c = celsius, let r = temperature(&st, tNs: tNs, celsius: c) { return r }
            if let v = volts, let r = voltage(&st, tNs: tNs, volts: v) { return r }
            return nil
        }
    }

    private func temperature(_ st: inout State, tNs: Int64, celsius: Double) -> StopRule? {
        guard st.fired == nil else { return nil }
        // GB 38031 runaway (trw's one criterion, TRWCore): its onset arms the voltage rule.
        if let onset = st.runaway.feed(t: Double(tNs) / 1e9, celsius: celsius), st.runawayAt == nil {
            st.runawayAt = Int64((onset * 1e9).rounded())
        }
        for r in rules {
            if case .maxTemperature(let c, let hold) = r {
                if celsius >= c {
                    if st.hotSince == nil { st.hotSince = tNs }
                    if Double(tNs - st.hotSince!) / 1e9 >= hold { st.fired = r; return r }
                } else {
                    st.hotSince = nil
                }
            }
        }
        return nil
    }

    private func voltage(_ st: inout State, tNs: Int64, volts: Double) -> StopRule? {
        guard st.fired == nil, let ra = st.runawayAt, tNs >= ra else { return nil }
        for r in rules {
            if case .voltageBelowAfterRunaway(let v) = r, volts < v { st.fired = r; return r }
        }
        return nil
    }

    private func time(_ st: inout State, tNs: Int64) -> StopRule? {
        guard st.fired == nil else { return nil }
        for r in rules {
            if case .duration(let s) = r, Double(tNs) / 1e9 >= s { st.fired = r; return r }
        }
        return nil
    }
}

/// Refuses to start when the disk cannot hold the run.
public enum Preflight {
    /// Expected stored bytes per second of a stream (compressed estimates:
    /// frames ~2.2x, PCM ~1.4x, BMS ~250 B per row with its raw line).
    public static func expectedBytesPerSecond(_ d: StreamDescriptor) -> Double {
        switch d.kind {
        case .thermal: Double((d.width ?? 640) * (d.height ?? 480) * 2) / 2.2 * d.nominalRateHz + 120 * d.nominalRateHz
        case .ae: Double((d.channels ?? 1) * (d.sampleFormat?.bytesPerSample ?? 4)) * d.nominalRateHz / 1.4
        case .bms: 250 * d.nominalRateHz
        }
    }

    public static func freeBytes(atDirectoryOf path: String) -> Int64? {
        // The nearest existing folder above the file (the session folder may not exist yet).
        var dir = (path as NSString).deletingLastPathComponent
        while !dir.isEmpty && dir != "/" && !FileManager.default.fileExists(atPath: dir) {
            dir = (dir as NSString).deletingLastPathComponent
        }
        if dir.isEmpty { dir = "." }
        var st = statvfs()
        guard statvfs(dir, &st) == 0 else { return nil }
        return Int64(st.f_bavail) * Int64(st.f_frsize)
    }

    public struct Estimate: Sendable {
        public var bytesPerSecond: Double
        public var freeBytes: Int64?
        public var hoursAvailable: Double? { freeBytes.map { Double($0) / bytesPerSecond / 3600 } }
    }

    public static func estimate(streams: [StreamDescriptor], outputPath: String) -> Estimate {
        Estimate(bytesPerSecond: streams.map(expectedBytesPerSecond).reduce(0, +), freeBytes: freeBytes(atDirectoryOf: outputPath))
    }

    /// Throws when `durationS` of recording will not fit (with a 10% margin).
    public static func check(streams: [StreamDescriptor], outputPath: String, durationS: Double?) throws -> Estimate {
        let e = estimate(streams: streams, outputPath: outputPath)
        if let d = durationS, let free = e.freeBytes, e.bytesPerSecond * d * 1.1 > Double(free) {
            throw PreflightError.diskTooSmall(path: outputPath, needBytes: Int64(e.bytesPerSecond * d * 1.1), freeBytes: free,
                                              bytesPerSecond: e.bytesPerSecond, durationS: d)
        }
        return e
    }
}

public enum PreflightError: Error, CustomStringConvertible {
    case diskTooSmall(path: String, needBytes: Int64, freeBytes: Int64, bytesPerSecond: Double, durationS: Double)
    public var description: String {
        switch self {
        case .diskTooSmall(let p, let need, let free, let bps, let d):
            return String(format: "not starting: %@ needs about %.1f MB for %.0f s at %.2f MB/s (incl. 10%% margin) but only %.1f MB are free there; free space, record elsewhere (--out), or shorten --duration",
                          p, Double(need) / 1e6, d, bps / 1e6, Double(free) / 1e6)
        }
    }
}
