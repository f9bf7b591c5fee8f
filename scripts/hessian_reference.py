#!/usr/bin/env python3
"""Exact float64 reference for `basin hessian` on an ne-f1 run (issue 11).

Independent of basin's code: reads the run's model.safetensors and config.toml, the raw MNIST
IDX files of data/mnist-slice, rebuilds the evaluation-mode loss (the first `data.train_subset`
training images, normalized with the mean/std of those images as basin does), and computes in
float64 with JAX:
  * Hessian-vector products by forward-over-reverse autodiff (jax.jvp of jax.grad), and
  * Gauss–Newton products J^T H_l J v (jax.jvp + jax.vjp),
then the extreme eigenvalues with ARPACK (scipy.sparse.linalg.eigsh).

  python3 -m venv V && V/bin/pip install jax scipy numpy safetensors
  V/bin/python scripts/hessian_reference.py RUN_DIR [--top 5] [--json OUT]

ne-f1 only (784 -> 7x500 ReLU -> 10); Burn stores Linear weights as [in, out].
"""
import argparse, json, sys, time, tomllib
from pathlib import Path

import jax
jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree
import numpy as np
from safetensors.numpy import load_file
from scipy.sparse.linalg import LinearOperator, eigsh

sys.path.insert(0, str(Path(__file__).resolve().parent))
from mnist_slice import first_training_images  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("run")
    ap.add_argument("--top", type=int, default=5)
    ap.add_argument("--json")
    ap.add_argument("--top-only", action="store_true", help="only the top eigenvalues (no λ_min, no Gauss–Newton)")
    a = ap.parse_args()
    run = Path(a.run)
    cfg = tomllib.loads((run / "config.toml").read_text())
    assert cfg["model"]["name"] == "ne-f1", "ne-f1 only"
    n = cfg["data"]["train_subset"] or 10000
    x, y = first_training_images(n)
    st = load_file(run / "model.safetensors")
    names = [f"Mlp.hidden.{i}" for i in range(7)] + ["Mlp.output"]
    params = [(jnp.asarray(st[f"{m}.weight"], jnp.float64), jnp.asarray(st[f"{m}.bias"], jnp.float64)) for m in names]
    flat, unravel = ravel_pytree(params)
    x, y = jnp.asarray(x), jnp.asarray(y)

    # Data and weights are arguments of the jitted functions, not constants (XLA would fold them).
    def logits(w, x):
        h = x
        p = unravel(w)
        for wt, b in p[:-1]:
            h = jax.nn.relu(h @ wt + b)
        wt, b = p[-1]
        return h @ wt + b

    def loss(w, x, y):
        z = logits(w, x)
        return jnp.mean(jax.nn.logsumexp(z, axis=1) - z[jnp.arange(z.shape[0]), y])

    hvp_j = jax.jit(lambda w, v, x, y: jax.jvp(lambda u: jax.grad(loss)(u, x, y), (w,), (v,))[1])

    def ggn_j(w, v, x):
        z, jv = jax.jvp(lambda u: logits(u, x), (w,), (v,))
        p = jax.nn.softmax(z, axis=1)
        u = (p * jv - p * jnp.sum(p * jv, axis=1, keepdims=True)) / z.shape[0]
        _, vjp = jax.vjp(lambda u_: logits(u_, x), w)
        return vjp(u)[0]

    ggn_j = jax.jit(ggn_j)
    hvp = lambda v: hvp_j(flat, v, x, y)
    ggn = lambda v: ggn_j(flat, v, x)
    loss_at = float(loss(flat, x, y))
    dim = flat.shape[0]
    out = {"run": str(run), "parameters": int(dim), "examples": int(n), "loss": loss_at}
    counts = {"hvp": 0}

    def op(f):
        def mv(v):
            counts["hvp"] += 1
            return np.asarray(f(jnp.asarray(v.reshape(-1), jnp.float64)))
        return LinearOperator((dim, dim), matvec=mv, dtype=np.float64)

    t = time.time()
    top = eigsh(op(hvp), k=a.top, which="LA", tol=1e-10, return_eigenvectors=False)
    out["hessian_top"] = sorted(top.tolist(), reverse=True)
    if not a.top_only:
        neg = eigsh(op(lambda v: -hvp(v)), k=1, which="LA", tol=1e-8, return_eigenvectors=False, maxiter=3000)
        out["hessian_min"] = float(-neg[0])
        gtop = eigsh(op(ggn), k=a.top, which="LA", tol=1e-10, return_eigenvectors=False)
        out["ggn_top"] = sorted(gtop.tolist(), reverse=True)
    out["products"] = counts["hvp"]
    out["seconds"] = time.time() - t
    text = json.dumps(out, indent=1)
    print(text)
    if a.json:
        Path(a.json).write_text(text + "\n")


if __name__ == "__main__":
    main()
