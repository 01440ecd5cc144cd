#!/usr/bin/env bash
# The README's test command: installs what is missing, builds Release (-O3 -march=native) and runs
# every doctest suite through ctest. Real data is found through $HYPERTRAIN_DATA.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/deps.sh"
"$root/scripts/build.sh" "$root/build"
cd "$root/build"
ctest --output-on-failure -j1
