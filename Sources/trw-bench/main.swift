// `make bench`: every benchmark prints ratios against a reference measured in
// the same run (never pass/fail on absolute time alone).
import Foundation

let only = CommandLine.arguments.dropFirst().first
func section(_ name: String, _ body: () throws -> Void) {
    guard only == nil || only == name else { return }
    do { try body() } catch { print("\(name) benchmark failed: \(error)") }
    print("")
}
section("ingest") { try runIngestBench() }
