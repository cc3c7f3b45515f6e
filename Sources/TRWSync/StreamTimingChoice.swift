import TRWCore

/// Chooses how each stream is put on the session time base, from what its
/// source declares in `StreamDescriptor.properties`:
///
/// * thermal: `camera.timebase` = `host_monotonic` (driver timestamps already
///   CLOCK_MONOTONIC, dejittered through the sequence: the default, as V4L2
///   UVC drivers do), or `device_clock` (the camera's own clock, fitted against
///   dequeue time, e.g. the simulator's camera); `camera.exposure_offset_ns`;
///   `camera.min_latency_ns` (shortest capture-to-dequeue latency);
/// * ae: sample index through the fitted rate, htstamps one-sided;
/// * bms: `serial.baud` (or the serial driver's `baud`), `serial.bits_per_char` (`bits_per_char`), `serial.device_latency_ns`,
///   `serial.clock_resolution_ns` (the device clock's resolution, default 1 ms).
public enum StreamTimingChoice {
    public static func timing(for d: StreamDescriptor) -> StreamTiming {
        let p = d.properties
        switch d.kind {
        case .thermal:
            var cfg = VideoClockConfig(timebase: .sequenceDejitter, nominalFps: d.nominalRateHz)
            // The simulator's camera stamps frames with its own clock (offset, drift, jitter).
            if p["camera.timebase"] == "device_clock" || (p["sim.simulated"] == "true" && p["sim.clock_offset_ns"] != nil) {
                cfg.timebase = .deviceClock
            }
            if p["camera.timebase"] == "host_monotonic_raw" { cfg.timebase = .hostMonotonic }
            if let e = p["camera.exposure_offset_ns"].flatMap(Int64.init) { cfg.exposureToTimestampNs = e }
            // Shortest capture-to-dequeue latency (USB transfer + driver), known from the camera or
            // measured once; the simulator declares its own ("2000000 + exponential(...)").
            let lat = p["camera.min_latency_ns"] ?? p["sim.transport_latency_ns"].map { String($0.prefix { $0.isNumber }) }
            if let l = lat.flatMap(Int64.init) { cfg.minimumDequeueLatencyNs = l }
            return .thermal(cfg)
        case .ae:
            return .ae(nominalRateHz: d.nominalRateHz, oneSided: true)
        case .bms:
            var cfg = SerialClockConfig()
            if let b = (p["serial.baud"] ?? p["baud"] ?? p["sim.baud"]).flatMap(Int.init) { cfg.baud = b }
            if let b = (p["serial.bits_per_char"] ?? p["bits_per_char"]).flatMap(Int.init) { cfg.bitsPerChar = b }
            if let l = p["serial.device_latency_ns"].flatMap(Int64.init) { cfg.deviceLatencyNs = l }
            // Device clocks in lines usually truncate to their last digit (1 ms); the simulator's
            // are exact values printed to 1 ms, so it has no truncation to correct.
            let res = p["serial.clock_resolution_ns"].flatMap(Int64.init) ?? (p["sim.simulated"] == "true" ? 1 : 1_000_000)
            return .bms(cfg, deviceResolutionNs: res)
        }
    }
}
