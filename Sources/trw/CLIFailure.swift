/// A problem found while a command runs (the session, a file, the terminal), as opposed to
/// a usage error: ArgumentParser prints "Error: <message>" without the usage text and exits 1.
/// Usage errors (`ValidationError`, exit 64) stay for what is wrong with the command line.
struct CLIFailure: Error, CustomStringConvertible {
    let description: String
    init(_ message: String) { description = message }
}
