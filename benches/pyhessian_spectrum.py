#!/usr/bin/env python3
"""The PyTorch side of the time-to-spectrum comparison (issue 29, goal 3), for an ne-f1 or
simple-cnn run folder of `basin train`: the same weights (the run's model.safetensors), the same
examples (the first `data.train_subset` training images of the bundled slice, normalized as
basin does, i.e. the loss `basin hessian --run RUN --subset 1.0` measures), evaluation mode, the
CPU with the same threads.

  default      PyHessian 0.1's top-k (power iteration with deflation; its defaults maxIter 100,
               tol 1e-3), float32: eigenvalues, Hessian products, wall seconds from the loss's
               first evaluation on (loading excluded, as in basin's printed time);
  --curvlinops curvlinops' documented route (HessianLinearOperator, scipy eigsh which='LA',
               tol 1e-3), float32: eigenvalues, products, wall seconds from the operator's
               construction on;
  --block K    curvlinops' product of one vector against its product of a block of K vectors
               (`H @ V`, V of K columns, which curvlinops runs as one vmapped pass): median
               seconds of each over --rounds alternating rounds, seconds per vector in the block,
               and the largest relative difference between the block's columns and the single
               products (issue 39, item 2: basin's single product against a tool that has blocks);
  --reference  the float64 reference: the model in float64, Hessian products by double
               backward, ARPACK (scipy eigsh, which='LA', tol 1e-10).

Prints one JSON line.

    python3 -m venv V && V/bin/pip install torch==2.9.1 scipy safetensors && V/bin/pip install --no-deps pyhessian==0.1
    V/bin/python benches/pyhessian_spectrum.py RUN [--threads 2] [--top 5] [--examples N] [--curvlinops | --reference | --block K [--rounds R]]
    bash benches/hessian_vs_pyhessian.sh       # both sides, alternating rounds, with the ratio
"""
import argparse
import json
import sys
import time
import tomllib
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.numpy import load_file

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
from mnist_slice import first_training_images  # noqa: E402
from pytorch_step import NeF1  # noqa: E402


class SimpleCnn(nn.Module):
    """basin's simple-cnn on 1×28×28: conv 32, conv 32, max pool 2, conv 64, conv 64, max pool 2
    (3×3 convolutions, padding 1, ReLU after each), dense 128 ReLU, dense 10."""

    def __init__(self):
        super().__init__()
        self.convs = nn.ModuleList(nn.Conv2d(i, o, 3, padding=1) for i, o in [(1, 32), (32, 32), (32, 64), (64, 64)])
        self.fc, self.out = nn.Linear(64 * 7 * 7, 128), nn.Linear(128, 10)

    def forward(self, x):
        x = x.view(-1, 1, 28, 28)
        for i, conv in enumerate(self.convs):
            x = F.relu(conv(x))
            if i % 2 == 1:
                x = F.max_pool2d(x, 2, 2)
        return self.out(F.relu(self.fc(x.flatten(1))))


def load(run, examples=0):
    """The run's network with its weights (Burn stores Linear weights as [in, out]) and data."""
    cfg = tomllib.loads((run / "config.toml").read_text())
    st = load_file(run / "model.safetensors")
    name = cfg["model"]["name"]
    if name == "ne-f1":
        model = NeF1()
        pairs = [(l, f"Mlp.hidden.{i}") for i, l in enumerate(model.hidden)] + [(model.out, "Mlp.output")]
    elif name == "simple-cnn":
        model = SimpleCnn()
        pairs = [(c, f"SimpleCnn.convs.{i}") for i, c in enumerate(model.convs)] + [(model.fc, "SimpleCnn.fc"), (model.out, "SimpleCnn.out")]
    else:
        sys.exit(f"pyhessian_spectrum.py: {run}: model {name!r}: ne-f1 or simple-cnn only")
    with torch.no_grad():
        for layer, key in pairs:
            w = torch.from_numpy(st[f"{key}.weight"])
            layer.weight.copy_(w.T if isinstance(layer, nn.Linear) else w)
            layer.bias.copy_(torch.from_numpy(st[f"{key}.bias"]))
    x, y = first_training_images(examples or cfg["data"]["train_subset"] or 10000)
    return model.eval(), torch.from_numpy(x), torch.from_numpy(y)


def pyhessian_top(model, x, y, k):
    from pyhessian import hessian

    ph = sys.modules["pyhessian.hessian"]  # the module (the package exports the class under its name)
    count, hvp = {"n": 0}, ph.hessian_vector_product

    def counted(*args, **kw):
        count["n"] += 1
        return hvp(*args, **kw)

    ph.hessian_vector_product = counted
    t = time.time()
    h = hessian(model, nn.CrossEntropyLoss(), data=(x.float(), y), cuda=False)  # loss and its graph
    eig, _ = h.eigenvalues(maxIter=100, tol=1e-3, top_n=k)
    return {"side": "pyhessian", "eigenvalues": sorted(eig, reverse=True), "products": count["n"], "seconds": time.time() - t}


def curvlinops_top(model, x, y, k):
    """curvlinops' HessianLinearOperator with scipy's eigsh (which='LA', tol 1e-3), as its
    documentation computes a spectrum; also the ONNX anchor bench's curvlinops side."""
    from curvlinops import HessianLinearOperator
    from scipy.sparse.linalg import LinearOperator, eigsh

    t = time.time()
    params = [p for p in model.parameters() if p.requires_grad]
    H = HessianLinearOperator(model, nn.CrossEntropyLoss(), params, [(x.float(), y)], check_deterministic=False).to_scipy()
    count = {"n": 0}

    def matvec(v):
        count["n"] += 1
        return H.matvec(v)

    top = eigsh(LinearOperator(H.shape, matvec=matvec, dtype=H.dtype), k=k, which="LA", tol=1e-3, return_eigenvectors=False)
    return {"side": "curvlinops", "eigenvalues": sorted(top.tolist(), reverse=True), "products": count["n"], "seconds": time.time() - t}


def curvlinops_block(model, x, y, k, rounds):
    """Seconds of one Hessian product and of a block of k, alternating, on the same operator."""
    from curvlinops import HessianLinearOperator

    params = [p for p in model.parameters() if p.requires_grad]
    H = HessianLinearOperator(model, nn.CrossEntropyLoss(), params, [(x.float(), y)], check_deterministic=False)
    V = torch.randn(H.shape[1], k, generator=torch.Generator().manual_seed(0))
    H @ V[:, 0]  # warm-up
    single, block = [], []
    for _ in range(rounds):
        t = time.time()
        one = H @ V[:, 0]
        single.append(time.time() - t)
        t = time.time()
        many = H @ V
        block.append(time.time() - t)
    diff = float((many[:, 0] - one).abs().max() / one.abs().max())
    med = lambda s: sorted(s)[len(s) // 2]
    return {"side": "curvlinops-block", "k": k, "rounds": rounds, "single_s": med(single), "single_range": [min(single), max(single)],
            "block_s": med(block), "block_range": [min(block), max(block)], "block_per_vector_s": med(block) / k,
            "per_vector_over_single": med(block) / k / med(single), "max_rel_diff_column_0": diff, "parameters": H.shape[1]}


def reference_top(model, x, y, k):
    from scipy.sparse.linalg import LinearOperator, eigsh

    model = model.double()
    params = list(model.parameters())
    t = time.time()
    loss = F.cross_entropy(model(x.double()), y)
    grads = torch.autograd.grad(loss, params, create_graph=True)
    dim, count = sum(p.numel() for p in params), {"n": 0}

    def matvec(v):
        count["n"] += 1
        v = torch.from_numpy(np.ascontiguousarray(v.reshape(-1)))
        parts = torch.split(v, [p.numel() for p in params])
        hv = torch.autograd.grad(grads, params, [u.view_as(p) for u, p in zip(parts, params)], retain_graph=True)
        return torch.cat([h.reshape(-1) for h in hv]).numpy()

    top = eigsh(LinearOperator((dim, dim), matvec=matvec, dtype=np.float64), k=k, which="LA", tol=1e-10, return_eigenvectors=False)
    return {"side": "reference-float64", "eigenvalues": sorted(top.tolist(), reverse=True), "products": count["n"], "seconds": time.time() - t, "loss": float(loss)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("run", type=Path)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--top", type=int, default=5)
    ap.add_argument("--reference", action="store_true")
    ap.add_argument("--curvlinops", action="store_true")
    ap.add_argument("--block", type=int, default=0)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--examples", type=int, default=0, help="the first N slice images instead of the run's data.train_subset")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    model, x, y = load(a.run, a.examples)
    if a.block:
        out = curvlinops_block(model, x, y, a.block, a.rounds)
    else:
        side = reference_top if a.reference else curvlinops_top if a.curvlinops else pyhessian_top
        out = side(model, x, y, a.top)
    print(json.dumps({**out, "run": str(a.run), "examples": len(y), "threads": a.threads}))


if __name__ == "__main__":
    main()
