import CALSA
import Foundation
import Testing
import TRWAcoustics
import TRWCore
import TRWTestSupport
@_spi(Testing) @testable import TRWALSA

#if canImport(Glibc)
import Glibc
#endif

@Suite struct ALSACaptureTests {
    static let settings = AEDetectorSettings(
        thresholdDbAE: 40, hdtS: 200e-6, pdtS: 50e-6, hltS: 1e-3, adcFullScaleV: 1.0, preampGainDb: 40)

    /// Real alsa-lib capture through the `file` plugin: the chunks carry the
    /// input byte for byte, contiguous, with the granted parameters recorded,
    /// and the live detector finds every burst as it does on the whole signal.
    @Test(arguments: [96_000, 192_000, 384_000], [SampleFormat.s16le, .s32le])
    func byteExactCapture(rate: Int, format: SampleFormat) throws {
        for channels in [1, 2] {
            let fs = Double(rate)
            let frames = rate / 20  // 50 ms
            let bursts = (0..<channels).map { ch in
                [AEBurst(startS: 10e-3 + 3e-3 * Double(ch), peakDbAE: 72, riseS: 40e-6, decayS: 400e-6, carrierHz: 23_000),
                 AEBurst(startS: 30e-3, peakDbAE: 60 - 4 * Double(ch), riseS: 80e-6, decayS: 900e-6, carrierHz: 41_000)]
            }
            let samples = AESignal.render(frames: frames, channels: channels, sampleRate: fs, format: format,
                                          settings: Self.settings, bursts: bursts, noiseV: 4e-6, seed: UInt64(rate + channels))
            let raw = rawBytes(samples, format: format)
            let pcm = try FilePCM(raw: raw, label: "alsa-exact")
            defer { pcm.remove() }
            let source = try pcm.source(ALSACaptureConfig(
                device: pcm.pcmName, rateHz: rate, channels: channels, format: format,
                frameLimit: Int64(frames), detector: Self.settings))
            let sink = CollectingSink()
            try source.run(into: sink)

            let chunks = sink.chunks
            #expect(sink.gaps.isEmpty)
            #expect(chunks.reduce(0) { $0 + $1.frameCount } == frames)
            var next: Int64 = 0
            for c in chunks {
                #expect(c.firstSampleIndex == next && c.channels == channels && c.format == format)
                next += Int64(c.frameCount)
                // The pair names the sample at the ADC at htstamp: the end of the chunk plus the
                // delay, which the null slave reports as 0.
                #expect(c.clockPair?.sampleIndex == next, "every chunk carries a (sample index, htstamp) pair")
            }
            let captured = rawBytes(chunks.flatMap(\.samples), format: format)
            let differing = zip(captured, raw).reduce(0) { $0 + ($1.0 == $1.1 ? 0 : 1) }
            #expect(captured.count == raw.count && differing == 0,
                    "\(rate) Hz \(format) x\(channels): \(differing) bytes differ, \(captured.count) of \(raw.count) captured")

            let d = try #require(source.streams.first)
            #expect(d.kind == .ae && d.channels == channels && d.sampleFormat == format && d.nominalRateHz == fs)
            #expect(d.properties[ALSAStreamProperty.askedRate] == String(rate))
            #expect(d.properties[ALSAStreamProperty.grantedRate] == String(rate))
            let period = Int(d.properties[ALSAStreamProperty.periodFrames] ?? "") ?? 0
            let buffer = Int(d.properties[ALSAStreamProperty.bufferFrames] ?? "") ?? 0
            #expect(period == source.granted.periodFrames && buffer == source.granted.bufferFrames)
            #expect(period > 0 && buffer >= 4 * period, "period \(period), buffer \(buffer)")
            #expect(try AEDetectorSettings(stream: d) == Self.settings, "the detector settings travel on the stream")
            #expect(ALSAStreamProperty.detectorSettings == AEDetectorSettings.streamPropertyKey)

            // Live detection over the captured chunks equals detection over the source signal.
            var live = AEHitDetector(stream: d, settings: Self.settings)
            let liveHits = chunks.flatMap { live.process($0) } + live.flush()
            var offline = AEHitDetector(channels: channels, sampleRate: fs, format: format, settings: Self.settings)
            let offlineHits = offline.process(AudioChunk(firstSampleIndex: 0, channels: channels, format: format,
                                                         samples: samples, hostArrivalNs: 0)) + offline.flush()
            #expect(liveHits == offlineHits)
            #expect(liveHits.count == 2 * channels, "two bursts per channel, got \(liveHits.count) hits")
        }
    }

    /// An independent signal: sox makes a 20 kHz burst (linear fade in 4 ms,
    /// out 6 ms, half full scale) padded with 20 ms of silence; capture is
    /// byte-exact and the hit has the features of that envelope.
    @Test func soxBurstCapturedAndDetected() throws {
        let dir = try ExternalTool.temporaryDirectory("alsa-sox")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("burst.raw").path
        try ExternalTool.run("sox", ["-D", "-n", "-r", "192000", "-c", "1", "-b", "32", "-e", "signed-integer", "-L",
                                     "-t", "raw", path, "synth", "0.01", "sine", "20000", "vol", "0.5",
                                     "fade", "t", "0.004", "0.01", "0.006", "pad", "0.02", "0.02"])
        let raw = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        let frames = raw.count / 4
        #expect(frames == 9_600)
        let pcm = try FilePCM(existingRawFile: path, directory: dir)
        let source = try pcm.source(ALSACaptureConfig(
            device: pcm.pcmName, rateHz: 192_000, channels: 1, format: .s32le, periodTimeUs: 10_000, periods: 4,
            periodsPerChunk: 1, frameLimit: Int64(frames)))
        let sink = CollectingSink()
        try source.run(into: sink)
        let chunks = sink.chunks
        #expect(rawBytes(chunks.flatMap(\.samples), format: .s32le) == raw)

        // PDT longer than the 50 µs carrier period, or the peak would freeze on the rising fade.
        var settings = Self.settings
        settings.pdtS = 300e-6
        var det = AEHitDetector(stream: try #require(source.streams.first), settings: settings)
        let hits = chunks.flatMap { det.process($0) } + det.flush()
        #expect(hits.count == 1)
        let h = try #require(hits.first)
        // 0.5 FS = 0.5 V at the ADC, 5 mV at the sensor: 73.98 dB_AE. Sampling a 20 kHz sine at
        // 192 kHz can miss the crest by up to 1 - cos(pi/9.6) = 5.3 %: tolerance 0.5 dB.
        #expect(abs(h.amplitudeDbAE - AEHitDetector.dbAE(volts: 0.005)) < 0.5, "amplitude \(h.amplitudeDbAE)")
        // Threshold (0.01 V ADC) is 2 % of the peak: first crossing 0.08 ms into the fade-in,
        // last 2 % before the end of the 6 ms fade-out; tolerance one 20 kHz period (50 µs).
        let first = Double(h.firstCrossingSampleIndex) / 192_000
        #expect(abs(first - (0.020 + 0.02 * 0.004)) < 50e-6, "first crossing \(first) s")
        // The peak: the envelope stays within that 5.3 % of its top for 0.21 ms before and
        // 0.32 ms after it, so the crest found is anywhere there: tolerance 0.35 ms.
        #expect(abs(h.riseTimeS - 0.004 * 0.98) < 0.35e-3, "rise \(h.riseTimeS) s")
        #expect(abs(h.durationS - (0.010 - 0.02 * 0.004 - 0.02 * 0.006)) < 50e-6, "duration \(h.durationS) s")
        #expect(abs(Double(h.counts) - 20_000 * h.durationS) <= 1, "counts \(h.counts)")
    }

    /// An overrun injected at the read seam: the real snd_pcm_recover runs, the
    /// gap records the frames lost (the full buffer the device had filled),
    /// the sample index skips them, and what follows is the input at that index.
    @Test(arguments: [SampleFormat.s16le, .s32le])
    func injectedXrunIsRecordedAsGap(format: SampleFormat) throws {
        let rate = 192_000, channels = 2
        let frames = 19_200
        let samples = AESignal.render(frames: frames, channels: channels, sampleRate: Double(rate), format: format,
                                      settings: Self.settings, bursts: [[], []], noiseV: 2e-4, seed: 5)
        let raw = rawBytes(samples, format: format)
        let pcm = try FilePCM(raw: raw, label: "alsa-xrun")
        defer { pcm.remove() }
        let limit = Int64(frames / 2)
        let source = try pcm.source(ALSACaptureConfig(
            device: pcm.pcmName, rateHz: rate, channels: channels, format: format, frameLimit: limit))
        let bufferFrames = source.granted.bufferFrames
        let bytesPerFrame = channels * format.bytesPerSample
        let counter = ReadCounter()
        source.readFunction = { handle, buffer, n in
            counter.calls += 1
            if counter.calls == 3 {
                // The application was late: the device filled the buffer, then overran.
                let scratch = UnsafeMutableRawPointer.allocate(byteCount: bufferFrames * bytesPerFrame, alignment: 16)
                defer { scratch.deallocate() }
                let got = snd_pcm_readi(handle, scratch, snd_pcm_uframes_t(bufferFrames))
                precondition(got == bufferFrames, "test setup: swallow read returned \(got)")
                return -Int(EPIPE)
            }
            return alsaReadi(handle, buffer, n)
        }
        let sink = CollectingSink()
        try source.run(into: sink)

        let gaps = sink.gaps
        #expect(gaps.count == 1)
        let gap = try #require(gaps.first)
        #expect(gap.kind == .xrun)
        #expect(gap.lostCount == Int64(bufferFrames), "lost \(gap.lostCount), the buffer held \(bufferFrames)")
        #expect(gap.detail.contains(pcm.pcmName) && gap.detail.contains("snd_pcm_recover"))

        // Index continuity across the gap, and the data after it is the input at that index.
        let events = sink.all
        let gapPos = try #require(events.firstIndex { if case .gap = $0 { true } else { false } })
        let before = events[..<gapPos].compactMap { if case let .audio(c) = $0 { c } else { nil } }
        let after = events[(gapPos + 1)...].compactMap { if case let .audio(c) = $0 { c } else { nil } }
        let endBefore = before.last.map { $0.firstSampleIndex + Int64($0.frameCount) } ?? 0
        let firstAfter = try #require(after.first)
        #expect(firstAfter.firstSampleIndex == endBefore + gap.lostCount)
        #expect(before.reduce(0) { $0 + $1.frameCount } + after.reduce(0) { $0 + $1.frameCount } == Int(limit))
        for c in before + after {
            let start = Int(c.firstSampleIndex) * channels
            #expect(c.samples == Array(samples[start..<(start + c.samples.count)]),
                    "chunk at \(c.firstSampleIndex) is not the input at that index")
        }
    }

    /// A suspend (-ESTRPIPE) is recovered with snd_pcm_recover and recorded as
    /// a device-error gap; capture goes on to the frame limit.
    @Test func injectedSuspendIsRecoveredAndRecorded() throws {
        let rate = 96_000
        let samples = AESignal.render(frames: 9_600, channels: 1, sampleRate: Double(rate), format: .s16le,
                                      settings: Self.settings, bursts: [[]], noiseV: 2e-4, seed: 9)
        let pcm = try FilePCM(raw: rawBytes(samples, format: .s16le), label: "alsa-suspend")
        defer { pcm.remove() }
        let source = try pcm.source(ALSACaptureConfig(
            device: pcm.pcmName, rateHz: rate, channels: 1, format: .s16le, frameLimit: 4_000))
        let counter = ReadCounter()
        source.readFunction = { handle, buffer, n in
            counter.calls += 1
            return counter.calls == 2 ? -Int(ESTRPIPE) : alsaReadi(handle, buffer, n)
        }
        let sink = CollectingSink()
        try source.run(into: sink)
        #expect(sink.gaps.map(\.kind) == [.deviceError])
        #expect(sink.gaps.first?.detail.contains("ESTRPIPE") == true)
        #expect(sink.chunks.reduce(0) { $0 + $1.frameCount } == 4_000)
        // The null slave resumes (nothing discarded, nothing lost): indices stay on the input.
        #expect(sink.gaps.first?.lostCount == 0)
        for c in sink.chunks {
            let start = Int(c.firstSampleIndex)
            #expect(c.samples == Array(samples[start..<(start + c.samples.count)]))
        }
    }

    /// Device loss (-ENODEV): the stream ends with a device-loss gap and `run`
    /// returns without throwing, so the recorder's other sources go on.
    @Test(arguments: [ENODEV, EIO])
    func deviceLossEndsTheStream(errno code: Int32) throws {
        let samples = AESignal.render(frames: 9_600, channels: 2, sampleRate: 96_000, format: .s32le,
                                      settings: Self.settings, bursts: [[], []], noiseV: 2e-4, seed: 2)
        let pcm = try FilePCM(raw: rawBytes(samples, format: .s32le), label: "alsa-nodev")
        defer { pcm.remove() }
        let source = try pcm.source(ALSACaptureConfig(device: pcm.pcmName, rateHz: 96_000, channels: 2, format: .s32le))
        let counter = ReadCounter()
        source.readFunction = { handle, buffer, n in
            counter.calls += 1
            return counter.calls == 3 ? -Int(code) : alsaReadi(handle, buffer, n)
        }
        let sink = CollectingSink()
        try source.run(into: sink)  // no frame limit: only the device loss ends it
        #expect(sink.gaps.map(\.kind) == [.deviceLoss])
        #expect(sink.gaps.first?.detail.contains("snd_pcm_readi failed") == true)
        #expect(sink.chunks.count == 2)
        if case .gap = sink.all.last {} else { Issue.record("the gap must be the stream's last event") }
    }

    /// A read error that is neither a fault to recover nor a device loss ends
    /// `run` with a thrown error naming the call and the device.
    @Test func otherReadErrorsAreThrown() throws {
        let pcm = try FilePCM(raw: [UInt8](repeating: 1, count: 4_000), label: "alsa-badfd")
        defer { pcm.remove() }
        let source = try pcm.source(ALSACaptureConfig(device: pcm.pcmName, rateHz: 96_000, channels: 1, format: .s16le))
        source.readFunction = { _, _, _ in -Int(EBADFD) }
        #expect(throws: ALSAError.call(function: "snd_pcm_readi", device: pcm.pcmName, code: -EBADFD,
                                       message: ALSAError.text(-EBADFD))) {
            try source.run(into: CollectingSink())
        }
    }

    /// A rate the device lacks is refused with what it offers.
    @Test func refusesRateTheDeviceLacks() throws {
        let pcm = try FilePCM(raw: [0, 0, 0, 0], label: "alsa-refuse")
        defer { pcm.remove() }
        do {
            _ = try pcm.source(ALSACaptureConfig(device: "trw_test_96k_only", rateHz: 192_000, channels: 2, format: .s16le))
            Issue.record("192 kHz on a 96 kHz-only PCM must be refused")
        } catch let error as ALSAError {
            guard case let .unsupported(device, asked, caps) = error else {
                Issue.record("expected .unsupported, got \(error)")
                return
            }
            #expect(device == "trw_test_96k_only" && asked.contains("192000 Hz"))
            #expect(caps.minRateHz == 96_000 && caps.maxRateHz == 96_000)
            #expect(caps.formats.contains(.s16le))
            #expect(error.description.contains("offers rates 96000–96000 Hz"), "\(error)")
        }
        // ... and 96 kHz is accepted there.
        let ok = try pcm.source(ALSACaptureConfig(device: "trw_test_96k_only", rateHz: 96_000, channels: 2, format: .s16le))
        #expect(ok.granted.rateHz == 96_000)
    }

    @Test func unknownDeviceNamesTheDevice() throws {
        let pcm = try FilePCM(raw: [0, 0], label: "alsa-unknown")
        defer { pcm.remove() }
        #expect {
            _ = try pcm.source(ALSACaptureConfig(device: "no_such_pcm", rateHz: 96_000, channels: 1, format: .s16le))
        } throws: { error in
            guard let e = error as? ALSAError, case let .call(function, device, code, _) = e else { return false }
            return function == "snd_pcm_open_lconf" && device == "no_such_pcm" && code < 0
        }
    }

    @Test(arguments: [
        (500_000, 1, "rateHz 500000 is outside 44100–384000"),
        (22_050, 1, "rateHz 22050 is outside 44100–384000"),
        (96_000, 9, "channels 9 is outside 1–8"),
        (96_000, 0, "channels 0 is outside 1–8"),
    ])
    func validationNamesTheField(rate: Int, channels: Int, message: String) {
        let config = ALSACaptureConfig(device: "hw:1,0", rateHz: rate, channels: channels, format: .s32le)
        #expect(throws: ALSAError.invalidConfiguration(device: "hw:1,0", reason: message)) { try config.validate() }
    }

    @Test func rigConfigDecodesWithDefaults() throws {
        let json = #"{"device":"hw:2,0","rateHz":192000,"channels":2,"format":"S32_LE","detector":{"thresholdDbAE":45,"hdtS":0.0002,"pdtS":5e-05,"hltS":0.001,"adcFullScaleV":2,"preampGainDb":34}}"#
        let c = try JSONDecoder().decode(ALSACaptureConfig.self, from: Data(json.utf8))
        #expect(c == ALSACaptureConfig(
            device: "hw:2,0", rateHz: 192_000, channels: 2, format: .s32le,
            detector: AEDetectorSettings(thresholdDbAE: 45, hdtS: 2e-4, pdtS: 5e-5, hltS: 1e-3, adcFullScaleV: 2, preampGainDb: 34)))
        #expect(c.periodTimeUs == 5_000 && c.periods == 8 && c.frameLimit == nil && c.streamKey == "ae0")
        let back = try JSONDecoder().decode(ALSACaptureConfig.self, from: JSONEncoder().encode(c))
        #expect(back == c)
    }

    /// Probing reads the configuration space of a PCM (what `trw devices` prints per device).
    @Test func probeReportsRanges() throws {
        let pcm = try FilePCM(raw: [0, 0], label: "alsa-probe")
        defer { pcm.remove() }
        let caps = try ALSACaptureSource.probe("trw_test_96k_only", configTree: ConfigTree(overlayFile: pcm.configPath))
        #expect(caps.minRateHz == 96_000 && caps.maxRateHz == 96_000)
        #expect(Set(caps.formats).isSuperset(of: [.s16le, .s32le]))
    }

    /// On a machine with a real capture device: TRW_TEST_ALSA_DEVICE=hw:1,0
    /// (optionally TRW_TEST_ALSA_RATE, _CHANNELS, _FORMAT) captures 0.5 s.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["TRW_TEST_ALSA_DEVICE"] != nil))
    func hardwareCapture() throws {
        let env = ProcessInfo.processInfo.environment
        let device = try #require(env["TRW_TEST_ALSA_DEVICE"])
        let rate = Int(env["TRW_TEST_ALSA_RATE"] ?? "") ?? 96_000
        let channels = Int(env["TRW_TEST_ALSA_CHANNELS"] ?? "") ?? 2
        let format = SampleFormat(rawValue: env["TRW_TEST_ALSA_FORMAT"] ?? "") ?? .s32le
        let listed = ALSACaptureSource.listCaptureDevices()
        #expect(!listed.isEmpty, "a machine with \(device) lists at least one capture device")
        let source = try ALSACaptureSource(config: ALSACaptureConfig(
            device: device, rateHz: rate, channels: channels, format: format, frameLimit: Int64(rate / 2)))
        let sink = CollectingSink()
        try source.run(into: sink)
        let chunks = sink.chunks
        #expect(chunks.reduce(0) { $0 + $1.frameCount } + Int(sink.gaps.reduce(0) { $0 + $1.lostCount }) >= rate / 2)
        let pairs = chunks.compactMap(\.clockPair)
        #expect(pairs.count == chunks.count, "a real device gives htstamps")
        for (a, b) in zip(pairs, pairs.dropFirst()) {
            #expect(b.sampleIndex > a.sampleIndex && b.hostNs > a.hostNs)
        }
    }
}

/// Stops the source after `after` chunks, from inside `emit` (the capture thread).
final class StoppingSink: SampleSink, @unchecked Sendable {
    // @unchecked: called only on the capture thread; read after `run` returns.
    let inner = CollectingSink()
    weak var source: ALSACaptureSource?
    let after: Int
    init(after: Int) { self.after = after }
    func emit(_ event: SourceEvent, stream: String, mode: EmitMode) -> Bool {
        _ = inner.emit(event, stream: stream, mode: mode)
        if inner.chunks.count == after { source?.stop() }
        return true
    }
}

@Suite struct ALSASourceLifecycleTests {
    /// A device that stops delivering: after `stallTimeoutMs` of empty waits a
    /// `.timeout` gap is recorded once, and `stop()` still ends `run`.
    @Test func stalledDeviceIsRecordedAndStoppable() throws {
        let samples = AESignal.render(frames: 9_600, channels: 1, sampleRate: 96_000, format: .s16le,
                                      settings: AEDetectorSettings(), bursts: [[]], noiseV: 1e-4, seed: 6)
        let pcm = try FilePCM(raw: rawBytes(samples, format: .s16le), label: "alsa-stall")
        defer { pcm.remove() }
        let source = try pcm.source(ALSACaptureConfig(device: pcm.pcmName, rateHz: 96_000, channels: 1, format: .s16le,
                                                      stallTimeoutMs: 500))
        let counter = ReadCounter()
        source.waitFunction = { handle, timeout in
            counter.calls += 1
            // Two chunks, then nothing (without sleeping: the wait "times out" at once).
            return counter.calls <= 2 ? alsaWait(handle, timeout) : 0
        }
        let sink = StopOnGapSink()
        sink.source = source
        try source.run(into: sink)
        #expect(sink.inner.chunks.count == 2)
        #expect(sink.inner.gaps.map(\.kind) == [.timeout])
        #expect(sink.inner.gaps.first?.detail.contains("no data for 500 ms") == true)
        // 2 reads, then 5 empty slices of 100 ms reach 500 ms; the sink stops the source there.
        #expect(counter.calls == 2 + 5)
    }

    /// `stop()` ends `run` at the next read; a source runs once.
    @Test func stopEndsRunAndSourceRunsOnce() throws {
        let samples = AESignal.render(frames: 48_000, channels: 1, sampleRate: 96_000, format: .s16le,
                                      settings: AEDetectorSettings(), bursts: [[]], noiseV: 1e-4, seed: 4)
        let pcm = try FilePCM(raw: rawBytes(samples, format: .s16le), label: "alsa-stop")
        defer { pcm.remove() }
        let source = try pcm.source(ALSACaptureConfig(device: pcm.pcmName, rateHz: 96_000, channels: 1, format: .s16le))
        let sink = StoppingSink(after: 3)
        sink.source = source
        try source.run(into: sink)  // no frame limit: only stop() ends it
        #expect(sink.inner.chunks.count == 3)
        #expect(sink.inner.chunks.flatMap(\.samples) == Array(samples[0..<(3 * source.granted.periodFrames * 4)]))
        #expect(throws: ALSAError.self) { try source.run(into: CollectingSink()) }
    }
}

@Suite struct ALSAFormatTests {
    /// S24_LE arrives in 32-bit containers whose top byte devices leave at 0:
    /// trw sign-extends the 24 bits. FLOAT_LE keeps its bit pattern.
    @Test(arguments: [SampleFormat.s24le, .floatle])
    func containerFormats(format: SampleFormat) throws {
        let frames = 9_600
        let samples = AESignal.render(
            frames: frames, channels: 2, sampleRate: 192_000, format: format, settings: AEDetectorSettings(),
            bursts: [[AEBurst(startS: 0.01, peakDbAE: 80, riseS: 1e-4, decayS: 1e-3, carrierHz: 30_000)], []],
            noiseV: 2e-4, seed: 8)
        var raw = rawBytes(samples, format: format)
        if format == .s24le {
            for i in stride(from: 3, to: raw.count, by: 4) { raw[i] = 0 }  // as hardware delivers it
            #expect(samples.contains { $0 < 0 }, "the test needs negative samples")
        }
        let pcm = try FilePCM(raw: raw, label: "alsa-container")
        defer { pcm.remove() }
        let source = try pcm.source(ALSACaptureConfig(device: pcm.pcmName, rateHz: 192_000, channels: 2, format: format,
                                                      frameLimit: Int64(frames)))
        let sink = CollectingSink()
        try source.run(into: sink)
        #expect(sink.chunks.flatMap(\.samples) == samples)
    }
}

@Suite struct ALSADeviceListingTests {
    /// The capture PCM names are the ones alsa-utils' `arecord -L` lists.
    @Test func pcmNamesMatchArecord() throws {
        let ours = try ALSACaptureSource.listCapturePCMNames()
        let listing = try ExternalTool.run("arecord", ["-L"])
        let theirs = listing.split(separator: "\n").filter { !$0.hasPrefix(" ") && !$0.isEmpty }.map(String.init)
        #expect(ours.map(\.name) == theirs)
        #expect(ours.contains { $0.name == "null" && $0.description.contains("zero samples") }, "alsa.conf defines pcm.null")
    }

    /// The hardware capture devices are the ones `arecord -l` lists (none on a machine without sound cards).
    @Test func hardwareDevicesMatchArecord() throws {
        let listing = try ExternalTool.run("arecord", ["-l"], anyStatus: true)
        // "card 1: Pro [Scarlett 2i2 USB], device 0: USB Audio [USB Audio]"
        let theirs: [String] = listing.split(separator: "\n").compactMap { line in
            guard line.hasPrefix("card "), let comma = line.range(of: ", device ") else { return nil }
            let card = line.dropFirst(5).prefix { $0.isNumber }
            let dev = line[comma.upperBound...].prefix { $0.isNumber }
            return "hw:\(card),\(dev)"
        }
        let ours = ALSACaptureSource.listCaptureDevices()
        #expect(ours.map(\.name) == theirs)
        for d in ours where d.capabilities == nil {
            #expect(d.probeError != nil && d.summary.contains(d.name))
        }
    }
}

@Suite struct ALSAFramesLostTests {
    static let t0: Nanoseconds = 5_000_000_000

    /// The arithmetic of frames lost for what real devices report (the null
    /// slave of the file plugin reports no trigger times, so it is tested here).
    @Test(arguments: [
        // Overrun: the buffer's 9000 frames plus 10 ms at 192 kHz until the restart.
        (SND_PCM_STATE_XRUN, 9_000, t0, true, t0 + 10_000_000, 192_000, Int64(9_000 + 1_920)),
        // Suspend resumed (nothing discarded): 2 s at 96 kHz.
        (SND_PCM_STATE_SUSPENDED, 500, t0, false, t0 + 2_000_000_000, 96_000, Int64(192_000)),
        // Suspend whose resume failed (prepared): buffer and time.
        (SND_PCM_STATE_SUSPENDED, 500, t0, true, t0 + 1_000_000, 384_000, Int64(500 + 384)),
        // The stream still running (error reported before the state changed): the buffer only.
        (SND_PCM_STATE_RUNNING, 7_680, 0, true, t0, 192_000, Int64(7_680)),
        // No timestamps from the plugin: the buffer only.
        (SND_PCM_STATE_XRUN, 4_096, 0, true, 0, 48_000, Int64(4_096)),
        // A restart time before the stop (never expected): no negative loss.
        (SND_PCM_STATE_XRUN, 100, t0, true, t0 - 1_000, 192_000, Int64(100)),
    ])
    func framesLost(state: snd_pcm_state_t, avail: Int, stopNs: Nanoseconds, discarded: Bool, restartNs: Nanoseconds,
                    rate: Int, expected: Int64) {
        let before = PCMStatusSnapshot(state: state, avail: avail, delay: avail, htstampNs: stopNs, triggerNs: stopNs)
        #expect(ALSACaptureSource.framesLost(before: before, bufferDiscarded: discarded, restartTriggerNs: restartNs,
                                             rateHz: rate) == expected)
    }
}

/// Stops the source when the first gap arrives.
final class StopOnGapSink: SampleSink, @unchecked Sendable {
    // @unchecked: called only on the capture thread; read after `run` returns.
    let inner = CollectingSink()
    weak var source: ALSACaptureSource?
    func emit(_ event: SourceEvent, stream: String, mode: EmitMode) -> Bool {
        _ = inner.emit(event, stream: stream, mode: mode)
        if case .gap = event { source?.stop() }
        return true
    }
}
