import Logging
import TRWCore

extension RigFile {
    // Serial instruments arrive with the serial driver (TRWSerial).
    func makeSerialSources(logger: Logger) throws -> [any Source] {
        if let first = serial.first {
            throw RigFileError(file: path, line: nil, key: "serial[\(first.index)]", message: "serial instruments are not supported by this build")
        }
        return []
    }
    func serialCheckers(logger: Logger) -> [(String, () throws -> any Source)] {
        serial.map { e in ("serial[\(e.index)]", { throw RigFileError(file: path, line: nil, key: "serial[\(e.index)]", message: "serial instruments are not supported by this build") }) }
    }
}
