import Foundation

/// Finds the line of a key in TOML text, for error messages that say
/// FILE:LINE: KEY. Works on the text alone (the TOML parser keeps no key
/// positions): table headers `[a.b]` and arrays of tables `[[a]]` are resolved
/// to paths such as `serial[1].port`, and a key is looked for in its table's
/// lines (also inside inline tables on those lines).
public struct TOMLLineLocator: Sendable {
    /// (resolved table path, first line (1-based) of its body, header line).
    private var tables: [(path: String, header: Int, lines: [(number: Int, text: Substring)])] = []

    public init(text: String) {
        var latestIndex: [String: Int] = [:]
        var current: (path: String, header: Int, lines: [(number: Int, text: Substring)]) = ("", 0, [])
        for (i, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let t = raw.drop { $0 == " " || $0 == "\t" }
            if t.hasPrefix("[") {
                let isArray = t.hasPrefix("[[")
                let open = isArray ? 2 : 1
                guard let close = t.firstIndex(of: "]") else { current.lines.append((i + 1, raw)); continue }
                let name = t[t.index(t.startIndex, offsetBy: open)..<close]
                let parts = name.split(separator: ".").map { $0.trimmingCharacters(in: CharacterSet(charactersIn: " \t\"'")) }
                var path = ""
                for (n, p) in parts.enumerated() {
                    path = path.isEmpty ? p : path + "." + p
                    if n == parts.count - 1 && isArray {
                        let k = (latestIndex[path] ?? -1) + 1
                        latestIndex[path] = k
                        path += "[\(k)]"
                    } else if let k = latestIndex[path] {
                        path += "[\(k)]"
                    }
                }
                tables.append(current)
                current = (path, i + 1, [])
            } else {
                current.lines.append((i + 1, raw))
            }
        }
        tables.append(current)
    }

    /// Line (1-based) of the table `path` (e.g. "serial[0].port"): its header line, nil if absent.
    public func headerLine(_ path: String) -> Int? {
        tables.first { $0.path == path && $0.header > 0 }?.header
    }

    /// Line (1-based) of a key given by its full dotted path (e.g. "sensors.ir.fsp",
    /// "camera[0].fps", "serial[1].protocol.fields.T1.field"), or of the nearest
    /// enclosing table or key that can be found; nil when nothing matches.
    public func line(_ keyPath: String) -> Int? {
        // The longest table path that encloses the key.
        var best: (table: Int, rest: [String])?
        for (n, t) in tables.enumerated() {
            let rest: [String]
            if t.path.isEmpty {
                rest = keyPath.split(separator: ".").map(String.init)
            } else if keyPath.hasPrefix(t.path + ".") {
                rest = keyPath.dropFirst(t.path.count + 1).split(separator: ".").map(String.init)
            } else if keyPath == t.path {
                rest = []
            } else {
                continue
            }
            if best == nil || rest.count < best!.rest.count { best = (n, rest) }
        }
        guard let best else { return nil }
        let t = tables[best.table]
        // Innermost key first (inside an inline table), then its parents.
        for key in best.rest.reversed() {
            if let hit = t.lines.first(where: { Self.definesKey($0.text, key) }) { return hit.number }
        }
        return t.header > 0 ? t.header : nil
    }

    /// Convenience: line of `key` inside table `table` ("" for the top level).
    public func line(table: String, key: String) -> Int? {
        line(table.isEmpty ? key : table + "." + key)
    }

    /// Whether `line` assigns `key` (`key = `, `"key" =`, or inside an inline table `{ key = `).
    static func definesKey(_ line: Substring, _ key: String) -> Bool {
        let code = line.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        for form in [key, "\"\(key)\"", "'\(key)'"] {
            var searchFrom = code.startIndex
            while let r = code[searchFrom...].range(of: form) {
                let before = r.lowerBound == code.startIndex ? nil : code[code.index(before: r.lowerBound)]
                let after = code[r.upperBound...].drop { $0 == " " || $0 == "\t" }
                if (before == nil || before == " " || before == "\t" || before == "{" || before == ",") && after.hasPrefix("=") {
                    return true
                }
                searchFrom = r.upperBound
            }
        }
        return false
    }
}
