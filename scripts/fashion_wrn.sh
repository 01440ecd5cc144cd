#!/usr/bin/env bash
# scripts/fashion_wrn.sh [OUT_DIR]: WRN-40-1 and its hyper version (every 3x3 kernel of conv2..conv4
# generated) on Fashion-MNIST under one budget, 1,200 steps of batch 128 each (about 2.8 epochs),
# then the test errors beside each other, learning curves against steps and seconds, and the
# kernels of one layer per stage (Appendix A.2.1). `STEPS=N` changes the budget.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$root/runs/fashion-wrn}"
bin="$root/build/hypertrain"
steps="${STEPS:-1200}"
"$root/scripts/build.sh" "$root/build" > /dev/null
mkdir -p "$out"
for m in wrn40-1 hyperwrn40-1; do
  if [ ! -f "$out/$m/results.json" ]; then
    start=$SECONDS
    "$bin" train --config "$root/configs/fashion-mnist/$m.json" --steps "$steps" --out "$out/$m"
    echo $((SECONDS - start)) > "$out/$m.wall"
  fi
done
"$bin" plot curves --run "$out/wrn40-1" --run "$out/hyperwrn40-1" --out "$out/curves.png"
"$bin" plot kernels --run "$out/wrn40-1" --run "$out/hyperwrn40-1" --out "$out/kernels.png"
"$bin" report "$out/wrn40-1" "$out/hyperwrn40-1" | tee "$out/table.txt"
for m in wrn40-1 hyperwrn40-1; do echo "$m wall $(cat "$out/$m.wall") s" | tee -a "$out/table.txt"; done
