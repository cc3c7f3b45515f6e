import Foundation

/// The temperature-rate part of GB 38031-2020's thermal-runaway determination (annex C):
/// dT/dt >= `rateCPerS` held for at least `sustainS` at the monitoring point. trw has this
/// one definition; the simulator's ground truth, the recorder's stop rules and the
/// `gb38031` detector all feed it (the detector adds the standard's second condition,
/// a voltage drop or the maximum working temperature).
///
/// The rate at a sample is measured against the earlier sample whose age is closest to
/// `windowS` (at least half of it): consecutive samples at about 1 Hz, a 1 s span at
/// 10 Hz, so sampling jitter neither splits nor stretches the window. A rise starts at
/// the reference sample of the first rate at or above the threshold and ends at the first
/// rate below it; the criterion is met when a rise has lasted `sustainS`, and the runaway
/// onset is the start of that rise.
public struct GB38031RateCriterion: Sendable, Equatable {
    public var rateCPerS: Double
    public var sustainS: Double
    public var windowS: Double
    private var history: [Sample] = []
    /// The last measured rate, degC/s (nil until the history spans half a window).
    public private(set) var rate: Double?
    /// Start of the rise in progress, s (nil when the rate is below the threshold).
    public private(set) var riseStartS: Double?
    /// Start of the first rise that lasted `sustainS`: the runaway onset, s.
    public private(set) var onsetS: Double?

    private struct Sample: Sendable, Equatable { var t: Double, c: Double }

    public init(rateCPerS: Double = 1, sustainS: Double = 3, windowS: Double = 1) {
        self.rateCPerS = rateCPerS
        self.sustainS = sustainS
        self.windowS = windowS
    }

    /// Whether the rise in progress has lasted `sustainS` (the criterion holds now).
    public var isSustained: Bool { riseStartS.map { (history.last?.t ?? $0) - $0 >= sustainS - 1e-9 } ?? false }

    /// Feeds a temperature (degC) at time `t` (s, increasing; others and non-finite values
    /// are ignored). Returns the onset the first time the criterion is met.
    @discardableResult
    public mutating func feed(t: Double, celsius: Double) -> Double? {
        guard t.isFinite, celsius.isFinite, t > history.last?.t ?? -.infinity else { return nil }
        history.append(Sample(t: t, c: celsius))
        while history.count > 2, t - history[1].t >= 2 * windowS { history.removeFirst() }
        let ref = history.dropLast().filter { t - $0.t >= windowS / 2 }
            .min { abs(t - $0.t - windowS) < abs(t - $1.t - windowS) }
        guard let ref else { return nil }
        let r = (celsius - ref.c) / (t - ref.t)
        rate = r
        if r >= rateCPerS { riseStartS = riseStartS ?? ref.t } else { riseStartS = nil }
        guard onsetS == nil, isSustained else { return nil }
        onsetS = riseStartS
        return onsetS
    }

    /// The parameters, for the record kept with a label or a stop.
    public var parameters: [String: Double] { ["rate_c_per_s": rateCPerS, "sustain_s": sustainS, "window_s": windowS] }

    public var summary: String {
        "GB 38031-2020 thermal runaway: dT/dt >= \(rateCPerS) degC/s for >= \(sustainS) s (rate over about \(windowS) s)"
    }
}
