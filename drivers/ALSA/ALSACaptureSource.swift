import CALSA
import Foundation
import Logging
import Synchronization
import TRWCore

#if canImport(Glibc)
import Glibc
#endif

/// Property keys the ALSA source writes on its `StreamDescriptor`.
public enum ALSAStreamProperty {
    public static let askedRate = "alsa.asked_rate"
    public static let grantedRate = "alsa.granted_rate"
    public static let askedPeriodUs = "alsa.asked_period_us"
    public static let periodFrames = "alsa.period_frames"
    public static let askedPeriods = "alsa.asked_periods"
    public static let bufferFrames = "alsa.buffer_frames"
    public static let chunkFrames = "alsa.chunk_frames"
    public static let access = "alsa.access"
    public static let timestamp = "alsa.tstamp"
    /// JSON of `AEDetectorSettings`, when live detection is configured (the
    /// same key as TRWAcoustics' `AEDetectorSettings.streamPropertyKey`, which
    /// reads it back: `AEHitDetector(stream:)`).
    public static let detectorSettings = "ae.detector_settings"
}

/// An ALSA capture device as a trw `Source`: one `ae` stream of interleaved
/// PCM chunks with (sample index, htstamp) clock pairs, and gaps for every
/// xrun, suspend and device loss.
///
/// The device is opened and configured in `init`, so `streams` holds what it
/// granted. `run(into:)` blocks on `snd_pcm_readi` on the caller's dedicated
/// thread. After a device loss (-ENODEV) the stream ends with a `.deviceLoss`
/// gap and `run` returns normally: other sources go on.
public final class ALSACaptureSource: Source, @unchecked Sendable {
    // @unchecked: `device` and `readFunction` are touched only by `run`, which
    // runs once (`started` guards it); `stop()` touches only an atomic flag.
    public let name: String
    public let streams: [StreamDescriptor]
    public let config: ALSACaptureConfig
    public let granted: ALSAGrantedParameters

    private let device: ALSACaptureDevice
    private let logger: Logger
    private let stopRequested = Atomic<Bool>(false)
    private let started = Atomic<Bool>(false)
    /// The read seam (tests replace it to inject -EPIPE, -ESTRPIPE, -ENODEV).
    var readFunction: PCMReadFunction = alsaReadi
    /// The wait seam (tests replace it to play a stalled device).
    var waitFunction: PCMWaitFunction = alsaWait
    /// `run` waits at most this long per `snd_pcm_wait`, so `stop()` is seen
    /// within it even when the device delivers nothing.
    static let waitSliceMs: Int32 = 100

    /// Opens and configures `config.device`; throws `ALSAError` naming the
    /// device and, for a refused configuration, what it offers.
    public convenience init(config: ALSACaptureConfig, logger: Logger = Logger(label: "trw.alsa")) throws {
        try self.init(config: config, alsaConfigOverlay: nil, logger: logger)
    }

    /// Testing hook (tests and `trw-bench` only, through `@_spi(Testing) import`):
    /// resolves the PCM name in the global ALSA configuration with the file at
    /// `alsaConfigOverlay` loaded on top (`snd_pcm_open_lconf`), e.g. to define
    /// a `file`-plugin PCM that plays a known signal.
    @_spi(Testing)
    public init(config: ALSACaptureConfig, alsaConfigOverlay: String?, logger: Logger = Logger(label: "trw.alsa")) throws {
        let tree = try alsaConfigOverlay.map { path throws(ALSAError) in try ConfigTree(overlayFile: path) }
        device = try ALSACaptureDevice(config: config, configTree: tree)
        self.config = config
        granted = device.granted
        name = "ae \(config.device)"
        var logger = logger
        logger[metadataKey: "device"] = "\(config.device)"
        logger[metadataKey: "stream"] = "\(config.streamKey)"
        self.logger = logger
        var props: [String: String] = [
            ALSAStreamProperty.askedRate: String(config.rateHz),
            ALSAStreamProperty.grantedRate: String(granted.rateHz),
            ALSAStreamProperty.askedPeriodUs: String(config.periodTimeUs),
            ALSAStreamProperty.periodFrames: String(granted.periodFrames),
            ALSAStreamProperty.askedPeriods: String(config.periods),
            ALSAStreamProperty.bufferFrames: String(granted.bufferFrames),
            ALSAStreamProperty.chunkFrames: String(granted.periodFrames * config.periodsPerChunk),
            ALSAStreamProperty.access: "RW_INTERLEAVED",
            ALSAStreamProperty.timestamp: "ENABLE/MONOTONIC",
        ]
        if let d = config.detector {
            let enc = JSONEncoder()
            enc.outputFormatting = [.sortedKeys]
            props[ALSAStreamProperty.detectorSettings] = String(decoding: try enc.encode(d), as: UTF8.self)
        }
        streams = [
            StreamDescriptor(
                key: config.streamKey, kind: .ae, device: config.device, format: granted.format.rawValue,
                nominalRateHz: Double(granted.rateHz), channels: granted.channels, sampleFormat: granted.format,
                units: ["sample": "counts (full scale \(granted.format.fullScale))"], properties: props)
        ]
    }

    public func stop() {
        stopRequested.store(true, ordering: .releasing)
    }

    public func run(into sink: any SampleSink) throws {
        // One run per source: the stream's sample index starts at 0 once.
        guard started.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged else {
            throw ALSAError.invalidConfiguration(
                device: config.device, reason: "run(into:) was already called on this source; create a new ALSACaptureSource")
        }

        let key = config.streamKey
        let channels = granted.channels
        let format = granted.format
        let bytesPerFrame = channels * format.bytesPerSample
        let chunkFrames = granted.periodFrames * config.periodsPerChunk
        let raw = UnsafeMutableRawBufferPointer.allocate(byteCount: chunkFrames * bytesPerFrame, alignment: 16)
        defer { raw.deallocate() }

        var sampleIndex: Int64 = 0  // per-channel index of the next frame to read
        var delivered: Int64 = 0  // frames handed to the sink (for frameLimit)
        try device.prepare()
        try device.start()
        logger.info("capture started", metadata: [
            "rate": "\(granted.rateHz)", "channels": "\(granted.channels)", "format": "\(granted.format.rawValue)",
            "period_frames": "\(granted.periodFrames)", "buffer_frames": "\(granted.bufferFrames)",
        ])
        var stalledMs = 0  // time waited without data, counted in wait slices
        var stallReported = false
        while !stopRequested.load(ordering: .acquiring) {
            var want = chunkFrames
            if let limit = config.frameLimit {
                if delivered >= limit { break }
                want = Int(min(Int64(want), limit - delivered))
            }
            let w = waitFunction(device.handle.pcm, Self.waitSliceMs)
            if w == 0 {
                stalledMs += Int(Self.waitSliceMs)
                if stalledMs >= config.stallTimeoutMs && !stallReported {
                    stallReported = true
                    let detail = "\(config.device): no data for \(stalledMs) ms after \(sampleIndex) frames (device stalled)"
                    logger.info("\(detail)")
                    sink.emit(.gap(GapEvent(kind: .timeout, startHostNs: HostClock.monotonicNanoseconds()
                                                - Int64(stalledMs) * 1_000_000, lostCount: 0, detail: detail)),
                              stream: key, mode: .dropIfFull)
                }
                continue
            }
            stalledMs = 0
            stallReported = false
            // A negative wait result is the same error the read would return: handled below.
            let n = w < 0 ? Int(w) : readFunction(device.handle.pcm, raw.baseAddress!, want)
            if n >= 0 {
                guard n > 0 else { continue }
                let arrival = HostClock.monotonicNanoseconds()
                let st = try device.readStatus()
                // htstamp is the time of the sample `delay` frames past the application pointer.
                let pair: AudioClockPair? = st.htstampNs == 0
                    ? nil : AudioClockPair(sampleIndex: sampleIndex + Int64(n) + Int64(st.delay), hostNs: st.htstampNs)
                let samples = Self.decode(raw, frames: n, channels: channels, format: format)
                let chunk = AudioChunk(
                    firstSampleIndex: sampleIndex, channels: channels, format: format, pcm: samples,
                    hostArrivalNs: arrival, clockPair: pair)
                sampleIndex += Int64(n)
                delivered += Int64(n)
                sink.emit(.audio(chunk), stream: key, mode: .dropIfFull)
                continue
            }
            let code = Int32(truncatingIfNeeded: n)
            switch -code {
            case EINTR, EAGAIN:
                continue
            case EPIPE, ESTRPIPE:
                let recovered: Result<GapEvent, ALSAError> = Result { () throws(ALSAError) in try recoverFromXrun(code: code) }
                if case let .failure(.call(function, _, rc, _)) = recovered, Self.isDeviceLoss(rc) {
                    emitDeviceLoss(function: function, code: rc, frames: sampleIndex, into: sink)
                    return
                }
                let gap = try recovered.get()
                sampleIndex += gap.lostCount
                logger.info("\(gap.detail)")
                sink.emit(.gap(gap), stream: key, mode: .dropIfFull)
            case _ where Self.isDeviceLoss(code):
                emitDeviceLoss(function: "snd_pcm_readi", code: code, frames: sampleIndex, into: sink)
                return
            default:
                throw ALSAError.call(function: "snd_pcm_readi", device: config.device, code: code, message: ALSAError.text(code))
            }
        }
        try device.drop()
        logger.info("capture stopped", metadata: ["frames": "\(sampleIndex)"])
    }

    /// -ENODEV (unplugged) and -EIO (USB/transport error) end the stream.
    /// (-EBADFD, a PCM in the wrong state, would be our bug: it is thrown.)
    static func isDeviceLoss(_ code: Int32) -> Bool { code == -ENODEV || code == -EIO }

    private func emitDeviceLoss(function: String, code: Int32, frames: Int64, into sink: any SampleSink) {
        let detail = "\(config.device): \(function) failed with \(ALSAError.text(code)) (\(code)); stream ended after \(frames) frames"
        logger.info("\(detail)")
        sink.emit(.gap(GapEvent(kind: .deviceLoss, startHostNs: HostClock.monotonicNanoseconds(), endHostNs: nil,
                                lostCount: 0, detail: detail)),
                  stream: config.streamKey, mode: .dropIfFull)
    }

    /// Recovers from an overrun (-EPIPE) or a suspend (-ESTRPIPE) with the real
    /// `snd_pcm_recover`, restarts, and returns the gap with the frames lost:
    /// the frames in the buffer when the stream stopped (`avail`, if a prepare
    /// discarded them) plus those the device would have captured between the
    /// stop (trigger time in XRUN/SUSPENDED state) and the restart, from the
    /// granted rate. The sample index skips them, so audio time stays right.
    private func recoverFromXrun(code: Int32) throws(ALSAError) -> GapEvent {
        let before = try device.readStatus()
        let detectedNs = HostClock.monotonicNanoseconds()
        try device.recover(from: code)
        let afterRecover = try device.readStatus()
        if afterRecover.state == SND_PCM_STATE_PREPARED {
            try device.start()
        }
        let after = try device.readStatus()
        // A prepare (always after an overrun; after a suspend when resume failed) discards the buffer.
        let discarded = afterRecover.state == SND_PCM_STATE_PREPARED
        let lost = Self.framesLost(before: before, bufferDiscarded: discarded, restartTriggerNs: after.triggerNs,
                                   rateHz: granted.rateHz)
        let stoppedState = before.state == SND_PCM_STATE_XRUN || before.state == SND_PCM_STATE_SUSPENDED
        let stopNs = stoppedState && before.triggerNs != 0 ? before.triggerNs : detectedNs
        let restartNs = after.triggerNs != 0 && after.triggerNs >= stopNs ? after.triggerNs : HostClock.monotonicNanoseconds()
        let what = -code == EPIPE ? "overrun (EPIPE)" : "suspend (ESTRPIPE)"
        return GapEvent(
            kind: -code == EPIPE ? .xrun : .deviceError, startHostNs: stopNs, endHostNs: restartNs, lostCount: lost,
            detail: "\(config.device): \(what) recovered with snd_pcm_recover; \(lost) frames lost (avail \(before.avail) at stop)")
    }

    /// Frames lost across a stop (overrun or suspend) and the restart:
    /// `before.avail` when the recovery discarded the buffer (prepare), plus,
    /// when the stop was the device's own (state XRUN or SUSPENDED, whose
    /// trigger htstamp is the stop time), the frames of the time until the
    /// restart's trigger htstamp at `rateHz`. Plugins without timestamps (0)
    /// contribute the buffer part only.
    static func framesLost(before: PCMStatusSnapshot, bufferDiscarded: Bool, restartTriggerNs: Nanoseconds,
                           rateHz: Int) -> Int64 {
        var lost = bufferDiscarded ? Int64(max(0, before.avail)) : 0
        let stoppedByDevice = before.state == SND_PCM_STATE_XRUN || before.state == SND_PCM_STATE_SUSPENDED
        if stoppedByDevice && before.triggerNs != 0 && restartTriggerNs > before.triggerNs {
            lost += Int64((Double(restartTriggerNs - before.triggerNs) * Double(rateHz) / 1e9).rounded())
        }
        return lost
    }

    /// Raw interleaved little-endian PCM -> trw's samples in their capture width: S16 as
    /// `Int16` (never widened here; the encoder takes it as is), S24 sign-extended to
    /// `Int32`, S32 and FLOAT_LE (as its bit pattern) as `Int32`.
    static func decode(_ raw: UnsafeMutableRawBufferPointer, frames: Int, channels: Int, format: SampleFormat) -> PCMSamples {
        let count = frames * channels
        switch format {
        case .s16le:
            let src = raw.bindMemory(to: Int16.self)
            return .int16([Int16](unsafeUninitializedCapacity: count) { out, initialized in
                for i in 0..<count { out[i] = Int16(littleEndian: src[i]) }
                initialized = count
            })
        case .s24le, .s32le, .floatle:
            let src = raw.bindMemory(to: Int32.self)
            let s24 = format == .s24le
            return .int32([Int32](unsafeUninitializedCapacity: count) { out, initialized in
                if s24 {
                    for i in 0..<count { out[i] = (Int32(littleEndian: src[i]) << 8) >> 8 }
                } else {
                    for i in 0..<count { out[i] = Int32(littleEndian: src[i]) }
                }
                initialized = count
            })
        }
    }
}
