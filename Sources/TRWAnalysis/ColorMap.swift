import Foundation


/// The colour maps trw draws temperatures with: matplotlib's own 8-bit tables, entry for
/// entry (`inferno`, perceptually uniform; `gray`), stored once in schemas/colormaps/*.csv
/// and generated into Swift (ColorMapTables.swift) and Python (trw_models.mm.colormap_tables)
/// by scripts/gen-colormaps.py; tests/python/test_colormaps.py checks them against
/// matplotlib.
///
/// A value x in [0, 1] picks entry floor(256 x), clamped to 0...255, as matplotlib's
/// `Colormap.__call__(x, bytes=True)` does (x = 1 is the last entry, below 0 the first,
/// above 1 the last). NaN, which matplotlib paints transparent, is the first entry here.
public enum ColorMap: String, Sendable, CaseIterable {
    case inferno, gray

    /// 256 x (R, G, B).
    public var table: [UInt8] {
        switch self {
        case .inferno: Self.infernoTable
        case .gray: Self.grayTable
        }
    }

    /// The table entry for x (matplotlib's rule, above).
    @inlinable
    public static func index(_ x: Double) -> Int {
        guard !x.isNaN else { return 0 }
        let v = x * 256
        return v < 0 ? 0 : (v >= 255 ? 255 : Int(v))
    }

    /// RGB for x in [0, 1] (clamped).
    public func rgb(_ x: Double) -> (UInt8, UInt8, UInt8) {
        let i = Self.index(x) * 3
        let t = table
        return (t[i], t[i + 1], t[i + 2])
    }

    /// "#rrggbb" for SVG.
    public func hex(_ x: Double) -> String {
        let (r, g, b) = rgb(x)
        return "#" + [r, g, b].map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
    }
}
