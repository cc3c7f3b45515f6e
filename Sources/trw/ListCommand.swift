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
        print(pad("session", 28) + " " + pad("status", 10) + " " + pad("started (UTC)", 20) + " " + lpad("duration", 9) + " "
              + lpad("frames", 7) + " " + lpad("bms", 7) + " " + lpad("labels", 6) + " " + lpad("size", 10))
        for f in files {
            let path = directory + "/" + f
            do {
                let s = try SessionReader(path: path).summary()
                let dur = Double(s.session.endTNs ?? s.streams.compactMap(\.lastTNs).max() ?? 0) / 1e9
                let frames = s.streams.filter { $0.stream.kind == "thermal" }.reduce(0) { $0 + $1.count }
                let bms = s.streams.filter { $0.stream.kind == "bms" }.reduce(0) { $0 + $1.count }
                print(pad(f, 28) + " " + pad(s.session.status.rawValue, 10) + " " + pad(String(s.session.startUtc.prefix(19)), 20) + " "
                      + lpad(InfoReport.duration(dur), 9) + " " + lpad("\(frames)", 7) + " " + lpad("\(bms)", 7) + " "
                      + lpad("\(s.labels.count)", 6) + " " + lpad(InfoReport.bytes(s.fileBytes), 10))
            } catch {
                print("\(f): \(error)")
            }
        }
    }
}
