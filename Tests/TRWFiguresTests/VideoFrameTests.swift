import Foundation
import Testing
import TRWAnalysis
import TRWCore
@testable import TRWFigures
@testable import TRWStore

/// `trw video` composes its frames directly in I420 (issue 22: speed). The samples must be
/// what BT.601 limited range gives for the colour map's RGB, so that a player shows the
/// documented colours.
@Suite struct VideoFrameTests {
    /// BT.601 limited range in floating point (ITU-R BT.601 / ffmpeg's swscale defaults).
    static func reference(_ r: Double, _ g: Double, _ b: Double) -> (y: Double, u: Double, v: Double) {
        (16 + (65.481 * r + 128.553 * g + 24.966 * b) / 255,
         128 + (-37.797 * r - 74.203 * g + 112.0 * b) / 255,
         128 + (112.0 * r - 93.786 * g - 18.214 * b) / 255)
    }

    /// The inverse, as a player computes RGB from the samples.
    static func rgb(y: Double, u: Double, v: Double) -> (Double, Double, Double) {
        let c = 1.164383 * (y - 16), d = u - 128, e = v - 128
        return (c + 1.596027 * e, c - 0.391762 * d - 0.812968 * e, c + 2.017232 * d)
    }

    @Test func i420OfUniformColoursMatchesBT601() {
        let (W, H) = (6, 4)
        for (r, g, b) in [(0, 0, 0), (255, 255, 255), (252, 255, 164), (187, 55, 84), (0, 229, 255), (24, 24, 24)] {
            let rgb = [UInt8]((0..<(W * H)).flatMap { _ in [UInt8(r), UInt8(g), UInt8(b)] })
            var out = [UInt8](repeating: 0, count: W * H * 3 / 2)
            out.withUnsafeMutableBufferPointer { IRVideo.Layout.i420(rgb: rgb, width: W, height: H, into: $0) }
            let ref = Self.reference(Double(r), Double(g), Double(b))
            #expect(out[0..<(W * H)].allSatisfy { abs(Double($0) - ref.y) <= 1 }, "Y of \(r),\(g),\(b): \(out[0]) vs \(ref.y)")
            #expect(out[(W * H)..<(W * H * 5 / 4)].allSatisfy { abs(Double($0) - ref.u) <= 1 }, "U of \(r),\(g),\(b)")
            #expect(out[(W * H * 5 / 4)...].allSatisfy { abs(Double($0) - ref.v) <= 1 }, "V of \(r),\(g),\(b)")
        }
    }

    /// Every inferno colour survives the trip through the samples within 3 levels per channel.
    @Test func infernoRoundTripsThroughTheSamples() {
        let t = ColorMap.inferno.table
        var worst = 0.0
        for i in 0..<256 {
            let (r, g, b) = (Int(t[3 * i]), Int(t[3 * i + 1]), Int(t[3 * i + 2]))
            let y = Double(IRVideo.luma(r, g, b))
            let u = Double(IRVideo.chroma(4 * IRVideo.uRaw(r, g, b), 4)), v = Double(IRVideo.chroma(4 * IRVideo.vRaw(r, g, b), 4))
            let back = Self.rgb(y: y, u: u, v: v)
            worst = max(worst, abs(back.0 - Double(r)), abs(back.1 - Double(g)), abs(back.2 - Double(b)))
        }
        #expect(worst <= 3, "worst channel error \(worst)")
    }

    /// The frame goes through the look-up table: luma per pixel, chroma the mean of each 2 x 2
    /// block, and an odd width's last column averaged over the frame's pixels only; the overlays
    /// and the panel follow.
    @Test func composeMapsEveryPixelAndBlock() {
        // Odd sizes: 7 x 17 in an 8 + 100 by 18 video frame.
        let (iw, ih) = (7, 17)
        let W = 8 + 100, H = 18
        let layout = IRVideo.Layout(iw: iw, ih: ih, W: W, H: H, lo: 20, hi: 300)
        let cal = ThermalCalibration.tLinear10mK
        let lut = layout.yuvLut(cal: cal, map: .inferno)
        // Temperatures 20 ... 300 °C spread over the pixels.
        let n = Double(iw * ih - 1)
        let pixels: [UInt16] = (0..<(iw * ih)).map { i -> UInt16 in
            let celsius: Double = 20 + 280 * Double(i) / n
            return UInt16(((273.15 + celsius) * 100).rounded())
        }
        func p(_ x: Int, _ y: Int) -> Int { Int(pixels[y * iw + x]) }
        let background = [UInt8](repeating: 77, count: W * H * 3 / 2)
        var dst = [UInt8](repeating: 0, count: W * H * 3 / 2)
        // The hotspot off the canvas: no cross or temperature drawn. The session-time box
        // covers x >= 2, y 2...12 (its chroma from block row 1).
        let summary = ThermalFrameSummary(id: 1, sequence: 0, tNs: 0, minCounts: Int(pixels.min()!), maxCounts: Int(pixels.max()!),
                                          meanCounts: 0, hotspotX: 90, hotspotY: 90, flags: 0)
        let job = IRVideo.Job(record: nil, summary: summary, tNs: 0, labels: [])
        dst.withUnsafeMutableBufferPointer { layout.compose(into: $0, background: background, lut: lut, pixels: pixels, job: job, damaged: false, cal: cal) }
        for (x, y) in [(0, 0), (1, 0), (0, 1), (1, 1), (6, 0), (0, 16), (6, 16)] {
            #expect(dst[y * W + x] == lut.y[p(x, y)], "Y at \(x),\(y)")
        }
        let cw = W / 2, u = W * H, v = u + cw * (H / 2)
        func sum(_ t: [Int32], _ xy: [(Int, Int)]) -> Int { xy.map { Int(t[p($0.0, $0.1)]) }.reduce(0, +) }
        #expect(dst[u] == IRVideo.chroma(sum(lut.u, [(0, 0), (1, 0), (0, 1), (1, 1)]), 4))
        // The odd width's last column: its blocks hold one frame column (two pixels).
        #expect(dst[v + 3] == IRVideo.chroma(sum(lut.v, [(6, 0), (6, 1)]), 2))
        // The odd height's last row: blocks of one row; the corner block one pixel.
        #expect(dst[u + 8 * cw] == IRVideo.chroma(sum(lut.u, [(0, 16), (1, 16)]), 2))
        #expect(dst[v + 8 * cw + 3] == IRVideo.chroma(sum(lut.v, [(6, 16)]), 1))
        // The panel keeps the background.
        #expect(dst[50] == 77 && dst[u + 40] == 77 && dst[17 * W + 100] == 77)
    }

    @Test func canvasFillCoversTheBlocksItTouches() {
        let (W, H) = (8, 6)
        var buf = [UInt8](repeating: 0, count: W * H * 3 / 2)
        buf.withUnsafeMutableBufferPointer { p in
            IRVideo.I420Canvas(base: p.baseAddress!, W: W, H: H).fill(x: 3, y: 1, w: 2, h: 2, color: (255, 255, 255))
        }
        let lit = (0..<(W * H)).filter { buf[$0] != 0 }.map { ($0 % W, $0 / W) }
        #expect(lit.map { "\($0.0),\($0.1)" } == ["3,1", "4,1", "3,2", "4,2"])
        #expect(buf[3 * 0 + 3] == 0 && buf[1 * W + 3] == 235)
        // x 3...4, y 1...2 touch chroma blocks x 1...2, y 0...1 (white: U = V = 128).
        let u = Array(buf[(W * H)..<(W * H + W * H / 4)])
        let touched = (0..<u.count).filter { u[$0] == 128 }.map { ($0 % (W / 2), $0 / (W / 2)) }
        #expect(touched.map { "\($0.0),\($0.1)" } == ["1,0", "2,0", "1,1", "2,1"])
        // Clipped at the edges, never beyond the buffer.
        buf.withUnsafeMutableBufferPointer { p in
            IRVideo.I420Canvas(base: p.baseAddress!, W: W, H: H).fill(x: -5, y: 4, w: 100, h: 100, color: (255, 0, 0))
        }
        #expect(buf[5 * W + 7] == IRVideo.luma(255, 0, 0))
    }
}
