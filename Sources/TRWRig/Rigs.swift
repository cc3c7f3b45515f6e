import Foundation
import TRWCore

/// Which rig `trw record --rig` runs.
public enum RigChoice: Sendable, Equatable {
    /// The built-in deterministic test source.
    case synthetic
    /// The physics-based simulated rig, with a scenario name or file.
    case sim(scenario: String?)
    /// A rig file (TOML) describing real devices.
    case file(path: String)

    public init(parsing text: String) throws {
        switch text {
        case "synthetic": self = .synthetic
        case "sim": self = .sim(scenario: nil)
        case let t where t.hasPrefix("sim:"): self = .sim(scenario: String(t.dropFirst(4)))
        case let t where t.hasSuffix(".toml") || FileManager.default.fileExists(atPath: t): self = .file(path: t)
        default:
            throw RigError.unknown(text)
        }
    }

    public var name: String {
        switch self {
        case .synthetic: "synthetic"
        case .sim(let s): s.map { "sim:\($0)" } ?? "sim"
        case .file(let p): p
        }
    }
}

public enum RigError: Error, CustomStringConvertible {
    case unknown(String)
    public var description: String {
        switch self {
        case .unknown(let t):
            return "unknown rig '\(t)'; expected a rig file (.toml, see rigs/), 'sim' (simulated overcharge run), 'sim:SCENARIO' (a scenario from scenarios/) or 'synthetic' (built-in test patterns)"
        }
    }
}

/// How fast an unpaced rig runs.
public enum RigSpeed: Sendable, Equatable {
    /// Real time times N (1 = real time).
    case realTime(Double)
    /// As fast as the machine goes.
    case max
}
