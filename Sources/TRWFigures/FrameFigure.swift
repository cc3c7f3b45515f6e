import Foundation
import TRWAnalysis
import TRWCore


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

    /// What the bar beside the image explains: the temperature colours, the overlay's values (a
    /// heat overlay: its colour from `threshold` to 1), or nothing (a figure in a row that already has one).
    public enum ColorBar: Sendable { case temperature, overlay, none }

    public static func svg(_ img: ThermalImage, title: String, range: (Float, Float)? = nil, map: ColorMap = .inferno,
                           overlay: Overlay? = nil, displayWidth: Int = 640, colorBar: ColorBar = .temperature) throws -> String {
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
        // Colour bar: a vertical gradient with ticks (ids unique per bar: figures share one document in a row).
        func bar(id: String, lo: Double, hi: Double, unit: String, stops: [(Double, String, Double)]) {
            s += "<defs><linearGradient id=\"\(id)\" x1=\"0\" y1=\"1\" x2=\"0\" y2=\"0\">"
            for (o, c, a) in stops { s += "<stop offset=\"\(o)\" stop-color=\"\(c)\" stop-opacity=\"\(a)\"/>" }
            s += "</linearGradient></defs>\n"
            s += "<rect x=\"\(barX)\" y=\"\(top)\" width=\"\(barW)\" height=\"\(dh)\" fill=\"url(#\(id))\" stroke=\"#222\" stroke-width=\"0.8\"/>\n"
            let step = Axis.niceStep((hi - lo) / 6)
            for v in Axis.niceTicks(lo, hi, count: 6) {
                let y = top + dh * (1 - (v - lo) / (hi - lo))
                s += "<line x1=\"\(barX + barW)\" y1=\"\(y)\" x2=\"\(barX + barW + 5)\" y2=\"\(y)\" stroke=\"#222\"/>"
                s += "<text x=\"\(barX + barW + 8)\" y=\"\(y + 4)\" font-size=\"11\">\(Axis.formatTick(v, step: step))</text>\n"
            }
            s += "<text x=\"\(barX + barW / 2)\" y=\"\(top - 8)\" font-size=\"12\" text-anchor=\"middle\">\(unit)</text>\n"
        }
        switch colorBar {
        case .temperature:
            bar(id: "cbar-c-\(stableID(title))", lo: Double(lo), hi: Double(hi), unit: "°C",
                stops: (0...16).map { (Double($0) / 16, map.hex(Double($0) / 16), 1) })
        case .overlay:
            guard let o = overlay, o.style == .heat else { break }
            // The heat overlay's own colours: below the threshold nothing is drawn.
            let t = Double(max(0, min(1, o.threshold)))
            var stops: [(Double, String, Double)] = [(0, "#ffffff", 0), (t, "#ffffff", 0)]
            for i in 0...8 {
                let v = t + (1 - t) * Double(i) / 8
                stops.append((v, String(format: "#ff%02x00", Int((255 * (1 - v)).rounded())), (40 + 190 * v) / 255))
            }
            bar(id: "cbar-risk-\(stableID(title))", lo: 0, hi: 1, unit: "risk", stops: stops)
        case .none:
            break
        }
        s += "</svg>\n"
        return s
    }

    /// A short id from `text` that is the same in every run (FNV-1a), for SVG element ids.
    static func stableID(_ text: String) -> String {
        String(text.utf8.reduce(UInt32(2_166_136_261)) { ($0 ^ UInt32($1)) &* 16_777_619 }, radix: 16)
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
