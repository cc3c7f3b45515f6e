import Foundation
import Testing
@testable import TRWFigures

/// Tick and range logic of the figures (issue 22: "0, 62, 124, 185 ..." ticks, a current panel
/// blowing ±1 mA of noise up to full height, an AE axis going to -32 hits/s).
@Suite struct AxisTests {
    @Test(arguments: [
        // span -> unit and step
        (0.0, 494.3, "s", 100.0),
        (0.0, 60.0, "s", 10.0),
        (0.0, 1.2, "s", 0.2),
        (0.0, 3600.0, "min", 10.0),
        (0.0, 5611.0, "min", 15.0),
        (0.0, 4 * 3600.0, "h", 0.5),
        (0.0, 26 * 3600.0, "h", 6.0),
        (-600.0, 120.0, "min", 2.0),
    ])
    func timeAxisPicksTheUnitAndARoundStep(t0: Double, t1: Double, unit: String, step: Double) {
        let a = Axis.timeAxis(t0, t1)
        #expect(a.unit == unit && a.step == step, "\(a)")
        #expect(a.ticks.count >= 4 && a.ticks.count <= 13, "\(a.ticks)")
        for t in a.ticks {
            #expect(t >= t0 - 1e-6 && t <= t1 + 1e-6)
            let inUnit = t / a.seconds / a.step
            #expect(abs(inUnit - inUnit.rounded()) < 1e-9, "tick \(t) s is not a multiple of \(a.step) \(a.unit)")
        }
    }

    @Test func timeLabelsAreRoundInTheirUnit() {
        let a = Axis.timeAxis(0, 4 * 3600)
        #expect(a.ticks.map(a.label) == ["0.0", "0.5", "1.0", "1.5", "2.0", "2.5", "3.0", "3.5", "4.0"])
        let m = Axis.timeAxis(-600, 120)
        #expect(m.label(-600) == "-10" && m.label(0) == "0")
        let s = Axis.timeAxis(0, 494.3)
        #expect(s.ticks.map(s.label) == ["0", "100", "200", "300", "400"])
    }

    @Test func noiseOnAFlatCurrentIsDrawnFlat() {
        let noisy = (0..<1000).map { 4.0 + 0.001 * sin(Double($0)) }
        let a = Axis.valueAxis(noisy, rule: .data(minimumSpan: 0.1, relativeSpan: 0.1))
        #expect(a.hi - a.lo >= 0.4 - 1e-9, "\(a)")
        #expect(a.lo <= 3.8 && a.hi >= 4.2)
        #expect(a.ticks.map(a.label) == ["3.6", "3.8", "4.0", "4.2", "4.4"] || a.ticks.map(a.label) == ["3.8", "3.9", "4.0", "4.1", "4.2"],
                "\(a.ticks.map(a.label))")
    }

    @Test func ratesStartAtZeroAndNeverGoNegative() {
        let a = Axis.valueAxis([0, 0, 3, 640, 2, 0], rule: .fromZero(minimumSpan: 1))
        #expect(a.lo == 0 && a.hi >= 640 && a.hi <= 800, "\(a)")
        #expect(a.ticks.first == 0 && a.ticks.allSatisfy { $0 >= 0 })
        let empty = Axis.valueAxis([], rule: .fromZero(minimumSpan: 1))
        #expect(empty.lo == 0 && empty.hi >= 1)
    }

    @Test func rangesLandOnTicksAndCoverTheData() {
        let v = [24.7, 25.3, 98.2, 382.2]
        let a = Axis.valueAxis(v, rule: .data(minimumSpan: 2, relativeSpan: 0.05))
        #expect(a.lo <= 24.7 && a.hi >= 382.2)
        #expect(a.ticks.first == a.lo && a.ticks.last == a.hi, "\(a)")
        #expect(a.ticks.map(a.label) == ["0", "100", "200", "300", "400"])
    }

    @Test func fixedRangesAndNonFiniteValues() {
        let a = Axis.valueAxis([.nan, 0.3, .infinity], rule: .fixed(0, 1))
        #expect(a.lo == 0 && a.hi == 1 && a.ticks.map(a.label) == ["0.00", "0.25", "0.50", "0.75", "1.00"])
        let b = Axis.valueAxis([.nan, .nan], rule: .data(minimumSpan: 1, relativeSpan: 0))
        #expect(b.hi > b.lo && b.lo.isFinite)
    }

    @Test func tickFormattingUsesTheStepsDecimalsAndNeverMinusZero() {
        #expect(Axis.formatTick(-0.0000001, step: 0.5) == "0.0")
        #expect(Axis.formatTick(2.5, step: 2.5) == "2.5")
        #expect(Axis.formatTick(1e4, step: 1000) == "10000")
        #expect(Axis.niceTicks(0, 1, count: 4) == [0, 0.25, 0.5, 0.75, 1])
        #expect(Axis.niceTicks(.nan, 1, count: 4).isEmpty)
    }

    @Test func longTextIsShortenedWithAnEllipsis() {
        #expect(SessionPlot.fit("self_heating_onset", maxChars: 19) == "self_heating_onset")
        #expect(SessionPlot.fit("a marker with a long text", maxChars: 10) == "a marker …")
    }
}
