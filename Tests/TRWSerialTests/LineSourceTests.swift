import Foundation
import Testing
import TRWCore
@testable import TRWSerial

@Suite struct LineSourceTests {
    /// A BMS streaming key=value lines, with garbage, a partial line and an over-long line
    /// mixed in: every good line becomes a sample, every bad one a counted parse-error gap.
    @Test func bmsStreamWithGarbageIsAccountedFor() throws {
        let pty = try PseudoTerminal()
        defer { pty.close() }
        var config = instrument(pty.slavePath, .keyValue(KeyValueProtocolConfig()))
        config.maxLineBytes = 64
        let source = try SerialInstrumentSource(config: config)
        #expect(source.streams.first?.properties["baud"] == "115200")
        #expect(source.streams.first?.properties["bits_per_char"] == "10")
        #expect(source.streams.first?.kind == .bms)
        #expect(source.streams.first?.properties["raw_format"] == "escaped_line")
        #expect(source.streams.first?.format == "key_value")
        let sink = RecordingSink()
        let runner = SourceRunner(source, sink: sink)
        let before = HostClock.monotonicNanoseconds()
        pty.send("t=1.000 V=4.100 I=1.500 T1=25.0 Tamb=23.0\n")
        pty.send([0x00, 0xFF, 0x13, 0x37] + Array("\n".utf8))                   // garbage
        pty.send("5 T1=25.1 Tamb=23.0\r\n")                                       // partial line
        pty.send(String(repeating: "X", count: 200) + "\n")                       // over-long
        pty.send("t=2.000 V=4.2V I=1500mA T1=25.2 T2=26.0 Tamb=23.0\r\nt=3.000 V=4.3 I=1.5 T1=25.3 Tamb=23.0\r\n")
        #expect(sink.wait { $0.samples.count == 3 && $0.gaps.count == 3 })
        #expect(runner.stop())
        #expect(runner.runError == nil)
        let s = sink.samples
        #expect(s.map(\.deviceTimeS) == [1, 2, 3])
        #expect(s[1].voltageV == 4.2 && s[1].currentA == 1.5 && s[1].cellTempsC == [25.2, 26.0])
        #expect(s.allSatisfy { $0.hostArrivalNs >= before && $0.hostArrivalNs <= HostClock.monotonicNanoseconds() })
        #expect(zip(s, s.dropFirst()).allSatisfy { $0.hostArrivalNs <= $1.hostArrivalNs })
        let gaps = sink.gaps
        #expect(gaps.allSatisfy { $0.kind == .parseError && $0.lostCount == 1 })
        #expect(gaps[0].detail.contains(#"\\x00\\xFF\\x13"#), "\(gaps[0].detail)")
        #expect(gaps[1].detail.contains("is not key=value"))
        #expect(gaps[2].detail.contains("longer than 64 bytes"))
        let stats = source.statistics
        #expect(stats.samples == 3 && stats.rejected == 3 && stats.units == 6)
        #expect(stats.discardedBytes == 200 - 64)
        #expect(source.recentRejections.count == 3)
    }

    /// Found by `make test-kernel` (a pty BMS streaming while `trw record` set up the
    /// camera and the AE device): lines the tty buffered between opening the port and
    /// the start of the run came out in one burst sharing one arrival time. They predate
    /// the recording; the run discards them and counts the bytes.
    @Test func linesBufferedBeforeTheRunAreDiscarded() throws {
        let pty = try PseudoTerminal()
        defer { pty.close() }
        let source = try SerialInstrumentSource(config: instrument(pty.slavePath, .keyValue(KeyValueProtocolConfig())))
        let stale = "t=0.100 V=4.000\nt=0.200 V=4.001\nt=0.3"
        pty.send(stale)
        usleep(100_000)  // the pty hands the bytes to the slave's line discipline asynchronously
        let sink = RecordingSink()
        let runner = SourceRunner(source, sink: sink)
        #expect(eventually { source.statistics.staleBytesDiscarded > 0 })
        pty.send("t=1.000 V=4.100\n")
        #expect(sink.wait { $0.samples.count >= 1 })
        #expect(runner.stop())
        #expect(runner.runError == nil)
        #expect(sink.samples.map(\.deviceTimeS) == [1])
        #expect(sink.gaps.isEmpty, "the partial stale line must not become a parse error")
        #expect(source.statistics.staleBytesDiscarded == Int64(stale.utf8.count))
    }

    @Test func csvDeviceThroughTheSource() throws {
        let pty = try PseudoTerminal()
        defer { pty.close() }
        let source = try SerialInstrumentSource(config: instrument(pty.slavePath, .csv(CSVProtocolConfig())))
        let sink = RecordingSink()
        let runner = SourceRunner(source, sink: sink)
        pty.send("time,V,I,T1\n0.1,4.0,1.0,25\n0.2,4.0,one,25\n0.3,4.1,1.0,25\n")
        #expect(sink.wait { $0.samples.count == 2 && $0.gaps.count == 1 })
        #expect(runner.stop())
        #expect(source.statistics.headers == 1)
        #expect(sink.gaps.first?.detail.contains("'one' is not a number") == true)
    }

    @Test func jsonDeviceThroughTheSource() throws {
        let pty = try PseudoTerminal()
        defer { pty.close() }
        let source = try SerialInstrumentSource(config: instrument(pty.slavePath, .jsonLines(JSONLinesProtocolConfig())))
        let sink = RecordingSink()
        let runner = SourceRunner(source, sink: sink)
        pty.send(#"{"t":1,"V":4.2,"I":1.5}"# + "\n" + #"{"t":2,"V":4.2,"I""# + "\n")
        #expect(sink.wait { $0.samples.count == 1 && $0.gaps.count == 1 })
        #expect(runner.stop())
        #expect(sink.gaps.first?.detail.contains("invalid JSON") == true)
    }

    /// A device that goes silent: one `.timeout` gap after the configured time, then data again.
    @Test func silenceGivesOneTimeoutGap() throws {
        let pty = try PseudoTerminal()
        defer { pty.close() }
        let source = try SerialInstrumentSource(config: instrument(pty.slavePath, .keyValue(KeyValueProtocolConfig()), silenceS: 0.1))
        let sink = RecordingSink()
        let runner = SourceRunner(source, sink: sink)
        pty.send("V=4.1\n")
        #expect(sink.wait { $0.gaps.contains { $0.kind == .timeout } })
        // Stays silent well past the timeout: still one gap.
        usleep(300_000)
        #expect(sink.gaps.filter { $0.kind == .timeout }.count == 1)
        pty.send("V=4.2\n")
        #expect(sink.wait { $0.samples.count == 2 })
        #expect(sink.wait { $0.gaps.filter { $0.kind == .timeout }.count == 2 })  // silent again afterwards
        #expect(runner.stop())
        let first = sink.gaps.first { $0.kind == .timeout }!
        #expect(first.startHostNs <= sink.samples[1].hostArrivalNs)
        #expect(source.statistics.silences >= 2)
    }

    /// A device that disappears (the adapter unplugged: hangup / EIO) and comes back under
    /// the same by-id name: a `.deviceLoss` gap, the partial line rejected, reopen, data again.
    @Test func deviceLossAndReopen() throws {
        let fm = FileManager.default
        let link = fm.temporaryDirectory.appendingPathComponent("trw-by-id-\(getpid())-\(UInt32.random(in: 0...UInt32.max))").path
        let first = try PseudoTerminal()
        try fm.createSymbolicLink(atPath: link, withDestinationPath: first.slavePath)
        defer { try? fm.removeItem(atPath: link) }
        let source = try SerialInstrumentSource(config: instrument(link, .keyValue(KeyValueProtocolConfig())))
        #expect(source.streams.first?.properties["resolved_device"] == first.slavePath)
        let sink = RecordingSink()
        let runner = SourceRunner(source, sink: sink)
        first.send("V=4.1\nV=4.")
        #expect(sink.wait { $0.samples.count == 1 })
        // Unplugged: the by-id link goes first (as udev does), then the tty hangs up.
        // (Other tests allocate ptys in parallel; a stale link could reach one of theirs.)
        try fm.removeItem(atPath: link)
        first.close()
        #expect(sink.wait { $0.gaps.contains { $0.kind == .deviceLoss } })
        // Reopen attempts fail while the device is gone.
        usleep(150_000)
        #expect(source.statistics.reopens == 0)
        let second = try PseudoTerminal()
        defer { second.close() }
        try fm.createSymbolicLink(atPath: link, withDestinationPath: second.slavePath)
        #expect(sink.wait { _ in source.statistics.reopens == 1 })
        second.send("V=4.3\n")
        #expect(sink.wait { $0.samples.count == 2 })
        #expect(runner.stop())
        #expect(sink.samples.map(\.voltageV) == [4.1, 4.3])
        let partial = sink.gaps.first { $0.kind == .parseError }
        #expect(partial?.detail.contains("partial line at device loss") == true)
        #expect(partial?.detail.contains("V=4.") == true)
        #expect(source.statistics.deviceLosses == 1)
    }

    /// stop() while the device is gone and reopen keeps failing still ends run promptly.
    @Test func stopDuringReopenAttempts() throws {
        let pty = try PseudoTerminal()
        var config = instrument(pty.slavePath, .keyValue(KeyValueProtocolConfig()))
        config.reopenInitialDelayS = 5
        config.reopenMaxDelayS = 5
        let source = try SerialInstrumentSource(config: config)
        let sink = RecordingSink()
        let runner = SourceRunner(source, sink: sink)
        pty.close()
        #expect(sink.wait { $0.gaps.contains { $0.kind == .deviceLoss } })
        #expect(runner.stop(timeoutS: 3))
    }

    @Test func stopInterruptsABlockingRead() throws {
        let pty = try PseudoTerminal()
        defer { pty.close() }
        let source = try SerialInstrumentSource(config: instrument(pty.slavePath, .keyValue(KeyValueProtocolConfig()), silenceS: 60))
        let runner = SourceRunner(source, sink: RecordingSink())
        usleep(20_000)
        #expect(runner.stop(timeoutS: 3))
    }

    @Test func secondOpenOfAnExclusivePortIsRefusedOrReported() throws {
        let pty = try PseudoTerminal()
        defer { pty.close() }
        let source = try SerialInstrumentSource(config: instrument(pty.slavePath, .keyValue(KeyValueProtocolConfig())))
        #expect(source.granted.exclusive)
        if geteuid() != 0 {
            // TIOCEXCL: EBUSY for anyone but root (CAP_SYS_ADMIN bypasses it).
            let error = #expect(throws: SerialPortError.self) { _ = try SerialPort(SerialPortConfig(path: pty.slavePath)) }
            #expect(error?.description.contains("EBUSY") == true || error?.description.contains("busy") == true)
        }
    }
}
