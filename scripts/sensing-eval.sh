#!/usr/bin/env bash
# Energy saved vs accuracy kept by a sensing policy in real recordings: each scenario is
# recorded twice on the simulated rig (same seed): at full sensing, and with the policy
# driving IR rate, AE threshold and BMS rate once per second (`trw record --sensing-policy`).
# Both sessions are then scored with the same detectors against the simulator's ground truth.
#
#   scripts/sensing-eval.sh POLICY_DIR OUT_DIR [SCENARIO...]
# POLICY_DIR: a trained SENSOR-RL directory (python -m trw_models mm-train --part sensor-rl).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TRW=${TRW:-$ROOT/.build/release/trw}
POLICY=$(realpath "$1"); OUT=$2; shift 2
SCENARIOS=${*:-demo lco_overcharge_1c control_mild_overcharge_stopped}
RISK=${RISK:-gb38031}
DETECTORS=${DETECTORS:-gb38031,dtdt,vdrop,ae_burst}
mkdir -p "$OUT"; cd "$OUT"
full=(); pol=()
for s in $SCENARIOS; do
  for mode in full policy; do
    f="sessions/$s-$mode.sqlite"
    [ -f "$f" ] && { [ $mode = full ] && full+=("$f") || pol+=("$f"); continue; }
    args=(record --rig "sim:$s" --speed "${SPEED:-20}" --quiet --name "$s-$mode")
    [ $mode = policy ] && args+=(--sensing-policy "cd '$ROOT/models' && python3 -m trw_models mm-policy '$POLICY'" --sensing-risk "$RISK")
    "$TRW" "${args[@]}" > "$s-$mode.txt" 2>&1
    grep -E "^sensing|sensing policy:|^  ir0|^  bms0" "$s-$mode.txt" | sed "s/^/$s $mode: /"
    [ $mode = full ] && full+=("$f") || pol+=("$f")
  done
done
echo "== full sensing"
"$TRW" score "${full[@]}" --detectors "$DETECTORS" --label-method simulator_ground_truth
echo "== with the sensing policy"
"$TRW" score "${pol[@]}" --detectors "$DETECTORS" --label-method simulator_ground_truth
