#!/usr/bin/env bash
# scripts/ptb_budget.sh [OUT]: HyperLSTM, LN-HyperLSTM, LSTM and LN-LSTM on Penn Treebank
# characters under one fixed budget, the same smaller configuration for every model (the paper's
# Table 3 settings except: hidden HIDDEN (default 512), hyper cell HYPER (default 128, the
# paper's), batch 32, STEPS (default 1500, about one epoch) steps, THREADS threads (default 2)),
# then a table (OUT/table.txt) and validation bpc against steps and against seconds in one picture
# (OUT/curves.png).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$root/runs/ptb-budget}"
ht="$root/build/hypertrain"
steps="${STEPS:-1500}"
hidden="${HIDDEN:-512}"
hyper="${HYPER:-128}"
threads="${THREADS:-2}"
mkdir -p "$out"
for m in hyperlstm-1000 ln-hyperlstm-1000 lstm-1000 ln-lstm-1000; do
  name="${m%-1000}"
  rm -rf "$out/$name"
  /usr/bin/time -f "$name wall %e s" "$ht" train --config "$root/configs/ptb/$m.json" --steps "$steps" --threads "$threads" \
    --set model.hidden="$hidden" --set model.hyper="$hyper" --set train.batch=32 --set train.eval_every=100 \
    --set train.checkpoint_every=500 --set train.eval_chars=100000 --set name="\"ptb-$name-$hidden\"" \
    --out "$out/$name" --quiet >/dev/null
done
"$ht" report "$out/hyperlstm" "$out/ln-hyperlstm" "$out/lstm" "$out/ln-lstm" | tee "$out/table.txt"
"$ht" plot curves --run "$out/hyperlstm" --run "$out/ln-hyperlstm" --run "$out/lstm" --run "$out/ln-lstm" --out "$out/curves.png" || true
