import Foundation
import Testing
import TRWStore
@testable import TRWFigures
import TRWRecorder

@Suite struct InfoReportFormatTests {
    /// Rounded once at the printed precision: 1799.96 s was printed "29m60.0s".
    @Test(arguments: [(4.24, "4.2s"), (59.96, "1m00.0s"), (494.3, "8m14.3s"), (1799.96, "30m00.0s"),
                      (3599.7, "1h00m00s"), (7507.2, "2h05m07s"), (Double.nan, "-")])
    func durations(seconds: Double, text: String) {
        #expect(InfoReport.duration(seconds) == text)
    }

    @Test func predictionRunsAreSummarised() {
        func row(_ t: Int64, _ s: Double, _ a: Bool) -> PredictionRecord {
            PredictionRecord(model: "vdrop", modelVersion: "0.1.0", runId: "live-x", tNs: t * 1_000_000_000, score: s, alarm: a,
                             latencyNs: nil, parametersJson: "{}")
        }
        let text = InfoReport.predictionsText([row(1, 0.1, false), row(2, 0.9, true), row(3, 0.8, true), row(4, 0.2, false), row(5, 0.7, true)])
        #expect(text.contains("vdrop") && text.contains("5 ticks, max score 0.90, 2 alarm(s) at t = 2.0, 5.0 s"), "\(text)")
        #expect(InfoReport.predictionsText([]).isEmpty)
    }
}
