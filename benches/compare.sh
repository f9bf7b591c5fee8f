#!/usr/bin/env bash
# basin vs PyTorch, same shapes, same thread count: runs `basin bench step` and
# benches/pytorch_step.py alternately ROUNDS times (default 3) and prints every round plus the
# median steps/s of each side and the ratio basin ÷ PyTorch of the medians. Alternating rounds
# keep load changes on a shared machine from favouring one side. Needs `pip install torch`.
set -euo pipefail
cd "$(dirname "$0")/.."
source benches/args.sh
bench_args "[THREADS=N] [STEPS=N] [ROUNDS=N] bash benches/compare.sh" 0 "$@"
THREADS=${THREADS:-$(nproc)}
STEPS=${STEPS:-30}
ROUNDS=${ROUNDS:-3}
cargo build --release -p basin-cli >/dev/null
RAW=$(mktemp)
trap 'rm -f "$RAW"' EXIT
for r in $(seq "$ROUNDS"); do
  RAYON_NUM_THREADS=$THREADS ./target/release/basin bench step --steps "$STEPS" | grep '^| [nk]' | sed "s/^/basin $r /" >>"$RAW"
  python3 benches/pytorch_step.py --threads "$THREADS" --steps "$STEPS" 2>/dev/null | grep '^| [nk]' | sed "s/^/torch $r /" >>"$RAW"
done
echo "rounds (steps/s): $(python3 -c 'import torch; print("PyTorch", torch.__version__)' 2>/dev/null), basin flex, $THREADS threads, $(lscpu | sed -n 's/^Model name: *//p')"
echo "| round | side | workload | steps/s |"
echo "|---|---|---|---|"
awk -F'|' '{ split($1, a, " "); printf "| %s | %s | %s | %s |\n", a[2], a[1], $2, $4 }' "$RAW"
echo
echo "| workload | basin steps/s | PyTorch steps/s | ratio basin ÷ PyTorch | threads | rounds |"
echo "|---|---|---|---|---|---|"
python3 - "$RAW" "$THREADS" "$ROUNDS" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    side, _, rest = line.split(" ", 2)
    cells = [c.strip() for c in rest.split("|")]
    rows.setdefault(cells[1], {}).setdefault(side, []).append(float(cells[3]))
for name, sides in rows.items():
    b, t = statistics.median(sides["basin"]), statistics.median(sides["torch"])
    print(f"| {name} | {b:.2f} | {t:.2f} | {b / t:.2f} | {sys.argv[2]} | {sys.argv[3]} |")
PY
