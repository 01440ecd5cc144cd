#!/usr/bin/env bash
# scripts/mnist_table.sh DATA OUT: the MNIST configs (Table 7 and Appendix A.1) on DATA (mnist or
# fashion-mnist), each trained until early stopping (the configs' patience; their `steps` is only
# a cap), then a table of the results in OUT/table.txt.
#   MODELS     configs to train (default "conv hyperconv fc coord-hyperfc")
#   CONV_STEPS budget of the two ConvNets, FC_STEPS of the two fully connected nets (steps of
#              batch 1000; 55 steps = one epoch; default: the configs' cap, early stopping decides)
#   SEEDS      seeds (train.seed: initialisation, batch order, augmentation); with more than one,
#              the table is each model's mean ± standard deviation over them (`report --seeds`)
#   JOBS       runs at once (default 1); with 2, each run gets one thread pinned to its own core
#   THREADS    threads per run when JOBS is 1 (default 0: every core)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
data="${1:-mnist}"
out="${2:-$root/runs/table-$data}"
ht="$root/build/hypertrain"
models="${MODELS:-conv hyperconv fc coord-hyperfc}"
seeds="${SEEDS:-1}"
jobs="${JOBS:-1}"
mkdir -p "$out"
run_dir() {  # run_dir MODEL SEED: OUT/MODEL, or OUT/MODEL-seedN when there are several seeds
  if [ "$seeds" = 1 ]; then echo "$out/$1"; else echo "$out/$1-seed$2"; fi
}
run_one() {  # run_one MODEL SEED CORE
  local m="$1" seed="$2" core="$3" steps dir threads="${THREADS:-0}" pin=()
  case $m in conv|hyperconv) steps="${CONV_STEPS:-}" ;; *) steps="${FC_STEPS:-}" ;; esac
  dir="$(run_dir "$m" "$seed")"
  if [ "$jobs" -gt 1 ]; then threads=1; pin=(taskset -c "$core"); fi
  rm -rf "$dir"
  /usr/bin/time -f "$m seed $seed wall %e s" "${pin[@]}" "$ht" train --config "$root/configs/mnist/$m.json" --set "data=$data" \
    --set train.seed="$seed" --threads "$threads" ${steps:+--steps "$steps"} --out "$dir" --quiet >/dev/null
}
n=0
for seed in $seeds; do
  for m in $models; do
    run_one "$m" "$seed" $((n % jobs)) &
    n=$((n + 1))
    if [ $((n % jobs)) = 0 ]; then wait; fi
  done
done
wait
dirs=()
for m in conv hyperconv fc coord-hyperfc; do
  for seed in $seeds; do
    dir="$(run_dir "$m" "$seed")"
    if [ -f "$dir/results.json" ]; then dirs+=("$dir"); fi
  done
done
if [ "$seeds" = 1 ]; then "$ht" report "${dirs[@]}"; else "$ht" report --seeds "${dirs[@]}"; fi | tee "$out/table.txt"
