import Foundation
import Logging
import Synchronization
import TRWCore
import TRWStore

/// Measures, for `make bench`, how long the live path takes from the sample that closes a tick
/// to the detector's decision and to the start of the alarm's action: the same `LiveTicks` (one
/// feature pipeline) and `LiveDetection` a recording uses, fed 2 Hz BMS samples on this thread
/// as a recorder lane feeds them. What it leaves out: the time a sample spends in the recorder's
/// queue before its lane hands it on (`trw-bench ingest` measures the queues).
///
/// The samples: a cell at 4.0 V and 30 °C whose voltage steps up 0.5 V every `cycleS` seconds and,
/// 5 s before each step, dips 0.4 V for 4 s (so `vdrop` alarms and re-arms once per cycle), the
/// temperature ramping 0.05 °C/s with ±0.02 °C noise.
public enum LiveLatencyProbe {
    public struct Result: Sendable {
        /// Per closed tick: closing sample fed -> every detector stepped and its prediction queued, ms.
        public var tickMs: [Double]
        /// Per rising alarm: closing sample fed -> the alarm action starts on the action queue, ms.
        public var actionMs: [Double]
    }

    public static func run(detector spec: String, cycles: Int = 100, cycleS: Int = 12, alarmK: Int = 1,
                           logger: Logger = Logger(label: "trw.bench")) throws -> Result {
        let stream = StreamDescriptor(key: "bms0", kind: .bms, device: "probe", format: "probe", nominalRateHz: 2, role: .cellBMS)
        let feedStart = Atomic<Int64>(0)
        let state = Mutex<(tickMs: [Double], actionMs: [Double])>(([], []))
        let actionStarted = DispatchSemaphore(value: 0)
        let detection = try LiveDetection(
            specs: [spec], alarmK: alarmK, actions: [], runId: "probe", logger: logger,
            write: { batch in
                let now = HostClock.monotonicNanoseconds(), fed = feedStart.load(ordering: .acquiring)
                state.withLock { s in
                    for _ in batch.predictions { s.tickMs.append(Double(now - fed) / 1e6) }
                }
            },
            act: { _, _, _ in
                // The feeding loop waits for this action before its next sample (below), so
                // `feedStart` is still that of the sample that closed the alarm's tick. (The action
                // may start before the tick's prediction batch is handed on: it is dispatched first.)
                let now = HostClock.monotonicNanoseconds(), fed = feedStart.load(ordering: .acquiring)
                state.withLock { $0.actionMs.append(Double(now - fed) / 1e6) }
                actionStarted.signal()
            })
        let ticks = LiveTicks(rateHz: 1, stallS: 3600, streams: [stream], sinks: [detection])
        var rng = SplitMix64(seed: 20261203)
        let samples = cycles * cycleS * 2
        for i in 0..<samples {
            let t = Double(i) / 2
            let cycle = Int(t) / cycleS, inCycle = t - Double(cycle * cycleS)
            let dip = inCycle >= Double(cycleS - 5) && inCycle < Double(cycleS - 1)
            let v = 4.0 + 0.5 * Double(cycle) - (dip ? 0.4 : 0)
            let temp = 30 + 0.05 * t + Double.random(in: -0.02...0.02, using: &rng)
            let sample = BMSSample(hostArrivalNs: HostClock.monotonicNanoseconds(), voltageV: v, currentA: 1, cellTempsC: [temp], raw: "probe")
            let alarmsBefore = detection.status.first?.alarms ?? 0
            feedStart.store(HostClock.monotonicNanoseconds(), ordering: .releasing)
            ticks.bms(tNs: Int64(t * 1e9), sample, stream: "bms0")
            // Each action finishes before the next sample, as on a rig (alarms are seconds apart).
            if (detection.status.first?.alarms ?? 0) > alarmsBefore {
                _ = actionStarted.wait(timeout: .now() + 5)
            }
        }
        detection.drainActions(timeoutS: 5)
        let s = state.withLock { $0 }
        return Result(tickMs: s.tickMs, actionMs: s.actionMs)
    }
}
