#!/usr/bin/env bash
# The README's main command: installs what is missing, builds Release and runs the demo.
# Until the first model lands, the demo is the engine benchmark.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/deps.sh"
"$root/scripts/build.sh" "$root/build"
mkdir -p "$root/runs"
"$root/build/hypertrain" bench --engine --json "$root/runs/bench-engine.json"
echo "results: $root/runs/bench-engine.json"
