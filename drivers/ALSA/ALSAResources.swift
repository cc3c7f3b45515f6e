import CALSA

#if canImport(Glibc)
import Glibc
#endif

// One owner per alsa-lib object: each final class below holds exactly one
// C handle and releases it in `deinit`, so every path (including thrown
// errors half-way through configuration) frees it.

/// Owns a `snd_pcm_t` (`snd_pcm_open` / `snd_pcm_open_lconf` ... `snd_pcm_close`).
final class PCMHandle {
    let pcm: OpaquePointer
    let device: String
    /// Keeps the configuration tree the PCM was opened from alive as long as the PCM.
    private let configTree: ConfigTree?

    init(device: String, stream: snd_pcm_stream_t, nonBlocking: Bool = false, configTree: ConfigTree? = nil) throws(ALSAError) {
        var p: OpaquePointer?
        let mode: Int32 = nonBlocking ? TRW_SND_PCM_NONBLOCK : 0
        if let configTree {
            try check(snd_pcm_open_lconf(&p, device, stream, mode, configTree.config), "snd_pcm_open_lconf", device: device)
        } else {
            try check(snd_pcm_open(&p, device, stream, mode), "snd_pcm_open", device: device)
        }
        guard let p else {
            preconditionFailure("snd_pcm_open succeeded without a handle for \(device)")
        }
        self.pcm = p
        self.device = device
        self.configTree = configTree
    }

    deinit {
        // snd_pcm_close fails only on a bad handle, which would be our bug.
        let rc = snd_pcm_close(pcm)
        assert(rc >= 0, "snd_pcm_close(\(device)) failed: \(ALSAError.text(rc))")
    }
}

/// Owns a `snd_pcm_hw_params_t` (`snd_pcm_hw_params_malloc` / `_free`).
final class HWParams {
    let params: OpaquePointer
    init(device: String) throws(ALSAError) {
        var p: OpaquePointer?
        try check(snd_pcm_hw_params_malloc(&p), "snd_pcm_hw_params_malloc", device: device)
        guard let p else { preconditionFailure("snd_pcm_hw_params_malloc returned no object") }
        params = p
    }
    deinit { snd_pcm_hw_params_free(params) }
}

/// Owns a `snd_pcm_sw_params_t` (`snd_pcm_sw_params_malloc` / `_free`).
final class SWParams {
    let params: OpaquePointer
    init(device: String) throws(ALSAError) {
        var p: OpaquePointer?
        try check(snd_pcm_sw_params_malloc(&p), "snd_pcm_sw_params_malloc", device: device)
        guard let p else { preconditionFailure("snd_pcm_sw_params_malloc returned no object") }
        params = p
    }
    deinit { snd_pcm_sw_params_free(params) }
}

/// Owns a `snd_pcm_status_t` (`snd_pcm_status_malloc` / `_free`).
final class PCMStatus {
    let status: OpaquePointer
    init(device: String) throws(ALSAError) {
        var p: OpaquePointer?
        try check(snd_pcm_status_malloc(&p), "snd_pcm_status_malloc", device: device)
        guard let p else { preconditionFailure("snd_pcm_status_malloc returned no object") }
        status = p
    }
    deinit { snd_pcm_status_free(status) }
}

/// Owns a `snd_config_t` tree: the global configuration (`snd_config_update`)
/// copied, with an extra configuration file loaded on top. Used by tests to
/// define PCMs (the `file` plugin) without touching the system's ALSA setup.
final class ConfigTree {
    let config: OpaquePointer

    init(overlayFile path: String) throws(ALSAError) {
        // A counted reference to the global tree (snd_config_update_ref), released below.
        var global: OpaquePointer?
        try check(snd_config_update_ref(&global), "snd_config_update_ref", device: path)
        guard let global else { preconditionFailure("snd_config_update_ref returned no tree") }
        defer { snd_config_unref(global) }  // returns void
        var copy: OpaquePointer?
        try check(snd_config_copy(&copy, global), "snd_config_copy", device: path)
        guard let copy else { preconditionFailure("snd_config_copy returned no tree") }
        // Fully initialised from here: a throw below runs deinit, which deletes the copy.
        config = copy
        var input: OpaquePointer?
        try check(snd_input_stdio_open(&input, path, "r"), "snd_input_stdio_open(\(path))", device: path)
        defer {
            let rc = snd_input_close(input)
            assert(rc >= 0, "snd_input_close(\(path)) failed: \(ALSAError.text(rc))")
        }
        try check(snd_config_load(copy, input), "snd_config_load(\(path))", device: path)
    }

    deinit {
        let rc = snd_config_delete(config)
        assert(rc >= 0, "snd_config_delete failed: \(ALSAError.text(rc))")
    }
}
