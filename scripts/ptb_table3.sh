#!/usr/bin/env bash
# scripts/ptb_table3.sh [OUT]: Table 3's HyperLSTM-1000 and LSTM-1000 at the paper's size and
# settings (batch 128, segments of 100, Adam 0.001, clipping 1.0, dropout 0.1), each trained for a
# wall-clock budget of MINUTES minutes (default 45) of training steps (evaluations not counted),
# then valid/test bpc by the burn-in protocol (train.eval_burn_in characters of the text before
# each stream read unscored; the final numbers as FINAL_STREAMS streams, default 64), a table
# (OUT/table.txt) and validation bpc against steps and seconds (OUT/curves.png and .svg).
# PARALLEL=1 (default) runs the two at once, each with one thread pinned to its own core
# (cores 0 and 1), so neither shares a core; PARALLEL=0 runs them one after the other with
# THREADS threads (default 2).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$root/runs/ptb-table3}"
ht="$root/build/hypertrain"
minutes="${MINUTES:-45}"
parallel="${PARALLEL:-1}"
threads="${THREADS:-2}"
mkdir -p "$out"
train() {  # train MODEL THREADS [taskset prefix...]
  local m="$1" t="$2"; shift 2
  rm -rf "${out:?}/$m"
  /usr/bin/time -f "$m wall %e s" "$@" "$ht" train --config "$root/configs/ptb/$m.json" --threads "$t" \
    --set train.max_seconds=$((minutes * 60)) --set train.eval_every=50 --set train.checkpoint_every=50 \
    --set train.eval_chars=50000 --set train.eval_batch=16 --set train.eval_burn_in=2000 \
    --set train.final_streams="${FINAL_STREAMS:-64}" --out "$out/$m" --quiet >/dev/null
}
if [ "$parallel" = 1 ]; then
  train hyperlstm-1000 1 taskset -c 0 & a=$!
  train lstm-1000 1 taskset -c 1 & b=$!
  wait $a
  wait $b
else
  train hyperlstm-1000 "$threads"
  train lstm-1000 "$threads"
fi
"$ht" report "$out/hyperlstm-1000" "$out/lstm-1000" | tee "$out/table.txt"
for e in png svg; do "$ht" plot curves --run "$out/hyperlstm-1000" --run "$out/lstm-1000" --out "$out/curves.$e" >/dev/null; done
