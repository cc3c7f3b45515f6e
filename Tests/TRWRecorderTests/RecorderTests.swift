import Synchronization
import Foundation
import Testing
import TRWCodec
import TRWCore
import TRWStore
import TRWTestSupport
@testable import TRWRecorder
import TRWRig

func record(_ source: any Source, dir: TemporaryDirectory, configure: (inout RecorderOptions) -> Void = { _ in },
            before: (Recorder) -> Void = { _ in }) throws -> (RecordingResult, SessionReader) {
    var o = RecorderOptions(name: "t", outputPath: dir.file("s.sqlite"), rigName: "synthetic")
    o.realTime = false
    configure(&o)
    let r = Recorder(sources: [source], options: o)
    before(r)
    try r.start()
    let result = r.wait()
    return (result, try SessionReader(path: o.outputPath))
}

@Suite struct RecorderTests {
    @Test func synthicRunStoresEveryEventBitExact() throws {
        var so = SyntheticSource.Options()
        so.width = 33; so.height = 7; so.fps = 50; so.durationS = 2; so.aeRateHz = 48_000; so.aeChunkFrames = 480
        so.aeChannels = 2; so.bmsRateHz = 10
        let src = SyntheticSource(options: so)
        let dir = TemporaryDirectory()
        let (result, reader) = try record(src, dir: dir)
        #expect(result.status == .complete)
        let ir = try #require(try reader.stream(key: "ir0"))
        let frames = try reader.frames(streamId: ir.id!)
        #expect(frames.map(\.sequence) == Array(0...100))
        let dec = try FrameDecoder()
        for f in frames {
            let px = try dec.decode([UInt8](f.payload), codec: f.codec, width: 33, height: 7)
            let expected = (0..<7).flatMap { y in (0..<33).map { x in
                SyntheticSource.pixel(frame: f.sequence, x: x, y: y, width: 33, height: 7) } }
            #expect(px == expected, "frame \(f.sequence) differs after the round trip")
            #expect(f.statistics == FrameStatistics.compute(pixels: expected, width: 33, height: 7))
            // The camera clock is host - 3 ms and frames arrive 1 ms after exposure with no jitter:
            // the fitted device clock (lower envelope, no latency configured) maps a frame to its
            // arrival. Bound: 10 µs (fit of a perfect line, integer rounding).
            let expectedT = f.deviceTsNs + 4_000_000 - (try reader.session().startMonotonicNs)
            #expect(abs(f.tNs - expectedT) <= 10_000, "frame \(f.sequence): t_ns \(f.tNs), expected \(expectedT)")
        }
        let ae = try #require(try reader.stream(key: "ae0"))
        let chunks = try reader.audioChunks(streamId: ae.id!)
        #expect(chunks.count == 200)  // chunks whose last sample is in by t = 2 s: 2 s * 48 kHz / 480
        #expect(chunks.map(\.firstSampleIndex) == (0..<200).map { Int64($0) * 480 })
        // t_ns of chunk k is k * 10 ms after chunk 0 (sample index through the rate, not arrival).
        for (k, c) in chunks.enumerated() { #expect(c.tNs - chunks[0].tNs == Int64(k) * 10_000_000) }
        let bms = try reader.bmsSamples()
        #expect(bms.count == 21)
        #expect(bms.first?.raw.hasPrefix("t=0.000 V=4.000") == true)
        #expect(try reader.gaps().isEmpty)
        #expect(result.final.streams.map(\.droppedInQueue) == [0, 0, 0])
    }

    @Test func queueOverflowIsRecordedAsAGapWithExactCounts() throws {
        var so = SyntheticSource.Options()
        so.width = 16; so.height = 12; so.fps = 1000; so.durationS = 0.4; so.emitMode = .dropIfFull
        so.aeRateHz = 8_000; so.aeChunkFrames = 800; so.bmsRateHz = 1
        let src = SyntheticSource(options: so)
        let dir = TemporaryDirectory()
        let gate = DispatchSemaphore(value: 0)
        // Compressors are held until the source has emitted everything: the
        // thermal queue (capacity 8) must overflow.
        let (result, reader) = try record(src, dir: dir, configure: { $0.thermalQueueCapacity = 8 }, before: { rec in
            rec.compressorGate = gate
            Thread.detachNewThread {
                while !src.finished.load(ordering: .acquiring) { usleep(1000) }
                gate.signal()
            }
        })
        let ir = try #require(try reader.stream(key: "ir0"))
        let stored = try reader.frameSummaries(streamId: ir.id!).count
        let gaps = try reader.gaps(streamId: ir.id!)
        #expect(gaps.allSatisfy { $0.kind == "queue_overflow" })
        let lost = gaps.reduce(0) { $0 + $1.lostCount }
        #expect(stored == 8)
        #expect(lost == 393)
        #expect(Int64(stored) + lost == 401, "every frame is either stored or counted lost")
        #expect(result.final.streams.first { $0.key == "ir0" }?.droppedInQueue == lost)
        #expect(try reader.summary().streams.first { $0.stream.key == "ir0" }?.lostTotal == lost)
    }

    @Test func writerBatchesManyRowsPerCommit() throws {
        var so = SyntheticSource.Options()
        so.width = 8; so.height = 8; so.fps = 2000; so.durationS = 1; so.aeRateHz = 48_000; so.aeChunkFrames = 48; so.bmsRateHz = 100
        let dir = TemporaryDirectory()
        let (result, reader) = try record(SyntheticSource(options: so), dir: dir)
        let rows = result.final.rowsWritten
        let hits = try reader.aeHits().count
        #expect(hits == 2, "one AE hit per burst at t = 0 and 0.5 s (the chunk holding t = 1.0 s ends after the run)")
        #expect(rows == Int64(2001 + 1000 + 101 + hits))
        #expect(result.final.commits >= 1)
        #expect(result.final.commits * 20 < rows, "\(result.final.commits) commits for \(rows) rows")
        #expect(try reader.summary().streams.map(\.count) == [2001, 1000, 101])
    }

    @Test func failingSourceIsAGapAndOthersGoOn() throws {
        final class Failing: Source, @unchecked Sendable {
            let name = "failing-bms"
            var streams: [StreamDescriptor] { [StreamDescriptor(key: "bms9", kind: .bms, device: "x", format: "kv", nominalRateHz: 1)] }
            func run(into sink: any SampleSink) throws {
                sink.emit(.bms(BMSSample(hostArrivalNs: HostClock.monotonicNanoseconds(), voltageV: 4, raw: "V=4")), stream: "bms9", mode: .blockIfFull)
                struct Unplugged: Error, CustomStringConvertible { var description: String { "device unplugged (ENODEV)" } }
                throw Unplugged()
            }
            func stop() {}
        }
        var so = SyntheticSource.Options()
        so.width = 8; so.height = 8; so.durationS = 0.5
        let dir = TemporaryDirectory()
        var o = RecorderOptions(name: "t", outputPath: dir.file("s.sqlite"), rigName: "mixed")
        o.realTime = false
        let r = Recorder(sources: [SyntheticSource(options: so), Failing()], options: o)
        try r.start()
        let result = r.wait()
        let reader = try SessionReader(path: o.outputPath)
        let bms9 = try #require(try reader.stream(key: "bms9"))
        #expect(try reader.gaps(streamId: bms9.id!).map(\.kind) == ["device_loss"])
        #expect(try reader.gaps(streamId: bms9.id!).first?.detail.contains("ENODEV") == true)
        #expect(try reader.bmsSamples(streamId: bms9.id!).count == 1)
        #expect(try reader.frameSummaries(streamId: reader.stream(key: "ir0")!.id!).count == 26)
        #expect(result.sourceErrors.count == 1)
        #expect(try reader.session().status == .complete)
    }
}

@Suite struct SourceBugTests {
    @Test func eventsOnUndeclaredStreamsAreCountedNotFatal() throws {
        final class Buggy: Source, @unchecked Sendable {
            let name = "buggy"
            var streams: [StreamDescriptor] { [StreamDescriptor(key: "bms0", kind: .bms, device: "x", format: "kv", nominalRateHz: 1)] }
            func run(into sink: any SampleSink) throws {
                let h = HostClock.monotonicNanoseconds()
                sink.emit(.bms(BMSSample(hostArrivalNs: h, voltageV: 4, raw: "V=4")), stream: "bms0", mode: .blockIfFull)
                for _ in 0..<3 { sink.emit(.bms(BMSSample(hostArrivalNs: h, voltageV: 4, raw: "V=4")), stream: "typo0", mode: .blockIfFull) }
            }
            func stop() {}
        }
        let dir = TemporaryDirectory()
        var o = RecorderOptions(name: "t", outputPath: dir.file("s.sqlite"), rigName: "t")
        o.realTime = false
        let r = Recorder(sources: [Buggy()], options: o)
        try r.start()
        let res = r.wait()
        #expect(res.status == .complete)
        #expect(res.detail.contains("3 events on undeclared streams"))
        let reader = try SessionReader(path: o.outputPath)
        #expect(try reader.bmsSamples().count == 1)
        #expect(try reader.gaps().contains { $0.kind == "undeclared_stream" && $0.lostCount == 3 })
    }
}
