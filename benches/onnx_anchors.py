#!/usr/bin/env python3
"""Time to a top-5 Hessian spectrum of an *imported* network: basin (`basin hessian --onnx
--npz`) against PyHessian 0.1 and curvlinops 3.0.1 (`HessianLinearOperator` + scipy `eigsh`,
its documented route) on the same PyTorch model, the same weights, the same examples, the
same threads, ROUNDS alternating rounds (issue 40, "against the anchors on the same model").

    V/bin/pip install torch==2.9.1 onnx onnxscript scipy curvlinops-for-pytorch && V/bin/pip install --no-deps pyhessian==0.1
    V/bin/python benches/onnx_anchors.py [--rounds 7] [--pyhessian-rounds N] [--threads 2] [--out benches/results/onnx]

PyHessian takes minutes per ResNet spectrum here; --pyhessian-rounds N runs it in the first N
rounds only (the table gives each side's n; 0 leaves it out, its columns then read nan).

Models: the fixtures' small ResNet (scripts/onnx_fixtures.py, 5,122 parameters, with batch
norm in evaluation mode) and ne-f1 (benches/zoo_onnx.py, 1.9 M parameters), each on the first
3,000 MNIST-slice training images, exported by the dynamo exporter (optimize=False). Tolerance
1e-3 on every side (basin's and PyHessian's defaults; eigsh tol=1e-3). Prints a Markdown table:
median wall seconds and range per side, ratios to basin, the products each used, and the
largest relative difference of each side's top-5 from basin's.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
sys.path.insert(0, os.path.join(ROOT, "benches"))
import onnx_fixtures  # noqa: E402
import pyhessian_spectrum  # noqa: E402
import zoo_onnx  # noqa: E402


def models():
    torch.manual_seed(0)
    return [("resnet (fixture)", onnx_fixtures.build("resnet").eval()), ("ne-f1", zoo_onnx.NeF1().eval())]


def pyhessian_top(model, x, y):
    """PyHessian at its defaults, as benches/hessian_vs_pyhessian.sh runs it."""
    r = pyhessian_spectrum.pyhessian_top(model, x, y, 5)
    return r["eigenvalues"], r["products"], r["seconds"]


def curvlinops_top(model, x, y):
    r = pyhessian_spectrum.curvlinops_top(model, x, y, 5)
    return r["eigenvalues"], r["products"], r["seconds"]


def basin_top(basin, onnx, npz, threads):
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "h.json")
        env = dict(os.environ, RAYON_NUM_THREADS=str(threads))
        subprocess.run([basin, "hessian", "--onnx", onnx, "--npz", npz, "--subset", "1", "--top-k", "5", "--json", out],
                       check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        rep = json.load(open(out))
    r = rep["repeats"][0]
    return r["eigenvalues"], r["hvps"], rep["seconds"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--pyhessian-rounds", type=int, default=None, help="PyHessian in the first N rounds only (default: every round)")
    ap.add_argument("--models", default="resnet,ne-f1", help="comma-separated: resnet, ne-f1")
    ap.add_argument("--raw", default="anchors.jsonl", help="raw rows, in --out")
    ap.add_argument("--out", default=os.path.join(ROOT, "benches/results/onnx"))
    ap.add_argument("--basin", default=os.path.join(ROOT, "target/release/basin"), help="the basin binary (a copy keeps a rebuild out of the timing)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    os.makedirs(a.out, exist_ok=True)
    xs, ys = onnx_fixtures.mnist_slice(3000)
    work = tempfile.mkdtemp()
    npz = os.path.join(work, "data3000.npz")
    np.savez(npz, x=xs, y=ys)
    x, y = torch.from_numpy(xs), torch.from_numpy(ys)
    rows = []
    raw = open(os.path.join(a.out, a.raw), "w")
    chosen = [(n, m) for n, m in models() if n.split()[0] in a.models.split(",")]
    for name, m in chosen:
        onnx = os.path.join(work, name.split()[0] + ".onnx")
        batch = torch.export.Dim("batch")
        torch.onnx.export(m, (x[:2],), onnx, dynamo=True, optimize=False, input_names=["x"], output_names=["logits"], dynamic_shapes={"x": {0: batch}})
        for r in range(a.rounds):
            for side, f in [("basin", lambda: basin_top(a.basin, onnx, npz, a.threads)), ("PyHessian", lambda: pyhessian_top(m, x, y)), ("curvlinops", lambda: curvlinops_top(m, x, y))]:
                if side == "PyHessian" and a.pyhessian_rounds is not None and r >= a.pyhessian_rounds:
                    continue
                eig, n, s = f()
                rows.append({"model": name, "side": side, "round": r, "eigenvalues": eig, "products": n, "seconds": s})
                raw.write(json.dumps(rows[-1]) + "\n")
                raw.flush()
                print(f"{name} round {r} {side}: {s:.1f} s, {n} products, {[round(e, 4) for e in eig]}", file=sys.stderr)
    cpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    cpu = next((l.split(":", 1)[1].strip() for l in cpu.splitlines() if l.startswith("Model name")), "?")
    ph = a.rounds if a.pyhessian_rounds is None else min(a.rounds, a.pyhessian_rounds)
    print(f"{a.rounds} alternating rounds (PyHessian in {ph}), {a.threads} threads, {cpu}, PyTorch {torch.__version__}, 3,000 examples, tol 1e-3")
    print()
    print("| model | basin s, median (range) | PyHessian s | curvlinops s | basin ÷ PyHessian | basin ÷ curvlinops | products basin / PyHessian / curvlinops | max rel. diff. of top-5 from basin's: PyHessian / curvlinops |")
    print("|---|---|---|---|---|---|---|---|")
    for name, _ in chosen:
        med, rng, prod, diff = {}, {}, {}, {}
        for side in ["basin", "PyHessian", "curvlinops"]:
            rs = [r for r in rows if r["model"] == name and r["side"] == side]
            if not rs:  # PyHessian left out (--pyhessian-rounds 0)
                med[side], rng[side], prod[side], diff[side] = float("nan"), (float("nan"),) * 2, float("nan"), float("nan")
                continue
            s = [r["seconds"] for r in rs]
            med[side], rng[side] = statistics.median(s), (min(s), max(s))
            prod[side] = statistics.median([r["products"] for r in rs])
            base = [r for r in rows if r["model"] == name and r["side"] == "basin"][0]["eigenvalues"]
            diff[side] = max(abs(a - b) / abs(b) for r in rs for a, b in zip(r["eigenvalues"], base))
        f = lambda k: f"{med[k]:.2f} ({rng[k][0]:.2f}–{rng[k][1]:.2f})"
        print(f"| {name} | {f('basin')} | {f('PyHessian')} | {f('curvlinops')} | {med['basin'] / med['PyHessian']:.2f} | {med['basin'] / med['curvlinops']:.2f} | {prod['basin']:.0f} / {prod['PyHessian']:.0f} / {prod['curvlinops']:.0f} | {diff['PyHessian']:.1e} / {diff['curvlinops']:.1e} |")


if __name__ == "__main__":
    main()
