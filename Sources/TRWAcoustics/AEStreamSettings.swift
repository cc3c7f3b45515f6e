import Foundation
import TRWCore

extension AEDetectorSettings {
    /// The `StreamDescriptor.properties` key under which an AE stream carries
    /// its detector settings (JSON), so whoever stores or replays the stream
    /// runs the detector the rig configured.
    public static let streamPropertyKey = "ae.detector_settings"

    /// The settings as stored in the stream properties (JSON, sorted keys).
    public var streamPropertyValue: String {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        // Encoding six Doubles cannot fail unless one is not finite.
        guard let data = try? enc.encode(self) else {
            preconditionFailure("AE detector settings are not finite: \(self)")
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// The settings stored on `stream`, or nil when it has none.
    /// Throws when the property is there but does not decode.
    public init?(stream: StreamDescriptor) throws {
        guard let json = stream.properties[Self.streamPropertyKey] else { return nil }
        self = try JSONDecoder().decode(AEDetectorSettings.self, from: Data(json.utf8))
    }
}

extension AEHitDetector {
    /// The detector an `ae` stream asks for in its properties, or nil when it
    /// carries no detector settings (live detection not configured).
    public init?(stream: StreamDescriptor) throws {
        guard let settings = try AEDetectorSettings(stream: stream) else { return nil }
        self.init(stream: stream, settings: settings)
    }
}
