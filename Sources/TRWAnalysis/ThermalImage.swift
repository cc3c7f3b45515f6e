import Foundation
import TRWCodec
import TRWCore
import TRWStore

/// One IR frame in °C, decoded from a session.
public struct ThermalImage: Sendable {
    public var width: Int
    public var height: Int
    /// Row-major °C.
    public var celsius: [Float]
    public var tS: Double
    public var sequence: Int64
    public var streamKey: String
    /// Frames nearer to the asked time whose payload was damaged and were passed over
    /// (this image is then the nearest intact frame).
    public var skippedDamaged: [DamagedPayload] = []

    public init(width: Int, height: Int, celsius: [Float], tS: Double, sequence: Int64, streamKey: String) {
        self.width = width; self.height = height; self.celsius = celsius; self.tS = tS; self.sequence = sequence; self.streamKey = streamKey
    }

    /// The frame nearest to `tS` of the first (or the named) thermal stream.
    public static func load(_ r: SessionReader, at tS: Double, stream: String? = nil) throws -> ThermalImage {
        let streams = try r.streams(kind: .thermal)
        guard let s = stream.map({ k in streams.first { $0.key == k } }) ?? streams.first else {
            throw FeatureExtractionError.badOption(stream.map { "\(r.path): no thermal stream '\($0)'; it has \(streams.map(\.key))" }
                                                   ?? "\(r.path): the session has no thermal stream")
        }
        guard let cal = s.calibration, let w = s.width, let h = s.height else {
            throw FeatureExtractionError.badOption("\(r.path): thermal stream \(s.key) has no calibration or size")
        }
        let tNs = Int64((tS * 1e9).rounded())
        guard var rec = try r.frame(streamId: s.id!, closestTo: tNs) else {
            throw FeatureExtractionError.badOption("\(r.path): stream \(s.key) has no frames")
        }
        let dec = try FrameDecoder()
        var skipped: [DamagedPayload] = []
        var candidates: [Int64]? = nil
        while true {
            do throws(DamagedPayload) {
                let px = try r.pixels(of: rec, stream: s, decoder: dec)
                var c = [Float](repeating: 0, count: px.count)
                for i in 0..<px.count { c[i] = Float(cal.celsius(px[i])) }
                var img = ThermalImage(width: w, height: h, celsius: c, tS: Double(rec.tNs) / 1e9, sequence: rec.sequence, streamKey: s.key)
                img.skippedDamaged = skipped
                return img
            } catch {
                // Damaged: pass over it to the nearest intact frame (at most 64 tries), never show wrong pixels.
                skipped.append(error)
                if candidates == nil {
                    candidates = try r.frameIdsNearest(streamId: s.id!, to: rec.tNs, limit: 65).filter { $0 != rec.id }
                }
                guard skipped.count <= 64, let next = candidates?.first, let nextRec = try r.frame(id: next) else {
                    throw error
                }
                candidates?.removeFirst()
                rec = nextRec
            }
        }
    }

    public var hotspot: (x: Int, y: Int, c: Float) {
        var best = 0
        for i in 1..<celsius.count where celsius[i] > celsius[best] { best = i }
        return (best % width, best / width, celsius[best])
    }

    /// Block-mean downsampling to at most `cols` x `rows` cells.
    public func downsampled(cols: Int, rows: Int) -> (w: Int, h: Int, c: [Float]) {
        let w = max(1, min(cols, width)), h = max(1, min(rows, height))
        var out = [Float](repeating: 0, count: w * h)
        for y in 0..<h {
            let y0 = y * height / h, y1 = max(y0 + 1, (y + 1) * height / h)
            for x in 0..<w {
                let x0 = x * width / w, x1 = max(x0 + 1, (x + 1) * width / w)
                var s: Float = 0
                for yy in y0..<y1 { for xx in x0..<x1 { s += celsius[yy * width + xx] } }
                out[y * w + x] = s / Float((y1 - y0) * (x1 - x0))
            }
        }
        return (w, h, out)
    }

    /// RGB pixels through a colour map over [lo, hi] °C.
    public func rgb(lo: Float, hi: Float, map: ColorMap = .inferno) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: celsius.count * 3)
        let span = max(1e-6, hi - lo)
        for i in 0..<celsius.count {
            let (r, g, b) = map.rgb(Double((celsius[i] - lo) / span))
            out[i * 3] = r; out[i * 3 + 1] = g; out[i * 3 + 2] = b
        }
        return out
    }
}
