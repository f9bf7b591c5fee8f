#!/usr/bin/env python3
"""Expected values for tests/correlation.rs: a fixed table of 16 models (3 hyperparameters ×
2 values, 2 seeds) with a measure and a gap, and Kendall's τ (scipy.stats.kendalltau: the table
has no ties, so scipy's τ_b is Jiang's τ_a), the granulated ψ_i and Ψ (Jiang et al. 2019 eq. 3,
computed by grouping), and the PGDL conditional-MI score (a NumPy copy of the scoring program's
`mutual_information.py`, string keys and all). A second table with ties checks τ_a against a
plain double loop.

    V/bin/python crates/basin-core/tests/correlation/reference.py > crates/basin-core/tests/correlation/expected.json
"""
import itertools
import json

import numpy as np
from scipy.stats import kendalltau

rng = np.random.default_rng(20261206)
names = ["optimizer.lr", "train.batch_size", "optimizer.weight_decay"]
values = [["0.1", "0.01"], ["32", "256"], ["0.0", "0.0005"]]
hparams = [list(c) for c in itertools.product(*values) for _ in range(2)]
gap = rng.normal(size=len(hparams)) + np.array([0.8 * (h[1] == "256") + 0.3 * (h[0] == "0.01") for h in hparams])
measure = gap + rng.normal(scale=0.7, size=len(hparams)) + np.array([0.9 * (h[2] == "0.0005") for h in hparams])


def tau_a(m, g):
    n = len(m)
    s = sum(np.sign(m[i] - m[j]) * np.sign(g[i] - g[j]) for i in range(n) for j in range(n) if i != j)
    return s / (n * (n - 1))


def psi(hp, m, g):
    per = []
    for i in range(len(names)):
        groups = {}
        for k, h in enumerate(hp):
            groups.setdefault(tuple(v for j, v in enumerate(h) if j != i), []).append(k)
        # within a group only the pairs that differ in hyperparameter i (not two seeds of one value)
        taus = []
        for idx in groups.values():
            pairs = [(a, b) for a in idx for b in idx if a != b and hp[a][i] != hp[b][i]]
            if pairs:
                taus.append(sum(np.sign(m[a] - m[b]) * np.sign(g[a] - g[b]) for a, b in pairs) / len(pairs))
        per.append(float(np.mean(taus)))
    return float(np.mean(per)), per


# the PGDL scorer, as written (mutual_information.py)
def entropy(p):
    total = p.sum()
    q = p / total
    return -np.sum(q * np.log2(q + 1e-12))


def mi_from_table(table):
    total = table.sum()
    a0, a1 = np.sum(table, axis=1), np.sum(table, axis=0)
    mi = 0.0
    for i in range(table.shape[0]):
        for j in range(table.shape[1]):
            joint = table[i, j] / total
            if joint == 0:
                continue
            mi += joint * np.log2(joint / ((a0[i] / total) * (a1[j] / total)))
    return mi, entropy(a0), entropy(a1)


def cmi(hp, m, g):
    best = np.inf
    for h1 in range(len(names)):
        for h2 in range(len(names)):
            if h1 == h2:
                continue
            keys = sorted({hp[a][h1] + hp[b][h1] + hp[a][h2] + hp[b][h2] for a in range(len(hp)) for b in range(len(hp))})
            table = np.zeros((2, 2, len(keys)))
            for a in range(len(hp)):
                for b in range(len(hp)):
                    k = keys.index(hp[a][h1] + hp[b][h1] + hp[a][h2] + hp[b][h2])
                    table[int(g[a] > g[b]), int(m[a] > m[b]), k] += 1
            mis, ces = zip(*[mi_from_table(table[:, :, k])[:2] for k in range(len(keys))])
            best = min(best, np.mean(mis) / np.mean(ces))
    return float(best)


tied_m = np.array([1.0, 2.0, 2.0, 3.0, 1.0, 5.0])
tied_g = np.array([0.5, 0.5, 1.0, 2.0, 3.0, 3.0])
total, per = psi(hparams, measure, gap)
print(json.dumps({
    "names": names, "hparams": hparams, "measure": measure.tolist(), "gap": gap.tolist(),
    "tau": kendalltau(measure, gap).statistic, "tau_a": tau_a(measure, gap),
    "psi": total, "psi_per": per, "cmi": cmi(hparams, measure, gap),
    "tied": {"measure": tied_m.tolist(), "gap": tied_g.tolist(), "tau_a": tau_a(tied_m, tied_g)},
}, indent=1))
