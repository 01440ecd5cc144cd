#!/usr/bin/env bash
# scripts/fused_vs_reference.sh [MODEL] [OUT]: trains the same PTB character model for STEPS
# (default 200) steps twice, once on the fused sequence op and once on the reference cells, with
# the same seed, and prints both validation-bpc curves and their largest difference.
# MODEL is a configs/ptb name (default ln-hyperlstm-1000), run at HIDDEN (default 256) units.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
model="${1:-ln-hyperlstm-1000}"
out="${2:-$root/runs/fused-vs-reference}"
ht="$root/build/hypertrain"
steps="${STEPS:-200}"
mkdir -p "$out"
for path in fused reference; do
  rm -rf "$out/$path"
  fused=true; [ "$path" = reference ] && fused=false
  /usr/bin/time -f "$path wall %e s" "$ht" train --config "$root/configs/ptb/$model.json" --steps "$steps" \
    --set model.hidden="${HIDDEN:-256}" --set model.hyper=64 --set train.batch=32 --set train.eval_every=20 \
    --set train.eval_chars=50000 --set model.fused=$fused --set name="\"$path\"" --out "$out/$path" --quiet >/dev/null
done
python3 - "$out" <<'PY'
import json, sys
out = sys.argv[1]
rows = {p: [json.loads(l) for l in open(f"{out}/{p}/metrics.jsonl")] for p in ("fused", "reference")}
print(f"{'step':>6} {'fused valid bpc':>16} {'reference':>12} {'difference':>12}   {'fused train loss':>16} {'reference':>12}")
worst = 0.0
for a, b in zip(rows["fused"], rows["reference"]):
    d = abs(a["valid_bpc"] - b["valid_bpc"]); worst = max(worst, d)
    print(f"{a['step']:>6} {a['valid_bpc']:>16.6f} {b['valid_bpc']:>12.6f} {d:>12.2e}   {a['train_loss']:>16.6f} {b['train_loss']:>12.6f}")
print(f"largest validation-bpc difference: {worst:.2e}")
PY
