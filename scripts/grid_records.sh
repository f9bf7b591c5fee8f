#!/usr/bin/env bash
# Keeps the small records of an experiment's finished runs in git, so that a machine that is
# replaced between sessions (its git-ignored repro/ folder lost) resumes the experiment
# instead of retraining it, and `basin correlate` can be rerun on the committed records alone.
#
#   scripts/grid_records.sh save    [NAME]   # repro/NAME/<cell>/seed-<s>/ → results/NAME/…
#   scripts/grid_records.sh restore [NAME]   # results/NAME/… → repro/NAME/… where missing
#
# NAME defaults to generalization-grid-full. Each record is a run's config.toml, summary.json
# and measures.json (when it has one), nothing else: no checkpoint. A restored run is finished
# for `basin reproduce` once its measures.json holds every measure, and counts in `basin
# correlate`; a measure it lacks cannot be computed without its weights (`basin reproduce`
# stops at such a run, naming its model.bpk): `restore` names the runs restored without
# measures.json or with fewer measures than the fullest record, and `save` names the runs
# whose measures are not complete yet (commit those once they are).
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:?usage: scripts/grid_records.sh save|restore [NAME]}
name=${2:-generalization-grid-full}
# names the runs below $1 whose measures.json has fewer entries than the fullest one there
short() {
  python3 - "$1" "$2" <<'PY'
import json, pathlib, sys
counts = {}
for f in sorted(pathlib.Path(sys.argv[1]).glob("*/seed-*/measures.json")):
    try:
        counts[f.parent] = len(json.loads(f.read_text()))
    except (ValueError, OSError) as e:
        print(f"{sys.argv[2]} with an unreadable measures.json: {f.parent} ({e})")
full = max(counts.values(), default=0)
for d, k in counts.items():
    if k < full:
        print(f"{sys.argv[2]} with {k} of {full} measures: {d}")
PY
}
case $what in
  save)
    n=0
    for d in repro/"$name"/*/seed-*; do
      [ -f "$d/summary.json" ] && [ -f "$d/config.toml" ] || continue
      rel=${d#repro/}
      mkdir -p "results/$rel"
      for f in config.toml summary.json measures.json; do
        # write-then-rename: an interrupted save never leaves a half-written record
        [ -f "$d/$f" ] && cp "$d/$f" "results/$rel/$f.tmp" && mv "results/$rel/$f.tmp" "results/$rel/$f"
      done
      n=$((n + 1))
    done
    echo "saved $n finished runs of $name into results/$name"
    short "results/$name" "saved"
    ;;
  restore)
    n=0; bare=0
    for r in results/"$name"/*/seed-*; do
      [ -f "$r/summary.json" ] || continue
      rel=${r#results/}
      [ -f "repro/$rel/summary.json" ] && continue
      mkdir -p "repro/$rel"
      # summary.json last: a run counts as finished only once its other records are in place
      for f in config.toml measures.json summary.json; do
        [ -f "$r/$f" ] && cp "$r/$f" "repro/$rel/$f"
      done
      n=$((n + 1))
      [ -f "$r/measures.json" ] || { echo "restored without measures (no weights to measure): $rel"; bare=$((bare + 1)); }
    done
    echo "restored $n finished runs of $name into repro/$name ($bare without measures)"
    short "repro/$name" "restored"
    ;;
  *) echo "scripts/grid_records.sh: unknown action '$what' (save or restore)" >&2; exit 2 ;;
esac
