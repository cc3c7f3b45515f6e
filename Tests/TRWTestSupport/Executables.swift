import Foundation

/// Path of a product built next to the test bundle (e.g. "trw").
public func builtProduct(_ name: String) -> String? {
    var candidates: [URL] = []
    let exe = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
    var dir = exe.deletingLastPathComponent()
    for _ in 0..<5 {
        candidates.append(dir.appendingPathComponent(name))
        dir.deleteLastPathComponent()
    }
    candidates.append(URL(fileURLWithPath: repositoryRoot() + "/.build/debug/" + name))
    return candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) }?.path
}
