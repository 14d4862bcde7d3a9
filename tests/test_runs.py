"""The descent engine against closed forms and known behaviour."""

from __future__ import annotations

import numpy as np
import pytest
import sympy
from hypothesis import given, strategies as st

from gradlab.descent.descend import objective_for, run_descent
from gradlab.calculus.parsing import parse
from gradlab.descent.runs import Objective, RunSpec, descend
from gradlab.surfaces import builtin


def test_one_gd_step_on_the_bowl():
    [r] = run_descent(builtin()["bowl"], ["gd"], [0.1], [(3, 4)], steps=1, trajectory=True).runs
    assert r.trajectory[1].tolist() == [3 - 0.1 * 6, 4 - 0.1 * 8]  # (2.4, 3.2) as floats allow
    assert r.trajectory[1] == pytest.approx([2.4, 3.2], rel=1e-15)


def test_bowl_lr_half_reaches_the_minimum_in_one_step():
    [r] = run_descent(builtin()["bowl"], ["gd"], [0.5]).runs
    assert r.status == "converged" and r.steps == 1 and r.x == (0.0, 0.0) and r.f == 0.0


def test_elongated_learning_rates_match_the_closed_form():
    res = run_descent(builtin()["elongated"], ["gd"], [0.01, 0.03, 0.06, 0.08], trajectory=True)
    assert [r.status for r in res.runs] == ["converged", "converged", "diverged", "diverged"]
    for r in res.runs:
        k = np.arange(len(r.trajectory))
        expected = np.stack([(1 - 2 * r.lr) ** k * -4.0, (1 - 50 * r.lr) ** k * 2.0], axis=1)
        assert r.trajectory == pytest.approx(expected, rel=1e-12, abs=1e-300)
    assert res.runs[2].diverged_at == res.runs[2].steps and res.runs[2].diverged_at is not None


def test_saddle_gd_escapes_along_y():
    [r] = run_descent(builtin()["saddle"], ["gd"], [0.1], [(-4, 0.1)], steps=200, trajectory=True).runs
    assert r.status == "diverged"
    ys = np.abs(r.trajectory[:, 1])
    assert np.all(np.diff(ys) > 0)  # |y| grows by 1.2 each step
    assert abs(r.trajectory[-1, 0]) < 1e-3  # while x settles


@pytest.mark.parametrize(
    "A, b",
    [([[2, 0], [0, 50]], [1, -1]), ([[4, 1], [1, 3]], [0, 2]), ([[10, 8, 1], [8, 10, 0], [1, 0, 5]], [1, 2, 3])],
)
def test_newton_solves_any_positive_definite_quadratic_in_one_step(A, b):
    names = ["x", "y", "z"][: len(b)]
    A_, b_ = sympy.Matrix(A), sympy.Matrix(b)
    text = " + ".join(f"{A[i][j]}*{names[i]}*{names[j]}/2" for i in range(len(b)) for j in range(len(b)))
    text += " + " + " + ".join(f"{b[i]}*{names[i]}" for i in range(len(b)))
    obj = Objective(parse(text))
    [r] = descend(obj, [RunSpec("newton", 1.0, tuple([3.0] * len(b)))], steps=10, tol=1e-9)
    expected = [float(v) for v in -(A_.inv() * b_)]
    assert r.status == "converged" and r.steps == 1
    assert r.x == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("optimizer, lr", [("adam", 0.01), ("momentum", 0.001)])
def test_adam_and_momentum_reach_rosenbrocks_minimum(optimizer, lr):
    [r] = run_descent(builtin()["rosenbrock"], [optimizer], [lr], [(-1.2, 1)], steps=20000).runs
    assert r.status == "converged"
    assert r.distance < 1e-4 and r.x == pytest.approx([1, 1], abs=1e-4)


def test_all_optimizers_in_one_batch_match_separate_runs():
    s = builtin()["booth"]
    names = ["gd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "newton"]
    together = run_descent(s, names, [0.01, 0.05], [(-5, -5), (2, 2)], steps=300).runs
    alone = [run_descent(s, [o], [lr], [st], steps=300).runs[0]
             for o in names for lr in [0.01, 0.05] for st in [(-5, -5), (2, 2)]]
    for a, b in zip(together, alone):
        assert (a.optimizer, a.lr, a.start, a.status, a.steps) == (b.optimizer, b.lr, b.start, b.status, b.steps)
        assert a.x == pytest.approx(b.x, rel=1e-12, abs=1e-15)


def test_nan_in_the_middle_is_divergence_not_a_crash():
    # log(x) is undefined once x < 0: gd with a big step jumps there and must stop.
    obj = Objective(parse("(x - 1)**2 + log(x)"))
    [r] = descend(obj, [RunSpec("gd", 2.0, (0.5,))], steps=50, tol=1e-9)
    assert r.status == "diverged" and r.diverged_at is not None


def test_many_runs_keep_summaries_only():
    s = builtin()["elongated"]
    res = run_descent(s, ["gd"], list(np.linspace(0.001, 0.05, 500)), steps=300)
    assert all(r.trajectory is None for r in res.runs)
    # lr < 2/50 is stable on this surface; above it |y| grows like |1 − 50 lr|^k
    for r in res.runs:
        if r.lr < 0.04:
            assert r.status != "diverged"
        elif abs(1 - 50 * r.lr) ** 300 * 2 > 1e4:  # past the escape radius within 300 steps
            assert r.status == "diverged"
        else:
            assert r.grad_norm > 100  # growing, not yet escaped


def test_hyper_parameters_are_in_the_records():
    res = run_descent(builtin()["bowl"], ["adam", "momentum"], [0.1], steps=5, hyper={"beta1": 0.8})
    recs = [r.to_record() for r in res.runs]
    assert recs[0]["beta1"] == 0.8 and recs[0]["beta2"] == 0.999 and recs[1]["momentum"] == 0.9


@pytest.mark.parametrize("name", list(builtin()))
def test_every_built_in_surface_descends_with_its_defaults(name):
    from gradlab.descent.descend import objective_for

    s = builtin()[name]
    f0 = float(objective_for(s).f(np.array([float(v) for v in s.start]))[0])
    res = run_descent(s, ["gd", "adam"], None, steps=min(s.steps or 1000, 2000))
    for r in res.runs:
        assert r.status in ("converged", "max_steps", "diverged")
        if r.status != "diverged":  # a descent method ends lower than it started
            assert np.isfinite(r.f) and r.f <= f0 + 1e-12, (r.optimizer, r.f, f0)


def test_tolerance_zero_runs_every_step():
    [r] = run_descent(builtin()["bowl"], ["gd"], [0.1], steps=7, tol=0.0).runs
    assert r.status == "max_steps" and r.steps == 7
    assert r.x == pytest.approx((3 * 0.8**7, 4 * 0.8**7), rel=1e-14)


@pytest.mark.parametrize("tol", [1e-200, 1e-160, 1e-300])
def test_tiny_tolerances_do_not_underflow(tol):
    # gd with lr 0.25 on x² halves x each step: ‖∇f‖ = 2|x₀|/2^k falls below tol at the
    # first k with 2·3/2^k < tol (a square would underflow to 0 long before)
    [r] = descend(Objective(parse("x**2")), [RunSpec("gd", 0.25, (3.0,))], steps=2000, tol=tol)
    k = next(k for k in range(2000) if 6.0 / 2.0**k < tol)
    assert r.status == "converged" and r.steps == k
    assert r.grad_norm == 6.0 / 2.0**k


def test_huge_gradients_are_not_divergence_at_the_start():
    # at (1e60, 0) f ≈ 1e242 and ∇f ≈ (4e182, −2e122) are finite; the norm squared is not
    [r] = run_descent(builtin()["rosenbrock"], ["gd"], [0.001], [(1e60, 0)], steps=10).runs
    assert r.status == "diverged" and r.diverged_at == 1 and r.steps == 1
    assert "step 1" in r.message


def test_zero_or_negative_tolerance_refused_or_allowed():
    from gradlab.errors import BadInput

    with pytest.raises(BadInput):
        run_descent(builtin()["bowl"], ["gd"], [0.1], steps=5, tol=-1.0)


def test_run_count_is_per_optimizer_lrs_times_starts():
    # 7 optimizers, each with its own default lr, × 2,100 starts: 14,700 runs (under the
    # limit of 100,000), not 7 × 7 × 2,100
    from gradlab.descent.optimizers import NAMES

    starts = [(float(i % 50), float(i // 50)) for i in range(2100)]
    res = run_descent(builtin()["bowl"], list(NAMES), None, starts, steps=1)
    assert len(res.runs) == 7 * 2100


def test_trajectories_count_against_a_limit():
    from gradlab.errors import LimitExceeded

    with pytest.raises(LimitExceeded):
        run_descent(builtin()["bowl"], ["gd"], [0.1, 0.2, 0.3, 0.4], steps=1_000_000, tol=0.0, trajectory=True)


def test_column_records_equal_the_run_records():
    s = builtin()["himmelblau"]
    res = run_descent(s, ["gd", "newton", "adam"], [0.001, 0.5, 2.0], [(0, 0), (1, 1), (-3, 3)], steps=60)
    assert res.runs.records() == [r.to_record() for r in res.runs]
    assert {r.status for r in res.runs} == {"converged", "max_steps", "diverged"}


@given(st.lists(st.floats(allow_nan=False, allow_infinity=False, min_value=-1e300, max_value=1e300), min_size=1,
                max_size=5), st.sampled_from([repr, lambda v: f"{v:.6e}", lambda v: f"{v:.3f}"]))
def test_plain_numbers_read_what_the_safe_parser_reads(values, fmt):
    from gradlab.descent.descend import plain_numbers
    from gradlab.calculus.parsing import parse_point

    text = ",".join(fmt(v) for v in values)
    fast = plain_numbers(text)
    if fast is not None:  # where the fast path answers, it answers as the parser does
        assert fast == [float(v) for v in parse_point(text, None, None, "--lr")]


def test_plain_numbers_leave_expressions_to_the_parser():
    from gradlab.descent.descend import plain_numbers

    for text in ("pi/4", "1/100", "x=1,y=2", "1e-400", "1e400", "nan", "inf", "", "1,,2", "0x10", "1_000"):
        assert plain_numbers(text) is None, text


def test_for_plot_keeps_at_most_the_cap_spread_over_the_batch():
    s = builtin()["bowl"]
    starts = [(float(i), 1.0) for i in range(300)]
    res = run_descent(s, ["gd"], [0.1], starts, steps=2)
    small, note = res.for_plot(max_panels=12, max_runs=200)
    assert len(small.runs) == 200 and "200 of 300 runs" in note
    assert small.runs[0].start == (0.0, 1.0) and small.runs[-1].start == (299.0, 1.0)  # both ends kept
    same, none = run_descent(s, ["gd"], [0.1, 0.2], steps=2).for_plot()
    assert none is None and len(same.runs) == 2


def test_the_gradient_the_engines_compute_is_the_gradient_of_f():
    # Every engine computes ∇f in the form with fewest operations (numeric.fewer_operations);
    # that form must still be the derivative of f, component by component.
    for name, surface in builtin().items():
        obj = objective_for(surface)
        for e, v in zip(obj.gradient_exprs, obj.variables):
            assert sympy.simplify(e - sympy.diff(surface.parsed.expr, v)) == 0, (name, v)


def test_rosenbrock_gradient_shares_y_minus_x_squared():
    # ∂f/∂y = 200(y − x²) is written with its factor out, so y − x² is computed once for
    # both components: one subtraction in the generated code, and no −200·x² term.
    obj = Objective(parse("(1 - x)**2 + 100*(y - x**2)**2"))
    source = obj.grad_into.source
    subtractions = source.count(" - ") + source.count("_np_Sub") + source.count("_np_subtract")
    assert subtractions == 2  # y − x² once, and ∂f/∂x's − 2
    assert "-200" not in source
    G, X = np.empty((2, 3)), np.array([[-1.2, 0.5, 3.0], [1.0, -2.0, 0.25]])
    obj.grad_into(G, X, *X)
    x, y = X
    assert np.allclose(G, [-2 * (1 - x) - 400 * x * (y - x * x), 200 * (y - x * x)], rtol=1e-15, atol=0)


def test_every_result_reports_the_one_distance_to_the_nearest_minimum():
    # himmelblau's four minima; a run that ends at a point far away still has a finite
    # distance (|x| = 1e200: its square overflows), and the table, the JSON and Run.distance
    # all say the same float, with the minimum it was measured to
    import math

    surface = builtin()["himmelblau"]
    minima = [tuple(float(v) for v in m.point) for m in surface.minima]
    res = run_descent(surface, ["gd"], [1e-3], [(1e200, -1e200), (3.5, -1.5), (-3.0, 3.0)], steps=3)
    assert [r.status for r in res.runs] == ["diverged", "max_steps", "max_steps"]  # (the first at its start)
    recs = res.to_dict()["runs"]
    for run, rec in zip(res.runs, recs):
        dists = [math.hypot(run.x[0] - a, run.x[1] - b) for a, b in minima]
        k = dists.index(min(dists))
        assert rec["distance_to_minimum"] == run.distance
        assert math.isclose(run.distance, dists[k], rel_tol=1e-15)
        assert rec["nearest_minimum"] == (None if run.status == "diverged" else list(minima[k]))


def test_every_run_of_a_large_batch_has_its_stability_bound():
    # elongated x² + 25y²: λmax = 50 at the minimum, so gd is stable for lr < 2/50 and heavy
    # ball (β = 0.9) for lr < 2(1 + β)/50, in a batch of any size (there was a cap at 1,000)
    starts = [(-4.0 + i / 1000, 2.0) for i in range(1001)]
    res = run_descent(builtin()["elongated"], ["gd", "momentum"], [0.01], starts, steps=5)
    expected = {"gd": 2 / 50, "momentum": 2 * 1.9 / 50}
    for rec in res.to_dict()["runs"]:
        assert rec["stability_bound"] == pytest.approx(expected[rec["optimizer"]], rel=1e-12)
    assert len(res.runs) == 2002
