#!/usr/bin/env bash
# scripts/get_data.sh mnist [DIR]: downloads MNIST into DIR/mnist (default ~/.cache/hypertrain)
# and checks every file's decompressed md5 against the published values.
set -euo pipefail
what="${1:-mnist}"
dest="${2:-$HOME/.cache/hypertrain}"
[ "$what" = mnist ] || { echo "get_data.sh: only mnist can be downloaded (Fashion-MNIST: apt-get install dataset-fashion-mnist)" >&2; exit 2; }
mkdir -p "$dest/mnist"
mirrors=("https://ossci-datasets.s3.amazonaws.com/mnist" "http://yann.lecun.com/exdb/mnist")
declare -A md5=(
  [train-images-idx3-ubyte]=6bbc9ace898e44ae57da46a324031adb
  [train-labels-idx1-ubyte]=a25bea736e30d166cdddb491f175f624
  [t10k-images-idx3-ubyte]=2646ac647ad5339dbf082846283269ea
  [t10k-labels-idx1-ubyte]=27ae3e4e09519cfbb04c329615203637
)
fetch() { if command -v curl >/dev/null; then curl -fsSL "$1" -o "$2"; else wget -q "$1" -O "$2"; fi; }
for f in "${!md5[@]}"; do
  out="$dest/mnist/$f.gz"
  if [ ! -s "$out" ]; then
    ok=0
    for m in "${mirrors[@]}"; do
      echo "downloading $m/$f.gz" >&2
      if fetch "$m/$f.gz" "$out.part"; then mv "$out.part" "$out"; ok=1; break; fi
    done
    [ $ok = 1 ] || { echo "could not download $f.gz from: ${mirrors[*]}" >&2; exit 1; }
  fi
  got=$(gunzip -c "$out" | md5sum | cut -d' ' -f1)
  if [ "$got" != "${md5[$f]}" ]; then
    echo "$out: decompressed md5 $got, expected ${md5[$f]}; the file is corrupt, delete it and retry" >&2
    exit 1
  fi
done
echo "$dest/mnist: the four MNIST files, checked" >&2
