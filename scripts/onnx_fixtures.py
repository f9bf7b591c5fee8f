#!/usr/bin/env python3
"""The ONNX fixtures of basin-onnx's tests, made by PyTorch's own exporters, and their float64
references (issue 40).

    python3 -m venv V && V/bin/pip install torch==2.9.1 onnx onnxscript scipy safetensors scikit-learn
    V/bin/python scripts/onnx_fixtures.py            # writes tests/fixtures/onnx/
    V/bin/python scripts/onnx_fixtures.py --check-safetensors RUN/model.safetensors NAME DATA.npz

Four networks (an MLP, a CNN with batch norm and max-pool, a small ResNet with residual additions
and global average pooling, a LayerNorm + GELU patch classifier), each exported twice:
`NAME.dynamo.onnx` (the dynamo exporter, the default since PyTorch 2.9, with `optimize=False`,
which keeps batch norm; the weights go to `NAME.dynamo.onnx.data`) and `NAME.script.onnx` (the
TorchScript exporter, `dynamo=False, do_constant_folding=False, training=EVAL`). Both with a
dynamic batch dimension. `cnn.folded.onnx` is the dynamo exporter at its defaults, which folds
batch norm into the convolutions (basin warns about it).

`regressor.*.onnx` is a regression MLP (10 → 32 → 16 → 1, tanh and ReLU) on scikit-learn's bundled
diabetes data (`diabetes.npz`: standardized features and targets, float32, 352 training and 90 test
rows), fitted by `nn.MSELoss()`; its reference is on all 352 training rows. `--only regressor`
writes these alone.

`data.npz` holds 32 images of the bundled MNIST slice (x: [32, 1, 28, 28] float32 in [0, 1],
y: int64 labels). `NAME.ref.json` holds, in float64 on the network in evaluation mode: the
logits, the mean cross-entropy, its gradient, H·v for a fixed v (PyTorch's double backward),
the top-3 Hessian eigenvalues (ARPACK on that operator), and the parameters after three SGD
steps (lr 0.1, batches of 8 in order, training mode, float32) for the training-parity test.
Parameters are keyed by their state_dict names, which are the initializer names under both
exporters.
"""
import argparse
import gzip
import json
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

OUT = "tests/fixtures/onnx"
N = 32


def mnist_slice(n):
    root = "data/mnist-slice"
    with gzip.open(f"{root}/train-images-idx3-ubyte.gz") as f:
        x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28)[:n]
    with gzip.open(f"{root}/train-labels-idx1-ubyte.gz") as f:
        y = np.frombuffer(f.read(), np.uint8, offset=8)[:n]
    return (x.astype(np.float32) / 255.0), y.astype(np.int64)


class Mlp(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 12)
        self.drop = nn.Dropout(0.1)
        self.fc2 = nn.Linear(12, 16)
        self.out = nn.Linear(16, 10)

    def forward(self, x):
        x = torch.flatten(x, 1)
        x = self.drop(F.relu(self.fc1(x)))
        x = torch.tanh(self.fc2(x))
        return self.out(x)


class Cnn(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(1, 8, 3, padding=1)
        self.b1 = nn.BatchNorm2d(8)
        self.c2 = nn.Conv2d(8, 16, 3, padding=1, bias=False)
        self.b2 = nn.BatchNorm2d(16)
        self.fc = nn.Linear(16 * 7 * 7, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.b1(self.c1(x))), 2)
        x = F.max_pool2d(F.leaky_relu(self.b2(self.c2(x)), 0.1), 2)
        return self.fc(torch.flatten(x, 1))


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.c1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.b1 = nn.BatchNorm2d(cout)
        self.c2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.b2 = nn.BatchNorm2d(cout)
        self.short = None
        if stride != 1 or cin != cout:
            self.short = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = F.relu(self.b1(self.c1(x)))
        y = self.b2(self.c2(y))
        return F.relu(y + (x if self.short is None else self.short(x)))


class ResNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(1, 8, 3, 1, 1, bias=False)
        self.bn = nn.BatchNorm2d(8)
        self.block1 = Block(8, 8, 1)
        self.block2 = Block(8, 16, 2)
        self.fc = nn.Linear(16, 10)

    def forward(self, x):
        x = F.relu(self.bn(self.stem(x)))
        x = self.block2(self.block1(x))
        x = F.adaptive_avg_pool2d(x, 1).flatten(1)
        return self.fc(x)


class Mixer(nn.Module):
    """Patches of 7×7 → tokens → LayerNorm → MLP with GELU (residual) → mean over tokens."""

    def __init__(self):
        super().__init__()
        self.patch = nn.Conv2d(1, 16, 7, stride=7)
        self.norm = nn.LayerNorm(16)
        self.up = nn.Linear(16, 32)
        self.down = nn.Linear(32, 16)
        self.head = nn.Linear(16, 10)

    def forward(self, x):
        t = self.patch(x).flatten(2).transpose(1, 2)  # [B, 16 tokens, 16]
        t = t + self.down(F.gelu(self.up(self.norm(t))))
        return self.head(t.mean(dim=1))


class Regressor(nn.Module):
    """A regression MLP for the diabetes data (10 features → 1 target), fitted by nn.MSELoss."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(10, 32)
        self.fc2 = nn.Linear(32, 16)
        self.out = nn.Linear(16, 1)

    def forward(self, x):
        return self.out(F.relu(self.fc2(torch.tanh(self.fc1(x)))))


class CumSum(nn.Module):
    """An op basin does not run (CumSum), for the exit-2 test."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(784, 10)

    def forward(self, x):
        return torch.cumsum(self.fc(torch.flatten(x, 1)), dim=1)


class TwoInputs(nn.Module):
    """A graph with two inputs, for the exit-2 test."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(784, 10)

    def forward(self, x, z):
        return self.fc(torch.flatten(x, 1)) + z


MODELS = {"mlp": Mlp, "cnn": Cnn, "resnet": ResNet, "mixer": Mixer}
NETS = {**MODELS, "regressor": Regressor}


def diabetes():
    """scikit-learn's bundled diabetes data (442 patients, 10 features, a disease-progression
    score), each column standardized, in a fixed shuffled order: 352 training rows, 90 test."""
    from sklearn.datasets import load_diabetes
    x, y = load_diabetes(return_X_y=True)
    order = np.random.default_rng(0).permutation(len(y))
    x, y = x[order], y[order]
    x = (x - x[:352].mean(0)) / x[:352].std(0)
    y = (y - y[:352].mean()) / y[:352].std()
    return x.astype(np.float32), y.astype(np.float32)


def loss_fn(name):
    """The network's loss: nn.MSELoss (mean over every entry) for the regressor, the
    cross-entropy for the classifiers."""
    if name == "regressor":
        return lambda out, y: F.mse_loss(out, y.reshape(out.shape).to(out.dtype))
    return F.cross_entropy


def build(name):
    torch.manual_seed({"mlp": 1, "cnn": 2, "resnet": 3, "mixer": 4, "regressor": 8}[name])
    m = NETS[name]()
    # batch norm with running statistics that are not the identity
    for mod in m.modules():
        if isinstance(mod, nn.BatchNorm2d):
            with torch.no_grad():
                mod.running_mean.uniform_(-0.2, 0.2)
                mod.running_var.uniform_(0.5, 1.5)
                mod.weight.uniform_(0.5, 1.5)
                mod.bias.uniform_(-0.1, 0.1)
    return m.eval()


def export(m, name, x):
    dyn = {"x": {0: "batch"}}
    path = f"{OUT}/{name}.dynamo.onnx"
    batch = torch.export.Dim("batch")
    torch.onnx.export(m, (x,), path, dynamo=True, optimize=False, input_names=["x"], output_names=["logits"],
                      dynamic_shapes={"x": {0: batch}}, external_data=True)
    torch.onnx.export(m, (x,), f"{OUT}/{name}.script.onnx", dynamo=False, do_constant_folding=False,
                      training=torch.onnx.TrainingMode.EVAL, input_names=["x"], output_names=["logits"],
                      dynamic_axes=dyn)
    if name == "regressor":
        return
    if name == "cnn":
        torch.onnx.export(m, (x,), f"{OUT}/cnn.folded.onnx", dynamo=True, input_names=["x"], output_names=["logits"],
                          dynamic_shapes={"x": {0: batch}}, external_data=False)


def references(m, x, y, loss_name="mlp"):
    md = build_like(m).double().eval()
    ce = loss_fn(loss_name)
    params = dict(md.named_parameters())
    names = list(params)
    xd, yt = torch.from_numpy(x).double(), torch.from_numpy(y)

    def loss_of(ps):
        return ce(torch.func.functional_call(md, ps, (xd,)), yt)

    logits = md(xd)
    loss = ce(logits, yt)
    grads = torch.autograd.grad(loss, [params[n] for n in names], create_graph=True)
    g = rng_vector(params)

    def hvp(vs):
        out = torch.autograd.grad(grads, [params[n] for n in names], grad_outputs=vs, retain_graph=True)
        return out

    hv = hvp([g[n] for n in names])
    flat = lambda ts: torch.cat([t.reshape(-1) for t in ts]).detach().numpy()
    sizes = [params[n].numel() for n in names]

    from scipy.sparse.linalg import LinearOperator, eigsh

    def matvec(v):
        parts, o = [], 0
        for n, s in zip(names, sizes):
            parts.append(torch.from_numpy(np.ascontiguousarray(v[o:o + s])).reshape(params[n].shape))
            o += s
        return flat(hvp(parts))

    dim = sum(sizes)
    op = LinearOperator((dim, dim), matvec=matvec, dtype=np.float64)
    top = eigsh(op, k=3, which="LA", tol=1e-10, v0=np.ones(dim) / np.sqrt(dim))[0]
    unflat = lambda ts: {n: t.detach().reshape(-1).tolist() for n, t in zip(names, ts)}
    return {
        "logits": logits.detach().numpy().tolist(),
        "loss": loss.item(),
        "params": {n: list(params[n].shape) for n in names},
        "grad": unflat(grads),
        "v": unflat([g[n] for n in names]),
        "hv": unflat(hv),
        "top3": sorted(top.tolist(), reverse=True),
    }


def rng_vector(params):
    gen = torch.Generator().manual_seed(7)
    return {n: torch.randn(p.shape, generator=gen, dtype=torch.float64) for n, p in params.items()}


def build_like(m):
    c = NETS[type(m).__name__.lower()]()
    c.load_state_dict(m.state_dict())
    return c


def sgd_steps(m, x, y, steps=3, lr=0.1, batch=8, loss_name="mlp"):
    """Three plain SGD steps in training mode (batch statistics), float32, no dropout noise
    (dropout off: p set to 0), batches in order."""
    t = build_like(m).train()
    for mod in t.modules():
        if isinstance(mod, nn.Dropout):
            mod.p = 0.0
    opt = torch.optim.SGD(t.parameters(), lr=lr)
    for s in range(steps):
        xb = torch.from_numpy(x[s * batch:(s + 1) * batch])
        yb = torch.from_numpy(y[s * batch:(s + 1) * batch])
        opt.zero_grad()
        loss_fn(loss_name)(t(xb), yb).backward()
        opt.step()
    sd = t.state_dict()
    return {k: v.reshape(-1).tolist() for k, v in sd.items() if v.dtype.is_floating_point}


def rounded(x):
    """Floats to 12 significant digits (far below the tests' tolerances; keeps the files small)."""
    if isinstance(x, float):
        return float(f"{x:.12g}")
    if isinstance(x, list):
        return [rounded(v) for v in x]
    if isinstance(x, dict):
        return {k: rounded(v) for k, v in x.items()}
    return x


def regression_fixtures():
    """`regressor.*.onnx`, `diabetes.npz` (x [442→352, 10] float32, y [352] float32 targets,
    x_test/y_test the other 90) and `regressor.ref.json` on its 352 training rows."""
    x, y = diabetes()
    np.savez(f"{OUT}/diabetes.npz", x=x[:352], y=y[:352], x_test=x[352:], y_test=y[352:])
    m = build("regressor")
    export(m, "regressor", torch.from_numpy(x[:2]))
    ref = references(m, x[:352], y[:352], "regressor")
    ref["sgd3"] = sgd_steps(m, x[:352], y[:352], loss_name="regressor")
    ref["torch"] = torch.__version__
    with open(f"{OUT}/regressor.ref.json", "w") as f:
        json.dump(rounded(ref), f)
    print("regressor params", sum(p.numel() for p in m.parameters()), "top3", ref["top3"], file=sys.stderr)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--check-safetensors", nargs=3, metavar=("FILE", "NAME", "NPZ"),
                    help="load basin's exported weights into the PyTorch model NAME (strict) and print its accuracy (the regressor: its mean squared error) on NPZ's test arrays")
    ap.add_argument("--only", choices=list(NETS), help="write this network's fixtures only")
    a = ap.parse_args()
    if a.check_safetensors:
        from safetensors.torch import load_file
        f, name, npz = a.check_safetensors
        m = NETS[name]()
        m.load_state_dict(load_file(f), strict=True)
        m.eval()
        d = np.load(npz)
        xs, ys = (d["x_test"], d["y_test"]) if "x_test" in d else (d["x"], d["y"])
        with torch.no_grad():
            out = m(torch.from_numpy(xs))
        if name == "regressor":
            print(json.dumps({"test_loss": float(loss_fn(name)(out, torch.from_numpy(ys))), "n": int(len(ys))}))
        else:
            print(json.dumps({"test_acc": float((out.argmax(1).numpy() == ys).mean()), "n": int(len(ys))}))
        return
    if a.only == "regressor":
        os.makedirs(OUT, exist_ok=True)
        regression_fixtures()
        return
    os.makedirs(OUT, exist_ok=True)
    x, y = mnist_slice(N)
    np.savez(f"{OUT}/data.npz", x=x, y=y)
    # a small train/test split for the training and round-trip tests and the guide
    xa, ya = mnist_slice(768)
    np.savez_compressed(f"{OUT}/train.npz", x=xa[:512], y=ya[:512], x_test=xa[512:], y_test=ya[512:])
    torch.manual_seed(5)
    xb = torch.from_numpy(x[:2])
    torch.onnx.export(CumSum().eval(), (xb,), f"{OUT}/bad_op.onnx", dynamo=False, input_names=["x"], output_names=["logits"])
    torch.onnx.export(TwoInputs().eval(), (xb, torch.zeros(2, 10)), f"{OUT}/two_inputs.onnx", dynamo=False, input_names=["x", "z"], output_names=["logits"])
    # a fresh CNN (batch norms at 1, 0, 0, 1): the TorchScript exporter stores the equal
    # initializers once and names the others by Identity nodes
    torch.manual_seed(6)
    torch.onnx.export(Cnn().eval(), (xb,), f"{OUT}/cnn_fresh.script.onnx", dynamo=False, do_constant_folding=False,
                      training=torch.onnx.TrainingMode.EVAL, input_names=["x"], output_names=["logits"], dynamic_axes={"x": {0: "batch"}})
    for name in MODELS:
        m = build(name)
        export(m, name, torch.from_numpy(x[:2]))
        ref = references(m, x, y)
        ref["sgd3"] = sgd_steps(m, x, y)
        ref["torch"] = torch.__version__
        with open(f"{OUT}/{name}.ref.json", "w") as f:
            json.dump(rounded(ref), f)
        print(name, "params", sum(p.numel() for p in m.parameters()), "top3", ref["top3"], file=sys.stderr)
    regression_fixtures()


if __name__ == "__main__":
    main()
