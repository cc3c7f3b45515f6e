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

/// The precursor-anchored protocol (docs/metrics.md, issue 20): hand-made runs with known answers.
@Suite struct PrecursorScoringTests {
    let w = ScoringWindow()  // precursor, early 600 s without a precursor, at most 1800 s before onset, late 10 s

    func run(_ onset: Double?, precursor: Double?, rises: [Double], falls: [Double], duration: Double = 2000) -> RunOutcome {
        RunOutcome(session: "r", onsetS: onset, precursorS: precursor, durationS: duration, alarmTimesS: rises, alarmFallTimesS: falls,
                   latenciesNs: [])
    }

    @Test func anAlarmOnWhenTheWindowOpensCountsAndItsRiseIsAFalseAlarm() {
        // Rose at 100 s (no physical precursor yet) and stayed on; venting at 700 s, onset 1000 s.
        let r = run(1000, precursor: 700, rises: [100], falls: [])
        #expect(r.windowOpensS(w) == 700)
        #expect(r.detection(w) == 700)
        #expect(r.falseAlarms(w) == 1)
        #expect(abs(r.negativeHours(w) - 700 / 3600) < 1e-12)
        // The old fixed window sees a rise at 100 s only: a miss and a false alarm.
        let fixed = ScoringWindow(earlyS: 600, lateS: 10)
        #expect(r.detection(fixed) == nil && r.falseAlarms(fixed) == 1)
    }

    @Test func anAlarmThatFellBeforeThePrecursorIsOnlyAFalseAlarm() {
        let r = run(1000, precursor: 700, rises: [100, 800], falls: [150])
        #expect(r.detection(w) == 800)
        #expect(r.falseAlarms(w) == 1)
        let missed = run(1000, precursor: 700, rises: [100], falls: [150])
        #expect(missed.detection(w) == nil && missed.falseAlarms(w) == 1)
    }

    @Test func theWindowIsCappedAndFallsBackWithoutAPrecursor() {
        // Self-heating labelled at 0 s of a 5000 s run: the window opens 1800 s before onset.
        let capped = run(5000, precursor: 0, rises: [1000, 3300], falls: [1010, 3400])
        #expect(capped.windowOpensS(w) == 3200)
        #expect(capped.detection(w) == 3300 && capped.falseAlarms(w) == 1)
        // No precursor label: onset - 600 s.
        let bare = run(1000, precursor: nil, rises: [300, 450], falls: [310, 460])
        #expect(bare.windowOpensS(w) == 400 && bare.detection(w) == 450 && bare.falseAlarms(w) == 1)
        // A precursor labelled after onset does not move the window past onset.
        #expect(run(1000, precursor: 1005, rises: [], falls: []).windowOpensS(w) == 1000)
        // Late margin: an alarm rising at onset + 10 s counts, at onset + 11 s does not.
        #expect(run(1000, precursor: 900, rises: [1010], falls: []).detection(w) == 1010)
        #expect(run(1000, precursor: 900, rises: [1011], falls: []).detection(w) == nil)
    }

    @Test func negativeRunsCountEveryRise() {
        let r = run(nil, precursor: nil, rises: [10, 20, 30], falls: [15, 25], duration: 3600)
        #expect(r.detection(w) == nil && r.falseAlarms(w) == 3 && r.negativeHours(w) == 1)
    }

    @Test func perTickAlarmsGiveRisesAndFalls() {
        let r = RunOutcome(session: "t", onsetS: 6, precursorS: 3, durationS: 8, tickTimesS: [1, 2, 3, 4, 5, 6, 7, 8],
                           alarms: [true, true, false, false, true, true, true, true], latenciesNs: [], family: "x")
        #expect(r.alarmTimesS == [1, 5] && r.alarmFallTimesS == [3])
        #expect(r.detection(w) == 5 && r.falseAlarms(w) == 1)
    }

    @Test func bootstrapIntervalsAreDeterministicAndHoldThePointEstimate() {
        var runs: [RunOutcome] = []
        for i in 0..<20 {
            let detected = i % 4 != 0  // 15 of 20
            runs.append(run(1000, precursor: 800, rises: detected ? [900 + Double(i)] : [], falls: []))
        }
        for i in 0..<10 { runs.append(run(nil, precursor: nil, rises: i == 0 ? [50] : [], falls: [], duration: 3600)) }
        let a = BootstrapIntervals.compute(outcomes: runs, window: w, replicates: 500)
        let b = BootstrapIntervals.compute(outcomes: runs, window: w, replicates: 500)
        #expect(a == b)
        let s = DetectorScore.compute(detector: "d", outcomes: runs, window: w)
        let recall = try! #require(a.recall)
        #expect(recall.contains(s.recall) && recall.lowerBound < 0.75 && recall.upperBound > 0.75 && recall.upperBound <= 1)
        #expect(try! #require(a.leadMedian).contains(s.leadMedian))
        // Every run detected: the interval is a point.
        let all = (0..<5).map { _ in run(1000, precursor: 800, rises: [900], falls: []) }
        #expect(BootstrapIntervals.compute(outcomes: all, window: w, replicates: 100).recall == 1...1)
    }

    @Test func familiesNameChemistryFormatRateOrControlKind() {
        #expect(RunFamily.of(chemistry: "NCM", format: "pouch", protocolText: "overcharge 2.0C CC from 135 % SOC", sessionName: "demo", hasOnset: true) == "NCM pouch >=2C")
        #expect(RunFamily.of(chemistry: "LFP", format: "prismatic", protocolText: "overcharge 0.5C CC", sessionName: "x", hasOnset: true) == "LFP prismatic 0.5-1C")
        #expect(RunFamily.of(chemistry: "NCM", format: "pouch", protocolText: "overcharge 0.33C", sessionName: "x", hasOnset: true) == "NCM pouch <0.5C")
        #expect(RunFamily.of(chemistry: nil, format: nil, protocolText: nil, sessionName: "x", hasOnset: true) == "? ? C?")
        #expect(RunFamily.of(chemistry: "NCM", format: "pouch", protocolText: "charge 1C", sessionName: "control_charge_rest_v3", hasOnset: false) == "negative: control_charge_rest")
    }
}
