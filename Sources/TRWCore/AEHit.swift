/// Settings of the AE hit detector, stored on the AE stream (as Vallen's
/// pridb stores them with its acquisition settings).
public struct AEDetectorSettings: Sendable, Codable, Equatable {
    /// Threshold in dB_AE (0 dB_AE = 1 uV at the sensor).
    public var thresholdDbAE: Double
    /// Hit definition time, s: the hit ends after this long without a threshold crossing.
    public var hdtS: Double
    /// Peak definition time, s: a new peak after this long without a higher one is not the hit's peak.
    public var pdtS: Double
    /// Hit lockout time, s: after a hit ends, crossings within this time are ignored.
    public var hltS: Double
    /// Volts at the ADC input for full scale.
    public var adcFullScaleV: Double
    /// Preamplifier gain, dB (the sensor voltage is the ADC voltage divided by this gain).
    public var preampGainDb: Double

    public init(thresholdDbAE: Double = 40, hdtS: Double = 200e-6, pdtS: Double = 50e-6, hltS: Double = 1e-3,
                adcFullScaleV: Double = 1.0, preampGainDb: Double = 40) {
        self.thresholdDbAE = thresholdDbAE
        self.hdtS = hdtS
        self.pdtS = pdtS
        self.hltS = hltS
        self.adcFullScaleV = adcFullScaleV
        self.preampGainDb = preampGainDb
    }
}

extension AEDetectorSettings {
    enum CodingKeys: String, CodingKey {
        case thresholdDbAE, hdtS, pdtS, hltS, adcFullScaleV, preampGainDb
    }

    /// Every setting is optional when decoding (rig files give only what differs from the defaults).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = AEDetectorSettings()
        self.init(thresholdDbAE: try c.decodeIfPresent(Double.self, forKey: .thresholdDbAE) ?? d.thresholdDbAE,
                  hdtS: try c.decodeIfPresent(Double.self, forKey: .hdtS) ?? d.hdtS,
                  pdtS: try c.decodeIfPresent(Double.self, forKey: .pdtS) ?? d.pdtS,
                  hltS: try c.decodeIfPresent(Double.self, forKey: .hltS) ?? d.hltS,
                  adcFullScaleV: try c.decodeIfPresent(Double.self, forKey: .adcFullScaleV) ?? d.adcFullScaleV,
                  preampGainDb: try c.decodeIfPresent(Double.self, forKey: .preampGainDb) ?? d.preampGainDb)
    }
}

extension AEDetectorSettings {
    /// What is wrong with these settings (rig-file key and the expected range), nil when usable.
    public var problem: String? {
        func bad(_ key: String, _ v: Double, _ r: ClosedRange<Double>, _ unit: String) -> String? {
            v.isFinite && r.contains(v) ? nil : "detector.\(key) \(v) is outside \(r.lowerBound)...\(r.upperBound) \(unit)"
        }
        return bad("threshold_db_ae", thresholdDbAE, 0...140, "dB_AE")
            ?? bad("hdt_s", hdtS, 1e-6...10, "s") ?? bad("pdt_s", pdtS, 1e-6...10, "s") ?? bad("hlt_s", hltS, 0...10, "s")
            ?? bad("adc_full_scale_v", adcFullScaleV, 1e-6...1000, "V") ?? bad("preamp_gain_db", preampGainDb, -40...120, "dB")
    }
}

/// One detected acoustic-emission hit with the features the AE field uses.
public struct AEHit: Sendable, Equatable, Codable {
    public var channel: Int
    /// Sample index (per channel) of the first threshold crossing.
    public var firstCrossingSampleIndex: Int64
    /// Peak amplitude at the sensor, dB_AE.
    public var amplitudeDbAE: Double
    /// First crossing to peak, s.
    public var riseTimeS: Double
    /// First to last crossing, s.
    public var durationS: Double
    /// Threshold crossings (positive-going) within the hit.
    public var counts: Int
    /// Sum of x^2 / fs over the hit, in V^2*s at the sensor (eu = 1e-14 V^2 s as Vallen).
    public var energyV2s: Double
    /// RMS of the signal before the hit (background), V at the sensor.
    public var rmsBeforeV: Double

    public init(channel: Int, firstCrossingSampleIndex: Int64, amplitudeDbAE: Double, riseTimeS: Double,
                durationS: Double, counts: Int, energyV2s: Double, rmsBeforeV: Double) {
        self.channel = channel
        self.firstCrossingSampleIndex = firstCrossingSampleIndex
        self.amplitudeDbAE = amplitudeDbAE
        self.riseTimeS = riseTimeS
        self.durationS = durationS
        self.counts = counts
        self.energyV2s = energyV2s
        self.rmsBeforeV = rmsBeforeV
    }
}
