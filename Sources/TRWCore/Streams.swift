/// The three kinds of stream a rig records.
public enum StreamKind: String, Sendable, Codable, CaseIterable {
    /// Radiometric infrared frames (V4L2 camera or simulator).
    case thermal
    /// Acoustic emission PCM (ALSA capture device or simulator).
    case ae
    /// BMS / power supply / DAQ readings (serial line or simulator).
    case bms
}

/// What a serial (`bms`) stream is to the cell under test, named in the rig file
/// (`role = "cell_bms"`) and stored on the stream. Per-tick features take each field
/// from its role's stream (docs/annotation.md "Roles"): the cell's voltage and
/// temperature from the cell's BMS, never from the supply.
public enum InstrumentRole: String, Sendable, Codable, CaseIterable {
    /// The battery management system / cell monitor of the cell under test.
    case cellBMS = "cell_bms"
    /// The power supply (or load) driving the cell: its own voltage and current.
    case supply
    /// A data logger (thermocouples, extra channels).
    case logger
    /// A chamber or room sensor: ambient temperature.
    case ambient
    /// Anything else; recorded, never used for features.
    case other
    /// A battery cycler's or logger's own file, added after the run by `trw import`
    /// (Arbin, Maccor, Neware, BioLogic, Battery Data Format, CSV); never used for features.
    case cycler

    public static var names: String { allCases.map(\.rawValue).joined(separator: ", ") }
}

/// Counts -> kelvin for a radiometric camera: T[K] = counts * kelvinPerCount + offsetKelvin.
/// TLinear 0.01 K/count is `ThermalCalibration(kelvinPerCount: 0.01, offsetKelvin: 0)`.
public struct ThermalCalibration: Sendable, Codable, Equatable {
    public var kelvinPerCount: Double
    public var offsetKelvin: Double
    /// Emissivity assumed by the camera when producing the counts.
    public var emissivity: Double

    public init(kelvinPerCount: Double, offsetKelvin: Double = 0, emissivity: Double = 1.0) {
        self.kelvinPerCount = kelvinPerCount
        self.offsetKelvin = offsetKelvin
        self.emissivity = emissivity
    }

    /// TLinear at 0.01 K per count (FLIR Boson / Lepton high-gain radiometry).
    public static let tLinear10mK = ThermalCalibration(kelvinPerCount: 0.01)
    /// TLinear at 0.1 K per count (low-gain radiometry).
    public static let tLinear100mK = ThermalCalibration(kelvinPerCount: 0.1)

    @inlinable public func kelvin(_ counts: UInt16) -> Double { Double(counts) * kelvinPerCount + offsetKelvin }
    @inlinable public func celsius(_ counts: UInt16) -> Double { kelvin(counts) - 273.15 }
    @inlinable public func counts(celsius: Double) -> UInt16 {
        let c = ((celsius + 273.15 - offsetKelvin) / kelvinPerCount).rounded()
        return UInt16(clamping: Int(max(0, min(65535, c))))
    }
}

/// PCM sample formats, stored as Int32 per sample in trw (S16/S24 sign-extended,
/// FLOAT_LE as its IEEE-754 bit pattern).
public enum SampleFormat: String, Sendable, Codable, CaseIterable {
    /// SND_PCM_FORMAT_S16_LE
    case s16le = "S16_LE"
    /// SND_PCM_FORMAT_S24_LE (24 bits in the low bytes of 32)
    case s24le = "S24_LE"
    /// SND_PCM_FORMAT_S32_LE
    case s32le = "S32_LE"
    /// SND_PCM_FORMAT_FLOAT_LE
    case floatle = "FLOAT_LE"

    public var bytesPerSample: Int {
        switch self {
        case .s16le: 2
        case .s24le, .s32le, .floatle: 4
        }
    }

    /// Full scale of the format, for converting samples to volts at the ADC.
    public var fullScale: Double {
        switch self {
        case .s16le: 32768
        case .s24le: 8_388_608
        case .s32le: 2_147_483_648
        case .floatle: 1
        }
    }
}

/// What a source declares about one of its streams before it starts.
/// Drivers fill in what the device actually granted (not what was asked).
public struct StreamDescriptor: Sendable, Codable, Equatable {
    /// Unique within the rig: "ir0", "ae0", "bms0".
    public var key: String
    public var kind: StreamKind
    /// Device identity: "/dev/video0", "hw:1,0", "/dev/ttyUSB0", "sim:ir".
    public var device: String
    /// Stored format: "Y16", "S32_LE", "csv", ...
    public var format: String
    /// Nominal rate: frames/s (thermal), samples/s per channel (ae), readings/s (bms).
    public var nominalRateHz: Double
    /// Thermal frame geometry.
    public var width: Int?
    public var height: Int?
    /// AE channel count and sample format.
    public var channels: Int?
    public var sampleFormat: SampleFormat?
    /// Thermal radiometry (counts -> kelvin).
    public var calibration: ThermalCalibration?
    /// Units of each stored field, e.g. ["voltage": "V"].
    public var units: [String: String]
    /// Driver-specific facts (asked vs granted, driver name, AE detector settings, ...).
    public var properties: [String: String]
    /// Serial instruments: the role named in the rig (nil: not named).
    public var role: InstrumentRole?

    public init(
        key: String, kind: StreamKind, device: String, format: String, nominalRateHz: Double,
        width: Int? = nil, height: Int? = nil, channels: Int? = nil, sampleFormat: SampleFormat? = nil,
        calibration: ThermalCalibration? = nil, units: [String: String] = [:], properties: [String: String] = [:],
        role: InstrumentRole? = nil
    ) {
        self.key = key
        self.kind = kind
        self.device = device
        self.format = format
        self.nominalRateHz = nominalRateHz
        self.width = width
        self.height = height
        self.channels = channels
        self.sampleFormat = sampleFormat
        self.calibration = calibration
        self.units = units
        self.properties = properties
        self.role = role
    }
}
