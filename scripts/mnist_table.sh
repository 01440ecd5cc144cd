#!/usr/bin/env bash
# scripts/mnist_table.sh DATA OUT: the four MNIST configs (Table 7 and Appendix A.1) on DATA
# (mnist or fashion-mnist), each trained until early stopping (the configs' patience; their
# `steps` is only a cap), then a table of the results in OUT/table.txt. Optional budgets (steps
# of batch 1000; 55 steps = one epoch): CONV_STEPS for the two ConvNets, FC_STEPS for the two
# fully connected nets. MODELS (default "conv hyperconv fc coord-hyperfc") picks the configs.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
data="${1:-mnist}"
out="${2:-$root/runs/table-$data}"
ht="$root/build/hypertrain"
mkdir -p "$out"
for m in ${MODELS:-conv hyperconv fc coord-hyperfc}; do
  case $m in conv|hyperconv) steps="${CONV_STEPS:-}" ;; *) steps="${FC_STEPS:-}" ;; esac
  rm -rf "$out/$m"
  /usr/bin/time -f "$m wall %e s" "$ht" train --config "$root/configs/mnist/$m.json" --set "data=$data" \
    ${steps:+--steps "$steps"} --out "$out/$m" --quiet >/dev/null
done
dirs=()
for m in conv hyperconv fc coord-hyperfc; do
  if [ -f "$out/$m/results.json" ]; then dirs+=("$out/$m"); fi
done
"$ht" report "${dirs[@]}" | tee "$out/table.txt"
