#!/usr/bin/env bash
# scripts/coord_grid.sh [OUT]: a small grid search for the coordinate hypernetwork of Appendix A.1
# (configs/mnist/coord-hyperfc.json) on MNIST: learning rate (LRS, default "0.0005 0.001 0.002
# 0.004") x initialisation of the generator (INITS, default "uniform he": model.coord_init) x
# schedule ("exp": decay 0.9998 per step to 1e-4, as the config; "const": constant), each run for
# STEPS steps of batch 1000 (default 1100: 20 epochs), seed 1. Settings are ranked by their best
# validation error (5,000 images held out of the training set); the test error is printed beside
# it but plays no part in the choice. JOBS=2 (default) runs two at once, one thread each, pinned
# to cores 0 and 1. Table in OUT/grid.txt.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$root/runs/coord-grid}"
ht="$root/build/hypertrain"
steps="${STEPS:-1100}"
jobs="${JOBS:-2}"
mkdir -p "$out"
n=0
for lr in ${LRS:-0.0005 0.001 0.002 0.004}; do
  for init in ${INITS:-uniform he}; do
    for sched in ${SCHEDS:-exp const}; do
      name="coord-lr$lr-$init-$sched"
      if [ "$sched" = exp ]; then lrs="{\"type\":\"exponential\",\"lr\":$lr,\"rate\":0.9998,\"every\":1,\"min\":0.0001}"
      else lrs="{\"type\":\"constant\",\"lr\":$lr}"; fi
      rm -rf "${out:?}/$name"
      pin=(); threads=0
      if [ "$jobs" -gt 1 ]; then pin=(taskset -c $((n % jobs))); threads=1; fi
      "${pin[@]}" "$ht" train --config "$root/configs/mnist/coord-hyperfc.json" --steps "$steps" --threads "$threads" \
        --set "train.lr=$lrs" --set "model.coord_init=\"$init\"" --set train.patience=0 --set "name=\"$name\"" \
        --out "$out/$name" --quiet >/dev/null &
      n=$((n + 1))
      if [ $((n % jobs)) = 0 ]; then wait; fi
    done
  done
done
wait
/usr/bin/python3 - "$out" <<'PY' | tee "$out/grid.txt"
import json, os, sys
out = sys.argv[1]
rows = []
for d in sorted(os.listdir(out)):
    p = os.path.join(out, d, "results.json")
    if os.path.exists(p):
        r = json.load(open(p))
        rows.append((r["valid_error"], r["test_error"], r["best_step"], r["train_seconds"], r["name"]))
rows.sort()
print(f"{'setting':34} {'valid error':>11} {'test error':>10} {'best step':>9} {'seconds':>8}")
for v, t, s, sec, name in rows:
    print(f"{name:34} {100*v:10.2f}% {100*t:9.2f}% {s:9d} {sec:8.0f}")
PY
