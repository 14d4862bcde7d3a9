"""The training loop: mini-batches, schedules, line searches, BFGS/L-BFGS — facts from the maths."""

from __future__ import annotations

import functools
import math

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from gradlab.descent.descend import run_descent
from gradlab.descent.minibatch import RowLoss, batches
from gradlab.descent.runs import Objective, RunSpec, descend
from gradlab.surfaces import builtin
from gradlab.descent.training import Settings, run_training

LINREG = builtin()["linear-regression"]
LOGREG = builtin()["logistic-regression"]
ELONGATED = builtin()["elongated"]

# The catalogue's data, written out here (not read from gradlab).
LX = np.array([1, 2, 3, 4, 5, 6.0])
LY = np.array([1.1, 2.9, 5.2, 6.8, 9.1, 10.9])
GX = np.array([-2, -1, -0.5, 0, 0.5, 1, 1.5, 2.5])
GY = np.array([0, 0, 1, 0, 1, 0, 1, 1.0])


@functools.lru_cache(maxsize=None)
def row_loss(name: str) -> RowLoss:
    return RowLoss(builtin()[name])


def linreg_grad(theta, rows=slice(None)):
    w, b = theta
    r = w * LX[rows] + b - LY[rows]
    return np.array([np.mean(2 * r * LX[rows]), np.mean(2 * r)])


def logreg_grad(theta, rows=slice(None)):
    w, b = theta
    p = 1 / (1 + np.exp(-(w * GX[rows] + b)))
    return np.array([np.mean((p - GY[rows]) * GX[rows]), np.mean(p - GY[rows])])


# ---------------------------------------------------------------- mini-batch SGD
@pytest.mark.parametrize("surface, lr", [(LINREG, 0.02), (LOGREG, 0.5)])
@pytest.mark.parametrize("optimizer", ["gd", "momentum", "adam"])
def test_full_batch_is_gd_exactly(surface, lr, optimizer):
    rows = len(surface.spec["data"]["x"])
    plain = run_descent(surface, [optimizer], [lr], steps=300, trajectory=True).runs[0]
    sgd = run_training(surface, [optimizer], [lr], steps=300, settings=Settings(batch_size=rows)).runs[0]
    assert (sgd.status, sgd.steps) == (plain.status, plain.steps)
    assert np.array_equal(sgd.trajectory, plain.trajectory)


@pytest.mark.parametrize("batch", [1, 2, 4])
def test_fixed_seed_gives_identical_runs(batch):
    a = run_training(LOGREG, ["gd"], [0.5], steps=200, settings=Settings(batch_size=batch, seed=7)).runs[0]
    b = run_training(LOGREG, ["gd"], [0.5], steps=200, settings=Settings(batch_size=batch, seed=7)).runs[0]
    c = run_training(LOGREG, ["gd"], [0.5], steps=200, settings=Settings(batch_size=batch, seed=8)).runs[0]
    assert np.array_equal(a.trajectory, b.trajectory) and np.array_equal(a.batch_loss, b.batch_loss)
    assert not np.array_equal(a.trajectory, c.trajectory)


@settings(max_examples=30)
@given(st.floats(-3, 3), st.floats(-3, 3), st.sampled_from([1, 2, 3, 6]), st.integers(0, 2**32))
def test_epoch_mean_of_batch_gradients_is_the_full_gradient_linreg(w, b, batch, seed):
    rows = row_loss("linear-regression")
    draw = batches(6, batch, seed)
    epoch = [next(draw) for _ in range(6 // batch)]
    assert sorted(np.concatenate(epoch).tolist()) == list(range(6))  # each row once per epoch
    mean = np.mean([rows.grad(np.array([w, b]), idx) for idx in epoch], axis=0)
    assert np.allclose(mean, linreg_grad((w, b)), rtol=1e-12, atol=1e-12)
    for idx in epoch:  # and each batch's gradient is its own mean loss's exact gradient
        assert np.allclose(rows.grad(np.array([w, b]), idx), linreg_grad((w, b), idx), rtol=1e-12, atol=1e-12)


@settings(max_examples=30)
@given(st.floats(-3, 3), st.floats(-3, 3), st.sampled_from([1, 2, 4, 8]), st.integers(0, 2**32))
def test_epoch_mean_of_batch_gradients_is_the_full_gradient_logreg(w, b, batch, seed):
    rows = row_loss("logistic-regression")
    draw = batches(8, batch, seed)
    epoch = [next(draw) for _ in range(8 // batch)]
    mean = np.mean([rows.grad(np.array([w, b]), idx) for idx in epoch], axis=0)
    assert np.allclose(mean, logreg_grad((w, b)), rtol=1e-12, atol=1e-12)


def test_each_step_uses_its_batch_gradient():
    """x_{k+1} = x_k − lr·∇(mean loss of batch k), replayed here from the same draws."""
    r = run_training(LINREG, ["gd"], [0.01], steps=30, settings=Settings(batch_size=2, seed=3)).runs[0]
    draw = batches(6, 2, 3)
    x = np.array([0.0, 0.0])
    for k in range(30):
        x = x - 0.01 * linreg_grad(x, next(draw))
        assert np.allclose(r.trajectory[k + 1], x, rtol=1e-12, atol=1e-12)


def test_loss_curves_per_step_and_per_epoch():
    r = run_training(LINREG, ["gd"], [0.01], settings=Settings(batch_size=4, seed=1, epochs=10)).runs[0]
    assert r.steps == 20 and len(r.batch_loss) == 20  # 6 rows in batches of 4 and 2: 2 steps an epoch
    assert len(r.epoch_loss) == 11
    f = lambda t: np.mean((t[0] * LX + t[1] - LY) ** 2)  # noqa: E731
    assert r.epoch_loss[0] == pytest.approx(f((0, 0)))
    assert r.epoch_loss[-1] == pytest.approx(f(r.trajectory[-1]))
    draw = batches(6, 4, 1)
    first = next(draw)
    assert r.batch_loss[0] == pytest.approx(np.mean(LY[first] ** 2))


def test_not_a_mean_is_refused():
    from gradlab.errors import BadInput
    from gradlab.surfaces import load

    cat = load("s:\n  description: d\n  data: {x: [1, 2, 3]}\n  expression: sqrt(mean((w*x - 1)**2) + 1)\n"
               "  variables: [w]\n  start: [0]\n", "s.yaml")
    with pytest.raises(BadInput, match="mean"):
        RowLoss(cat["s"])


def test_a_penalty_without_data_is_a_mean_too():
    from gradlab.surfaces import load

    cat = load("s:\n  description: d\n  data: {x: [1, 2, 3], y: [2, 4, 7]}\n"
               "  expression: mean((w*x - y)**2) + w**2/10\n  variables: [w]\n  start: [0]\n", "s.yaml")
    rows = RowLoss(cat["s"])
    x, y = np.array([1, 2, 3.0]), np.array([2, 4, 7.0])
    for idx in ([0], [1, 2], [0, 1, 2]):
        idx = np.array(idx)
        assert rows.grad(np.array([0.7]), idx)[0] == pytest.approx(np.mean(2 * (0.7 * x[idx] - y[idx]) * x[idx])
                                                                    + 0.14)


# ---------------------------------------------------------------- schedules
def test_schedule_scales_every_optimizer_step():
    """With a schedule the rate at update t is schedule(t): gd's step is −lr_t·g."""
    r = run_training(ELONGATED, ["gd"], [0.03], steps=50, settings=Settings(schedule="cosine:decay_steps=50")).runs[0]
    x = np.array([-4.0, 2.0])
    for t in range(50):
        lr_t = 0.03 * 0.5 * (1 + math.cos(math.pi * t / 50))
        assert r.lr_per_step[t] == pytest.approx(lr_t, rel=1e-12, abs=1e-18)
        x = x - lr_t * np.array([2 * x[0], 50 * x[1]])
        assert np.allclose(r.trajectory[t + 1], x, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("optimizer", ["gd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "newton"])
def test_constant_schedule_changes_nothing(optimizer):
    a = run_descent(ELONGATED, [optimizer], [0.01], steps=100, trajectory=True).runs[0]
    b = run_training(ELONGATED, [optimizer], [0.01], steps=100, settings=Settings(schedule="constant")).runs[0]
    assert np.allclose(a.trajectory, b.trajectory, rtol=1e-13, atol=1e-15)


def test_momentum_schedule_is_optax_sgd_with_a_schedule():
    """optax.sgd(schedule, momentum=β): v ← βv + g, x ← x − lr_t·v."""
    r = run_training(ELONGATED, ["momentum"], [0.02], steps=40,
                     settings=Settings(schedule="exponential:decay_rate=0.9,transition_steps=10"),
                     hyper={"momentum": 0.5}).runs[0]
    x, v = np.array([-4.0, 2.0]), np.zeros(2)
    for t in range(40):
        v = 0.5 * v + np.array([2 * x[0], 50 * x[1]])
        x = x - 0.02 * 0.9 ** (t / 10) * v
    assert np.allclose(r.trajectory[40], x, rtol=1e-12)


# ---------------------------------------------------------------- line search
def f_el(x):
    return x[0] ** 2 + 25 * x[1] ** 2


def g_el(x):
    return np.array([2 * x[0], 50 * x[1]])


@settings(max_examples=12)
@given(st.floats(0.01, 10))
@example(0.01)
@example(10.0)
def test_gd_with_armijo_converges_on_the_elongated_bowl_from_any_lr(lr):
    r = run_training(ELONGATED, ["gd"], [lr], settings=Settings(line_search="armijo")).runs[0]
    assert r.status == "converged"
    # every accepted step satisfies Armijo's condition, checked with f and ∇f written here
    for k, alpha in enumerate(r.lr_per_step):
        x, x1 = r.trajectory[k], r.trajectory[k + 1]
        g = g_el(x)
        assert np.allclose(x1, x - alpha * g, rtol=1e-12, atol=1e-15)
        assert f_el(x1) <= f_el(x) - 1e-4 * alpha * (g @ g) + 1e-15
        # backtracking from lr, each rejected trial t replaced by the minimiser of the
        # parabola through f(x), slope −‖g‖² and f(x − t·g), clipped to [0.1t, 0.5t]
        # (Nocedal & Wright §3.5); every trial before α failed Armijo's condition
        t, fx, slope = lr, f_el(x), -(g @ g)
        while not f_el(x - t * g) <= fx + 1e-4 * t * slope:
            ft = f_el(x - t * g)
            t = min(max(-slope * t * t / (2 * (ft - fx - slope * t)), 0.1 * t), 0.5 * t)
        assert alpha == pytest.approx(t, rel=1e-12)


@pytest.mark.parametrize("lr", [0.01, 0.1, 1.0, 10.0])
def test_wolfe_steps_meet_the_strong_wolfe_conditions(lr):
    r = run_training(ELONGATED, ["gd"], [lr], settings=Settings(line_search="wolfe")).runs[0]
    assert r.status == "converged"
    for k, alpha in enumerate(r.lr_per_step):
        x, x1 = r.trajectory[k], r.trajectory[k + 1]
        g, p = g_el(x), -g_el(x)
        assert f_el(x1) <= f_el(x) + 1e-4 * alpha * (g @ p) + 1e-15
        assert abs(g_el(x1) @ p) <= 0.9 * abs(g @ p) + 1e-12


def test_line_search_with_newton_takes_full_steps_on_a_quadratic():
    r = run_training(ELONGATED, ["newton"], [1.0], settings=Settings(line_search="armijo")).runs[0]
    assert r.status == "converged" and r.steps == 1 and list(r.lr_per_step) == [1.0]


# ---------------------------------------------------------------- quasi-Newton
ROSEN = builtin()["rosenbrock"]


def rosen(x):
    return (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2


def rosen_grad(x):
    return np.array([-2 * (1 - x[0]) - 400 * x[0] * (x[1] - x[0] ** 2), 200 * (x[1] - x[0] ** 2)])


def test_bfgs_reaches_rosenbrocks_minimum_within_40_iterations():
    r = run_training(ROSEN, ["bfgs"], None).runs[0]
    assert r.status == "converged" and r.steps <= 40
    assert np.allclose(r.x, [1, 1], atol=1e-6)


@pytest.mark.parametrize("name, method", [("bfgs", "BFGS"), ("lbfgs", "L-BFGS-B")])
@pytest.mark.parametrize("start", [(-1.2, 1.0), (2.0, 2.0), (-0.5, -0.5)])
def test_quasi_newton_agrees_with_scipy(name, method, start):
    from scipy.optimize import minimize

    ours = run_training(ROSEN, [name], None, starts=[start]).runs[0]
    theirs = minimize(rosen, np.array(start), jac=rosen_grad, method=method, options={"gtol": 1e-6})
    assert ours.status == "converged"
    assert np.allclose(ours.x, theirs.x, atol=1e-4)
    assert ours.steps <= 2 * theirs.nit + 5


@settings(max_examples=25)
@given(st.lists(st.floats(0.5, 20), min_size=3, max_size=3), st.lists(st.floats(-3, 3), min_size=3, max_size=3),
       st.sampled_from(["bfgs", "lbfgs"]))
def test_quasi_newton_with_exact_line_searches_ends_in_n_steps_on_a_quadratic(eigs, x0, name):
    """On f = ½xᵀAx with exact line searches, BFGS (and L-BFGS with memory ≥ n) ends in
    n steps, and BFGS's H is then A⁻¹ (Nocedal & Wright, theorem 6.4 / 7.x)."""
    from gradlab.descent import quasinewton

    rng = np.random.default_rng(0)
    Q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    A = Q @ np.diag(eigs) @ Q.T
    x = np.array(x0)
    q = quasinewton.make(name, 3)
    for _ in range(3):
        g = A @ x
        if np.linalg.norm(g) < 1e-13:
            break
        p = q.direction(g)
        alpha = -(g @ p) / (p @ A @ p)
        x1 = x + alpha * p
        q.update(x1 - x, A @ x1 - g)
        x = x1
    assert np.linalg.norm(A @ x) <= 1e-8 * max(1.0, np.linalg.norm(A @ np.array(x0)))
    if name == "bfgs" and np.linalg.norm(A @ np.array(x0)) > 1e-6:
        assert np.allclose(q.H @ A, np.eye(3), atol=1e-6) or np.linalg.norm(A @ x) < 1e-12


def test_every_run_record_says_what_it_recorded():
    res = run_training(ELONGATED, ["gd", "bfgs"], [0.5], settings=Settings(line_search="armijo", sharpness=True))
    recs = res.to_record()["runs"]
    assert all(len(r["lr_per_step"]) == r["steps"] for r in recs)
    assert all(r["sharpness"] == [50.0] * (r["steps"] + 1) for r in recs)
    assert res.to_record()["training"]["line_search_constants"] == {"c1": 1e-4, "rho": 0.5}


def test_sharpness_along_rosenbrock_is_the_hessians_top_eigenvalue():
    r = run_training(ROSEN, ["gd"], [0.001], steps=50, settings=Settings(sharpness=True)).runs[0]
    for k in (0, 25, 50):
        x, y = r.trajectory[k]
        H = np.array([[2 - 400 * (y - 3 * x * x), -400 * x], [-400 * x, 200]])
        assert r.sharpness[k] == pytest.approx(max(np.linalg.eigvalsh(H)), rel=1e-12)


def test_seed_sweep_columns_match_the_per_run_loop():
    from gradlab.descent.training import run_seed_sweep

    lrs, seeds = [0.003, 0.03, 0.2], [0, 5]
    sweep = run_seed_sweep(LINREG, "momentum", lrs, seeds, Settings(batch_size=4, epochs=40,
                                                                      schedule="cosine"), hyper={"momentum": 0.5})
    for i, lr in enumerate(lrs):
        for j, seed in enumerate(seeds):
            r = run_training(LINREG, ["momentum"], [lr], hyper={"momentum": 0.5},
                             settings=Settings(batch_size=4, epochs=40, seed=seed, schedule="cosine")).runs[0]
            assert sweep.status[i, j] == r.status
            if r.status != "diverged":
                assert sweep.final[i, j] == pytest.approx(r.f, rel=1e-9)
                assert np.allclose(sweep.epoch_loss[i, j, :len(r.epoch_loss)], r.epoch_loss, rtol=1e-9)
