import Foundation
import TRWModels

/// The trained DP-LSTM run in Swift (`dplstm:MODEL_DIR`): feeds the tick's
/// features in the model's input order (NaN or missing: last value carried).
public struct DPLSTMDetector: OnlineDetector {
    public let name: String
    public var runtime: DPLSTMRuntime
    var raw: [Float]

    public init(directory: String) throws {
        runtime = DPLSTMRuntime(weights: try DPLSTMWeights(directory: directory))
        name = "dplstm:" + directory
        raw = [Float](repeating: .nan, count: runtime.config.nIn)
    }

    public var parameters: [String: Double] {
        ["hidden": Double(runtime.config.hidden), "layers": Double(runtime.config.layers), "window": Double(runtime.config.window)]
    }

    public mutating func step(t: Double, features f: [String: Double]) -> Double {
        for (j, n) in runtime.config.features.enumerated() { raw[j] = f[n].map { Float($0) } ?? .nan }
        return Double(runtime.step(raw: raw))
    }
}

extension DetectorRegistry {
    /// Model-backed detectors named PREFIX:ARGUMENT.
    public static let modelPrefixes = ["dplstm:"]

    /// Whether `spec` names a built-in or a model-backed detector (without loading it).
    public static func isKnown(_ spec: String) -> Bool {
        make(spec) != nil || modelPrefixes.contains { spec.hasPrefix($0) }
    }

    /// A built-in detector or a model-backed one (`dplstm:MODEL_DIR`); errors say what is wrong with the model.
    public static func load(_ spec: String) throws -> any OnlineDetector {
        if let d = make(spec) { return d }
        if spec.hasPrefix("dplstm:") { return try DPLSTMDetector(directory: String(spec.dropFirst("dplstm:".count))) }
        throw DetectorSpecError.unknown(spec)
    }
}

public enum DetectorSpecError: Error, CustomStringConvertible {
    case unknown(String)
    public var description: String {
        switch self {
        case .unknown(let n):
            "unknown detector '\(n)'; built-in: \(DetectorRegistry.builtIn.joined(separator: ", ")), dplstm:MODEL_DIR (Swift DP-LSTM), or exec:COMMAND"
        }
    }
}
