import Foundation
import Testing
import TRWStore
import TRWTestSupport
@testable import TRWAnnotate

/// Issue 17 item 2: labels saved by `trw annotate` (the model's save, with its reader still
/// open) are in NAME.sqlite itself: a copy of that file alone holds them.
@Suite struct AnnotateSaveFaultTests {
    @Test func savedLabelsSurviveACopyOfTheMainFileAlone() throws {
        let (_, src) = try demoSession.get()
        let d = TemporaryDirectory("trw-annotate")
        let path = d.file("s.sqlite")
        try FileManager.default.copyItem(atPath: src, toPath: path)
        let before = try SessionReader(path: path).annotations(includeHistory: true).count
        let m = try AnnotateModel(reader: try SessionReader(path: path), author: "ana")
        for ch in "g100\r" { try m.handle(ch == "\r" ? .enter : .char(ch)) }
        try m.handle(.char("v"))
        for ch in "g200\r" { try m.handle(ch == "\r" ? .enter : .char(ch)) }
        try m.handle(.char("s"))
        #expect(m.unsavedChanges == 2)
        try m.handle(.char("w"))
        #expect(m.unsavedChanges == 0)
        #expect(!FileManager.default.fileExists(atPath: path + "-wal"), "labels left in a -wal")
        let share = TemporaryDirectory("trw-share")
        try FileManager.default.copyItem(atPath: path, toPath: share.file("copy.sqlite"))
        let after = try SessionReader(path: share.file("copy.sqlite")).annotations(includeHistory: true)
        #expect(after.count == before + 2)
        #expect(after.contains { $0.label == "venting" && $0.author == "ana" })
        withExtendedLifetime(m) {}
    }
}
