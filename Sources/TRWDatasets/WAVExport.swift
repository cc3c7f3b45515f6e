import Foundation
import TRWAcoustics
import TRWAnalysis
import TRWCodec
import TRWCore
import TRWStore

/// `trw export-wav`: each AE stream as a WAV file Audacity or sox opens (RF64 beyond
/// 4 GiB). Samples lost in gaps (xruns, drops) and chunks with damaged payloads are
/// written as silence so the file's time axis stays the session's; they are counted
/// and reported. A time window keeps the samples whose session time t lies in
/// [from, to): a sample's time is its chunk's t plus its index in the chunk over the
/// stream's nominal rate. `--audible` writes a heterodyned or time-stretched file
/// instead of the raw one. The file's LIST/INFO metadata names the session, its start
/// (UTC), the stream, the window and the time of the first sample, and the method.
public enum WAVExport {
    public struct Result: Sendable {
        public var path: String
        public var stream: String
        /// Input frames covered (written, or fed to the audible method), silence included.
        public var frames: Int64
        public var silenceFrames: Int64
        public var gaps: Int
        /// Chunks whose payload was damaged, written as silence (included in `silenceFrames` and `gaps`).
        public var damaged = DamageTally()
        /// Session time of the first sample, s (nil: no sample in the window).
        public var firstSampleS: Double?
        /// The file's sample rate and frame count (differ from the stream's with --audible).
        public var fileRate: Int = 0
        public var fileFrames: Int64 = 0
        public var rf64 = false
        /// The ICMT comment written into the file.
        public var comment: String = ""
    }

    public struct Options: Sendable {
        public var stream: String?
        /// Session-time window [from, to) in ns; nil: the whole stream.
        public var fromNs: Int64?
        public var toNs: Int64?
        public var audible: AudibleMethod?
        public var forceRF64 = false
        public init(stream: String? = nil, fromNs: Int64? = nil, toNs: Int64? = nil, audible: AudibleMethod? = nil, forceRF64: Bool = false) {
            self.stream = stream; self.fromNs = fromNs; self.toNs = toNs; self.audible = audible; self.forceRF64 = forceRF64
        }
    }

    public static func export(session: String, outputPrefix: String, stream: String? = nil) throws -> [Result] {
        try export(session: session, outputPrefix: outputPrefix, options: Options(stream: stream))
    }

    public static func export(session: String, outputPrefix: String, options: Options) throws -> [Result] {
        let r = try SessionReader(path: session)
        let sess = try r.session()
        let fromNs = options.fromNs ?? Int64.min, toNs = options.toNs ?? Int64.max
        var out: [Result] = []
        for st in try r.streams(kind: .ae) where options.stream == nil || st.key == options.stream {
            guard let fmt = SampleFormat(rawValue: st.sampleFormat ?? ""), let ch = st.channels else { continue }
            let rate = Int(st.nominalRateHz.rounded())
            try options.audible?.check(inputRate: rate, stream: st.key)
            let suffix = options.audible.map { m -> String in
                switch m { case .heterodyne: "-heterodyne"; case .stretch: "-stretch" }
            } ?? ""
            let path = "\(outputPrefix)\(st.key)\(suffix).wav"
            // Chunks overlapping the window: those starting before `to` and ending after `from`.
            let margin = Int64(1e9 * 65536 / max(1, st.nominalRateHz))
            let range: Range<Int64>? = (options.fromNs == nil && options.toNs == nil) ? nil
                : (fromNs == Int64.min ? Int64.min : fromNs - margin)..<toNs
            // The first sample's time decides the metadata, written in the header before the data.
            var first: (tNs: Int64, index: Int64)? = nil
            try r.forEachAudioChunk(streamId: st.id!, range: range) { c in
                guard first == nil else { return }
                let n = samplesInWindow(c, rate: st.nominalRateHz, fromNs: fromNs, toNs: toNs)
                if n.count > 0 { first = (sampleTime(c, n.lowerBound, rate: st.nominalRateHz), c.firstSampleIndex + Int64(n.lowerBound)) }
            }
            guard let first else {
                if options.fromNs != nil || options.toNs != nil {
                    throw FeatureExtractionError.badOption("\(session): stream \(st.key) has no samples between "
                        + String(format: "%.3f and %.3f s", Double(options.fromNs ?? 0) / 1e9, Double(toNs == Int64.max ? (sess.endTNs ?? 0) : toNs) / 1e9))
                }
                throw FeatureExtractionError.badOption("\(session): stream \(st.key) has no audio chunks")
            }
            var comment = "trw export-wav of session '\(sess.name)' (uuid \(sess.uuid)), started \(sess.startUtc); stream \(st.key), "
                + "\(ch) ch \(fmt.rawValue) at \(rate) Hz; "
            comment += "window " + (options.fromNs == nil && options.toNs == nil ? "whole stream"
                : String(format: "t = %.6f to %@ s", Double(options.fromNs ?? 0) / 1e9,
                         options.toNs.map { String(format: "%.6f", Double($0) / 1e9) } ?? "end"))
            comment += String(format: "; first sample at t = %.9f s (sample index %lld); ", Double(first.tNs) / 1e9, first.index)
            comment += options.audible?.explanation(inputRate: rate) ?? "raw samples"
            comment += "; gaps and damaged chunks are silence (trw's output lists them)"
            let fileRate = options.audible?.outputRate(inputRate: rate) ?? rate
            let info: [(String, String)] = [
                ("INAM", "\(sess.name) \(st.key)"), ("ICRD", sess.startUtc), ("ISFT", "trw \(sess.softwareVersion)"),
                ("ICMT", comment),
            ]
            let w = try WAVWriter(path: path, sampleRate: fileRate, channels: ch, format: fmt, info: info, forceRF64: options.forceRF64)
            var het: HeterodyneProcessor? = nil
            if case .heterodyne(let lo) = options.audible { het = HeterodyneProcessor(inputRate: rate, loHz: lo, channels: ch, format: fmt) }
            func emit(_ s: [Int32]) throws {
                if het != nil { try w.write(het!.process(s)) } else { try w.write(s) }
            }
            let dec = try PCMDecoder()
            var next: Int64? = nil
            var frames: Int64 = 0, silence: Int64 = 0, gaps = 0
            var damaged = DamageTally()
            try r.forEachAudioChunk(streamId: st.id!, range: range) { c in
                let window = samplesInWindow(c, rate: st.nominalRateHz, fromNs: fromNs, toNs: toNs)
                guard window.count > 0 else { return }
                let startIndex = c.firstSampleIndex + Int64(window.lowerBound)
                if let n = next, startIndex > n {
                    var missing = startIndex - n
                    gaps += 1
                    silence += missing
                    while missing > 0 {
                        let k = Int(min(missing, 65536))
                        try emit([Int32](repeating: 0, count: k * ch))
                        missing -= Int64(k)
                    }
                }
                var s: [Int32]
                var good = true
                do throws(DamagedPayload) { s = try r.samples(of: c, stream: st, decoder: dec) } catch {
                    good = false
                    // A damaged chunk becomes silence of its length, counted (never wrong samples).
                    damaged.record(error)
                    gaps += 1
                    silence += Int64(window.count)
                    s = [Int32](repeating: 0, count: c.frameCount * ch)
                }
                if window.count < c.frameCount { s = Array(s[(window.lowerBound * ch)..<(window.upperBound * ch)]) }
                try emit(s)
                if good { frames += Int64(window.count) }
                next = startIndex + Int64(window.count)
            }
            if het != nil { try w.write(het!.finish()) }
            try w.finish()
            out.append(Result(path: path, stream: st.key, frames: frames + silence, silenceFrames: silence, gaps: gaps,
                              damaged: damaged, firstSampleS: Double(first.tNs) / 1e9, fileRate: fileRate,
                              fileFrames: w.framesWritten, rf64: w.isRF64, comment: comment))
        }
        return out
    }

    /// Session time of sample `i` of chunk `c`.
    static func sampleTime(_ c: AudioChunkRecord, _ i: Int, rate: Double) -> Int64 {
        c.tNs + Int64((Double(i) * 1e9 / rate).rounded())
    }

    /// The samples of `c` whose time lies in [fromNs, toNs).
    static func samplesInWindow(_ c: AudioChunkRecord, rate: Double, fromNs: Int64, toNs: Int64) -> Range<Int> {
        var lo = 0, hi = c.frameCount
        if fromNs != Int64.min {
            // First i with sampleTime >= from.
            var a = 0, b = c.frameCount
            while a < b { let m = (a + b) / 2; if sampleTime(c, m, rate: rate) >= fromNs { b = m } else { a = m + 1 } }
            lo = a
        }
        if toNs != Int64.max {
            var a = 0, b = c.frameCount
            while a < b { let m = (a + b) / 2; if sampleTime(c, m, rate: rate) >= toNs { b = m } else { a = m + 1 } }
            hi = a
        }
        return lo..<max(lo, hi)
    }
}
