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
# for `basin reproduce` (it has summary.json) and counts in `basin correlate`, but a measure it
# lacks cannot be computed without its weights: `restore` says which runs those are.
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:?usage: scripts/grid_records.sh save|restore [NAME]}
name=${2:-generalization-grid-full}
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
    ;;
  *) echo "scripts/grid_records.sh: unknown action '$what' (save or restore)" >&2; exit 2 ;;
esac
