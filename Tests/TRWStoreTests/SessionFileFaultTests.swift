import Foundation
import GRDB
import Testing
import TRWCodec
import TRWCore
import TRWTestSupport
@testable import TRWStore

let smallIR = StreamDescriptor(key: "ir0", kind: .thermal, device: "test", format: "Y16", nominalRateHz: 50,
                               width: 32, height: 24, calibration: .tLinear10mK)
let smallAE = StreamDescriptor(key: "ae0", kind: .ae, device: "test", format: "S32_LE", nominalRateHz: 96_000,
                               channels: 1, sampleFormat: .s32le)

/// A finished session with `frames` checksummed frames (32x24) and `chunks` audio chunks of 480 samples.
@discardableResult
func checksummedSession(_ path: String, frames: Int = 40, chunks: Int = 20, finalize: Bool = true,
                        width: Int = 32, height: Int = 24) throws -> (ir: Int64, ae: Int64) {
    let w = try SessionWriter(creating: path, session: newSession("faults"), softwareVersion: "test")
    var d = smallIR
    d.width = width
    d.height = height
    let ir = try w.addStream(d)
    let ae = try w.addStream(smallAE)
    let fenc = try FrameEncoder(), penc = try PCMEncoder()
    var b = WriteBatch()
    for i in 0..<frames {
        let px = TestFrames.thermal(width: width, height: height, seed: UInt64(i), noiseCounts: 20)
        b.frames.append(ThermalFrameRecord(streamId: ir, sequence: Int64(i), deviceTsNs: 0, hostArrivalNs: 0, tNs: Int64(i) * 20_000_000,
                                           codec: fenc.codec.rawValue, payload: Data(try fenc.encode(px, width: width, height: height)),
                                           stats: FrameStatistics(minCounts: 0, maxCounts: 0, meanCounts: 0, hotspotX: 0, hotspotY: 0)))
    }
    for i in 0..<chunks {
        let s: [Int32] = (0..<480).map { Int32(truncatingIfNeeded: ($0 * 31 + i * 7) % 2000 - 1000) }
        b.audio.append(AudioChunkRecord(streamId: ae, firstSampleIndex: Int64(i * 480), frameCount: 480, hostArrivalNs: 0,
                                        pairSampleIndex: nil, pairHostNs: nil, tNs: Int64(i) * 5_000_000, codec: penc.codec.rawValue,
                                        payload: Data(try penc.encode(s, channels: 1)), rms: 0, peak: 0))
    }
    try w.write(b)
    if finalize { try w.finalize(status: .complete, endTNs: Int64(frames) * 20_000_000) }
    return (ir, ae)
}

func fileBytes(_ path: String) throws -> [UInt8] { [UInt8](try Data(contentsOf: URL(fileURLWithPath: path))) }

/// Flips bits in stored payloads through SQLite (as a damaged copy would hold them).
func flipBits(_ path: String, table: String, ids: [Int64], flips: Int = 2, seed: UInt64 = 1) throws {
    let q = try DatabaseQueue(path: path)
    var rng = SplitMix64(seed: seed)
    try q.write { db in
        for id in ids {
            var p = [UInt8](try Data.fetchOne(db, sql: "SELECT payload FROM \(table) WHERE id = ?", arguments: [id])!)
            for _ in 0..<flips {
                let bit = Int(rng.next() % UInt64(p.count * 8))
                p[bit / 8] ^= UInt8(1 << (bit % 8))
            }
            try db.execute(sql: "UPDATE \(table) SET payload = ? WHERE id = ?", arguments: [Data(p), id])
        }
    }
    try q.close()
}

/// Mounts a small tmpfs (tests run as root); nil where that is not possible.
final class TmpfsMount {
    let path: String
    private init(path: String) { self.path = path }
    static func make(in dir: TemporaryDirectory, sizeMB: Int = 16) -> TmpfsMount? {
        let mnt = dir.file("mnt")
        try? FileManager.default.createDirectory(atPath: mnt, withIntermediateDirectories: true)
        guard run("/bin/mount", ["-t", "tmpfs", "-o", "size=\(sizeMB)m", "tmpfs", mnt]) else {
            print("skipping: cannot mount a tmpfs here (needs root)")
            return nil
        }
        return TmpfsMount(path: mnt)
    }
    func remountReadOnly() -> Bool { Self.run("/bin/mount", ["-o", "remount,ro", path]) }
    deinit { _ = Self.run("/bin/umount", [path]) }
    @discardableResult
    static func run(_ tool: String, _ args: [String]) -> Bool {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: tool)
        p.arguments = args
        p.standardError = FileHandle.nullDevice
        p.standardOutput = FileHandle.nullDevice
        do { try p.run() } catch { return false }
        p.waitUntilExit()
        return p.terminationStatus == 0
    }
}

@Suite(.serialized) struct SessionFileFaultTests {
    // MARK: item 2: one self-contained file

    /// The issue: labels added after the recording stayed in NAME.sqlite-wal; a copy of
    /// NAME.sqlite alone lost them. Each label is its own writer (as `trw label add` is),
    /// with a reader held open the whole time (as `trw annotate` does).
    @Test func labelsThenCopyMainFileAloneKeepsEveryLabel() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("s.sqlite")
        try checksummedSession(path)
        let reader = try SessionReader(path: path)
        for (i, label) in ["venting", "self_heating_onset", "runaway_onset", "exclude", "venting"].enumerated() {
            let w = try SessionWriter(appendingTo: path)
            try w.addAnnotation(AnnotationRecord(label: label, startTNs: Int64(i) * 1_000_000, endTNs: nil, author: "t", method: "manual"))
            try w.close()
        }
        _ = try reader.annotations()
        #expect(!FileManager.default.fileExists(atPath: path + "-wal"), "a -wal remains beside the session")
        let copyDir = TemporaryDirectory()
        try FileManager.default.copyItem(atPath: path, toPath: copyDir.file("copy.sqlite"))
        #expect(try SessionReader(path: copyDir.file("copy.sqlite")).annotations().count == 5)
    }

    /// A session left in WAL mode (a file written by an older trw, or a writer whose
    /// close was skipped) becomes one file when the next writer is released.
    @Test func writerReleaseLeavesWALModeEvenWithoutExplicitClose() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("s.sqlite")
        do {
            let w = try SessionWriter(creating: path, session: newSession(), softwareVersion: "test")
            _ = try w.addStream(irDescriptor)
            try w.write({ var b = WriteBatch(); b.markers = [MarkerRecord(tNs: 1, text: "a", origin: "cli")]; return b }())
            #expect(try w.dbQueue.read { try String.fetchOne($0, sql: "PRAGMA journal_mode") } == "wal")
        }  // released without finalize/close: deinit is the last resort
        let journal = try DatabaseQueue(path: path).read { try String.fetchOne($0, sql: "PRAGMA journal_mode") }
        #expect(journal == "delete")
        #expect(!FileManager.default.fileExists(atPath: path + "-wal"))
    }

    /// While a live recorder holds the session, another writer's close leaves it in WAL mode.
    @Test func closeKeepsWALWhileALiveRecorderWrites() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("s.sqlite")
        let rec = try SessionWriter(creating: path, session: newSession(), softwareVersion: "test")
        _ = try rec.addStream(irDescriptor)
        do {  // `trw mark` during the recording: its own process, ended before the recorder's
            let marker = try SessionWriter(appendingTo: path)
            try marker.addMarker(MarkerRecord(tNs: 5, text: "vent", origin: "cli"))
            #expect(try marker.close() == .liveRecorderActive)
        }
        #expect(try rec.finalize(status: .complete, endTNs: 10) == .selfContained)
        #expect(try SessionReader(path: path).markers().count == 1)
    }

    // MARK: item 2: read-only media and errors naming the cause

    @Test func finishedSessionOpensOnReadOnlyMedia() throws {
        let dir = TemporaryDirectory()
        guard let mnt = TmpfsMount.make(in: dir) else { return }
        let path = mnt.path + "/s.sqlite"
        try checksummedSession(path)
        // A session from an older trw: still in WAL mode, no -wal beside it.
        let old = mnt.path + "/old.sqlite"
        let w = try SessionWriter(creating: old, session: newSession("old"), softwareVersion: "test")
        _ = try w.addStream(irDescriptor)
        try w.dbQueue.writeWithoutTransaction { _ = try $0.checkpoint(.truncate) }
        // A session with an unmerged log (a recorder killed there).
        let killed = mnt.path + "/killed.sqlite"
        let k = try SessionWriter(creating: killed, session: newSession("killed"), softwareVersion: "test")
        _ = try k.addStream(irDescriptor)
        // Copy the three files as they are at this moment (the writers keep them open).
        let ro = TemporaryDirectory()
        guard let roMnt = TmpfsMount.make(in: ro) else { return }
        for f in ["s.sqlite", "old.sqlite", "killed.sqlite", "killed.sqlite-wal"] {
            try FileManager.default.copyItem(atPath: mnt.path + "/" + f, toPath: roMnt.path + "/" + f)
        }
        #expect(roMnt.remountReadOnly())
        let r = try SessionReader(path: roMnt.path + "/s.sqlite")
        #expect(try r.session().status == .complete)
        let ir = try #require(try r.stream(key: "ir0"))
        #expect(try r.frames(streamId: ir.id!).count == 40)
        #expect(try SessionReader(path: roMnt.path + "/old.sqlite").session().name == "old")
        #expect(!(try SessionVerifier.verify(path: roMnt.path + "/s.sqlite")).isDamaged)
        // The unmerged log cannot be read from there: the error says why and what to do.
        do {
            _ = try SessionReader(path: roMnt.path + "/killed.sqlite")
            Issue.record("opened a session whose log cannot be read")
        } catch let e as SessionStoreError {
            #expect(e.description.contains("read-only") && e.description.contains("-wal"), "\(e)")
        }
        // Writing there names the real cause, not "no such session file".
        do {
            let w = try SessionWriter(appendingTo: roMnt.path + "/s.sqlite")
            try w.addMarker(MarkerRecord(tNs: 1, text: "x", origin: "cli"))
            Issue.record("wrote to read-only media")
        } catch let e as SessionStoreError {
            #expect(e.description.contains("read-only"), "\(e)")
            #expect(!e.description.contains("no such session file"))
        }
        _ = (w, k)
    }

    @Test func openErrorsNameTheCause() throws {
        let dir = TemporaryDirectory()
        #expect(throws: SessionStoreError.notFound(path: dir.file("nope.sqlite"))) { _ = try SessionReader(path: dir.file("nope.sqlite")) }
        do {
            _ = try SessionReader(path: dir.path)
            Issue.record("opened a folder")
        } catch let e as SessionStoreError {
            #expect(e.description.contains("is a folder"), "\(e)")
        }
    }

    // MARK: item 3: checksums, verify, salvage

    @Test func bitFlipsAreDetectedNamedAndSalvaged() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("s.sqlite")
        let (ir, _) = try checksummedSession(path)
        try flipBits(path, table: "thermal_frame", ids: [3, 7, 8])
        try flipBits(path, table: "audio_chunk", ids: [5])
        let before = try fileBytes(path)

        let v = try SessionVerifier.verify(path: path)
        #expect(v.isDamaged)
        #expect(v.integrity == ["ok"], "SQLite itself sees nothing wrong: only the checksums do")
        let frames = v.streams.first { $0.key == "ir0" }!
        #expect(frames.damaged.map(\.rowId) == [3, 7, 8])
        #expect(frames.checksummed == 37)
        #expect(frames.damaged.allSatisfy { $0.checksumMismatch })
        let d = frames.damaged[0]
        #expect(d.description.contains(path) && d.description.contains("ir0") && d.description.contains("row 3")
                && d.description.contains("t = 0.040 s"), "\(d)")
        #expect(v.streams.first { $0.key == "ae0" }!.damaged.map(\.rowId) == [5])

        // Readers never return the damaged values.
        let r = try SessionReader(path: path)
        let st = try #require(try r.stream(key: "ir0"))
        let dec = try FrameDecoder()
        var damaged = 0
        for f in try r.frames(streamId: ir) {
            do { _ = try r.pixels(of: f, stream: st, decoder: dec) } catch { damaged += 1 }
        }
        #expect(damaged == 3)

        // In-place repair reports them and changes nothing else.
        let rep = try SessionRepair.repair(path: path)
        #expect(rep.damaged.count == 4 && !rep.changed)

        // Salvage into a new file; the original is untouched.
        let out = dir.file("salvaged.sqlite")
        let s = try SessionRepair.salvage(path: path, to: out)
        #expect(s.damaged.count == 4)
        #expect(try fileBytes(path) == before, "the original changed")
        let v2 = try SessionVerifier.verify(path: out)
        #expect(!v2.isDamaged, "\(v2.problems)")
        let r2 = try SessionReader(path: out)
        #expect(try r2.frames(streamId: ir).count == 37)
        #expect(try r2.audioChunks(streamId: 2).count == 19)
        let gaps = try r2.gaps().filter { $0.kind == DamagedPayload.gapKind }
        #expect(gaps.count == 4)
        #expect(gaps.filter { $0.streamId == 2 }.map(\.lostCount) == [480])
        #expect(throws: SessionStoreError.alreadyExists(path: out)) { _ = try SessionRepair.salvage(path: path, to: out) }
    }

    /// Overwrites 8 KB of the file starting inside frame `id`'s stored payload.
    func overwrite8KB(_ path: String, insideFrame id: Int64, from offset: Int) throws {
        let target = try SessionReader(path: path).read { db in
            [UInt8](try Data.fetchOne(db, sql: "SELECT payload FROM thermal_frame WHERE id = ?", arguments: [id])!)
        }
        var bytes = try fileBytes(path)
        let needle = Array(target[offset..<(offset + 64)])
        let at = try #require((0..<(bytes.count - needle.count)).first { bytes[$0] == needle[0] && Array(bytes[$0..<($0 + needle.count)]) == needle })
        for i in at..<min(bytes.count, at + 8192) { bytes[i] = UInt8(truncatingIfNeeded: (i &* 2654435761) >> 13) }
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    /// The issue: 8 KB overwritten inside one payload (640x480 frames in the issue; 160x120
    /// here, ~30 kB each). integrity_check cannot see it (payload bytes are not checked); the checksum does.
    @Test func overwrittenPayloadPageIsDetected() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("s.sqlite")
        try checksummedSession(path, frames: 12, chunks: 0, width: 160, height: 120)
        try overwrite8KB(path, insideFrame: 6, from: 16)
        let v = try SessionVerifier.verify(path: path)
        #expect(v.integrity == ["ok"], "this damage is invisible to SQLite")
        let ir = v.streams.first { $0.key == "ir0" }!
        #expect(ir.damaged.map(\.rowId) == [6])
        #expect(v.isDamaged)
        let s = try SessionRepair.salvage(path: path, to: dir.file("out.sqlite"))
        #expect(s.damaged.map(\.rowId) == [6])
        #expect(try SessionReader(path: dir.file("out.sqlite")).frames(streamId: 1).count == 11)
        #expect(!(try SessionVerifier.verify(path: dir.file("out.sqlite"))).isDamaged)
    }

    /// 8 KB over a page holding many small rows (b-tree structure hit): SQLite itself reports
    /// the damage; verify says so instead of failing, and salvage keeps what can be read.
    @Test func overwrittenTablePageIsReportedAndSalvaged() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("s.sqlite")
        try checksummedSession(path, frames: 200, chunks: 0, width: 16, height: 12)
        try overwrite8KB(path, insideFrame: 100, from: 8)
        let v = try SessionVerifier.verify(path: path)
        #expect(v.isDamaged)
        let out = dir.file("out.sqlite")
        let s = try SessionRepair.salvage(path: path, to: out)
        let kept = try SessionReader(path: out).frames(streamId: 1).count
        #expect(kept > 0 && kept < 200)
        let lost = s.damaged.count + s.unreadableRows
        #expect(kept + lost >= 190, "kept \(kept), damaged \(s.damaged.count), unreadable \(s.unreadableRows)")
        #expect(!(try SessionVerifier.verify(path: out)).integrity.contains { $0 != "ok" })
    }

    /// Files written before checksums (v1 codecs) stay readable; verify decodes them instead.
    @Test func unchecksummedPayloadsAreCheckedByDecoding() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("old.sqlite")
        let w = try SessionWriter(creating: path, session: newSession(), softwareVersion: "old")
        let ir = try w.addStream(smallIR)
        let enc = try FrameEncoder(codec: .planeFitZstd)
        var b = WriteBatch()
        for i in 0..<5 {
            b.frames.append(ThermalFrameRecord(streamId: ir, sequence: Int64(i), deviceTsNs: 0, hostArrivalNs: 0, tNs: Int64(i),
                                               codec: "pfit16-zstd-v1", payload: Data(try enc.encode(TestFrames.thermal(width: 32, height: 24, seed: 1), width: 32, height: 24)),
                                               stats: FrameStatistics(minCounts: 0, maxCounts: 0, meanCounts: 0, hotspotX: 0, hotspotY: 0)))
        }
        try w.write(b)
        try w.finalize(status: .complete, endTNs: 5)
        // Truncate one payload: undecodable, caught by the decode.
        try DatabaseQueue(path: path).write { try $0.execute(sql: "UPDATE thermal_frame SET payload = substr(payload, 1, 20) WHERE id = 2") }
        let v = try SessionVerifier.verify(path: path)
        let s = v.streams[0]
        #expect(s.unchecksummed == 4 && s.damaged.map(\.rowId) == [2] && !s.damaged[0].checksumMismatch)
    }

    @Test func sequenceHolesWithoutGapsAreReported() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("s.sqlite")
        try checksummedSession(path, frames: 10, chunks: 10)
        try DatabaseQueue(path: path).write { db in
            try db.execute(sql: "DELETE FROM thermal_frame WHERE sequence IN (4, 5)")
            try db.execute(sql: "DELETE FROM audio_chunk WHERE id = 6")
        }
        var v = try SessionVerifier.verify(path: path)
        #expect(v.streams[0].discontinuities == 1 && v.streams[0].missing == 2 && v.streams[0].unexplained == 2)
        #expect(v.streams[1].missing == 480 && v.streams[1].unexplained == 480)
        #expect(v.isDamaged)
        // Recorded as gaps, the same holes are explained.
        try DatabaseQueue(path: path).write { db in
            var g1 = GapRecord(streamId: 1, kind: "frame_drop", startTNs: 0, endTNs: nil, lostCount: 2, detail: "")
            var g2 = GapRecord(streamId: 2, kind: "xrun", startTNs: 0, endTNs: nil, lostCount: 480, detail: "")
            try g1.insert(db)
            try g2.insert(db)
        }
        v = try SessionVerifier.verify(path: path)
        #expect(!v.isDamaged, "\(v.problems)")
    }

    // MARK: repair refuses a live recording

    @Test func repairRefusesASessionALiveRecorderHolds() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("live.sqlite")
        let rec = try SessionWriter(creating: path, session: newSession(), softwareVersion: "test")
        _ = try rec.addStream(irDescriptor)
        #expect(SessionLock.isHeld(path: path))
        #expect(throws: SessionStoreError.liveRecording(path: path)) { _ = try SessionRepair.repair(path: path) }
        #expect(throws: SessionStoreError.liveRecording(path: path)) { _ = try SessionRepair.salvage(path: path, to: dir.file("o.sqlite")) }
        #expect(!FileManager.default.fileExists(atPath: dir.file("o.sqlite")))
        #expect(try SessionReader(path: path).session().status == .recording)
        #expect(try SessionReader(path: path).gaps().isEmpty, "a refused repair wrote a gap")
        try rec.finalize(status: .complete, endTNs: 1)
        #expect(!SessionLock.isHeld(path: path))
        #expect(try SessionRepair.repair(path: path).newStatus == .complete)
    }
}
