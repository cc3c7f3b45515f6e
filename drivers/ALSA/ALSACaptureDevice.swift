import CALSA
import TRWCore

#if canImport(Glibc)
import Glibc
#endif

extension SampleFormat {
    /// The alsa-lib constant this format stands for.
    var alsaFormat: snd_pcm_format_t {
        switch self {
        case .s16le: SND_PCM_FORMAT_S16_LE
        case .s24le: SND_PCM_FORMAT_S24_LE
        case .s32le: SND_PCM_FORMAT_S32_LE
        case .floatle: SND_PCM_FORMAT_FLOAT_LE
        }
    }
}

/// A snapshot of `snd_pcm_status`.
struct PCMStatusSnapshot: Equatable {
    var state: snd_pcm_state_t
    /// Frames ready to read (hw pointer minus application pointer).
    var avail: Int
    /// Frames between the sample at the ADC and the application pointer.
    var delay: Int
    /// `snd_pcm_status_get_htstamp` (CLOCK_MONOTONIC here), ns; 0 if the plugin gives none.
    var htstampNs: Nanoseconds
    /// `snd_pcm_status_get_trigger_htstamp`, ns; 0 if the plugin gives none.
    var triggerNs: Nanoseconds
}

@inline(__always)
private func nanoseconds(_ ts: timespec) -> Nanoseconds {
    Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
}

/// The read seam: every `snd_pcm_readi` of the driver goes through this
/// function, so a test can make it fail (-EPIPE, -ESTRPIPE, -ENODEV) while the
/// recovery still runs the real alsa-lib calls.
typealias PCMReadFunction = @Sendable (_ pcm: OpaquePointer, _ buffer: UnsafeMutableRawPointer, _ frames: Int) -> Int

let alsaReadi: PCMReadFunction = { pcm, buffer, frames in
    Int(snd_pcm_readi(pcm, buffer, snd_pcm_uframes_t(frames)))
}

/// The wait seam: `snd_pcm_wait` (1 ready, 0 timeout, negative error), so a
/// test can play a stalled device.
typealias PCMWaitFunction = @Sendable (_ pcm: OpaquePointer, _ timeoutMs: Int32) -> Int32

let alsaWait: PCMWaitFunction = { pcm, timeoutMs in snd_pcm_wait(pcm, timeoutMs) }

/// An open, configured ALSA capture PCM (interleaved read/write access).
/// Used by one thread at a time: the source's capture thread.
final class ALSACaptureDevice {
    let handle: PCMHandle
    let granted: ALSAGrantedParameters
    private let status: PCMStatus
    var device: String { handle.device }

    /// Opens `config.device` for capture and negotiates the asked parameters.
    /// `configTree`: an ALSA configuration to resolve the name in (tests).
    init(config: ALSACaptureConfig, configTree: ConfigTree?) throws(ALSAError) {
        try config.validate()
        let device = config.device
        handle = try PCMHandle(device: device, stream: SND_PCM_STREAM_CAPTURE, configTree: configTree)
        status = try PCMStatus(device: device)
        granted = try Self.configure(handle: handle, config: config)
    }

    static func capabilities(pcm: OpaquePointer, hw: HWParams, device: String) throws(ALSAError) -> ALSACapabilities {
        var rmin: UInt32 = 0, rmax: UInt32 = 0, cmin: UInt32 = 0, cmax: UInt32 = 0
        var minDir: Int32 = 0, maxDir: Int32 = 0
        try check(snd_pcm_hw_params_get_rate_min(hw.params, &rmin, &minDir), "snd_pcm_hw_params_get_rate_min", device: device)
        try check(snd_pcm_hw_params_get_rate_max(hw.params, &rmax, &maxDir), "snd_pcm_hw_params_get_rate_max", device: device)
        // dir != 0 marks an open bound ("more than rmin", "less than rmax"): report whole Hz inside.
        if minDir > 0 { rmin += 1 }
        if maxDir < 0 && rmax > rmin { rmax -= 1 }
        try check(snd_pcm_hw_params_get_channels_min(hw.params, &cmin), "snd_pcm_hw_params_get_channels_min", device: device)
        try check(snd_pcm_hw_params_get_channels_max(hw.params, &cmax), "snd_pcm_hw_params_get_channels_max", device: device)
        // test_format returns 0 when the format is available, a negative code when not.
        let formats = SampleFormat.allCases.filter { snd_pcm_hw_params_test_format(pcm, hw.params, $0.alsaFormat) == 0 }
        return ALSACapabilities(
            minRateHz: Int(rmin), maxRateHz: Int(min(rmax, UInt32(Int32.max))),
            minChannels: Int(cmin), maxChannels: Int(min(cmax, 1 << 16)), formats: formats)
    }

    private static func configure(handle: PCMHandle, config: ALSACaptureConfig) throws(ALSAError) -> ALSAGrantedParameters {
        let pcm = handle.pcm
        let device = handle.device
        let hw = try HWParams(device: device)  // freed on every path by its owner
        try check(snd_pcm_hw_params_any(pcm, hw.params), "snd_pcm_hw_params_any", device: device)
        try check(snd_pcm_hw_params_set_rate_resample(pcm, hw.params, config.allowResampling ? 1 : 0),
                  "snd_pcm_hw_params_set_rate_resample", device: device)
        try check(snd_pcm_hw_params_set_access(pcm, hw.params, SND_PCM_ACCESS_RW_INTERLEAVED),
                  "snd_pcm_hw_params_set_access(RW_INTERLEAVED)", device: device)
        let caps = try capabilities(pcm: pcm, hw: hw, device: device)
        let asked = "\(config.rateHz) Hz \(config.format.rawValue) x\(config.channels)"
        // Test all three before setting any, so the refusal lists everything offered.
        let formatOK = snd_pcm_hw_params_test_format(pcm, hw.params, config.format.alsaFormat) == 0
        let channelsOK = snd_pcm_hw_params_test_channels(pcm, hw.params, UInt32(config.channels)) == 0
        let rateOK = snd_pcm_hw_params_test_rate(pcm, hw.params, UInt32(config.rateHz), 0) == 0
        guard formatOK, channelsOK, rateOK else {
            throw ALSAError.unsupported(device: device, asked: asked, capabilities: caps)
        }
        try check(snd_pcm_hw_params_set_format(pcm, hw.params, config.format.alsaFormat),
                  "snd_pcm_hw_params_set_format(\(config.format.rawValue))", device: device)
        try check(snd_pcm_hw_params_set_channels(pcm, hw.params, UInt32(config.channels)),
                  "snd_pcm_hw_params_set_channels(\(config.channels))", device: device)
        if snd_pcm_hw_params_set_rate(pcm, hw.params, UInt32(config.rateHz), 0) < 0 {
            // The rate is available alone but not with the chosen format/channels.
            let now = try capabilities(pcm: pcm, hw: hw, device: device)
            throw ALSAError.unsupported(device: device, asked: asked, capabilities: now)
        }
        var periodUs = UInt32(config.periodTimeUs)
        var dir: Int32 = 0
        try check(snd_pcm_hw_params_set_period_time_near(pcm, hw.params, &periodUs, &dir),
                  "snd_pcm_hw_params_set_period_time_near(\(config.periodTimeUs) us)", device: device)
        var periodFrames = snd_pcm_uframes_t(0)
        try check(snd_pcm_hw_params_get_period_size(hw.params, &periodFrames, &dir),
                  "snd_pcm_hw_params_get_period_size", device: device)
        var bufferFrames = periodFrames * snd_pcm_uframes_t(config.periods)
        try check(snd_pcm_hw_params_set_buffer_size_near(pcm, hw.params, &bufferFrames),
                  "snd_pcm_hw_params_set_buffer_size_near(\(bufferFrames))", device: device)
        try check(snd_pcm_hw_params(pcm, hw.params), "snd_pcm_hw_params", device: device)

        // Read back what was granted (it may differ from what was asked).
        var rate: UInt32 = 0
        try check(snd_pcm_hw_params_get_rate(hw.params, &rate, &dir), "snd_pcm_hw_params_get_rate", device: device)
        var channels: UInt32 = 0
        try check(snd_pcm_hw_params_get_channels(hw.params, &channels), "snd_pcm_hw_params_get_channels", device: device)
        try check(snd_pcm_hw_params_get_period_size(hw.params, &periodFrames, &dir),
                  "snd_pcm_hw_params_get_period_size", device: device)
        try check(snd_pcm_hw_params_get_buffer_size(hw.params, &bufferFrames),
                  "snd_pcm_hw_params_get_buffer_size", device: device)
        guard Int(rate) == config.rateHz || config.allowResampling else {
            throw ALSAError.unsupported(device: device, asked: asked, capabilities: caps)
        }

        let sw = try SWParams(device: device)
        try check(snd_pcm_sw_params_current(pcm, sw.params), "snd_pcm_sw_params_current", device: device)
        try check(snd_pcm_sw_params_set_tstamp_mode(pcm, sw.params, SND_PCM_TSTAMP_ENABLE),
                  "snd_pcm_sw_params_set_tstamp_mode(ENABLE)", device: device)
        try check(snd_pcm_sw_params_set_tstamp_type(pcm, sw.params, SND_PCM_TSTAMP_TYPE_MONOTONIC),
                  "snd_pcm_sw_params_set_tstamp_type(MONOTONIC)", device: device)
        try check(snd_pcm_sw_params_set_avail_min(pcm, sw.params, periodFrames),
                  "snd_pcm_sw_params_set_avail_min", device: device)
        // Started explicitly by `start()`, so the trigger time is ours.
        try check(snd_pcm_sw_params_set_start_threshold(pcm, sw.params, bufferFrames * 2),
                  "snd_pcm_sw_params_set_start_threshold", device: device)
        try check(snd_pcm_sw_params(pcm, sw.params), "snd_pcm_sw_params", device: device)

        return ALSAGrantedParameters(
            rateHz: Int(rate), channels: Int(channels), format: config.format,
            periodFrames: Int(periodFrames), bufferFrames: Int(bufferFrames))
    }

    /// `snd_pcm_prepare` (from SETUP after a previous run's drop, or again in PREPARED).
    func prepare() throws(ALSAError) {
        try check(snd_pcm_prepare(handle.pcm), "snd_pcm_prepare", device: device)
    }

    /// `snd_pcm_start`.
    func start() throws(ALSAError) {
        try check(snd_pcm_start(handle.pcm), "snd_pcm_start", device: device)
    }

    /// `snd_pcm_status`.
    func readStatus() throws(ALSAError) -> PCMStatusSnapshot {
        try check(snd_pcm_status(handle.pcm, status.status), "snd_pcm_status", device: device)
        var ht = timespec()
        var trig = timespec()
        snd_pcm_status_get_htstamp(status.status, &ht)
        snd_pcm_status_get_trigger_htstamp(status.status, &trig)
        return PCMStatusSnapshot(
            state: snd_pcm_status_get_state(status.status),
            avail: Int(snd_pcm_status_get_avail(status.status)),
            delay: Int(snd_pcm_status_get_delay(status.status)),
            htstampNs: nanoseconds(ht), triggerNs: nanoseconds(trig))
    }

    /// `snd_pcm_recover` for an error `readi` returned (-EPIPE, -ESTRPIPE, -EINTR).
    func recover(from code: Int32) throws(ALSAError) {
        try check(snd_pcm_recover(handle.pcm, code, 1), "snd_pcm_recover(\(ALSAError.text(code)))", device: device)
    }

    /// `snd_pcm_drop`: stops now, dropping what is buffered.
    func drop() throws(ALSAError) {
        try check(snd_pcm_drop(handle.pcm), "snd_pcm_drop", device: device)
    }
}
