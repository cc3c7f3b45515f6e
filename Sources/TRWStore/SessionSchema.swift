import Foundation
import GRDB

/// The session file's identity and versioning.
///
/// * `PRAGMA application_id` = `SessionSchema.applicationID` ("TRW1") marks a trw session.
/// * `PRAGMA user_version` = the number of migrations applied (schema version).
/// * Migrations are the SQL files of schemas/migrations, embedded in the binary,
///   applied in order, each in its own transaction, never edited once shipped.
public enum SessionSchema {
    /// 0x54525731, "TRW1" in ASCII: trw's SQLite application_id.
    public static let applicationID: Int32 = 0x5452_5731

    /// The newest schema version this software knows.
    public static var currentVersion: Int { embeddedMigrations.last?.version ?? 0 }

    /// Applies every migration newer than the file's `user_version`.
    static func migrate(_ db: Database) throws {
        let version = try Int.fetchOne(db, sql: "PRAGMA user_version") ?? 0
        for m in embeddedMigrations where m.version > version {
            try db.inTransaction {
                try db.execute(sql: m.sql)
                try db.execute(sql: "PRAGMA user_version = \(m.version)")
                if m.version == 1 {
                    try db.execute(sql: "PRAGMA application_id = \(applicationID)")
                }
                return .commit
            }
        }
    }

    /// What is in a file, before trw touches it.
    enum Identity {
        case empty
        case trw(version: Int)
        case foreign(applicationID: Int32, tables: [String])
    }

    static func identify(_ db: Database) throws -> Identity {
        let appID = try Int32.fetchOne(db, sql: "PRAGMA application_id") ?? 0
        let version = try Int.fetchOne(db, sql: "PRAGMA user_version") ?? 0
        let tables = try String.fetchAll(
            db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
        if appID == applicationID { return .trw(version: version) }
        if appID == 0 && tables.isEmpty && version == 0 { return .empty }
        return .foreign(applicationID: appID, tables: tables)
    }
}

/// Why a session file could not be opened or written. Each case names the file.
public enum SessionStoreError: Error, CustomStringConvertible, Equatable {
    case notFound(path: String)
    case notSQLite(path: String)
    case foreignDatabase(path: String, applicationID: Int32, tables: [String])
    case newerSchema(path: String, fileVersion: Int, supportedVersion: Int)
    case alreadyExists(path: String)
    case notASession(path: String, reason: String)
    case diskFull(path: String)
    case sqlite(path: String, message: String)

    public var description: String {
        switch self {
        case .notFound(let p):
            return "\(p): no such session file"
        case .notSQLite(let p):
            return "\(p) is not a trw session: it is not an SQLite database (wrong file, or damaged beyond repair)"
        case .foreignDatabase(let p, let id, let tables):
            let idText = String(format: "0x%08X", UInt32(bitPattern: id))
            let list = tables.prefix(6).joined(separator: ", ") + (tables.count > 6 ? ", ..." : "")
            return "\(p) is an SQLite database but not a trw session (application_id \(idText), tables: \(list.isEmpty ? "none" : list))"
        case .newerSchema(let p, let v, let s):
            return "\(p) has session schema version \(v), newer than this trw understands (\(s)); update trw to read it"
        case .alreadyExists(let p):
            return "\(p) already exists; choose another --out or --name (sessions are never overwritten)"
        case .notASession(let p, let r):
            return "\(p) is not a usable trw session: \(r)"
        case .diskFull(let p):
            return "\(p): disk full; recording stopped, everything committed so far is kept"
        case .sqlite(let p, let m):
            return "\(p): \(m)"
        }
    }
}

extension SessionStoreError {
    /// Maps a GRDB/SQLite error on `path` to a user-facing error.
    static func wrap(_ error: any Error, path: String) -> any Error {
        if let e = error as? SessionStoreError { return e }
        if let e = error as? DatabaseError {
            switch e.resultCode {
            case .SQLITE_NOTADB: return SessionStoreError.notSQLite(path: path)
            case .SQLITE_FULL: return SessionStoreError.diskFull(path: path)
            case .SQLITE_CANTOPEN: return SessionStoreError.notFound(path: path)
            default: return SessionStoreError.sqlite(path: path, message: e.message ?? "\(e)")
            }
        }
        return error
    }
}

/// Opening session files with the checks every command shares.
enum SessionFile {
    static func configuration(readonly: Bool) -> Configuration {
        var config = Configuration()
        config.readonly = readonly
        config.busyMode = .timeout(5)
        config.prepareDatabase { db in
            if !readonly {
                try db.execute(sql: "PRAGMA synchronous = NORMAL")
            }
        }
        return config
    }

    /// Opens an existing session for reading and checks it is a trw session this software reads.
    static func openExisting(path: String, readonly: Bool) throws -> DatabaseQueue {
        guard FileManager.default.fileExists(atPath: path) else { throw SessionStoreError.notFound(path: path) }
        do {
            let queue = try DatabaseQueue(path: path, configuration: configuration(readonly: readonly))
            try queue.read { db in
                switch try SessionSchema.identify(db) {
                case .empty:
                    throw SessionStoreError.notASession(path: path, reason: "the database is empty")
                case .foreign(let id, let tables):
                    throw SessionStoreError.foreignDatabase(path: path, applicationID: id, tables: tables)
                case .trw(let v) where v > SessionSchema.currentVersion:
                    throw SessionStoreError.newerSchema(
                        path: path, fileVersion: v, supportedVersion: SessionSchema.currentVersion)
                case .trw:
                    break
                }
            }
            if !readonly {
                try queue.writeWithoutTransaction { db in try SessionSchema.migrate(db) }
            }
            return queue
        } catch {
            throw SessionStoreError.wrap(error, path: path)
        }
    }
}
