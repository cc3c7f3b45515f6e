#!/usr/bin/env bash
# Reproduces the DP-LSTM paper's Table 1 and Figure 3(a) on trw's simulated corpus (issue 11):
# trains dp-lstm, lstm, attn-lstm, wavelet-cnn, gp and ocsvm with 3 seeds each on the training
# runs, scores all of them and the rule baselines on the held-out test runs, and plots
# active cells vs input complexity for the DP-LSTM run in Swift.
#
#   models/experiments/table1.sh                 # from the repository root
#   CORPUS=/work/corpus/main SEEDS="0 1 2" OUT=models/experiments/out models/experiments/table1.sh
#
# Run time on the 2-core development machine (shared): see models/README.md (about 1 h; the
# DP-LSTM's training dominates). STAGE=score skips training (reuses OUT).
set -euo pipefail
cd "$(dirname "$0")/../.."
CORPUS=${CORPUS:-/work/corpus/main}
OUT=${OUT:-models/experiments/out}
SEEDS=${SEEDS:-"0 1 2"}
MODELS=${MODELS:-"dp-lstm lstm attn-lstm wavelet-cnn gp ocsvm"}
STAGE=${STAGE:-all}
TRW=${TRW:-.build/release/trw}
# Epoch caps keep the run short on a shared CPU; early stopping on validation loss decides before that.
DP_ARGS=${DP_ARGS:-"--epochs 15 --patience 3 --max-groups 1"}
RNN_ARGS=${RNN_ARGS:-"--epochs 20 --patience 3 --max-groups 2"}
CNN_ARGS=${CNN_ARGS:-"--epochs 10 --patience 3"}
mkdir -p "$OUT"
start=$(date +%s)

if [ "$STAGE" = all ] || [ "$STAGE" = train ]; then
  for seed in $SEEDS; do
    for m in $MODELS; do
      dir="$OUT/$m/s$seed"
      [ -f "$dir/config.json" ] && { echo "have $dir"; continue; }
      case $m in dp-lstm) extra=$DP_ARGS ;; lstm|attn-lstm) extra=$RNN_ARGS ;; wavelet-cnn) extra=$CNN_ARGS ;; *) extra="" ;; esac
      echo "training $m seed $seed -> $dir"
      mkdir -p "$OUT/$m"
      # shellcheck disable=SC2086
      PYTHONPATH=models nice python3 -m trw_models train --data "$CORPUS/corpus.npz" --model "$m" --seed "$seed" --out "$dir" $extra \
        2> "$OUT/$m/s$seed.log"
      tail -1 "$OUT/$m/s$seed.log"
    done
  done
fi
echo "training took $(( $(date +%s) - start )) s"

if [ "$STAGE" = all ] || [ "$STAGE" = score ]; then
  [ -x "$TRW" ] || swift build -c release --product trw
  first=$(ls -d "$OUT"/dp-lstm/s* | head -1)
  # The test runs: the split is by run and the same for every seed (split_seed 0, recorded in config.json).
  mapfile -t TEST < <(python3 -c "import json,sys; c=json.load(open(sys.argv[1]+'/config.json')); print('\n'.join(c['split']['test']))" "$first")
  sessions=()
  for n in "${TEST[@]}"; do sessions+=("$CORPUS/sessions/$n.sqlite"); done
  dets="gb38031,dtdt,vdrop,ae_burst"
  for m in $MODELS; do
    for seed in $SEEDS; do
      dir="$OUT/$m/s$seed"
      if [ "$m" = dp-lstm ]; then dets+=",$m@$seed=dplstm:$dir"; else dets+=",$m@$seed=exec:models/serve $dir"; fi
    done
  done
  echo "scoring ${#sessions[@]} test runs: ${TEST[*]}"
  cmd=("$TRW" score "${sessions[@]}" --detectors "$dets" --label-method simulator_ground_truth --table1 --horizon 60 \
       --table1-csv "$OUT/table1.csv" --json "$OUT/score.json")
  printf '%q ' "${cmd[@]}" > "$OUT/table1.cmd"; echo >> "$OUT/table1.cmd"
  "${cmd[@]}" | tee "$OUT/table1.txt"
  "$TRW" dplstm-activity "$first" "${sessions[@]}" --svg "$OUT/fig3a-active-cells.svg" | tee "$OUT/fig3a.txt"
fi
echo "table1.sh took $(( $(date +%s) - start )) s"
