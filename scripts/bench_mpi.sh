#!/usr/bin/env bash
# Data-parallel training on this machine (issue 11), written to results/bench-mpi-HOST-DATE.json:
#   - training throughput of 1 process x 2 threads against mpirun -np 2 x 1 thread each, for the
#     MNIST ConvNet (configs/mnist/conv.json, batch 1000) and the PTB HyperLSTM-1000 (batch 32);
#   - the gradient sum of 2 ranks: MPI_Allreduce of 4.9 M floats (the HyperLSTM-1000's gradient)
#     as the trainer does it (hypertrain bench --allreduce).
# Throughput comes from short training runs (train --no-final-eval): the training seconds the
# trainer records in metrics.jsonl between its two evaluations (the first steps, which warm up
# the caches and the allocator, and the evaluations themselves are not counted).
# Run it on a quiet machine: every run here competes for the same cores.
#
#   scripts/bench_mpi.sh [--tiny] [OUT.json]     --tiny: tiny sizes, only to check the script works
# Then: python3 scripts/mpi_scaling.py OUT.json  (the multi-machine table and picture)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bin="$root/build/hypertrain"
tiny=0
if [ "${1:-}" = "--tiny" ]; then tiny=1; shift; fi
out="${1:-$root/results/bench-mpi-$(hostname)-$(date -u +%Y%m%d-%H%M%S).json}"
data="${HYPERTRAIN_DATA:-$root/../shared/data}"
[ -x "$bin" ] || { echo "build first: scripts/build.sh" >&2; exit 1; }
command -v mpirun >/dev/null || { echo "mpirun not found: apt-get install openmpi-bin libopenmpi-dev, then build again" >&2; exit 1; }
mkdir -p "$(dirname "$out")"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# As root Open MPI wants these two; --oversubscribe: 2 ranks may share fewer cores; --bind-to
# none: each rank's threads may use any core (our default threads per rank divide the cores).
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
mpi=(mpirun -np 2 --oversubscribe --bind-to none)

if [ "$tiny" = 1 ]; then
  mnist_steps=4 ptb_steps=4 floats=100000 iters=3
  mnist_set=(--set train.valid_size=200 --set train.eval_batch=100)
  ptb_set=(--set model.hidden=64 --set model.hyper=16 --set train.batch=4 --set train.seq=20 --set train.eval_chars=400 --set train.eval_batch=2)
else
  mnist_steps=40 ptb_steps=20 floats=4900000 iters=20
  mnist_set=()
  ptb_set=(--set train.batch=32 --set train.eval_chars=4000 --set train.eval_batch=4)  # a short periodic evaluation
fi

# train LABEL CONFIG STEPS ITEMS_PER_STEP THREADS [RANKS] -- extra args: prints a JSON object
train() {
  local label=$1 config=$2 steps=$3 items=$4 threads=$5 ranks=$6; shift 6
  local dir="$work/$label" launcher=()
  [ "$ranks" -gt 1 ] && launcher=("${mpi[@]}")
  echo "== $label: $config, $steps steps, $ranks process(es) x $threads thread(s)" >&2
  "${launcher[@]}" "$bin" train --config "$root/$config" --out "$dir" --data "$data" --steps "$steps" --threads "$threads" \
    --set train.eval_every=$((steps / 2)) --set train.checkpoint_every="$steps" --no-final-eval --quiet "$@" >/dev/null
  python3 - "$dir/metrics.jsonl" "$items" "$threads" "$ranks" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
a, b = rows[-2], rows[-1]
items, threads, ranks = float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
steps, seconds = b["step"] - a["step"], b["seconds"] - a["seconds"]
print(json.dumps({"processes": ranks, "threads_per_process": threads, "timed_steps": steps, "step_ms": 1e3 * seconds / steps,
                  "items_per_second": items * steps / seconds}))
PY
}

mnist_batch=1000; [ "$tiny" = 1 ] && mnist_batch=100
mnist_set+=(--set train.batch=$mnist_batch)
m1=$(train mnist-1x2 configs/mnist/conv.json $mnist_steps $mnist_batch 2 1 "${mnist_set[@]}")
m2=$(train mnist-2x1 configs/mnist/conv.json $mnist_steps $mnist_batch 1 2 "${mnist_set[@]}")
ptb_items=$((32 * 100)); [ "$tiny" = 1 ] && ptb_items=$((4 * 20))
p1=$(train ptb-1x2 configs/ptb/hyperlstm-1000.json $ptb_steps $ptb_items 2 1 "${ptb_set[@]}")
p2=$(train ptb-2x1 configs/ptb/hyperlstm-1000.json $ptb_steps $ptb_items 1 2 "${ptb_set[@]}")
echo "== allreduce of $floats floats, 2 ranks" >&2
"${mpi[@]}" "$bin" bench --allreduce --floats "$floats" --iters "$iters" --json "$work/allreduce.json" >&2
"$bin" list --json > "$work/list.json"

python3 - "$out" "$tiny" "$m1" "$m2" "$p1" "$p2" "$work/allreduce.json" "$work/list.json" "$mnist_batch" <<'PY'
import json, platform, subprocess, sys, time
out, tiny = sys.argv[1], sys.argv[2] == "1"
m1, m2, p1, p2 = (json.loads(s) for s in sys.argv[3:7])
allreduce = json.load(open(sys.argv[7]))
params = {e["name"]: e["parameters"] for e in json.load(open(sys.argv[8]))}
def pair(one, two, **kw):
    return dict(kw, one_process_2_threads=one, two_ranks_1_thread=two,
                two_ranks_over_one_process=two["items_per_second"] / one["items_per_second"])
r = {
    "what": "hypertrain data-parallel benchmark (scripts/bench_mpi.sh)",
    "tiny": tiny, "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "host": platform.node(),
    "machine": allreduce.get("machine"),
    "mnist_conv": pair(m1, m2, config="configs/mnist/conv.json", batch=int(sys.argv[9]), items="images"),
    "ptb_hyperlstm_1000": pair(p1, p2, config="configs/ptb/hyperlstm-1000.json", batch=4 if tiny else 32, seq=20 if tiny else 100,
                               hidden=64 if tiny else 1000, items="characters"),
    "allreduce": allreduce,
    "parameters": {k: params[k] for k in ("ptb-hyperlstm-1000", "enwik8-ln-hyperlstm-2048") if k in params},
}
json.dump(r, open(out, "w"), indent=2)
print(f"wrote {out}")
for k in ("mnist_conv", "ptb_hyperlstm_1000"):
    print(f"{k}: 1 process x 2 threads {r[k]['one_process_2_threads']['items_per_second']:.0f} {r[k]['items']}/s, "
          f"2 ranks x 1 thread {r[k]['two_ranks_1_thread']['items_per_second']:.0f} ({r[k]['two_ranks_over_one_process']:.2f}x)")
print(f"allreduce of {allreduce['floats']} floats over 2 ranks: {allreduce['median_ms']:.2f} ms (median)")
PY
