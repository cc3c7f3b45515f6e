import Logging
import TRWCore
import TRWSerial

extension RigFile {
    func makeSerialSources(logger: Logger) throws -> [any Source] {
        try serial.map { c in
            do { return try SerialInstrumentSource(config: c, logger: logger) } catch {
                throw RigFileError(file: path, line: nil, key: "serial \(c.stream)", message: "\(error)")
            }
        }
    }
    func serialCheckers(logger: Logger) -> [(String, () throws -> any Source)] {
        serial.map { c in ("serial \(c.stream) \(c.port.path)", { try SerialInstrumentSource(config: c, logger: logger) }) }
    }
}
