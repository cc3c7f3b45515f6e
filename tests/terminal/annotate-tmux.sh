#!/usr/bin/env bash
# Drives `trw annotate` in a real terminal (tmux, 80x24) as a person would: opens a
# simulated runaway, zooms in, moves the cursor, goes to 450 s, places a runaway
# onset, saves, quits; then checks the label in the session file with `trw label list`.
# Also writes the captured pane to $TRW_ANNOTATE_CAPTURE when set (README screenshot).
# Usage: tests/terminal/annotate-tmux.sh PATH/TO/trw
set -euo pipefail
TRW=$(realpath "$1")
WORK=$(mktemp -d)
SOCK="trw-annot-$$"
export TERM=xterm-256color
cleanup() { tmux -L "$SOCK" kill-server 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
screen=""
fail() { echo "FAIL: $*"; echo "--- screen ---"; echo "$screen"; exit 1; }
cap() { screen=$(tmux -L "$SOCK" capture-pane -p -t ann); }
wait_for() {  # pattern, what
  for _ in $(seq 1 150); do cap; if grep -q -- "$1" <<<"$screen"; then return 0; fi; sleep 0.1; done
  fail "$2"
}

"$TRW" simulate demo --ir-fps 2 --ir-width 32 --ir-height 24 --ae-rate 48000 --out "$WORK/demo.sqlite" > /dev/null 2>&1

tmux -L "$SOCK" new-session -d -s ann -x 80 -y 24 "'$TRW' annotate '$WORK/demo.sqlite' --author tester; sleep 30"
wait_for 'trw annotate' "the annotation UI did not open"
wait_for 'IR °C' "no IR panel"
python3 -c 'import sys; sys.exit(0 if any(0x2801 <= ord(c) <= 0x28FF for c in sys.stdin.read()) else 1)' <<<"$screen" || fail "no braille plot"
grep -q 'cell °C' <<<"$screen" && grep -q 'U V' <<<"$screen" && grep -q 'AE /s' <<<"$screen" || fail "missing a panel"
grep -q 'hotspot' <<<"$screen" || fail "no IR frame panel"
grep -Eq 'view 0\.0–[0-9.]+ s' <<<"$screen" || fail "not showing the whole run first"
wait_for 'suggestion(s)' "the suggestion detectors did not finish"
whole=$(grep -o 'view [0-9.]*–[0-9.]* s' <<<"$screen")
tmux -L "$SOCK" send-keys -t ann +
wait_for 'wide' "zoom did not report the new view"
zoomed=$(grep -o 'view [0-9.]*–[0-9.]* s' <<<"$screen")
[ -n "$zoomed" ] && [ "$zoomed" != "$whole" ] || fail "the view did not change on zoom ($whole)"
before=$(grep -o 'cursor [0-9.]* s' <<<"$screen")
tmux -L "$SOCK" send-keys -t ann Right Right Right
sleep 0.3; cap
after=$(grep -o 'cursor [0-9.]* s' <<<"$screen")
[ "$before" != "$after" ] || fail "cursor did not move ($before)"
tmux -L "$SOCK" send-keys -t ann g
wait_for 'go to' "no go-to prompt"
tmux -L "$SOCK" send-keys -t ann -l 450
tmux -L "$SOCK" send-keys -t ann Enter
wait_for 'cursor 450.000 s' "cursor not at 450 s"
grep -Eq 'IRmax [0-9.]+°C' <<<"$screen" || fail "no values at the cursor"
tmux -L "$SOCK" send-keys -t ann o
wait_for 'unsaved' "placing the onset did not mark the session unsaved"
tmux -L "$SOCK" send-keys -t ann w
wait_for 'saved 1 change' "save not reported"
[ -n "${TRW_ANNOTATE_CAPTURE:-}" ] && tmux -L "$SOCK" capture-pane -p -t ann > "$TRW_ANNOTATE_CAPTURE"
tmux -L "$SOCK" send-keys -t ann q
label=$("$TRW" label list "$WORK/demo.sqlite" --set tester --json)
python3 - "$label" <<'PY' || fail "label not stored as expected: $label"
import json, sys
doc = json.loads(sys.argv[1])
assert doc["format_version"] == 1, doc
rows = doc["labels"]
assert len(rows) == 1, rows
r = rows[0]
assert r["label"] == "runaway_onset" and abs(r["start_s"] - 450.0) < 1e-6, r
assert r["author"] == "tester" and r["method"] == "manual" and r["set"] == "tester", r
PY
echo "annotate terminal test: 1 passed, 0 failed (zoom, cursor, go-to, onset placed at 450 s and saved by tester)"
