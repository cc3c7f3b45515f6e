import Foundation
import TOMLKit
import TRWCore

// Unknown keys in rig files. The device sections decode into the drivers' own
// configuration types with `Decodable`, which ignores keys it does not ask for:
// a typo (`fsp = 5`, `threshold_dbae = 60`) would silently keep the default.
// Decoding runs through `KeyTrackingDecoder`, which notes every key the types
// ask for (decoded, probed with `contains`, or looked up as optional) per
// container; afterwards every key of the section must be one of them. The
// known keys are thus exactly what the drivers read, never a second list.

/// Keys asked for while decoding, per container path ("" = the section,
/// "port", "protocol.registers[0]").
final class DecodedKeyLog: @unchecked Sendable {
    private let lock = NSLock()
    private var asked: [String: Set<String>] = [:]

    func ask(_ path: [any CodingKey], _ key: String) {
        let p = Self.path(path)
        lock.withLock { _ = asked[p, default: []].insert(key) }
    }

    func known(at path: String) -> Set<String>? { lock.withLock { asked[path] } }

    static func path(_ keys: [any CodingKey]) -> String {
        var out = ""
        for k in keys {
            if let i = k.intValue, k.stringValue.hasPrefix("Index ") { out += "[\(i)]"; continue }
            out += out.isEmpty ? k.stringValue : "." + k.stringValue
        }
        return out
    }
}

extension CodingUserInfoKey {
    static let trwDecodedKeyLog = CodingUserInfoKey(rawValue: "trw.decodedKeyLog")!
}

/// Decodes `T` through a `KeyTrackingDecoder` when the decoder carries a log.
struct KeyTracked<T: Decodable>: Decodable {
    var value: T
    init(from decoder: any Decoder) throws {
        if let log = decoder.userInfo[.trwDecodedKeyLog] as? DecodedKeyLog, !(decoder is KeyTrackingDecoder) {
            value = try T(from: KeyTrackingDecoder(base: decoder, log: log))
        } else {
            value = try T(from: decoder)
        }
    }
}

struct KeyTrackingDecoder: Decoder {
    let base: any Decoder
    let log: DecodedKeyLog
    var codingPath: [any CodingKey] { base.codingPath }
    var userInfo: [CodingUserInfoKey: Any] { base.userInfo }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        KeyedDecodingContainer(TrackingKeyedContainer(base: try base.container(keyedBy: type), log: log))
    }
    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        TrackingUnkeyedContainer(base: try base.unkeyedContainer(), log: log)
    }
    func singleValueContainer() throws -> any SingleValueDecodingContainer {
        TrackingSingleValueContainer(base: try base.singleValueContainer(), log: log)
    }
}

struct TrackingKeyedContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
    var base: KeyedDecodingContainer<Key>
    let log: DecodedKeyLog
    var codingPath: [any CodingKey] { base.codingPath }
    var allKeys: [Key] { base.allKeys }

    private func note(_ key: Key) { log.ask(base.codingPath, key.stringValue) }

    func contains(_ key: Key) -> Bool { note(key); return base.contains(key) }
    func decodeNil(forKey key: Key) throws -> Bool { note(key); return try base.decodeNil(forKey: key) }
    func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool { note(key); return try base.decode(type, forKey: key) }
    func decode(_ type: String.Type, forKey key: Key) throws -> String { note(key); return try base.decode(type, forKey: key) }
    func decode(_ type: Double.Type, forKey key: Key) throws -> Double { note(key); return try base.decode(type, forKey: key) }
    func decode(_ type: Float.Type, forKey key: Key) throws -> Float { note(key); return try base.decode(type, forKey: key) }
    func decode(_ type: Int.Type, forKey key: Key) throws -> Int { note(key); return try base.decode(type, forKey: key) }
    func decode(_ type: Int8.Type, forKey key: Key) throws -> Int8 { note(key); return try base.decode(type, forKey: key) }
    func decode(_ type: Int16.Type, forKey key: Key) throws -> Int16 { note(key); return try base.decode(type, forKey: key) }
    func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 { note(key); return try base.decode(type, forKey: key) }
    func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 { note(key); return try base.decode(type, forKey: key) }
    func decode(_ type: UInt.Type, forKey key: Key) throws -> UInt { note(key); return try base.decode(type, forKey: key) }
    func decode(_ type: UInt8.Type, forKey key: Key) throws -> UInt8 { note(key); return try base.decode(type, forKey: key) }
    func decode(_ type: UInt16.Type, forKey key: Key) throws -> UInt16 { note(key); return try base.decode(type, forKey: key) }
    func decode(_ type: UInt32.Type, forKey key: Key) throws -> UInt32 { note(key); return try base.decode(type, forKey: key) }
    func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 { note(key); return try base.decode(type, forKey: key) }
    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        note(key)
        return try base.decode(KeyTracked<T>.self, forKey: key).value
    }
    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
        note(key)
        return KeyedDecodingContainer(TrackingKeyedContainer<NestedKey>(base: try base.nestedContainer(keyedBy: type, forKey: key), log: log))
    }
    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        note(key)
        return TrackingUnkeyedContainer(base: try base.nestedUnkeyedContainer(forKey: key), log: log)
    }
    func superDecoder() throws -> any Decoder { KeyTrackingDecoder(base: try base.superDecoder(), log: log) }
    func superDecoder(forKey key: Key) throws -> any Decoder {
        note(key)
        return KeyTrackingDecoder(base: try base.superDecoder(forKey: key), log: log)
    }
}

struct TrackingUnkeyedContainer: UnkeyedDecodingContainer {
    var base: any UnkeyedDecodingContainer
    let log: DecodedKeyLog
    var codingPath: [any CodingKey] { base.codingPath }
    var count: Int? { base.count }
    var isAtEnd: Bool { base.isAtEnd }
    var currentIndex: Int { base.currentIndex }

    mutating func decodeNil() throws -> Bool { try base.decodeNil() }
    mutating func decode(_ type: Bool.Type) throws -> Bool { try base.decode(type) }
    mutating func decode(_ type: String.Type) throws -> String { try base.decode(type) }
    mutating func decode(_ type: Double.Type) throws -> Double { try base.decode(type) }
    mutating func decode(_ type: Float.Type) throws -> Float { try base.decode(type) }
    mutating func decode(_ type: Int.Type) throws -> Int { try base.decode(type) }
    mutating func decode(_ type: Int8.Type) throws -> Int8 { try base.decode(type) }
    mutating func decode(_ type: Int16.Type) throws -> Int16 { try base.decode(type) }
    mutating func decode(_ type: Int32.Type) throws -> Int32 { try base.decode(type) }
    mutating func decode(_ type: Int64.Type) throws -> Int64 { try base.decode(type) }
    mutating func decode(_ type: UInt.Type) throws -> UInt { try base.decode(type) }
    mutating func decode(_ type: UInt8.Type) throws -> UInt8 { try base.decode(type) }
    mutating func decode(_ type: UInt16.Type) throws -> UInt16 { try base.decode(type) }
    mutating func decode(_ type: UInt32.Type) throws -> UInt32 { try base.decode(type) }
    mutating func decode(_ type: UInt64.Type) throws -> UInt64 { try base.decode(type) }
    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T { try base.decode(KeyTracked<T>.self).value }
    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
        KeyedDecodingContainer(TrackingKeyedContainer<NestedKey>(base: try base.nestedContainer(keyedBy: type), log: log))
    }
    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
        TrackingUnkeyedContainer(base: try base.nestedUnkeyedContainer(), log: log)
    }
    mutating func superDecoder() throws -> any Decoder { KeyTrackingDecoder(base: try base.superDecoder(), log: log) }
}

struct TrackingSingleValueContainer: SingleValueDecodingContainer {
    let base: any SingleValueDecodingContainer
    let log: DecodedKeyLog
    var codingPath: [any CodingKey] { base.codingPath }

    func decodeNil() -> Bool { base.decodeNil() }
    func decode(_ type: Bool.Type) throws -> Bool { try base.decode(type) }
    func decode(_ type: String.Type) throws -> String { try base.decode(type) }
    func decode(_ type: Double.Type) throws -> Double { try base.decode(type) }
    func decode(_ type: Float.Type) throws -> Float { try base.decode(type) }
    func decode(_ type: Int.Type) throws -> Int { try base.decode(type) }
    func decode(_ type: Int8.Type) throws -> Int8 { try base.decode(type) }
    func decode(_ type: Int16.Type) throws -> Int16 { try base.decode(type) }
    func decode(_ type: Int32.Type) throws -> Int32 { try base.decode(type) }
    func decode(_ type: Int64.Type) throws -> Int64 { try base.decode(type) }
    func decode(_ type: UInt.Type) throws -> UInt { try base.decode(type) }
    func decode(_ type: UInt8.Type) throws -> UInt8 { try base.decode(type) }
    func decode(_ type: UInt16.Type) throws -> UInt16 { try base.decode(type) }
    func decode(_ type: UInt32.Type) throws -> UInt32 { try base.decode(type) }
    func decode(_ type: UInt64.Type) throws -> UInt64 { try base.decode(type) }
    func decode<T: Decodable>(_ type: T.Type) throws -> T { try base.decode(KeyTracked<T>.self).value }
}

extension RigFile {
    /// Throws for the first key of section `name[index]` (table `t`, at any depth)
    /// that the decoder did not ask for: FILE:LINE, the key's full path, and the
    /// nearest known key. `snakeCase`: the section's keys were converted to camelCase
    /// for decoding (the log holds camelCase names).
    static func rejectUnknownKeys(_ t: TOMLTable, section name: String, index: Int, log: DecodedKeyLog, path: String, text: String,
                                  snakeCase: Bool, at inner: String = "") throws(RigFileError) {
        let locator = TOMLLineLocator(text: text)
        let tomlPrefix = "\(name)[\(index)]"
        func decoded(_ k: String) -> String { snakeCase ? RigKey(camelFromSnake: k).stringValue : k }
        let known = log.known(at: inner) ?? []
        for k in t.keys.sorted() {
            let dk = decoded(k)
            let innerKey = inner.isEmpty ? dk : inner + "." + dk
            let tomlInner = (inner.isEmpty ? "" : tomlPath(inner, snakeCase: snakeCase) + ".") + k
            guard known.contains(dk) else {
                let knownNames = known.map { snakeCase ? snake($0) : $0 }
                throw RigFileError(file: path, line: locator.line(tomlPrefix + "." + tomlInner) ?? locator.headerLine(tomlPrefix),
                                   key: tomlPrefix + "." + tomlInner,
                                   message: KeySuggestion.message(unknown: k, known: knownNames))
            }
            if let sub = t[k]?.table, log.known(at: innerKey) != nil {
                try rejectUnknownKeys(sub, section: name, index: index, log: log, path: path, text: text, snakeCase: snakeCase, at: innerKey)
            } else if let arr = t[k]?.array {
                for j in 0..<arr.count {
                    if let sub = arr[j].table, log.known(at: innerKey + "[\(j)]") != nil {
                        try rejectUnknownKeys(sub, section: name, index: index, log: log, path: path, text: text, snakeCase: snakeCase,
                                              at: innerKey + "[\(j)]")
                    }
                }
            }
        }
    }

    /// A decoded path ("protocol.fields.T1") written as the rig file spells it.
    static func tomlPath(_ p: String, snakeCase: Bool) -> String {
        snakeCase ? p.split(separator: ".").map { snake(String($0)) }.joined(separator: ".") : p
    }

    /// Keys of a hand-parsed section ([rig], [cell], [protocol], [stop]) against its known list.
    static func rejectUnknownKeys(_ t: TOMLTable, section: String, known: [String], path: String, text: String) throws(RigFileError) {
        let locator = TOMLLineLocator(text: text)
        for k in t.keys.sorted() where !known.contains(k) {
            throw RigFileError(file: path, line: locator.line(section + "." + k) ?? locator.headerLine(section), key: "\(section).\(k)",
                               message: KeySuggestion.message(unknown: k, known: known, what: section == "stop" ? "stop rule" : "key"))
        }
    }
}
