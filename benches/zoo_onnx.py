#!/usr/bin/env python3
"""The zoo's ne-f1 and keskar-c1 written in PyTorch and exported to ONNX (both exporters), for
`basin bench onnx` (the interpretive overhead of an imported graph against the zoo's own
network, issue 40) and for the PyTorch anchors of `benches/onnx_anchors.sh`.

    V/bin/python benches/zoo_onnx.py OUT_DIR

Writes OUT_DIR/{ne-f1,keskar-c1}.{dynamo,script}.onnx. The architectures are the zoo's
(crates/basin-zoo/src/models/mlp.rs and keskar_c1.rs): ne-f1 784 → 7 × 500 ReLU → 10;
keskar-c1 2 × [conv 64 5×5 pad 2, BN, ReLU, max-pool 3×3 / 2 pad 1] → dense 384, BN, ReLU,
dropout → dense 192, BN, ReLU, dropout → 10, on 3×32×32. Weights are PyTorch's default
initialization (speed does not depend on them).
"""
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F


class NeF1(nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = nn.ModuleList([nn.Linear(784 if i == 0 else 500, 500) for i in range(7)])
        self.out = nn.Linear(500, 10)

    def forward(self, x):
        x = torch.flatten(x, 1)
        for h in self.hidden:
            x = F.relu(h(x))
        return self.out(x)


class KeskarC1(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(3, 64, 5, padding=2), nn.BatchNorm2d(64)
        self.conv2, self.bn2 = nn.Conv2d(64, 64, 5, padding=2), nn.BatchNorm2d(64)
        self.fc1, self.bn3 = nn.Linear(64 * 8 * 8, 384), nn.BatchNorm1d(384)
        self.fc2, self.bn4 = nn.Linear(384, 192), nn.BatchNorm1d(192)
        self.drop = nn.Dropout(0.5)
        self.out = nn.Linear(192, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 3, 2, padding=1)
        x = F.max_pool2d(F.relu(self.bn2(self.conv2(x))), 3, 2, padding=1)
        x = self.drop(F.relu(self.bn3(self.fc1(torch.flatten(x, 1)))))
        x = self.drop(F.relu(self.bn4(self.fc2(x))))
        return self.out(x)


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(0)
    for name, m, shape in [("ne-f1", NeF1(), (2, 1, 28, 28)), ("keskar-c1", KeskarC1(), (2, 3, 32, 32))]:
        m.eval()
        x = torch.randn(*shape)
        batch = torch.export.Dim("batch")
        torch.onnx.export(m, (x,), f"{out}/{name}.dynamo.onnx", dynamo=True, optimize=False, input_names=["x"], output_names=["logits"], dynamic_shapes={"x": {0: batch}})
        torch.onnx.export(m, (x,), f"{out}/{name}.script.onnx", dynamo=False, do_constant_folding=False, training=torch.onnx.TrainingMode.EVAL,
                          input_names=["x"], output_names=["logits"], dynamic_axes={"x": {0: "batch"}})
        print(name, sum(p.numel() for p in m.parameters()), "parameters", file=sys.stderr)


if __name__ == "__main__":
    main()
