import ArgumentParser
import Foundation
import Logging
import TRWRecorder
import TRWSimulator
import TRWStore
import TRWFigures
import TRWLive
import TRWRig
import TRWSession

struct SimulateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Record a simulated overcharge run (physics-based cell, IR camera, AE sensor, BMS) into a session.",
        discussion: """
            SCENARIO is a name from scenarios/ (demo, ncm_overcharge_05c, lco_overcharge_1c, lfp_overcharge_1c, \
            control_charge_rest, control_mild_overcharge_stopped, control_ambient_heating, ess_lfp_280ah_05c, \
            cyl_18650_ncm_1c, control_cccv_discharge_faults) or a .toml file (`trw scenario sample` draws more). \
            The simulator's ground truth (runaway onset by GB 38031, venting, self-heating onset) is stored as \
            labels with method simulator_ground_truth. Model and sources: docs/simulator.md.
            """)

    @Argument(help: "Scenario name or .toml file.") var scenario: String = "demo"
    @Option(name: .long, help: "Session file (default sessions/SCENARIO.sqlite).") var out: String?
    @OptionGroup(title: "Pace (default: max)") var pacing: PacingOptions
    @Option(name: .long, help: "IR frame rate override, Hz.") var irFps: Double?
    @Option(name: .long, help: "IR width override.") var irWidth: Int?
    @Option(name: .long, help: "IR height override.") var irHeight: Int?
    @Option(name: .long, help: "AE sample rate override, Hz.") var aeRate: Int?
    @Option(name: .long, help: "Random seed override.") var seed: UInt64?
    @Option(name: .long, help: "Stop after this many simulated seconds.") var duration: Double?
    @OptionGroup var detection: LiveDetectionOptions

    @Flag(name: .long, help: "Also write the SVG plot next to the session.") var plot = false

    func validate() throws {
        try OptionCheck.number(irFps, "--ir-fps", SensorLimits.irFPS, unit: "Hz")
        try OptionCheck.integer(irWidth, "--ir-width", SensorLimits.irWidth, unit: "pixels")
        try OptionCheck.integer(irHeight, "--ir-height", SensorLimits.irHeight, unit: "pixels")
        if let w = irWidth, let h = irHeight, w * h > SensorLimits.irMaxPixels {
            throw ValidationError("--ir-width x --ir-height must be at most \(SensorLimits.irMaxPixels) pixels (1280x1024), got \(w)x\(h)")
        }
        try OptionCheck.integer(aeRate, "--ae-rate", 8_000...SensorLimits.aeRateHz.upperBound, unit: "Hz")
        try OptionCheck.number(duration, "--duration", OptionCheck.durationRange, openLower: true, unit: "simulated seconds")
    }

    func run() throws {
        let sc = try Scenario.named(scenario)
        // An override of one side combined with the scenario's other side.
        let (w, h) = (irWidth ?? sc.sensors.irWidth, irHeight ?? sc.sensors.irHeight)
        if w * h > SensorLimits.irMaxPixels {
            throw ValidationError("--ir-width/--ir-height: \(w)x\(h) is more than \(SensorLimits.irMaxPixels) pixels (1280x1024)")
        }
        let path = out ?? "sessions/\(sc.name).sqlite"
        var o = SimulatedRig.Options()
        o.pacing = pacing.pace(default: .max).factor.map { .realTime(speed: $0) } ?? .max
        o.irFPS = irFps; o.irWidth = irWidth; o.irHeight = irHeight; o.aeRateHz = aeRate; o.seed = seed
        o.durationCapS = duration
        let rig = SimulatedRig(scenario: sc, options: o)
        var plan = RecordingPlan(name: sc.name, outputPath: path)
        try detection.apply(to: &plan.live)
        let built = RigBuilder.Built(sources: [rig], realTime: false, configText: "rig = \"sim:\(sc.name)\"\nseed = \(rig.scenario.seed)\n")
        let session = try RecordingSession(rig: built, rigName: "sim:\(sc.name)", plan: plan, logger: Logger(label: "trw.simulate"))
        let t0 = Date()
        try session.start()
        printErr("simulating \(sc.name) (\(sc.description)) into \(path)")
        let signals = SignalStopper(session.recorder)
        let terminal = LiveTerminal(recorder: session.recorder, title: "trw simulate — \(sc.name) -> \(path)", outputPath: path, interactive: false)
        let result = session.wait().recording
        terminal.stop()
        signals.cancel()
        let wall = Date().timeIntervalSince(t0)
        printErr(String(format: "%@ in %.1f s wall (%.1fx real time)", result.status.rawValue, wall, result.final.sessionTimeS / Swift.max(wall, 1e-9)))
        let reader = try SessionReader(path: path)
        print(try InfoReport.full(path: path))
        if plot {
            let svgPath = String(path.dropLast(path.hasSuffix(".sqlite") ? 7 : 0)) + ".svg"
            try SessionPlot.render(reader).write(toFile: svgPath, atomically: true, encoding: .utf8)
            print("plot: \(svgPath)")
        }
    }
}
