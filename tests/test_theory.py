"""Learning-rate theory against the recurrences it summarises."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy
from hypothesis import given, settings, strategies as st

from gradlab.descent.theory import curvature_at, optimizer_theory, spectral_radius


def heavy_ball_radius(lr: float, beta: float, lams) -> float:
    """Largest |root| of z² − (1 + β − lr·λ)z + β over the eigenvalues (numpy.roots)."""
    return max(max(abs(np.roots([1.0, -(1 + beta - lr * lam), beta]))) for lam in lams)


@settings(max_examples=60, deadline=None)
@given(lo=st.floats(0.01, 10), kappa=st.floats(1.0, 1e4), beta=st.floats(0.0, 0.99))
def test_momentum_best_lr_is_the_minimax_rate_for_the_beta_in_use(lo, kappa, beta):
    lams = [lo, lo * kappa]
    t = optimizer_theory("momentum", lams, {"momentum": beta})
    assert t.best_lr < t.bound  # the best rate is stable
    rho = heavy_ball_radius(t.best_lr, beta, lams)
    assert t.factor == pytest.approx(rho, rel=1e-6, abs=1e-9)
    # no rate on a fine grid up to the bound does better
    grid = np.linspace(t.bound / 400, t.bound * 0.999, 400)
    assert min(heavy_ball_radius(lr, beta, lams) for lr in grid) >= rho - 1e-6


def test_rosenbrock_momentum_advice_is_consistent():
    # the case: with β = 0.9 the best lr must lie below the bound for β = 0.9
    x, y = sympy.symbols("x y", real=True)
    c = curvature_at((1 - x) ** 2 + 100 * (y - x**2) ** 2, [x, y], [1, 1], "minimum")
    t = optimizer_theory("momentum", c.eigenvalues, {"momentum": 0.9}, c.exact)
    assert t.best_lr < t.bound == pytest.approx(3.8 / c.eigenvalues[1])
    sq = math.sqrt(c.eigenvalues[1] / c.eigenvalues[0])
    assert t.optimal["lr"] == pytest.approx(4 / (math.sqrt(c.eigenvalues[1]) + math.sqrt(c.eigenvalues[0])) ** 2)
    assert t.optimal["momentum"] == pytest.approx(((sq - 1) / (sq + 1)) ** 2)
    assert heavy_ball_radius(t.optimal["lr"], t.optimal["momentum"], c.eigenvalues) == pytest.approx(
        t.optimal["factor"], rel=1e-6)


def test_momentum_with_beta_zero_is_gradient_descent():
    m = optimizer_theory("momentum", [2.0, 50.0], {"momentum": 0.0})
    g = optimizer_theory("gd", [2.0, 50.0])
    assert (m.bound, m.best_lr, m.factor) == pytest.approx((g.bound, g.best_lr, g.factor))


def test_spectral_radius_agrees_with_numpy_roots():
    for lr in (1e-3, 0.01, 0.05):
        assert spectral_radius("momentum", lr, [2.0, 50.0], {"momentum": 0.9}) == pytest.approx(
            heavy_ball_radius(lr, 0.9, [2.0, 50.0]))


def test_cubic_eigenvalues_written_with_i_are_real():
    # rosenbrock in 3-D at (1, 1, 1): a 3×3 Hessian whose exact eigenvalues SymPy gives
    # through complex radicals; they are real, sorted, and agree with numpy
    xs = sympy.symbols("x1 x2 x3", real=True)
    f = sum(100 * (xs[i + 1] - xs[i] ** 2) ** 2 + (1 - xs[i]) ** 2 for i in range(2))
    c = curvature_at(f, xs, [1, 1, 1], "minimum")
    H = np.array(c.hessian)
    assert c.eigenvalues == pytest.approx(sorted(np.linalg.eigvalsh(H)))
    t = optimizer_theory("gd", c.eigenvalues, exact=c.exact)
    assert t.bound == pytest.approx(2 / max(np.linalg.eigvalsh(H)))


@given(st.floats(0.01, 0.999), st.floats(1e-3, 1e6), st.floats(1e-12, 1e-2))
def test_predicted_steps_is_the_first_k_with_rho_to_the_k_below_tol(rho, g0, tol):
    # ‖∇f_k‖ = g0·ρ^k: the count is the smallest k with g0·ρ^k < tol
    from gradlab.descent.theory import predicted_steps

    k = predicted_steps(rho, g0, tol)
    if g0 <= tol:
        assert k == 0
        return
    assert k >= 1
    assert g0 * rho ** k <= tol * (1 + 1e-9)
    assert g0 * rho ** (k - 1) >= tol * (1 - 1e-9)


def test_predicted_steps_none_at_or_past_the_bound():
    from gradlab.descent.theory import RATE_TOL, predicted_steps

    # gd at lr = 2/λmax: ρ = |1 − 2| = 1 exactly; heavy ball at its bound: ρ = 1 up to √ε
    assert predicted_steps(spectral_radius("gd", 0.04, [2.0, 50.0]), 10.0, 1e-6) is None
    rho = spectral_radius("momentum", 2 * 1.9 / 50, [2.0, 50.0], {"momentum": 0.9})
    assert abs(rho - 1) < RATE_TOL and predicted_steps(rho, 10.0, 1e-6) is None
    assert predicted_steps(1.5, 10.0, 1e-6) is None and predicted_steps(None, 10.0, 1e-6) is None
    # just inside the tolerance a count is still given
    assert predicted_steps(1 - 4 * RATE_TOL, 10.0, 1e-6) == math.ceil(math.log(1e7) / -math.log(1 - 4 * RATE_TOL))
