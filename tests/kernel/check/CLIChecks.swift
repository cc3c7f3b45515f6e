import CSerial
import Foundation
import Synchronization
import TRWCore
import TRWSerial

#if canImport(Glibc)
import Glibc
#endif

/// A pseudo-terminal whose master side plays a BMS: key=value lines at 10 Hz,
/// with a known voltage ramp. `linkPath` (e.g. /dev/ttyBMS0) points at the slave.
final class PtyBMS: Sendable {
    let master: CInt
    let slavePath: String
    private let slaveHold: CInt
    private let sent = Mutex<[Double]>([])
    private let stopFlag = Atomic<Bool>(false)
    private let finished = Atomic<Bool>(false)

    init(linkPath: String?) throws {
        let m = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC)
        guard m >= 0 else { throw CheckError("open /dev/ptmx: errno \(errno)") }
        var unlock: CInt = 0
        var number: CInt = -1
        guard trw_ioctl_ptr(m, trw_TIOCSPTLCK, &unlock) == 0, trw_ioctl_ptr(m, trw_TIOCGPTN, &number) == 0 else {
            throw CheckError("pty ioctls: errno \(errno)")
        }
        master = m
        slavePath = "/dev/pts/\(number)"
        // Raw mode on the slave before the reader opens it (no echo back into the master).
        slaveHold = open(slavePath, O_RDWR | O_NOCTTY | O_CLOEXEC)
        guard slaveHold >= 0 else { throw CheckError("open \(slavePath): errno \(errno)") }
        var tio = termios()
        guard tcgetattr(slaveHold, &tio) == 0 else { throw CheckError("tcgetattr: errno \(errno)") }
        cfmakeraw(&tio)
        guard tcsetattr(slaveHold, TCSANOW, &tio) == 0 else { throw CheckError("tcsetattr: errno \(errno)") }
        if let linkPath {
            unlink(linkPath)
            guard symlink(slavePath, linkPath) == 0 else { throw CheckError("symlink \(linkPath) -> \(slavePath): errno \(errno)") }
        }
    }

    /// Writes `count` lines (nil: until `stop()`) at `rateHz` on a thread of its own.
    func start(count: Int?, rateHz: Double = 10) {
        let thread = Thread { [self] in
            var i = 0
            while !stopFlag.load(ordering: .acquiring) && (count == nil || i < count!) {
                let v = 4.0 + Double(i) * 0.001
                let line = String(format: "t=%.3f V=%.3f I=1.500 T1=%.1f Tamb=23.0\n", Double(i) / rateHz, v, 25.0 + Double(i) * 0.1)
                let bytes = Array(line.utf8)
                var off = 0
                while off < bytes.count {
                    let n = bytes[off...].withUnsafeBytes { write(master, $0.baseAddress, $0.count) }
                    if n < 0 && errno == EINTR { continue }
                    if n <= 0 { break }
                    off += n
                }
                sent.withLock { $0.append(v) }
                i += 1
                usleep(useconds_t(1e6 / rateHz))
            }
            finished.store(true, ordering: .releasing)
        }
        thread.start()
    }

    var voltagesSent: [Double] { sent.withLock { $0 } }
    var isFinished: Bool { finished.load(ordering: .acquiring) }
    func stop() {
        stopFlag.store(true, ordering: .releasing)
        _ = SourceRunner.wait(timeoutMs: 2000) { isFinished }
    }
}

struct CLIChecks {
    let trw: String
    let video: String
    let capture: String
    let playback: String
    let rig: String
    let bmsLink: String
    let outDir: String

    func runAll() {
        check("cli.devices") { try devices() }
        check("serial.pty") { try serial() }
        check("cli.record") { try record() }
    }

    /// `trw devices` lists the vivid camera with its formats and the loopback and dummy cards.
    func devices() throws -> (Bool, String) {
        let (status, out) = try runProgram(trw, ["devices"], logPath: outDir + "/trw-devices.txt", timeoutS: 120)
        let lines = out.split(separator: "\n").map(String.init)
        let cam = lines.first { $0.contains(video + ":") }
        let y16 = lines.first { $0.trimmingCharacters(in: .whitespaces).hasPrefix("Y16 ") }
        let grey = lines.first { $0.trimmingCharacters(in: .whitespaces).hasPrefix("GREY ") }
        let cards = lines.map { $0.trimmingCharacters(in: .whitespaces) }.filter { $0.hasPrefix("hw:") }
        let loop = cards.filter { $0.contains("Loopback") }
        let dummy = cards.first { $0.contains("Dummy") }
        let names = lines.first { $0.contains("PCM names usable in a rig file") } ?? ""
        var problems: [String] = []
        if status != 0 { problems.append("exit status \(status)") }
        if cam == nil || !(cam!.contains("vivid")) { problems.append("no vivid camera line for \(video)") }
        if y16 == nil || !(y16!.contains("640x480")) { problems.append("no Y16 640x480 format line") }
        if grey == nil { problems.append("no GREY format line") }
        // snd-aloop has two capture devices (hw:N,0 and hw:N,1); each offers up to 192 kHz and S32_LE.
        if loop.count != 2 || !loop.allSatisfy({ $0.contains("192000") && $0.contains("S32_LE") }) {
            problems.append("expected two Loopback capture lines offering 192000 Hz and S32_LE, got \(loop)")
        }
        if dummy == nil { problems.append("no Dummy capture line") }
        if !names.contains("hw:CARD=Loopback,DEV=1") { problems.append("hw:CARD=Loopback,DEV=1 not among the PCM names") }
        let detail = "camera=\"\(cam ?? "-")\" y16=\"\(oneLine(y16 ?? "-", limit: 120).trimmingCharacters(in: .whitespaces))\" "
            + "grey=\"\(oneLine(grey ?? "-", limit: 80).trimmingCharacters(in: .whitespaces))\" "
            + "loopback=\"\(oneLine(loop.first ?? "-", limit: 160).trimmingCharacters(in: .whitespaces))\" (\(loop.count) lines) "
            + "dummy=\"\(oneLine(dummy ?? "-", limit: 120).trimmingCharacters(in: .whitespaces))\" pcm_names=\(names.split(separator: ",").count)"
        return (problems.isEmpty, problems.isEmpty ? detail : problems.joined(separator: "; ") + " :: " + detail)
    }

    /// TRWSerial on the guest kernel's pty: every line the BMS wrote is decoded, in order.
    func serial() throws -> (Bool, String) {
        let pty = try PtyBMS(linkPath: nil)
        let config = SerialInstrumentConfig(
            stream: "bms0", port: SerialPortConfig(path: pty.slavePath, baud: 115_200),
            protocolConfig: .keyValue(KeyValueProtocolConfig(map: FieldMapConfig(useDefaultNames: true, required: ["voltage_v"]))),
            nominalRateHz: 10)
        let source = try SerialInstrumentSource(config: config)
        let sink = CollectingSink()
        let runner = SourceRunner(source, into: sink)
        sleepMs(200)
        pty.start(count: 20)
        SourceRunner.wait(timeoutMs: 15_000) { pty.isFinished && sink.samples.count >= 20 }
        guard runner.stop(source) else { return (false, "serial run(into:) did not return within 5 s of stop()") }
        let got = sink.samples.compactMap(\.voltageV)
        let sent = pty.voltagesSent
        let ok = got.count == sent.count && zip(got, sent).allSatisfy { abs($0 - $1) < 1e-9 } && sink.gaps.isEmpty
        return (ok, "pty=\(pty.slavePath) lines_sent=\(sent.count) samples=\(got.count) gaps=\(sink.gaps.count) "
                + "voltage_first/last=\(got.first.map { String($0) } ?? "-")/\(got.last.map { String($0) } ?? "-") run_error=\(runner.error ?? "none")")
    }

    /// A short `trw record` with the generated rig (vivid camera, snd-aloop capture
    /// fed with the known signal, the pty BMS); `trw info` reads it back.
    func record() throws -> (Bool, String) {
        let pty = try PtyBMS(linkPath: bmsLink)
        pty.start(count: nil)
        let signal = knownSignal(frames: 192_000, rate: 192_000)
        let player = ALSAPlayer(device: playback, rate: 192_000, channels: 2, signal: signal, loop: true)
        let session = outDir + "/kernel-record.sqlite"
        let started = nowNs()
        let result = Result { try runProgram(trw, ["record", "--rig", rig, "--name", "kernel-record", "--out", session,
                                                    "--duration", "4", "--quiet", "--operator", "make test-kernel"],
                                                logPath: outDir + "/trw-record.txt", timeoutS: 180) }
        let elapsedMs = (nowNs() - started) / 1_000_000
        player.stop()
        _ = player.waitFinished(timeoutMs: 3000)
        pty.stop()
        let (status, out) = try result.get()
        let (infoStatus, info) = try runProgram(trw, ["info", session], logPath: outDir + "/trw-info-guest.txt", timeoutS: 120)
        func count(_ stream: String, _ unit: String) -> Int? {
            guard let line = info.split(separator: "\n").first(where: { $0.trimmingCharacters(in: .whitespaces).hasPrefix(stream + " ") }),
                  let r = line.range(of: #"(\d+) "# + unit, options: .regularExpression) else { return nil }
            return Int(line[r].split(separator: " ")[0])
        }
        let frames = count("ir0", "frames"), chunks = count("ae0", "chunks"), samples = count("bms0", "samples")
        let hits = count("ae0", "AE hits")
        func rate(_ stream: String) -> Double? {
            guard let line = info.split(separator: "\n").first(where: { $0.trimmingCharacters(in: .whitespaces).hasPrefix(stream + " ") }),
                  let r = line.range(of: #"[0-9.]+ Hz"#, options: .regularExpression) else { return nil }
            return Double(line[r].dropLast(3))
        }
        let bmsRate = rate("bms0")
        let complete = info.contains("status    complete")
        var problems: [String] = []
        if status != 0 { problems.append("trw record exit status \(status): \(oneLine(out))") }
        if infoStatus != 0 { problems.append("trw info exit status \(infoStatus)") }
        if !complete { problems.append("session status is not complete") }
        if (frames ?? 0) < 50 { problems.append("ir0 has \(frames.map(String.init) ?? "no") frames (4 s at 25 fps: ~100)") }
        if (chunks ?? 0) < 100 { problems.append("ae0 has \(chunks.map(String.init) ?? "no") chunks") }
        if (samples ?? 0) < 20 { problems.append("bms0 has \(samples.map(String.init) ?? "no") samples (10 Hz)") }
        if let e = player.outcome.error { problems.append("player: \(e)") }
        // The known signal has 10 AE bursts a second; live detection must find each.
        if let h = hits, !(36...46).contains(h) { problems.append("\(h) AE hits, the signal has about 40 bursts in 4 s") }
        if hits == nil { problems.append("no AE hit count") }
        // 10 Hz lines, none read late in a burst (lines buffered before the run are discarded).
        if let r = bmsRate, abs(r - 10) > 0.5 { problems.append("bms0 at \(r) Hz, the pty BMS sends 10 Hz") }
        // The stored PCM, exported by `trw export-wav`, is the played signal bit for bit.
        let wavPrefix = outDir + "/kernel-record-"
        let (wavStatus, wavOut) = try runProgram(trw, ["export-wav", session, "--out", wavPrefix],
                                                 logPath: outDir + "/trw-export-wav.txt", timeoutS: 120)
        var stored = "-"
        if wavStatus != 0 {
            problems.append("trw export-wav exit status \(wavStatus): \(oneLine(wavOut))")
        } else {
            let (ok, text) = compareStoredPCM(wavPath: wavPrefix + "ae0.wav", signal: signal)
            stored = text
            if !ok { problems.append("stored PCM: \(text)") }
        }
        let gapLines = info.split(separator: "\n").filter { $0.contains("gaps:") }.map { $0.trimmingCharacters(in: .whitespaces) }
        let detail = "session=\(session) elapsed_ms=\(elapsedMs) ir0_frames=\(frames ?? -1) ae0_chunks=\(chunks ?? -1) "
            + "ae0_hits=\(hits ?? -1) bms0_samples=\(samples ?? -1) bms0_rate_hz=\(bmsRate.map { String($0) } ?? "-") bms_lines_sent=\(pty.voltagesSent.count) status=\(complete ? "complete" : "?") "
            + "gaps=\"\(gapLines.joined(separator: " | "))\" stored_pcm: \(stored)"
        return (problems.isEmpty, problems.isEmpty ? detail : problems.joined(separator: "; ") + " :: " + detail)
    }

    /// Reads the exported WAV (192 kHz, 2 ch, 32-bit) and checks every frame after the
    /// leading silence against the looped known signal: the counter channel runs
    /// 1...N, 1...N, ... without a jump and the AE channel is the signal's sample.
    func compareStoredPCM(wavPath: String, signal: [Int32]) -> (Bool, String) {
        guard let data = FileManager.default.contents(atPath: wavPath), data.count > 44 else { return (false, "cannot read \(wavPath)") }
        let bytes = [UInt8](data)
        func u16(_ o: Int) -> Int { Int(bytes[o]) | Int(bytes[o + 1]) << 8 }
        func u32(_ o: Int) -> Int { u16(o) | u16(o + 2) << 16 }
        guard String(decoding: bytes[0..<4], as: UTF8.self) == "RIFF", String(decoding: bytes[8..<12], as: UTF8.self) == "WAVE" else {
            return (false, "not a RIFF/WAVE file")
        }
        var o = 12
        var channels = 0, rate = 0, bits = 0
        var dataRange: Range<Int>? = nil
        while o + 8 <= bytes.count {
            let id = String(decoding: bytes[o..<(o + 4)], as: UTF8.self), size = u32(o + 4)
            if id == "fmt " { channels = u16(o + 10); rate = u32(o + 12); bits = u16(o + 22) }
            if id == "data" { dataRange = (o + 8)..<min(bytes.count, o + 8 + size); break }
            o += 8 + size + (size & 1)
        }
        guard let range = dataRange, channels == 2, rate == 192_000, bits == 32 else {
            return (false, "WAV has \(channels) ch, \(rate) Hz, \(bits) bit, data \(dataRange.map { "\($0.count) bytes" } ?? "missing")")
        }
        let frames = range.count / 8
        let n = Int32(signal.count / 2)
        var lead = 0, compared = 0
        var firstProblem: String? = nil
        bytes.withUnsafeBytes { raw in
            let base = raw.baseAddress! + range.lowerBound
            func sample(_ f: Int, _ ch: Int) -> Int32 { Int32(littleEndian: base.loadUnaligned(fromByteOffset: (f * 2 + ch) * 4, as: Int32.self)) }
            while lead < frames && sample(lead, 0) == 0 && sample(lead, 1) == 0 { lead += 1 }
            var expected: Int32? = nil
            for f in lead..<frames {
                let c = sample(f, 1), v = sample(f, 0)
                if let e = expected, c != e { firstProblem = "frame \(f): counter \(c), expected \(e)"; break }
                guard c >= 1 && c <= n else { firstProblem = "frame \(f): counter \(c) outside 1...\(n)"; break }
                if v != signal[Int(c - 1) * 2] { firstProblem = "frame \(f): AE sample \(v), played \(signal[Int(c - 1) * 2])"; break }
                expected = c == n ? 1 : c + 1
                compared += 1
            }
        }
        let text = "wav=\(frames) frames leading_silence=\(lead) compared_frames=\(compared) bytes_compared=\(compared * 8)"
            + (firstProblem.map { " first_mismatch=\"\($0)\"" } ?? " mismatches=0")
        return (firstProblem == nil && compared > 192_000 * 3, text)
    }
}
