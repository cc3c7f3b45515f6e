import Foundation
import Testing
import TRWStore
@testable import TRWAnnotate

@Suite struct TimeParsingTests {
    let markers = [MarkerRecord(tNs: 100_000_000_000, text: "vent seen", author: "a", origin: "key")]

    @Test func secondsDurationsAndMarkers() throws {
        #expect(try TimeParsing.parse("452.3", markers: []) == 452_300_000_000)
        #expect(try TimeParsing.parse("7:32.5", markers: []) == 452_500_000_000)
        #expect(try TimeParsing.parse("1:07:32", markers: []) == 4_052_000_000_000)
        #expect(try TimeParsing.parse("marker:vent seen", markers: markers) == 100_000_000_000)
        #expect(try TimeParsing.parse("marker:vent seen+2.5", markers: markers) == 102_500_000_000)
        #expect(try TimeParsing.parse("marker:vent seen-10", markers: markers) == 90_000_000_000)
    }

    @Test func clockTimesAreRelativeToTheSessionStart() throws {
        // Session started 2026-11-21 14:00:00 UTC.
        let start = Int64(ISO8601DateFormatter().date(from: "2026-11-21T14:00:00Z")!.timeIntervalSince1970) * 1_000_000_000
        let utc = TimeZone(identifier: "UTC")!
        #expect(try TimeParsing.parse("@14:32:05", markers: [], startRealtimeNs: start, timeZone: utc) == 1925 * 1_000_000_000)
        #expect(try TimeParsing.parse("@14:32", markers: [], startRealtimeNs: start, timeZone: utc) == 1920 * 1_000_000_000)
        #expect(try TimeParsing.parse("@2026-11-21T14:00:10Z", markers: [], startRealtimeNs: start) == 10 * 1_000_000_000)
        // Past midnight on a run that started the evening before.
        let evening = start + 9 * 3600 * 1_000_000_000  // 23:00
        #expect(try TimeParsing.parse("@00:30:00", markers: [], startRealtimeNs: evening, timeZone: utc) == 5400 * 1_000_000_000)
    }

    @Test func badInputNamesTheInputAndTheForms() {
        for bad in ["", "abc", "1:75", "-3", "1:2:3:4", "@25:00", "marker:nope"] {
            do {
                _ = try TimeParsing.parse(bad, markers: markers, startRealtimeNs: 0)
                Issue.record("'\(bad)' parsed")
            } catch let e as TimeParsing.Error {
                #expect(e.description.contains("'\(bad)'"))
                #expect(e.description.contains("seconds") || e.description.contains("marker") || e.description.contains("time of day"))
            } catch {
                Issue.record("unexpected \(error)")
            }
        }
        #expect(throws: TimeParsing.Error.self) { try TimeParsing.parse("@14:00", markers: []) }
    }
}
