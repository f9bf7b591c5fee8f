#!/usr/bin/env bash
# basin vs PyTorch, same shapes, same thread count, one run: prints both tables and the ratio
# basin steps/s ÷ PyTorch steps/s. Needs `pip install torch` (PyPI).
set -euo pipefail
cd "$(dirname "$0")/.."
THREADS=${THREADS:-$(nproc)}
STEPS=${STEPS:-30}
cargo build --release -p basin-cli >/dev/null
B=$(RAYON_NUM_THREADS=$THREADS ./target/release/basin bench step --steps "$STEPS")
P=$(python3 benches/pytorch_step.py --threads "$THREADS" --steps "$STEPS")
echo "basin (flex, $THREADS threads):"; echo "$B"
echo; echo "$P"
echo; echo "| workload | basin steps/s | PyTorch steps/s | ratio basin ÷ PyTorch | threads |"
echo "|---|---|---|---|---|"
paste -d'|' <(echo "$B" | grep '^| [nk]' ) <(echo "$P" | grep '^| [nk]') | awk -F'|' -v t="$THREADS" '{ printf "| %s | %s | %s | %.2f | %s |\n", $2, $4, $11, $4/$11, t }'
