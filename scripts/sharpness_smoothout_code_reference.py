"""Reference for basin's `--protocol smoothout-code` sharpness: the SmoothOut authors' driving
of scipy's L-BFGS-B (one run of fmin_l_bfgs_b from y = 0, maxiter = 10, scipy's defaults
otherwise, the value -f handed over with the gradient of +f), applied to closed-form test
functions in float64.

    python3 -m venv V && V/bin/pip install scipy numpy
    V/bin/python scripts/sharpness_smoothout_code_reference.py > crates/basin-core/tests/data/sharpness_smoothout_code.json

The test `crates/basin-core/tests/sharpness_smoothout_code.rs` runs basin's protocol on the same
functions and compares the sharpness. Each case is f(x) = sum_i h_i/2 (x_i - c_i)^2 +
q/4 (x_i - c_i)^4 at w = 0 with the box |y_i| <= eps (|w_i| + 1) = eps.
"""
import json

import numpy as np
import scipy
import scipy.optimize
from scipy.optimize import fmin_l_bfgs_b


def case(name, h, c, q, eps):
    h, c = np.asarray(h, float), np.asarray(c, float)

    def f(x):
        d = x - c
        return float(np.sum(0.5 * h * d * d + 0.25 * q * d ** 4))

    def grad(x):
        d = x - c
        return h * d + q * d ** 3

    w = np.zeros_like(h)
    f0 = f(w)
    bounds = [(-eps * (abs(wi) + 1), eps * (abs(wi) + 1)) for wi in w]
    evals = [0]

    def script_objective(y):
        evals[0] += 1
        # the script's signs: value of -f, gradient of +f
        return -f(w + y), grad(w + y)

    x, fmin, info = fmin_l_bfgs_b(script_objective, np.zeros_like(w), bounds=bounds, maxiter=10)
    f_end = -fmin
    return {
        "name": name,
        "h": h.tolist(),
        "c": c.tolist(),
        "q": q,
        "eps": eps,
        "f0": f0,
        "f_end": f_end,
        "sharpness": 100.0 * (f_end - f0) / (1.0 + f0),
        "iterations": int(info["nit"]),
        "evaluations": evals[0],
        "task": str(info["task"]),
    }


rng = np.random.default_rng(7)
eps = 5e-4
n = 20
cases = [
    # flat: every curvature below 2, a step along -grad f never overshoots the valley
    case("flat", rng.uniform(0.2, 1.5, n), rng.uniform(-eps / 2, eps / 2, n), 0.0, eps),
    # sharp: curvatures of 10-40, the first step overshoots and is accepted
    case("sharp", rng.uniform(10.0, 40.0, n), rng.uniform(-eps / 2, eps / 2, n), 0.0, eps),
    # mixed, with a quartic term
    case("mixed", np.concatenate([rng.uniform(0.2, 1.5, n // 2), rng.uniform(10.0, 40.0, n // 2)]), rng.uniform(-eps / 2, eps / 2, n), 1e4, eps),
]
# The solver's iteration limit, on a problem that reaches it: fmin_l_bfgs_b on a bounded
# 5-dimensional Rosenbrock function with consistent signs, maxiter = 10 as in the script.
x0 = np.array([-1.2, 1.0, -0.5, 0.8, 1.5])
_, rosen_f, rosen_info = fmin_l_bfgs_b(scipy.optimize.rosen, x0, fprime=scipy.optimize.rosen_der, bounds=[(-2, 2)] * 5, maxiter=10)
iteration_limit = {"x0": x0.tolist(), "bound": 2.0, "maxiter": 10, "f_end": float(rosen_f), "iterations": int(rosen_info["nit"]), "task": str(rosen_info["task"])}
print(json.dumps({"scipy": scipy.__version__, "numpy": np.__version__, "cases": cases, "iteration_limit": iteration_limit}, indent=1))
