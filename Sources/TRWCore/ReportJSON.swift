import Foundation

/// The one JSON style of every `--json` report (`trw info`, `ls`, `sync-report`, `label list`,
/// `label suggest`, `label history`, `score`, `verify`): snake_case keys (from the Swift
/// property names by `.convertToSnakeCase`), sorted keys, numbers as JSON numbers, and a
/// `format_version` at the top level. A report is a `Codable` value; non-finite numbers are
/// left out (optional properties set to nil), never written as strings.
///
/// Version history (docs/json-reports.md):
///   1  first versioned style (issue 21): label list values typed, label suggest snake_case.
public enum ReportJSON {
    /// The `format_version` every report carries.
    public static let formatVersion = 1

    /// The shared encoder: snake_case keys, sorted keys, pretty-printed when asked.
    public static func encoder(pretty: Bool = false) -> JSONEncoder {
        let enc = JSONEncoder()
        enc.keyEncodingStrategy = .convertToSnakeCase
        enc.outputFormatting = pretty ? [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
        return enc
    }

    /// The shared decoder (for tests and tools reading reports back).
    public static func decoder() -> JSONDecoder {
        let dec = JSONDecoder()
        dec.keyDecodingStrategy = .convertFromSnakeCase
        return dec
    }

    /// `report` as JSON text with `format_version` added to its top-level object.
    /// `report` must encode as a keyed container (a struct), not an array.
    public static func text<T: Encodable>(_ report: T, pretty: Bool = false) throws -> String {
        String(decoding: try encoder(pretty: pretty).encode(Versioned(report: report)), as: UTF8.self)
    }

    /// Encodes the report's own keys and `format_version` into one object.
    struct Versioned<T: Encodable>: Encodable {
        let report: T
        enum Key: String, CodingKey { case formatVersion }
        func encode(to encoder: Encoder) throws {
            try report.encode(to: encoder)
            var c = encoder.container(keyedBy: Key.self)
            try c.encode(ReportJSON.formatVersion, forKey: .formatVersion)
        }
    }
}
