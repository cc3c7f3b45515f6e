import CALSA
import TRWCore

#if canImport(Glibc)
import Glibc
#endif

/// One ALSA capture device, for `trw devices`.
public struct ALSADeviceInfo: Sendable, Equatable, Codable {
    /// PCM name to put in the rig file ("hw:1,0").
    public var name: String
    /// Card id and name ("Pro", "Focusrite Scarlett 2i2").
    public var cardID: String
    public var cardName: String
    /// Device (PCM) name on the card.
    public var deviceName: String
    /// What the hardware offers, or nil with `probeError` when it could not be opened (busy).
    public var capabilities: ALSACapabilities?
    public var probeError: String?

    /// One line for `trw devices`: "hw:1,0  Scarlett 2i2 USB (USB Audio): rates 44100–192000 Hz, ...".
    public var summary: String {
        let what = capabilities.map(\.description) ?? "not probed: \(probeError ?? "unknown error")"
        return "\(name)  \(cardName) (\(deviceName)): \(what)"
    }

    public init(name: String, cardID: String, cardName: String, deviceName: String,
                capabilities: ALSACapabilities?, probeError: String?) {
        self.name = name
        self.cardID = cardID
        self.cardName = cardName
        self.deviceName = deviceName
        self.capabilities = capabilities
        self.probeError = probeError
    }
}

/// Owns a `snd_ctl_t` (`snd_ctl_open` / `snd_ctl_close`).
private final class CtlHandle {
    let ctl: OpaquePointer
    let name: String
    init(name: String) throws(ALSAError) {
        var c: OpaquePointer?
        try check(snd_ctl_open(&c, name, 0), "snd_ctl_open", device: name)
        guard let c else { preconditionFailure("snd_ctl_open returned no handle") }
        ctl = c
        self.name = name
    }
    deinit {
        let rc = snd_ctl_close(ctl)
        assert(rc >= 0, "snd_ctl_close(\(name)) failed: \(ALSAError.text(rc))")
    }
}

/// Owns a `snd_ctl_card_info_t`.
private final class CardInfo {
    let info: OpaquePointer
    init() throws(ALSAError) {
        var p: OpaquePointer?
        try check(snd_ctl_card_info_malloc(&p), "snd_ctl_card_info_malloc", device: "ctl")
        guard let p else { preconditionFailure("snd_ctl_card_info_malloc returned no object") }
        info = p
    }
    deinit { snd_ctl_card_info_free(info) }
}

/// Owns a `snd_pcm_info_t`.
private final class PCMInfo {
    let info: OpaquePointer
    init() throws(ALSAError) {
        var p: OpaquePointer?
        try check(snd_pcm_info_malloc(&p), "snd_pcm_info_malloc", device: "ctl")
        guard let p else { preconditionFailure("snd_pcm_info_malloc returned no object") }
        info = p
    }
    deinit { snd_pcm_info_free(info) }
}

extension ALSACaptureSource {
    /// Every hardware capture PCM (`hw:CARD,DEV`) on the machine, found with
    /// `snd_card_next` and `snd_ctl_pcm_next_device`, each probed for its
    /// rate, format and channel ranges. Empty when there is no sound card.
    /// A card whose control device cannot be read is skipped; a busy PCM is
    /// listed with `probeError`.
    public static func listCaptureDevices() -> [ALSADeviceInfo] {
        // Probing a busy device makes alsa-lib print to stderr; its errors come back as codes anyway.
        let silenced = trw_alsa_silence_library_errors()
        assert(silenced == 0, "snd_lib_error_set_handler failed: \(silenced)")
        defer {
            let restored = trw_alsa_default_library_errors()
            assert(restored == 0, "snd_lib_error_set_handler(NULL) failed: \(restored)")
        }
        var out: [ALSADeviceInfo] = []
        var card: Int32 = -1
        while snd_card_next(&card) >= 0 && card >= 0 {
            out += (try? captureDevices(card: card)) ?? []
        }
        return out
    }

    private static func captureDevices(card: Int32) throws(ALSAError) -> [ALSADeviceInfo] {
        let ctl = try CtlHandle(name: "hw:\(card)")
        let cardInfo = try CardInfo()
        try check(snd_ctl_card_info(ctl.ctl, cardInfo.info), "snd_ctl_card_info", device: ctl.name)
        let cardID = String(cString: snd_ctl_card_info_get_id(cardInfo.info))
        let cardName = String(cString: snd_ctl_card_info_get_name(cardInfo.info))
        let pcmInfo = try PCMInfo()
        var result: [ALSADeviceInfo] = []
        var dev: Int32 = -1
        while true {
            try check(snd_ctl_pcm_next_device(ctl.ctl, &dev), "snd_ctl_pcm_next_device", device: ctl.name)
            if dev < 0 { break }
            snd_pcm_info_set_device(pcmInfo.info, UInt32(dev))
            snd_pcm_info_set_subdevice(pcmInfo.info, 0)
            snd_pcm_info_set_stream(pcmInfo.info, SND_PCM_STREAM_CAPTURE)
            // -ENOENT: this device has no capture direction.
            guard snd_ctl_pcm_info(ctl.ctl, pcmInfo.info) >= 0 else { continue }
            let name = "hw:\(card),\(dev)"
            let devName = String(cString: snd_pcm_info_get_name(pcmInfo.info))
            do throws(ALSAError) {
                let caps = try probe(name)
                result.append(ALSADeviceInfo(name: name, cardID: cardID, cardName: cardName, deviceName: devName,
                                             capabilities: caps, probeError: nil))
            } catch {
                result.append(ALSADeviceInfo(name: name, cardID: cardID, cardName: cardName, deviceName: devName,
                                             capabilities: nil, probeError: error.description))
            }
        }
        return result
    }

    /// Opens `name` for capture without blocking and reads its full configuration space.
    static func probe(_ name: String, configTree: ConfigTree? = nil) throws(ALSAError) -> ALSACapabilities {
        let pcm = try PCMHandle(device: name, stream: SND_PCM_STREAM_CAPTURE, nonBlocking: true, configTree: configTree)
        let hw = try HWParams(device: name)
        try check(snd_pcm_hw_params_any(pcm.pcm, hw.params), "snd_pcm_hw_params_any", device: name)
        // Native rates only (as capture asks by default): no alsa-lib rate conversion.
        try check(snd_pcm_hw_params_set_rate_resample(pcm.pcm, hw.params, 0), "snd_pcm_hw_params_set_rate_resample", device: name)
        return try ALSACaptureDevice.capabilities(pcm: pcm.pcm, hw: hw, device: name)
    }
}

/// A PCM name from the ALSA configuration's hints ("default",
/// "plughw:CARD=Pro,DEV=0", "null", ...), for `trw devices`.
public struct ALSAPCMName: Sendable, Equatable, Codable {
    public var name: String
    /// The hint's description, lines joined with " / ".
    public var description: String
    public init(name: String, description: String) {
        self.name = name
        self.description = description
    }
}

extension ALSACaptureSource {
    /// PCM names usable for capture, from `snd_device_name_hint(-1, "pcm")`:
    /// hints whose IOID is "Input" or absent (both directions).
    public static func listCapturePCMNames() throws -> [ALSAPCMName] {
        var hints: UnsafeMutablePointer<UnsafeMutableRawPointer?>?
        try check(snd_device_name_hint(-1, "pcm", &hints), "snd_device_name_hint(pcm)", device: "all cards")
        guard let hints else { return [] }
        defer {
            let rc = snd_device_name_free_hint(hints)
            assert(rc >= 0, "snd_device_name_free_hint failed: \(ALSAError.text(rc))")
        }
        func field(_ hint: UnsafeMutableRawPointer, _ id: String) -> String? {
            guard let p = snd_device_name_get_hint(hint, id) else { return nil }
            defer { free(p) }  // malloc'd by alsa-lib
            return String(cString: p)
        }
        var out: [ALSAPCMName] = []
        var i = 0
        while let hint = hints[i] {
            i += 1
            let io = field(hint, "IOID")
            guard io == nil || io == "Input", let name = field(hint, "NAME") else { continue }
            let desc = (field(hint, "DESC") ?? "").split(separator: "\n").joined(separator: " / ")
            out.append(ALSAPCMName(name: name, description: desc))
        }
        return out
    }
}
