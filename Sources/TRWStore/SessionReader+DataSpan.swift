import Foundation
import GRDB

extension SessionReader {
    /// The session time of the last thing recorded, ns: the latest of AE hits (which can lie
    /// inside the last audio chunk, after its start), the end of the last audio chunk, the last
    /// frame and the last serial sample; nil when nothing is recorded. `extentNs()` stops at the
    /// last row start; exports that must not cut off a late hit use this.
    public func lastDataNs() throws -> Int64? {
        try read { db in
            let rows: [Int64?] = [
                try Int64.fetchOne(db, sql: "SELECT MAX(t_ns) FROM ae_hit"),
                try Int64.fetchOne(db, sql: """
                    SELECT MAX(c.t_ns + CAST(c.frame_count * 1e9 / s.nominal_rate_hz AS INTEGER))
                    FROM audio_chunk c JOIN stream s ON s.id = c.stream_id WHERE s.nominal_rate_hz > 0
                    """),
                try Int64.fetchOne(db, sql: "SELECT MAX(t_ns) FROM thermal_frame"),
                try Int64.fetchOne(db, sql: "SELECT MAX(t_ns) FROM bms_sample"),
            ]
            return rows.compactMap { $0 }.max()
        }
    }
}
