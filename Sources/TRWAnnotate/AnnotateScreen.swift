import Foundation
import TRWAnalysis
import TRWCore
import TRWFigures
import TRWStore

/// Draws the annotation UI as terminal lines (ANSI colour optional): stacked
/// braille plots of the overview, labels/markers/suggestions as vertical lines,
/// the cursor, the IR frame at the cursor in half-blocks with its scale, the
/// values at the cursor, and a status line.
public struct AnnotateScreen {
    public var color: Bool
    public init(color: Bool) { self.color = color }

    struct Panel {
        var title: String
        var unit: String
        var keys: [String]
        var colors: [Int]   // xterm-256 per series
        /// A fixed value range (detector scores: 0 to 1); nil: the data's.
        var range: (lo: Float, hi: Float)? = nil
        /// The smallest span drawn (at least 10 % of the largest value too), so that ±1 mA of noise
        /// on a 4 A current is the flat line it is rather than full-height hash.
        var minimumSpan: Float = 0
    }

    static let panels = [
        Panel(title: "IR", unit: "°C", keys: ["ir_max", "ir_mean"], colors: [196, 208], minimumSpan: 2),
        Panel(title: "cell", unit: "°C", keys: ["cell_temp", "ambient"], colors: [220, 39], minimumSpan: 2),
        Panel(title: "U", unit: "V", keys: ["voltage"], colors: [75], minimumSpan: 0.05),
        Panel(title: "I", unit: "A", keys: ["current"], colors: [78], minimumSpan: 0.1),
        Panel(title: "AE", unit: "/s", keys: ["ae_rate"], colors: [177]),
        Panel(title: "AE E", unit: "V²s/s", keys: ["ae_energy"], colors: [141]),
        Panel(title: "risk", unit: "", keys: Overview.scoreKeys, colors: [203, 117, 150], range: (0, 1)),
    ]

    static func labelColor(_ name: String) -> Int {
        switch name {
        case "runaway_onset": 196
        case "venting": 201
        case "self_heating_onset": 214
        case "exclude": 244
        default: 51
        }
    }

    /// A styled cell: the character and its colours (xterm-256; nil = default).
    struct Cell { var ch: Character = " "; var fg: Int?; var bg: Int?; var bold = false; var reverse = false }

    public func render(_ m: AnnotateModel, width: Int, height: Int) -> [String] {
        let W = max(40, width), H = max(12, height)
        var grid = [[Cell]](repeating: [Cell](repeating: Cell(), count: W), count: H)
        func put(_ row: Int, _ col: Int, _ s: String, fg: Int? = nil, bg: Int? = nil, bold: Bool = false, reverse: Bool = false) {
            guard row >= 0 && row < H else { return }
            var c = col
            for ch in s {
                guard c < W else { break }
                if c >= 0 { grid[row][c] = Cell(ch: ch, fg: fg, bg: bg, bold: bold, reverse: reverse) }
                c += 1
            }
        }
        // Header.
        let unsaved = m.unsavedChanges
        let header = String(format: " trw annotate  %@  view %.1f–%.1f s  cursor %.3f s%@  set %@", m.sessionName, m.viewFrom, m.viewTo, m.cursor,
                            unsaved > 0 ? "  ● \(unsaved) unsaved" : "", m.labelSet)
        put(0, 0, header.padded(to: W), fg: 231, bg: 24, bold: true)

        // Layout: frame panel on the right when it fits.
        let footerRows = 3
        let bodyTop = 1, bodyRows = H - bodyTop - footerRows
        let frameCols = m.showFrame && W >= 64 ? min(40, max(22, W / 3)) : 0
        let plotW = W - frameCols - (frameCols > 0 ? 1 : 0)
        let gutter = 9
        let cols = max(10, plotW - gutter)
        m.plotColumns = cols
        let present = Self.panels.filter { p in p.keys.contains { m.overview.channel($0) != nil } }
        let axisRows = 1
        let ph = max(1, (bodyRows - axisRows) / max(1, present.count))
        let span = m.viewTo - m.viewFrom
        func col(_ t: Double) -> Int? {
            let c = Int(((t - m.viewFrom) / span * Double(cols)).rounded(.down))
            return c >= 0 && c < cols ? c : nil
        }
        let cursorCol = col(m.cursor) ?? (m.cursor >= m.viewTo ? cols - 1 : 0)

        // Vertical lines: exclude shading, labels, markers, suggestions.
        var colMark = [(ch: Character, fg: Int)?](repeating: nil, count: cols)
        var shade = [Bool](repeating: false, count: cols)
        for (_, l) in m.visibleLabels where l.label == "exclude" {
            let a = Int(((l.startS - m.viewFrom) / span * Double(cols)).rounded(.down))
            let b = Int((((l.endS ?? l.startS) - m.viewFrom) / span * Double(cols)).rounded(.down))
            for c in max(0, a)...max(max(0, a), min(cols - 1, b)) where c < cols { shade[c] = true }
        }
        if let a = m.pendingExclude, let ca = col(a) ?? (a < m.viewFrom ? 0 : nil) {
            for c in min(ca, cursorCol)...max(ca, cursorCol) { shade[c] = true }
        }
        for s in m.suggestions { if let c = col(s.tS) { colMark[c] = ("┊", 228) } }
        for mk in m.markers { if let c = col(Double(mk.tNs) / 1e9) { colMark[c] = ("╎", 51) } }
        // Other label sets, read-only: ground truth as a double line, other people's sets dotted.
        for l in m.otherLabels where l.label != "exclude" {
            if let c = col(Double(l.startTNs) / 1e9) { colMark[c] = (AnnotateModel.isGroundTruth(l) ? "║" : "┆", Self.labelColor(l.label)) }
        }
        for (_, l) in m.visibleLabels where l.label != "exclude" { if let c = col(l.startS) { colMark[c] = ("│", Self.labelColor(l.label)) } }

        // Plots.
        var row = bodyTop
        for p in present {
            let chans = p.keys.compactMap { m.overview.channel($0) }
            let series = chans.map { m.overview.columns($0, from: m.viewFrom, to: m.viewTo, count: cols * 2) }
            var lo = Float.infinity, hi = -Float.infinity
            for s in series { for c in s { if let c { lo = min(lo, c.lo); hi = max(hi, c.hi) } } }
            if let r = p.range { lo = r.lo; hi = r.hi }
            if !(lo <= hi) { lo = 0; hi = 1 }
            let need = p.minimumSpan > 0 ? max(p.minimumSpan, 0.1 * max(abs(lo), abs(hi))) : 0
            if hi - lo < need { let mid = (lo + hi) / 2; lo = mid - need / 2; hi = mid + need / 2 }
            if hi - lo < 1e-6 { hi = lo + 1 }
            let dotsH = ph * 4
            // Braille dot bits per (row, col): index [r][c] -> UInt8 bits; owner series for colour.
            var bits = [[UInt8]](repeating: [UInt8](repeating: 0, count: cols), count: ph)
            var owner = [[Int]](repeating: [Int](repeating: -1, count: cols), count: ph)
            for (si, s) in series.enumerated().reversed() {
                var prev: (Int, Int)?
                for x in 0..<(cols * 2) {
                    guard var v = s[x] else { prev = nil; continue }
                    v.lo = max(lo, min(hi, v.lo)); v.hi = max(lo, min(hi, v.hi))
                    var y0 = Int(((Double(hi - v.hi)) / Double(hi - lo) * Double(dotsH - 1)).rounded())
                    var y1 = Int(((Double(hi - v.lo)) / Double(hi - lo) * Double(dotsH - 1)).rounded())
                    if let (py0, py1) = prev { y0 = min(y0, py1); y1 = max(y1, py0) }  // join to the previous column
                    prev = (Int(((Double(hi - v.hi)) / Double(hi - lo) * Double(dotsH - 1)).rounded()),
                            Int(((Double(hi - v.lo)) / Double(hi - lo) * Double(dotsH - 1)).rounded()))
                    for y in max(0, y0)...min(dotsH - 1, max(0, y1)) {
                        let r = y / 4, c = x / 2
                        let dy = y % 4, dx = x % 2
                        let bit: UInt8 = dy < 3 ? UInt8(1 << (dx * 3 + dy)) : (dx == 0 ? 0x40 : 0x80)
                        bits[r][c] |= bit
                        owner[r][c] = si
                    }
                }
            }
            for r in 0..<ph {
                let y = row + r
                guard y < bodyTop + bodyRows - axisRows else { break }
                // Gutter: scale top/bottom, title in the middle.
                let g: String
                if r == 0 { g = Self.short(Double(hi)) } else if r == ph - 1 { g = Self.short(Double(lo)) } else if r == (ph - 1) / 2 || ph == 1 { g = "\(p.title) \(p.unit)" } else { g = "" }
                put(y, 0, g.padded(to: gutter - 1), fg: r == (ph - 1) / 2 ? p.colors[0] : 245)
                put(y, gutter - 1, ph == 1 ? "┤" : (r == 0 ? "┐" : (r == ph - 1 ? "┘" : "│")), fg: 240)
                for c in 0..<cols {
                    var cell = Cell()
                    if bits[r][c] != 0 {
                        cell.ch = Character(UnicodeScalar(0x2800 + UInt32(bits[r][c]))!)
                        cell.fg = p.colors[max(0, owner[r][c])]
                    }
                    if let mk = colMark[c] {
                        if bits[r][c] == 0 { cell.ch = mk.ch }
                        cell.fg = mk.fg
                    }
                    if shade[c] { cell.bg = 237 }
                    if c == cursorCol { cell.reverse = true; if bits[r][c] == 0 && colMark[c] == nil { cell.ch = "│" } }
                    grid[y][gutter + c] = cell
                }
            }
            row += ph
        }
        // Time axis.
        let axisY = bodyTop + bodyRows - 1
        var axis = [Character](repeating: "─", count: cols)
        let ticks = Axis.niceTicks(m.viewFrom, m.viewTo, count: max(2, cols / 14))
        var labelsAt: [(Int, String)] = []
        for t in ticks { if let c = col(t) { axis[c] = "┴"; labelsAt.append((c, Axis.formatTick(t))) } }
        put(axisY, 0, "t / s".padded(to: gutter), fg: 245)
        put(axisY, gutter, String(axis), fg: 240)
        for (c, s) in labelsAt where c + 1 + s.count < cols { put(axisY, gutter + c + 1, s, fg: 250) }

        // Frame panel.
        if frameCols > 0 { drawFrame(m, into: &grid, left: plotW + 1, top: bodyTop, cols: frameCols, rows: bodyRows) }

        // Footer: values at the cursor, labels near it / prompt, status.
        var vals: [String] = [String(format: "t %.3f s", m.cursor)]
        // Most telling first: the line is cut at the screen's width.
        func value(_ key: String, _ name: String, _ fmt: String) {
            if let c = m.overview.channel(key), let v = m.overview.value(c, at: m.cursor) { vals.append("\(name) " + String(format: fmt, v)) }
        }
        for (key, name, fmt) in [("ir_max", "IRmax", "%.1f°C"), ("cell_temp", "cell", "%.1f"), ("voltage", "U", "%.3fV"),
                                 ("current", "I", "%.2fA"), ("ae_rate", "AE", "%.0f/s"), (Overview.scoreKeys[0], "risk", "%.2f"),
                                 ("ir_mean", "IRmean", "%.1f"), ("ambient", "amb", "%.1f"), ("ae_energy", "E", "%.2g")] {
            value(key, name, fmt)
        }
        put(H - 3, 0, " " + vals.joined(separator: "  "), fg: 252)
        if let p = m.prompt {
            // The typed text stays visible at any width: a short prompt, the input's tail when it
            // is longer than the line, and what the prompt accepts on the status line below.
            let q = p == .customLabel ? "custom label name: " : "go to: "
            let room = max(4, W - 2 - q.count - 1)
            let shown = m.input.count <= room ? m.input : "…" + String(m.input.suffix(room - 1))
            put(H - 2, 0, " " + q + shown + "▏", fg: 231, bold: true)
            let accepts = p == .customLabel ? "a label name (Enter places it at the cursor, Esc cancels)"
                                            : "\(TimeParsing.help)  (Enter goes, Esc cancels)"
            put(H - 1, 0, (" " + accepts).padded(to: W), fg: 250, bg: 236)
        } else {
            let near = m.items.filter { abs($0.t - m.cursor) <= 3 * (span / Double(cols)) }
                .map { String(format: "%@ %@ %.2f s", $0.kind == "suggestion" ? "suggested" : $0.kind, $0.text, $0.t) }
            let others = m.otherLabels.isEmpty ? "" : "  other sets \(Set(m.otherLabels.map(\.labelSet)).count) (║ truth ┆ others, read-only)"
            put(H - 2, 0, " " + (near.isEmpty ? "labels \(m.visibleLabels.count)\(others)  markers \(m.markers.count)  suggestions \(m.suggestions.count)" : near.joined(separator: " | ")), fg: 250)
        }
        let keys = "←→ cursor  +/- zoom  [ ] pan  n/N next  o onset v vent s self-heat x exclude c custom  a accept  m move d del u undo  w save q quit"
        if m.prompt == nil { put(H - 1, 0, " " + (m.showHelp ? keys : m.status), fg: m.showHelp ? 229 : 250, bg: 236) }
        if m.showHelp { drawHelp(into: &grid, W: W, H: H) }
        return grid.map { line(of: $0) }
    }

    func drawFrame(_ m: AnnotateModel, into grid: inout [[Cell]], left: Int, top: Int, cols: Int, rows: Int) {
        for r in 0..<rows where top + r < grid.count { grid[top + r][left - 1] = Cell(ch: "│", fg: 240) }
        guard let img = m.frame(at: m.cursor) else {
            writeText(&grid, top, left, "no IR frame", fg: 245)
            return
        }
        // Keep the aspect ratio: a character is one pixel wide and two (half-blocks) tall.
        let maxPxRows = (rows - 3) * 2
        var w = cols, h = Int((Double(w) * Double(img.height) / Double(img.width)).rounded())
        if h > maxPxRows { h = maxPxRows; w = max(1, Int((Double(h) * Double(img.width) / Double(img.height)).rounded())) }
        h -= h % 2
        guard w > 0, h > 0 else { return }
        let ds = img.downsampled(cols: w, rows: h)
        let lo = ds.c.min() ?? 0, hi = max(lo + 1, ds.c.max() ?? 1)
        let hs = img.hotspot
        let hx = hs.x * ds.w / img.width, hy = hs.y * ds.h / img.height
        writeText(&grid, top, left, String(format: "IR %.2f s  max %.1f°C", img.tS, hs.c).padded(to: cols), fg: 231)
        for r in 0..<(ds.h / 2) {
            for c in 0..<ds.w {
                let a = ds.c[(2 * r) * ds.w + c], b = ds.c[(2 * r + 1) * ds.w + c]
                var cell: Cell
                if color {
                    cell = Cell(ch: "▀", fg: Self.xterm(ColorMap.inferno.rgb(Double((a - lo) / (hi - lo)))),
                                bg: Self.xterm(ColorMap.inferno.rgb(Double((b - lo) / (hi - lo)))))
                } else {
                    let ramp = Array(" .:-=+*#%@")
                    let v = Double(((a + b) / 2 - lo) / (hi - lo))
                    cell = Cell(ch: ramp[min(ramp.count - 1, max(0, Int(v * Double(ramp.count - 1) + 0.5)))])
                }
                if c == hx && r == hy / 2 { cell.ch = "+"; cell.fg = 51; cell.bold = true }
                if top + 1 + r < grid.count && left + c < grid[0].count { grid[top + 1 + r][left + c] = cell }
            }
        }
        // Scale: colour bar with its ends.
        let y = top + 1 + ds.h / 2
        guard y < grid.count else { return }
        let loS = String(format: "%.0f", lo), hiS = String(format: "%.0f°C", hi)
        let barW = max(4, min(cols, ds.w) - loS.count - hiS.count - 2)
        writeText(&grid, y, left, loS, fg: 250)
        for i in 0..<barW {
            let x = left + loS.count + 1 + i
            guard x < grid[0].count else { break }
            grid[y][x] = color ? Cell(ch: " ", bg: Self.xterm(ColorMap.inferno.rgb(Double(i) / Double(max(1, barW - 1)))))
                               : Cell(ch: Array(" .:-=+*#%@")[i * 9 / max(1, barW - 1)])
        }
        writeText(&grid, y, left + loS.count + 2 + barW, hiS, fg: 250)
        writeText(&grid, y + 1, left, "hotspot (\(hs.x), \(hs.y))  \(img.width)x\(img.height)", fg: 245)
    }

    func drawHelp(into grid: inout [[Cell]], W: Int, H: Int) {
        let lines = [
            "keys",
            "←/→ h/l   cursor one column    H/L shift-←/→  ten columns",
            "+/- ↑/↓   zoom around cursor   [ ] PgUp/PgDn  pan   0  whole run",
            "n/N Tab   next/previous label, marker or suggestion   g  go to a time",
            "o  runaway_onset   v  venting   s  self_heating_onset   c  custom name",
            "x  exclude: press at start and at end (Esc cancels)",
            "a  accept the suggestion at the cursor (its detector and parameters are kept)",
            "m  move the selected label to the cursor   d  delete the label at the cursor",
            "u  undo   w  save (edits supersede, nothing is overwritten)   W  save refused labels anyway   f  frame panel",
            "q  quit (asks again when there are unsaved changes)",
            "│ this set's labels   ║ simulator ground truth   ┆ other sets (read-only)   ╎ marker   ┊ suggestion",
        ]
        let w = min(W - 4, (lines.map(\.count).max() ?? 0) + 4)
        let top = max(1, (H - lines.count - 2) / 2), left = max(0, (W - w) / 2)
        for (i, l) in ([""] + lines + [""]).enumerated() where top + i < H {
            writeText(&grid, top + i, left, ("  " + l).padded(to: w), fg: 231, bg: 238)
        }
    }

    func writeText(_ grid: inout [[Cell]], _ row: Int, _ col: Int, _ s: String, fg: Int? = nil, bg: Int? = nil) {
        guard row >= 0 && row < grid.count else { return }
        var c = col
        for ch in s where c < grid[row].count {
            if c >= 0 { grid[row][c] = Cell(ch: ch, fg: fg, bg: bg) }
            c += 1
        }
    }

    func line(of cells: [Cell]) -> String {
        guard color else { return String(cells.map(\.ch)).replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression) }
        var out = ""
        var last: (Int?, Int?, Bool, Bool)? = nil
        for c in cells {
            let style = (c.fg, c.bg, c.bold, c.reverse)
            if last == nil || last! != style {
                var codes = ["0"]
                if c.bold { codes.append("1") }
                if c.reverse { codes.append("7") }
                if let f = c.fg { codes.append("38;5;\(f)") }
                if let b = c.bg { codes.append("48;5;\(b)") }
                out += "\u{1B}[" + codes.joined(separator: ";") + "m"
                last = style
            }
            out.append(c.ch)
        }
        return out + "\u{1B}[0m"
    }

    /// Nearest xterm-256 colour-cube entry.
    static func xterm(_ rgb: (UInt8, UInt8, UInt8)) -> Int {
        func q(_ v: UInt8) -> Int { v < 48 ? 0 : v < 115 ? 1 : (Int(v) - 35) / 40 }
        return 16 + 36 * q(rgb.0) + 6 * q(rgb.1) + q(rgb.2)
    }

    static func short(_ v: Double) -> String {
        let a = abs(v)
        if a >= 1000 { return String(format: "%.0f", v) }
        if a >= 100 { return String(format: "%.0f", v) }
        if a >= 10 { return String(format: "%.1f", v) }
        if a >= 0.01 || a == 0 { return String(format: "%.2f", v) }
        return String(format: "%.1e", v)
    }
}

extension AnnotateModel {
    /// The IR frame at time t (cached by frame time; nil without a thermal stream).
    public func frame(at t: Double) -> ThermalImage? {
        guard let c = overview.channel("ir_max"), !c.t.isEmpty else { return nil }
        let i = max(0, Overview.lowerBound(c.t, t.nextUp) - 1)
        if let f = frameCache, f.tS == c.t[i] { return f }
        frameCache = try? ThermalImage.load(reader, at: c.t[i])
        return frameCache
    }
}
