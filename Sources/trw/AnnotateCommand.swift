import ArgumentParser
import Foundation
import TRWAnalysis
import TRWAnnotate
import TRWStore

/// `trw annotate`: the interactive labelling UI in the terminal (works over ssh, 80x24 and up).
struct AnnotateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "annotate",
        abstract: "Label a session interactively: overview plots, zoom/pan, cursor values, the IR frame, detector suggestions.",
        discussion: """
            Keys: ←/→ cursor, +/- zoom, [ ] pan, 0 whole run, n/N next/previous label, marker or suggestion, \
            g go to a time; o runaway_onset, v venting, s self_heating_onset, x exclude (start, end), c custom; \
            a accept the suggestion at the cursor; m move, d delete, u undo; w save; f frame panel; ? help; q quit.
            Edits are saved as new label rows that supersede the old ones (`trw label history`).
            """)

    @Argument(help: "The session file.") var session: String
    @Option(name: .long, help: "Author of the labels (default $USER).") var author: String = ProcessInfo.processInfo.environment["USER"] ?? "unknown"
    @Option(name: .long, help: "Label set to edit (default: the author's).") var set: String?
    @Option(name: .long, help: "Print one screen of this size (e.g. 100x30) to stdout and exit, for reports and scripts.") var snapshot: String?
    @Option(name: .long, help: "With --snapshot: cursor time (any form `trw label add` takes).") var at: String?
    @Option(name: .long, help: "With --snapshot: view width in seconds around the cursor.") var span: Double?
    @Flag(name: .long, help: "No colour (also when NO_COLOR is set or TERM=dumb).") var noColor = false

    /// Largest --snapshot screen: 1000 columns x 500 rows.
    static let snapshotCols = 40...1000, snapshotRows = 12...500

    func validate() throws {
        if let snapshot, OptionCheck.size(snapshot, width: Self.snapshotCols, height: Self.snapshotRows) == nil {
            throw ValidationError("--snapshot wants COLSxROWS with COLS in \(Self.snapshotCols.lowerBound)...\(Self.snapshotCols.upperBound) and ROWS in \(Self.snapshotRows.lowerBound)...\(Self.snapshotRows.upperBound), got '\(snapshot)'")
        }
        try OptionCheck.number(span, "--span", OptionCheck.secondsRange, openLower: true, unit: "seconds")
    }

    func run() throws {
        let reader = try SessionReader(path: session)
        // Interactive: the first screen does not wait for the detectors; they run on a thread.
        let model = try AnnotateModel(reader: reader, author: author, labelSet: set, suggestions: snapshot == nil ? [] : nil)
        let env = ProcessInfo.processInfo.environment
        let color = !noColor && env["NO_COLOR"] == nil && env["TERM"] != "dumb"
        let screen = AnnotateScreen(color: color)
        if let at {
            model.cursor = Double(try LabelCommand.time(at, reader)) / 1e9
        }
        if let span {
            model.viewFrom = model.cursor - span / 2
            model.viewTo = model.cursor + span / 2
            if model.viewFrom < 0 { model.viewTo -= model.viewFrom; model.viewFrom = 0 }
            if model.viewTo > model.overview.durationS {
                model.viewFrom = max(0, model.viewFrom - (model.viewTo - model.overview.durationS))
                model.viewTo = model.overview.durationS
            }
        }
        if let snapshot {
            guard let size = OptionCheck.size(snapshot, width: Self.snapshotCols, height: Self.snapshotRows) else {
                throw ValidationError("--snapshot wants COLSxROWS, 40x12 to 1000x500; got '\(snapshot)'")
            }
            _ = screen.render(model, width: size.width, height: size.height)  // sizes the plot for the cursor step
            print(screen.render(model, width: size.width, height: size.height).joined(separator: "\n"))
            return
        }
        guard isatty(STDIN_FILENO) == 1, isatty(STDOUT_FILENO) == 1 else {
            throw CLIFailure("trw annotate needs a terminal; for scripts use `trw label add|list|rm|suggest|accept` or --snapshot")
        }
        let term = RawTerminal()
        try term.enter()
        defer { term.leave() }
        let pending = SuggestionsInFlight(path: session)
        model.status = "running the suggestion detectors…  (? for help)"
        var size = term.size()
        term.draw(screen.render(model, width: size.cols, height: size.rows))
        while true {
            if let done = pending.take() {
                switch done {
                case .success(let s):
                    model.suggestions = s
                    // Do not hide the feedback of a key pressed meanwhile.
                    if model.status.hasPrefix("running the suggestion detectors") {
                        model.status = "\(s.count) suggestion(s): n/N jumps to them, a accepts  (? for help)"
                    }
                case .failure(let e):
                    model.status = "suggestions failed: \(e)"
                }
                term.draw(screen.render(model, width: size.cols, height: size.rows))
            }
            guard let key = term.readKey() else {
                let s = term.size()
                if s != size { size = s; term.draw(screen.render(model, width: size.cols, height: size.rows)) }
                continue
            }
            do {
                if try model.handle(key) == .quit { break }
            } catch {
                model.status = "error: \(error)"
            }
            size = term.size()
            term.draw(screen.render(model, width: size.cols, height: size.rows))
        }
    }
}

/// Raw-mode terminal with the alternate screen; restores everything on leave.
final class RawTerminal {
    private var saved = termios()
    private var active = false

    func enter() throws {
        guard tcgetattr(STDIN_FILENO, &saved) == 0 else { throw CLIFailure("cannot read the terminal's settings") }
        var raw = saved
        raw.c_lflag &= ~tcflag_t(ICANON | ECHO | IEXTEN)
        raw.c_iflag &= ~tcflag_t(IXON | ICRNL)
        withUnsafeMutablePointer(to: &raw.c_cc) { p in
            p.withMemoryRebound(to: cc_t.self, capacity: Int(NCCS)) { cc in
                cc[Int(VMIN)] = 0
                cc[Int(VTIME)] = 2  // reads return every 0.2 s: resizes redraw without a key
            }
        }
        guard tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0 else { throw CLIFailure("cannot put the terminal in raw mode") }
        active = true
        write("\u{1B}[?1049h\u{1B}[?25l\u{1B}[H\u{1B}[2J")
    }

    func leave() {
        guard active else { return }
        write("\u{1B}[0m\u{1B}[?25h\u{1B}[?1049l")
        tcsetattr(STDIN_FILENO, TCSANOW, &saved)
        active = false
    }

    func size() -> (cols: Int, rows: Int) {
        var ws = winsize()
        if ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &ws) == 0, ws.ws_col > 0, ws.ws_row > 0 { return (Int(ws.ws_col), Int(ws.ws_row)) }
        return (80, 24)
    }

    func draw(_ lines: [String]) {
        var out = "\u{1B}[H"
        for (i, l) in lines.enumerated() { out += l + "\u{1B}[K" + (i < lines.count - 1 ? "\r\n" : "") }
        write(out)
    }

    func write(_ s: String) {
        let d = Array(s.utf8)
        var off = 0
        while off < d.count {
            let n = d[off...].withUnsafeBytes { Foundation.write(STDOUT_FILENO, $0.baseAddress, $0.count) }
            if n <= 0 { if errno == EINTR { continue }; return }
            off += n
        }
    }

    private func byte() -> UInt8? {
        var b: UInt8 = 0
        return read(STDIN_FILENO, &b, 1) == 1 ? b : nil
    }

    /// One key, or nil when none arrived within the read timeout.
    func readKey() -> Key? {
        guard let b = byte() else { return nil }
        switch b {
        case 0x1B:
            guard let b2 = byte() else { return .escape }
            guard b2 == UInt8(ascii: "[") || b2 == UInt8(ascii: "O") else { return .escape }
            var seq: [UInt8] = []
            while let c = byte() {
                seq.append(c)
                if (0x40...0x7E).contains(c) { break }
            }
            switch String(decoding: seq, as: UTF8.self) {
            case "A": return .up
            case "B": return .down
            case "C": return .right
            case "D": return .left
            case "H", "1~": return .home
            case "F", "4~": return .end
            case "5~": return .pageUp
            case "6~": return .pageDown
            case "Z": return .backTab
            case "1;2C": return .shiftRight
            case "1;2D": return .shiftLeft
            default: return nil
            }
        case 0x09: return .tab
        case 0x0D, 0x0A: return .enter
        case 0x7F, 0x08: return .backspace
        default:
            // UTF-8 sequences of printable characters.
            var bytes = [b]
            let extra = b >= 0xF0 ? 3 : b >= 0xE0 ? 2 : b >= 0xC0 ? 1 : 0
            for _ in 0..<extra { if let c = byte() { bytes.append(c) } }
            guard let ch = String(bytes: bytes, encoding: .utf8)?.first else { return nil }
            return .char(ch)
        }
    }
}

/// The suggestion detectors on their own thread (own reader); the UI polls `take()`.
final class SuggestionsInFlight: @unchecked Sendable {
    private let lock = NSLock()
    private var result: Result<[Suggestion], any Error>?
    private var delivered = false

    init(path: String) {
        let t = Thread { [self] in
            let r = Result { try SuggestionEngine.suggest(try SessionReader(path: path)) }
            lock.withLock { result = r }
        }
        t.name = "trw-suggest"
        t.start()
    }

    func take() -> Result<[Suggestion], any Error>? {
        lock.withLock {
            guard !delivered, let r = result else { return nil }
            delivered = true
            return r
        }
    }
}
