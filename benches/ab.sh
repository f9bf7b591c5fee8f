#!/usr/bin/env bash
# Two basin binaries side by side: `bash benches/ab.sh OLD NEW` runs, ROUNDS times (default 7)
# and alternating OLD and NEW within each round, `basin bench step` (ne-f1, keskar-c1),
# `basin bench estimators` (every estimator on ne-f1; SmoothOut, S-SGD and SAM on keskar-c1) and
# `basin bench hessian --products-only` (ne-f1, full MNIST if fetched, 5 %), then prints each
# quantity's median for OLD and NEW and the ratio NEW ÷ OLD of the medians with its range over
# rounds. Use it to show that a change leaves speed where it was (a refactor) or by how much it
# moves it. Alternating keeps a load change on a shared machine from favouring one side.
set -euo pipefail
source benches/args.sh
bench_args "[ROUNDS=N] bash benches/ab.sh OLD-BINARY NEW-BINARY" 2 "$@"
[ $# -eq 2 ] || { echo "usage: bash benches/ab.sh OLD-BINARY NEW-BINARY" >&2; exit 2; }
OLD=$1 NEW=$2
for b in "$OLD" "$NEW"; do [ -x "$b" ] || { echo "ab.sh: $b: not an executable" >&2; exit 2; }; done
ROUNDS=${ROUNDS:-7}
THREADS=${THREADS:-$(nproc)}
RAW=$(mktemp)
trap 'rm -f "$RAW"' EXIT
measure() { # side round binary
  local side=$1 r=$2 bin=$3
  export RAYON_NUM_THREADS=$THREADS
  "$bin" bench step --steps 30 | awk -F'|' -v s="$side" -v r="$r" '/^\| [nk]/ { gsub(/^ +| +$/, "", $2); sub(/ /, ":", $2); print s, r, "step " $2 " ms/step", $5 }'
  "$bin" bench estimators --models ne-f1:1x28x28 --rounds 1 --steps 20 |
    awk -F'|' -v s="$side" -v r="$r" '/^\| ne-f1/ { gsub(/ /, "", $3); print s, r, "ne-f1 " $3 " ms/step", $4 }'
  "$bin" bench estimators --models keskar-c1:3x32x32 --estimators smoothout,s-sgd,sam --rounds 1 --steps 8 |
    awk -F'|' -v s="$side" -v r="$r" '/^\| keskar-c1/ { gsub(/ /, "", $3); print s, r, "keskar-c1 " $3 " ms/step", $4 }'
  "$bin" bench hessian --products-only --rounds 3 |
    awk -F'|' -v s="$side" -v r="$r" '/gradient over the subset|Hessian product ÷ gradient/ { v = $3; sub(/ s.*/, "", v); sub(/ \(.*/, "", v); gsub(/^ +/, "", $2); print s, r, "hessian " $2, v }'
}
for r in $(seq "$ROUNDS"); do
  measure old "$r" "$OLD" >>"$RAW"
  measure new "$r" "$NEW" >>"$RAW"
done
echo "$ROUNDS alternating rounds, $THREADS threads, $(lscpu | sed -n 's/^Model name: *//p'); old = $OLD, new = $NEW"
echo
echo "| quantity | old (median) | new (median) | new ÷ old | range over rounds |"
echo "|---|---|---|---|---|"
python3 - "$RAW" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    side, r, rest = line.strip().split(None, 2)
    name, value = rest.rsplit(None, 1)
    rows.setdefault(name, {}).setdefault(side, {})[r] = float(value)
for name, sides in rows.items():
    o, n = sides["old"], sides["new"]
    per = sorted(n[r] / o[r] for r in o if r in n and o[r] > 0)
    mo, mn = statistics.median(o.values()), statistics.median(n.values())
    print(f"| {name} | {mo:.3f} | {mn:.3f} | {mn / mo:.3f} | {per[0]:.3f}–{per[-1]:.3f} |")
PY
