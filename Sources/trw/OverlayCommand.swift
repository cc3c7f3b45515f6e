import ArgumentParser
import Foundation
import TRWAnalysis
import TRWDatasets
import TRWStore
import TRWFigures

/// `trw overlay`: the multimodal framework's maps (DEGRA-GNN's predicted risk map and
/// CAUS-RUN's attribution mask, from `python -m trw_models mm-explain ... --out X.npz`)
/// drawn over the IR frame of that instant.
struct OverlayCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "overlay",
        abstract: "Draw the risk (degradation) map and the attribution mask from `trw_models mm-explain` over the IR frame (PNG or SVG).",
        discussion: "Keys read from the NPZ (docs/multimodal.md): ir_frame_c, risk_map, attribution_mask, attribution, t_s, risk. With --session the frame is the session's full-resolution frame at t_s.")

    @Argument(help: "The NPZ written by `python -m trw_models mm-explain`.") var explanation: String
    @Option(name: [.short, .customLong("out")], help: "Output .png or .svg.") var out: String
    @Option(name: .long, help: "Session to take the full-resolution IR frame from (default: the NPZ's downsampled frame).") var session: String?
    @Option(name: .long, help: "Risk-map values below this are not drawn.") var riskFloor: Float = 0.1

    func validate() throws {
        try OptionCheck.number(Double(riskFloor), "--risk-floor", 0...1)
    }

    func run() throws {
        let z = try NPZFile(path: explanation)
        let frame = try z.array("ir_frame_c")
        guard frame.shape.count == 2 else { throw CLIFailure("\(explanation): ir_frame_c has shape \(frame.shape); expected (h, w)") }
        let (h, w) = (frame.shape[0], frame.shape[1])
        func map(_ k: String) throws -> [Float] {
            let a = try z.array(k)
            guard a.shape == frame.shape else { throw ValidationError("\(explanation): \(k) has shape \(a.shape), the frame \(frame.shape)") }
            return a.values.map { Float($0) }
        }
        let risk = try map("risk_map"), mask = try map("attribution_mask")
        let tS = (try? z.array("t_s").values.first) ?? .nan
        let r = (try? z.array("risk").values.first) ?? .nan
        var img = ThermalImage(width: w, height: h, celsius: frame.values.map { Float($0) }, tS: tS, sequence: -1, streamKey: "export")
        var title = "trw_models explanation"
        if let session {
            let reader = try SessionReader(path: session)
            img = try ThermalImage.load(reader, at: tS)
            title = try reader.session().name
        }
        let shown = mask.filter { $0 >= 0.5 }.count
        let panels = [
            try FrameFigure.svg(img, title: "IR frame", displayWidth: 480),
            try FrameFigure.svg(img, title: "predicted risk map D̂ (DEGRA-GNN)",
                                overlay: .init(width: w, height: h, values: risk, label: String(format: "risk %.2f at this tick", r), threshold: riskFloor, style: .heat),
                                displayWidth: 480, colorBar: .overlay),
            try FrameFigure.svg(img, title: "attribution mask C (CAUS-RUN)",
                                overlay: .init(width: w, height: h, values: mask, label: "\(shown) of \(w * h) px attributed (cyan)", threshold: 0.5, style: .mask),
                                displayWidth: 480, colorBar: .none),
        ]
        try SVGRaster.write(svg: FrameFigure.row(panels, title: String(format: "%@ at t = %.1f s", title, tS)), to: out)
        print(String(format: "wrote %@: t = %.1f s, risk %.3f, risk map max %.2f, attribution mask %d px", out, tS, r, risk.max() ?? 0, shown))
    }
}
