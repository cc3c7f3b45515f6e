import Testing
import TRWCore
import TRWTestSupport

@Suite struct FrameStatisticsTests {
    @Test func findsHotspotMinMaxMean() {
        var px = [UInt16](repeating: 1000, count: 7 * 5)
        px[3 * 7 + 4] = 5000  // (x 4, y 3)
        px[0] = 10
        let s = FrameStatistics.compute(pixels: px, width: 7, height: 5)
        #expect(s.maxCounts == 5000)
        #expect(s.minCounts == 10)
        #expect(s.hotspotX == 4 && s.hotspotY == 3)
        let expectedMean = (Double(1000 * 33) + 5000 + 10) / 35
        #expect(abs(s.meanCounts - expectedMean) < 1e-9)
    }

    @Test func firstOfEqualMaximaWins() {
        let px = [UInt16](repeating: 7, count: 12)
        let s = FrameStatistics.compute(pixels: px, width: 4, height: 3)
        #expect(s.hotspotX == 0 && s.hotspotY == 0)
        #expect(s.minCounts == 7 && s.maxCounts == 7 && s.meanCounts == 7)
    }

    @Test func calibrationRoundTrip() {
        let c = ThermalCalibration.tLinear10mK
        #expect(abs(c.celsius(c.counts(celsius: 123.45)) - 123.45) < 0.005 + 1e-9)
        #expect(c.counts(celsius: -400) == 0)
    }

    @Test func sessionClockIsMonotonicBased() {
        let clock = SessionClock(startMonotonicNs: 1_000, startRealtimeNs: 5_000)
        #expect(clock.sessionTime(monotonic: 3_500) == 2_500)
    }
}
