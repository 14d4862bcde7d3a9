"""The batched engine against plain scalar optimizers written here from the textbook.

For every optimizer, on three surfaces from three starts each, the engine's 50 iterates
(all runs advanced together in one batch) must equal a loop on Python floats that uses a
gradient and Hessian typed in by hand. Newton meets Hessians that are indefinite
(Himmelblau near its central maximum, Beale from (1, 1)) and one that is positive
definite but badly conditioned (κ up to about 10⁶).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from gradlab.calculus.parsing import parse
from gradlab.descent.runs import Objective, RunSpec, descend


# --------------------------------------------------------------------------- surfaces by hand
def himmelblau(x, y):
    g = (4 * x * (x * x + y - 11) + 2 * (x + y * y - 7), 2 * (x * x + y - 11) + 4 * y * (x + y * y - 7))
    H = ((12 * x * x + 4 * y - 42, 4 * x + 4 * y), (4 * x + 4 * y, 4 * x + 12 * y * y - 26))
    return g, H


def beale(x, y):
    a, b, c = 1.5 - x + x * y, 2.25 - x + x * y**2, 2.625 - x + x * y**3
    g = (2 * a * (y - 1) + 2 * b * (y * y - 1) + 2 * c * (y**3 - 1),
         2 * a * x + 2 * b * 2 * x * y + 2 * c * 3 * x * y * y)
    hxx = 2 * (y - 1) ** 2 + 2 * (y * y - 1) ** 2 + 2 * (y**3 - 1) ** 2
    hxy = 2 * ((y - 1) * x + a) + 2 * ((y * y - 1) * 2 * x * y + 2 * y * b) + 2 * ((y**3 - 1) * 3 * x * y * y + 3 * y * y * c)
    hyy = 2 * x * x + 2 * ((2 * x * y) ** 2 + 2 * x * b) + 2 * ((3 * x * y * y) ** 2 + 6 * x * y * c)
    return g, ((hxx, hxy), (hxy, hyy))


def ill(x, y):
    # x⁴/4 + x²/2 + y⁴/4 + 10⁻⁶y²/2: H = diag(3x² + 1, 3y² + 10⁻⁶), κ → 10⁶ as y → 0
    return (x**3 + x, y**3 + 1e-6 * y), ((3 * x * x + 1, 0.0), (0.0, 3 * y * y + 1e-6))


SURFACES = {
    "himmelblau": ("(x**2 + y - 11)**2 + (x + y**2 - 7)**2", himmelblau, [(0.0, 0.0), (-0.5, -1.0), (1.0, 1.0)],
                   {"newton": 0.5, "default": 0.005}),
    "beale": ("(1.5 - x + x*y)**2 + (2.25 - x + x*y**2)**2 + (2.625 - x + x*y**3)**2", beale,
              [(1.0, 1.0), (2.0, 0.2), (0.5, -0.5)], {"newton": 0.5, "default": 0.002}),
    "ill": ("x**4/4 + x**2/2 + y**4/4 + 1e-6*y**2/2", ill, [(2.0, 1.0), (-1.0, 0.5), (0.3, -2.0)],
            {"newton": 1.0, "default": 0.05}),
}


# --------------------------------------------------------------------------- optimizers by hand
def newton_direction(g, H):
    """H⁻¹g where H is positive definite, else with each λ → max(|λ|, 1e-8·max|λ|); and
    whether H was not positive definite. 2×2 closed forms only."""
    (a, b), (_, c) = H
    mid, rad = (a + c) / 2, math.hypot((a - c) / 2, b)
    lo, hi = mid - rad, mid + rad
    if lo > 0:
        det = a * c - b * b
        return ((c * g[0] - b * g[1]) / det, (a * g[1] - b * g[0]) / det), False
    floor = 1e-8 * max(abs(lo), abs(hi))
    if b == 0:  # diagonal: the axes are the eigenvectors
        pairs = [(a, (1.0, 0.0)), (c, (0.0, 1.0))]
    else:
        pairs = []
        for lam in (lo, hi):
            u, w = (b, lam - a), (lam - c, b)
            v = u if math.hypot(*u) >= math.hypot(*w) else w
            pairs.append((lam, (v[0] / math.hypot(*v), v[1] / math.hypot(*v))))
    d = [0.0, 0.0]
    for lam, v in pairs:
        coef = (v[0] * g[0] + v[1] * g[1]) / max(abs(lam), floor)
        d[0] += coef * v[0]
        d[1] += coef * v[1]
    return tuple(d), True


def scalar_run(name, derivs, start, lr, steps, beta=0.9, b1=0.9, b2=0.999, eps=1e-8, rho=0.9):
    """Iterates x_0 .. x_steps, and the steps that met a Hessian not positive definite."""
    x = list(start)
    out = [tuple(x)]
    s1, s2 = [0.0, 0.0], [0.0, 0.0]
    modified = []
    for t in range(1, steps + 1):
        g, H = derivs(*x)
        if name == "gd":
            step = [-lr * gi for gi in g]
        elif name == "momentum":
            s1 = [beta * v + gi for v, gi in zip(s1, g)]
            step = [-lr * v for v in s1]
        elif name == "nesterov":
            s1 = [beta * v + gi for v, gi in zip(s1, g)]
            step = [-lr * (beta * v + gi) for v, gi in zip(s1, g)]
        elif name == "adagrad":
            s1 = [G + gi * gi for G, gi in zip(s1, g)]
            step = [-lr * gi / (math.sqrt(G) + eps) for G, gi in zip(s1, g)]
        elif name == "rmsprop":
            s1 = [rho * E + (1 - rho) * gi * gi for E, gi in zip(s1, g)]
            step = [-lr * gi / (math.sqrt(E) + eps) for E, gi in zip(s1, g)]
        elif name == "adam":
            s1 = [b1 * m + (1 - b1) * gi for m, gi in zip(s1, g)]
            s2 = [b2 * v + (1 - b2) * gi * gi for v, gi in zip(s2, g)]
            step = [-lr * (m / (1 - b1**t)) / (math.sqrt(v / (1 - b2**t)) + eps) for m, v in zip(s1, s2)]
        else:
            d, mod = newton_direction(g, H)
            modified.append(mod)
            step = [-lr * di for di in d]
        x = [xi + si for xi, si in zip(x, step)]
        out.append(tuple(x))
    return np.array(out), modified


OPTIMIZERS = ("gd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "newton")
STEPS = 50


@pytest.mark.parametrize("surface", list(SURFACES))
def test_engine_iterates_equal_the_scalar_textbook_loop(surface):
    text, derivs, starts, lrs = SURFACES[surface]
    obj = Objective(parse(text), scale=1e6)
    specs = [RunSpec(o, lrs.get(o, lrs["default"]), s) for o in OPTIMIZERS for s in starts]
    # tol 0: every run makes all its steps; all 21 runs in one batch
    runs = descend(obj, specs, STEPS, 0.0, trajectory=True)
    for i, spec in enumerate(specs):
        expected, modified = scalar_run(spec.optimizer, derivs, spec.start, spec.lr, STEPS)
        r = runs[i]
        assert r.status == "max_steps" and r.steps == STEPS, (spec, r.status)
        assert r.trajectory.shape == expected.shape
        np.testing.assert_allclose(r.trajectory, expected, rtol=1e-9, atol=1e-12, err_msg=str(spec))
        if spec.optimizer == "newton":
            # the Hessian at x_50, where no step is taken, is not counted
            assert runs.modified[i] == sum(modified[:STEPS]), spec


def test_newton_meets_both_kinds_of_hessian():
    # the cases the property is about do occur
    kinds = set()
    for text, derivs, starts, lrs in SURFACES.values():
        for s in starts:
            _, modified = scalar_run("newton", derivs, s, lrs["newton"], STEPS)
            kinds.update(modified)
    assert kinds == {True, False}
    g, H = ill(0.0, 1e-3)
    assert H[0][0] / H[1][1] > 1e5  # badly conditioned, positive definite


def test_beale_newton_counts_only_the_steps_taken():
    # beale from (1, 1), lr 0.5, until ‖∇f‖ < 1e-6: the scalar loop counts the steps that
    # met an indefinite Hessian among those taken
    text, derivs, _, _ = SURFACES["beale"]
    x, taken, count = (1.0, 1.0), 0, 0
    iterates = [x]
    while True:
        g, H = derivs(*x)
        if math.hypot(*g) < 1e-6:
            break
        d, mod = newton_direction(g, H)
        count += mod
        x = (x[0] - 0.5 * d[0], x[1] - 0.5 * d[1])
        iterates.append(x)
        taken += 1
    runs = descend(Objective(parse(text)), [RunSpec("newton", 0.5, (1.0, 1.0))], 10000, 1e-6, trajectory=True)
    assert runs[0].status == "converged" and runs[0].steps == taken
    assert runs.modified[0] == count
    np.testing.assert_allclose(runs[0].trajectory[15], iterates[15], rtol=1e-9)


def test_newton_nan_hessian_diverges_that_run_only():
    # f = y² − √x: undefined at x = −1 (an all-NaN Hessian there). At x = 4 Newton goes
    # on: f'' = x^(−3/2)/4 > 0, so x ← x − f'/f'' = 3x, and y reaches 0 in one step.
    obj = Objective(parse("y**2 - sqrt(x)"), scale=1e3)
    runs = descend(obj, [RunSpec("newton", 1.0, (-1.0, 1.0)), RunSpec("newton", 1.0, (4.0, 1.0))], 3, 1e-9)
    assert runs[0].status == "diverged" and runs[0].diverged_at == 0
    assert runs[1].status == "max_steps" and runs[1].steps == 3
    assert runs[1].x == pytest.approx((108.0, 0.0), rel=1e-14, abs=0)
