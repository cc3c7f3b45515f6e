#!/bin/sh
# Trains the multimodal chain (issue 12) on a simulated corpus and scores it on the held-out test runs:
# Table-1 layout, the sensor-log ablation (ST-Former thermal only vs thermal + sensors), SENSOR-RL's
# energy/accuracy trade-off, and one CAUS-RUN/DEGRA-GNN explanation as NPZ + PNG.
#
#   models/experiments/multimodal.sh [DATASET.npz] [OUT_DIR]
#
# Defaults: /work/corpus/main/corpus.npz (scripts/sim-corpus.py --variants 5), models/runs/mm.
# Every choice (early stopping, alarm threshold) is made on the validation runs of the split by run
# (seed $SEED, default 0); the figures are on the test runs. Each part has a wall-time budget
# (MAX_MIN minutes, default 8) because the machine is shared; training stops after the epoch that passes it.
# ABLATION_SEEDS="1 2" repeats the sensor-log ablation on other splits by run (OUT/seedN).
set -eu
HERE=$(cd "$(dirname "$0")/.." && pwd)
DATA=$(realpath "${1:-/work/corpus/main/corpus.npz}")
OUT=$(realpath -m "${2:-$HERE/runs/mm}")
SEED=${SEED:-0}
MAX_MIN=${MAX_MIN:-8}
ITERS=${ITERS:-150}
cd "$HERE"
mkdir -p "$OUT"
start=$(date +%s)
step() { echo "== $* ($(( $(date +%s) - start )) s)"; }
PY="nice python3 -m trw_models"

step "ST-Former, thermal + sensors"
$PY mm-train --data "$DATA" --part st-former --out "$OUT" --seed "$SEED" --max-minutes "$MAX_MIN"
step "ST-Former, thermal only (ablation)"
$PY mm-train --data "$DATA" --part st-former --no-sensors --out "$OUT" --seed "$SEED" --max-minutes "$MAX_MIN"
step "FUSE-GEN"
$PY mm-train --data "$DATA" --part fuse-gen --out "$OUT" --seed "$SEED" --max-minutes "$MAX_MIN"
step "DEGRA-GNN"
$PY mm-train --data "$DATA" --part degra-gnn --out "$OUT" --seed "$SEED" --max-minutes "$MAX_MIN"
step "SENSOR-RL"
$PY mm-train --data "$DATA" --part sensor-rl --out "$OUT" --seed "$SEED" --iters "$ITERS"
step "scores on the test runs"
$PY mm-eval "$OUT" --data "$DATA" --policy --json "$OUT/eval.json" | tee "$OUT/eval.txt"
for S in ${ABLATION_SEEDS:-}; do
  step "sensor-log ablation, split seed $S"
  $PY mm-train --data "$DATA" --part st-former --out "$OUT/seed$S" --seed "$S" --max-minutes "$MAX_MIN"
  $PY mm-train --data "$DATA" --part st-former --no-sensors --out "$OUT/seed$S" --seed "$S" --max-minutes "$MAX_MIN"
  $PY mm-eval "$OUT/seed$S" --data "$DATA" --json "$OUT/seed$S/eval.json" | tee "$OUT/seed$S/eval.txt"
done
step "explanation: first test run with an onset, at its first alarm"
RUN=$(python3 -c "
import json, sys
sys.path.insert(0, '.')
from trw_models import weights, data
_, cfg = weights.load('$OUT/st-former')
ds = data.load('$DATA')
print(next(r.name for r in ds.runs if r.index in cfg['split']['test'] and r.has_onset))")
$PY mm-explain "$OUT" --data "$DATA" --run "$RUN" --at first-alarm --out "$OUT/explain.npz" --png "$OUT/explain.png"
step "done"
echo "run time: $(( $(date +%s) - start )) s"
