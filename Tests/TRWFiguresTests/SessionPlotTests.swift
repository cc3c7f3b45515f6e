import Foundation
import Testing
import TRWStore
import TRWSessionFixtures
import TRWTestSupport
@testable import TRWFigures

/// `trw plot`'s layout (issue 22): no text on the data, round ticks, robust ranges, several runs
/// aligned at a label.
@Suite struct SessionPlotTests {
    /// A synthetic run with ground-truth labels and a manual marker.
    func session(_ dir: TemporaryDirectory, name: String, onsetS: Int64) throws -> String {
        let path = try syntheticSession(dir, seconds: 12, name: name)
        let w = try SessionWriter(appendingTo: path)
        try w.addLabels([
            AnnotationRecord(label: "venting", startTNs: (onsetS - 3) * 1_000_000_000, author: "trw-sim", method: "simulator_ground_truth"),
            AnnotationRecord(label: "runaway_onset", startTNs: onsetS * 1_000_000_000, author: "trw-sim", method: "simulator_ground_truth"),
        ])
        return path
    }

    /// The panel boxes (x, y, w, h) and every text anchor (x, y, text) of an SVG.
    func layout(_ svg: String) -> (boxes: [(Double, Double, Double, Double)], texts: [(Double, Double, String)]) {
        func num(_ s: Substring, _ key: String) -> Double? {
            guard let r = s.range(of: " \(key)=\"") else { return nil }
            return Double(s[r.upperBound...].prefix { $0 != "\"" })
        }
        var boxes: [(Double, Double, Double, Double)] = [], texts: [(Double, Double, String)] = []
        for line in svg.split(separator: "\n") {
            for part in line.split(separator: "<") {
                if part.hasPrefix("rect "), part.contains("fill=\"none\" stroke=\"#888\""),
                   let x = num(part, "x"), let y = num(part, "y"), let w = num(part, "width"), let h = num(part, "height") {
                    boxes.append((x, y, w, h))
                }
                if part.hasPrefix("text "), let x = num(part, "x"), let y = num(part, "y") {
                    texts.append((x, y, String(part.split(separator: ">", maxSplits: 1).last ?? "")))
                }
            }
        }
        return (boxes, texts)
    }

    @Test func noTextIsDrawnOnTheData() throws {
        let dir = TemporaryDirectory()
        let r = try SessionReader(path: try session(dir, name: "a", onsetS: 9))
        var f = try SessionPlot.figure(r)
        f.title = String(repeating: "a very long session name ", count: 10)
        let svg = SessionPlot.svg(f)
        let (boxes, texts) = layout(svg)
        #expect(boxes.count == 4, "temperature, voltage, current, AE: \(boxes.count)")
        #expect(texts.contains { $0.2.hasPrefix("runaway_onset") } && texts.contains { $0.2.hasPrefix("venting") })
        for t in texts where t.2 != "no data" {
            for b in boxes {
                let inside = t.0 > b.0 + 1 && t.0 < b.0 + b.2 - 1 && t.1 > b.1 + 1 && t.1 < b.1 + b.3 - 1
                #expect(!inside, "text '\(t.2)' at (\(t.0), \(t.1)) lies on the panel at \(b)")
            }
        }
        // The title is shortened, never squeezed (no textLength) and never wider than the figure.
        #expect(!svg.contains("textLength"))
        let title = texts.first { $0.2.hasPrefix("a very long") }!
        #expect(title.2.hasSuffix("…") && Double(title.2.count) * SessionPlot.charWidth15Bold <= 1000 - 40)
        #expect(svg.contains("session time (s)"))
    }

    @Test func runsAreOverlaidAlignedAtTheirOnset() throws {
        let dir = TemporaryDirectory()
        let a = try SessionReader(path: try session(dir, name: "a", onsetS: 9))
        let b = try SessionReader(path: try session(dir, name: "b", onsetS: 5))
        let f = try SessionPlot.overlay([a, b], align: .label("runaway_onset"))
        #expect(f.runs.map(\.name) == ["a", "b"])
        #expect(f.timeTitle == "time from runaway_onset")
        let volts = try #require(f.panels.first { $0.key == "voltage" })
        #expect(volts.series.count == 2 && volts.series[0].color != volts.series[1].color)
        // Each run's samples are shifted by its own onset: run a starts 9 s before zero, run b 5 s.
        #expect(abs(volts.series[0].points.first!.t - -9) < 0.6, "\(volts.series[0].points.first!)")
        #expect(abs(volts.series[1].points.first!.t - -5) < 0.6, "\(volts.series[1].points.first!)")
        // Venting 3 s before each onset lands at -3 s for both.
        #expect(f.events.filter { $0.label.hasSuffix("venting") }.map(\.t) == [-3, -3])
        #expect(f.range!.from <= -9 && f.range!.to >= 3)
        let svg = SessionPlot.svg(f)
        #expect(svg.contains("time from runaway_onset (s)") && svg.contains("1: a") && svg.contains("2: b"))
    }

    @Test func aRunWithoutTheAlignmentLabelIsNamed() throws {
        let dir = TemporaryDirectory()
        let a = try SessionReader(path: try session(dir, name: "a", onsetS: 9))
        let plain = try SessionReader(path: try syntheticSession(dir, seconds: 4, name: "plain"))
        #expect {
            try SessionPlot.overlay([a, plain], align: .label("runaway_onset"))
        } throws: { e in
            "\(e)".contains("plain.sqlite has no 'runaway_onset' label") && "\(e)".contains("--align start")
        }
        let f = try SessionPlot.overlay([a, plain], align: .start)
        #expect(f.timeTitle == "session time")
    }
}
