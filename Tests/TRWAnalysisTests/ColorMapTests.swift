import Foundation
import Testing
@testable import TRWAnalysis

/// ColorMap draws with matplotlib's 8-bit tables as stored in schemas/colormaps/*.csv
/// (tests/python/test_colormaps.py checks those files against matplotlib itself).
@Suite struct ColorMapTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func csv(_ name: String) throws -> [[UInt8]] {
        let text = try String(contentsOf: root.appendingPathComponent("schemas/colormaps/\(name).csv"), encoding: .utf8)
        let lines = text.split(separator: "\n").map(String.init)
        #expect(lines.first == "index,r,g,b")
        return lines.dropFirst().map { $0.split(separator: ",").dropFirst().map { UInt8($0)! } }
    }

    @Test(arguments: ColorMap.allCases)
    func everyEntryIsTheStoredTable(map: ColorMap) throws {
        let t = try Self.csv(map.rawValue)
        #expect(t.count == 256)
        for i in 0..<256 {
            // The middle of entry i's interval [i/256, (i+1)/256).
            let (r, g, b) = map.rgb((Double(i) + 0.5) / 256)
            #expect([r, g, b] == t[i], "entry \(i)")
        }
    }

    @Test func matplotlibsIndexRule() throws {
        let t = try Self.csv("inferno")
        func rgb(_ x: Double) -> [UInt8] { let (r, g, b) = ColorMap.inferno.rgb(x); return [r, g, b] }
        #expect(rgb(0) == t[0] && rgb(-3) == t[0] && rgb(.nan) == t[0] && rgb(-.infinity) == t[0])
        #expect(rgb(1) == t[255] && rgb(7) == t[255] && rgb(.infinity) == t[255])
        // Entry boundaries: floor(256 x).
        #expect(rgb(1.0 / 256) == t[1] && rgb(1.0 / 256 - 1e-12) == t[0] && rgb(255.0 / 256) == t[255])
        #expect(ColorMap.inferno.hex(1) == "#fcfea4")
    }
}
