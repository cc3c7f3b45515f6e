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

extension RigFile {
    /// Roles across the rig's serial instruments: one cell, so at most one `cell_bms`.
    static func checkSerialRoles(_ serial: [SerialInstrumentConfig], file: String, line: (Int) -> Int?) throws(RigFileError) {
        let cells = serial.indices.filter { serial[$0].role == .cellBMS }
        if cells.count > 1 {
            throw RigFileError(file: file, line: line(cells[1]), key: "serial[\(cells[1])].role",
                               message: "streams \(cells.map { serial[$0].stream }.joined(separator: " and ")) both have role cell_bms; "
                                   + "one instrument is the cell's BMS (give the others supply, logger, ambient or other)")
        }
    }
}
