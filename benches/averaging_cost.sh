#!/usr/bin/env bash
# The cost of weight averaging (issue 27): `basin train` of MODEL (default keskar-f1, batch
# norm, so the averaged model's recalibration is included) on the bundled MNIST slice for
# EPOCHS (default 3) epochs, plain and with SWA and EMA averaging after *every step* (the worst
# case) and with SWA after every epoch (its usual unit: what remains is the fixed cost at the
# end), ROUNDS times (default 5) alternating, and prints the
# median wall time of each whole command (training, evaluation, the averaged model's
# recalibration, evaluation and saving) and its ratio to plain training, with the range over rounds.
# The ideal is 1 + one fused pass over the weights per step (plus one pass over the training
# set for the batch-norm recalibration at the end).
set -euo pipefail
cd "$(dirname "$0")/.."
source benches/args.sh
bench_args "[BIN=…] [MODEL=…] [EPOCHS=N] [ROUNDS=N] bash benches/averaging_cost.sh" 0 "$@"
BIN=${BIN:-target/release/basin}
MODEL=${MODEL:-keskar-f1}
EPOCHS=${EPOCHS:-3}
ROUNDS=${ROUNDS:-5}
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
declare -A CFG=(
  [plain]=""
  [swa-per-step]="--set average.method=swa --set average.unit=step"
  [ema-per-step]="--set average.method=ema --set average.unit=step --set average.beta=0.99"
  [swa-per-epoch]="--set average.method=swa"
)
for r in $(seq "$ROUNDS"); do
  for name in plain swa-per-step ema-per-step swa-per-epoch; do
    rm -rf "$OUT/run"
    t0=$(date +%s.%N)
    # shellcheck disable=SC2086
    "$BIN" train --set model.name="$MODEL" --set train.epochs="$EPOCHS" ${CFG[$name]} --out "$OUT/run" >"$OUT/log" 2>&1
    t1=$(date +%s.%N)
    steps=$(sed -n 's/^final: .*(\([0-9]*\) steps, .*/\1/p' "$OUT/log")
    if [ "$name" != plain ] && ! ls "$OUT"/run/model-*.bpk >/dev/null 2>&1; then
      echo "averaging_cost.sh: $name wrote no averaged model" >&2; exit 1
    fi
    echo "$name $r $steps $(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" >>"$OUT/raw"
  done
done
echo "$ROUNDS alternating rounds of basin train, $MODEL, $EPOCHS epochs on the MNIST slice, ${RAYON_NUM_THREADS:-$(nproc)} threads, $(lscpu | sed -n 's/^Model name: *//p')"
echo
echo "| run | steps | wall seconds (median) | ratio to plain | range over rounds | extra ms per step |"
echo "|---|---|---|---|---|---|"
python3 - "$OUT/raw" <<'PY'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    name, r, steps, secs = line.split()
    runs.setdefault(name, {})[r] = (int(steps), float(secs))
plain = runs["plain"]
base = statistics.median(s for _, s in plain.values())
for name, rs in runs.items():
    med = statistics.median(s for _, s in rs.values())
    per = sorted(rs[r][1] / plain[r][1] for r in rs)
    steps = next(iter(rs.values()))[0]
    print(f"| {name} | {steps} | {med:.2f} | {med / base:.3f} | {per[0]:.3f}–{per[-1]:.3f} | {1000 * (med - base) / steps:.2f} |")
PY
