#!/usr/bin/env bash
# scripts/iam_budget.sh [OUT]: handwriting models on IAM-OnDB under one fixed budget, the same
# smaller configuration for each (the paper's Table 5 settings except: hidden HIDDEN (default
# 400), hyper cell HYPER (default 128, the paper's), Adam learning rate LR (default 0.001; the
# paper's 0.0001 is too slow for a short run), STEPS steps (default 1000) of batch 32 windows of
# 300 points, THREADS threads (default 2)); MODELS picks the configs (default "hyperlstm-900
# lstm-900"). Then a table (OUT/table.txt), validation log-loss against steps and seconds
# (OUT/curves.png) and each run's samples.png.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$root/runs/iam-budget}"
ht="$root/build/hypertrain"
steps="${STEPS:-1000}"
hidden="${HIDDEN:-400}"
hyper="${HYPER:-128}"
lr="${LR:-0.001}"
threads="${THREADS:-2}"
models="${MODELS:-hyperlstm-900 lstm-900}"
mkdir -p "$out"
runs=()
plots=()
for m in $models; do
  name="${m%-900}"
  rm -rf "$out/$name"
  /usr/bin/time -f "$name wall %e s" "$ht" train --config "$root/configs/iam/$m.json" --steps "$steps" --threads "$threads" \
    --set model.hidden="$hidden" --set model.hyper="$hyper" --set train.lr.lr="$lr" --set train.eval_every=100 \
    --set train.checkpoint_every=500 --set name="\"iam-$name-$hidden\"" --out "$out/$name" --quiet >/dev/null
  runs+=("$out/$name")
  plots+=(--run "$out/$name")
done
"$ht" report "${runs[@]}" | tee "$out/table.txt"
"$ht" plot curves "${plots[@]}" --out "$out/curves.png" || true
