#!/usr/bin/env python3
"""Turns a terminal capture with ANSI colours (tmux capture-pane -e -p) into an SVG
screenshot: xterm-256 colours, bold, reverse video, one monospace cell per character.

    tmux capture-pane -e -p -t PANE > pane.ansi
    python3 scripts/ansi-to-svg.py pane.ansi pane.svg && rsvg-convert pane.svg -o pane.png
"""
import html
import re
import sys

CW, CH = 8.4, 17.0  # cell size, px (DejaVu Sans Mono at 14 px)


def xterm(n):
    base = ["#000000", "#cd0000", "#00cd00", "#cdcd00", "#0000ee", "#cd00cd", "#00cdcd", "#e5e5e5",
            "#7f7f7f", "#ff0000", "#00ff00", "#ffff00", "#5c5cff", "#ff00ff", "#00ffff", "#ffffff"]
    if n < 16:
        return base[n]
    if n < 232:
        n -= 16
        lv = [0, 95, 135, 175, 215, 255]
        return "#%02x%02x%02x" % (lv[n // 36], lv[(n // 6) % 6], lv[n % 6])
    g = 8 + (n - 232) * 10
    return "#%02x%02x%02x" % (g, g, g)


def main(src, dst):
    fg0, bg0 = "#d0d0d0", "#1c1c1c"
    lines = open(src, encoding="utf-8").read().rstrip("\n").split("\n")
    rows = []
    for line in lines:
        cells, fg, bg, bold, rev = [], None, None, False, False
        for tok in re.split(r"(\x1b\[[0-9;]*m)", line):
            if tok.startswith("\x1b["):
                codes = [int(c) if c else 0 for c in tok[2:-1].split(";")]
                i = 0
                while i < len(codes):
                    c = codes[i]
                    if c == 0:
                        fg, bg, bold, rev = None, None, False, False
                    elif c == 1:
                        bold = True
                    elif c == 7:
                        rev = True
                    elif c == 38 and i + 2 < len(codes) and codes[i + 1] == 5:
                        fg = xterm(codes[i + 2]); i += 2
                    elif c == 48 and i + 2 < len(codes) and codes[i + 1] == 5:
                        bg = xterm(codes[i + 2]); i += 2
                    elif 30 <= c <= 37:
                        fg = xterm(c - 30)
                    elif 40 <= c <= 47:
                        bg = xterm(c - 40)
                    elif c == 39:
                        fg = None
                    elif c == 49:
                        bg = None
                    i += 1
            else:
                for ch in tok:
                    f, b = fg or fg0, bg or bg0
                    if rev:
                        f, b = b, f
                    cells.append((ch, f, b, bold))
        rows.append(cells)
    width = max(len(r) for r in rows)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width * CW:.0f}" height="{len(rows) * CH:.0f}" '
           f'font-family="DejaVu Sans Mono, monospace" font-size="14">',
           f'<rect width="100%" height="100%" fill="{bg0}"/>']
    for y, r in enumerate(rows):
        for x, (ch, f, b, bold) in enumerate(r):
            if b != bg0:
                out.append(f'<rect x="{x * CW:.1f}" y="{y * CH:.1f}" width="{CW + 0.3:.1f}" height="{CH + 0.3:.1f}" fill="{b}"/>')
            if ch == "▀":  # half-block: draw the upper half as a rectangle (fonts differ in its metrics)
                out.append(f'<rect x="{x * CW:.1f}" y="{y * CH:.1f}" width="{CW + 0.3:.1f}" height="{CH / 2 + 0.2:.1f}" fill="{f}"/>')
            elif ch != " ":
                w = ' font-weight="bold"' if bold else ""
                out.append(f'<text x="{x * CW:.1f}" y="{y * CH + CH * 0.78:.1f}" fill="{f}"{w}>{html.escape(ch)}</text>')
    out.append("</svg>")
    open(dst, "w", encoding="utf-8").write("\n".join(out))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
