#!/usr/bin/env python3
"""The network cost of data-parallel training on paper (issue 11, item 3), from measured numbers.

Reads a benchmark of scripts/bench_mpi.sh (results/bench-mpi-*.json) and predicts, for the PTB
HyperLSTM-1000 (global batch 128, segments of 100) and the enwik8 LN-HyperLSTM-2048 (batch 128,
segments of 300), the time per step and the scaling efficiency on 1, 2, 4, 8 and 16 machines
joined by 10 and 25 Gbit/s Ethernet. Writes a Markdown table (stdout and results/mpi-scaling.md)
and a picture (results/mpi-scaling.png, drawn by `hypertrain plot lines`).

The model, and what it leaves out:
  compute(N)   = the one-machine step time of the global batch / N: each machine computes batch/N
                 streams. Measured: characters per second of one process on this machine (all its
                 cores) at batch 32; a step of batch B costs B x segment / that rate. Thinner
                 per-machine batches use the cores less well, so compute(N) is optimistic for
                 large N.
  enwik8 model = not run here (enwik8 is not on this machine): its time per character is the PTB
                 model's scaled by the ratio of parameters (the recurrent matrix products, which
                 are most of a step, cost 6 flops per parameter per character, forward and backward).
  allreduce(N) = 2 (N - 1) / N x gradient bytes / bandwidth: the ring algorithm's traffic per
                 machine at the full line rate; latency (2 (N - 1) messages) and protocol overhead
                 are left out, so this is a lower bound. The gradient is summed after the backward
                 pass (no overlap: the recurrent weights' gradients are final only when
                 backpropagation through time ends).
  step(N)      = compute(N) + allreduce(N); efficiency = compute(1) / (N x step(N)).

usage: python3 scripts/mpi_scaling.py results/bench-mpi-HOST-DATE.json [--out-dir results]
"""
import argparse
import json
import os
import subprocess
import sys

MACHINES = [1, 2, 4, 8, 16]
GBITS = [10, 25]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("bench", help="JSON written by scripts/bench_mpi.sh")
    ap.add_argument("--out-dir", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "results"))
    ap.add_argument("--hypertrain", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "build", "hypertrain"))
    a = ap.parse_args()
    b = json.load(open(a.bench))
    if b.get("tiny"):
        print(f"note: {a.bench} was measured with --tiny sizes; these numbers check the script, they predict nothing", file=sys.stderr)

    ptb = b["ptb_hyperlstm_1000"]
    chars_per_s = ptb["one_process_2_threads"]["items_per_second"]
    params = b["parameters"]
    p_ptb, p_enwik = params["ptb-hyperlstm-1000"], params["enwik8-ln-hyperlstm-2048"]
    models = [
        # name, parameters, global batch, segment, seconds per character on one machine
        ("PTB HyperLSTM-1000", p_ptb, 128, 100, 1 / chars_per_s),
        ("enwik8 LN-HyperLSTM-2048", p_enwik, 128, 300, (1 / chars_per_s) * p_enwik / p_ptb),
    ]

    lines = [f"Predicted from {os.path.basename(a.bench)} (measured {b['date']} on {b['host']}: PTB HyperLSTM-1000 "
             f"{chars_per_s:.0f} characters/s, 1 process; 2-rank allreduce of {b['allreduce']['floats'] / 1e6:.1f} M floats "
             f"{b['allreduce']['median_ms']:.1f} ms on this machine).", "",
             "| model | gradient | machines | compute / step | allreduce 10 Gbit/s | step 10 Gbit/s | efficiency 10 Gbit/s "
             "| allreduce 25 Gbit/s | step 25 Gbit/s | efficiency 25 Gbit/s |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    series = []
    rows = []
    for name, p, batch, seq, s_per_char in models:
        compute1 = batch * seq * s_per_char
        grad_bytes = 4 * p
        eff = {g: [] for g in GBITS}
        for n in MACHINES:
            compute = compute1 / n
            cells = []
            for g in GBITS:
                allreduce = 2 * (n - 1) / n * grad_bytes * 8 / (g * 1e9)
                step = compute + allreduce
                e = compute1 / (n * step)
                eff[g].append(100 * e)
                cells += [f"{1e3 * allreduce:.0f} ms", f"{1e3 * step:.0f} ms", f"{100 * e:.0f}%"]
                rows.append({"model": name, "machines": n, "gbit_per_s": g, "compute_ms": 1e3 * compute,
                             "allreduce_ms": 1e3 * allreduce, "step_ms": 1e3 * step, "efficiency": e})
            lines.append(f"| {name} | {grad_bytes / 1e6:.1f} MB | {n} | {1e3 * compute:.0f} ms | " + " | ".join(cells) + " |")
        for g in GBITS:
            series.append({"label": f"{name}, {g} Gbit/s", "x": MACHINES, "y": eff[g]})

    os.makedirs(a.out_dir, exist_ok=True)
    md = os.path.join(a.out_dir, "mpi-scaling.md")
    with open(md, "w") as f:
        f.write("\n".join(lines) + "\n")
    with open(os.path.join(a.out_dir, "mpi-scaling.json"), "w") as f:
        json.dump({"bench": a.bench, "rows": rows}, f, indent=2)
    chart = os.path.join(a.out_dir, "mpi-scaling-chart.json")
    with open(chart, "w") as f:
        json.dump({"title": "Predicted data-parallel scaling (ring allreduce)",
                   "xlabel": "machines", "ylabel": "scaling efficiency (%)", "series": series}, f)
    png = os.path.join(a.out_dir, "mpi-scaling.png")
    subprocess.run([a.hypertrain, "plot", "lines", "--json", chart, "--out", png], check=True, stdout=subprocess.DEVNULL)
    print("\n".join(lines))
    print(f"\nwrote {md}, {png}", file=sys.stderr)


if __name__ == "__main__":
    main()
