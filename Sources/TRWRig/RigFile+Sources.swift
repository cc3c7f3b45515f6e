import Foundation
import Logging
import TRWALSA
import TRWCore
import TRWRecorder
import TRWV4L2

extension RigFile {
    /// Opens every device of the rig as a recorder source. A device that
    /// cannot be opened is an error naming it (nothing is started half-way).
    public func makeSources(logger: Logger = Logger(label: "trw.rig")) throws -> [any Source] {
        var out: [any Source] = []
        for c in cameras {
            do { out.append(try V4L2CameraSource(config: c, logger: logger)) } catch {
                throw RigFileError(file: path, line: nil, key: "camera \(c.key)", message: "\(error)")
            }
        }
        for a in ae {
            do { out.append(try ALSACaptureSource(config: a, logger: logger)) } catch {
                throw RigFileError(file: path, line: nil, key: "ae \(a.streamKey)", message: "\(error)")
            }
        }
        out += try makeSerialSources(logger: logger)
        if let cell { out.append(RigInfoSource(cell: cell, testProtocol: testProtocol)) }
        return out
    }

    /// `trw rig check`: each device opened, what it granted, and what would be recorded.
    public func check(logger: Logger = Logger(label: "trw.rig")) -> (ok: Bool, report: String) {
        var lines = ["rig \(name) (\(path))"]
        if let c = cell { lines.append("cell      \(c.chemistry) \(c.capacityAh) Ah \(c.format) \(c.maker) \(c.serial)") }
        if let p = testProtocol { lines.append("protocol  \(p)") }
        var ok = true
        var streams: [StreamDescriptor] = []
        func open(_ what: String, _ make: () throws -> any Source) {
            do {
                let s = try make()
                for d in s.streams {
                    streams.append(d)
                    var l = "  ok   \(d.key)  \(d.kind.rawValue)  \(d.device)  \(d.format)  \(String(format: "%g", d.nominalRateHz)) Hz"
                    if let w = d.width, let h = d.height { l += "  \(w)x\(h)" }
                    if let ch = d.channels { l += "  \(ch) ch" }
                    lines.append(l)
                    for (k, v) in d.properties.sorted(by: { $0.key < $1.key }) where k.hasSuffix("warnings") && !v.isEmpty {
                        lines.append("       warning: \(v)")
                    }
                }
                s.stop()
            } catch {
                ok = false
                lines.append("  FAIL \(what): \(error)")
            }
        }
        for c in cameras { open("camera \(c.key) \(c.device)") { try V4L2CameraSource(config: c, logger: logger) } }
        for a in ae { open("ae \(a.streamKey) \(a.device)") { try ALSACaptureSource(config: a, logger: logger) } }
        for (what, make) in serialCheckers(logger: logger) { open(what, make) }
        if !stopRules.isEmpty || durationS != nil {
            lines.append("stop: " + (durationS.map { ["duration \($0) s"] } ?? []).joined() + stopRules.map { " \($0)" }.joined(separator: ","))
        }
        let est = Preflight.estimate(streams: streams, outputPath: "sessions/x.sqlite")
        lines.append(String(format: "would record %d streams at about %.2f MB/s", streams.count, est.bytesPerSecond / 1e6)
                     + (est.bytesPerSecond > 0 ? est.hoursAvailable.map { String(format: "; sessions/ has room for %.1f h", $0) } ?? "" : ""))
        lines.append(ok ? "rig check: all devices ready" : "rig check: FAILED (see above)")
        return (ok, lines.joined(separator: "\n"))
    }
}

/// Carries the rig file's cell and protocol into the session (no streams).
final class RigInfoSource: Source, @unchecked Sendable {
    let name = "rig info"
    let streams: [StreamDescriptor] = []
    let cell: CellInfo?
    let testProtocol: String?
    init(cell: CellInfo?, testProtocol: String?) {
        self.cell = cell
        self.testProtocol = testProtocol
    }
    func run(into sink: any SampleSink) throws {}
    func stop() {}
}
