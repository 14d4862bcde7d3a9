"""Learning-rate sweeps: experiment against the Hessian's theory, on surfaces with known answers."""

from __future__ import annotations

import numpy as np

import json
import math

import pytest
import sympy
from hypothesis import assume, given, settings, strategies as st

from gradlab.descent.descend import run_descent
from gradlab.surfaces import builtin
from gradlab.descent.sweep import run_sweep
from gradlab.descent.theory import curvature_at, optimizer_theory
from tests.conftest import assert_error, run


def _answer(res, name):
    return next(o for o in res.optimizers if o.optimizer == name)


def test_elongated_gd_bound_best_rate_and_factor():
    res = run_sweep(builtin()["elongated"], ["gd"], 1e-3, 1.0, num=50)
    a = _answer(res, "gd")
    assert res.curvature.eigenvalues == pytest.approx((2, 50))
    assert a.theory.bound == pytest.approx(0.04) and a.theory.bound_exact == "1/25"
    assert a.theory.best_lr_exact == "1/26" and a.theory.factor_exact == "12/13"
    # the experimental boundary lies within the stated precision of 2/λ_max
    assert abs(a.largest_stable_lr - 0.04) <= a.precision
    assert a.precision <= 1e-3 * 0.04 * 1.01
    assert a.agree is True


def test_elongated_momentum_bound_and_runs():
    res = run_sweep(builtin()["elongated"], ["momentum"], 1e-3, 1.0, num=40)
    a = _answer(res, "momentum")
    assert a.theory.bound == pytest.approx(2 * 1.9 / 50)  # 0.076
    assert abs(a.largest_stable_lr - 0.076) <= a.precision
    statuses = [r.status for r in run_descent(builtin()["elongated"], ["momentum"], [0.06, 0.07, 0.08]).runs]
    assert statuses == ["converged", "converged", "diverged"]


def test_bowl_gd_bound_one_and_one_step_at_half():
    res = run_sweep(builtin()["bowl"], ["gd"], 1e-2, 10.0, num=30)
    assert _answer(res, "gd").theory.bound == pytest.approx(1.0)
    [r] = run_descent(builtin()["bowl"], ["gd"], [0.5]).runs
    assert r.status == "converged" and r.steps == 1


def test_booth_eigenvalues_bound_and_best_rate():
    t = optimizer_theory("gd", [2.0, 18.0], exact=[2, 18])
    assert t.bound == pytest.approx(1 / 9) and t.best_lr == pytest.approx(0.1) and t.best_lr_exact == "1/10"
    res = run_sweep(builtin()["booth"], ["gd"], 1e-3, 1.0, num=30)
    assert res.curvature.eigenvalues == pytest.approx((2, 18))
    assert abs(_answer(res, "gd").largest_stable_lr - 1 / 9) <= _answer(res, "gd").precision * 1.01 + 1e-12 \
        or _answer(res, "gd").agree


def test_rosenbrock_hessian_at_the_minimum():
    s = builtin()["rosenbrock"]
    c = curvature_at(s.parsed.expr, s.parsed.variables, (1, 1), "known minimum")
    assert c.hessian == ((802.0, -400.0), (-400.0, 200.0))
    lam_max = 501 + math.sqrt(501**2 - (802 * 200 - 400**2))
    t = optimizer_theory("gd", c.eigenvalues, exact=c.exact)
    assert t.bound == pytest.approx(2 / lam_max) and t.bound == pytest.approx(0.001997, abs=5e-7)
    assert sympy.N(sympy.sympify(t.bound_exact)) == pytest.approx(2 / lam_max)


@pytest.mark.parametrize("num", [50, 200])
def test_refinement_finds_the_same_boundary(num):
    res = run_sweep(builtin()["elongated"], ["gd"], 1e-3, 1.0, num=num)
    a = _answer(res, "gd")
    assert abs(a.largest_stable_lr - 0.04) <= a.precision


def test_adaptive_optimizers_have_no_bound():
    res = run_sweep(builtin()["elongated"], ["adam"], 1e-3, 0.5, num=10, steps=300)
    a = _answer(res, "adam")
    assert a.theory.bound is None and a.agree is None and "adaptive" in a.explanation


def test_non_quadratic_disagreement_is_explained():
    res = run_sweep(builtin()["rosenbrock"], ["momentum"], 1e-4, 0.05, num=30, steps=5000)
    a = _answer(res, "momentum")
    if not a.agree:
        assert "not quadratic" in a.explanation


def test_sweep_json_has_largest_stable_lr_and_theory():
    r = run("sweep", "elongated", "-o", "gd,momentum", "--num", "20", "-f", "json")
    doc = json.loads(r.out)
    assert doc["command"] == "sweep"
    assert set(doc["largest_stable_lr"]) == {"gd", "momentum"}
    assert doc["theory"]["gd"]["bound"] == pytest.approx(0.04)
    assert doc["theory"]["gd"]["best_lr_exact"] == "1/26"
    assert len(doc["runs"]) == 40 and {"stable", "status", "steps", "f"} <= set(doc["runs"][0])


def test_sweep_plain_rows():
    r = run("sweep", "bowl", "--num", "5", "--lr-min", "0.1", "--lr-max", "2")
    rows = [line.split("\t") for line in r.out.splitlines()]
    assert len(rows) == 5 and rows[0][0] == "gd" and float(rows[0][1]) == pytest.approx(0.1)


@pytest.mark.parametrize(
    "args, word",
    [
        (("--lr-min", "0.1", "--lr-max", "0.01"), "below"),
        (("--lr-min", "0.1", "--lr-max", "0.1"), "below"),
        (("--lr-min", "0", "--lr-max", "1"), "positive"),
        (("--lr-min", "-1", "--lr-max", "1"), "positive"),
        (("--lr-min", "nan", "--lr-max", "1"), "positive"),
        (("--lr-min", "1e-3", "--lr-max", "inf"), "positive"),
        (("--num", "1"), "num"),
        (("--precision", "2"), "precision"),
    ],
)
def test_bad_ranges_are_exit_2(args, word):
    assert_error(run("sweep", "elongated", *args), 2, word)


def test_descend_table_shows_lr_against_the_bound():
    r = run("descend", "elongated", "--lr", "0.01,0.06", "-f", "table", env={"COLUMNS": "160"})
    assert "gd: theory says stable for lr < 2/λmax = 0.04" in r.out
    row = next(line.split() for line in r.out.splitlines() if line.split()[:1] == ["0.06"])
    assert row[1] == "diverged" and row[-1] == "no"  # 0.06 is above the bound 2/50
    doc = json.loads(run("descend", "elongated", "--lr", "0.06", "-f", "json").out)
    assert doc["runs"][0]["stability_bound"] == pytest.approx(0.04)


def test_saddle_escape_is_not_stable():
    # f = x² − y² from (−4, 0.1): y_k = 0.1(1 + 2lr)^k grows without bound for every lr > 0,
    # so f → −∞ whatever the rate: no rate is stable, and the sweep must not invent a
    # largest stable lr from runs that merely have not escaped yet (the answer would then
    # depend on --steps: 0.0123 at 100 steps, 0.00123 at 1000).
    from gradlab.descent.sweep import run_sweep
    from gradlab.surfaces import builtin

    for steps in (100, 1000):
        res = run_sweep(builtin()["saddle"], ["gd"], 1e-3, 0.9, num=25, steps=steps)
        assert not (res.runs.status == "converged").any()
        assert not res.stable.any()
        assert res.optimizers[0].largest_stable_lr is None


def test_closing_in_counts_where_a_minimum_is_known():
    # elongated (x² + 25y², minimum at 0) with too few steps to converge: gd contracts
    # every coordinate by |1 − 2lr·λ| < 1 for lr < 2/50, so those runs are closing in.
    from gradlab.descent.sweep import run_sweep
    from gradlab.surfaces import builtin

    res = run_sweep(builtin()["elongated"], ["gd"], 1e-3, 0.03, num=5, steps=20)
    assert not (res.runs.status == "converged").any()
    assert res.stable.all()


def test_momentum_advice_labels_the_beta_in_use_and_polyaks_pair():
    r = run("sweep", "rosenbrock", "-o", "momentum", "--num", "5", "--steps", "200", "--format", "table")
    assert r.code == 0, r
    text = " ".join(r.out.split())
    assert "(for this β)" in text and "Polyak's optimal pair" in text
    doc = json.loads(run("sweep", "rosenbrock", "-o", "momentum", "--num", "5", "--steps", "200",
                         "--format", "json").out)
    t = doc["theory"]["momentum"]
    assert t["best_lr"] < t["bound"]  # the best rate for β = 0.9 is stable for β = 0.9
    assert t["optimal"]["lr"] > t["bound"] and 0.9 < t["optimal"]["momentum"] < 1


# --------------------------------------------------------------------------- special sweeps' output
# Heavy-ball momentum on the elongated bowl x² + 25y² (λ_max = 50) is stable exactly for
# lr < 2(1 + β)/λ_max: 0.04 at β = 0, 0.06 at β = 1/2. The rates 0.01 and 0.1 sit far from
# both edges; 0.05 lies between them (unstable at β = 0, stable at β = 1/2).
MAP = ("sweep", "elongated", "-o", "momentum", "--lr", "0.01:0.1:3", "--momentum", "0:0.5:2", "--steps", "400")
SEEDS = ("sweep", "linear-regression", "--batch-size", "2", "--seeds", "3", "--lr", "0.005:0.08:3", "--epochs", "20")
MAP_COLUMNS = "optimizer,momentum,lr,status,steps_to_tol,rate,edge,theory_edge"
SEED_COLUMNS = "optimizer,lr,median_f,min_f,max_f,diverged,seeds,stable,largest_stable_lr"


@pytest.mark.parametrize("fmt, sep", [("csv", ","), ("tsv", "\t")])
def test_stability_map_rows_follow_the_header_switch(fmt, sep):
    with_header = run(*MAP, "-f", fmt)
    without = run(*MAP, "-f", fmt, "--no-header")
    assert with_header.code == without.code == 0, (with_header, without)
    lines = with_header.out.splitlines()
    assert lines[0] == MAP_COLUMNS.replace(",", sep)
    assert without.out.splitlines() == lines[1:]  # the same rows, no header line
    rows = [dict(zip(MAP_COLUMNS.split(","), line.split(sep))) for line in lines[1:]]
    assert len(rows) == 2 * 3  # one row per (β, lr) cell
    for r in rows:
        beta, lr = float(r["momentum"]), float(r["lr"])
        assert float(r["theory_edge"]) == pytest.approx(2 * (1 + beta) / 50)
        assert (r["status"] == "diverged") == (lr > 2 * (1 + beta) / 50)
        if r["status"] == "converged":  # a contraction per step: the rate is below 1
            assert 0 < float(r["rate"]) < 1 and int(r["steps_to_tol"]) > 0
    # plain is tsv without its header: the same cells
    assert run(*MAP, "-f", "plain").out.splitlines() == [line.replace(sep, "\t") for line in lines[1:]]


def test_mini_batch_sweep_rows_follow_the_header_switch():
    lines = run(*SEEDS, "-f", "csv").out.splitlines()
    assert lines[0] == SEED_COLUMNS
    assert run(*SEEDS, "-f", "csv", "--no-header").out.splitlines() == lines[1:]
    rows = [dict(zip(SEED_COLUMNS.split(","), line.split(","))) for line in lines[1:]]
    assert [float(r["lr"]) for r in rows] == pytest.approx([0.005, math.sqrt(0.005 * 0.08), 0.08])
    for r in rows:
        assert r["seeds"] == "3" and 0 <= int(r["diverged"]) <= 3
        if r["min_f"] != "NA":
            assert float(r["min_f"]) <= float(r["median_f"]) <= float(r["max_f"])
        # stable: no seed diverged (and every final f is below the start's)
        assert r["stable"] in ("true", "false") and (r["stable"] == "false" or r["diverged"] == "0")


@pytest.mark.parametrize("args", [MAP, SEEDS])
def test_special_sweeps_honour_compact_json_and_write_jsonl(args):
    pretty, compact = run(*args, "-f", "json"), run(*args, "-f", "json", "--compact")
    assert pretty.code == compact.code == 0
    assert len(pretty.out.splitlines()) > 1 and len(compact.out.splitlines()) == 1
    doc = json.loads(compact.out)
    assert doc == json.loads(pretty.out)
    lines = run(*args, "-f", "jsonl").out.splitlines()
    cells = len(doc["lrs"]) * len(doc.get("betas", [None]))
    assert len(lines) == cells  # one strict JSON object per cell (map) or rate (seeds)
    for line in lines:
        rec = json.loads(line)
        assert rec["command"] == "sweep" and rec["kind"] == doc["kind"] and rec["optimizer"] == doc["optimizer"]


def test_special_sweeps_honour_exit_status():
    # lr 0.1 > 2(1 + β)/50 for both β: a run diverged; at most 0.03 < 0.04 none does
    assert run(*MAP, "-f", "json", "--exit-status").code == 3
    calm = ("sweep", "elongated", "-o", "momentum", "--lr", "0.001:0.03:3", "--momentum", "0:0.5:2", "-f", "json")
    assert run(*calm, "--exit-status").code == 0
    assert run(*MAP, "-f", "json").code == 0  # divergence is a result without the switch


# --------------------------------------------------------------- the stability rule on closed forms


def _inline(text, start):
    from gradlab.calculus.parsing import parse
    from gradlab.descent.descend import inline_surface

    p = parse(text)
    return inline_surface(p, [sympy.Rational(v) for v in start])


def test_quartic_bowl_is_stable_below_one_over_two_x0_squared():
    # f = x⁴ + y² from (1, 1): x ← x(1 − 4lr·x²), y ← (1 − 2lr)y. From x₀ = 1 the first step
    # gives x₁ = 1 − 4lr, inside (−1, 1) iff lr < 1/2, after which |x| only shrinks; above,
    # |x₁| > 1 and |x| grows without bound (at 1/2 exactly: the 2-cycle ±1). y is stable
    # for lr < 1. No run converges in 1000 steps (x_k ~ 1/√(8lr·k)), yet f falls to 0.
    res = run_sweep(_inline("x**4 + y**2", ["1", "1"]), ["gd"], 1e-3, 0.9, num=12, steps=1000)
    a = _answer(res, "gd")
    assert not (res.runs.status == "converged").any()
    assert res.stable[np.array(res.grid) < 0.5].all() and not res.stable[np.array(res.grid) > 0.5].any()
    assert a.largest_stable_lr <= 0.5 <= a.first_unstable_lr and a.precision <= 1e-3 * 0.5 * 1.01


@pytest.mark.parametrize("steps", [100, 1000])
def test_saddle_no_rate_is_stable(steps):
    # x² − y² from (−4, 0.1): y_k = 0.1(1 + 2lr)^k grows for every lr > 0 (H = diag(2, −2)),
    # even while x shrinks and ‖∇f‖ still falls at a small rate: no stable rate, whatever
    # --steps (a finite run at lr = 1e-4 has merely not escaped yet).
    res = run_sweep(builtin()["saddle"], ["gd"], 1e-4, 0.9, num=25, steps=steps)
    small = res.runs.status == "max_steps"
    assert small.any() and (res.runs.grad_norm[small] < res.runs.watched_grad_norm[small]).any()
    assert not res.stable.any() and res.optimizers[0].largest_stable_lr is None
    assert "λ ≤ -2 < 0" in res.optimizers[0].explanation and "1 + lr·|λ|" in res.optimizers[0].explanation


def test_cubic_settles_at_its_inflection_below_one_third():
    # f = x³ from x₀ = 1: x ← x(1 − 3lr·x). For lr < 1/3 every iterate stays in (0, 1) and
    # falls to the stationary point 0 (slowly: x_k ~ 1/(3lr·k)); for lr > 1/3, x₁ < 0 and
    # then |x| grows by 1 + 3lr|x| a step, to −∞ (f'' = 6x < 0 there). With a tiny
    # tolerance no run lands on 0 by chance, so the edge is 1/3.
    res = run_sweep(_inline("x**3", ["1"]), ["gd"], 1e-3, 0.9, num=12, steps=1000, tol=1e-14)
    a = _answer(res, "gd")
    assert res.stable[np.array(res.grid) < 1 / 3].all() and not res.stable[np.array(res.grid) > 1 / 3].any()
    assert a.largest_stable_lr <= 1 / 3 <= a.first_unstable_lr


@pytest.mark.parametrize("lam", [(2, 50), (1, 4), (3, 3)])
def test_quadratic_edge_is_two_over_lambda_max(lam):
    a, b = lam
    res = run_sweep(_inline(f"{a}*x**2/2 + {b}*y**2/2", ["1", "1"]), ["gd"], 1e-3, 10.0, num=30, steps=2000)
    o = _answer(res, "gd")
    assert abs(o.largest_stable_lr - 2 / max(a, b)) <= o.precision


def test_edge_scan_skips_rates_too_small_to_settle():
    # Rosenbrock at lr ≈ 2·10⁻⁵: f falls but ‖∇f‖ grows as the run enters the valley within
    # 20,000 steps: too slow to count as settled, not unstable; the edge is still 2/λmax.
    s = builtin()["rosenbrock"]
    res = run_sweep(s, ["gd"], 2e-5, 2e-2, num=20)
    a = _answer(res, "gd")
    assert not res.stable[0] and a.largest_stable_lr is not None
    lam_max = 501 + math.sqrt(501**2 - (802 * 200 - 400**2))
    assert abs(a.largest_stable_lr - 2 / lam_max) / (2 / lam_max) < 0.01


# --------------------------------------------------------------- grid, predictions, JSON


def test_grid_rates_print_short_and_keep_the_ends():
    from gradlab.descent.sweep import make_grid

    g = make_grid(0.1, 2.1, 11, log=False)
    assert [repr(v) for v in g.tolist()] == ["0.1", "0.3", "0.5", "0.7", "0.9", "1.1", "1.3", "1.5", "1.7", "1.9", "2.1"]
    g = make_grid(1e-4, 1.0, 5)
    assert g.tolist() == [1e-4, 1e-3, 1e-2, 1e-1, 1.0]
    narrow = make_grid(1.0, 1.0 + 1e-13, 50, log=False)  # rounding would merge rates: kept at full precision
    assert len(set(narrow.tolist())) == 50


def test_default_range_follows_newtons_bound_without_a_minimum():
    res = run(("sweep"), "x**2 + 3*y**2", "--start", "1,1", "-o", "newton", "--num", "12", "-f", "json")
    doc = json.loads(res.out)
    assert (doc["lr_min"], doc["lr_max"]) == (0.02, 20.0)  # 2/100 and 10 × 2
    o = doc["optimizers"][0]
    assert o["largest_stable_lr"] <= 2 <= o["first_unstable_lr"]  # Newton: error × (1 − lr), stable iff lr < 2


def test_predicted_steps_match_the_closed_form_and_none_at_the_bound():
    # gd on x² + 25y² (λ = 2, 50) from (−4, 2): ρ = max|1 − lr·λ|, steps ⌈ln(‖∇f₀‖/tol)/−ln ρ⌉
    res = run_sweep(builtin()["elongated"], ["gd"], 0.004, 0.04, num=4, steps=50)
    g0 = math.hypot(2 * -4, 50 * 2)
    for spec, got in zip(res.runs.specs, res.predicted):
        rho = max(abs(1 - spec.lr * 2), abs(1 - spec.lr * 50))
        want = math.ceil(math.log(g0 / 1e-6) / -math.log(rho)) if rho < 1 - 1e-8 else None
        assert got == want
    assert res.predicted[-1] is None  # lr = 0.04 = 2/λmax: ρ = 1


def test_momentum_at_its_bound_predicts_no_step_count():
    from gradlab.descent.theory import predicted_steps, spectral_radius

    # heavy ball at lr·λ = 2(1 + β): the recurrence z² + (1 + β)z + β = (z + 1)(z + β), ρ = 1
    bound = 2 * 1.9 / 50
    assert predicted_steps(spectral_radius("momentum", bound, [2.0, 50.0], {"momentum": 0.9}), 100.0, 1e-6) is None
    assert predicted_steps(0.5, 1.0, 1e-3) == 10  # 2⁻¹⁰ < 10⁻³ < 2⁻⁹


def test_sweep_runs_carry_the_stability_bound_and_points_print_as_elsewhere():
    doc = json.loads(run("sweep", "elongated", "-o", "gd,adam", "--num", "4", "-f", "json").out)
    by = {r["optimizer"]: r["stability_bound"] for r in doc["runs"]}
    assert by == {"gd": pytest.approx(0.04), "adam": None}
    text = run("sweep", "elongated", "--num", "4", "-f", "table", env={"COLUMNS": "120"}).out
    assert "Hessian at (0, 0)" in text


def test_sweep_exit_status_means_no_stable_rate():
    assert run("sweep", "elongated", "--num", "6", "--exit-status").code == 0  # runs past 2/λmax diverge: fine
    assert run("sweep", "saddle", "--num", "6", "--exit-status").code == 3
    assert run("sweep", "saddle", "--num", "6").code == 0


def test_lr_count_and_num_together_are_refused():
    assert_error(run("sweep", "elongated", "--lr", "0.01:0.1:5", "--num", "10"), 2, "--num")
    doc = json.loads(run("sweep", "elongated", "--lr", "0.01:0.1:5", "-f", "json").out)
    assert doc["num"] == 5


def test_stability_map_grid_prints_short():
    from gradlab.descent.stability import stability_map

    m = stability_map(builtin()["elongated"], "momentum", (0.01, 0.1), (0.0, 0.9), num_lr=10, num_beta=4,
                      steps=50, log=False)
    assert [repr(v) for v in m.lrs] == [repr(round(0.01 * k, 2)) for k in range(1, 11)]
    assert [repr(v) for v in m.betas] == ["0.0", "0.3", "0.6", "0.9"]
    assert all(e is None or len(repr(e)) <= 14 for e in m.edge)


# --------------------------------------------------------------- slopes with no curvature
# f = s·x + y² − c·y has H = diag(0, 2): no curvature along x, where ∇f = s never changes.
# gd from (1, 1): x_k = 1 − lr·s·k, so f falls by lr·s² a step for ever (f → −∞, no
# minimum), while y_k = c/2 + (1 − c/2)(1 − 2lr)^k settles iff lr < 1. No rate is stable.
SLOPES = [("-x + y**2", -1, 0), ("x + y**2", 1, 0), ("-x - y + y**2", -1, 1)]


@pytest.mark.parametrize("text, s, c", SLOPES)
def test_a_slope_with_no_curvature_has_no_stable_rate(text, s, c):
    res = run_sweep(_inline(text, ["1", "1"]), ["gd"], 1e-3, 3.0, num=10, steps=1000)
    o = _answer(res, "gd")
    lrs = np.array([sp.lr for sp in res.runs.specs])
    K = 1000
    below = lrs < 1
    x = 1 - lrs[below] * s * K
    y = c / 2 + (1 - c / 2) * (1 - 2 * lrs[below]) ** K
    # the runs below lr = 1 follow the closed form: f falls linearly, without end
    assert res.runs.f[below] == pytest.approx(s * x + y**2 - c * y, rel=1e-9, abs=1e-9)
    assert list(res.verdicts[below]) == ["unbounded"] * int(below.sum())
    assert list(res.verdicts[~below]) == ["diverged"] * int((~below).sum())  # |1 − 2lr| > 1: y blows up
    assert not res.stable.any() and o.largest_stable_lr is None and o.unbounded
    # the explanation names the slope: size |s| along −s·(1, 0), f lower by lr·s² a step
    assert f"part of size 1 along ({-s}, 0)" in o.explanation and "by lr·1 a step" in o.explanation


def test_slope_sweep_reads_as_unbounded_in_every_format():
    args = ("sweep", "-x + y**2", "--start", "1,1", "--lr", "0.001:0.5:4")
    plain = run(*args)
    assert plain.code == 0
    rows = [line.split("\t") for line in plain.out.splitlines()]
    assert [(r[5], r[-1]) for r in rows] == [("false", "unbounded")] * 4  # stable, verdict
    doc = json.loads(run(*args, "-f", "json").out)
    assert doc["optimizers"][0]["unbounded"] is True and doc["largest_stable_lr"] == {"gd": None}
    assert {r["verdict"] for r in doc["runs"]} == {"unbounded"} and not any(r["stable"] for r in doc["runs"])
    table = run(*args, "-f", "table", env={"COLUMNS": "80"})
    assert table.out.count(" unbounded ") == 4 and "slope with no curvature" in table.out
    # --exit-status: no stable rate, as on the saddle
    assert run(*args, "--exit-status").code == 3


def test_a_bowl_keeps_its_edge_and_has_no_slope():
    # x² + y²: gd multiplies x and y by 1 − 2lr: stable iff lr < 1; nothing is flat
    res = run_sweep(_inline("x**2 + y**2", ["1", "1"]), ["gd"], 1e-2, 3.0, num=20, steps=1000)
    o = _answer(res, "gd")
    assert abs(o.largest_stable_lr - 1) <= o.precision and not o.unbounded
    assert "unbounded" not in set(res.verdicts)


def test_logistic_loss_is_stable_below_one_though_its_infimum_is_not_attained():
    # f = log(1 + e^−x) + y² from (1, 1): f_x = −σ(−x) < 0 everywhere, so gd's x only grows
    # (x_k → ∞, f → its infimum 0, never attained) and never diverges, whatever lr; y is
    # multiplied by 1 − 2lr: the edge is 1 = 2/λ_y. H_xx = σ(x)σ(−x) > 0 is never 0.
    res = run_sweep(_inline("log(1 + exp(-x)) + y**2", ["1", "1"]), ["gd"], 1e-2, 3.0, num=12, steps=1000)
    o = _answer(res, "gd")
    assert o.largest_stable_lr <= 1 <= o.first_unstable_lr and not o.unbounded
    assert "unbounded" not in set(res.verdicts)
    assert "no minimum is known" in o.explanation and "log(1 + e^−x)" in o.explanation
    # an independent scalar gd at lr = 1/2: x climbs monotonically, as the runs' end shows
    x, lr = 1.0, 0.5
    for _ in range(1000):
        x_new = x + lr / (1 + math.exp(x))
        assert x_new > x
        x = x_new
    j = int(np.argmin(np.abs(np.array([sp.lr for sp in res.runs.specs]) - 0.5)))
    lr_j = res.runs.specs[j].lr
    xj = 1.0
    for _ in range(1000):
        xj += lr_j / (1 + math.exp(xj))
    assert res.runs.x[0, j] == pytest.approx(xj, rel=1e-9)


def test_verdicts_name_the_saddle_escaping_and_the_slope_unbounded():
    from gradlab.calculus.parsing import parse
    from gradlab.descent.runs import Objective, RunSpec, descend
    from gradlab.descent.sweep import verdicts

    # x² − y²: y_k = 0.5·1.02^k grows (f falls); −x + y²: x_k = 1 + k/100; x² + y²: 0.8^k → 0
    for text, lr, want in (("x**2 - y**2", 0.01, "escaping"), ("-x + y**2", 0.01, "unbounded"),
                           ("x**2 + y**2", 0.1, "converged")):
        obj = Objective(parse(text))
        runs = descend(obj, [RunSpec("gd", lr, (1.0, 0.5))], 200, 1e-6, watch=100)
        f0 = float(obj.f(np.array([1.0, 0.5]))[0])
        assert verdicts(runs, f0, obj).tolist() == [want], text


# quadratics ½xᵀAx + bᵀx: a minimum exists iff b has no part in A's null space
@settings(max_examples=6, deadline=None)
@given(a=st.integers(1, 6), d=st.integers(1, 6), c=st.integers(-2, 2), b1=st.integers(-3, 3), b2=st.integers(-3, 3))
def test_a_linear_term_keeps_a_positive_definite_quadratics_edge(a, d, c, b1, b2):
    assume(a * d - c * c >= 1)  # positive definite: a minimum at −A⁻¹b
    lam_max = (a + d) / 2 + math.sqrt(((a - d) / 2) ** 2 + c * c)
    f = f"{a}*x**2/2 + {c}*x*y + {d}*y**2/2 + ({b1})*x + ({b2})*y"
    edge = 2 / lam_max
    res = run_sweep(_inline(f, ["1", "1"]), ["gd"], edge / 20, 3 * edge, num=12, steps=2000)
    o = _answer(res, "gd")
    assert abs(o.largest_stable_lr - edge) <= o.precision * 1.01 and not o.unbounded


@settings(max_examples=6, deadline=None)
@given(lam=st.integers(1, 4), p=st.integers(-2, 2), q=st.integers(-2, 2), b1=st.integers(-3, 3),
       b2=st.integers(-3, 3))
def test_a_singular_quadratic_with_a_slope_along_its_null_space_has_no_stable_rate(lam, p, q, b1, b2):
    # f = (λ/2)(p·x + q·y)² + b·(x, y): H = λ(p, q)(p, q)ᵀ has eigenvalues 0 and λ(p² + q²),
    # null space along u = (−q, p); ∇f·u = b·u at every point, so if b·u ≠ 0 f has no minimum
    assume((p, q) != (0, 0) and -q * b1 + p * b2 != 0)
    f = f"{lam}*({p}*x + ({q})*y)**2/2 + ({b1})*x + ({b2})*y"
    edge = 2 / (lam * (p * p + q * q))  # where the curved direction blows up
    res = run_sweep(_inline(f, ["1", "1"]), ["gd"], edge / 100, 3 * edge, num=10, steps=1000)
    o = _answer(res, "gd")
    assert o.largest_stable_lr is None and not res.stable.any() and o.unbounded
    alive = res.runs.status != "diverged"
    assert alive.any() and set(res.verdicts[alive]) == {"unbounded"}
    slope = abs(-q * b1 + p * b2) / math.hypot(p, q)
    assert f"part of size {slope:.4g}" in o.explanation
