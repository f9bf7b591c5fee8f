#!/usr/bin/env bash
# The example report in docs/ (report-example.html and the README's screenshot): three
# seed-0 runs of `basin reproduce ne-f1-fashion --scale quick` (B = 900, B = 5000, and
# B = 5000 with noise enhancement α = 3), each with its top-3 Hessian eigenvalues and
# density, plus a filter-normalized 2-D surface around the B = 900 run, compared on one page.
# Needs those runs (basin data fetch fashion-mnist && basin reproduce ne-f1-fashion --scale quick)
# and chromium for the screenshot.
set -euo pipefail
cd "$(dirname "$0")/.."
B=${BASIN:-target/release/basin}
R=repro/ne-f1-fashion-quick
runs=("$R/b900/seed-0" "$R/b5000/seed-0" "$R/b5000-a3/seed-0")
for r in "${runs[@]}"; do
  [ -f "$r/hessian.json" ] || nice "$B" hessian --run "$r" --top-k 3 --density --json "$r/hessian.json"
done
[ -f "$R/b900/seed-0/surface.json" ] || nice "$B" landscape surface --run "$R/b900/seed-0" --dims 2 --points 15 --range 1 --train-subset 2000 --test-subset 500 --out "$R/b900/seed-0/surface"
"$B" report "${runs[@]}" --out docs/report-example.html --force
chromium --headless=new --no-sandbox --disable-gpu --hide-scrollbars --window-size=1200,2600 --screenshot=docs/report-example.png "file://$PWD/docs/report-example.html"
