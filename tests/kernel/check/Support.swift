import CALSA
import Foundation
import Synchronization
import TRWCore

#if canImport(Glibc)
import Glibc
#endif

/// One result line the host parses: `CHECK name PASS|FAIL detail`.
func report(_ name: String, _ pass: Bool, _ detail: String) {
    say("CHECK \(name) \(pass ? "PASS" : "FAIL") \(detail)")
}

/// One line on stdout, unbuffered (the guest's console is the host's only view).
func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

/// Runs `body`; a thrown error is the check's FAIL line.
func check(_ name: String, _ body: () throws -> (Bool, String)) {
    do {
        let (ok, detail) = try body()
        report(name, ok, detail)
    } catch {
        report(name, false, "error: \(error)")
    }
}

func nowNs() -> Int64 { HostClock.monotonicNanoseconds() }

func sleepMs(_ ms: Int) { usleep(useconds_t(ms * 1000)) }

func ms(_ ns: Int64) -> String { String(format: "%.3f", Double(ns) / 1e6) }
func ms(_ ns: Double) -> String { String(format: "%.4f", ns / 1e6) }

/// What a source delivered, in arrival order. `onEvent` runs on the source's
/// own thread before the event is stored, so a check can stall the reader there
/// (the driver sees a slow consumer, exactly as with a stuck recorder).
final class CollectingSink: SampleSink {
    struct Frame: Sendable {
        var sequence: Int64
        var deviceNs: Int64
        var arrivalNs: Int64
        var minPixel: UInt16
        var maxPixel: UInt16
        var erroneous: Bool
    }
    enum Entry: Sendable {
        case frame(Frame)
        case audio(AudioChunk)
        case gap(GapEvent)
        case bms(BMSSample)
    }
    private let entries = Mutex<[Entry]>([])
    private let counters = Mutex<(frames: Int, chunks: Int)>((0, 0))
    let onEvent: @Sendable (_ frames: Int, _ chunks: Int) -> Void

    init(onEvent: @escaping @Sendable (_ frames: Int, _ chunks: Int) -> Void = { _, _ in }) {
        self.onEvent = onEvent
    }

    func emit(_ event: SourceEvent, stream: String, mode: EmitMode) -> Bool {
        let entry: Entry?
        switch event {
        case .thermal(let f):
            // A sparse sample of the pixels (this is a debug build under TCG): enough to see a test pattern.
            var lo = UInt16.max, hi = UInt16.min
            for i in stride(from: 0, to: f.pixels.count, by: 61) {
                lo = min(lo, f.pixels[i])
                hi = max(hi, f.pixels[i])
            }
            entry = .frame(Frame(sequence: f.sequence, deviceNs: f.deviceTimestampNs, arrivalNs: f.hostArrivalNs,
                                 minPixel: lo, maxPixel: hi, erroneous: f.isErroneous))
        case .audio(let c): entry = .audio(c)
        case .gap(let g): entry = .gap(g)
        case .bms(let b): entry = .bms(b)
        default: entry = nil
        }
        guard let entry else { return true }
        let (f, c) = counters.withLock { cnt -> (Int, Int) in
            if case .frame = entry { cnt.frames += 1 }
            if case .audio = entry { cnt.chunks += 1 }
            return (cnt.frames, cnt.chunks)
        }
        // Only data (a frame, a chunk) triggers the hook: a gap emitted while the
        // counts stand still must not stall the reader a second time.
        switch entry {
        case .frame, .audio: onEvent(f, c)
        default: break
        }
        entries.withLock { $0.append(entry) }
        return true
    }

    var all: [Entry] { entries.withLock { $0 } }
    var frameCount: Int { counters.withLock { $0.frames } }
    var chunkCount: Int { counters.withLock { $0.chunks } }
    var frames: [Frame] { all.compactMap { if case .frame(let f) = $0 { f } else { nil } } }
    var chunks: [AudioChunk] { all.compactMap { if case .audio(let c) = $0 { c } else { nil } } }
    var gaps: [GapEvent] { all.compactMap { if case .gap(let g) = $0 { g } else { nil } } }
    var samples: [BMSSample] { all.compactMap { if case .bms(let b) = $0 { b } else { nil } } }
}

/// Runs a source's `run(into:)` on a thread of its own (as the recorder does).
final class SourceRunner: Sendable {
    private let done = Mutex<(finished: Bool, error: String?)>((false, nil))

    init(_ source: any Source, into sink: CollectingSink) {
        let thread = Thread { [self] in
            var failure: String? = nil
            do { try source.run(into: sink) } catch { failure = "\(error)" }
            self.done.withLock { $0 = (true, failure) }
        }
        thread.start()
    }

    var finished: Bool { done.withLock { $0.finished } }
    var error: String? { done.withLock { $0.error } }

    /// Waits until `condition` holds or `timeoutMs` passes; true when it held.
    @discardableResult
    static func wait(timeoutMs: Int, _ condition: () -> Bool) -> Bool {
        let end = nowNs() + Int64(timeoutMs) * 1_000_000
        while nowNs() < end {
            if condition() { return true }
            sleepMs(5)
        }
        return condition()
    }

    /// Stops the source and waits for `run` to return.
    func stop(_ source: any Source, timeoutMs: Int = 5000) -> Bool {
        source.stop()
        return Self.wait(timeoutMs: timeoutMs) { finished }
    }
}

/// Plays interleaved S32_LE frames into an ALSA playback PCM (snd-aloop's
/// playback side) on its own thread, paced by the device (blocking writes).
final class ALSAPlayer: Sendable {
    struct Outcome: Sendable {
        var framesWritten = 0
        var underruns = 0
        var error: String?
        var finished = false
    }
    private let state = Mutex(Outcome())
    private let stopFlag = Atomic<Bool>(false)

    /// `loop`: play `signal` again and again until `stop()`.
    init(device: String, rate: Int, channels: Int, signal: [Int32], loop: Bool = false) {
        let thread = Thread { [self] in
            func fail(_ what: String, _ rc: Int32) {
                let text = String(cString: snd_strerror(rc))
                state.withLock { $0.error = "\(what) on \(device): \(text) (\(rc))"; $0.finished = true }
            }
            var pcmOut: OpaquePointer?
            var rc = snd_pcm_open(&pcmOut, device, SND_PCM_STREAM_PLAYBACK, 0)
            guard rc >= 0, let pcm = pcmOut else { fail("snd_pcm_open", rc); return }
            defer { snd_pcm_close(pcm) }
            rc = snd_pcm_set_params(pcm, SND_PCM_FORMAT_S32_LE, SND_PCM_ACCESS_RW_INTERLEAVED,
                                    UInt32(channels), UInt32(rate), 0, 500_000)
            guard rc >= 0 else { fail("snd_pcm_set_params", rc); return }
            let block = rate / 100
            let total = signal.count / channels
            var pos = 0
            while !stopFlag.load(ordering: .acquiring) {
                if pos >= total {
                    if !loop { break }
                    pos = 0
                }
                let n = min(block, total - pos)
                let w = signal.withUnsafeBufferPointer { buf in
                    snd_pcm_writei(pcm, buf.baseAddress! + pos * channels, snd_pcm_uframes_t(n))
                }
                if w < 0 {
                    let code = Int32(truncatingIfNeeded: w)
                    if code == -EPIPE { state.withLock { $0.underruns += 1 } }
                    let r = snd_pcm_recover(pcm, code, 1)
                    if r < 0 { fail("snd_pcm_writei", code); return }
                    continue
                }
                pos += Int(w)
                state.withLock { $0.framesWritten += Int(w) }
            }
            if !stopFlag.load(ordering: .acquiring) {
                rc = snd_pcm_drain(pcm)
                if rc < 0 { fail("snd_pcm_drain", rc); return }
            }
            state.withLock { $0.finished = true }
        }
        thread.start()
    }

    var outcome: Outcome { state.withLock { $0 } }
    func stop() { stopFlag.store(true, ordering: .releasing) }
    func waitFinished(timeoutMs: Int) -> Bool { SourceRunner.wait(timeoutMs: timeoutMs) { outcome.finished } }
}

/// Runs a program to completion (posix_spawn, stdout and stderr into `logPath`),
/// returning its exit status and output; killed after `timeoutS`.
func runProgram(_ path: String, _ arguments: [String], logPath: String, timeoutS: Double) throws -> (status: Int32, output: String) {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 1, logPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    posix_spawn_file_actions_adddup2(&actions, 1, 2)
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    let argv = ([path] + arguments).map { strdup($0) } + [nil]
    defer { for a in argv { free(a) } }
    var pid: pid_t = 0
    let rc = posix_spawn(&pid, path, &actions, nil, argv, environ)
    guard rc == 0 else { throw CheckError("posix_spawn \(path): \(String(cString: strerror(rc)))") }
    let deadline = nowNs() + Int64(timeoutS * 1e9)
    var status: CInt = 0
    while true {
        let w = waitpid(pid, &status, WNOHANG)
        if w == pid { break }
        if w < 0 && errno != EINTR { throw CheckError("waitpid: errno \(errno)") }
        if nowNs() > deadline {
            kill(pid, SIGKILL)
            _ = waitpid(pid, &status, 0)
            throw CheckError("\(path) \(arguments.joined(separator: " ")) did not finish within \(timeoutS) s")
        }
        sleepMs(20)
    }
    let output = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
    // WIFEXITED / WEXITSTATUS are macros: exit status in bits 8-15, signal in bits 0-6.
    let exitCode: Int32 = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    return (exitCode, output)
}

struct CheckError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

/// One line of text for a detail field (no newlines).
func oneLine(_ s: String, limit: Int = 300) -> String {
    let flat = s.split(whereSeparator: \.isNewline).joined(separator: " | ")
    return flat.count > limit ? String(flat.prefix(limit)) + "..." : flat
}
