import Foundation
import CZstd
import Testing
import TRWAnalysis
import TRWCore
import TRWStore
import TRWSessionFixtures
import TRWTestSupport
@testable import TRWDatasets

/// `trw export --format hdf5|mcap|pridb` (issue 21 item 3): damaged payloads skipped and
/// counted, windows checked against the session, outputs never overwritten nor left half
/// written. The values themselves are read back by h5py, mcap and vallenae in
/// tests/python/test_field_exports.py.
@Suite struct FieldExportTests {
    @Test(arguments: [ExportFormat.hdf5, .mcap])
    func damagedFramesAndChunksAreSkippedAndCounted(format: ExportFormat) throws {
        let dir = TemporaryDirectory()
        let path = try syntheticSession(dir, seconds: 3)
        let r = try SessionReader(path: path)
        let ir = try #require(try r.stream(key: "ir0"))
        let frames = try r.frameSummaries(streamId: ir.id!)
        let ae = try #require(try r.stream(key: "ae0"))
        let chunks = try r.audioChunks(streamId: ae.id!)
        try damage(path, table: "thermal_frame", ids: [frames[3].id, frames[7].id])
        try damage(path, table: "audio_chunk", ids: [chunks[5].id!])
        let out = dir.file("s.\(format.rawValue)")
        let report = try SessionExport.export(session: path, format: format, to: out)
        #expect(report.frames == frames.count - 2)
        let skippedFrames = report.damaged.items.filter { $0.table == "thermal_frame" }.map(\.rowId)
        #expect(Set(skippedFrames) == [frames[3].id, frames[7].id])
        if format == .hdf5 {
            #expect(report.damaged.items.contains { $0.table == "audio_chunk" && $0.rowId == chunks[5].id! })
            let total = chunks.reduce(Int64(0)) { $0 + Int64($1.frameCount) }
            #expect(report.pcmFrames == total - Int64(chunks[5].frameCount))
        }
        #expect(report.bytes > 0 && FileManager.default.fileExists(atPath: out))
    }

    /// A --from/--to window reads only its own rows and, before it, what the ticks carry in
    /// (the last value of each held BMS field, the last frame, one FFT length of audio on the
    /// STFT window grid of the run): its ticks equal those computed with everything from the
    /// run's start read, every feature, AE band powers included.
    @Test func windowFeaturesEqualThoseReadFromTheStart() throws {
        let dir = TemporaryDirectory()
        let path = try syntheticSession(dir, seconds: 6)
        let r = try SessionReader(path: path)
        var o = FeatureOptions()
        o.fromS = 2.25
        o.toS = 5.25
        let w = try FeatureExtractor.extract(r, options: o)
        var whole = o
        whole.toS = nil  // no window: every row from the start read, the same tick grid from 2.25 s
        let full = try FeatureExtractor.extract(r, options: whole)
        #expect(w.count == 3 && full.count >= 3)
        #expect(Array(full.tickTimesS.prefix(3)) == w.tickTimesS)
        var compared = 0
        for k in 0..<3 {
            for (i, n) in w.names.enumerated() {
                let a = w.values[k * w.names.count + i], b = full.values[k * full.names.count + i]
                #expect(a == b || (a.isNaN && b.isNaN), "\(n) tick \(k): window \(a), whole run \(b)")
                if !a.isNaN { compared += 1 }
            }
        }
        // Voltage, current, temperatures, IR, AE hit/RMS and band features are present, not all NaN.
        #expect(compared >= 3 * 12, "only \(compared) values compared")
        #expect(w.names.contains("ae_band_20_30khz_log10"))
    }

    @Test func anExistingOutputIsRefusedAndKept() throws {
        let dir = TemporaryDirectory()
        let path = try syntheticSession(dir, seconds: 2)
        let out = dir.file("keep.mcap")
        try Data("mine".utf8).write(to: URL(fileURLWithPath: out))
        #expect(throws: SessionExportError.outputExists(out)) {
            try SessionExport.export(session: path, format: .mcap, to: out)
        }
        #expect(try String(contentsOfFile: out, encoding: .utf8) == "mine")
    }

    @Test func aFailedWriteLeavesNothingBehind() throws {
        struct Boom: Error {}
        let dir = TemporaryDirectory()
        let out = dir.file("x.h5")
        #expect(throws: Boom.self) {
            try AtomicOutput.write(to: out) { tmp in
                try Data(repeating: 7, count: 1000).write(to: URL(fileURLWithPath: tmp))
                throw Boom()
            }
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty)
    }

    @Test func windowsOutsideTheSessionAreRefused() throws {
        let dir = TemporaryDirectory()
        let path = try syntheticSession(dir, seconds: 2)
        let r = try SessionReader(path: path)
        let ext = try r.extentNs().lowerBound...max(try r.extentNs().upperBound, try #require(try r.lastDataNs()))
        let ok = try SessionExport.window(r, fromS: 0.5, toS: 1.5)
        #expect(ok == 500_000_000..<1_500_000_000)
        #expect(try SessionExport.window(r, fromS: nil, toS: nil) == ext.lowerBound..<(ext.upperBound + 1))
        for (from, to) in [(Double?.none, Double?(60)), (-3, nil), (nil, .infinity)] {
            #expect(throws: SessionExportError.self) { try SessionExport.window(r, fromS: from, toS: to) }
        }
        #expect(throws: SessionExportError.emptyWindow(fromS: 1.5, toS: 0.5)) { try SessionExport.window(r, fromS: 1.5, toS: 0.5) }
        do {
            _ = try SessionExport.window(r, fromS: nil, toS: 60)
        } catch let e as SessionExportError {
            #expect(e.description.contains("--to 60.000 s lies outside the session \(path)"))
        }
    }

    @Test func zstdChunksDecompressToTheirRecords() throws {
        let src = (0..<5000).map { UInt8(truncatingIfNeeded: $0 / 7) }
        let z = try MCAPWriter.zstd(src, path: "t")
        #expect(z.count < src.count / 4)
        var back = [UInt8](repeating: 0, count: src.count)
        let n = z.withUnsafeBytes { s in back.withUnsafeMutableBytes { d in ZSTD_decompress(d.baseAddress, d.count, s.baseAddress, s.count) } }
        #expect(n == src.count && back == src)
    }

    @Test func pridbTimesRoundToTheNearest100ns() {
        #expect(PridbExport.ticks(0) == 0)
        #expect(PridbExport.ticks(149) == 1)
        #expect(PridbExport.ticks(150) == 2)
        #expect(PridbExport.ticks(-150) == -2)
        #expect(PridbExport.ticks(1_000_000_049) == 10_000_000)
    }

    /// Every record's length field, the chunk CRC and the footer are what the spec says:
    /// walked record by record from the magic to the footer.
    @Test func mcapRecordsWalkFromMagicToFooter() throws {
        let dir = TemporaryDirectory()
        let out = dir.file("t.mcap")
        let w = try MCAPWriter(path: out, library: "test")
        let s = try w.schema(name: "x", encoding: "jsonschema", data: Array("{}".utf8))
        let c = try w.channel(topic: "/x", schema: s, messageEncoding: "json")
        w.chunkBytes = 100
        w.compression = ""
        for t in 0..<10 { try w.message(channel: c, logTime: UInt64(t) * 1000, data: Array("{\"i\":\(t)}".utf8)) }
        try w.finish()
        let b = [UInt8](try Data(contentsOf: URL(fileURLWithPath: out)))
        #expect(Array(b.prefix(8)) == MCAPWriter.magic && Array(b.suffix(8)) == MCAPWriter.magic)
        func u64(_ at: Int) -> UInt64 {
            var v = UInt64(0)
            for k in 0..<8 { v |= UInt64(b[at + k]) << UInt64(8 * k) }
            return v
        }
        func u32(_ at: Int) -> UInt32 {
            var v = UInt32(0)
            for k in 0..<4 { v |= UInt32(b[at + k]) << UInt32(8 * k) }
            return v
        }
        var i = 8
        var ops: [UInt8] = []
        while i < b.count - 8 {
            let op = b[i]
            let len = u64(i + 1)
            ops.append(op)
            if op == 0x06 {  // chunk: its CRC covers the records
                let size = Int(u64(i + 9 + 16))
                let crc = u32(i + 9 + 24)
                let records = Array(b[(i + 9 + Int(len) - size)..<(i + 9 + Int(len))])
                #expect(MCAPWriter.crc(records, 0) == crc)
            }
            i += 9 + Int(len)
        }
        #expect(i == b.count - 8)
        #expect(ops.first == 0x01 && ops.last == 0x02)
        #expect(ops.filter { $0 == 0x06 }.count >= 3, "chunks closed at 100 bytes")
        #expect(ops.filter { $0 == 0x08 }.count == ops.filter { $0 == 0x06 }.count, "one chunk index per chunk")
        #expect(ops.contains(0x0F) && ops.contains(0x0B) && ops.contains(0x0E))
    }
}
