#!/usr/bin/env bash
# basin vs PyTorch, same shapes, same thread count: runs `basin bench step` and
# benches/pytorch_step.py alternately ROUNDS times (default 3) and prints every round plus the
# median steps/s of each side and the ratio basin ÷ PyTorch of the medians. Alternating rounds
# keep load changes on a shared machine from favouring one side. Needs `pip install torch`.
# ISA=avx2 compares the two as an AVX2-only CPU runs them, on a CPU that has AVX-512: basin built
# without its `x86-v4` feature (into target/avx2; docs/guide/cpu-dispatch.md) against PyTorch
# capped by its own switches (ATEN_CPU_CAPABILITY=avx2, MKL_ENABLE_INSTRUCTIONS=AVX2,
# ONEDNN_MAX_CPU_ISA=AVX2).
set -euo pipefail
cd "$(dirname "$0")/.."
source benches/args.sh
bench_args "[THREADS=N] [STEPS=N] [ROUNDS=N] [ISA=native|avx2] bash benches/compare.sh" 0 "$@"
THREADS=${THREADS:-$(nproc)}
STEPS=${STEPS:-30}
ROUNDS=${ROUNDS:-3}
case ${ISA:=native} in
  native) cargo build --release -p basin-cli >/dev/null; BASIN=./target/release/basin ;;
  avx2)
    cargo build --release -p basin-cli --no-default-features --target-dir target/avx2 >/dev/null
    BASIN=./target/avx2/release/basin
    export ATEN_CPU_CAPABILITY=avx2 MKL_ENABLE_INSTRUCTIONS=AVX2 ONEDNN_MAX_CPU_ISA=AVX2 ;;
  *) echo "error: ISA='$ISA': native or avx2" >&2; exit 2 ;;
esac
RAW=$(mktemp)
trap 'rm -f "$RAW"' EXIT
for r in $(seq "$ROUNDS"); do
  RAYON_NUM_THREADS=$THREADS $BASIN bench step --steps "$STEPS" | grep '^| [nk]' | sed "s/^/basin $r /" >>"$RAW"
  python3 benches/pytorch_step.py --threads "$THREADS" --steps "$STEPS" 2>/dev/null | grep '^| [nk]' | sed "s/^/torch $r /" >>"$RAW"
done
echo "rounds (steps/s): $(python3 -c 'import torch; print("PyTorch", torch.__version__, "dispatching", torch.backends.cpu.get_cpu_capability())' 2>/dev/null), basin flex ($ISA build), $THREADS threads, $(lscpu | sed -n 's/^Model name: *//p')"
echo "| round | side | workload | steps/s | CPUs busy |"
echo "|---|---|---|---|---|"
awk -F'|' '{ split($1, a, " "); printf "| %s | %s | %s | %s | %s |\n", a[2], a[1], $2, $4, $7 }' "$RAW"
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
