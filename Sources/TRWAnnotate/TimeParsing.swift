import Foundation
import TRWStore
import TRWCore

/// Times as people type them, to session nanoseconds:
/// * seconds since the session's start: `452.3`
/// * a duration since the start: `7:32.3` (m:s) or `1:07:32` (h:m:s)
/// * clock time: `@14:32:05` or `@14:32:05.250` (local time of day on the session's
///   start date, rolling over midnight), or `@2026-11-21T14:32:05Z` (ISO 8601, UTC)
/// * relative to a marker: `marker:vent seen`, `marker:vent seen+2.5`, `marker:smoke-10`
public enum TimeParsing {
    public struct Error: Swift.Error, CustomStringConvertible, Equatable {
        public var input: String
        public var reason: String
        public var description: String { "'\(input)' is not a time: \(reason)" }
    }

    public static let help = "seconds (452.3), m:s (7:32.3), h:m:s (1:07:32), clock time (@14:32:05, @2026-11-21T14:32:05Z) or marker:TEXT[+-s]"

    /// `startRealtimeNs`: the session's t = 0 as UTC nanoseconds (for clock times).
    public static func parse(_ raw: String, markers: [MarkerRecord], startRealtimeNs: Int64? = nil,
                             timeZone: TimeZone = .current) throws -> Int64 {
        let s = raw.trimmingCharacters(in: .whitespaces)
        if s.hasPrefix("marker:") {
            var body = String(s.dropFirst(7))
            var offset = 0.0
            if let r = body.range(of: #"[+-][0-9]+(\.[0-9]*)?$"#, options: .regularExpression) {
                offset = Double(body[r])!
                body.removeSubrange(r)
            }
            guard let m = markers.first(where: { $0.text == body }) else {
                throw Error(input: raw, reason: "no marker named '\(body)'; markers: \(markers.isEmpty ? "none" : markers.map(\.text).joined(separator: ", "))")
            }
            return try ns(Double(m.tNs) / 1e9 + offset, raw: raw)
        }
        if s.hasPrefix("@") {
            guard let start = startRealtimeNs else { throw Error(input: raw, reason: "the session has no start clock time") }
            let body = String(s.dropFirst())
            let startDate = Date(timeIntervalSince1970: Double(start) / 1e9)
            if body.contains("T") {
                let f = ISO8601DateFormatter()
                f.formatOptions = body.contains(".") ? [.withInternetDateTime, .withFractionalSeconds] : [.withInternetDateTime]
                guard let d = f.date(from: body) else { throw Error(input: raw, reason: "expected ISO 8601 like 2026-11-21T14:32:05Z") }
                return try ns(d.timeIntervalSince1970 - startDate.timeIntervalSince1970, raw: raw)
            }
            let secondsOfDay = try hms(body, raw: raw, requireHours: true)
            var cal = Calendar(identifier: .gregorian)
            cal.timeZone = timeZone
            let midnight = cal.startOfDay(for: startDate)
            var t = midnight.timeIntervalSince1970 + secondsOfDay - startDate.timeIntervalSince1970
            if t < -1 { t += 86_400 }  // after midnight on a run that started the day before
            return try ns(t, raw: raw)
        }
        return try ns(try hms(s, raw: raw, requireHours: false), raw: raw)
    }

    /// Session seconds to nanoseconds; NaN, infinities and times beyond the bound are refused (never a trap).
    static func ns(_ seconds: Double, raw: String) throws -> Int64 {
        guard let v = SessionTimeLimit.nanoseconds(seconds) else {
            throw Error(input: raw, reason: "expected \(SessionTimeLimit.expected) of session time")
        }
        return v
    }

    /// Durations: s, m:s, h:m:s. Clock times (`clock`): h:m or h:m:s. Sub-units below 60.
    static func hms(_ s: String, raw: String, requireHours clock: Bool) throws -> Double {
        let parts = s.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        let bad = Error(input: raw, reason: "use \(help)")
        guard (clock ? 2...3 : 1...3).contains(parts.count) else { throw bad }
        var nums: [Double] = []
        for (i, p) in parts.enumerated() {
            let last = i == parts.count - 1
            guard let v = last ? Double(p) : Double(Int(p) ?? -1), v >= 0, v.isFinite else { throw bad }
            if i > 0 && v >= 60 { throw bad }
            nums.append(v)
        }
        let weights: [Double] = clock ? (parts.count == 2 ? [3600, 60] : [3600, 60, 1])
                                      : [[1], [60, 1], [3600, 60, 1]][parts.count - 1]
        if clock && nums[0] >= 24 { throw Error(input: raw, reason: "hour \(Int(nums[0])) is not a time of day") }
        return zip(nums, weights).reduce(0) { $0 + $1.0 * $1.1 }
    }
}
