#!/usr/bin/env bash
# scripts/multi30k_budget.sh [OUT]: the LSTM and LN-HyperLSTM translation models of matched
# parameter count (configs/multi30k/{lstm,ln-hyperlstm}.json, 10.62M parameters each) on Multi30k
# English->French under one budget: STEPS steps (default 3000) of batch 64 sentence pairs (about
# 6.6 epochs), the configs' settings otherwise (Adam 0.001, clipping 5, dropout 0.2, joint BPE of
# 8,000 pieces), THREADS threads (default 2), validation BLEU (greedy, all 1,014 pairs) every
# EVAL_EVERY steps (default 250). Then, for each model: test_2016_flickr BLEU of the best
# checkpoint with greedy search and with beam BEAM (default 5, GNMT's length normalisation
# alpha 0.6), sacreBLEU's score line and signature; then OUT/table.md (the README's table),
# OUT/curves.png (validation BLEU against steps and against training seconds) and
# OUT/translations.md (the first ten test sentences, reference beside each model's translation).
# MODELS picks the configs (default "lstm ln-hyperlstm").
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$root/runs/multi30k-budget}"
ht="$root/build/hypertrain"
steps="${STEPS:-3000}"
threads="${THREADS:-2}"
eval_every="${EVAL_EVERY:-250}"
beam="${BEAM:-5}"
models="${MODELS:-lstm ln-hyperlstm}"
data="${HYPERTRAIN_DATA:-$root/../shared/data}"
export HYPERTRAIN_DATA="$data"
mkdir -p "$out"
bleu_of() { sed -n 's/.*"bleu": \([-0-9.e+]*\).*/\1/p' "$1" | head -1; }
score_of() {  # sacreBLEU's score line and signature from `hypertrain eval --json`
  echo "$(sed -n 's/.*"score": "\(.*\)".*/\1/p' "$1" | head -1)  $(sed -n 's/.*"signature": "\(.*\)".*/\1/p' "$1" | head -1)"
}
runs=()
plots=()
for m in $models; do
  rm -rf "$out/$m"
  start=$(date +%s)
  "$ht" train --config "$root/configs/multi30k/$m.json" --steps "$steps" --threads "$threads" \
    --set train.eval_every="$eval_every" --set train.checkpoint_every="$eval_every" --set decode.beam="$beam" \
    --out "$out/$m" --quiet >/dev/null
  echo $(( $(date +%s) - start )) > "$out/$m/wall_seconds"
  for b in 1 "$beam"; do
    "$ht" eval --checkpoint "$out/$m" --split test --beam "$b" --threads "$threads" --json > "$out/$m/test-beam$b.json"
    echo "$m test, beam $b: $(score_of "$out/$m/test-beam$b.json")"
  done
  runs+=("$out/$m")
  plots+=(--run "$out/$m")
done
"$ht" report "${runs[@]}" | tee "$out/report.txt"
"$ht" plot curves "${plots[@]}" --out "$out/curves.png" || true

# The README's table.
{
  echo "| model | parameters | steps (best) | test BLEU, beam $beam | test BLEU, greedy | valid BLEU, beam $beam | training s | wall s |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|"
  for m in $models; do
    r="$out/$m/results.json"
    params=$(sed -n 's/^  "parameters": \([0-9]*\).*/\1/p' "$r")
    best=$(sed -n 's/^  "best_step": \([0-9]*\).*/\1/p' "$r")
    st=$(sed -n 's/^  "steps": \([0-9]*\).*/\1/p' "$r")
    secs=$(sed -n 's/^  "train_seconds": \([0-9.]*\).*/\1/p' "$r")
    valid=$(grep -o '"valid_bleu": [-0-9.e+]*' "$r" | head -1 | sed 's/.*: //')
    printf "| %s | %s | %s (%s) | %.2f | %.2f | %.2f | %.0f | %s |\n" "$m" "$params" "$st" "$best" "$(bleu_of "$out/$m/test-beam$beam.json")" \
      "$(bleu_of "$out/$m/test-beam1.json")" "$valid" "$secs" "$(cat "$out/$m/wall_seconds")"
  done
  echo
  for m in $models; do
    for b in "$beam" 1; do echo "- $m, test_2016_flickr, beam $b: \`$(score_of "$out/$m/test-beam$b.json")\`"; done
  done
} | tee "$out/table.md"

# Ten test sentences beside their references.
src=$(mktemp)
trap 'rm -f "$src"' EXIT
gzip -dcf "$data/multi30k/test_2016_flickr.en.gz" | sed -n 1,10p > "$src"  # sed reads to the end: no SIGPIPE under pipefail
mapfile -t refs < <(gzip -dcf "$data/multi30k/test_2016_flickr.fr.gz" | sed -n 1,10p)
mapfile -t srcs < "$src"
declare -A hyp
for m in $models; do
  mapfile -t lines < <("$ht" translate --checkpoint "$out/$m" --beam "$beam" --threads "$threads" --text "$src")
  for i in "${!lines[@]}"; do hyp[$m,$i]="${lines[$i]}"; done
done
{
  for i in "${!srcs[@]}"; do
    echo "$((i + 1)). ${srcs[$i]}"
    echo "   - reference: ${refs[$i]}"
    for m in $models; do echo "   - $m: ${hyp[$m,$i]}"; done
  done
} | tee "$out/translations.md"
