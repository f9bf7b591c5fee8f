#!/usr/bin/env python3
"""Re-judges the claims of the committed reproduction reports (docs/reproductions/*/report.json)
by basin's verdict rule since 2026-12-07: Welch's t, one-sided at 95 % with the
Welch–Satterthwaite degrees of freedom (`reproduce/report.rs::judge`), from the cells' mean,
std and n that each report.json keeps. Prints a Markdown table of the claims whose verdict
changes, and a count of those that keep theirs.

    V/bin/python scripts/rejudge_reports.py
"""
import glob
import json
import re

from scipy.stats import t as student


def judge(l, r, greater):
    if l is None or r is None:
        return None, None, "inconclusive (not measured)"
    if l["n"] < 2 or r["n"] < 2:
        return None, None, "inconclusive (too few seeds)"
    if abs(l["mean"] - r["mean"]) <= 1e-6 * max(abs(l["mean"]), abs(r["mean"]), 1.0):
        return None, None, "inconclusive (below f32 resolution)"
    a, b = l["std"] ** 2 / l["n"], r["std"] ** 2 / r["n"]
    if a + b == 0:
        return None, None, "inconclusive (no spread)"
    d = l["mean"] - r["mean"] if greater else r["mean"] - l["mean"]
    tv = d / (a + b) ** 0.5
    df = (a + b) ** 2 / (a * a / (l["n"] - 1) + b * b / (r["n"] - 1))
    crit = student.ppf(0.95, df)
    return tv, df, "reproduced" if tv >= crit else "not reproduced" if tv <= -crit else "inconclusive"


side = re.compile(r"^\s*(\w+)\[(.+)\]\s*$")
changed, kept = [], 0
for f in sorted(glob.glob("docs/reproductions/*/report.json")):
    rep = json.load(open(f))
    cells = rep["cells"]
    for c in rep["claims"]:
        op = ">" if ">" in c["test"] else "<"
        left, right = (side.match(x) for x in c["test"].split(op))
        get = lambda m: cells.get(m.group(2), {}).get(m.group(1))
        tv, df, v = judge(get(left), get(right), op == ">")
        if v != c["verdict"]:
            changed.append((f.split("/")[2], c["text"], c["test"], c.get("t"), tv, df, student.ppf(0.95, df) if df else None, c["verdict"], v))
        else:
            kept += 1
print("| report | claim | test | Welch t | ν | t₀.₉₅(ν) | verdict then | verdict now |")
print("|---|---|---|---|---|---|---|---|")
fmt = lambda x, p: "—" if x is None else f"{x:.{p}f}"
for name, text, test, t_old, tv, df, crit, old, new in changed:
    print(f"| {name} | {text} | `{test}` | {fmt(tv, 2)} | {fmt(df, 2)} | {fmt(crit, 2)} | {old} | {new} |")
print(f"\n{len(changed)} of {len(changed) + kept} claims change their verdict; {kept} keep it.")
