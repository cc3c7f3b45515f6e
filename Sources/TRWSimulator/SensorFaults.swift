#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import TRWCore

/// Sensor imperfections a scenario can ask for: noise and offsets per channel
/// (defaults: the simulator's instruments as before) and faults over time
/// intervals. Every fault that is injected is also written into the session as
/// a `custom:sensor_fault` annotation (method `simulator_sensor_truth`, author
/// and label set `trw-sim-sensors`, on the faulty stream) with the number of
/// samples it touched: nothing is changed silently.

/// A channel a fault or an offset can act on.
public enum SensorChannel: String, Sendable, Codable, CaseIterable {
    /// The whole BMS line (dropout only).
    case bms
    case bmsVoltage = "bms.voltage"
    case bmsCurrent = "bms.current"
    case bmsCellTemp = "bms.cell_temp"
    case bmsAmbient = "bms.ambient"
    /// The acoustic-emission channel(s).
    case ae
    /// The IR camera.
    case ir

    /// The stream key the channel belongs to.
    public var streamKey: String {
        switch self {
        case .ae: SimulatedRig.aeKey
        case .ir: SimulatedRig.irKey
        default: SimulatedRig.bmsKey
        }
    }
}

/// What a fault does.
public enum SensorFaultKind: String, Sendable, Codable, CaseIterable {
    /// No data: BMS lines not sent, IR frames not delivered (the sequence jumps), AE input
    /// dead (flat zero signal from an unplugged preamp).
    case dropout
    /// The reading freezes at its value when the fault starts (BMS channel, IR frame
    /// repeated, AE ADC stuck at its last sample).
    case stuck
    /// Isolated outliers at `rateHz` with magnitude `amplitude` (BMS channel units; K on
    /// single IR pixels; fraction of full scale for AE impulses).
    case spike
}

/// One fault over `startS ..< endS` of simulated time.
public struct SensorFault: Sendable, Equatable, Codable {
    public var channel: SensorChannel
    public var kind: SensorFaultKind
    public var startS: Double
    public var endS: Double
    /// Spikes per second (spike only).
    public var rateHz: Double
    /// Spike size (spike only): V, A, degC, K, or fraction of AE full scale.
    public var amplitude: Double

    public init(channel: SensorChannel, kind: SensorFaultKind, startS: Double, endS: Double, rateHz: Double = 1, amplitude: Double = 0) {
        self.channel = channel
        self.kind = kind
        self.startS = startS
        self.endS = endS
        self.rateHz = rateHz
        self.amplitude = amplitude
    }

    public func active(at t: Double) -> Bool { t >= startS && t < endS }

    /// The annotation parameters: channel, kind, interval and what it touched.
    func parametersJSON(affected: Int, unit: String, spikes: Int) -> String {
        "{\"channel\":\"\(channel.rawValue)\",\"kind\":\"\(kind.rawValue)\",\"start_s\":\(startS),\"end_s\":\(endS),"
            + "\"affected\":\(affected),\"affected_unit\":\"\(unit)\",\"spikes\":\(spikes)"
            + (kind == .spike ? ",\"rate_hz\":\(rateHz),\"amplitude\":\(amplitude)" : "") + "}"
    }
}

/// Noise (RMS) and offsets of the BMS channels. The defaults are the instrument the
/// simulator always had (1 mV-class voltage, 1 mA-class current, thermocouples).
public struct BMSNoise: Sendable, Equatable, Codable {
    public var voltageNoiseV: Double = 0.0003
    public var currentNoiseA: Double = 0.0005
    public var cellTempNoiseC: Double = 0.05
    public var ambientNoiseC: Double = 0.05
    public var voltageOffsetV: Double = 0
    public var currentOffsetA: Double = 0
    public var cellTempOffsetC: Double = 0
    public var ambientOffsetC: Double = 0
    public init() {}
}

/// Radiometric range of the simulated IR camera (TLinear resolution per scenario).
public enum IRRangeMode: String, Sendable, Codable, CaseIterable {
    /// 0.01 K per count: 16 bits end at 655.35 K = 382.2 degC.
    case highResolution = "0.01K"
    /// 0.1 K per count: 16 bits would reach 6280 degC nominally; the camera's calibrated
    /// range ends earlier (`rangeMaxC`, default 1500 degC) and counts are clamped there.
    case lowResolution = "0.1K"

    public var kelvinPerCount: Double { self == .highResolution ? 0.01 : 0.1 }
    /// Default top of the calibrated range, degC.
    public var defaultRangeMaxC: Double { self == .highResolution ? 65535 * 0.01 - 273.15 : 1500 }
}

/// Applies a scenario's faults to the rig's readings and counts what each touched.
/// Draws its randomness (spike times and places) from its own generator, so a
/// scenario without faults is simulated exactly as before faults existed.
struct SensorFaultInjector {
    let faults: [SensorFault]
    private var rng: SimRandom
    private var affected: [Int]
    private var spikes: [Int]
    private var started: [Bool]
    private var closed: [Bool]
    private var stuckBMS: [[Double]?]
    private var stuckFrame: [[UInt16]?]
    private var stuckAE: [Int64?]
    private var lastFrame: [UInt16]?
    private var lastAESample: Int64 = 0
    private let hasIR: Bool
    private let hasAE: Bool

    init(faults: [SensorFault], rng: SimRandom) {
        self.faults = faults
        self.rng = rng
        affected = Array(repeating: 0, count: faults.count)
        spikes = affected
        started = Array(repeating: false, count: faults.count)
        closed = started
        stuckBMS = Array(repeating: nil, count: faults.count)
        stuckFrame = Array(repeating: nil, count: faults.count)
        stuckAE = Array(repeating: nil, count: faults.count)
        hasIR = faults.contains { $0.channel == .ir }
        hasAE = faults.contains { $0.channel == .ae }
    }

    /// Faults on one IR frame captured at `t`; false = the frame is not delivered (dropout).
    /// `saturated` is recounted when pixels change.
    mutating func applyIR(_ pixels: inout [UInt16], at t: Double, fps: Double, kelvinPerCount: Double, top: UInt16,
                          saturated: inout Int) -> Bool {
        guard hasIR else { return true }
        var deliver = true, changed = false
        for (k, f) in faults.enumerated() where f.channel == .ir && f.active(at: t) {
            started[k] = true
            switch f.kind {
            case .dropout:
                deliver = false
                affected[k] += 1
            case .stuck:
                if stuckFrame[k] == nil { stuckFrame[k] = lastFrame ?? pixels }
                pixels = stuckFrame[k]!
                affected[k] += 1
                changed = true
            case .spike:
                let n = rng.poisson(f.rateHz / fps)
                let delta = f.amplitude / kelvinPerCount
                for _ in 0..<n {
                    let p = Int(rng.next() % UInt64(pixels.count))
                    pixels[p] = UInt16(clamping: Int(min(Double(top), max(0, Double(pixels[p]) + delta)).rounded()))
                }
                if n > 0 { affected[k] += 1; spikes[k] += n; changed = true }
            }
        }
        if changed { saturated = pixels.reduce(0) { $0 + ($1 >= top ? 1 : 0) } }
        if deliver { lastFrame = pixels }
        return deliver
    }

    /// Faults and the DC offset on one AE chunk (interleaved, `channels` per frame).
    mutating func applyAE(_ pcm: inout PCMSamples, startTime: Double, samplePeriod: Double, channels: Int, fullScale: Double, offset: Double) {
        guard hasAE || offset != 0 else { return }
        let chunkEnd = startTime + Double(pcm.count / channels) * samplePeriod
        let dc = Int64((offset * fullScale).rounded())
        guard dc != 0 || faults.contains(where: { $0.channel == .ae && $0.startS < chunkEnd && $0.endS > startTime }) else {
            if pcm.count >= channels {
                switch pcm {
                case let .int16(a): lastAESample = Int64(a[a.count - channels])
                case let .int32(a): lastAESample = Int64(a[a.count - channels])
                }
            }
            return
        }
        var values: [Int64]
        switch pcm {
        case let .int16(a): values = a.map { Int64($0) }
        case let .int32(a): values = a.map { Int64($0) }
        }
        let frames = values.count / channels
        let endTime = startTime + Double(frames) * samplePeriod
        let full = Int64(fullScale) - 1
        if dc != 0 { for j in values.indices { values[j] = max(-full, min(full, values[j] + dc)) } }
        for (k, f) in faults.enumerated() where f.channel == .ae && f.startS < endTime && f.endS > startTime {
            started[k] = true
            let first = max(0, Int(((f.startS - startTime) / samplePeriod).rounded(.up)))
            let last = min(frames, Int(((f.endS - startTime) / samplePeriod).rounded(.up)))
            guard first < last else { continue }
            switch f.kind {
            case .dropout:
                for j in (first * channels)..<(last * channels) { values[j] = dc }
                affected[k] += last - first
            case .stuck:
                if stuckAE[k] == nil { stuckAE[k] = first > 0 ? values[(first - 1) * channels] : lastAESample }
                for j in (first * channels)..<(last * channels) { values[j] = stuckAE[k]! }
                affected[k] += last - first
            case .spike:
                let n = rng.poisson(f.rateHz * Double(last - first) * samplePeriod)
                let a = Int64((f.amplitude * fullScale).rounded())
                for _ in 0..<n {
                    // A three-sample electrical impulse on every channel.
                    let at = first + Int(rng.next() % UInt64(last - first))
                    for j in at..<min(last, at + 3) {
                        for c in 0..<channels { values[j * channels + c] = max(-full, min(full, a)) }
                    }
                }
                affected[k] += n > 0 ? min(last - first, 3 * n) : 0
                spikes[k] += n
            }
        }
        if values.count >= channels { lastAESample = values[values.count - channels] }
        switch pcm {
        case .int16: pcm = .int16(values.map { Int16(clamping: $0) })
        case .int32: pcm = .int32(values.map { Int32(clamping: $0) })
        }
    }

    /// Faults on one BMS reading at `t`; false = the line is not sent (dropout).
    mutating func applyBMS(v: inout Double, i: inout Double, cellC: inout Double, ambientC: inout Double, at t: Double, rateHz: Double) -> Bool {
        var send = true
        for (k, f) in faults.enumerated() where f.channel.streamKey == SimulatedRig.bmsKey && f.active(at: t) {
            started[k] = true
            switch f.kind {
            case .dropout:
                send = false
                affected[k] += 1
            case .stuck:
                if stuckBMS[k] == nil { stuckBMS[k] = [v, i, cellC, ambientC] }
                let held = stuckBMS[k]!
                switch f.channel {
                case .bms: v = held[0]; i = held[1]; cellC = held[2]; ambientC = held[3]
                case .bmsVoltage: v = held[0]
                case .bmsCurrent: i = held[1]
                case .bmsCellTemp: cellC = held[2]
                case .bmsAmbient: ambientC = held[3]
                case .ae, .ir: break
                }
                affected[k] += 1
            case .spike:
                guard rng.uniform() < 1 - exp(-f.rateHz / rateHz) else { continue }
                switch f.channel {
                case .bmsVoltage: v += f.amplitude
                case .bmsCurrent: i += f.amplitude
                case .bmsCellTemp: cellC += f.amplitude
                case .bmsAmbient: ambientC += f.amplitude
                case .bms, .ae, .ir: break
                }
                affected[k] += 1
                spikes[k] += 1
            }
        }
        return send
    }

    /// Faults that ended by `t` (all that started, when `final`): stream, interval and parameters.
    mutating func close(at t: Double, final: Bool) -> [(stream: String, from: Double, to: Double, params: String)] {
        var out: [(stream: String, from: Double, to: Double, params: String)] = []
        for (k, f) in faults.enumerated() where !closed[k] && started[k] && (final || t >= f.endS) {
            closed[k] = true
            let unit = f.channel == .ir ? "frames" : f.channel == .ae ? "samples" : "lines"
            out.append((f.channel.streamKey, f.startS, min(f.endS, t), f.parametersJSON(affected: affected[k], unit: unit, spikes: spikes[k])))
        }
        return out
    }
}

/// Frames whose pixels reached the top of the camera's range, joined into intervals
/// (gaps of up to 1 s), with the saturated-pixel count of every delivered frame.
struct SaturationLog {
    let sensors: SensorSpec
    let top: UInt16
    private var open: (from: Double, last: Double, firstSequence: Int64, counts: [Int])?
    private var zeros = 0

    init(sensors: SensorSpec) {
        self.sensors = sensors
        top = SimulatedRig.saturationCounts(sensors)
    }

    mutating func frame(at t: Double, sequence: Int64, saturated: Int) {
        if saturated > 0 {
            if open == nil {
                open = (t, t, sequence, [saturated])
            } else {
                open!.counts += Array(repeating: 0, count: zeros) + [saturated]
                open!.last = t
            }
            zeros = 0
        } else if open != nil {
            zeros += 1
        }
    }

    /// The interval, once more than 1 s has passed without saturation (or `final`).
    mutating func close(at t: Double, final: Bool) -> (from: Double, to: Double, params: String)? {
        guard let o = open, final || t - o.last > 1 else { return nil }
        open = nil
        zeros = 0
        let topC = Double(top) * sensors.irRange.kelvinPerCount - 273.15
        let params = "{\"definition\":\"IR pixels at the top of the camera's calibrated range (clamped, true temperature higher)\","
            + "\"range\":\"\(sensors.irRange.rawValue)\",\"kelvin_per_count\":\(sensors.irRange.kelvinPerCount),\"saturation_counts\":\(top),"
            + "\"saturation_c\":\((topC * 100).rounded() / 100),\"frames\":\(o.counts.count),\"saturated_frames\":\(o.counts.filter { $0 > 0 }.count),"
            + "\"max_saturated_pixels\":\(o.counts.max() ?? 0),\"first_sequence\":\(o.firstSequence),"
            + "\"saturated_pixels\":[\(o.counts.map(String.init).joined(separator: ","))]}"
        return (o.from, o.last + 1 / sensors.irFPS, params)
    }
}
