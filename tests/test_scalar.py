"""The single-run float loop (descent/scalar.py) against the array engine, step for step.

Every comparison runs the same spec twice, through the generated loop and through the
plain array engine (``fast=False``), and asks for the same status, step count,
``diverged_at``, the same bits of the last iterate and of ‖∇f‖. Some tests also check the
engine against an independent loop written here, so both cannot be wrong together.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from gradlab.calculus.parsing import parse
from gradlab.descent import scalar
from gradlab.descent.descend import objective_for
from gradlab.descent.runs import Objective, RunSpec, descend
from gradlab.surfaces import builtin

OPTIMIZERS = scalar.SCALAR_OPTIMIZERS


@pytest.fixture(autouse=True)
def certify_every_run(monkeypatch):
    # Runs seek certified chunks only when long enough to repay the bounds; here every
    # run does, so that every comparison below also covers the certified loops.
    monkeypatch.setattr(scalar, "CERTIFY_STEPS_PER_OP", 0)


def same(obj, optimizer, lr, start, steps, tol, hyper=None, expect_fast=None):
    """Run both paths; assert they agree bit for bit; return the run."""
    spec = [RunSpec(optimizer, lr, start)]
    a = descend(obj, spec, steps, tol, hyper=hyper)[0]
    b = descend(obj, spec, steps, tol, hyper=hyper, fast=False)[0]
    assert (a.status, a.steps, a.diverged_at) == (b.status, b.steps, b.diverged_at)
    assert np.array_equal(np.array(a.x), np.array(b.x), equal_nan=True)  # the same bits
    assert a.grad_norm == b.grad_norm or (math.isnan(a.grad_norm) and math.isnan(b.grad_norm))
    if expect_fast is not None:  # whether the float loop made the run (or handed it back)
        h = optimizer_hyper(optimizer, hyper)
        got = scalar.run_single(obj, optimizer, h, start, lr, steps, tol)
        assert (got is not None) == expect_fast
    return a


def optimizer_hyper(optimizer, hyper):
    from gradlab.descent import optimizers

    return optimizers.make(optimizer, np.array([0.1]), **(hyper or {})).hyper


# --------------------------------------------------------------------------- the catalogue
SURFACES = [name for name, s in builtin().items() if objective_for(s).n <= scalar.SCALAR_MAX_N]


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
@pytest.mark.parametrize("name", SURFACES)
def test_catalogue_surfaces_at_their_own_and_larger_rates(name, optimizer):
    s = builtin()[name]
    obj = objective_for(s)
    start = tuple(float(v) for v in s.start)
    for lr in (s.lr, s.lr * 30):
        same(obj, optimizer, lr, start, min(s.steps, 1200), 1e-6)


# --------------------------------------------------------------------------- stops at every step
def gd_on_half_square(x0: float, lr: float, steps: int) -> list[float]:
    """Independent: gd on f = x²/2 (∇f = x) as a user writes it: x_k for k = 0..steps."""
    xs = [x0]
    for _ in range(steps):
        xs.append(xs[-1] + -lr * xs[-1])
    return xs


@pytest.mark.parametrize("target", [0, 1, 2, 15, 16, 17, 1023, 1024, 1025, 1026, 2049, 3000])
def test_convergence_found_at_the_exact_step_anywhere_in_a_chunk(target):
    obj = Objective(parse("x**2/2"))
    lr, x0 = 1e-3, 7.0
    xs = gd_on_half_square(x0, lr, 3100)
    # tol just above |x_target| (and below |x_{target-1}|): converges at `target` exactly
    tol = math.nextafter(abs(xs[target]), math.inf)
    run = same(obj, "gd", lr, (x0,), 3100, tol)
    assert (run.status, run.steps, run.x) == ("converged", target, (xs[target],))
    # tol equal to |x_target|: ‖g‖ < tol is strict, so not converged there but one step on
    run = same(obj, "gd", lr, (x0,), 3100, abs(xs[target]))
    assert (run.status, run.steps) == ("converged", target + 1)


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
@pytest.mark.parametrize("target", [1, 5, 16, 300, 1030, 2100])
def test_divergence_found_at_the_first_step_outside_the_box(optimizer, target):
    # f = -x²/2 pushes x outwards; the box is |x| ≤ 1000. Start where the run leaves the
    # box near `target` for gd, and compare every optimizer with the engine.
    obj = Objective(parse("-x**2/2"))
    lr = 1e-3
    x0 = 1000.0 / (1 + lr) ** target
    run = same(obj, optimizer, lr, (x0,), 5000, 1e-9)
    if optimizer in ("gd", "momentum", "nesterov"):  # (the adaptive ones slow down: maybe not)
        assert run.status == "diverged" and run.diverged_at == run.steps
        assert abs(run.x[0]) > 1000.0
    if optimizer == "gd":  # independent: the first iterate past the bound
        xs = [x0]
        while abs(xs[-1]) <= 1000.0:
            xs.append(xs[-1] + -lr * -xs[-1])
        assert run.diverged_at == len(xs) - 1 and run.x == (xs[-1],)


@pytest.mark.parametrize("optimizer", ["momentum", "nesterov", "adam", "rmsprop", "adagrad"])
def test_an_overshoot_past_the_bound_is_caught_at_its_step(optimizer):
    # the minimum sits inside the box near its edge; the swing past it leaves the box for
    # a few steps (and would come back): the engine stops at the first step outside
    obj = Objective(parse("(x - 990)**2 + y**2"))
    for lr in (0.05, 0.2, 0.45, 5.0, 20.0):
        same(obj, optimizer, lr, (0.0, 3.0), 1500, 1e-9, hyper={"momentum": 0.95})


def test_steps_zero_and_one():
    obj = Objective(parse("x**2 + 25*y**2"))
    for optimizer in OPTIMIZERS:
        r0 = same(obj, optimizer, 0.01, (-4.0, 2.0), 0, 1e-6)
        assert (r0.status, r0.steps, r0.x) == ("max_steps", 0, (-4.0, 2.0))
        assert r0.grad_norm == math.hypot(8.0, 100.0)
        r1 = same(obj, optimizer, 0.01, (-4.0, 2.0), 1, 1e-6)
        assert (r1.status, r1.steps) == ("max_steps", 1)
        # converged at the start: a zero gradient
        r = same(obj, optimizer, 0.01, (0.0, 0.0), 10, 1e-6)
        assert (r.status, r.steps) == ("converged", 0)


@pytest.mark.parametrize("tol", [0.0, -1.0, 1e-300, 1e-150, 1e-141, 1e-139, 1e-6, 1e139, 1e141, 1e300,
                                 math.inf, math.nan])
def test_tolerance_edges(tol):
    obj = Objective(parse("x**2 + 25*y**2"))
    for optimizer in OPTIMIZERS:
        same(obj, optimizer, 0.01, (-4.0, 2.0), 1100, tol)
        same(obj, optimizer, 0.3, (-4.0, 2.0), 100, tol)  # oscillating out of the box


def test_norms_summed_in_numpys_order_in_many_dimensions():
    # From 3 coordinates up numpy's sum of squares is not Python's left-to-right sum: a
    # tol equal to the engine's ‖g‖ at some step must not converge there.
    obj = objective_for(builtin()["quadratic-nd"])
    start = tuple(float(v) for v in builtin()["quadratic-nd"].start)
    plain = descend(obj, [RunSpec("gd", 1e-3, start)], 40, 0.0, fast=False)[0]
    for k in (0, 7, 39):
        tol = descend(obj, [RunSpec("gd", 1e-3, start)], k, 0.0, fast=False)[0].grad_norm
        r = same(obj, "gd", 1e-3, start, 40, tol)
        assert r.steps == k + 1 or r.status != "converged"
    assert plain.status == "max_steps"


# --------------------------------------------------------------------------- math errors
@pytest.mark.parametrize("text,start,lr", [
    ("(x - 1)**2 + log(x) + y**2", (0.5, 0.5), 2.0),  # log of a negative number
    ("exp(x) + y**2", (1.0, 1.0), -300.0),              # exp overflows (math raises, numpy gives inf)
    ("x**4 + y**2", (50.0, 1.0), 10.0),                 # a power overflows
    ("x**1.5 + y**2", (0.5, 1.0), 3.0),                 # a fractional power of a negative number
    ("1/x + y**2", (1.0, 1.0), 1.0),                     # a division by zero on the way
])
@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_math_errors_hand_the_run_to_the_array_engine(text, start, lr, optimizer):
    obj = Objective(parse(text), scale=10.0)
    run = same(obj, optimizer, lr, start, 200, 1e-9)
    assert run.status in ("diverged", "converged", "max_steps")


def test_a_math_error_returns_none_and_a_clean_run_returns_the_engines_result():
    obj = Objective(parse("(x - 1)**2 + log(x) + y**2"), scale=10.0)
    assert scalar.run_single(obj, "gd", {}, (0.5, 0.5), 2.0, 50, 1e-9) is None
    status, k, x, gn = scalar.run_single(obj, "gd", {}, (2.0, 0.5), 0.01, 50, 1e-9)
    r = descend(obj, [RunSpec("gd", 0.01, (2.0, 0.5))], 50, 1e-9, fast=False)[0]
    assert (status, k, x, gn) == (r.status, r.steps, r.x, r.grad_norm)


def test_which_functions_make_f_finite_in_the_box():
    def implied(text):
        return scalar.f_is_implied(Objective(parse(text)))

    assert implied("x**2 + 25*y**2") and implied("20 + x**2 - 10*cos(2*pi*x)")
    assert implied("exp(-sqrt(x**2 + y**2))")  # exp of something ≤ 0, sqrt of something ≥ 0
    assert not implied("log(x) + y**2") and not implied("1/x + y") and not implied("sqrt(x) + y")
    assert not implied("exp(x)")  # e^1000 overflows
    assert not implied("x**200")  # 1000^200 overflows


# --------------------------------------------------------------------------- hypothesis
finite = st.floats(-5, 5, allow_nan=False)
coefficient = st.floats(-5, 5).map(lambda v: round(v, 4))  # the parser refuses 1e-304


@st.composite
def quadratics(draw):
    """f = a x² + b y² + c x y + d x + e y (bowls, saddles, ridges) and a start."""
    # (a, b ≠ 0 keeps both variables: the parser drops a term 0.0*x)
    a, b = (draw(st.floats(-3, 30).map(lambda v: round(v, 4)).filter(lambda v: v != 0)) for _ in "ab")
    c, d, e = draw(coefficient), draw(coefficient), draw(coefficient)
    text = f"{a!r}*x**2 + {b!r}*y**2 + {c!r}*x*y + {d!r}*x + {e!r}*y"
    return text, (draw(finite), draw(finite))


@given(q=quadratics(), optimizer=st.sampled_from(OPTIMIZERS),
       lr=st.floats(1e-5, 2.0), steps=st.integers(0, 2500),
       tol=st.one_of(st.just(0.0), st.floats(1e-12, 10.0)),
       beta=st.sampled_from([None, 0.0, 0.5, 0.99, 1.0, 1.5]),
       beta2=st.sampled_from([None, 0.5, 0.9, 0.999]))
@settings(max_examples=60)
def test_random_quadratics_equal_the_engine(q, optimizer, lr, steps, tol, beta, beta2):
    text, start = q
    hyper = {"momentum": beta, "beta1": None if beta is None or beta >= 1 else beta, "beta2": beta2}
    same(Objective(parse(text), scale=1.0), optimizer, lr, start, steps, tol, hyper=hyper)


@given(optimizer=st.sampled_from(OPTIMIZERS), lr=st.floats(1e-4, 0.05),
       start=st.tuples(st.floats(-2, 2), st.floats(-1, 3)), steps=st.integers(0, 3000),
       tol=st.floats(1e-10, 1e-2))
@settings(max_examples=40)
def test_random_rosenbrock_runs_equal_the_engine(optimizer, lr, start, steps, tol):
    same(objective_for(builtin()["rosenbrock"]), optimizer, lr, start, steps, tol)


@given(lr=st.floats(1e-4, 0.5), start=st.tuples(st.floats(-4, 4), st.floats(-4, 4)),
       optimizer=st.sampled_from(OPTIMIZERS))
@settings(max_examples=30)
def test_random_runs_on_a_surface_where_f_is_checked_every_step(lr, start, optimizer):
    # log(1 + x²) is finite everywhere, but nothing tells the planner so: f is evaluated
    obj = Objective(parse("log(1 + x**2) + (y - 1)**2"), scale=10.0)
    assume(not scalar.f_is_implied(obj))
    same(obj, optimizer, lr, start, 1500, 1e-8)


# --------------------------------------------------------------------------- certified chunks
def test_long_runs_use_certified_chunks_and_equal_the_engine():
    obj = objective_for(builtin()["elongated"])
    plan = scalar._planner("gd", 20_000, obj.bound, 1e-5, 0.0, 0.0, 0.0, 0.0, 0.0, 1e-6, 2,
                           scalar.certifier(obj), obj.grad.scalar)
    K, _, mode = plan(1, (-4.0, 2.0), (0.0, 0.0), 100.0**2)
    assert mode == scalar._FREE and K > 1 + scalar.MIN_CHUNK
    for optimizer in OPTIMIZERS:
        for lr in (1e-5, 1e-3):
            same(obj, optimizer, lr, (-4.0, 2.0), 20_000, 1e-6)


@given(q=quadratics(), optimizer=st.sampled_from(OPTIMIZERS), lr=st.floats(1e-6, 1e-2),
       tol=st.floats(1e-8, 1e-1))
@example(q=("1.0*x**2 + 25.0*y**2", (-4.0, 2.0)), optimizer="momentum", lr=1e-6, tol=1e-6)  # certified
@example(q=("-1.0*x**2 + 1.0*y**2", (999.0, 0.0)), optimizer="gd", lr=1e-5, tol=1e-6)  # not: the edge
@settings(max_examples=40)
def test_a_certified_chunk_has_no_event_before_its_end(q, optimizer, lr, tol):
    text, start = q
    obj = Objective(parse(text), scale=1.0)
    h = optimizer_hyper(optimizer, None)
    h = {"momentum": 0.0, "beta1": 0.0, "beta2": 0.0, "eps": 0.0, **h}
    bounds = scalar.certifier(obj)
    assert bounds is not None  # a quadratic is always certifiable
    plan = scalar._planner(optimizer, 10_000, obj.bound, lr, h["momentum"], h["beta1"], h["beta2"], h["beta2"],
                           h["eps"], tol, 2, bounds, obj.grad.scalar)
    K, _, mode = plan(0, start, (0.0, 0.0), 1.0)
    if mode < scalar._FREE:
        return  # not certified: the tested loops take the chunk
    # the plain engine, independently, finds no stop at steps 0 … K−1
    r = descend(obj, [RunSpec(optimizer, lr, start)], K, tol, fast=False)[0]
    assert r.steps == K


def hessian_at(obj, x):
    from gradlab.calculus import numeric

    H = numeric.hessian(obj.parsed.expr, obj.variables)
    return np.array([[float(e.subs(dict(zip(obj.variables, x)))) for e in row] for row in H])


@pytest.mark.parametrize("name", ["rosenbrock", "beale", "rastrigin", "six-hump-camel", "himmelblau"])
@given(data=st.data())
@settings(max_examples=15)
def test_certificate_bounds_hold_inside_their_box(name, data):
    import sympy

    obj = objective_for(builtin()[name])
    bounds = scalar.certifier(obj)
    m = [data.draw(st.floats(0.0, 30.0)) for _ in range(obj.n)]
    x = [data.draw(st.floats(-1.0, 1.0)) * mi for mi in m]
    H, E = bounds(*m)
    # H bounds the spectral norm of the Hessian anywhere in the box
    assert np.abs(np.linalg.eigvalsh(hessian_at(obj, x))).max() <= H * (1 + 1e-12)
    # E bounds the rounding error of the float gradient (against 50-digit arithmetic)
    exact = [sympy.N(g.subs(dict(zip(obj.variables, map(sympy.Float, x)))), 50) for g in obj.gradient_exprs]
    computed = obj.grad.scalar(*x)
    err = math.sqrt(sum(float(c - e) ** 2 for c, e in zip(computed, exact)))
    assert err <= E


def test_short_runs_do_not_pay_for_a_certificate(monkeypatch):
    monkeypatch.setattr(scalar, "CERTIFY_STEPS_PER_OP", 10_000)
    obj = Objective(parse("(1 - x)**2 + 100*(y - x**2)**2"))
    same(obj, "gd", 1e-4, (-1.2, 1.0), 5000, 1e-6)
    assert "_certifier" not in obj.__dict__.get("_loops", {})  # no Hessian was derived
    scalar.run_single(obj, "gd", {}, (-1.2, 1.0), 1e-7, 200_000, 1e-6)
    assert obj.__dict__["_loops"]["_certifier"] is not None


@pytest.mark.parametrize("name", ["quadratic-nd", "rosenbrock-nd"])
@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_certified_chunks_in_several_dimensions(name, optimizer):
    s = builtin()[name]
    obj = objective_for(s)
    start = tuple(float(v) for v in s.start)
    h = {"momentum": 0.0, "beta1": 0.0, "beta2": 0.0, "eps": 0.0, **optimizer_hyper(optimizer, None)}
    plan = scalar._planner(optimizer, 3000, obj.bound, 2e-5, h["momentum"], h["beta1"], h["beta2"], h["beta2"],
                           h["eps"], 1e-6, obj.n, scalar.certifier(obj), obj.grad.scalar)
    certified = plan(1, start, (0.0,) * obj.n, 1.0)[2] >= scalar._FREE
    # (momentum's velocity needs shorter chunks than the certificate allows here, and
    # Rosenbrock's Hessian bound, ~10⁴, is too large for gd at this rate; the adaptive
    # optimizers' steps are bounded whatever the gradient)
    heavy = optimizer in ("momentum", "nesterov") or (optimizer == "gd" and name == "rosenbrock-nd")
    assert certified or heavy
    same(obj, optimizer, 2e-5, start, 3000, 1e-6)
