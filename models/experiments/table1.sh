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
# DP-LSTM's training dominates). STAGE=train or STAGE=score runs one half; MODELS="lstm gp" limits the
# methods; RESCORE=0 keeps methods already scored.
set -euo pipefail
cd "$(dirname "$0")/../.."
CORPUS=${CORPUS:-/work/corpus/main}
OUT=${OUT:-models/experiments/out}
SEEDS=${SEEDS:-"0 1 2"}
MODELS=${MODELS:-"dp-lstm lstm attn-lstm wavelet-cnn gp ocsvm"}
STAGE=${STAGE:-all}
TRW=${TRW:-.build/release/trw}
# Epoch caps keep the run short on a shared CPU; early stopping on validation loss decides before that.
DP_ARGS=${DP_ARGS:-"--epochs 8 --patience 3 --max-groups 1"}
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
  first=$(ls -d "$OUT"/*/s0 | head -1)
  dp0=$(ls -d "$OUT"/dp-lstm/s* 2>/dev/null | head -1 || true)
  # The test runs: the split is by run and the same for every seed (split_seed 0, recorded in config.json).
  mapfile -t TEST < <(python3 -c "import json,sys; c=json.load(open(sys.argv[1]+'/config.json')); print('\n'.join(c['split']['test']))" "$first")
  sessions=()
  for n in "${TEST[@]}"; do sessions+=("$CORPUS/sessions/$n.sqlite"); done
  # One `trw score` per method (rows of Table 1 are per method), PAR at a time, then the rows are put together.
  PAR=${PAR:-3}
  echo "scoring ${#sessions[@]} test runs: ${TEST[*]}"
  jobs_run=0
  for m in rules $MODELS; do
    if [ "$m" = rules ]; then dets="gb38031,dtdt,vdrop,ae_burst"; else
      dets=""
      for seed in $SEEDS; do
        dir="$OUT/$m/s$seed"
        if [ "$m" = dp-lstm ]; then d="$m@$seed=dplstm:$dir"; else d="$m@$seed=exec:models/serve $dir"; fi
        dets="${dets:+$dets,}$d"
      done
    fi
    cmd=("$TRW" score "${sessions[@]}" --detectors "$dets" --label-method simulator_ground_truth --table1 --horizon 60 --scoring-protocol fixed-window --alarm-k 1 --bootstrap 0
         --table1-csv "$OUT/table1-$m.csv" --json-out "$OUT/score-$m.json")
    { printf '%q ' "${cmd[@]}"; echo; } > "$OUT/score-$m.cmd"
    # RESCORE=0 keeps methods already scored (score-METHOD.txt).
    if [ "${RESCORE:-1}" = 0 ] && [ -s "$OUT/score-$m.txt" ]; then echo "have $OUT/score-$m.txt"; continue; fi
    "${cmd[@]}" > "$OUT/score-$m.txt" 2> "$OUT/score-$m.err" &
    jobs_run=$((jobs_run + 1))
    if [ "$jobs_run" -ge "$PAR" ]; then wait -n; jobs_run=$((jobs_run - 1)); fi
  done
  wait
  {
    hdr=1
    for m in rules $MODELS; do
      f="$OUT/score-$m.txt"
      if [ $hdr = 1 ]; then sed -n '1,2p' "$f"; hdr=0; fi
      awk 'NR > 2 && /^$/ { exit } NR > 2' "$f"
    done
    echo
    hdr=1
    for m in rules $MODELS; do
      f="$OUT/score-$m.txt"
      if [ $hdr = 1 ]; then sed -n '/^Table 1/,/^method/p' "$f"; hdr=0; fi
      sed -n '/^method/,$p' "$f" | tail -n +2
    done
  } | tee "$OUT/table1.txt"
  for m in rules $MODELS; do cat "$OUT/score-$m.cmd"; done > "$OUT/table1.cmd"
  [ -n "$dp0" ] && [ "${ACTIVITY:-1}" = 1 ] && "$TRW" dplstm-activity "$dp0" "${sessions[@]}" --svg "$OUT/fig3a-active-cells.svg" | tee "$OUT/fig3a.txt"
fi
echo "table1.sh took $(( $(date +%s) - start )) s"
