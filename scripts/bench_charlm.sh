#!/usr/bin/env bash
# scripts/bench_charlm.sh [OUT_DIR]: the issue-5 benchmark table. For each configuration, one
# `hypertrain bench` run measures the OpenBLAS sgemm 2048^3 peak, the fused and (where it fits in
# memory and time) the reference training step, and one-step sampling; JSON per run and a
# summary table (OUT_DIR/bench-charlm.txt).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$root/results}"
ht="$root/build/hypertrain"
mkdir -p "$out"
run() {  # name, args...
  local name="$1"; shift
  "$ht" bench "$@" --json "$out/bench-charlm-$name.json" 2>/dev/null | sed "s/^/[$name] /"
}
{
  run hyperlstm-b32-h1000 --model hyperlstm --batch 32 --hidden 1000
  run ln-hyperlstm-b32-h1000 --model ln-hyperlstm --batch 32 --hidden 1000
  run lstm-b32-h1000 --model lstm --batch 32 --hidden 1000
  run ln-lstm-b32-h1000 --model ln-lstm --batch 32 --hidden 1000
  run hyperlstm-b128-h1000 --model hyperlstm --batch 128 --hidden 1000 --no-reference --no-sampling
  run ln-hyperlstm-b128-h1000 --model ln-hyperlstm --batch 128 --hidden 1000 --no-reference --no-sampling
  run hyperlstm-b32-h512 --model hyperlstm --batch 32 --hidden 512 --no-sampling
} | tee "$out/bench-charlm.txt"
