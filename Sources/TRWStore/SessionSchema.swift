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

    /// The oldest schema version `SessionReader` reads without migrating it (a read-only
    /// file cannot be migrated): every table and column its queries use exists from this
    /// version on. Migration 5 only adds views (`current_annotation`, `current_marker`) that
    /// trw's own queries do not use. Raise this when a migration adds something the readers need.
    public static let oldestReadableAsIs = 4

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
    /// The file or a folder on its path cannot be read by this user.
    case permissionDenied(path: String, detail: String)
    /// A write was needed but the file is on read-only media or its folder/file is not writable.
    case readOnly(path: String, detail: String)
    /// A recorder is writing the session right now (it holds the session's lock).
    case liveRecording(path: String)

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
        case .permissionDenied(let p, let d):
            return "\(p): permission denied: \(d)"
        case .readOnly(let p, let d):
            return "\(p): read-only: \(d)"
        case .liveRecording(let p):
            return "\(p) is being recorded right now (a live trw recorder holds its lock); wait until the recording ends, or stop it first"
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
            case .SQLITE_CANTOPEN: return SessionFile.diagnoseOpenFailure(path: path, message: e.message ?? "\(e)")
            case .SQLITE_READONLY:
                return SessionStoreError.readOnly(
                    path: path, detail: "cannot write: the file or its folder is not writable, or the medium is mounted read-only"
                        + " (\(e.message ?? "SQLITE_READONLY")); copy the session to a writable folder to change it")
            case .SQLITE_PERM, .SQLITE_AUTH:
                return SessionStoreError.permissionDenied(path: path, detail: e.message ?? "\(e)")
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
    ///
    /// Read-only opens use an SQLite URI with `mode=ro`, and `immutable=1` when the
    /// folder cannot be written (read-only media, or a folder this user cannot write)
    /// and no `-wal` exists: a finished session then opens without creating any file.
    static func openExisting(path: String, readonly: Bool) throws -> DatabaseQueue {
        try checkReadable(path: path)
        do {
            let queue = try DatabaseQueue(path: readonly ? try readOnlyURI(path: path) : path,
                                          configuration: configuration(readonly: readonly))
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

    /// Fails with the real cause when `path` cannot be opened at all: not found,
    /// permission denied on the file or a folder on its path.
    static func checkReadable(path: String) throws {
        var st = stat()
        if stat(path, &st) != 0 {
            let err = errno
            if err == EACCES {
                throw SessionStoreError.permissionDenied(path: path, detail: "a folder on its path cannot be searched by this user")
            }
            throw SessionStoreError.notFound(path: path)
        }
        if (st.st_mode & S_IFMT) == S_IFDIR {
            throw SessionStoreError.notASession(path: path, reason: "it is a folder; give the session's .sqlite file")
        }
        if access(path, R_OK) != 0 {
            throw SessionStoreError.permissionDenied(path: path, detail: "this user may not read the file (mode \(String(st.st_mode & 0o7777, radix: 8)))")
        }
    }

    /// Whether new files can be created beside `path` (false on read-only media or an unwritable folder).
    static func folderWritable(of path: String) -> Bool {
        let dir = (path as NSString).deletingLastPathComponent
        let d = dir.isEmpty ? "." : dir
        var vfs = statvfs()
        if statvfs(d, &vfs) == 0 && (vfs.f_flag & UInt(ST_RDONLY)) != 0 { return false }
        return access(d, W_OK) == 0
    }

    /// The session's size on disk, bytes: the file and its write-ahead log (0 for a missing one).
    static func bytes(path: String) -> Int64 {
        var total: Int64 = 0
        for p in [path, path + "-wal"] {
            if let s = try? FileManager.default.attributesOfItem(atPath: p)[.size] as? NSNumber { total += s.int64Value }
        }
        return total
    }

    /// Whether the file header says WAL (bytes 18 and 19 are 2).
    static func headerSaysWAL(path: String) -> Bool {
        guard let h = FileHandle(forReadingAtPath: path) else { return false }
        defer { try? h.close() }
        guard let d = try? h.read(upToCount: 20), d.count == 20 else { return false }
        return d[18] == 2 || d[19] == 2
    }

    /// The SQLite URI that opens `path` read-only; `immutable=1` where SQLite could not
    /// create its `-shm` (folder not writable) and there is no `-wal` to replay.
    static func readOnlyURI(path: String) throws -> String {
        let abs = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        var escaped = ""
        for ch in abs.unicodeScalars {
            switch ch {
            case "%": escaped += "%25"
            case "?": escaped += "%3F"
            case "#": escaped += "%23"
            default: escaped.unicodeScalars.append(ch)
            }
        }
        var uri = "file:" + escaped + "?mode=ro"
        if !folderWritable(of: path) {
            let walExists = FileManager.default.fileExists(atPath: path + "-wal")
            if walExists && headerSaysWAL(path: path) {
                var size: Int64 = 0
                if let n = try? FileManager.default.attributesOfItem(atPath: path + "-wal")[.size] as? NSNumber { size = n.int64Value }
                if size > 0 {
                    throw SessionStoreError.readOnly(
                        path: path, detail: "it has an unmerged write-ahead log (\((path as NSString).lastPathComponent)-wal, \(size) bytes) "
                            + "and its folder cannot be written, so SQLite cannot read the log; copy both files to a writable folder "
                            + "and run `trw repair` there to make the session one file")
                }
            }
            uri += "&immutable=1"
        }
        return uri
    }

    /// The user-facing error for SQLITE_CANTOPEN on `path`: names the real cause.
    static func diagnoseOpenFailure(path: String, message: String) -> SessionStoreError {
        do { try checkReadable(path: path) } catch let e as SessionStoreError { return e } catch {}
        if !folderWritable(of: path) {
            return .readOnly(path: path, detail: "SQLite could not open it (\(message)); the file's folder is read-only")
        }
        return .sqlite(path: path, message: "cannot open: \(message)")
    }
}
