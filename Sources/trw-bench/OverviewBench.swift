import Foundation
import TRWAnalysis
import TRWAnnotate
import TRWCore
import TRWStore

/// Opening the overview of a 1-hour full-rate session (`trw annotate`, `trw plot`): 180 000
/// frames at 50 Hz, BMS at 10 Hz, AE hits at 20/s. The frame rows carry 16 KiB payloads so
/// each frame occupies its own table page as real (~210 KB) frames do, without writing
/// 38 GB; the overview reads the covering index and never touches those pages. Reference
/// in the same run: the same statistics read from the table itself (NOT INDEXED).
func runOverviewBench() throws {
    let hours = Double(ProcessInfo.processInfo.environment["TRW_BENCH_OVERVIEW_H"] ?? "1") ?? 1
    let dir = NSTemporaryDirectory() + "trw-bench-overview-\(getpid())"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let path = dir + "/hour.sqlite"
    let t0 = Date()
    let w = try SessionWriter(creating: path, session: NewSession(name: "overview-bench", rigName: "bench",
                                                                  clock: SessionClock(startMonotonicNs: 0, startRealtimeNs: 1_790_000_000_000_000_000)),
                              softwareVersion: "bench")
    let ir = try w.addStream(StreamDescriptor(key: "ir0", kind: .thermal, device: "bench", format: "Y16", nominalRateHz: 50,
                                              width: 640, height: 480, calibration: .tLinear10mK))
    let ae = try w.addStream(StreamDescriptor(key: "ae0", kind: .ae, device: "bench", format: "S32_LE", nominalRateHz: 192_000,
                                              channels: 2, sampleFormat: .s32le))
    let bms = try w.addStream(StreamDescriptor(key: "bms0", kind: .bms, device: "bench", format: "kv", nominalRateHz: 10))
    var payload = Data(count: 16 * 1024)
    payload.withUnsafeMutableBytes { p in for i in 0..<p.count { p[i] = UInt8(truncatingIfNeeded: i &* 2_654_435_761 >> 13) } }
    let frames = Int(hours * 3600 * 50)
    var batch = WriteBatch()
    for k in 0..<frames {
        let tNs = Int64(k) * 20_000_000
        let temp = 25 + 200 * pow(Double(k) / Double(frames), 8)
        let c = UInt16(clamping: Int((temp + 273.15) * 100))
        batch.frames.append(ThermalFrameRecord(streamId: ir, sequence: Int64(k), deviceTsNs: tNs, hostArrivalNs: tNs, tNs: tNs, codec: "bench",
                                               payload: payload, stats: FrameStatistics(minCounts: 29_815, maxCounts: c, meanCounts: Double(c) - 500,
                                                                                        hotspotX: 320, hotspotY: 240)))
        if k % 5 == 0 {
            batch.bms.append(BMSSampleRecord(streamId: bms, sample: BMSSample(hostArrivalNs: tNs, voltageV: 4.2, currentA: 1, cellTempsC: [temp],
                                                                              ambientC: 25, raw: ""), tNs: tNs))
        }
        if k % 50 == 0 {
            for j in 0..<20 {
                let h = AEHit(channel: 0, firstCrossingSampleIndex: Int64(k) * 3840 + Int64(j) * 9600, amplitudeDbAE: 50, riseTimeS: 1e-5,
                              durationS: 1e-4, counts: 5, energyV2s: 1e-8, rmsBeforeV: 1e-4)
                batch.hits.append(AEHitRecord(streamId: ae, hit: h, tNs: tNs + Int64(j) * 50_000_000))
            }
        }
        if batch.frames.count == 2000 { try w.write(batch); batch = WriteBatch() }
    }
    try w.write(batch)
    try w.finalize(status: .complete, endTNs: Int64(frames) * 20_000_000)
    try w.checkpoint()
    let bytes = w.fileBytes()
    print(String(format: "built %.1f h session: %d frames, %d BMS rows, %d AE hits, %.2f GB in %.1f s", hours, frames, frames / 5, frames / 50 * 20,
                 Double(bytes) / 1e9, Date().timeIntervalSince(t0)))
    // Drop the file from the page cache so both reads start cold.
    func dropCache() {
        if let fd = Optional(open(path, O_RDONLY)), fd >= 0 { _ = posix_fadvise(fd, 0, 0, Int32(POSIX_FADV_DONTNEED)); close(fd) }
    }
    func timed(_ body: () throws -> Void) rethrows -> Double { let a = Date(); try body(); return Date().timeIntervalSince(a) }
    dropCache()
    var overview: Overview?
    let r = try SessionReader(path: path)
    let cold = try timed { overview = try Overview.load(r) }
    let warm = try timed { overview = try Overview.load(try SessionReader(path: path)) }
    let model = try AnnotateModel(reader: r, author: "bench", suggestions: [])
    let screen = AnnotateScreen(color: true)
    let render = timed { _ = screen.render(model, width: 200, height: 60) }
    let firstScreen = try timed {
        let m = try AnnotateModel(reader: try SessionReader(path: path), author: "bench", suggestions: [])
        _ = screen.render(m, width: 80, height: 24)
    }
    var nSug = 0
    let suggest = try timed { nSug = try SuggestionEngine.suggest(r).count }
    dropCache()
    var n = 0
    let table = try timed {
        try r.forEachFrameStatisticFromTable(streamId: ir) { n += 1 }
    }
    print(String(format: "overview load (frame statistics via covering index, BMS, hits): cold %.3f s, warm %.3f s; %d frames", cold, warm, overview?.frameCount ?? 0))
    print(String(format: "trw annotate first screen (open + overview + 80x24 render, warm, suggestions off): %.3f s; redraw at 200x60: %.1f ms", firstScreen, render * 1000))
    print(String(format: "suggestions (5 detectors over 4 Hz ticks of stored statistics, run once when trw annotate opens): %.3f s, %d suggested", suggest, nSug))
    print(String(format: "reference, same statistics read from the table (NOT INDEXED, cold): %.3f s for %d rows -> covering index %.1fx faster cold", table, n, table / cold))
    print(String(format: "goal: overview of a 1-hour full-rate session < 1 s: %@ (cold %.3f s)", cold < 1 ? "met" : "NOT met", cold))
}
