import Foundation
import TRWCore
import TRWDatasets
import TRWRecorder
import TRWSimulator
import TRWStore
import TRWSync

/// Issue 4: a simulated run recorded through the recorder, whose three sensor
/// clocks have known offset, drift and jitter (camera +35 ppm, AE -42 ppm,
/// BMS +80 ppm in the demo scenario), is synchronised online, re-fitted with
/// `trw resync`, and every stored sample time is compared with the truth the
/// simulator knows. The common event is venting (IR cooling step, AE burst,
/// voltage glitch): the cross-stream error there is the difference of the
/// streams' time errors around it.
func runSimSyncBench() throws {
    print("== sync on a recorded simulated run (demo scenario, IR 10 Hz, AE 96 kHz, BMS 1 Hz) ==")
    let dir = NSTemporaryDirectory() + "trw-bench-simsync-\(getpid())"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    var so = SimulatedRig.Options()
    so.irWidth = 160; so.irHeight = 120; so.irFPS = 10
    let base = HostClock.monotonicNanoseconds() + 200_000_000
    so.startMonotonicNs = base
    let rig = SimulatedRig(scenario: try Scenario.named("demo"), options: so)
    var o = RecorderOptions(name: "simsync", outputPath: dir + "/s.sqlite", rigName: "sim:demo")
    o.realTime = false
    let rec = Recorder(sources: [rig], options: o)
    try rec.start()
    _ = rec.wait()
    let path = o.outputPath
    let truthShift = base - (try SessionReader(path: path).session().startMonotonicNs)  // t_session = shift + t_sim
    let venting = try SessionReader(path: path).annotations().first { $0.label == "venting" }.map { Double($0.startTNs) / 1e9 }

    /// (session time stored, truth) per sample, ns.
    func samples(_ r: SessionReader) throws -> [String: [(t: Int64, truth: Int64)]] {
        var out: [String: [(Int64, Int64)]] = [:]
        for st in try r.streams() {
            let p = st.properties
            switch st.kind {
            case "thermal":
                let off = Int64(p["sim.clock_offset_ns"] ?? "0")!, ppm = Double(p["sim.clock_drift_ppm"] ?? "0")!
                let period = Int64((1e9 / st.nominalRateHz).rounded())
                out[st.key] = try r.rawFrameTimes(streamId: st.id!).map { f in
                    let dev = off + f.sequence * period
                    return (f.tNs, truthShift + Int64((Double(dev - off) / (1 + ppm * 1e-6)).rounded()))
                }
            case "ae":
                let off = Double(p["sim.clock_offset_ns"] ?? "0")! / 1e9, rate = Double(p["sim.true_rate_hz"] ?? "0")!
                out[st.key] = try r.rawChunkTimes(streamId: st.id!).map { c in
                    (c.tNs, truthShift + Int64(((off + Double(c.firstSampleIndex) / rate) * 1e9).rounded()))
                }
            default:
                let off = Int64(p["sim.clock_offset_ns"] ?? "0")!, ppm = Double(p["sim.clock_drift_ppm"] ?? "0")!
                out[st.key] = try r.bmsSamples(streamId: st.id!).compactMap { b in
                    guard let d = b.deviceTimeS else { return nil }
                    let dev = Int64((d * 1e9).rounded())
                    return (b.tNs, truthShift + Int64((Double(dev - off) / (1 + ppm * 1e-6)).rounded()))
                }
            }
        }
        return out
    }

    func report(_ label: String) throws -> Double {
        let r = try SessionReader(path: path)
        let s = try samples(r)
        var nearVent: [String: Double] = [:]
        for key in s.keys.sorted() {
            let e = s[key]!.map { Double($0.t - $0.truth) }
            let mean = e.reduce(0, +) / Double(max(1, e.count))
            let rms = (e.map { $0 * $0 }.reduce(0, +) / Double(max(1, e.count))).squareRoot()
            let maxAbs = e.map(abs).max() ?? 0
            if let tv = venting {
                let w = s[key]!.filter { abs(Double($0.truth) / 1e9 - tv) <= 5 }.map { Double($0.t - $0.truth) }
                if !w.isEmpty { nearVent[key] = w.reduce(0, +) / Double(w.count) }
            }
            print(String(format: "  %@ %-5@ time error vs truth: mean %+8.1f us  rms %7.1f us  max %7.1f us  (%d samples)",
                         label as NSString, key as NSString, mean / 1000, rms / 1000, maxAbs / 1000, e.count))
        }
        let keys = nearVent.keys.sorted()
        var pairs: [Double] = []
        for i in keys.indices { for j in keys.indices where j > i { pairs.append(abs(nearVent[keys[i]]! - nearVent[keys[j]]!)) } }
        let meanPair = pairs.isEmpty ? .nan : pairs.reduce(0, +) / Double(pairs.count)
        print(String(format: "  %@ cross-stream alignment error at venting (t = %.1f s): mean %.1f us, max %.1f us over %d pairs (goal < 1000 us mean)",
                     label as NSString, venting ?? .nan, meanPair / 1000, (pairs.max() ?? .nan) / 1000, pairs.count))
        return meanPair
    }

    let online = try report("online ")
    let moved = try SessionSync.resync(path: path)
    for m in moved {
        print(String(format: "  resync %@: mean |dt| %.1f us, max %.1f us", m.key, m.moved.meanAbsDeltaNs / 1000, Double(m.moved.maxAbsDeltaNs) / 1000))
    }
    let offline = try report("offline")
    // Drift estimates vs truth.
    let r = try SessionReader(path: path)
    for st in try r.streams() {
        guard let m = try r.clockModels(streamId: st.id!).last.flatMap({ try? ClockModel.fromJSONText($0.modelJson) }),
              let seg = m.segments.first else { continue }
        let truth = Double(st.properties["sim.clock_drift_ppm"] ?? "0")!
        print(String(format: "  drift %@: estimated %+.3f ppm, truth %+.3f ppm, |error| %.3f ppm", st.key, seg.driftPpm, truth, abs(seg.driftPpm - truth)))
    }
    print(String(format: "sync on simulated session: online %.1f us, offline %.1f us mean cross-stream error (goal < 1000 us): %@",
                 online / 1000, offline / 1000, offline < 1_000_000 ? "MET" : "NOT MET"))
}
