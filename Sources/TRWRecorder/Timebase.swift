import TRWCore

/// Causal mapping of one stream's raw times onto host CLOCK_MONOTONIC, used
/// while recording for the stored `t_ns`. (`trw resync` refits offline.)
///
/// * thermal: device timestamp + lower-envelope offset (min of host - device):
///   dequeue is always after capture, so the smallest difference is the best
///   estimate of the transport-free offset (NTP clock filter idea);
/// * ae: sample index through the nominal rate, anchored on the device's
///   (index, htstamp) pairs with the same lower envelope; never arrival time;
/// * bms: the line's arrival time less its transmission time at the baud rate.
struct OnlineTimebase {
    let kind: StreamKind
    let sampleRate: Double
    let transmissionNsPerByte: Int64
    private var offset: Int64? = nil  // host - device (thermal) or host - index*period (ae)

    init(_ d: StreamDescriptor) {
        kind = d.kind
        sampleRate = d.nominalRateHz
        if let baud = d.properties["serial.baud"].flatMap(Int.init), baud > 0 {
            let bits = d.properties["serial.bits_per_char"].flatMap(Int.init) ?? 10
            transmissionNsPerByte = Int64(bits) * 1_000_000_000 / Int64(baud)
        } else {
            transmissionNsPerByte = 0
        }
    }

    mutating func hostTime(of f: ThermalFrame) -> Int64 {
        let d = f.hostArrivalNs - f.deviceTimestampNs
        offset = min(offset ?? d, d)
        return f.deviceTimestampNs + offset!
    }

    /// Host time of the chunk's first sample.
    mutating func hostTime(of c: AudioChunk) -> Int64 {
        let periodNs = 1e9 / sampleRate
        let (idx, host) = c.clockPair.map { ($0.sampleIndex, $0.hostNs) }
            ?? (c.firstSampleIndex + Int64(c.frameCount), c.hostArrivalNs)
        let d = host - Int64((Double(idx) * periodNs).rounded())
        offset = min(offset ?? d, d)
        return Int64((Double(c.firstSampleIndex) * periodNs).rounded()) + offset!
    }

    func hostTime(of s: BMSSample) -> Int64 {
        s.hostArrivalNs - Int64(s.raw.utf8.count + 1) * transmissionNsPerByte
    }
}
