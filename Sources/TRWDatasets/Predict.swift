import Foundation
import TRWAnalysis
import TRWCore
import TRWStore

/// One detector's score stream over one session.
public struct PredictionRun: Sendable {
    public var detector: String
    public var runId: String
    public var parameters: [String: Double]
    public var tS: [Double] = []
    public var scores: [Double] = []
    public var alarms: [Bool] = []
    public var latenciesNs: [Int64] = []
    /// Times where the alarm rose.
    public var alarmTimesS: [Double] {
        var out: [Double] = []
        for i in alarms.indices where alarms[i] && (i == 0 || !alarms[i - 1]) { out.append(tS[i]) }
        return out
    }
}

public enum PredictError: Error, CustomStringConvertible {
    case unknownDetector(String)
    case external(String)
    public var description: String {
        switch self {
        case .unknownDetector(let n):
            "unknown detector '\(n)'; built-in: \(DetectorRegistry.builtIn.joined(separator: ", ")), or exec:COMMAND for an external program"
        case .external(let m): m
        }
    }
}

/// Runs detectors causally over a session's ticks (`trw predict`, `trw score`).
public enum Predictor {
    public static func runBuiltIn(_ name: String, table: FeatureTable, alarm: AlarmRule, runId: String) throws -> PredictionRun {
        guard DetectorRegistry.isKnown(name) else { throw PredictError.unknownDetector(name) }
        var det = try DetectorRegistry.load(name)
        var rule = alarm
        var run = PredictionRun(detector: name, runId: runId, parameters: det.parameters)
        var f: [String: Double] = [:]
        for k in 0..<table.count {
            for (j, n) in table.names.enumerated() { f[n] = Double(table.values[k * table.names.count + j]) }
            let t0 = HostClock.monotonicNanoseconds()
            let s = det.step(t: table.tickTimesS[k], features: f)
            let lat = HostClock.monotonicNanoseconds() - t0
            run.tS.append(table.tickTimesS[k]); run.scores.append(s); run.alarms.append(rule.step(s)); run.latenciesNs.append(lat)
        }
        return run
    }

    /// An external detector: any program that reads the replay stream on stdin
    /// and answers each `tick` line with one line `{"t": T, "score": S}` on
    /// stdout before it gets the next line (lockstep: it never sees the future).
    /// Labels are not sent. Protocol: schemas/predictor-protocol.md.
    public static func runExternal(command: String, events: [ReplayEvent], alarm: AlarmRule, runId: String) throws -> PredictionRun {
        let child = try LineProcess(command: command)
        let p = child.process, inPipe = child.input, reader = child.output
        defer { if p.isRunning { p.terminate() } }
        var rule = alarm
        var run = PredictionRun(detector: "exec:" + command, runId: runId, parameters: [:])
        for e in events where e.kind != .label {
            let t0 = HostClock.monotonicNanoseconds()
            do { try inPipe.fileHandleForWriting.write(contentsOf: Data((e.json + "\n").utf8)) } catch {
                throw PredictError.external("detector '\(command)' stopped reading its input: \(error)")
            }
            guard e.kind == .tick else { continue }
            guard let line = reader.next() else {
                throw PredictError.external("detector '\(command)' closed its output at t = \(e.tS) s without a score")
            }
            let lat = HostClock.monotonicNanoseconds() - t0
            guard let obj = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let score = (obj["score"] as? NSNumber)?.doubleValue, let t = (obj["t"] as? NSNumber)?.doubleValue else {
                throw PredictError.external("detector '\(command)' answered tick t = \(e.tS) s with '\(line.prefix(200))'; expected {\"t\": \(e.tS), \"score\": S}")
            }
            guard abs(t - e.tS) < 1e-6 else {
                throw PredictError.external("detector '\(command)' answered for t = \(t) s, but the tick was t = \(e.tS) s")
            }
            run.tS.append(t); run.scores.append(score); run.alarms.append(rule.step(score)); run.latenciesNs.append(lat)
        }
        try? inPipe.fileHandleForWriting.close()
        p.waitUntilExit()
        return run
    }

    /// Stores a run in the session's `prediction` table.
    public static func store(_ run: PredictionRun, in path: String) throws {
        let w = try SessionWriter(appendingTo: path)
        try w.addPredictions(run.tS.indices.map { i in
            PredictionRecord(id: nil, model: run.detector, modelVersion: TRWVersionInfo.string, runId: run.runId,
                             tNs: Int64((run.tS[i] * 1e9).rounded()), score: run.scores[i], alarm: run.alarms[i],
                             latencyNs: run.latenciesNs[i], parametersJson: JSONText.encode(run.parameters))
        })
    }
}

public enum TRWVersionInfo { public static let string = "0.1.0" }

/// A program run with `sh -c` that trw talks to in lines: writes to its stdin, reads its stdout
/// (external detectors, sensing policies). SIGPIPE is ignored so a program that exits early
/// is an error to report, not a crash.
public final class LineProcess: @unchecked Sendable {
    public let process: Process
    public let input: Pipe
    public let output: LineReader

    public init(command: String) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", command]
        let inPipe = Pipe(), outPipe = Pipe()
        p.standardInput = inPipe
        p.standardOutput = outPipe
        signal(SIGPIPE, SIG_IGN)
        try p.run()
        process = p
        input = inPipe
        output = LineReader(fd: outPipe.fileHandleForReading.fileDescriptor)
    }
}

/// Reads lines from a file descriptor (blocking).
public final class LineReader {
    let fd: Int32
    var buf: [UInt8] = []
    public init(fd: Int32) { self.fd = fd }
    public func next() -> String? {
        while true {
            if let i = buf.firstIndex(of: 10) {
                let line = String(decoding: buf[..<i], as: UTF8.self)
                buf.removeFirst(i + 1)
                return line
            }
            var chunk = [UInt8](repeating: 0, count: 4096)
            let n = read(fd, &chunk, chunk.count)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return nil }
            buf += chunk[0..<n]
        }
    }
}
