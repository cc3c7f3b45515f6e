import Foundation

/// Writes to stderr (progress and warnings; stdout stays for results).
func printErr(_ s: String) {
    FileHandle.standardError.write(Data((s + "\n").utf8))
}

