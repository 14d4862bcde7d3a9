"""Speed must not move an iterate: the fast paths against the plain array engine."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import sympy
from hypothesis import given, settings, strategies as st

from gradlab.calculus import numeric
from gradlab.calculus.parsing import parse
from gradlab.descent import runs as runs_module
from gradlab.descent.optimizers import NAMES
from gradlab.descent.runs import Objective, RunSpec, descend
from gradlab.descent.scalar import SCALAR_OPTIMIZERS

CASES = [
    # (expression, start, lr, steps, tol): converging, still moving, diverging, undefined f
    ("x**2 + 25*y**2", (-4.0, 2.0), 0.01, 3000, 1e-6),
    ("x**2 + 25*y**2", (-4.0, 2.0), 0.05, 500, 1e-6),
    ("(1 - x)**2 + 100*(y - x**2)**2", (-1.2, 1.0), 0.001, 2000, 1e-6),
    ("(1 - x)**2 + 100*(y - x**2)**2", (-1.2, 1.0), 0.01, 300, 1e-6),
    ("log(1 + exp(x)) + sin(y)**2 + y**2/10", (2.0, -1.5), 0.3, 400, 1e-9),
    ("(x - 1)**2 + log(x) + y**2", (0.5, 0.5), 2.0, 50, 1e-9),
    ("x**2 + y**2", (3.0, 4.0), 0.1, 100, 0.0),
    ("x**4", (1.0,), 0.1, 5000, 1e-200),
]


@pytest.mark.parametrize("optimizer", SCALAR_OPTIMIZERS)
@pytest.mark.parametrize("case", CASES, ids=[f"{c[0][:20]} lr={c[2]}" for c in CASES])
def test_single_run_float_path_equals_the_array_engine(optimizer, case):
    text, start, lr, steps, tol = case
    obj = Objective(parse(text), scale=10.0)
    spec = [RunSpec(optimizer, lr, start)]
    fast = descend(obj, spec, steps, tol)
    plain = descend(obj, spec, steps, tol, fast=False)
    a, b = fast[0], plain[0]
    assert (a.status, a.steps, a.diverged_at) == (b.status, b.steps, b.diverged_at)
    assert a.x == b.x  # the same bits, not just close
    assert a.grad_norm == b.grad_norm or (a.grad_norm != a.grad_norm and b.grad_norm != b.grad_norm)


NEWTON_CASES = CASES + [
    # saddles and a maximum (Himmelblau): Hessians that are not positive definite
    ("(x**2 + y - 11)**2 + (x + y**2 - 7)**2", (-0.3, 0.2), 1.0, 60, 1e-10),
    ("(x**2 + y - 11)**2 + (x + y**2 - 7)**2", (0.1, -0.9), 0.3, 60, 1e-10),
    # positive definite but far from diagonally dominant: H = [[2, 1.9], [1.9, 2]]·…
    ("x**2 + 1.9*x*y + y**2 + x**4/100", (3.0, -2.0), 1.0, 50, 1e-12),
    # nearly singular along a valley, and singular at the start (H = 0 at the origin)
    ("(x - y)**2 + 1e-9*(x + y)**2", (1.0, 2.0), 1.0, 20, 1e-14),
    ("x**4 + y**4", (0.0, 0.0), 1.0, 10, 0.0),
    # a Hessian that is not finite where the gradient is: the step is NaN, divergence
    ("x**2 + abs(y)**1.5", (1.0, 0.0), 1.0, 10, 1e-9),
    ("sqrt(x**2 + 1) + y**2", (2.0, 1.0), 0.5, 100, 1e-12),
]


@pytest.mark.parametrize("case", NEWTON_CASES, ids=[f"{c[0][:24]} lr={c[2]}" for c in NEWTON_CASES])
def test_single_newton_run_equals_the_array_engine(case):
    # descent/scalar_newton.py's loop (Cholesky certificate) against the plain engine
    # (eigvalsh at every step): the same decisions, steps and bits
    text, start, lr, steps, tol = case
    obj = Objective(parse(text), scale=10.0)
    spec = [RunSpec("newton", lr, start)]
    fast = descend(obj, spec, steps, tol)
    plain = descend(obj, spec, steps, tol, fast=False)
    assert_same_runs(fast, plain)
    assert np.array_equal(fast.x, plain.x, equal_nan=True)  # the same bits, not just close


def test_a_few_long_runs_each_on_floats_equal_the_array_engine():
    # up to FLOAT_RUNS_MAX runs with enough steps are each made alone on Python floats;
    # mixed optimizers, one run diverging, one converging, one still moving, Newton too
    assert runs_module.FLOAT_RUNS_MAX >= 6 and 6 * 4000 >= runs_module.FLOAT_WORK_MIN
    obj = Objective(parse("(1 - x)**2 + 100*(y - x**2)**2"), scale=10.0)
    specs = [RunSpec("gd", 0.001, (-1.2, 1.0)), RunSpec("gd", 0.01, (-1.2, 1.0)),
             RunSpec("momentum", 0.0005, (0.5, -0.5)), RunSpec("adam", 0.01, (-1.2, 1.0)),
             RunSpec("newton", 0.5, (-1.2, 1.0)), RunSpec("nesterov", 0.0001, (2.0, 2.0))]
    fast, _ = both(obj, specs, 4000, 1e-8)
    assert {"converged", "diverged", "max_steps"} <= set(fast.status)


def test_single_newton_counts_its_saddle_steps():
    # At (−0.3, 0.2), between Himmelblau's maximum and its saddles, H (written out by
    # hand below) has a negative eigenvalue: the first step at least is modified
    obj = Objective(parse("(x**2 + y - 11)**2 + (x + y**2 - 7)**2"), scale=10.0)
    x, y = -0.3, 0.2
    H = np.array([[12 * x * x + 4 * y - 42, 4 * x + 4 * y], [4 * x + 4 * y, 12 * y * y + 4 * x - 26]])
    assert np.linalg.eigvalsh(H).min() < 0
    fast = descend(obj, [RunSpec("newton", 1.0, (x, y))], 60, 1e-10)
    assert fast.modified[0] >= 1


# --------------------------------------------------------------------------- the batch engine
# descend(fast=True) writes gradients into rows, updates in place and tests for stops
# cheaply (every step for large batches: "stepwise", else once per chunk); descend(fast=
# False) is the plain engine: the generic gradient and update, every stop test over every
# chunk. Both must give the same runs: statuses, step counts, diverged_at, and iterates
# equal to the bit (at most 1 ulp is allowed below; none is expected).



def ulps_apart(a, b) -> np.ndarray:
    """How many floats lie between a and b (0: the same float; NaN with NaN counts as 0)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    same = (a == b) | (np.isnan(a) & np.isnan(b))
    ia, ib = a.view(np.int64), b.view(np.int64)
    # map the sign-magnitude bit patterns onto a monotone integer line
    ia = np.where(ia < 0, np.int64(-2**63) - ia, ia)
    ib = np.where(ib < 0, np.int64(-2**63) - ib, ib)
    with np.errstate(over="ignore"):
        gap = np.abs(ia - ib)
    return np.where(same, 0, np.where(np.isfinite(a) & np.isfinite(b), gap, 2**62))


def assert_same_runs(fast, plain) -> None:
    assert list(fast.status) == list(plain.status)
    assert fast.steps.tolist() == plain.steps.tolist()
    assert fast.diverged_at.tolist() == plain.diverged_at.tolist()
    assert fast.modified.tolist() == plain.modified.tolist()
    assert ulps_apart(fast.x, plain.x).max(initial=0) <= 1
    assert ulps_apart(fast.grad_norm, plain.grad_norm).max(initial=0) <= 1
    assert ulps_apart(fast.f, plain.f).max(initial=0) <= 1
    assert ulps_apart(fast.watched, plain.watched).max(initial=0) <= 1
    assert ulps_apart(fast.watched_grad_norm, plain.watched_grad_norm).max(initial=0) <= 1


def both(obj, specs, steps, tol, **kw):
    fast = descend(obj, specs, steps, tol, **kw)
    plain = descend(obj, specs, steps, tol, fast=False, **kw)
    assert_same_runs(fast, plain)
    return fast, plain


@pytest.fixture(params=["stepwise", "chunked"])
def mode(request, monkeypatch):
    """Both ways of the fast engine, on small batches: stepwise from the first run on,
    or never."""
    monkeypatch.setattr(runs_module, "STEPWISE_MIN", 1 if request.param == "stepwise" else 10**9)
    return request.param


def grid_specs(optimizers, lrs, starts):
    return [RunSpec(o, lr, s) for o in optimizers for lr in lrs for s in starts]


ELONGATED = Objective(parse("x**2 + 25*y**2"), scale=10.0)
STARTS = [(-4.0, 2.0), (3.0, -1.0), (0.5, 0.0), (-7.0, -7.0)]  # mixed signs; y = 0 at once


@pytest.mark.parametrize("optimizer", NAMES)
def test_every_optimizer_stops_where_the_plain_engine_does(optimizer, mode):
    # lr from slow to past the edge of stability (2/50 for gd): runs converge, run out of
    # steps and diverge at steps that fall anywhere in a chunk
    lrs = [0.001, 0.01, 0.03, 0.039, 0.041, 0.06, 0.3, 1.0, 1.7]
    specs = grid_specs([optimizer], lrs, STARTS)
    for steps in (1, 2, 7, 9, 33, 300):
        fast, _ = both(ELONGATED, specs, steps, 1e-6, watch=steps // 2)
    statuses = set(fast.status)
    assert "max_steps" in statuses  # the batch has every kind of ending
    if optimizer in ("gd", "momentum", "nesterov"):
        assert {"converged", "diverged"} <= statuses


def test_divergence_mid_chunk_is_found_at_its_step(mode):
    # gd on x² with lr = 1.5: x_k = (−2)^k·x_0 leaves |x| ≤ 1e4 (scale 10) between
    # 2^13 and 2^14: at step 14 from x_0 = 1, at step 13 from 1.5
    obj = Objective(parse("x**2 + y**2"), scale=10.0)
    fast, _ = both(obj, [RunSpec("gd", 1.5, (1.0, 0.0)), RunSpec("gd", 1.5, (1.5, 1.0)),
                         RunSpec("gd", 0.1, (1.0, 1.0))], 100, 1e-9)
    assert fast.diverged_at.tolist()[:2] == [14, 13]
    assert fast.status[2] == "converged"


def test_an_iterate_that_leaves_the_box_and_comes_back_diverged_where_it_left(mode):
    # heavy ball with β = 1.01 > 1 on x²/2 at lr = 1/2: x_{k+1} = x_k − x_k/2 + β(x_k − x_{k−1})
    # has roots of modulus √1.01 at ±41°, a growing spiral: the first iterate past
    # |x| = 1000 (the box: ESCAPE × scale 1) is often followed by one back inside, so only
    # the step that left can say the run diverged
    obj = Objective(parse("x**2/2 + y**2/2"))
    specs = [RunSpec("momentum", 0.5, (1.0 + i / 64, 0.0)) for i in range(64)]
    fast, _ = both(obj, specs, 3000, 1e-9, hyper={"momentum": 1.01})
    came_back = 0
    for spec, k in zip(specs, fast.diverged_at.tolist()):
        x = [spec.start[0], spec.start[0] / 2]
        while abs(x[-1]) <= 1000:
            x.append(x[-1] - x[-1] / 2 + 1.01 * (x[-1] - x[-2]))
        assert k == len(x) - 1
        came_back += abs(x[-1] - x[-1] / 2 + 1.01 * (x[-1] - x[-2])) <= 1000
    assert came_back >= 8  # (the case that matters is common here)


def test_newton_runs_leaving_a_saddle_count_their_modified_steps(mode):
    # x² − y²: saddle-free Newton doubles y at every step (H = diag(2, −2) is never positive
    # definite, so every step is modified); from y₀ the run leaves |y| ≤ 1000 at the first
    # k with 2^k·|y₀| > 1000, having made k modified steps. Runs leave at many steps, so
    # the batch is compacted between them.
    obj = Objective(parse("x**2 - y**2"))
    y0s = np.geomspace(1e-3, 10.0, 64).tolist()
    fast, _ = both(obj, [RunSpec("newton", 1.0, (0.5, y)) for y in y0s], 40, 1e-9)
    expected = [next(k for k in range(64) if 2.0**k * y > 1000) for y in y0s]
    assert fast.diverged_at.tolist() == expected
    assert fast.modified.tolist() == expected


def test_runs_near_the_tolerance_stop_at_the_same_step(mode):
    # gd on x² + y²: ‖g_k‖ = ‖g_0‖·(1 − 2·lr)^k. Tolerances within an ulp or two of ‖g_12‖
    # as computed decide between step 12 and 13, in both engines alike.
    obj = Objective(parse("x**2 + y**2"), scale=10.0)
    # (from (0, 5) the whole gradient is in y: |g_y| = ‖g‖, the cheap test's closest call)
    starts = [(3.0, 4.0), (-3.0, 4.0), (0.0, 5.0)]
    for start in starts:
        # (a second, slow run makes it a batch: one run alone takes the float path)
        spec = [RunSpec("gd", 0.05, start), RunSpec("gd", 1e-6, start)]
        plain = descend(obj, spec, 12, 0.0, fast=False, trajectory=True)
        point = plain[0].trajectory[12]
        g12 = math.hypot(2 * point[0], 2 * point[1])
        assert g12 == pytest.approx(10 * 0.9**12, rel=1e-12)
        below, above = g12 * (1 - 1e-12), g12 * (1 + 1e-12)
        for tol in (below, math.nextafter(g12, 0), g12, math.nextafter(g12, math.inf), above):
            fast, _ = both(obj, spec, 40, tol)
            assert fast.steps[0] in (12, 13)
            if tol in (below, above):
                assert fast.steps[0] == (12 if tol == above else 13)


def test_nan_gradients_end_only_their_own_runs(mode):
    # sqrt(x + y + z) is undefined at (−1, −1, −1): those runs diverge at step 0, the
    # others go on (Newton's Hessian there is NaN too)
    obj = Objective(parse("sqrt(x + y + z)"), scale=10.0)
    specs = grid_specs(NAMES, [0.1], [(-1.0, -1.0, -1.0), (1.0, 1.0, 1.0), (2.0, 3.0, 4.0)])
    fast, _ = both(obj, specs, 60, 1e-9)
    for i, spec in enumerate(specs):
        if spec.start == (-1.0, -1.0, -1.0):
            assert (fast.status[i], fast.diverged_at[i]) == ("diverged", 0)
        else:
            assert fast.steps[i] > 0
    newton = [i for i, s in enumerate(specs) if s.optimizer == "newton" and s.start != (-1.0, -1.0, -1.0)]
    assert all(fast.status[i] != "diverged" or fast.diverged_at[i] > 0 for i in newton)


def test_f_undefined_where_the_gradient_is_finite(mode):
    # log(x) is NaN for x < 0 while its derivative 1/x is finite: f is tested at every
    # step here (not provably finite on the box), so such a step is divergence
    obj = Objective(parse("(x - 1)**2 + log(x) + y**2"), scale=10.0)
    assert not obj.f_bounded
    specs = grid_specs(["gd", "momentum", "adam"], [0.1, 0.6, 2.0], [(0.5, 0.5), (2.0, -1.0)])
    fast, _ = both(obj, specs, 80, 1e-9)
    assert "diverged" in set(fast.status)


def test_newton_on_saddles_counts_the_same_modified_steps(mode):
    # Himmelblau's function has saddles and a maximum: Hessians that are not positive
    # definite take the eigenvalue path in both engines, and the counts agree
    obj = Objective(parse("(x**2 + y - 11)**2 + (x + y**2 - 7)**2"), scale=10.0)
    starts = [(a, b) for a in (-0.3, 0.1, 3.5) for b in (-0.9, 0.2, 2.5)]
    fast, _ = both(obj, grid_specs(["newton"], [1.0, 0.3], starts), 40, 1e-10)
    assert fast.modified.max() > 0


def test_trajectories_equal_step_by_step():
    obj = Objective(parse("(1 - x)**2 + 100*(y - x**2)**2"), scale=10.0)
    specs = grid_specs(NAMES, [0.0005, 0.002], [(-1.2, 1.0), (0.5, -0.5)])
    fast, plain = both(obj, specs, 150, 1e-6, trajectory=True)
    for a, b in zip(fast, plain):
        assert ulps_apart(a.trajectory, b.trajectory).max() <= 1
        assert len(a.trajectory) == a.steps + 1


def test_a_batch_large_enough_to_go_stepwise_on_its_own():
    # 2,400 runs of 2 coordinates: past STEPWISE_MIN without help
    assert 2 * 2400 >= runs_module.STEPWISE_MIN
    lrs = np.geomspace(1e-4, 0.05, 600).tolist()
    specs = grid_specs(["gd", "adam"], lrs, [(-4.0, 2.0), (1.0, -3.0)])
    fast, _ = both(ELONGATED, specs, 400, 1e-3)
    assert {"converged", "diverged", "max_steps"} <= set(fast.status)


@settings(max_examples=25)
@given(optimizer=st.sampled_from(NAMES),
       lrs=st.lists(st.floats(1e-4, 2.0), min_size=1, max_size=6),
       starts=st.lists(st.tuples(st.floats(-3, 3), st.floats(-3, 3)), min_size=1, max_size=4),
       steps=st.integers(0, 70), tol=st.sampled_from([0.0, 1e-12, 1e-6, 1e-2, 1.0]),
       stepwise=st.booleans())
def test_random_batches_agree(optimizer, lrs, starts, steps, tol, stepwise):
    obj = Objective(parse("(1 - x)**2 + 100*(y - x**2)**2 + sin(3*x)"), scale=10.0)
    old = runs_module.STEPWISE_MIN
    runs_module.STEPWISE_MIN = 1 if stepwise else 10**9
    try:
        both(obj, grid_specs([optimizer], lrs, starts), steps, tol, watch=steps // 3)
    finally:
        runs_module.STEPWISE_MIN = old


# --------------------------------------------------------------------------- the pieces

# Expressions built from + − × ÷, powers, numbers and three variables (what the grouped
# fast code handles), and functions (what it leaves to one call per component).
_leaf = st.sampled_from(["x", "y", "z", "2", "3", "0.5", "7"])
# Components made of a few shared subexpressions (P0, P1, P2): CSE names that later
# statements read, whose work arrays must outlive them
_shared_leaf = st.sampled_from(["x", "y", "z", "2", "P0", "P1", "P2"])


def _expr(depth: int = 3, leaf=_leaf):
    if depth == 0:
        return leaf
    sub = _expr(depth - 1, leaf)
    return st.one_of(
        leaf,
        st.tuples(sub, st.sampled_from(["+", "-", "*", "/"]), sub).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        # (2 and ½ are numpy's fast paths for **; the others its power)
        st.tuples(sub, st.sampled_from(["2", "3", "(1/2)", "(-1)", "(-2)", "(3/2)"])).map(
            lambda t: f"({t[0]})**{t[1]}"),
        st.tuples(st.sampled_from(["sin", "exp", "sigmoid", "sqrt", "tanh", "abs", "log"]), sub).map(
            lambda t: f"{t[0]}({t[1]})"),
    )


@given(texts=st.one_of(st.lists(_expr(), min_size=1, max_size=5),
                       st.tuples(st.lists(_expr(2, _shared_leaf), min_size=2, max_size=6),
                                 st.lists(_expr(2), min_size=3, max_size=3)).map(
                           lambda t: [_with_shared(e, t[1]) for e in t[0]])))
def test_lambdify_into_writes_the_bits_lambdify_returns(texts):
    # (every intermediate goes into a reused work array: the bits must not change)
    from gradlab.calculus.parsing import symbol

    from hypothesis import assume

    from gradlab.errors import GradlabError

    variables = [symbol("x"), symbol("y"), symbol("z")]
    try:
        exprs = [parse(t).expr for t in texts]
    except GradlabError:  # x/(x − x): refused by the parser, not our business here
        assume(False)
    assume(not any(e.has(sympy.I) for e in exprs))  # (√(−x²) = i|x|: no float64 row holds it)
    X = np.random.default_rng(len(texts)).uniform(-3, 3, (3, 17))
    expected = np.empty((len(exprs), 17))
    with np.errstate(all="ignore"):
        for i, v in enumerate(numeric.lambdify(variables, exprs)(*X)):
            expected[i] = v
        out = np.full((len(exprs), 17), 12345.0)
        numeric.lambdify_into(variables, exprs)(out, X, *X)
    assert ulps_apart(out, expected).max() == 0


def _with_shared(text: str, shared: list[str]) -> str:
    for i, sub in enumerate(shared):
        text = text.replace(f"P{i}", f"({sub})")
    return text


def test_lambdify_into_keeps_shared_subexpressions_until_their_last_use():
    # four components over three shared subexpressions, each read by statements far apart
    from gradlab.calculus.parsing import symbol

    texts = ["sin(x*y+z)**3 + exp(x*y+z)*y", "exp(x*y+z) - sin(x*y+z)*z + (x-y)**2",
             "(x-y)**2*sin(x*y+z) + tanh(y-z)", "tanh(y-z)*x**3"]
    X = np.random.default_rng(0).uniform(-2, 2, (3, 9))
    x, y, z = X
    expected = [np.sin(x * y + z)**3 + np.exp(x * y + z) * y, np.exp(x * y + z) - np.sin(x * y + z) * z + (x - y)**2,
                (x - y)**2 * np.sin(x * y + z) + np.tanh(y - z), np.tanh(y - z) * x**3]
    out = np.empty((4, 9))
    numeric.lambdify_into([symbol(v) for v in "xyz"], [parse(t).expr for t in texts])(out, X, *X)
    assert np.allclose(out, expected, rtol=1e-13, atol=0)


def test_lambdify_into_can_run_in_several_threads_at_once():
    # the work arrays are per thread: four threads on one compiled gradient, each on its
    # own points, get their own answers (numpy lets go of the GIL inside each operation)
    from concurrent.futures import ThreadPoolExecutor

    p = parse("(1 - x)**2 + 100*(y - x**2)**2 + sin(x*y)")
    fn = numeric.lambdify_into(p.variables, numeric.gradient(p.expr, p.variables))

    def work(seed: int) -> bool:
        X = np.random.default_rng(seed).uniform(-2, 2, (2, 20_000))
        x, y = X
        out = np.empty_like(X)
        for _ in range(40):
            fn(out, X, *X)
            expected = [-2 * (1 - x) - 400 * x * (y - x * x) + y * np.cos(x * y), 200 * (y - x * x) + x * np.cos(x * y)]
            if not np.allclose(out, expected, rtol=1e-12, atol=1e-9):
                return False
        return True

    with ThreadPoolExecutor(4) as pool:
        assert all(pool.map(work, range(4)))


def test_lambdify_into_makes_one_call_for_a_quadratics_gradient():
    p = parse(" + ".join(f"{i}*x{i}**2/2" for i in range(1, 41)))
    fn = numeric.lambdify_into(p.variables, numeric.gradient(p.expr, p.variables))
    assert fn.source.count("out=") + fn.source.count("[...]") == 2  # 2·x2 … 40·x40 at once, and x1
    X = np.random.default_rng(0).normal(size=(40, 5))
    out = np.empty_like(X)
    fn(out, X, *X)
    assert np.array_equal(out, np.arange(1.0, 41.0)[:, None] * X)  # ∂/∂x_i (i·x_i²/2) = i·x_i


@given(coeffs=st.lists(st.floats(-1e3, 1e3), min_size=1, max_size=4), degree=st.integers(0, 12),
       bound=st.sampled_from([1.0, 10.0, 1e3, 1e8, 1e30]))
def test_finite_on_box_never_claims_what_overflows(coeffs, degree, bound):
    x, y = parse("x + y").variables
    expr = sum(c * x**degree * y**k for k, c in enumerate(coeffs))
    claim = numeric.finite_on_box(expr, (x, y), bound)
    corners = np.array([[bound, -bound, bound, -bound], [bound, bound, -bound, -bound]])
    with np.errstate(all="ignore"):
        values = numeric.Compiled([expr], (x, y))(corners)
    if claim:
        assert np.isfinite(values).all()
    # a degree that overflows at the corners is never claimed: |x|^d·|y|^k > 1e308
    if math.log10(bound) * (degree + len(coeffs) - 1) > 310 and any(c != 0 for c in coeffs[-1:]):
        assert not claim


def test_finite_on_box_knows_its_limits():
    xy = parse("x + y").variables
    assert numeric.finite_on_box(parse("sin(x)**2 + exp(y/100)").expr, xy, 1e3)  # e^10
    assert not numeric.finite_on_box(parse("exp(x) + y").expr, xy, 1e3)  # e^1000 overflows
    assert not numeric.finite_on_box(parse("log(x) + y").expr, xy, 1e3)  # undefined for x ≤ 0
    assert not numeric.finite_on_box(parse("1/x + y").expr, xy, 1e3)  # a pole


@pytest.mark.parametrize("optimizer", ["gd", "momentum", "nesterov", "adagrad", "rmsprop"])
def test_skipped_box_tests_still_catch_the_exact_step_of_escape(optimizer, monkeypatch):
    # f = −x − y/2 has |∇f| ≤ 1 everywhere, so the stepwise engine may skip box tests
    # while the runs are far from |x| = 1000 (scale 1); x then walks out at a steady pace,
    # and the step where it crosses must be the one a plain float loop finds.
    monkeypatch.setattr(runs_module, "STEPWISE_MIN", 1)
    obj = Objective(parse("-x - y/2"))
    assert obj.bound == 1000.0 and obj.grad_bound == 1.0

    def escape(lr, start):  # gradlab's update rules on Python floats, with g = (−1, −0.5)
        x, k, s = list(start), 0, [0.0, 0.0]
        while all(abs(v) <= 1000.0 for v in x) and k < 3000:
            for i, g in enumerate((-1.0, -0.5)):
                if optimizer == "gd":
                    x[i] = x[i] + -lr * g
                elif optimizer in ("momentum", "nesterov"):
                    s[i] = 0.9 * s[i] + g
                    x[i] = x[i] + -lr * (s[i] if optimizer == "momentum" else 0.9 * s[i] + g)
                elif optimizer == "adagrad":
                    s[i] = s[i] + g * g
                    x[i] = x[i] + -lr * g / (math.sqrt(s[i]) + 1e-8)
                else:
                    s[i] = 0.9 * s[i] + (1 - 0.9) * g * g
                    x[i] = x[i] + -lr * g / (math.sqrt(s[i]) + 1e-8)
            k += 1
        return k if k < 3000 else None

    escaped = 0
    for lr in (10.0, 3.0, 0.7, 0.05):  # one batch per lr: the bound on a step is then tight
        specs = grid_specs([optimizer], [lr], [(0.0, 0.0), (-500.0, 0.0)])
        fast, _ = both(obj, specs, 3000, 1e-9)
        expected = [escape(s.lr, s.start) for s in specs]
        assert [None if d < 0 else int(d) for d in fast.diverged_at] == expected
        escaped += sum(e is not None for e in expected)
    assert escaped >= 2


def test_lambdify_into_falls_back_where_python_cannot_recurse(monkeypatch):
    def too_deep(*args):
        raise RecursionError

    monkeypatch.setattr(numeric, "_rows_function", too_deep)
    p = parse("x*y + y**2 + x")
    fn = numeric.lambdify_into(p.variables, numeric.gradient(p.expr, p.variables))
    X, out = np.array([[1.0, 2.0], [3.0, 4.0]]), np.empty((2, 2))
    fn(out, X, *X)
    assert out.tolist() == [[3 + 1, 4 + 1], [1 + 2 * 3, 2 + 2 * 4]]  # (y + 1, x + 2y)


def test_magnitude_bound_walks_a_shared_subexpression_once():
    x = parse("x").variables[0]
    e = x
    for _ in range(60):  # x·sin(x·sin(…)): 2^60 paths, 120 distinct nodes
        e = e * sympy.sin(e)
    assert numeric.magnitude_bound(e, [x], 10.0) == 10.0  # |x| ≤ 10, |sin| ≤ 1


@pytest.mark.parametrize("text, start", [("sqrt(x)", "-1"), ("x**1.5 + y**2", "-1,1"), ("sqrt(x+y+z)", "-1,-1,-1")])
def test_newton_alone_where_the_hessian_is_not_real_diverges_at_step_0(text, start):
    # f is undefined at the start (a fractional power of a negative number): the run is
    # diverged at step 0, whether Newton runs alone (a Hessian on Python floats, where **
    # gives a complex number) or beside a run that goes on.
    from tests.conftest import run

    alone = run("descend", text, "--start", start, "-o", "newton", "--format", "json")
    assert alone.code == 0, alone
    (r,) = json.loads(alone.out)["runs"]
    assert (r["status"], r["diverged_at"]) == ("diverged", 0)
    both = run("descend", text, "--start", start, "--start", ",".join(["4"] * len(start.split(","))),
               "-o", "newton", "--format", "json")
    assert both.code == 0, both
    first, second = json.loads(both.out)["runs"]
    assert (first["status"], first["diverged_at"]) == ("diverged", 0)
    assert second["status"] != "diverged" or second["diverged_at"] > 0
