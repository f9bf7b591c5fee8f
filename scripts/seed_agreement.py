#!/usr/bin/env python3
"""How far two seeds of one grid configuration agree (REPRODUCTIONS.md, "Flatness against
generalization").

Reads the committed run records of a `basin reproduce generalization-grid` folder
(`<cell>/seed-<k>/{summary,measures}.json`) and, over the cells that have both seeds:

- the accuracy gap's seed-to-seed difference (mean and largest |gap₀ − gap₁|, in points), the
  noise floor under any ranking of the gap;
- per measure, Kendall's τ between its seed-0 and seed-1 values across the cells (scipy's
  `kendalltau`, τ-b): how reproducible the measure itself is from one training run to another;
- per measure, Kendall's τ with the gap within each seed alone, so one seed's conclusions can be
  set beside the other's.

This is an independent computation (scipy, not basin's `kendall` module); `basin correlate`
gives the pooled table with bootstrap intervals, Ψ and CMI.

Usage: python3 scripts/seed_agreement.py [results/generalization-grid-full] [--markdown]
"""
import json
import sys
from pathlib import Path

from scipy.stats import kendalltau


def gap(summary):
    return summary["train_acc"] - summary["test_acc"]


def load(root):
    """{cell: {seed: (gap, {measure: value})}} over the runs with a summary and measures."""
    cells = {}
    for s in sorted(root.glob("*/seed-*/summary.json")):
        run = s.parent
        m = run / "measures.json"
        if not m.exists():
            continue
        measures = {k: v["value"] for k, v in json.loads(m.read_text()).items() if isinstance(v.get("value"), (int, float))}
        seed = int(run.name.split("-")[1])
        cells.setdefault(run.parent.name, {})[seed] = (gap(json.loads(s.read_text())), measures)
    return cells


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    root = Path(args[0] if args else "results/generalization-grid-full")
    md = "--markdown" in sys.argv
    cells = load(root)
    both = sorted(c for c, s in cells.items() if 0 in s and 1 in s)
    if not both:
        sys.exit(f"{root}: no cell has both seed 0 and seed 1")
    diffs = [abs(cells[c][0][0] - cells[c][1][0]) * 100 for c in both]
    print(f"{len(both)} cells with both seeds; gap |seed 0 − seed 1|: mean {sum(diffs) / len(diffs):.2f} points, max {max(diffs):.2f}")
    measures = sorted(set.union(*(set(cells[c][k][1]) for c in both for k in (0, 1))))
    rows = []
    for m in measures:
        # the cells where both seeds have this measure (a run being measured has some of them)
        cs = [c for c in both if m in cells[c][0][1] and m in cells[c][1][1]]
        x0 = [cells[c][0][1][m] for c in cs]
        x1 = [cells[c][1][1][m] for c in cs]
        g0 = [cells[c][0][0] for c in cs]
        g1 = [cells[c][1][0] for c in cs]
        rows.append((m, len(cs), kendalltau(x0, x1).statistic, kendalltau(x0, g0).statistic, kendalltau(x1, g1).statistic))
    gt = kendalltau([cells[c][0][0] for c in both], [cells[c][1][0] for c in both]).statistic
    if md:
        print(f"\n| measure | cells | τ(seed 0, seed 1) of the measure | τ with the gap, seed 0 | τ with the gap, seed 1 |\n|---|---|---|---|---|")
        print(f"| (the gap itself) | {len(both)} | {gt:.3f} | | |")
        for m, n, a, b, c in rows:
            print(f"| {m} | {n} | {a:.3f} | {b:.3f} | {c:.3f} |")
    else:
        print(f"the gap itself: τ(seed 0, seed 1) = {gt:.3f}")
        for m, n, a, b, c in rows:
            print(f"{m:28s} n {n:3d}  seed-to-seed τ {a:6.3f}   τ with gap: seed 0 {b:6.3f}, seed 1 {c:6.3f}")


if __name__ == "__main__":
    main()
