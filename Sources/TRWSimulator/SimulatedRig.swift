#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Synchronization
import TRWCore

/// The simulated rig: a `CellSimulation` seen through an IR camera ("ir0"),
/// an AE sensor ("ae0") and a BMS ("bms0"), each with its own clock, fed to
/// the recorder through the same `Source` interface as real devices.
///
/// Host times are virtual: hostNs = (CLOCK_MONOTONIC at run start) + simulated
/// time, so the session's time base is the simulated time. In paced mode the
/// rig sleeps so that simulated time advances `speed` times faster than the
/// wall clock; in max mode it does not sleep and emits with `.blockIfFull`.
/// Ground truth (runaway onset by GB 38031, venting, self-heating onset) is
/// emitted as annotations on "bms0" with method "simulator_ground_truth".
public final class SimulatedRig: Source, SupplyControl {
    /// How the rig is run; nil fields take the scenario's value.
    public struct Options: Sendable, Equatable {
        public enum Pacing: Sendable, Equatable {
            /// Simulated time runs `speed` x faster than the wall clock (1 = real time).
            case realTime(speed: Double)
            /// As fast as the machine (and the recorder's queues) allow.
            case max
        }
        public var pacing: Pacing
        public var irWidth: Int?
        public var irHeight: Int?
        public var irFPS: Double?
        public var aeRateHz: Int?
        public var aeChannels: Int?
        public var aeFormat: SampleFormat?
        public var bmsRateHz: Double?
        /// IR noise (NETD, K RMS) and the emissivity the camera assumes (the cell's true one is in the scenario).
        public var irNETDK: Double?
        public var irAssumedEmissivity: Double?
        /// Cap on simulated time, s.
        public var durationCapS: Double?
        /// Solver grid override.
        public var gridNX: Int?
        public var gridNY: Int?
        /// Seed override.
        public var seed: UInt64?
        /// AE chunk length, s (an ALSA period).
        public var aeChunkS: Double
        /// Host time of simulated t = 0; nil = CLOCK_MONOTONIC read when `run` starts.
        /// (Tests fix it to compare runs byte for byte.)
        public var startMonotonicNs: Nanoseconds?

        public init(pacing: Pacing = .max, irWidth: Int? = nil, irHeight: Int? = nil, irFPS: Double? = nil,
                    aeRateHz: Int? = nil, aeChannels: Int? = nil, aeFormat: SampleFormat? = nil, bmsRateHz: Double? = nil,
                    irNETDK: Double? = nil, irAssumedEmissivity: Double? = nil, durationCapS: Double? = nil, gridNX: Int? = nil, gridNY: Int? = nil, seed: UInt64? = nil,
                    aeChunkS: Double = 0.05, startMonotonicNs: Nanoseconds? = nil) {
            self.pacing = pacing
            self.irWidth = irWidth
            self.irHeight = irHeight
            self.irFPS = irFPS
            self.aeRateHz = aeRateHz
            self.aeChannels = aeChannels
            self.aeFormat = aeFormat
            self.bmsRateHz = bmsRateHz
            self.irNETDK = irNETDK
            self.irAssumedEmissivity = irAssumedEmissivity
            self.durationCapS = durationCapS
            self.gridNX = gridNX
            self.gridNY = gridNY
            self.seed = seed
            self.aeChunkS = aeChunkS
            self.startMonotonicNs = startMonotonicNs
        }
    }

    /// Stream keys.
    public static let irKey = "ir0", aeKey = "ae0", bmsKey = "bms0"
    /// Annotation method and author of the ground truth.
    public static let truthMethod = "simulator_ground_truth", truthAuthor = "trw-sim"
    /// Annotation method and author (so: label set) of what the simulator did to its sensors:
    /// injected faults (`custom:sensor_fault`) and IR saturation (`custom:ir_saturated`), on the stream concerned.
    public static let sensorTruthMethod = "simulator_sensor_truth", sensorTruthAuthor = "trw-sim-sensors"

    /// The scenario with the options applied.
    public let scenario: Scenario
    public let options: Options
    public let name: String
    public let streams: [StreamDescriptor]
    public var cell: CellInfo? {
        CellInfo(chemistry: scenario.cell.chemistry.rawValue, capacityAh: scenario.cell.capacityAh, format: scenario.cell.format,
                 maker: "trw simulator", serial: "sim-\(scenario.name)-seed\(scenario.seed)")
    }
    public var testProtocol: String? { "\(scenario.testProtocol.summary); ambient \(scenario.ambient.temperatureC) degC (simulated: \(scenario.name))" }

    let irClock: SensorClock
    let aeClockPPM: Double
    let aeStartOffsetS: Double
    let bmsClock: SensorClock
    private let stopFlag = Atomic<Bool>(false)
    private let result = Mutex<GroundTruth?>(nil)

    /// Ground truth of the last completed `run`, nil before.
    public var groundTruth: GroundTruth? { result.withLock { $0 } }

    public init(scenario base: Scenario, options: Options = Options()) {
        var s = base
        if let v = options.irWidth { s.sensors.irWidth = v }
        if let v = options.irHeight { s.sensors.irHeight = v }
        if let v = options.irFPS { s.sensors.irFPS = v }
        if let v = options.aeRateHz { s.sensors.aeRateHz = v }
        if let v = options.aeChannels { s.sensors.aeChannels = v }
        if let v = options.aeFormat { s.sensors.aeFormat = v }
        if let v = options.bmsRateHz { s.sensors.bmsRateHz = v }
        if let v = options.irNETDK { s.sensors.irNETDK = v }
        if let v = options.irAssumedEmissivity { s.sensors.irAssumedEmissivity = v }
        if let v = options.durationCapS { s.run.durationCapS = min(s.run.durationCapS, v) }
        if let v = options.gridNX { s.grid.nx = v }
        if let v = options.gridNY { s.grid.ny = v }
        if let v = options.seed { s.seed = v }
        scenario = s
        self.options = options
        name = "simulated rig (\(s.name), seed \(s.seed))"
        let sen = s.sensors
        irClock = SensorClock(offsetNs: Int64((sen.irClockOffsetMs * 1e6).rounded()), driftPPM: sen.irClockDriftPPM,
                              jitterNs: sen.irClockJitterUs * 1000)
        aeClockPPM = sen.aeClockPPM
        aeStartOffsetS = 0.0025
        bmsClock = SensorClock(offsetNs: Int64((sen.bmsClockOffsetS * 1e9).rounded()), driftPPM: sen.bmsClockDriftPPM, jitterNs: 0)
        let common = ["sim.scenario": s.name, "sim.seed": "\(s.seed)", "sim.simulated": "true"]
        var irProps = common.merging(irClock.properties()) { a, _ in a }
        var aeProps = common
        var bmsProps = common.merging(bmsClock.properties()) { a, _ in a }
        irProps["sim.netd_k"] = "\(sen.irNETDK)"
        irProps["sim.true_emissivity"] = "\(s.cell.emissivity)"
        irProps["sim.assumed_emissivity"] = "\(sen.irAssumedEmissivity)"
        irProps["sim.transport_latency_ns"] = "2000000 + exponential(mean 500000)"
        if sen.irRange != .highResolution || sen.irRangeMaxC < IRRangeMode.highResolution.defaultRangeMaxC {
            // Where the calibrated range ends (trw plot marks frames reaching it).
            irProps["saturation_counts"] = "\(Self.saturationCounts(sen))"
            irProps["sim.range"] = sen.irRange.rawValue
            irProps["sim.range_max_c"] = "\(sen.irRangeMaxC)"
        }
        if sen.irOffsetK != 0 { irProps["sim.offset_k"] = "\(sen.irOffsetK)" }
        if sen.aeBackgroundRMS != SensorSpec().aeBackgroundRMS || sen.aeOffset != 0 {
            aeProps["sim.noise_rms_fs"] = "\(sen.aeBackgroundRMS)"
            aeProps["sim.offset_fs"] = "\(sen.aeOffset)"
        }
        if sen.bmsNoise != BMSNoise() {
            let n = sen.bmsNoise
            bmsProps["sim.noise"] = "V \(n.voltageNoiseV) V, I \(n.currentNoiseA) A, T1 \(n.cellTempNoiseC) degC, Tamb \(n.ambientNoiseC) degC RMS"
            bmsProps["sim.offset"] = "V \(n.voltageOffsetV) V, I \(n.currentOffsetA) A, T1 \(n.cellTempOffsetC) degC, Tamb \(n.ambientOffsetC) degC"
        }
        for key in [Self.irKey, Self.aeKey, Self.bmsKey] {
            let n = sen.faults.filter { $0.channel.streamKey == key }.count
            guard n > 0 else { continue }
            let v = "\(n) (sensor_fault labels, set \(Self.sensorTruthAuthor))"
            if key == Self.irKey { irProps["sim.faults"] = v } else if key == Self.aeKey { aeProps["sim.faults"] = v } else { bmsProps["sim.faults"] = v }
        }
        aeProps["sim.clock_drift_ppm"] = "\(aeClockPPM)"
        aeProps["sim.clock_offset_ns"] = "\(Int64(aeStartOffsetS * 1e9))"
        aeProps["sim.true_rate_hz"] = "\(Double(sen.aeRateHz) * (1 + aeClockPPM * 1e-6))"
        aeProps["sim.htstamp_jitter_ns"] = "10000"
        bmsProps["sim.line_format"] = "t=<device s> V=<V> I=<A> T1=<degC> Tamb=<degC>"
        bmsProps["sim.baud"] = "115200"
        streams = [
            StreamDescriptor(key: Self.irKey, kind: .thermal, device: "sim:ir", format: "Y16", nominalRateHz: sen.irFPS,
                             width: sen.irWidth, height: sen.irHeight, calibration: ThermalCalibration(
                                 kelvinPerCount: sen.irRange.kelvinPerCount, offsetKelvin: 0, emissivity: sen.irAssumedEmissivity),
                             units: ["counts": sen.irRange == .highResolution ? "0.01 K" : "0.1 K"], properties: irProps),
            StreamDescriptor(key: Self.aeKey, kind: .ae, device: "sim:ae", format: sen.aeFormat.rawValue,
                             nominalRateHz: Double(sen.aeRateHz), channels: sen.aeChannels, sampleFormat: sen.aeFormat,
                             units: ["sample": "ADC counts"], properties: aeProps),
            StreamDescriptor(key: Self.bmsKey, kind: .bms, device: "sim:bms", format: "kv", nominalRateHz: sen.bmsRateHz,
                             units: ["voltage": "V", "current": "A", "cell_temp": "degC", "ambient": "degC"], properties: bmsProps,
                             role: .cellBMS),
        ]
    }

    public func stop() { stopFlag.store(true, ordering: .relaxed) }

    /// The top count of the camera's calibrated range.
    public static func saturationCounts(_ sen: SensorSpec) -> UInt16 {
        UInt16(clamping: Int(((sen.irRangeMaxC + 273.15) / sen.irRange.kelvinPerCount + 1e-6).rounded(.down)))
    }

    private let supplyOffRequested = Atomic<Bool>(false)

    /// The simulated supply honours the request physically: the charge current is zero
    /// from the simulation's next step (the cell's reactions go on).
    public func switchSupplyOff(reason: String) throws -> String {
        supplyOffRequested.store(true, ordering: .relaxed)
        return "simulated supply output switched off (\(reason)); the charge current is 0 A from the next step"
    }

    /// Runs the simulation and emits frames, audio chunks, BMS samples and ground truth until
    /// runaway has run its course, the duration cap, or `stop()`.
    public func run(into sink: any SampleSink) throws {
        let s = scenario
        let base = options.startMonotonicNs ?? HostClock.monotonicNanoseconds()
        let wallStart = HostClock.monotonicNanoseconds()
        let mode: EmitMode = options.pacing == .max ? .blockIfFull : .dropIfFull
        let sim = CellSimulation(scenario: s)
        var master = SimRandom(seed: s.seed)
        var irRNG = master.fork(), aeRNG = master.fork(), bmsRNG = master.fork()
        var faults = SensorFaultInjector(faults: s.sensors.faults, rng: master.fork())
        var renderer = IRRenderer(width: s.sensors.irWidth, height: s.sensors.irHeight, gridNX: s.grid.nx, gridNY: s.grid.ny,
                                  cellAspect: s.cell.widthM / s.cell.heightM, trueEmissivity: s.cell.emissivity,
                                  assumedEmissivity: s.sensors.irAssumedEmissivity, netdK: s.sensors.irNETDK,
                                  calibration: ThermalCalibration(kelvinPerCount: s.sensors.irRange.kelvinPerCount),
                                  saturationCounts: Self.saturationCounts(s.sensors), offsetK: s.sensors.irOffsetK, seed: irRNG.next())
        var saturation = SaturationLog(sensors: s.sensors)
        var ae = AESynthesizer(sampleRate: s.sensors.aeRateHz, channels: s.sensors.aeChannels, format: s.sensors.aeFormat,
                               seed: aeRNG.next())
        ae.backgroundRMS = s.sensors.aeBackgroundRMS
        let noise = s.sensors.bmsNoise
        let aeTrueRate = Double(s.sensors.aeRateHz) * (1 + aeClockPPM * 1e-6)
        let aeChunk = max(1, Int((Double(s.sensors.aeRateHz) * options.aeChunkS).rounded()))
        var aeNext: Int64 = 0
        let irPeriodNs = Int64((1e9 / s.sensors.irFPS).rounded())
        var irK: Int64 = 0
        var bmsJ: Int64 = 0
        let bmsPeriod = 1 / s.sensors.bmsRateHz
        var thermocouple = sim.temperatureC(atX: 0.5, y: 0.5)
        var emittedTruth = Set<String>()
        var pending: [(Nanoseconds, String, SourceEvent)] = []
        let dt = s.grid.stepS
        var lastImpulseCheck = 0.0
        defer { result.withLock { $0 = sim.truth } }
        func sensorLabel(_ label: String, stream: String, from: Double, to: Double, _ params: String) {
            pending.append((host(to), stream, .annotation(AnnotationEvent(
                label: label, startHostNs: host(from), endHostNs: host(to), method: Self.sensorTruthMethod,
                parametersJSON: params, author: Self.sensorTruthAuthor))))
        }
        func closeSensorLabels(at t: Double, final: Bool) {
            for e in faults.close(at: t, final: final) { sensorLabel("custom:sensor_fault", stream: e.stream, from: e.from, to: e.to, e.params) }
            if let e = saturation.close(at: t, final: final) { sensorLabel("custom:ir_saturated", stream: Self.irKey, from: e.from, to: e.to, e.params) }
        }

        @inline(__always) func host(_ t: Double) -> Nanoseconds { base + Nanoseconds.fromSeconds(t) }

        while !stopFlag.load(ordering: .relaxed) {
            if supplyOffRequested.load(ordering: .relaxed) { sim.switchSupplyOff() }
            let t0 = sim.time
            sim.step(dt: dt)
            let t = sim.time
            thermocouple += (sim.temperatureC(atX: 0.5, y: 0.5) - thermocouple) * (1 - exp(-(t - t0) / 2.0))

            // Ground truth, stamped at the time it occurred.
            let tr = sim.truth
            func truth(_ label: String, _ at: Double?, _ params: String) {
                guard let at, !emittedTruth.contains(label) else { return }
                emittedTruth.insert(label)
                pending.append((host(at), Self.bmsKey, .annotation(AnnotationEvent(
                    label: label, startHostNs: host(at), method: Self.truthMethod, parametersJSON: params, author: Self.truthAuthor))))
            }
            truth("self_heating_onset", tr.selfHeatingOnsetS,
                  "{\"definition\":\"cell-mean heating rate of the abuse reactions alone first >= threshold (ARC detection threshold)\",\"threshold_C_per_min\":\(CellSimulation.selfHeatingThresholdCPerMin)}")
            truth("venting", tr.ventingS, "{\"definition\":\"gas generated reached the vent threshold\",\"vent_gas_mol\":\(s.cell.ventGasMol)}")
            truth("runaway_onset", tr.runawayOnsetS, sim.runawayCriterionJSON)
            truth("custom:cid_open", sim.cidOpenS,
                  "{\"definition\":\"gas generated reached the current interrupt device's opening amount; the supply current is cut\",\"cid_gas_mol\":\(s.cell.cidGasMol ?? 0)}")

            // IR frames captured in (t0, t].
            while true {
                let camNs = irClock.offsetNs + irK * irPeriodNs
                let tf = irClock.trueTime(atDevice: camNs)
                if tf > t { break }
                var pixels = renderer.render(fieldK: sim.heat.temperature, ambientK: sim.ambientC + 273.15)
                let jitter = Int64((irRNG.gaussian() * irClock.jitterNs).rounded())
                let latency = 2_000_000 + Int64(-log(max(1e-12, irRNG.uniform())) * 500_000)
                var saturated = renderer.lastSaturatedPixels
                let deliver = faults.applyIR(&pixels, at: tf, fps: s.sensors.irFPS, kelvinPerCount: renderer.calibration.kelvinPerCount,
                                             top: renderer.saturationCounts, saturated: &saturated)
                if deliver {
                    saturation.frame(at: tf, sequence: irK, saturated: saturated)
                    pending.append((host(tf) + latency, Self.irKey, .thermal(ThermalFrame(
                        width: renderer.width, height: renderer.height, pixels: pixels, sequence: irK,
                        deviceTimestampNs: camNs + jitter, hostArrivalNs: host(tf) + latency))))
                }
                irK += 1
            }

            // AE chunks whose last sample is at or before t.
            while true {
                let endIndex = aeNext + Int64(aeChunk)
                let tEnd = aeStartOffsetS + Double(endIndex) / aeTrueRate
                if tEnd > t { break }
                let tStart = aeStartOffsetS + Double(aeNext) / aeTrueRate
                var impulses: [Double] = []
                if let tv = tr.ventingS, tv >= lastImpulseCheck, tv < tEnd { impulses.append(max(tStart, tv)) }
                if let tf = tr.separatorFailureS, tf >= lastImpulseCheck, tf < tEnd { impulses.append(max(tStart, tf)) }
                lastImpulseCheck = tEnd
                func hiss(_ at: Double) -> Double {
                    var h = 0.0
                    if let tv = tr.ventingS, at >= tv { h = max(h, exp(-(at - tv) / 8)) }
                    h = max(h, min(1, sim.reactionPowerW / 300))
                    return h
                }
                let drivers = AESynthesizer.Drivers(gasRateMolPerS: sim.gasRateMolPerS, reactionPowerW: sim.reactionPowerW,
                                                    hissStart: hiss(tStart), hissEnd: hiss(tEnd), impulses: impulses)
                var samples = ae.synthesizePCM(frames: aeChunk, startTime: tStart, samplePeriod: 1 / aeTrueRate, drivers: drivers)
                faults.applyAE(&samples, startTime: tStart, samplePeriod: 1 / aeTrueRate, channels: s.sensors.aeChannels,
                               fullScale: s.sensors.aeFormat.fullScale, offset: s.sensors.aeOffset)
                let pairHost = host(tEnd) + Int64((aeRNG.gaussian() * 10_000).rounded())
                let arrival = host(tEnd) + 1_000_000 + Int64(aeRNG.uniform() * 500_000)
                pending.append((arrival, Self.aeKey, .audio(AudioChunk(
                    firstSampleIndex: aeNext, channels: s.sensors.aeChannels, format: s.sensors.aeFormat, pcm: samples,
                    hostArrivalNs: arrival, clockPair: AudioClockPair(sampleIndex: endIndex, hostNs: pairHost)))))
                aeNext = endIndex
            }

            // BMS readings due in (t0, t].
            while true {
                let devS = Double(bmsClock.offsetNs) / 1e9 + Double(bmsJ) * bmsPeriod
                let tb = bmsClock.trueTime(atDevice: bmsClock.offsetNs + Int64((Double(bmsJ) * bmsPeriod * 1e9).rounded()))
                if tb > t { break }
                var v = sim.voltage + bmsRNG.gaussian() * noise.voltageNoiseV + noise.voltageOffsetV
                var i = sim.current + bmsRNG.gaussian() * noise.currentNoiseA + noise.currentOffsetA
                var tc = thermocouple + bmsRNG.gaussian() * noise.cellTempNoiseC + noise.cellTempOffsetC
                var amb = sim.ambientC + bmsRNG.gaussian() * noise.ambientNoiseC + noise.ambientOffsetC
                guard faults.applyBMS(v: &v, i: &i, cellC: &tc, ambientC: &amb, at: tb, rateHz: s.sensors.bmsRateHz) else {
                    bmsJ += 1
                    continue
                }
                let line = BMSLine.format(deviceTimeS: devS, voltageV: v, currentA: i, cellC: tc, ambientC: amb)
                // Line complete after its transmission at 115200 baud (10 bits per byte) plus USB-serial latency.
                let txNs = Int64(Double(line.utf8.count + 1) * 10 / 115_200 * 1e9)
                let arrival = host(tb) + txNs + Int64(bmsRNG.uniform() * 2_000_000)
                // The sample is exactly what the serial driver would decode from the line.
                if let sample = BMSLine.parse(line, hostArrivalNs: arrival) {
                    pending.append((arrival, Self.bmsKey, .bms(sample)))
                }
                bmsJ += 1
            }

            closeSensorLabels(at: t, final: false)

            // Emit in host-time order (stable for ties).
            if !pending.isEmpty {
                if case let .realTime(speed) = options.pacing, speed > 0 {
                    let due = wallStart + Int64((t / speed * 1e9).rounded())
                    let now = HostClock.monotonicNanoseconds()
                    if due > now { sleepNs(due - now) }
                }
                let ordered = pending.enumerated().sorted { ($0.element.0, $0.offset) < ($1.element.0, $1.offset) }
                for (_, e) in ordered { sink.emit(e.2, stream: e.1, mode: mode) }
                pending.removeAll(keepingCapacity: true)
            }

            if t >= s.run.durationCapS - 1e-9 { break }
            if tr.runawayOnsetS != nil, t - tr.peakS >= s.run.stopAfterPeakS { break }
        }
        // Sensor labels still open when the run ends.
        closeSensorLabels(at: sim.time, final: true)
        for (_, stream, e) in pending { sink.emit(e, stream: stream, mode: mode) }
    }

    private func sleepNs(_ ns: Int64) {
        var req = timespec(tv_sec: Int(ns / 1_000_000_000), tv_nsec: Int(ns % 1_000_000_000))
        var rem = timespec()
        while nanosleep(&req, &rem) != 0 && errno == EINTR { req = rem }
    }
}
