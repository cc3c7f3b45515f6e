import Foundation
import TRWALSA
import TRWAcoustics
import TRWCore
import TRWSync

/// The known signal played into snd-aloop: channel 0 is an AE burst train
/// (TRWAcoustics), channel 1 the frame number plus one, so every frame is
/// recognisable, the leading silence ends exactly at frame 0 of the signal,
/// and frames lost in an xrun can be counted from the data itself.
func knownSignal(frames: Int, rate: Int) -> [Int32] {
    // Four 0.1 s periods, one burst each (rendered once: this runs as a debug build
    // under TCG), repeated: a 0.4 s pattern of bursts at 60/68/76/84 dB_AE.
    let period = rate / 10
    var pattern: [Int32] = []
    for k in 0..<4 {
        let burst = AEBurst(startS: 0.02, peakDbAE: 60 + Double(k) * 8, riseS: 40e-6, decayS: 400e-6,
                            carrierHz: 55_000 + Double(k % 3) * 10_000)
        pattern += AESignal.render(frames: period, channels: 1, sampleRate: Double(rate), format: .s32le,
                                   settings: AEDetectorSettings(), bursts: [[burst]])
    }
    var out = [Int32](repeating: 0, count: frames * 2)
    out.withUnsafeMutableBufferPointer { o in
        pattern.withUnsafeBufferPointer { p in
            for i in 0..<frames {
                o[2 * i] = p[i % p.count]
                o[2 * i + 1] = Int32(i + 1)
            }
        }
    }
    return out
}

/// Checks of TRWALSA against snd-aloop (playback side -> capture side) and of
/// TRWSync's clock fit against the kernel's htstamps.
struct ALSAChecks {
    let capture: String
    let playback: String
    let outDir: String
    let rate = 192_000
    let channels = 2

    var captureConfig: ALSACaptureConfig {
        ALSACaptureConfig(streamKey: "ae0", device: capture, rateHz: rate, channels: channels, format: .s32le,
                          periodTimeUs: 5_000, periods: 64, periodsPerChunk: 4, stallTimeoutMs: 5_000)
    }

    /// What one capture delivered; the source itself is released (its PCM closed)
    /// when `record` returns, so the next run gets the same loopback subdevice.
    struct Run {
        var granted: ALSAGrantedParameters
        var sink: CollectingSink
        var player: ALSAPlayer.Outcome
        var runError: String?
    }

    /// Starts the capture, waits for its first chunk (so it records leading
    /// silence), plays `signal` into the playback side, and stops the capture
    /// `tailMs` after the player drained.
    func record(_ name: String, signal: [Int32], stallAtChunk: Int? = nil, stallMs: Int = 0, tailMs: Int = 200) throws -> Run {
        let source = try ALSACaptureSource(config: captureConfig)
        let sink = CollectingSink { _, chunks in
            if let s = stallAtChunk, chunks == s { sleepMs(stallMs) }
        }
        let runner = SourceRunner(source, into: sink)
        guard SourceRunner.wait(timeoutMs: 10_000, { sink.chunkCount >= 3 || runner.finished }) else {
            _ = runner.stop(source)
            throw CheckError("capture on \(capture) delivered nothing in 10 s (error: \(runner.error ?? "none"))")
        }
        // 0.1 s of silence after the signal: snd-aloop does not pass the last
        // jiffy (768 frames at HZ=250) of a playback that drains and stops.
        let player = ALSAPlayer(device: playback, rate: rate, channels: channels,
                                signal: signal + [Int32](repeating: 0, count: rate / 10 * channels))
        let seconds = Double(signal.count / channels) / Double(rate)
        let finished = player.waitFinished(timeoutMs: Int(seconds * 1000) * 3 + 10_000)
        sleepMs(tailMs)
        guard runner.stop(source) else { throw CheckError("capture run(into:) did not return within 5 s of stop()") }
        guard finished else { throw CheckError("playback on \(playback) did not finish: \(player.outcome)") }
        let csv = "first_sample_index,frames,arrival_ns,pair_index,pair_host_ns,counter_first,counter_last\n" + sink.chunks.map {
            "\($0.firstSampleIndex),\($0.frameCount),\($0.hostArrivalNs),\($0.clockPair?.sampleIndex ?? -1),\($0.clockPair?.hostNs ?? -1),\($0.samples[1]),\($0.samples[$0.samples.count - 1])"
        }.joined(separator: "\n") + "\n" + sink.gaps.map { "# gap \($0.kind.rawValue) lost \($0.lostCount) start \($0.startHostNs) end \($0.endHostNs ?? -1): \($0.detail)" }.joined(separator: "\n") + "\n"
        try? csv.write(toFile: outDir + "/alsa-\(name).csv", atomically: true, encoding: .utf8)
        if let e = player.outcome.error { throw CheckError("playback: \(e) (capture gaps: \(sink.gaps.map { "\($0.kind.rawValue)(\($0.lostCount))" }))") }
        return Run(granted: source.granted, sink: sink, player: player.outcome, runError: runner.error)
    }

    func runAll() {
        var clean: Run? = nil
        var signal: [Int32] = []
        check("alsa.bitexact") {
            let t0 = nowNs()
            signal = knownSignal(frames: rate * 2, rate: rate)
            let renderMs = (nowNs() - t0) / 1_000_000
            let run = try record("bitexact", signal: signal)
            clean = run
            var (ok, detail) = bitExact(run, signal: signal)
            detail += " render_ms=\(renderMs)"
            return (ok, detail)
        }
        check("alsa.clockfit") {
            guard let run = clean else { throw CheckError("no capture (alsa.bitexact failed to record)") }
            return clockFit(run)
        }
        check("alsa.xrun") {
            return try xrun(signal: knownSignal(frames: rate * 4, rate: rate))
        }
    }

    /// Concatenated samples of the chunks, checking they follow each other.
    func contiguous(_ chunks: [AudioChunk]) -> (samples: [Int32], problem: String?) {
        var out: [Int32] = []
        var next: Int64 = 0
        for c in chunks {
            if c.firstSampleIndex != next {
                return (out, "chunk starts at sample \(c.firstSampleIndex), expected \(next)")
            }
            out += c.samples
            next += Int64(c.frameCount)
        }
        return (out, nil)
    }

    func bitExact(_ run: Run, signal: [Int32]) -> (Bool, String) {
        let g = run.granted
        let gaps = run.sink.gaps
        let (captured, problem) = contiguous(run.sink.chunks)
        var problems: [String] = []
        if let e = run.runError { problems.append("run failed: \(e)") }
        if let problem { problems.append(problem) }
        if !gaps.isEmpty { problems.append("gaps: \(gaps.map { "\($0.kind.rawValue)(\($0.lostCount)) \($0.detail)" })") }
        if g.rateHz != rate || g.channels != channels || g.format != .s32le {
            problems.append("granted \(g.rateHz) Hz \(g.channels) ch \(g.format)")
        }
        let frames = captured.count / channels
        let signalFrames = signal.count / channels
        // Leading silence: every frame before the counter channel turns non-zero is zero.
        guard let lead = (0..<frames).first(where: { captured[$0 * channels + 1] != 0 }) else {
            return (false, "the captured \(frames) frames are all silence; player wrote \(run.player.framesWritten)")
        }
        if captured[0..<(lead * channels)].contains(where: { $0 != 0 }) { problems.append("non-zero samples in the leading silence") }
        let available = min(signalFrames, frames - lead)
        var firstMismatch: Int? = nil
        captured.withUnsafeBufferPointer { c in
            signal.withUnsafeBufferPointer { s in
                for i in 0..<(available * channels) where c[lead * channels + i] != s[i] {
                    firstMismatch = i / channels
                    break
                }
            }
        }
        if let m = firstMismatch {
            let at = (lead + m) * channels
            problems.append("frame \(m) of the signal differs: captured (\(captured[at]), \(captured[at + 1])), played (\(signal[m * channels]), \(signal[m * channels + 1]))")
        }
        if available < signalFrames { problems.append("only \(available) of \(signalFrames) signal frames captured") }
        let detail = "device=\(capture)<-\(playback) granted=\(g.rateHz)Hz/\(g.channels)ch/\(g.format.rawValue) "
            + "period=\(g.periodFrames) buffer=\(g.bufferFrames) chunks=\(run.sink.chunks.count) captured_frames=\(frames) "
            + "leading_silence_frames=\(lead) compared_frames=\(available) bytes_compared=\(available * channels * 4) "
            + "mismatches=\(firstMismatch == nil ? 0 : 1) player_underruns=\(run.player.underruns)"
        return (problems.isEmpty, problems.isEmpty ? detail : problems.joined(separator: "; ") + " :: " + detail)
    }

    /// The (sample index, htstamp) pairs the driver read from snd_pcm_status, fitted
    /// by TRWSync's ClockFitter: one segment, residual below 0.05 ms.
    func clockFit(_ run: Run) -> (Bool, String) {
        let pairs = run.sink.chunks.compactMap(\.clockPair).map { ClockPair(device: $0.sampleIndex, host: $0.hostNs) }
        guard pairs.count >= 20 else { return (false, "only \(pairs.count) clock pairs (htstamps missing?)") }
        let fitter = ClockFitter(ClockFitter.Configuration(mode: .automatic, nominalSlope: 1e9 / Double(rate)))
        let model = fitter.fit(pairs)
        guard let s = model.segments.first else { return (false, "no segment fitted") }
        let limitNs = 50_000.0
        let ok = model.segments.count == 1 && s.residualRmsNs < limitNs
        let detail = "pairs=\(pairs.count) segments=\(model.segments.count) method=\(s.method.rawValue) "
            + "residual_rms_ms=\(ms(s.residualRmsNs)) residual_max_ms=\(ms(s.residualMaxAbsNs)) "
            + "limit_ms=\(ms(limitNs)) inliers=\(s.inlierCount)/\(s.pairCount) drift_ppm=\(String(format: "%.1f", s.driftPpm)) "
            + "effective_rate_hz=\(String(format: "%.3f", s.effectiveRateHz))"
        return (ok, detail)
    }

    /// The reader stalls far longer than the ALSA buffer: the kernel overruns,
    /// the driver recovers and records an `.xrun` gap. For every gap, the frames
    /// the driver says were lost are compared with the frames really missing
    /// (read from the counter channel on either side of the sample-index jump).
    func xrun(signal: [Int32], stallMs: Int = 1000) throws -> (Bool, String) {
        let run = try record("xrun", signal: signal, stallAtChunk: 25, stallMs: stallMs)
        let chunks = run.sink.chunks
        let gaps = run.sink.gaps
        var problems: [String] = []
        if let e = run.runError { problems.append("run failed: \(e)") }
        let xruns = gaps.filter { $0.kind == .xrun }
        if xruns.isEmpty || xruns.count != gaps.count {
            problems.append("expected xrun gaps only, got \(gaps.map { "\($0.kind.rawValue)(\($0.lostCount))" })")
        }
        // Every jump in the sample index, with the counter values around it.
        var jumps: [(reported: Int64, inSignal: Int64?)] = []
        for i in chunks.indices.dropFirst() {
            let b = chunks[i - 1], a = chunks[i]
            let jump = a.firstSampleIndex - (b.firstSampleIndex + Int64(b.frameCount))
            guard jump != 0 else { continue }
            let lastBefore = Int64(b.samples[b.samples.count - 1]), firstAfter = Int64(a.samples[1])
            jumps.append((jump, lastBefore > 0 && firstAfter > 0 ? firstAfter - lastBefore - 1 : nil))
        }
        if jumps.map(\.reported) != xruns.map(\.lostCount) {
            problems.append("sample index jumps \(jumps.map(\.reported)) differ from the gaps' lost counts \(xruns.map(\.lostCount))")
        }
        let tolerance = Int64(run.granted.periodFrames)
        var errors: [Int64] = []
        for j in jumps {
            guard let truth = j.inSignal else { continue }
            errors.append(j.reported - truth)
            if abs(j.reported - truth) > tolerance {
                problems.append("gap says \(j.reported) frames lost, the signal shows \(truth) (error \(j.reported - truth), tolerance one period \(tolerance))")
            }
        }
        if errors.isEmpty { problems.append("no gap fell inside the signal") }
        // Outside the gaps the data is intact: each chunk holds consecutive counter values.
        // (Up to the signal's last frame: after a drained playback stops, snd-aloop hands
        // the capture side a few ms of stale ring-buffer content.)
        var broken: [String] = []
        let lastFrame = Int32(signal.count / channels)
        scan: for c in chunks {
            var prev: Int32 = -1
            for i in 0..<c.frameCount {
                let v = c.samples[i * channels + 1]
                if prev > 0 && v > 0 && v != prev + 1 { broken.append("\(prev)->\(v) at sample \(c.firstSampleIndex + Int64(i))") }
                if v == lastFrame { break scan }
                prev = v
            }
        }
        if !broken.isEmpty { problems.append("\(broken.count) discontinuities inside chunks: \(broken.prefix(3))") }
        let detail = "stall_ms=\(stallMs) buffer_frames=\(run.granted.bufferFrames) xruns=\(xruns.count) "
            + "lost_reported=\(jumps.map(\.reported)) lost_in_signal=\(jumps.map { $0.inSignal.map(String.init) ?? "outside" }) "
            + "error_frames=\(errors) error_ms=\(errors.map { String(format: "%.3f", Double($0) * 1000 / Double(rate)) }) "
            + "first_detail=\"\(xruns.first?.detail ?? "-")\""
        return (problems.isEmpty, problems.isEmpty ? detail : problems.joined(separator: "; ") + " :: " + detail)
    }
}
