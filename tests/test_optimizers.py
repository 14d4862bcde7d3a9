"""Optimizer updates against their textbook formulas, written out for two steps.

The surface is f = x² + 3y², ∇f = (2x, 6y), from (1, 1): every number below is the
textbook recurrence evaluated by hand, one scalar at a time.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, strategies as st

from gradlab.descent.optimizers import NAMES, make, surely_positive_definite


def two_steps(name: str, lr: float, **hyper) -> np.ndarray:
    opt = make(name, np.array([lr]), hessian=lambda X: np.array([[2.0, 0.0], [0.0, 6.0]])[:, :, None]
               * np.ones(X.shape[1]), **hyper)
    x = np.array([[1.0], [1.0]])
    state = opt.init(x)
    out = []
    for _ in range(2):
        g = np.array([2 * x[0], 6 * x[1]])
        step, state = opt.update(g, state, x)
        x = x + step
        out.append(x[:, 0].copy())
    return np.array(out)


def test_gd():
    # x1 = x0 − lr·g0 = (1 − 0.2, 1 − 0.6); x2 = x1 − lr·g1
    x1 = (1 - 0.1 * 2, 1 - 0.1 * 6)
    x2 = (x1[0] - 0.1 * 2 * x1[0], x1[1] - 0.1 * 6 * x1[1])
    assert two_steps("gd", 0.1) == pytest.approx(np.array([x1, x2]), rel=1e-15)


def test_momentum_is_heavy_ball():
    lr, b = 0.1, 0.9
    x1 = (1 - lr * 2, 1 - lr * 6)
    # x2 = x1 − lr·g1 + β(x1 − x0)
    x2 = (x1[0] - lr * 2 * x1[0] + b * (x1[0] - 1), x1[1] - lr * 6 * x1[1] + b * (x1[1] - 1))
    assert two_steps("momentum", lr, momentum=b) == pytest.approx(np.array([x1, x2]), rel=1e-14)


def test_nesterov():
    lr, b = 0.1, 0.9
    # v1 = g0; x1 = x0 − lr(β v1 + g0); v2 = β v1 + g1; x2 = x1 − lr(β v2 + g1)
    v1 = (2.0, 6.0)
    x1 = (1 - lr * (b * v1[0] + 2), 1 - lr * (b * v1[1] + 6))
    g1 = (2 * x1[0], 6 * x1[1])
    v2 = (b * v1[0] + g1[0], b * v1[1] + g1[1])
    x2 = (x1[0] - lr * (b * v2[0] + g1[0]), x1[1] - lr * (b * v2[1] + g1[1]))
    assert two_steps("nesterov", lr, momentum=b) == pytest.approx(np.array([x1, x2]), rel=1e-14)


def test_adagrad():
    lr, eps = 0.5, 1e-8
    # G1 = g0² → step −lr·g0/(|g0| + ε) ≈ −lr·sign(g0)
    x1 = (1 - lr * 2 / (2 + eps), 1 - lr * 6 / (6 + eps))
    g1 = (2 * x1[0], 6 * x1[1])
    x2 = tuple(x1[i] - lr * g1[i] / (math.sqrt((2, 6)[i] ** 2 + g1[i] ** 2) + eps) for i in range(2))
    assert two_steps("adagrad", lr, eps=eps) == pytest.approx(np.array([x1, x2]), rel=1e-14)


def test_rmsprop():
    lr, rho, eps = 0.01, 0.9, 1e-8
    e1 = ((1 - rho) * 4, (1 - rho) * 36)
    x1 = (1 - lr * 2 / (math.sqrt(e1[0]) + eps), 1 - lr * 6 / (math.sqrt(e1[1]) + eps))
    g1 = (2 * x1[0], 6 * x1[1])
    e2 = tuple(rho * e1[i] + (1 - rho) * g1[i] ** 2 for i in range(2))
    x2 = tuple(x1[i] - lr * g1[i] / (math.sqrt(e2[i]) + eps) for i in range(2))
    assert two_steps("rmsprop", lr, beta2=rho, eps=eps) == pytest.approx(np.array([x1, x2]), rel=1e-14)


def test_adam():
    lr, b1, b2, eps = 0.1, 0.9, 0.999, 1e-8
    # first step: m̂ = g, v̂ = g², so the step is −lr·g/(|g| + ε)
    x1 = (1 - lr * 2 / (2 + eps), 1 - lr * 6 / (6 + eps))
    g1 = (2 * x1[0], 6 * x1[1])
    x2 = []
    for i, g0 in enumerate((2.0, 6.0)):
        m = b1 * (1 - b1) * g0 + (1 - b1) * g1[i]
        v = b2 * (1 - b2) * g0**2 + (1 - b2) * g1[i] ** 2
        x2.append(x1[i] - lr * (m / (1 - b1**2)) / (math.sqrt(v / (1 - b2**2)) + eps))
    assert two_steps("adam", lr, beta1=b1, beta2=b2, eps=eps) == pytest.approx(np.array([x1, x2]), rel=1e-13)


def test_newton_one_step_on_a_quadratic():
    assert two_steps("newton", 1.0)[0] == pytest.approx([0.0, 0.0], abs=1e-15)


def test_newton_on_indefinite_hessian_steps_downhill():
    # f = x² − y²: H = diag(2, −2). Plain Newton jumps to the saddle (0, 0); the
    # saddle-free step uses |λ| and moves y away from it.
    opt = make("newton", np.array([1.0]), hessian=lambda X: np.array([[2.0, 0.0], [0.0, -2.0]])[:, :, None])
    x = np.array([[1.0], [1.0]])
    g = np.array([2 * x[0], -2 * x[1]])
    step, state = opt.update(g, opt.init(x), x)
    assert (x + step)[:, 0] == pytest.approx([0.0, 2.0])
    assert state[1][0] == 1  # one modified step counted


def test_unknown_optimizer():
    with pytest.raises(ValueError):
        make("sgdx", np.array([0.1]))


# --------------------------------------------------------------------------- the fast lanes


@given(name=st.sampled_from([n for n in NAMES if n != "newton"]),
       lrs=st.lists(st.floats(1e-6, 3.0), min_size=1, max_size=5), seed=st.integers(0, 2**16),
       steps=st.integers(1, 12), over_g=st.booleans())
def test_step_into_gives_the_bits_of_update(name, lrs, seed, steps, over_g):
    # step_into writes x + step in place; update returns step: the same floats, every step,
    # also when it writes over the gradient it reads (as the stepwise engine has it do)
    rng = np.random.default_rng(seed)
    x = rng.uniform(-3, 3, (2, len(lrs)))
    a, b = make(name, np.array(lrs)), make(name, np.array(lrs))
    sa, sb = a.init(x), b.init(x.copy())
    xa, xb = x.copy(), x.copy()
    for _ in range(steps):
        with np.errstate(all="ignore"):  # (large rates overflow: inf and NaN must agree too)
            ga, gb = np.sin(3 * xa) + xa**3, np.sin(3 * xb) + xb**3
        step, sa = a.update(ga, sa, xa)
        xa = xa + step
        out = gb if over_g else np.empty_like(xb)
        sb = b.step_into(gb, sb, xb, out)
        xb = out
        assert np.array_equal(xa, xb, equal_nan=True)


@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 12), shift=st.floats(-3, 12),
       scale=st.sampled_from([1e-200, 1e-8, 1.0, 1e8, 1e200]))
def test_surely_positive_definite_is_never_wrong(seed, n, shift, scale):
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(n, n))
    H = ((A + A.T) / 2 + shift * np.eye(n)) * scale
    w = np.linalg.eigvalsh(H)
    if surely_positive_definite(H):
        assert w.min() > 0
    # and every H whose smallest eigenvalue clears the margin is recognised, dominant
    # diagonal or not (the margin is 1e-8·n·max diag, the test's floor 10⁴ times that)
    if w.min() > 1e-4 * n * np.diagonal(H).max():
        assert surely_positive_definite(H)
    D = H + (np.abs(H).sum() + scale) * np.eye(n)
    assert surely_positive_definite(D)


def test_surely_positive_definite_on_a_stack_and_near_the_boundary():
    # [[1, 1], [1, 1 + e]] has λ_min ≈ e/2: positive, yet within the margin for tiny e
    # (eigvalsh decides those); Gershgorin would refuse all of these
    stack = np.array([[[1.0, 1.0], [1.0, 1.0 + e]] for e in (1.0, 1e-3, 1e-12, 0.0, -1e-3)])
    assert surely_positive_definite(stack).tolist() == [True, True, False, False, False]


def test_fast_newton_takes_the_plain_newtons_steps():
    # H = diag(2, 6) (dominant, no eigvalsh) and diag(2, −6) (a saddle: |λ| instead)
    for H in (np.diag([2.0, 6.0]), np.diag([2.0, -6.0])):
        hess = lambda X, H=H: H[:, :, None] * np.ones(X.shape[1])
        x = np.array([[1.0, -2.0], [1.0, 0.5]])
        g = H @ x
        fast, plain = make("newton", np.array([1.0, 0.5]), hess), make("newton", np.array([1.0, 0.5]), hess, False)
        (sf, (_, ff)), (sp, (_, fp)) = fast.update(g, fast.init(x), x), plain.update(g, plain.init(x), x)
        assert np.array_equal(sf, sp) and np.array_equal(ff, fp)
        # a full step to the stationary point (0, 0) for lr = 1 where H is positive definite
        if H[1, 1] > 0:
            assert (x + sf)[:, 0].tolist() == [0.0, 0.0]
