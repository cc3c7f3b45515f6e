import ArgumentParser
import Foundation
import TRWRecorder
import TRWStore

struct ListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ls",
        abstract: "List the sessions in a folder (default: sessions/).")

    @Argument(help: "Folder to list.")
    var directory: String = "sessions"

    func run() throws {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDir), isDir.boolValue else {
            throw ValidationError("\(directory) is not a folder")
        }
        let files = try FileManager.default.contentsOfDirectory(atPath: directory)
            .filter { $0.hasSuffix(".sqlite") }.sorted()
        if files.isEmpty {
            print("no sessions in \(directory)/ (record one: trw record --name NAME)")
            return
        }
        print(String(format: "%-28@ %-10@ %-20@ %9@ %7@ %7@ %6@ %10@", "session" as NSString, "status" as NSString,
                     "started (UTC)" as NSString, "duration" as NSString, "frames" as NSString, "bms" as NSString,
                     "labels" as NSString, "size" as NSString))
        for f in files {
            let path = directory + "/" + f
            do {
                let s = try SessionReader(path: path).summary()
                let dur = Double(s.session.endTNs ?? s.streams.compactMap(\.lastTNs).max() ?? 0) / 1e9
                let frames = s.streams.filter { $0.stream.kind == "thermal" }.reduce(0) { $0 + $1.count }
                let bms = s.streams.filter { $0.stream.kind == "bms" }.reduce(0) { $0 + $1.count }
                print(String(format: "%-28@ %-10@ %-20@ %9@ %7d %7d %6d %10@", f as NSString, s.session.status.rawValue as NSString,
                             String(s.session.startUtc.prefix(19)) as NSString, InfoReport.duration(dur) as NSString,
                             frames, bms, s.labels.count, InfoReport.bytes(s.fileBytes) as NSString))
            } catch {
                print("\(f): \(error)")
            }
        }
    }
}
