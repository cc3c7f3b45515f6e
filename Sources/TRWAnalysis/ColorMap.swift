import Foundation


/// Perceptually uniform colour maps for temperatures (inferno, as matplotlib's) and
/// a diverging map for signed quantities.
public enum ColorMap: String, Sendable, CaseIterable {
    case inferno, gray

    /// Anchor colours of matplotlib's inferno at 0, 1/8, ..., 1.
    static let infernoAnchors: [(Double, Double, Double)] = [
        (0.001, 0.000, 0.014), (0.110, 0.047, 0.283), (0.320, 0.060, 0.430), (0.522, 0.133, 0.417),
        (0.716, 0.215, 0.330), (0.878, 0.350, 0.187), (0.973, 0.557, 0.035), (0.978, 0.792, 0.216), (0.988, 0.998, 0.645),
    ]

    /// RGB for x in [0, 1] (clamped).
    public func rgb(_ x: Double) -> (UInt8, UInt8, UInt8) {
        let u = x.isFinite ? Swift.min(1, Swift.max(0, x)) : 0
        switch self {
        case .gray:
            let g = UInt8((u * 255).rounded())
            return (g, g, g)
        case .inferno:
            let p = u * Double(Self.infernoAnchors.count - 1)
            let i = Swift.min(Self.infernoAnchors.count - 2, Int(p))
            let f = p - Double(i)
            let a = Self.infernoAnchors[i], b = Self.infernoAnchors[i + 1]
            func c(_ x: Double, _ y: Double) -> UInt8 { UInt8(((x + (y - x) * f) * 255).rounded()) }
            return (c(a.0, b.0), c(a.1, b.1), c(a.2, b.2))
        }
    }

    /// "#rrggbb" for SVG.
    public func hex(_ x: Double) -> String {
        let (r, g, b) = rgb(x)
        return "#" + [r, g, b].map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
    }
}
