/// Per-frame statistics, computed once at ingest and stored beside the frame,
/// so overviews and features never decode frames.
public struct FrameStatistics: Sendable, Equatable, Codable {
    public var minCounts: UInt16
    public var maxCounts: UInt16
    public var meanCounts: Double
    /// Position of the (first) hottest pixel.
    public var hotspotX: Int
    public var hotspotY: Int

    public init(minCounts: UInt16, maxCounts: UInt16, meanCounts: Double, hotspotX: Int, hotspotY: Int) {
        self.minCounts = minCounts
        self.maxCounts = maxCounts
        self.meanCounts = meanCounts
        self.hotspotX = hotspotX
        self.hotspotY = hotspotY
    }

    /// One pass over the frame, row by row; the inner loop is branch-light so
    /// the compiler vectorises min/max/sum, and the argmax is found only for
    /// rows whose maximum beats the best so far.
    public static func compute(pixels: [UInt16], width: Int, height: Int) -> FrameStatistics {
        precondition(width > 0 && height > 0 && pixels.count == width * height, "bad frame geometry")
        var gmin = UInt16.max
        var gmax = UInt16.min
        var total: UInt64 = 0
        var hx = 0
        var hy = 0
        pixels.withUnsafeBufferPointer { p in
            for y in 0..<height {
                let row = UnsafeBufferPointer(rebasing: p[(y * width)..<((y + 1) * width)])
                var rmin = UInt16.max
                var rmax = UInt16.min
                var rsum: UInt32 = 0  // width <= 65537 keeps this from overflowing
                for v in row {
                    rmin = Swift.min(rmin, v)
                    rmax = Swift.max(rmax, v)
                    rsum &+= UInt32(v)
                }
                total &+= UInt64(rsum)
                gmin = Swift.min(gmin, rmin)
                if rmax > gmax || (y == 0 && rmax == gmax) {
                    gmax = rmax
                    hy = y
                    hx = row.firstIndex(of: rmax)! - row.startIndex
                }
            }
        }
        return FrameStatistics(
            minCounts: gmin, maxCounts: gmax, meanCounts: Double(total) / Double(pixels.count),
            hotspotX: hx, hotspotY: hy)
    }
}
