/// Unknown keys in configuration files (rig files, scenarios): the nearest
/// known key by edit distance, for "did you mean" messages.
public enum KeySuggestion {
    /// Levenshtein distance (insertions, deletions, substitutions), plus
    /// transposition of two adjacent characters counted as one edit
    /// ("fsp" -> "fps" is one edit).
    public static func distance(_ a: String, _ b: String) -> Int {
        let x = Array(a.lowercased().unicodeScalars), y = Array(b.lowercased().unicodeScalars)
        if x.isEmpty { return y.count }
        if y.isEmpty { return x.count }
        var prev2 = [Int](repeating: 0, count: y.count + 1)
        var prev = Array(0...y.count)
        var cur = [Int](repeating: 0, count: y.count + 1)
        for i in 1...x.count {
            cur[0] = i
            for j in 1...y.count {
                let cost = x[i - 1] == y[j - 1] ? 0 : 1
                var d = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
                if i > 1, j > 1, x[i - 1] == y[j - 2], x[i - 2] == y[j - 1] { d = min(d, prev2[j - 2] + 1) }
                cur[j] = d
            }
            (prev2, prev, cur) = (prev, cur, prev2)
        }
        return prev[y.count]
    }

    /// The known key closest to `key`, when it is close enough to be a likely
    /// typo (at most a third of the longer key's length, at least 2 edits allowed),
    /// or when `key` is a prefix/suffix fragment of exactly one known key.
    public static func nearest(_ key: String, in known: some Sequence<String>) -> String? {
        var best: (key: String, d: Int)?
        for k in known where k != key {
            let d = distance(key, k)
            if best == nil || d < best!.d || (d == best!.d && k < best!.key) { best = (k, d) }
        }
        guard let best else { return nil }
        let allowed = max(2, max(key.count, best.key.count) / 3)
        return best.d <= allowed ? best.key : nil
    }

    /// "unknown key 'fsp'; did you mean 'fps'? known keys: a, b, c".
    public static func message(unknown key: String, known: some Collection<String>, what: String = "key") -> String {
        let sorted = known.sorted()
        var m = "unknown \(what) '\(key)'"
        if let n = nearest(key, in: sorted) { m += "; did you mean '\(n)'?" }
        m += sorted.isEmpty ? "; this section takes no keys" : " (known keys: \(sorted.joined(separator: ", ")))"
        return m
    }
}
