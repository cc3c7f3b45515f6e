import Foundation
import Testing
import TRWAnalysis
@testable import TRWFigures

/// `trw overlay` (issue 22): the °C colour bar was drawn three times and the risk map had none.
@Suite struct FrameFigureTests {
    @Test func oneTemperatureBarAndARiskBar() throws {
        let (w, h) = (8, 6)
        let img = ThermalImage(width: w, height: h, celsius: (0..<(w * h)).map { 25 + Float($0) }, tS: 12, sequence: -1, streamKey: "ir0")
        let risk = (0..<(w * h)).map { Float($0) / Float(w * h) }
        let row = FrameFigure.row([
            try FrameFigure.svg(img, title: "IR frame", displayWidth: 160),
            try FrameFigure.svg(img, title: "risk map", overlay: .init(width: w, height: h, values: risk, label: "risk 0.42 at this tick", threshold: 0.1, style: .heat),
                                displayWidth: 160, colorBar: .overlay),
            try FrameFigure.svg(img, title: "mask", overlay: .init(width: w, height: h, values: risk, label: "mask", threshold: 0.5, style: .mask),
                                displayWidth: 160, colorBar: .none),
        ], title: "t")
        #expect(row.components(separatedBy: ">°C</text>").count - 1 == 1)
        #expect(row.components(separatedBy: ">risk</text>").count - 1 == 1)
        // Gradient ids are unique in the document and the same in every run.
        let ids = row.components(separatedBy: "linearGradient id=\"").dropFirst().map { String($0.prefix { $0 != "\"" }) }
        #expect(ids.count == 2 && Set(ids).count == 2, "\(ids)")
        #expect(FrameFigure.stableID("risk map") == FrameFigure.stableID("risk map") && FrameFigure.stableID("a") != FrameFigure.stableID("b"))
    }
}
