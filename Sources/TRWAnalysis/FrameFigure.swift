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
        guard var rec = try r.frame(streamId: s.id!, nearest: tNs) else {
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

/// `trw frame`: one IR frame with a colour bar, its hotspot and a title, as SVG
/// (PNG through `SVGRaster`). An optional overlay (e.g. an attribution mask,
/// values in [0, 1] at the frame's size) is drawn over it.
public enum FrameFigure {
    public struct Overlay: Sendable {
        public enum Style: Sendable { case mask, heat }
        public var width: Int, height: Int
        public var values: [Float]
        public var label: String
        public var threshold: Float
        public var style: Style
        /// `mask`: cyan where value >= threshold. `heat`: values in [0, 1] as red with opacity rising
        /// with the value (below `threshold` transparent).
        public init(width: Int, height: Int, values: [Float], label: String, threshold: Float = 0.5, style: Style = .mask) {
            self.width = width; self.height = height; self.values = values; self.label = label; self.threshold = threshold; self.style = style
        }
    }

    public static func svg(_ img: ThermalImage, title: String, range: (Float, Float)? = nil, map: ColorMap = .inferno,
                           overlay: Overlay? = nil, displayWidth: Int = 640) throws -> String {
        let hs = img.hotspot
        let lo = range?.0 ?? (img.celsius.min() ?? 0)
        let hi = range?.1 ?? max(lo + 1, img.celsius.max() ?? 1)
        // Upscale by pixel replication so renderers cannot smooth a small frame into detail it does not have.
        let k = max(1, displayWidth / img.width)
        let png = try PNG.encode(width: img.width * k, height: img.height * k, pixels: replicate(img.rgb(lo: lo, hi: hi, map: map), img.width, img.height, k, 3))
        let scale = Double(displayWidth) / Double(img.width)
        let dw = Double(displayWidth), dh = Double(img.height) * scale
        let left = 20.0, top = 56.0, barX = left + dw + 24, barW = 18.0
        let W = barX + barW + 70, H = top + dh + 40
        var s = """
            <svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="\(Int(W))" height="\(Int(H))" viewBox="0 0 \(Int(W)) \(Int(H))" font-family="DejaVu Sans, Helvetica, Arial, sans-serif">
            <rect width="100%" height="100%" fill="white"/>
            <text x="\(left)" y="24" font-size="16" font-weight="bold">\(xml(title))</text>
            <text x="\(left)" y="44" font-size="12" fill="#333">\(xml(displayWidth >= 600 ? String(format: "%@ frame %lld at t = %.3f s, %dx%d px; max %.1f °C at (%d, %d), min %.1f °C", img.streamKey, img.sequence, img.tS, img.width, img.height, hs.c, hs.x, hs.y, img.celsius.min() ?? 0) : String(format: "t = %.1f s, %dx%d px, max %.1f °C at (%d, %d)", img.tS, img.width, img.height, hs.c, hs.x, hs.y)))</text>
            <image x="\(left)" y="\(top)" width="\(dw)" height="\(dh)" preserveAspectRatio="none" style="image-rendering:pixelated" xlink:href="data:image/png;base64,\(png.base64EncodedString())"/>

            """
        if let o = overlay {
            // The mask as a translucent cyan layer with its outline cells.
            var px = [UInt8](repeating: 0, count: o.width * o.height * 4)
            for i in 0..<(o.width * o.height) where o.values[i] >= o.threshold {
                switch o.style {
                case .mask:
                    px[i * 4] = 0; px[i * 4 + 1] = 255; px[i * 4 + 2] = 255
                    px[i * 4 + 3] = UInt8(min(255, 90 + 120 * Double(min(1, o.values[i]))))
                case .heat:
                    let v = Double(min(1, max(0, o.values[i])))
                    px[i * 4] = 255; px[i * 4 + 1] = UInt8(255 * (1 - v)); px[i * 4 + 2] = 0
                    px[i * 4 + 3] = UInt8(40 + 190 * v)
                }
            }
            let ko = max(1, displayWidth / o.width)
            let op = try PNG.encode(width: o.width * ko, height: o.height * ko, pixels: replicate(px, o.width, o.height, ko, 4), alpha: true)
            s += "<image x=\"\(left)\" y=\"\(top)\" width=\"\(dw)\" height=\"\(dh)\" preserveAspectRatio=\"none\" style=\"image-rendering:pixelated\" xlink:href=\"data:image/png;base64,\(op.base64EncodedString())\"/>\n"
            s += "<text x=\"\(left)\" y=\"\(top + dh + 18)\" font-size=\"12\" fill=\"#007a7a\">\(xml(o.label))</text>\n"
        }
        // Hotspot crosshair.
        let hx = left + (Double(hs.x) + 0.5) * scale, hy = top + (Double(hs.y) + 0.5) * scale
        s += "<g stroke=\"#00e5ff\" stroke-width=\"1.5\" fill=\"none\"><circle cx=\"\(hx)\" cy=\"\(hy)\" r=\"9\"/><line x1=\"\(hx - 15)\" y1=\"\(hy)\" x2=\"\(hx - 5)\" y2=\"\(hy)\"/><line x1=\"\(hx + 5)\" y1=\"\(hy)\" x2=\"\(hx + 15)\" y2=\"\(hy)\"/><line x1=\"\(hx)\" y1=\"\(hy - 15)\" x2=\"\(hx)\" y2=\"\(hy - 5)\"/><line x1=\"\(hx)\" y1=\"\(hy + 5)\" x2=\"\(hx)\" y2=\"\(hy + 15)\"/></g>\n"
        // Colour bar: a vertical gradient with ticks.
        s += "<defs><linearGradient id=\"cbar\" x1=\"0\" y1=\"1\" x2=\"0\" y2=\"0\">"
        for i in 0...16 { s += "<stop offset=\"\(Double(i) / 16)\" stop-color=\"\(map.hex(Double(i) / 16))\"/>" }
        s += "</linearGradient></defs>\n"
        s += "<rect x=\"\(barX)\" y=\"\(top)\" width=\"\(barW)\" height=\"\(dh)\" fill=\"url(#cbar)\" stroke=\"#222\" stroke-width=\"0.8\"/>\n"
        for v in niceTicks(Double(lo), Double(hi), count: 6) {
            let y = top + dh * (1 - (v - Double(lo)) / Double(hi - lo))
            s += "<line x1=\"\(barX + barW)\" y1=\"\(y)\" x2=\"\(barX + barW + 5)\" y2=\"\(y)\" stroke=\"#222\"/>"
            s += "<text x=\"\(barX + barW + 8)\" y=\"\(y + 4)\" font-size=\"11\">\(formatTick(v))</text>\n"
        }
        s += "<text x=\"\(barX + barW / 2)\" y=\"\(top - 8)\" font-size=\"12\" text-anchor=\"middle\">°C</text>\n"
        s += "</svg>\n"
        return s
    }

    static func replicate(_ px: [UInt8], _ w: Int, _ h: Int, _ k: Int, _ bpp: Int) -> [UInt8] {
        guard k > 1 else { return px }
        var out = [UInt8](repeating: 0, count: w * k * h * k * bpp)
        for y in 0..<(h * k) {
            for x in 0..<(w * k) {
                let s = ((y / k) * w + x / k) * bpp, d = (y * w * k + x) * bpp
                for c in 0..<bpp { out[d + c] = px[s + c] }
            }
        }
        return out
    }

    /// Several figures side by side in one SVG (each a complete `svg(...)` output).
    public static func row(_ figures: [String], title: String) -> String {
        var x = 0.0, h = 0.0
        var body = ""
        for f in figures {
            let w = Double(attr(f, "width")) ?? 800, fh = Double(attr(f, "height")) ?? 600
            body += f.replacingOccurrences(of: "<svg ", with: "<svg x=\"\(x)\" y=\"30\" ", options: [], range: f.range(of: "<svg "))
            x += w; h = max(h, fh)
        }
        return """
            <svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="\(Int(x))" height="\(Int(h + 30))" font-family="DejaVu Sans, Helvetica, Arial, sans-serif">
            <rect width="100%" height="100%" fill="white"/>
            <text x="20" y="22" font-size="16" font-weight="bold">\(xml(title))</text>
            \(body)</svg>

            """
    }

    static func attr(_ svg: String, _ name: String) -> String {
        guard let r = svg.range(of: "\(name)=\""), let e = svg[r.upperBound...].firstIndex(of: "\"") else { return "" }
        return String(svg[r.upperBound..<e])
    }

    /// Round tick values covering [lo, hi].
    public static func niceTicks(_ lo: Double, _ hi: Double, count: Int) -> [Double] {
        guard hi > lo, count > 0 else { return [lo] }
        let raw = (hi - lo) / Double(count)
        let mag = pow(10, floor(log10(raw)))
        let step = [1.0, 2, 2.5, 5, 10].map { $0 * mag }.first { $0 >= raw } ?? 10 * mag
        var v = (lo / step).rounded(.up) * step
        var out: [Double] = []
        while v <= hi + step * 1e-9 { out.append(v); v += step }
        return out
    }

    public static func formatTick(_ v: Double) -> String {
        v == v.rounded() ? String(Int(v)) : String(format: "%.1f", v)
    }

    static func xml(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }
}

/// SVG to PNG through rsvg-convert (Debian librsvg2-bin, installed by scripts/install-deps.sh).
public enum SVGRaster {
    public static func writePNG(svg: String, to path: String, scale: Double = 1) throws {
        let tool = ["/usr/bin/rsvg-convert", "/usr/local/bin/rsvg-convert"].first { FileManager.default.isExecutableFile(atPath: $0) }
        guard let tool else {
            throw FeatureExtractionError.badOption("writing \(path) needs rsvg-convert (Debian package librsvg2-bin; scripts/install-deps.sh installs it); write .svg instead")
        }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: tool)
        p.arguments = ["--zoom", String(scale), "--background-color", "white", "-o", path]
        let inPipe = Pipe(), errPipe = Pipe()
        p.standardInput = inPipe
        p.standardError = errPipe
        try p.run()
        inPipe.fileHandleForWriting.write(Data(svg.utf8))
        try inPipe.fileHandleForWriting.close()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            let msg = String(decoding: errPipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            throw FeatureExtractionError.badOption("rsvg-convert failed writing \(path): \(msg)")
        }
    }

    /// Writes SVG or PNG by the path's extension.
    public static func write(svg: String, to path: String, scale: Double = 1) throws {
        switch (path as NSString).pathExtension.lowercased() {
        case "svg": try svg.write(toFile: path, atomically: true, encoding: .utf8)
        case "png": try writePNG(svg: svg, to: path, scale: scale)
        default: throw FeatureExtractionError.badOption("\(path): output must end in .svg or .png")
        }
    }
}
