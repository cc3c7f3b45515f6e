import Foundation
import Testing
@testable import TRWAnalysis

@Suite struct ScoringTests {
    let w = ScoringWindow(earlyS: 100, lateS: 10)

    @Test func handMadeRunsGiveKnownMetrics() {
        let runs = [
            // Detected 30 s early, one false alarm long before the window.
            RunOutcome(session: "a", onsetS: 1000, durationS: 1200, alarmTimesS: [200, 970], latenciesNs: [1000, 3000]),
            // Detected 5 s late (inside the late margin).
            RunOutcome(session: "b", onsetS: 500, durationS: 700, alarmTimesS: [505], latenciesNs: [2000]),
            // Missed: alarm only after onset + 10 s.
            RunOutcome(session: "c", onsetS: 500, durationS: 700, alarmTimesS: [520], latenciesNs: [4000]),
            // Negative run with two alarms, 1 hour long.
            RunOutcome(session: "n1", onsetS: nil, durationS: 3600, alarmTimesS: [10, 20], latenciesNs: [5000]),
            // Quiet negative run, 1 hour.
            RunOutcome(session: "n2", onsetS: nil, durationS: 3600, alarmTimesS: [], latenciesNs: []),
        ]
        let s = DetectorScore.compute(detector: "x", outcomes: runs, window: w)
        #expect(s.runs == 5 && s.positives == 3 && s.detected == 2)
        #expect(abs(s.recall - 2.0 / 3.0) < 1e-12)
        #expect(s.falseAlarms == 3)  // 200 s in run a, two on n1
        #expect(s.negativeRuns == 2 && s.negativeRunsWithAlarm == 1)
        // Negative hours: a: 900 s, b: 400 s, c: 400 s, n1 + n2: 7200 s.
        #expect(abs(s.negativeHours - (900 + 400 + 400 + 7200) / 3600.0) < 1e-12)
        #expect(abs(s.falseAlarmsPerHour - 3 / ((900 + 400 + 400 + 7200) / 3600.0)) < 1e-9)
        #expect(s.leadTimesS == [30, -5])
        #expect(abs(s.leadMean - 12.5) < 1e-12)
        #expect(abs(s.leadStd - (2 * 17.5 * 17.5).squareRoot()) < 1e-9)
        #expect(abs(s.latencyP50Us - 3.0) < 1e-12)  // 1, 2, 3, 4, 5 µs
        #expect(abs(s.latencyP99Us - 4.96) < 1e-9)
    }

    @Test func percentileMatchesNumpyLinear() {
        #expect(Scoring.percentile([1, 2, 3, 4], 50) == 2.5)
        #expect(Scoring.percentile([10], 99) == 10)
        #expect(Scoring.percentile([], 50).isNaN)
    }

    @Test func alarmNeedsKConsecutiveTicks() {
        var a = AlarmRule(k: 3)
        #expect([0.6, 0.6, 0.4, 0.6, 0.6, 0.6, 0.9].map { a.step($0) } == [false, false, false, false, false, true, true])
    }
}

@Suite struct DetectorTests {
    func feed(_ d: inout some OnlineDetector, temps: [Double], volts: [Double]? = nil) -> [Double] {
        temps.indices.map { i in
            var f: [String: Double] = ["cell_temp_c": temps[i]]
            if let v = volts { f["voltage_v"] = v[i] }
            return d.step(t: Double(i), features: f)
        }
    }

    @Test func gb38031NeedsSustainedRateAndASecondCondition() {
        // 2 degC/s from t = 10 s, starting at 40 degC: the rise starts at t = 10 (rate first seen at t = 11) and has held 3 s at t = 13;
        // 60 degC (max working temperature) is crossed at t = 20.
        let temps = (0..<40).map { $0 < 10 ? 40.0 : 40 + 2 * Double($0 - 10) }
        var d = GB38031Detector()
        let s = feed(&d, temps: temps, volts: [Double](repeating: 4.2, count: 40))
        #expect(s.firstIndex { $0 >= 0.5 } == 20)
        // With a voltage collapse at t = 15 the criterion is met as soon as the rate has held 3 s.
        var d2 = GB38031Detector()
        let s2 = feed(&d2, temps: temps, volts: (0..<40).map { $0 < 15 ? 4.2 : 2.0 })
        #expect(s2.firstIndex { $0 >= 0.5 } == 15)
        // Slow heating never triggers.
        var d3 = GB38031Detector()
        #expect(feed(&d3, temps: (0..<200).map { 25 + 0.5 * Double($0) }).allSatisfy { $0 < 0.5 })
    }

    @Test func thresholdsScoreHalfAtTheirThreshold() {
        var d = DTDTDetector(thresholdCPerS: 1, windowS: 1)
        let s = feed(&d, temps: [20, 21, 22, 23])
        #expect(abs(s[3] - 0.5) < 1e-12)
        var v = VoltageDropDetector(dropV: 0.5)
        let sv = (0..<3).map { i in v.step(t: Double(i), features: ["voltage_v": [4.2, 4.0, 3.7][i]]) }
        #expect(abs(sv[2] - 0.5) < 1e-12)
    }
}
