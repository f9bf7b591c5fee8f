#!/usr/bin/env python3
"""Copies each reproduction's report (report.md, report.html and the plots) from repro/NAME-SCALE/ into
docs/reproductions/NAME-SCALE/, so REPRODUCTIONS.md can link the measured tables and figures
(the run folders themselves stay out of git).

  python3 scripts/collect_reproductions.py [repro]
"""
import shutil, sys
from pathlib import Path

root = Path(__file__).resolve().parent.parent
src = Path(sys.argv[1]) if len(sys.argv) > 1 else root / "repro"
for d in sorted(p for p in src.iterdir() if (p / "report.md").is_file()):
    out = root / "docs" / "reproductions" / d.name
    out.mkdir(parents=True, exist_ok=True)
    for f in [d / "report.md", d / "report.json", *d.glob("report.html"), *d.glob("*.png")]:
        shutil.copy2(f, out / f.name)
    # the report links SVGs; the copies link the PNGs beside them (smaller in git)
    md = (out / "report.md").read_text().replace(".svg)", ".png)")
    (out / "report.md").write_text(md)
    print(out.relative_to(root))
