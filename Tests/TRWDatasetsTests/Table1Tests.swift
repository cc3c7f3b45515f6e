import Foundation
import Testing
import TRWAnalysis
@testable import TRWDatasets

@Suite struct Table1Tests {
    @Test(arguments: [
        ("gb38031", "gb38031", "gb38031", "gb38031"),
        ("dp@1=dplstm:/m/s1", "dp@1", "dplstm:/m/s1", "dp"),
        ("lstm@2=exec:models/serve out/lstm/s2", "lstm@2", "exec:models/serve out/lstm/s2", "lstm"),
        ("exec:FOO=1 python3 det.py", "exec:FOO=1 python3 det.py", "exec:FOO=1 python3 det.py", "exec:FOO=1 python3 det.py"),
    ])
    func labelsAndGroups(_ d: String, _ label: String, _ spec: String, _ group: String) {
        #expect(DetectorLabel.label(d) == label)
        #expect(DetectorLabel.spec(d) == spec)
        #expect(DetectorLabel.group(label) == group)
    }

    /// Hand-computed: onset at 10 s, horizon 3 s, late 2 s: ticks 1..20, positives t in [7, 12], ticks > 12 not scored.
    @Test func tickMetricsHandComputed() {
        let t = (1...20).map(Double.init)
        let alarms = t.map { $0 >= 9 || $0 == 2 }          // TP: 9..12 (4), FN: 7, 8 (2), FP: t = 2 (1), TN: 5
        let scores = t.map { $0 >= 9 ? 0.9 : ($0 == 2 ? 0.8 : 0.1) }
        let pos = TickScores(session: "a", onsetS: 10, tS: t, scores: scores, alarms: alarms, latenciesNs: [])
        let m = TickMetrics.compute([pos], horizonS: 3, lateS: 2)
        #expect(m.ticks == 12 && m.positives == 6)
        #expect(abs(m.accuracy - 9.0 / 12) < 1e-12)
        #expect(abs(m.precision - 4.0 / 5) < 1e-12)
        #expect(abs(m.recall - 4.0 / 6) < 1e-12)
        #expect(abs(m.f1 - 2 * 0.8 * (4.0 / 6) / (0.8 + 4.0 / 6)) < 1e-12)
        #expect(abs(m.falseAlarmRate - 1.0 / 6) < 1e-12)
        // AUC: positives {0.1, 0.1, 0.9 x4}, negatives {0.1 x5, 0.8}: pairs won 4*6 + ties 2*5*0.5 ... computed directly
        var won = 0.0
        let p = [0.1, 0.1, 0.9, 0.9, 0.9, 0.9], n = [0.1, 0.8, 0.1, 0.1, 0.1, 0.1]
        for a in p { for b in n { won += a > b ? 1 : (a == b ? 0.5 : 0) } }
        #expect(abs(m.auc - won / 36) < 1e-12)
        // a negative run: every tick scored, all negative
        let neg = TickScores(session: "b", onsetS: nil, tS: [1, 2], scores: [0.2, 0.7], alarms: [false, true], latenciesNs: [])
        let m2 = TickMetrics.compute([neg], horizonS: 3, lateS: 2)
        #expect(m2.ticks == 2 && m2.positives == 0 && m2.recall.isNaN && m2.auc.isNaN && m2.falseAlarmRate == 0.5)
    }

    @Test func meanAndStdOverSeeds() {
        #expect(Table1.mean([1, 2, 3]) == 2)
        #expect(abs(Table1.std([1, 2, 3]) - 1) < 1e-12)
        #expect(Table1.mean([1, .nan, 3]) == 2)
        #expect(Table1.std([5]) == 0)
    }
}
