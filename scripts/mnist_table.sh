#!/usr/bin/env bash
# scripts/mnist_table.sh DATA OUT: the four MNIST configs (Table 7 and Appendix A.1) on DATA
# (mnist or fashion-mnist) under a fixed budget, then a table of the results in OUT/table.txt.
# Budgets (steps of batch 1000; 55 steps = one epoch): CONV_STEPS (default 600) for the two
# ConvNets, FC_STEPS (default 2750) for the two fully connected nets. Early stopping as configured.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
data="${1:-mnist}"
out="${2:-$root/runs/table-$data}"
ht="$root/build/hypertrain"
mkdir -p "$out"
for m in conv hyperconv fc coord-hyperfc; do
  case $m in conv|hyperconv) steps="${CONV_STEPS:-600}" ;; *) steps="${FC_STEPS:-2750}" ;; esac
  rm -rf "$out/$m"
  /usr/bin/time -f "$m wall %e s" "$ht" train --config "$root/configs/mnist/$m.json" --set "data=$data" --steps "$steps" \
    --out "$out/$m" --quiet >/dev/null
done
"$ht" report "$out/conv" "$out/hyperconv" "$out/fc" "$out/coord-hyperfc" | tee "$out/table.txt"
