#!/usr/bin/env bash
# Drives `trw record --rig sim` (default; RIG argument to change) in a real terminal (tmux) as an operator would: checks the
# live dashboard shows live figures, presses a preset marker key and types a
# marker, and checks both markers landed in the session.
# Usage: tests/terminal/dashboard-tmux.sh PATH/TO/trw [RIG]
set -euo pipefail
TRW=$(realpath "$1")
RIG=${2:-sim}
WORK=$(mktemp -d)
SOCK="trw-term-$$"
export TERM=xterm-256color
cleanup() { tmux -L "$SOCK" kill-server 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; echo "--- screen ---"; echo "$screen"; exit 1; }

tmux -L "$SOCK" new-session -d -s rec -x 110 -y 30 \
  "cd '$WORK' && '$TRW' record --rig $RIG --name tty --speed 1 --duration 8; sleep 30"
screen=""
for _ in $(seq 1 100); do
  sleep 0.2
  screen=$(tmux -L "$SOCK" capture-pane -p -S -200 -t rec)
  if grep -Eq 'ir0 +thermal +[0-9]+\.[0-9] +[0-9]+' <<<"$screen"; then break; fi
done
grep -q 'rate/s' <<<"$screen" || fail "no dashboard on screen"
grep -Eq 'ir0 +thermal +[0-9]+\.[0-9] +[0-9]+' <<<"$screen" || fail "no live thermal rate"
grep -q 'disk free' <<<"$screen" || fail "no disk figure"
tmux -L "$SOCK" send-keys -t rec 1
tmux -L "$SOCK" send-keys -t rec m
tmux -L "$SOCK" send-keys -t rec -l "supply off"
tmux -L "$SOCK" send-keys -t rec Enter
saw_markers=0
for _ in $(seq 1 100); do
  sleep 0.2
  screen=$(tmux -L "$SOCK" capture-pane -p -S -200 -t rec)
  grep -q 'markers: 2' <<<"$screen" && saw_markers=1
  grep -q 'complete:' <<<"$screen" && break
done
[ "$saw_markers" = 1 ] || fail "dashboard did not count 2 markers"
grep -q 'complete:' <<<"$screen" || fail "recording did not finish"
markers=$(python3 -c "
import sqlite3,sys
rows=sqlite3.connect('$WORK/sessions/tty.sqlite').execute('select text, origin, t_ns from marker order by id').fetchall()
print('|'.join(r[0] for r in rows)); sys.exit(0 if all(r[1]=='key' and 0 < r[2] < 8e9 for r in rows) else 1)
") || fail "markers have wrong origin/time"
[ "$markers" = "vent seen|supply off" ] || fail "markers in session: '$markers'"
echo "terminal test: 1 passed, 0 failed (dashboard live, 2 markers stored: $markers)"
