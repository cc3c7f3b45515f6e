import TRWCore
import ArgumentParser
import Foundation
import TRWRecorder
import TRWStore
import TRWFigures

struct ListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ls",
        abstract: "List the sessions in a folder (default: sessions/).")

    @Argument(help: "Folder to list.")
    var directory: String = "sessions"

    @Flag(name: .long, help: "Print the list as one JSON object (docs/json-reports.md).")
    var json = false

    func run() throws {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDir), isDir.boolValue else {
            throw CLIFailure("\(directory) is not a folder")
        }
        let files = try FileManager.default.contentsOfDirectory(atPath: directory)
            .filter { $0.hasSuffix(".sqlite") }.sorted()
        if json {
            var entries: [ListJSON.Entry] = []
            for f in files {
                do {
                    let s = try SessionReader(path: directory + "/" + f).summary()
                    var e = ListJSON.Entry(file: f)
                    e.name = s.session.name
                    e.status = s.session.status.rawValue
                    e.startUtc = s.session.startUtc
                    let endNs: Int64 = s.session.endTNs ?? s.streams.compactMap(\.lastTNs).max() ?? 0
                    e.durationS = Double(endNs) / 1e9
                    e.frames = s.streams.filter { $0.stream.kind == "thermal" }.reduce(0) { $0 + $1.count }
                    e.bmsSamples = s.streams.filter { $0.stream.kind == "bms" }.reduce(0) { $0 + $1.count }
                    e.labels = s.labels.count
                    e.fileBytes = s.fileBytes
                    entries.append(e)
                } catch {
                    entries.append(ListJSON.Entry(file: f, error: "\(error)"))
                }
            }
            print(try ReportJSON.text(ListJSON(directory: directory, sessions: entries), pretty: false))
            return
        }
        if files.isEmpty {
            print("no sessions in \(directory)/ (record one: trw record --name NAME)")
            return
        }
        print("session".padded(to: 28) + " " + "status".padded(to: 10) + " " + "started (UTC)".padded(to: 20) + " " + "duration".leftPadded(to: 9) + " "
              + "frames".leftPadded(to: 7) + " " + "bms".leftPadded(to: 7) + " " + "labels".leftPadded(to: 6) + " " + "size".leftPadded(to: 10))
        for f in files {
            let path = directory + "/" + f
            do {
                let s = try SessionReader(path: path).summary()
                let dur = Double(s.session.endTNs ?? s.streams.compactMap(\.lastTNs).max() ?? 0) / 1e9
                let frames = s.streams.filter { $0.stream.kind == "thermal" }.reduce(0) { $0 + $1.count }
                let bms = s.streams.filter { $0.stream.kind == "bms" }.reduce(0) { $0 + $1.count }
                print(f.padded(to: 28) + " " + s.session.status.rawValue.padded(to: 10) + " " + (String(s.session.startUtc.prefix(19))).padded(to: 20) + " "
                      + (InfoReport.duration(dur)).leftPadded(to: 9) + " " + ("\(frames)").leftPadded(to: 7) + " " + ("\(bms)").leftPadded(to: 7) + " "
                      + ("\(s.labels.count)").leftPadded(to: 6) + " " + (InfoReport.bytes(s.fileBytes)).leftPadded(to: 10))
            } catch {
                print("\(f): \(error)")
            }
        }
    }
}
