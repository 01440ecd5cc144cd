#!/usr/bin/env bash
# scripts/get_data.sh mnist|ptb [DIR]: downloads MNIST into DIR/mnist, or Mikolov's Penn Treebank
# characters into DIR/ptb (default DIR ~/.cache/hypertrain), and checks every file's md5.
set -euo pipefail
what="${1:-mnist}"
dest="${2:-$HOME/.cache/hypertrain}"
fetch() { if command -v curl >/dev/null; then curl -fsSL "$1" -o "$2"; else wget -q "$1" -O "$2"; fi; }
if [ "$what" = ptb ]; then
  # simple-examples.tgz holds data/ptb.char.{train,valid,test}.txt (md5 of each below).
  mkdir -p "$dest/ptb"
  declare -A pmd5=([ptb.char.train.txt]=874909f99060142f6b88cc74c34baaa2 [ptb.char.valid.txt]=9e0fe5bec2a8bf43fd686dc23d5ab8bb
                   [ptb.char.test.txt]=1f9a2d1afe00f76e8bfbe09a65439681)
  url="http://www.fit.vutbr.cz/~imikolov/rnnlm/simple-examples.tgz"
  need=0
  for f in "${!pmd5[@]}"; do [ -s "$dest/ptb/$f" ] || need=1; done
  if [ $need = 1 ]; then
    tmp="$(mktemp -d)"
    echo "downloading $url" >&2
    fetch "$url" "$tmp/simple-examples.tgz" || { echo "could not download $url" >&2; exit 1; }
    tar -xzf "$tmp/simple-examples.tgz" -C "$tmp" ./simple-examples/data/ 2>/dev/null || tar -xzf "$tmp/simple-examples.tgz" -C "$tmp"
    for f in "${!pmd5[@]}"; do cp "$(find "$tmp" -name "$f" | head -1)" "$dest/ptb/$f"; done
    rm -rf "$tmp"
  fi
  for f in "${!pmd5[@]}"; do
    got=$(md5sum < "$dest/ptb/$f" | cut -d' ' -f1)
    [ "$got" = "${pmd5[$f]}" ] || { echo "$dest/ptb/$f: md5 $got, expected ${pmd5[$f]}; delete it and retry" >&2; exit 1; }
  done
  echo "$dest/ptb: the three Penn Treebank character files, checked" >&2
  exit 0
fi
[ "$what" = mnist ] || { echo "get_data.sh: mnist or ptb (Fashion-MNIST: apt-get install dataset-fashion-mnist)" >&2; exit 2; }
mkdir -p "$dest/mnist"
mirrors=("https://ossci-datasets.s3.amazonaws.com/mnist" "http://yann.lecun.com/exdb/mnist")
declare -A md5=(
  [train-images-idx3-ubyte]=6bbc9ace898e44ae57da46a324031adb
  [train-labels-idx1-ubyte]=a25bea736e30d166cdddb491f175f624
  [t10k-images-idx3-ubyte]=2646ac647ad5339dbf082846283269ea
  [t10k-labels-idx1-ubyte]=27ae3e4e09519cfbb04c329615203637
)
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
