#!/usr/bin/env bash
# ctest test_install: `cmake --install` into a scratch prefix puts the binary where it runs, and
# the installed `hypertrain list`, started from a directory without configs/, finds the installed
# configs; `--version` names the version, the commit and the OpenBLAS kernels. Usage: test_install.sh BUILD_DIR
set -euo pipefail
build="$1"
prefix="$(mktemp -d "${TMPDIR:-/tmp}/ht_test_install_XXXXXX")"
trap 'rm -rf "$prefix"' EXIT
cmake --install "$build" --prefix "$prefix" > "$prefix/install.log"
test -x "$prefix/bin/hypertrain" || { echo "no $prefix/bin/hypertrain after cmake --install"; exit 1; }
version="$("$prefix/bin/hypertrain" --version)"
echo "$version"
[[ "$(head -1 <<<"$version")" =~ ^hypertrain\ [0-9]+\.[0-9]+\.[0-9]+\ \(commit\ .+\)$ ]] || { echo "unexpected --version: $version"; exit 1; }
grep -q "^OpenBLAS kernels: [A-Za-z0-9]" <<<"$version" || { echo "--version does not name the OpenBLAS kernels: $version"; exit 1; }
mkdir "$prefix/elsewhere"
cd "$prefix/elsewhere"
listing="$("$prefix/bin/hypertrain" list)"
n_configs=$(find "$prefix/share/hypertrain/configs" -name '*.json' | wc -l)
[ "$n_configs" -gt 10 ] || { echo "only $n_configs configs installed"; exit 1; }
grep -q "share/hypertrain/configs/ptb/hyperlstm" <<<"$listing" || { echo "hypertrain list did not list the installed configs:"; echo "$listing" | head; exit 1; }
echo "installed: $n_configs configs, listed from $prefix/share/hypertrain/configs"
