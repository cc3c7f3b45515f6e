import CV4L2
import Foundation
import TRWCore
import TRWV4L2

#if canImport(Glibc)
import Glibc
#endif

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

    /// N frames in a row: consecutive sequence numbers from the driver, monotonic
    /// device timestamps, the granted rate seen in the timestamps. On a loaded
    /// host the guest may starve and the kernel drop frames; each such drop must
    /// be a recorded gap consistent with the timestamps, and the check waits (up
    /// to 40 s) for a run of N frames without one.
    func capture(frames wanted: Int = 50, buffers: Int = 16) throws -> (Bool, String) {
        let source = try V4L2CameraSource(config: config(.y16, buffers: buffers))
        let granted = source.grantedFormat.fps ?? 0
        let sink = CollectingSink()
        let runner = SourceRunner(source, into: sink)
        func longestRun() -> Int {
            var best = 0, cur = 0
            var prev: Int64? = nil
            for e in sink.all {
                switch e {
                case .frame(let f):
                    cur = (prev.map { f.sequence == $0 + 1 } ?? true) ? cur + 1 : 1
                    prev = f.sequence
                    best = max(best, cur)
                case .gap: cur = 0; prev = nil
                default: break
                }
            }
            return best
        }
        let got = SourceRunner.wait(timeoutMs: 40_000) { (sink.frameCount >= wanted && longestRun() >= wanted) || runner.finished }
        guard runner.stop(source) else { return (false, "run(into:) did not return within 5 s of stop()") }
        if let e = runner.error { return (false, "run failed: \(e)") }
        let frames = sink.frames
        let gaps = sink.gaps
        let run = longestRun()
        guard frames.count >= 2, granted > 0 else { return (false, "\(frames.count) frames; granted fps \(granted)") }
        let period = 1e9 / granted
        var problems: [String] = []
        if !got { problems.append("no run of \(wanted) frames without a drop in 40 s (longest \(run))") }
        if gaps.contains(where: { $0.kind != .frameDrop }) {
            problems.append("gaps other than frame_drop: \(gaps.map { "\($0.kind.rawValue)(\($0.lostCount))" })")
        }
        var lags: [Int64] = []
        var worstSpanError = 0.0
        for (i, f) in frames.enumerated() {
            lags.append(f.arrivalNs - f.deviceNs)
            guard i > 0 else { continue }
            let p = frames[i - 1]
            if f.sequence <= p.sequence { problems.append("sequence \(p.sequence) -> \(f.sequence)") }
            if f.deviceNs <= p.deviceNs { problems.append("timestamp not increasing at sequence \(f.sequence)") }
            // The sequence step must match the time step (vivid stamps each frame when its
            // tick runs: a late tick shifts one stamp, so up to 1.5 periods is tolerated).
            let err = Double(f.deviceNs - p.deviceNs) / period - Double(f.sequence - p.sequence)
            worstSpanError = max(worstSpanError, abs(err))
        }
        if worstSpanError > 1.5 { problems.append("a sequence step disagrees with its timestamps by \(String(format: "%.2f", worstSpanError)) periods") }
        let lost = gaps.filter { $0.kind == .frameDrop }.reduce(Int64(0)) { $0 + $1.lostCount }
        let seqSpan = frames.last!.sequence - frames.first!.sequence
        if lost + Int64(frames.count) - 1 != seqSpan {
            problems.append("\(frames.count) frames + \(lost) lost do not cover sequences \(frames.first!.sequence)...\(frames.last!.sequence)")
        }
        let measuredFps = Double(seqSpan) * 1e9 / Double(frames.last!.deviceNs - frames.first!.deviceNs)
        if abs(measuredFps - granted) > 0.05 * granted {
            problems.append("timestamps say \(String(format: "%.2f", measuredFps)) fps, granted \(granted)")
        }
        let sortedLags = lags.sorted()
        let medianLag = sortedLags[sortedLags.count / 2]
        // CLOCK_MONOTONIC: the stamps are within a second of the dequeue time (REALTIME is decades off).
        if abs(medianLag) > 1_000_000_000 { problems.append("median dequeue - timestamp \(ms(medianLag)) ms: not CLOCK_MONOTONIC") }
        if frames.allSatisfy({ $0.minPixel == $0.maxPixel }) { problems.append("every frame is flat (no test pattern)") }
        let detail = "frames=\(frames.count) buffers=\(buffers) longest_consecutive=\(run) first_sequence=\(frames.first!.sequence) "
            + "drops=\(gaps.count) lost=\(lost) granted_fps=\(granted) fps_from_timestamps=\(String(format: "%.3f", measuredFps)) "
            + "worst_step_error_periods=\(String(format: "%.2f", worstSpanError)) "
            + "dequeue_minus_timestamp_ms min/median/max=\(ms(sortedLags.first!))/\(ms(medianLag))/\(ms(sortedLags.last!)) "
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
            if abs(Double(d.gap.lostCount) - span) > 1.5 {
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

    /// vivid's "Disconnect" button unregisters the video node as a USB unplug does
    /// (open descriptors get ENODEV); when its last user closes, vivid registers it
    /// again, as a replug. The running source must record one `.deviceLoss` gap
    /// with an end, reopen, and go on with the recorded sequence continuing.
    func replug(reopenAttempts: Int = 3) throws -> (Bool, String) {
        var c = config(.y16, buffers: 4)
        c.reopenAttempts = reopenAttempts
        c.reopenIntervalMs = 200
        let source = try V4L2CameraSource(config: c)
        let sink = CollectingSink()
        let runner = SourceRunner(source, into: sink)
        guard SourceRunner.wait(timeoutMs: 30_000, { sink.frameCount >= 20 || runner.finished }), !runner.finished else {
            _ = runner.stop(source)
            return (false, "only \(sink.frameCount) frames before the unplug; run error: \(runner.error ?? "none")")
        }
        let pressed = nowNs()
        try pressDisconnect()
        let resumed = SourceRunner.wait(timeoutMs: 30_000) {
            runner.finished || (sink.gaps.contains { $0.kind == .deviceLoss } && sink.frameCount >= 45)
        }
        let stopped = runner.stop(source)
        var problems: [String] = []
        if !resumed { problems.append("no 25 frames after the unplug within 30 s (finished: \(runner.finished))") }
        if !stopped { problems.append("run(into:) did not return within 5 s of stop()") }
        if let e = runner.error { problems.append("run threw: \(e)") }
        let entries = sink.all
        let gaps = sink.gaps
        guard gaps.count == 1, let loss = gaps.first, loss.kind == .deviceLoss,
              let gi = entries.firstIndex(where: { if case .gap = $0 { true } else { false } }) else {
            return (false, "expected one device_loss gap, got \(gaps.map { "\($0.kind.rawValue): \($0.detail)" })")
        }
        let before = entries[..<gi].compactMap { if case .frame(let f) = $0 { f } else { nil } }
        let after = entries[(gi + 1)...].compactMap { if case .frame(let f) = $0 { f } else { nil } }
        if loss.endHostNs == nil { problems.append("the loss has no end although the camera came back") }
        if !loss.detail.contains("reopened after") { problems.append("detail: \(loss.detail)") }
        for part in [before, after] {
            for (a, b) in zip(part, part.dropFirst()) where b.sequence != a.sequence + 1 || b.deviceNs <= a.deviceNs {
                problems.append("sequence \(a.sequence) -> \(b.sequence) (timestamps \(a.deviceNs) -> \(b.deviceNs))")
            }
        }
        if let b = before.last, let a = after.first {
            if a.sequence != b.sequence + 1 { problems.append("recorded sequence does not continue: \(b.sequence) -> \(a.sequence)") }
            if a.deviceNs <= b.deviceNs { problems.append("timestamps go back across the replug") }
            if let end = loss.endHostNs, !(loss.startHostNs <= end && end <= a.arrivalNs) {
                problems.append("gap \(loss.startHostNs)...\(end) does not end before the first frame after it (\(a.arrivalNs))")
            }
        } else {
            problems.append("\(before.count) frames before and \(after.count) after the unplug")
        }
        let outageMs = (loss.endHostNs ?? loss.startHostNs) - loss.startHostNs
        let detail = "frames_before=\(before.count) frames_after=\(after.count) "
            + "sequence \(before.last.map { String($0.sequence) } ?? "-")->\(after.first.map { String($0.sequence) } ?? "-") "
            + "gap=device_loss outage_ms=\(ms(outageMs)) pressed_to_gap_ms=\(ms(loss.startHostNs - pressed)) "
            + "loss_detail=\"\(loss.detail)\" warnings=\"\(source.warnings.suffix(2).joined(separator: "; "))\""
        return (problems.isEmpty, problems.isEmpty ? detail : problems.prefix(5).joined(separator: "; ") + " :: " + detail)
    }

    /// Finds vivid's "Disconnect" button control (VIDIOC_QUERYCTRL walk) and presses it (VIDIOC_S_CTRL).
    func pressDisconnect() throws {
        let fd = open(device, O_RDWR)
        guard fd >= 0 else { throw CheckError("open \(device): errno \(errno)") }
        defer { close(fd) }
        var q = v4l2_queryctrl()
        q.id = UInt32(V4L2_CTRL_FLAG_NEXT_CTRL)
        var found: UInt32? = nil
        while trw_v4l2_ioctl(fd, trw_VIDIOC_QUERYCTRL, &q) == 0 {
            let name = withUnsafeBytes(of: q.name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name == "Disconnect" { found = q.id; break }
            q.id |= UInt32(V4L2_CTRL_FLAG_NEXT_CTRL)
        }
        guard let id = found else { throw CheckError("\(device) has no \"Disconnect\" control (not vivid?)") }
        var ctrl = v4l2_control(id: id, value: 0)
        guard trw_v4l2_ioctl(fd, trw_VIDIOC_S_CTRL, &ctrl) == 0 else { throw CheckError("VIDIOC_S_CTRL Disconnect: errno \(errno)") }
    }
}
