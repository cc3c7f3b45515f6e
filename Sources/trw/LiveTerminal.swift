import Foundation
import TRWRecorder
import TRWFigures

/// The terminal side of `trw record`: a redrawn dashboard on a TTY (plain
/// periodic lines otherwise) and marker / stop keys read in raw mode.
final class LiveTerminal: @unchecked Sendable {
    private let recorder: Recorder
    private let lock = NSLock()
    private var dashboard: Dashboard  // guarded by lock
    private let timer: any DispatchSourceTimer
    private var saved = termios()
    private var rawMode = false
    private let isTTY: Bool
    private var drawnLines = 0
    private var keyThread: Thread?
    private var stopped = false

    init(recorder: Recorder, title: String, outputPath: String, interactive: Bool) {
        self.recorder = recorder
        dashboard = Dashboard(title: title)
        isTTY = isatty(STDERR_FILENO) == 1
        timer = DispatchSource.makeTimerSource(queue: .global())
        let period = isTTY ? 0.25 : 5.0
        timer.schedule(deadline: .now() + period, repeating: period)
        timer.setEventHandler { [weak self] in self?.draw(outputPath: outputPath) }
        if interactive && isatty(STDIN_FILENO) == 1 { enableKeys() }
        timer.resume()
    }

    private func draw(outputPath: String) {
        let s = recorder.status()
        let free = Preflight.freeBytes(atDirectoryOf: outputPath)
        let lines = lock.withLock {
            dashboard.render(s, now: Date().timeIntervalSinceReferenceDate, freeBytes: free,
                             width: isTTY ? terminalWidth() : 200)
        }
        if isTTY {
            var out = drawnLines > 0 ? "\u{1B}[\(drawnLines)A" : ""
            for l in lines {
                // Alarms in bold white on red: unmistakable at a glance across the lab.
                out += "\u{1B}[2K" + (l.hasPrefix(Dashboard.alarmPrefix) ? "\u{1B}[1;97;41m" + l + "\u{1B}[0m" : l) + "\n"
            }
            FileHandle.standardError.write(Data(out.utf8))
            drawnLines = lines.count
        } else {
            // One compact log line: the stream rows joined.
            printErr(lines[0] + " | " + lines[2..<(2 + s.streams.count)].map { $0.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ") }.joined(separator: " | "))
            for l in lines where l.hasPrefix("detect  ") || l.hasPrefix(Dashboard.alarmPrefix) { printErr(l) }
        }
    }

    private func terminalWidth() -> Int {
        var ws = winsize()
        if ioctl(STDERR_FILENO, UInt(TIOCGWINSZ), &ws) == 0, ws.ws_col > 20 { return Int(ws.ws_col) }
        return 80
    }

    private func enableKeys() {
        guard tcgetattr(STDIN_FILENO, &saved) == 0 else { return }
        var raw = saved
        raw.c_lflag &= ~tcflag_t(ICANON | ECHO)
        withUnsafeMutablePointer(to: &raw.c_cc) { p in
            p.withMemoryRebound(to: cc_t.self, capacity: Int(NCCS)) { cc in
                cc[Int(VMIN)] = 0
                cc[Int(VTIME)] = 1  // reads return every 0.1 s so the thread can end
            }
        }
        guard tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0 else { return }
        rawMode = true
        let t = Thread { [weak self] in self?.keyLoop() }
        t.name = "trw-keys"
        keyThread = t
        t.start()
    }

    private func keyLoop() {
        var byte: UInt8 = 0
        while !lock.withLock({ stopped }) {
            let n = read(STDIN_FILENO, &byte, 1)
            if n <= 0 { continue }
            handle(byte)
        }
    }

    private func handle(_ b: UInt8) {
        let (typing, presets) = lock.withLock { (dashboard.typing, dashboard.presetMarkers) }
        if var text = typing {
            switch b {
            case 10, 13:
                lock.withLock { dashboard.typing = nil }
                if !text.isEmpty { mark(text) }
            case 27: lock.withLock { dashboard.typing = nil }
            case 127, 8:
                if !text.isEmpty { text.removeLast() }
                lock.withLock { dashboard.typing = text }
            default:
                if b >= 32 && b < 127 { text.append(Character(UnicodeScalar(b))); lock.withLock { dashboard.typing = text } }
            }
            return
        }
        switch b {
        case UInt8(ascii: "1")...UInt8(ascii: "9"):
            let i = Int(b - UInt8(ascii: "1"))
            if i < presets.count { mark(presets[i]) }
        case UInt8(ascii: "m"): lock.withLock { dashboard.typing = "" }
        case UInt8(ascii: "q"):
            printErr("stopping (q); finalizing the session...")
            recorder.stop()
        default: break
        }
    }

    private func mark(_ text: String) {
        recorder.addMarker(text, author: ProcessInfo.processInfo.environment["USER"] ?? "", origin: "key")
        let t = recorder.status().sessionTimeS
        lock.withLock {
            dashboard.markerCount += 1
            dashboard.lastMarker = (text, t)
        }
    }

    func stop() {
        timer.cancel()
        lock.withLock { stopped = true }
        if rawMode { tcsetattr(STDIN_FILENO, TCSANOW, &saved) }
    }
}
