import Foundation
import TRWCore
import TRWV4L2

/// Checks of TRWV4L2 against the kernel's vivid driver (webcam input).
struct V4L2Checks {
    let device: String

    func config(_ format: V4L2PixelFormat, width: Int = 640, height: Int = 480, fps: Double = 50,
                buffers: Int = 4) -> V4L2CameraConfig {
        V4L2CameraConfig(key: "ir0", device: device, width: width, height: height, fps: fps, pixelFormat: format,
                         bufferCount: buffers, radiometry: format == .y16 ? .tLinear10mK : .none, pollTimeoutMs: 2000)
    }

    func runAll() {
        for (format, bpl) in [(V4L2PixelFormat.y16, 1280), (.grey, 640)] {
            check("v4l2.negotiate.\(format.rawValue)") { try negotiate(format, expectedBytesPerLine: bpl) }
        }
        check("v4l2.capture") { try capture() }
        check("v4l2.drop") { try forcedDrop() }
        check("v4l2.unsupported") { try unsupported() }
    }

    /// S_FMT / S_PARM read back: the granted geometry, stride and rate are what the driver reports.
    func negotiate(_ format: V4L2PixelFormat, expectedBytesPerLine: Int) throws -> (Bool, String) {
        let source = try V4L2CameraSource(config: config(format))
        let g = source.grantedFormat
        let props = source.streams[0].properties
        let fps = g.fps.map { String($0) } ?? "nil"
        var problems: [String] = []
        if g.pixelFormat != format || g.width != 640 || g.height != 480 {
            problems.append("granted \(g.pixelFormat) \(g.width)x\(g.height)")
        }
        if g.bytesPerLine != expectedBytesPerLine { problems.append("bytesperline \(g.bytesPerLine) != \(expectedBytesPerLine)") }
        if props["v4l2.size_image"] != String(expectedBytesPerLine * 480) {
            problems.append("sizeimage \(props["v4l2.size_image"] ?? "nil") != \(expectedBytesPerLine * 480)")
        }
        guard let granted = g.fps else { return (false, "no granted frame rate recorded; " + problems.joined(separator: "; ")) }
        if Double(props["v4l2.granted_fps"] ?? "") != granted {
            problems.append("stream property v4l2.granted_fps=\(props["v4l2.granted_fps"] ?? "nil") differs from granted \(granted)")
        }
        if source.streams[0].nominalRateHz != granted { problems.append("nominal rate \(source.streams[0].nominalRateHz) != granted \(granted)") }
        let warned = source.warnings.contains { $0.contains("granted") }
        if granted != 50 && !warned { problems.append("granted \(granted) Hz for 50 asked without a warning") }
        let detail = "format=\(g.pixelFormat) size=\(g.width)x\(g.height) bytesperline=\(g.bytesPerLine) "
            + "sizeimage=\(props["v4l2.size_image"] ?? "?") asked_fps=50 granted_fps=\(fps) "
            + "buffers=\(props["v4l2.buffers_granted"] ?? "?")/\(props["v4l2.buffers_asked"] ?? "?") "
            + "timestamps=\(props["v4l2.timestamp_clock"] ?? "?")/\(props["v4l2.timestamp_source"] ?? "?") "
            + "driver=\(props["v4l2.driver"] ?? "?") warnings=\"\(source.warnings.joined(separator: "; "))\""
        return (problems.isEmpty, problems.isEmpty ? detail : problems.joined(separator: "; ") + " :: " + detail)
    }

    /// N frames in a row: consecutive sequence numbers from 0, monotonic device
    /// timestamps spaced at the granted rate, each stamped before it was dequeued.
    func capture(frames wanted: Int = 50) throws -> (Bool, String) {
        let source = try V4L2CameraSource(config: config(.y16))
        let granted = source.grantedFormat.fps ?? 0
        let sink = CollectingSink()
        let runner = SourceRunner(source, into: sink)
        let got = SourceRunner.wait(timeoutMs: 60_000) { sink.frameCount >= wanted || runner.finished }
        guard runner.stop(source) else { return (false, "run(into:) did not return within 5 s of stop()") }
        if let e = runner.error { return (false, "run failed: \(e)") }
        let frames = sink.frames
        guard got, frames.count >= wanted else { return (false, "only \(frames.count) of \(wanted) frames in 60 s") }
        var problems: [String] = []
        let gaps = sink.gaps
        if !gaps.isEmpty { problems.append("\(gaps.count) gap(s): \(gaps.map { "\($0.kind.rawValue) \($0.lostCount): \($0.detail)" }.joined(separator: "; "))") }
        if frames[0].sequence != 0 { problems.append("first sequence \(frames[0].sequence), expected 0") }
        var intervals: [Int64] = []
        var lags: [Int64] = []
        for (i, f) in frames.enumerated() {
            lags.append(f.arrivalNs - f.deviceNs)
            guard i > 0 else { continue }
            let p = frames[i - 1]
            if f.sequence != p.sequence + 1 { problems.append("sequence \(p.sequence) -> \(f.sequence)") }
            if f.deviceNs <= p.deviceNs { problems.append("timestamp not increasing at sequence \(f.sequence)") }
            intervals.append(f.deviceNs - p.deviceNs)
        }
        if let bad = lags.first(where: { $0 < 0 }) {
            problems.append("a device timestamp is \(ms(-bad)) ms after the frame was dequeued (not CLOCK_MONOTONIC?)")
        }
        let meanInterval = Double(intervals.reduce(0, +)) / Double(max(1, intervals.count))
        let measuredFps = 1e9 / meanInterval
        if granted > 0, abs(measuredFps - granted) > 0.05 * granted {
            problems.append("measured \(String(format: "%.2f", measuredFps)) fps from timestamps, granted \(granted)")
        }
        if frames.allSatisfy({ $0.minPixel == $0.maxPixel }) { problems.append("every frame is flat (no test pattern)") }
        let sortedLags = lags.sorted()
        let detail = "frames=\(frames.count) sequence=\(frames.first!.sequence)..\(frames.last!.sequence) gaps=\(gaps.count) "
            + "granted_fps=\(granted) measured_fps=\(String(format: "%.3f", measuredFps)) "
            + "interval_ms min/mean/max=\(ms(intervals.min() ?? 0))/\(ms(meanInterval))/\(ms(intervals.max() ?? 0)) "
            + "dequeue_lag_ms median/max=\(ms(sortedLags[sortedLags.count / 2]))/\(ms(sortedLags.last!)) "
            + "pixels=\(frames[0].minPixel)..\(frames[0].maxPixel)"
        return (problems.isEmpty, problems.isEmpty ? detail : problems.prefix(5).joined(separator: "; ") + " :: " + detail)
    }

    /// The reader stalls (inside emit, on the device thread) far longer than the
    /// ring of buffers covers: the kernel keeps counting sequence numbers, so the
    /// driver must report one `.frameDrop` gap whose size matches the time that
    /// passed between the frames around it.
    func forcedDrop(stallMs: Int = 1000, atFrame: Int = 10) throws -> (Bool, String) {
        let buffers = 4
        let source = try V4L2CameraSource(config: config(.y16, buffers: buffers))
        let granted = source.grantedFormat.fps ?? 0
        let sink = CollectingSink { frames, _ in
            if frames == atFrame { sleepMs(stallMs) }
        }
        let runner = SourceRunner(source, into: sink)
        let got = SourceRunner.wait(timeoutMs: 60_000) { sink.frameCount >= atFrame + 25 || runner.finished }
        guard runner.stop(source) else { return (false, "run(into:) did not return within 5 s of stop()") }
        if let e = runner.error { return (false, "run failed: \(e)") }
        guard got, granted > 0 else { return (false, "only \(sink.frameCount) frames; granted fps \(granted)") }
        let entries = sink.all
        let gaps = sink.gaps
        let period = 1e9 / granted
        let expectedLoss = Double(stallMs) * 1e6 / period - Double(buffers - 1)
        var problems: [String] = []
        if gaps.contains(where: { $0.kind != .frameDrop }) {
            problems.append("gaps other than frame_drop: \(gaps.map { "\($0.kind.rawValue)(\($0.lostCount))" })")
        }
        // Every drop, with the frames on either side of it in arrival order: the lost
        // count must match both the sequence numbers and the device timestamps.
        struct Drop { var gap: GapEvent; var before: CollectingSink.Frame; var after: CollectingSink.Frame; var framesBefore: Int }
        var drops: [Drop] = []
        var framesSeen = 0
        var lastFrame: CollectingSink.Frame? = nil
        var pending: GapEvent? = nil
        for e in entries {
            switch e {
            case .frame(let f):
                if let g = pending, let b = lastFrame { drops.append(Drop(gap: g, before: b, after: f, framesBefore: framesSeen)) }
                pending = nil
                lastFrame = f
                framesSeen += 1
            case .gap(let g) where g.kind == .frameDrop: pending = g
            default: break
            }
        }
        for d in drops {
            let span = Double(d.after.deviceNs - d.before.deviceNs) / period - 1
            if d.after.sequence != d.before.sequence + d.gap.lostCount + 1 {
                problems.append("sequence \(d.before.sequence) -> \(d.after.sequence) does not match lost \(d.gap.lostCount)")
            }
            if abs(Double(d.gap.lostCount) - span) > 0.5 {
                problems.append("lost \(d.gap.lostCount) but the timestamps span \(String(format: "%.2f", span)) missing periods")
            }
            if d.gap.endHostNs != d.after.deviceNs || d.gap.startHostNs != d.before.deviceNs {
                problems.append("gap bounds are not the device timestamps of the frames around it")
            }
        }
        // The stall's drop: the first one after the stalled frame was handed over.
        guard let stall = drops.first(where: { $0.framesBefore >= atFrame }) else {
            return (false, "no frame_drop gap after the \(stallMs) ms stall; gaps: \(gaps.map { "\($0.kind.rawValue)(\($0.lostCount))" })")
        }
        if Double(stall.gap.lostCount) < expectedLoss - 3 {
            problems.append("lost \(stall.gap.lostCount), the stall predicts at least about \(String(format: "%.1f", expectedLoss))")
        }
        let spanNs = stall.after.deviceNs - stall.before.deviceNs
        let others = drops.filter { $0.framesBefore != stall.framesBefore }.map(\.gap.lostCount)
        let detail = "stall_ms=\(stallMs) buffers=\(buffers) granted_fps=\(granted) gap=frame_drop lost=\(stall.gap.lostCount) "
            + "sequence \(stall.before.sequence)->\(stall.after.sequence) timestamp_span_ms=\(ms(spanNs)) "
            + "missing_periods_by_timestamps=\(String(format: "%.2f", Double(spanNs) / period - 1)) expected_by_stall=\(String(format: "%.1f", expectedLoss)) "
            + "other_drops=\(others) frames=\(framesSeen) detail=\"\(stall.gap.detail)\""
        return (problems.isEmpty, problems.isEmpty ? detail : problems.prefix(5).joined(separator: "; ") + " :: " + detail)
    }

    /// What the device does not offer is refused before streaming, with a message that says what it offers.
    func unsupported() throws -> (Bool, String) {
        var results: [String] = []
        var ok = true
        func expectRefusal(_ c: V4L2CameraConfig, mustContain: [String]) {
            do {
                _ = try V4L2CameraSource(config: c)
                ok = false
                results.append("\(c.pixelFormat) \(c.width)x\(c.height) was accepted")
            } catch {
                let text = error.description
                let missing = mustContain.filter { !text.contains($0) }
                if error.code != .unsupportedFormat || !missing.isEmpty {
                    ok = false
                    results.append("wrong refusal (code \(error.code), missing \(missing)): \(text)")
                } else {
                    results.append("refused \(c.pixelFormat) \(c.width)x\(c.height): \"\(oneLine(text, limit: 200))\"")
                }
            }
        }
        expectRefusal(config(.y16, width: 641, height: 481), mustContain: ["does not offer Y16 641x481", "640x480"])
        // A trw format the camera lacks, when there is one.
        let offered = Set(V4L2CameraSource.listCameras().first { $0.device == device }?.formats.compactMap(\.pixelFormat) ?? [])
        if let absent = V4L2PixelFormat.allCases.first(where: { !offered.contains($0) }) {
            expectRefusal(config(absent), mustContain: ["does not offer \(absent)", "it offers"])
        } else {
            results.append("(vivid offers every trw pixel format: \(offered.map(\.rawValue).sorted().joined(separator: ",")))")
        }
        return (ok, results.joined(separator: "; "))
    }
}
