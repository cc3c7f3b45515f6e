import Foundation

/// Writes to stderr (progress and warnings; stdout stays for results).
func printErr(_ s: String) {
    FileHandle.standardError.write(Data((s + "\n").utf8))
}

/// Left-aligns `s` in `n` columns (String(format:) with %-N@ does not pad on Linux).
func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s : s + String(repeating: " ", count: n - s.count) }
/// Right-aligns `s` in `n` columns.
func lpad(_ s: String, _ n: Int) -> String { s.count >= n ? s : String(repeating: " ", count: n - s.count) + s }
