import Foundation
import TRWCore

/// One SCPI query and where its answer goes.
///
/// ```toml
/// [[instrument.protocol.queries]]
/// query = "MEAS:VOLT?"
/// field = "voltage_v"
/// ```
public struct SCPIQuerySpec: Codable, Sendable, Equatable {
    public var query: String
    public var spec: FieldSpec

    public init(query: String, spec: FieldSpec) {
        self.query = query
        self.spec = spec
    }

    enum CodingKeys: String, CodingKey { case query }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(query: try c.decode(String.self, forKey: .query), spec: try FieldSpec(from: decoder))
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(query, forKey: .query)
        try spec.encode(to: encoder)
    }
}

/// SCPI polling of a programmable power supply (the instrument that drives an overcharge).
public struct SCPIProtocolConfig: Codable, Sendable, Equatable {
    public var queries: [SCPIQuerySpec]
    /// Seconds between polls.
    public var pollPeriodS: Double
    /// How long to wait for each answer line, ms.
    public var responseTimeoutMs: Int
    /// Extra attempts after a query got no answer.
    public var retries: Int
    /// Appended to each query: "\n" (default) or "\r\n".
    public var terminator: String
    public var required: [String]
    /// Ask "*IDN?" when opening and keep the answer as the stream's `identity` property.
    public var identify: Bool
    /// Commands that switch the supply's output off (an alarm action, `--on-alarm supply-off`),
    /// e.g. ["OUTP OFF"]; empty: trw cannot switch this supply off.
    public var outputOff: [String]
    /// A query that confirms the output is off (e.g. "OUTP?"); nil: the commands are not checked.
    public var outputOffCheck: String?
    /// Answers of `outputOffCheck` that mean "off" (compared without case and surrounding space).
    public var outputOffExpect: [String]

    public static let defaultQueries = [
        SCPIQuerySpec(query: "MEAS:VOLT?", spec: FieldSpec("voltage_v")),
        SCPIQuerySpec(query: "MEAS:CURR?", spec: FieldSpec("current_a")),
    ]

    public init(queries: [SCPIQuerySpec] = SCPIProtocolConfig.defaultQueries, pollPeriodS: Double = 1,
                responseTimeoutMs: Int = 500, retries: Int = 1, terminator: String = "\n", required: [String] = [],
                identify: Bool = true, outputOff: [String] = [], outputOffCheck: String? = nil, outputOffExpect: [String] = ["0", "OFF"]) {
        self.identify = identify
        self.outputOff = outputOff
        self.outputOffCheck = outputOffCheck
        self.outputOffExpect = outputOffExpect
        self.queries = queries
        self.pollPeriodS = pollPeriodS
        self.responseTimeoutMs = responseTimeoutMs
        self.retries = retries
        self.terminator = terminator
        self.required = required
    }

    enum CodingKeys: String, CodingKey {
        case queries, retries, terminator, required, identify
        case pollPeriodS = "poll_period_s"
        case responseTimeoutMs = "response_timeout_ms"
        case outputOff = "output_off"
        case outputOffCheck = "output_off_check"
        case outputOffExpect = "output_off_expect"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            queries: try c.decodeIfPresent([SCPIQuerySpec].self, forKey: .queries) ?? SCPIProtocolConfig.defaultQueries,
            pollPeriodS: try c.decodeIfPresent(Double.self, forKey: .pollPeriodS) ?? 1,
            responseTimeoutMs: try c.decodeIfPresent(Int.self, forKey: .responseTimeoutMs) ?? 500,
            retries: try c.decodeIfPresent(Int.self, forKey: .retries) ?? 1,
            terminator: try c.decodeIfPresent(String.self, forKey: .terminator) ?? "\n",
            required: try c.decodeIfPresent([String].self, forKey: .required) ?? [],
            identify: try c.decodeIfPresent(Bool.self, forKey: .identify) ?? true,
            outputOff: try c.decodeIfPresent([String].self, forKey: .outputOff) ?? [],
            outputOffCheck: try c.decodeIfPresent(String.self, forKey: .outputOffCheck),
            outputOffExpect: try c.decodeIfPresent([String].self, forKey: .outputOffExpect) ?? ["0", "OFF"])
    }

    public func validate() throws(SerialConfigError) {
        if queries.isEmpty { throw SerialConfigError("scpi: no queries") }
        if !(pollPeriodS >= 0.001 && pollPeriodS <= 86_400) { throw SerialConfigError("scpi poll_period_s \(pollPeriodS) must be in 0.001...86400 seconds") }
        if !(1...600_000).contains(responseTimeoutMs) { throw SerialConfigError("scpi response_timeout_ms \(responseTimeoutMs) must be 1...600000") }
        if !(0...100).contains(retries) { throw SerialConfigError("scpi retries \(retries) must be 0...100") }
        if terminator != "\n" && terminator != "\r\n" && terminator != "\r" {
            throw SerialConfigError("scpi terminator must be \"\\n\", \"\\r\\n\" or \"\\r\"")
        }
        for q in queries {
            if q.query.isEmpty || q.query.contains(where: { $0 == "\n" || $0 == "\r" }) {
                throw SerialConfigError("scpi query '\(q.query)' must be one non-empty line")
            }
            try q.spec.validate(source: "scpi query '\(q.query)'")
        }
        func oneLine(_ text: String) -> Bool { !text.isEmpty && text.count <= 256 && !text.contains { $0 == "\n" || $0 == "\r" || $0 == "\0" } }
        if outputOff.count > 8 { throw SerialConfigError("scpi output_off: at most 8 commands, got \(outputOff.count)") }
        for c in outputOff where !oneLine(c) {
            throw SerialConfigError("scpi output_off command '\(c)' must be one non-empty line of at most 256 characters")
        }
        if let q = outputOffCheck {
            if outputOff.isEmpty { throw SerialConfigError("scpi output_off_check '\(q)' needs output_off commands to check") }
            if !oneLine(q) || !q.hasSuffix("?") { throw SerialConfigError("scpi output_off_check '\(q)' must be one query line ending in '?'") }
            if outputOffExpect.isEmpty || outputOffExpect.contains(where: { !oneLine($0) }) {
                throw SerialConfigError("scpi output_off_expect must list the answers that mean 'off' (default [\"0\", \"OFF\"])")
            }
        }
    }

    /// Whether `answer` to `outputOffCheck` means the output is off.
    public func confirmsOff(_ answer: String) -> Bool {
        let a = answer.trimmingCharacters(in: .whitespaces).uppercased()
        return outputOffExpect.contains { $0.trimmingCharacters(in: .whitespaces).uppercased() == a }
    }
}

/// SCPI answers to numbers: "4.213", "+4.21300E+00", "4.213V", "4.213,1.502" (first value).
/// 9.9E37 / 9.91E37 are SCPI's overflow and not-a-number markers, not readings. Pure.
public struct SCPIAnswerDecoder: Sendable {
    public let config: SCPIProtocolConfig
    public init(config: SCPIProtocolConfig) { self.config = config }

    /// Decodes the answer lines of one poll (nil where a query got no answer).
    public func decode(answers: [(query: SCPIQuerySpec, line: [UInt8]?)], hostArrivalNs: Nanoseconds) -> Result<BMSSample, Rejection> {
        let raw = answers.map { "\($0.query.query) -> " + ($0.line.map(escapeRaw) ?? "(no answer)") }.joined(separator: "; ")
        var builder = SampleBuilder()
        for (query, line) in answers {
            guard let line else { continue }
            guard let text = String(validating: line, as: UTF8.self) else {
                return .failure(Rejection(raw: raw, reason: "\(query.query): answer is not text"))
            }
            let first = text.split(separator: ",", maxSplits: 1, omittingEmptySubsequences: false).first ?? Substring(text)
            if let n = NumberWithUnit(first), abs(n.value) >= 9.9e37 {
                return .failure(Rejection(raw: raw, reason: "\(query.query): the instrument reports overflow/NaN (9.9E37)"))
            }
            if let reason = builder.add(text: first, spec: query.spec, name: query.query, autoChannel: nil) {
                return .failure(Rejection(raw: raw, reason: reason))
            }
        }
        if let r = builder.missing(config.required) { return .failure(Rejection(raw: raw, reason: r)) }
        if builder.fieldCount == 0 { return .failure(Rejection(raw: raw, reason: "no query answered")) }
        return .success(builder.sample(hostArrivalNs: hostArrivalNs, raw: raw))
    }
}
