import ArgumentParser
import Foundation
import TRWCore
import Logging

/// trw — Thermal Runaway Workbench. The root command only configures.
@main
struct TRW: ParsableCommand {
    /// Log level from TRW_LOG_LEVEL (trace, debug, info, notice, warning, error, critical); default warning.
    static func bootstrapLogging() {
        let level = ProcessInfo.processInfo.environment["TRW_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .warning
        LoggingSystem.bootstrap { label in
            var h = StreamLogHandler.standardError(label: label)
            h.logLevel = level
            return h
        }
    }

    static func main() {
        bootstrapLogging()
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            exit(withError: error)
        }
    }

    static let configuration = CommandConfiguration(
        commandName: "trw",
        abstract: "Thermal Runaway Workbench: record, label and score battery abuse tests.",
        discussion: """
            trw records an abuse test (IR camera, acoustic emission, BMS / power supply) on one \
            time base into one SQLite session file, lets you label it, and exports it to train \
            runaway detectors. Without hardware it runs a physics-based simulated rig.

            Start here:
              trw record --rig sim --name first-run      record a simulated overcharge run
              trw info sessions/first-run.sqlite         what is in it
              trw ls                                     every session in sessions/
            """,
        version: TRWVersion.string,
        subcommands: [RecordCommand.self, SimulateCommand.self, InfoCommand.self, ListCommand.self, MarkCommand.self, AnnotateCommand.self, PlotCommand.self, FrameCommand.self, VideoCommand.self, OverlayCommand.self, RepairCommand.self, VerifyCommand.self, LabelCommand.self, ExportCommand.self, ReplayCommand.self, PredictCommand.self, ScoreCommand.self, ResyncCommand.self, SyncReportCommand.self, ImportCommand.self, RigCommand.self, DevicesCommand.self, ExportWAVCommand.self, DPLSTMActivityCommand.self, RawFramesCommand.self, ScenarioCommand.self]
    )
}
