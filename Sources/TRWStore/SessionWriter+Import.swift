import Foundation
import GRDB
import TRWCore

// `trw import`: a cycler's or logger's file added to a finished session as a new stream.
// The rule (docs/import.md): the session is copied first (`backup(to:)`, SQLite's online
// backup, so the copy is consistent), then the stream, its samples, its gaps and its clock
// model go in with one transaction: afterwards the file holds all of the import or none of it.

extension SessionWriter {
    /// Copies the whole session to `backupPath` (a new file; never overwrites one) with
    /// SQLite's backup API, then checks the copy opens as a session.
    public func backup(to backupPath: String) throws {
        if FileManager.default.fileExists(atPath: backupPath) { throw SessionStoreError.alreadyExists(path: backupPath) }
        guard SessionFile.folderWritable(of: backupPath) else {
            throw SessionStoreError.readOnly(path: backupPath, detail: "cannot write the backup: its folder is not writable")
        }
        do {
            var config = Configuration()
            config.foreignKeysEnabled = false
            let copy = try DatabaseQueue(path: backupPath, configuration: config)
            try dbQueue.backup(to: copy)
            try copy.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA journal_mode = DELETE") }
            try copy.close()
            _ = try SessionFile.openExisting(path: backupPath, readonly: true)
        } catch {
            _ = unlink(backupPath)
            throw SessionStoreError.wrap(error, path: backupPath)
        }
    }

    /// Adds an imported stream with its samples, gap rows and clock model in one transaction.
    /// `samples` and `gaps` carry any stream id (it is replaced by the new stream's).
    /// Fails, writing nothing, if a stream with the descriptor's key exists.
    @discardableResult
    public func addImportedStream(_ descriptor: StreamDescriptor, samples: [BMSSampleRecord], gaps: [GapRecord],
                                  clockMethod: String, clockModelJSON: String) throws -> Int64 {
        let key = descriptor.key
        do {
            return try insertImport(descriptor, key: key, samples: samples, gaps: gaps, clockMethod: clockMethod, clockModelJSON: clockModelJSON)
        } catch {
            throw SessionStoreError.wrap(error, path: path)
        }
    }

    private func insertImport(_ descriptor: StreamDescriptor, key: String, samples: [BMSSampleRecord], gaps: [GapRecord],
                       clockMethod: String, clockModelJSON: String) throws -> Int64 {
        try dbQueue.write { db in
            if try StreamRecord.filter(StreamRecord.Columns.key == key).fetchCount(db) > 0 {
                throw SessionStoreError.notASession(
                    path: path, reason: "it already has a stream \(key); import with another --key")
            }
            var row = StreamRecord(descriptor)
            try row.insert(db)
            let id = row.id!
            let stmt = try db.makeStatement(sql: """
                INSERT INTO bms_sample (stream_id, host_arrival_ns, device_time_s, t_ns, voltage_v, current_a, cell_temp_c,
                                        cell_temps_json, ambient_c, soc, extra_json, raw)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """)
            for s in samples {
                try stmt.execute(arguments: [id, s.hostArrivalNs, s.deviceTimeS, s.tNs, s.voltageV, s.currentA, s.cellTempC,
                                             s.cellTempsJson, s.ambientC, s.soc, s.extraJson, s.raw])
            }
            for var g in gaps {
                g.id = nil
                g.streamId = id
                try g.insert(db)
            }
            var model = ClockModelRecord(streamId: id, method: clockMethod, modelJson: clockModelJSON, createdUtc: ISOTime.now())
            try model.insert(db)
            return id
        }
    }
}
