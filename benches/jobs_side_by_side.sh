#!/usr/bin/env bash
# Work per second of two one-thread training runs side by side against one run on the default
# pool (every core): what `basin reproduce --jobs J` trades. Wall time includes start-up and the
# per-epoch test evaluation, as a grid run has them.
# Usage: benches/jobs_side_by_side.sh CONFIG.toml [BASIN] [ROUNDS]  (batch sizes: BATCHES="32 256")
set -euo pipefail
cfg=${1:?usage: $0 CONFIG.toml [BASIN] [ROUNDS]}
basin=${2:-target/release/basin}
rounds=${3:-2}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
train() { "$basin" train --config "$cfg" --set train.epochs=2 --set train.batch_size="$1" --out "$2" >/dev/null 2>&1; }
for bs in ${BATCHES:-32 256}; do
  for r in $(seq "$rounds"); do
    rm -rf "$tmp"/*
    s=$(date +%s.%N); train "$bs" "$tmp/one"; a=$(echo "$(date +%s.%N) - $s" | bc)
    s=$(date +%s.%N)
    RAYON_NUM_THREADS=1 train "$bs" "$tmp/b1" & RAYON_NUM_THREADS=1 train "$bs" "$tmp/b2"; wait
    b=$(echo "$(date +%s.%N) - $s" | bc)
    printf 'batch %s round %s: one run on every core %.2f s; two 1-thread runs at once %.2f s; work per second %.2f\n' "$bs" "$r" "$a" "$b" "$(echo "2*$a/$b" | bc -l)"
  done
done
