import Foundation
import Testing
import TRWAnalysis
import TRWCore
@testable import TRWRecorder

/// One GB 38031 runaway criterion (TRWCore) behind the simulator's ground truth, the stop
/// rules and the `gb38031` detector.
@Suite struct RunawayCriterionTests {
    /// 30 degC, then 2 degC/s from t = 100 s.
    static func temperature(_ t: Double) -> Double { t <= 100 ? 30 : 30 + 2 * (t - 100) }

    @Test(arguments: [1.0, 10.0])
    func jitteredSamplingFindsTheSameOnset(rateHz: Double) {
        var c = GB38031RateCriterion()
        var onset: Double?
        for k in 0..<Int(200 * rateHz) {
            let t = (Double(k) + 0.02 * sin(1.7 * Double(k))) / rateHz  // ±2 % sampling jitter, deterministic
            if let o = c.feed(t: t, celsius: Self.temperature(t)) { onset = o }
        }
        let o = try! #require(onset)
        // The onset is the start of the first ~1 s window whose rate reaches 1 degC/s: at most
        // one window before the kink (a 2 degC/s ramp fills half a window), never after it.
        #expect(o >= 99.4 && o <= 100 + 0.05 / rateHz, "onset \(o) s at \(rateHz) Hz")
    }

    @Test func stopRulesDetectorAndCriterionAgree() {
        var criterion = GB38031RateCriterion()
        let rules = StopRuleEngine(rules: [])
        var detector = GB38031Detector()
        var criterionOnset: Double?, detectorAlarm: Double?
        for k in 0...200 {
            let t = Double(k)
            let c = Self.temperature(t)
            if let o = criterion.feed(t: t, celsius: c) { criterionOnset = o }
            _ = rules.observeTemperature(tNs: Int64(t * 1e9), celsius: c)
            // The detector's second condition (>= 60 degC) holds from t = 115 s on.
            if detector.step(t: t, features: ["cell_temp_c": c, "voltage_v": 4.2]) >= 0.5, detectorAlarm == nil { detectorAlarm = t }
        }
        #expect(criterionOnset == 100)
        #expect(rules.runawayTNs == 100_000_000_000)
        #expect(detector.criterion.onsetS == 100)
        #expect(detectorAlarm == 115, "sustained from t = 103 s, 60 degC at t = 115 s")
    }

    @Test func slowHeatingAndShortBurstsAreNotRunaway() {
        var slow = GB38031RateCriterion()
        for k in 0...600 { slow.feed(t: Double(k) / 10, celsius: 25 + 0.095 * Double(k)) }  // 0.95 degC/s
        #expect(slow.onsetS == nil)
        var burst = GB38031RateCriterion()
        for k in 0...100 { burst.feed(t: Double(k), celsius: k >= 50 && k < 52 ? 100 : 30) }
        #expect(burst.onsetS == nil)
        var bad = GB38031RateCriterion()
        #expect(bad.feed(t: .nan, celsius: 30) == nil && bad.feed(t: 1, celsius: .infinity) == nil && bad.rate == nil)
    }
}
