#!/usr/bin/env bash
# Time to a spectrum, basin vs PyHessian and curvlinops (issue 29, goal 3; issue 39, item 3):
# the top-5 Hessian eigenvalues of
#   ne-f1      trained on the first 3,000 slice images (`basin train --set data.train_subset=3000`)
#   simple-cnn trained on the first 500 (`--set model.name="simple-cnn" --set data.train_subset=500`)
# on those same images (`basin hessian --run R --subset 1.0 --top-k 5`, defaults: exact Hessian,
# Lanczos, tol 1e-3), against PyHessian 0.1 at its defaults and curvlinops 3.0.1's documented
# route (HessianLinearOperator + scipy eigsh at tol 1e-3; benches/pyhessian_spectrum.py), the
# same weights, examples and threads, ROUNDS alternating rounds (default 7). Accuracy: both sides
# against the float64 reference of benches/pyhessian_spectrum.py --reference (ARPACK at 1e-10 on
# double-backward products; computed once for each model's weights and kept in OUT, named by
# their hash). Prints a table:
# median wall seconds and range of each side, the ratios basin ÷ PyHessian and basin ÷
# curvlinops of the medians, the products each used, and the worst relative error over the
# top-5 against the reference; and the peak resident memory (RSS) of each side, from
# /usr/bin/time, since basin streams its batches and must not grow with the examples.
#
#   python3 -m venv V && V/bin/pip install torch==2.9.1 scipy safetensors curvlinops-for-pytorch && V/bin/pip install --no-deps pyhessian==0.1
#   PY=V/bin/python bash benches/hessian_vs_pyhessian.sh [OUT]    # OUT default benches/results/hessian_vs_pyhessian
set -euo pipefail
cd "$(dirname "$0")/.."
source benches/args.sh
bench_args "[PY=python] [ROUNDS=N] [THREADS=N] bash benches/hessian_vs_pyhessian.sh [OUT]" 1 "$@"
PY=${PY:-python3}
ROUNDS=${ROUNDS:-7}
THREADS=${THREADS:-$(nproc)}
OUT=${1:-benches/results/hessian_vs_pyhessian}
mkdir -p "$OUT"
cargo build --release -p basin-cli >/dev/null
BASIN=./target/release/basin
RUNS=$(mktemp -d)
trap 'rm -rf "$RUNS"' EXIT
declare -A REF
# a Python side that fails says why (its stderr is kept, not shown, while it succeeds): a
# curvlinops installed with --no-deps, say, fails on its first import
failed() { echo "error: $1 failed in $PY:" >&2; tail -5 "$RUNS/err" >&2; exit 1; }
declare -A SETS=([ne-f1]='--set data.train_subset=3000' [simple-cnn]='--set model.name="simple-cnn" --set data.train_subset=500')
for m in ne-f1 simple-cnn; do
  # shellcheck disable=SC2086
  RAYON_NUM_THREADS=$THREADS $BASIN train ${SETS[$m]} --out "$RUNS/$m" >/dev/null
  # the reference belongs to these exact weights: its file is named by their hash
  REF[$m]="$OUT/reference-$m-$(sha256sum "$RUNS/$m/model.safetensors" | cut -c1-12).json"
  [ -s "${REF[$m]}" ] || "$PY" benches/pyhessian_spectrum.py "$RUNS/$m" --reference --threads "$THREADS" 2>"$RUNS/err" >"${REF[$m]}" \
    || { rm -f "${REF[$m]}"; failed "the float64 reference of $m"; }
done
RAW="$OUT/rounds.jsonl"
: >"$RAW"
for r in $(seq "$ROUNDS"); do
  for m in ne-f1 simple-cnn; do
    RAYON_NUM_THREADS=$THREADS /usr/bin/time -f %M -o "$RUNS/rss" $BASIN hessian --run "$RUNS/$m" --subset 1.0 --top-k 5 --json "$RUNS/h.json" --force >/dev/null
    "$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); t=d["repeats"][0]; print(json.dumps({"side":"basin","model":sys.argv[2],"round":int(sys.argv[3]),"eigenvalues":t["eigenvalues"],"products":t["hvps"],"seconds":d["seconds"],"rss_kb":int(open(sys.argv[4]).read().split()[-1])}))' "$RUNS/h.json" "$m" "$r" "$RUNS/rss" >>"$RAW"
    for side in "" --curvlinops; do
      # shellcheck disable=SC2086
      /usr/bin/time -f %M -o "$RUNS/rss" "$PY" benches/pyhessian_spectrum.py "$RUNS/$m" --threads "$THREADS" $side 2>"$RUNS/err" >"$RUNS/side.json" \
        || failed "round $r, $m, ${side:---pyhessian}"
      "$PY" -c 'import json,sys; d=json.load(open(sys.argv[3])); d.update(model=sys.argv[1], round=int(sys.argv[2]), rss_kb=int(open(sys.argv[4]).read().split()[-1])); print(json.dumps(d))' "$m" "$r" "$RUNS/side.json" "$RUNS/rss" >>"$RAW"
    done
    echo "round $r $m: $(tail -3 "$RAW" | "$PY" -c 'import json,sys; print(", ".join("%s %.1f s" % (d["side"], d["seconds"]) for d in map(json.loads, sys.stdin)))')" >&2
  done
done
echo "rounds: $ROUNDS alternating, $THREADS threads, $(lscpu | sed -n 's/^Model name: *//p'), $("$PY" -c 'import torch; print("PyTorch", torch.__version__)')"
"$PY" - "$RAW" "${REF[ne-f1]}" "${REF[simple-cnn]}" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
sides = ["basin", "pyhessian", "curvlinops"]
print("| model, examples | basin s (median, range) | PyHessian s | curvlinops s | basin ÷ PyHessian | basin ÷ curvlinops | products basin / PyHessian / curvlinops | worst rel. error top-5, basin / PyHessian / curvlinops | peak RSS MB, basin / PyHessian / curvlinops |")
print("|---|---|---|---|---|---|---|---|---|")
for (m, n), path in zip([("ne-f1", 3000), ("simple-cnn", 500)], sys.argv[2:]):
    ref = json.load(open(path))["eigenvalues"]
    c = {}
    for side in sides:
        rs = [r for r in rows if r["model"] == m and r["side"] == side]
        s = [r["seconds"] for r in rs]
        err = max(abs(a - b) / abs(b) for r in rs for a, b in zip(r["eigenvalues"], ref))
        c[side] = (statistics.median(s), min(s), max(s), sorted({r["products"] for r in rs}), err, max(r["rss_kb"] for r in rs) / 1024)
    f = lambda k: f"{c[k][0]:.1f} ({c[k][1]:.1f}–{c[k][2]:.1f})"
    print(f"| {m}, {n} | {f('basin')} | {f('pyhessian')} | {f('curvlinops')} | **{c['basin'][0] / c['pyhessian'][0]:.2f}** | **{c['basin'][0] / c['curvlinops'][0]:.2f}** | "
          + " / ".join(str(c[k][3]) for k in sides) + " | " + " / ".join(f"{c[k][4]:.1e}" for k in sides) + " | " + " / ".join(f"{c[k][5]:.0f}" for k in sides) + " |")
PY
