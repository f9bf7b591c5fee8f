#!/usr/bin/env python3
"""PyTorch reference for `basin bench step`: the same networks, shapes and update (plain SGD,
batch 128, cross-entropy, random data) on the CPU with the same thread count, timed the same
way (3 warm-up steps, then the mean over N steps). Prints the same table as basin.

    pip install torch          # from PyPI
    python3 benches/pytorch_step.py --threads 2 --steps 30
    bash benches/compare.sh    # both, side by side, with the ratio basin ÷ PyTorch
"""
import argparse
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class NeF1(nn.Module):
    """784 → 7×500 ReLU → 10 (basin's ne-f1)."""

    def __init__(self):
        super().__init__()
        dims = [784] + [500] * 7
        self.hidden = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims[:-1], dims[1:]))
        self.out = nn.Linear(500, 10)

    def forward(self, x):
        x = x.flatten(1)
        for l in self.hidden:
            x = F.relu(l(x))
        return self.out(x)


class KeskarC1(nn.Module):
    """basin's keskar-c1 on 3×32×32: 2×[conv 64 5×5 same, BN, ReLU, maxpool 3/2 same],
    dense 384 BN ReLU dropout, dense 192 BN ReLU dropout, dense 10."""

    def __init__(self, c=3, hw=32):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(c, 64, 5, padding=2), nn.BatchNorm2d(64)
        self.conv2, self.bn2 = nn.Conv2d(64, 64, 5, padding=2), nn.BatchNorm2d(64)
        s = (hw + 1) // 2
        s = (s + 1) // 2
        self.fc1, self.bn3 = nn.Linear(64 * s * s, 384), nn.BatchNorm1d(384)
        self.fc2, self.bn4 = nn.Linear(384, 192), nn.BatchNorm1d(192)
        self.out = nn.Linear(192, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 3, 2, 1)
        x = F.max_pool2d(F.relu(self.bn2(self.conv2(x))), 3, 2, 1)
        x = x.flatten(1)
        x = F.dropout(F.relu(self.bn3(self.fc1(x))), 0.5, self.training)
        x = F.dropout(F.relu(self.bn4(self.fc2(x))), 0.5, self.training)
        return self.out(x)


def bench(model, shape, batch, steps):
    x = torch.randn(batch, *shape)
    y = torch.arange(batch) % 10
    opt = torch.optim.SGD(model.parameters(), lr=0.001)

    def step():
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        opt.step()

    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(3):
        step()
    t = time.perf_counter()
    for _ in range(steps):
        step()
    # seconds per step, and the cores kept busy over the warm-up and timed steps (process CPU
    # time of every thread ÷ wall time), as `basin bench step` reports them
    return (time.perf_counter() - t) / steps, (time.process_time() - cpu) / (time.perf_counter() - wall)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--batch", type=int, default=128)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    print(f"PyTorch {torch.__version__}, {torch.get_num_threads()} threads")
    print("| workload | batch | steps/s | ms/step | threads | CPUs busy |")
    print("|---|---|---|---|---|---|")
    for name, model, shape in [("ne-f1 1x28x28", NeF1(), (1, 28, 28)), ("keskar-c1 3x32x32", KeskarC1(), (3, 32, 32))]:
        s, busy = bench(model, shape, a.batch, a.steps)
        print(f"| {name} | {a.batch} | {1 / s:.2f} | {1000 * s:.1f} | {a.threads} | {busy:.2f} |")


if __name__ == "__main__":
    main()
