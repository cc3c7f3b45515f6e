import Foundation
import TRWAcoustics
import TRWCodec
import TRWCore
import TRWStore

/// `trw export-wav`: each AE stream as a WAV file Audacity or sox opens.
/// Samples lost in gaps (xruns, drops) are written as silence so the file's
/// time axis stays the session's; the gaps are reported.
public enum WAVExport {
    public struct Result: Sendable {
        public var path: String
        public var stream: String
        public var frames: Int64
        public var silenceFrames: Int64
        public var gaps: Int
        /// Chunks whose payload was damaged, written as silence (included in `silenceFrames` and `gaps`).
        public var damaged = DamageTally()
    }

    public static func export(session: String, outputPrefix: String, stream: String? = nil) throws -> [Result] {
        let r = try SessionReader(path: session)
        var out: [Result] = []
        for st in try r.streams(kind: .ae) where stream == nil || st.key == stream {
            guard let fmt = SampleFormat(rawValue: st.sampleFormat ?? ""), let ch = st.channels else { continue }
            let path = "\(outputPrefix)\(st.key).wav"
            let w = try WAVWriter(path: path, sampleRate: Int(st.nominalRateHz.rounded()), channels: ch, format: fmt)
            let dec = try PCMDecoder()
            var next: Int64? = nil
            var frames: Int64 = 0, silence: Int64 = 0, gaps = 0
            var damaged = DamageTally()
            try r.forEachAudioChunk(streamId: st.id!) { c in
                if let n = next, c.firstSampleIndex > n {
                    var missing = c.firstSampleIndex - n
                    gaps += 1
                    silence += missing
                    while missing > 0 {
                        let k = Int(min(missing, 65536))
                        try w.write([Int32](repeating: 0, count: k * ch))
                        missing -= Int64(k)
                    }
                }
                let s: [Int32]
                var good = true
                do throws(DamagedPayload) { s = try r.samples(of: c, stream: st, decoder: dec) } catch {
                    good = false
                    // A damaged chunk becomes silence of its length, counted (never wrong samples).
                    damaged.record(error)
                    gaps += 1
                    silence += Int64(c.frameCount)
                    s = [Int32](repeating: 0, count: c.frameCount * ch)
                }
                try w.write(s)
                if good { frames += Int64(c.frameCount) }
                next = c.firstSampleIndex + Int64(c.frameCount)
            }
            try w.finish()
            out.append(Result(path: path, stream: st.key, frames: frames + silence, silenceFrames: silence, gaps: gaps,
                              damaged: damaged))
        }
        return out
    }
}
