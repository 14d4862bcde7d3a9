"""critical: sets of critical points that are not isolated, roots without radicals, and
the Newton search's shortcuts, checked against the mathematics.

Every reported set is sampled and ∇f (an independent central difference of f, written
here) must vanish on it; every reported isolated point must have ∇f = 0; the kinds come
from facts about f (a sum of squares is ≥ 0, exp is increasing).
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import sympy
from hypothesis import given, settings, strategies as st

from gradlab.calculus.critical import critical_points
from gradlab.calculus.parsing import parse, parse_scalar
from tests.conftest import assert_error, run

W = (-5.0, 5.0, -5.0, 5.0)


def _f(text: str, variables: str | None = None):
    """f as a plain Python function of floats (math module only)."""
    p = parse(text, variables)
    fn = sympy.lambdify(p.variables, p.expr, "math")
    return p, fn


def _grad(fn, x: list[float], h: float = 1e-6) -> list[float]:
    """Central differences, one coordinate at a time: no gradlab code involved."""
    out = []
    for i in range(len(x)):
        a, b = list(x), list(x)
        a[i] += h
        b[i] -= h
        out.append((fn(*a) - fn(*b)) / (2 * h))
    return out


def _sample_set(point, names: list[str], values: list[float]) -> list[float] | None:
    """A point of a reported set: the free variables take ``values``, the other
    coordinates are read back from the exact texts (gradlab syntax) and evaluated."""
    sub = dict(zip(point.free, values))
    coords = []
    for text in point.exact_texts():
        e = parse_scalar(text)
        e = e.xreplace({s: sympy.Float(sub[s.name], 30) for s in e.free_symbols})
        c = complex(sympy.N(e))
        if abs(c.imag) > 1e-12:
            return None
        coords.append(c.real)
    return coords


def _check_result(text: str, res) -> None:
    p, fn = _f(text, ",".join(v.name for v in res.parsed.variables))
    names = [v.name for v in p.variables]
    for pt in res.points:
        if pt.free:
            hits = 0
            for t in np.linspace(-2.3, 2.7, 7):
                x = _sample_set(pt, names, [float(t)] * len(pt.free))
                if x is None:
                    continue
                hits += 1
                g = _grad(fn, x)
                assert max(abs(v) for v in g) < 1e-5 * max(1.0, abs(fn(*x))), (text, pt, x, g)
                assert fn(*x) == pytest.approx(pt.f, rel=1e-9, abs=1e-12)  # f is constant on the set
            assert hits, (text, pt)
        else:
            g = _grad(fn, list(pt.value))
            assert max(abs(v) for v in g) < 1e-5 * max(1.0, abs(pt.f)), (text, pt, g)


# ----------------------------------------------------------------- sets: table of facts
@pytest.mark.parametrize("text, sets, kind, isolated", [
    # f = exp(x²y²) ≥ 1 = f on the axes: every point of both axes is a (non-strict) minimum
    ("exp(x**2*y**2)", 2, "minimum (non-isolated)", 0),
    ("x**2*y**2", 2, "minimum (non-isolated)", 0),
    # (x - y)² ≥ 0, zero exactly on y = x
    ("(x-y)**2", 1, "minimum (non-isolated)", 0),
    ("3 - (x-y)**2", 1, "maximum (non-isolated)", 0),
    # the circle x² + y² = 1 (two halves), and the origin, a strict local maximum (f = 1)
    ("(x**2+y**2-1)**2", 2, "minimum (non-isolated)", 1),
    # the hyperbola xy = 1, and the origin: a saddle of (xy - 1)² (f = 1 - 2xy + …)
    ("(x*y-1)**2", 1, "minimum (non-isolated)", 1),
    # xyz: ∇f = (yz, xz, xy) vanishes where two coordinates are 0: the three axes; near
    # a point of an axis f takes both signs, so no extremum is claimed
    ("x*y*z", 3, "degenerate (non-isolated)", 0),
    # x²y²z² vanishes, with its gradient, on the three coordinate planes; the axes where
    # its gradient's components meet lie in those planes and are not listed again
    ("x**2*y**2*z**2", 3, "minimum (non-isolated)", 0),
])
def test_sets_of_critical_points_are_reported_as_sets(text, sets, kind, isolated):
    res = critical_points(parse(text), W, timeout=60)
    found = [p for p in res.points if p.free]
    assert len(found) == sets, res.points
    assert len({tuple(p.exact_texts()) for p in found}) == sets  # no set twice
    assert {p.classification for p in found} == {kind}
    assert len([p for p in res.points if not p.free]) == isolated, res.points
    _check_result(text, res)


def test_the_isolated_points_beside_sets_are_classified():
    circle = critical_points(parse("(x**2+y**2-1)**2"), W, timeout=60)
    (origin,) = [p for p in circle.points if not p.free]
    assert origin.value == (0.0, 0.0) and origin.f == 1.0 and origin.classification == "maximum"
    hyperbola = critical_points(parse("(x*y-1)**2"), W, timeout=60)
    (origin,) = [p for p in hyperbola.points if not p.free]
    assert origin.value == (0.0, 0.0) and origin.classification == "saddle"


def test_a_set_names_its_free_variables_and_its_constant_coordinates():
    res = critical_points(parse("exp(x**2*y**2)"), W, timeout=60)
    rows = {p.free: p for p in res.points}
    assert set(rows) == {("x",), ("y",)}
    assert rows[("y",)].value == (0.0, None) and rows[("y",)].exact_texts() == ["0", "y"]
    assert rows[("x",)].value == (None, 0.0) and rows[("x",)].exact_texts() == ["x", "0"]
    assert all(p.f == 1.0 and p.eigenvalues == () for p in res.points)


@settings(max_examples=12, deadline=None)
@given(a=st.integers(-4, 4), b=st.integers(-4, 4), c=st.integers(-4, 4))
def test_a_squared_linear_form_has_one_line_of_minima(a, b, c):
    """(a·x + b·y + c)²: ∇f = 2(ax + by + c)·(a, b) vanishes exactly on the line
    ax + by + c = 0 (a or b nonzero), where f = 0 is its least value."""
    if a == 0 and b == 0:
        return
    text = f"({a}*x + {b}*y + {c})**2"
    res = critical_points(parse(text, "x,y"), W, timeout=60)  # f of y alone is still f(x, y)
    assert len(res.points) == 1, res.points
    (line,) = res.points
    assert len(line.free) == 1 and line.classification == "minimum (non-isolated)" and line.f == 0.0
    assert line.value_cell().startswith("a line")
    _check_result(text, res)


def test_sin_of_one_variable_gives_the_window_s_critical_points_only():
    """sin' = cos vanishes at π/2 + kπ: in [-5, 5] that is ±π/2 and ±3π/2, alternately
    maxima and minima; nothing outside the window, nothing twice."""
    res = critical_points(parse("sin(x)"), W, timeout=60)
    got = sorted(p.value[0] for p in res.points)
    assert got == pytest.approx([-3 * math.pi / 2, -math.pi / 2, math.pi / 2, 3 * math.pi / 2], abs=1e-12)
    kinds = [p.classification for p in sorted(res.points, key=lambda p: p.value)]
    assert kinds == ["maximum", "minimum", "maximum", "minimum"]


# ----------------------------------------------------------------- roots without radicals
def test_a_quintic_root_is_an_exact_critical_point():
    """∂f/∂x = x⁵ - x + 1 has exactly one real root (x⁵ - x + 1 is increasing past
    ±5^(-1/4), and its local max/min values are both positive), near -1.1673; ∂f/∂y = 2y."""
    res = critical_points(parse("x**6/6 - x**2/2 + x + y**2"), W, timeout=60)
    assert res.exact_status.startswith("1 real point")
    (p,) = res.points
    x = p.value[0]
    assert abs(x ** 5 - x + 1) < 1e-12 and p.value[1] == 0.0
    assert "exact" in p.method and p.classification == "minimum"  # f'' = 5x⁴ - 1 > 0 there, and 2
    rec = p.to_record()
    assert rec["point_exact"] == [None, "0"]
    # the polynomial reads back in gradlab's syntax, and x is its root
    poly = parse_scalar(rec["point_roots"][0])
    assert abs(float(poly.subs(sympy.Symbol("x", real=True), x))) < 1e-12


def test_the_quintic_in_the_cli_prints_what_reads_back():
    doc = json.loads(run("critical", "x**6/6 - x**2/2 + x + y**2", "--timeout", "60", "-f", "json").out)
    (p,) = doc["points"]
    assert p["point_roots"][0] == "x**5 - x + 1" and p["free"] == []
    r = run("eval", p["point_roots"][0], "--at", repr(p["point"][0]), "-f", "json")
    assert abs(json.loads(r.out)["result"]["value"]) < 1e-12


# ----------------------------------------------------------------- the CLI's rows
def test_plain_rows_of_a_set_keep_the_columns():
    """columns: x, y, f, eig_1, eig_2, classification, method, x_exact, y_exact."""
    r = run("critical", "(x-y)**2", "--timeout", "60", "-f", "plain")
    assert r.code == 0, r
    (row,) = [line.split("\t") for line in r.out.splitlines()]
    assert row == ["NA", "NA", "0.0", "NA", "NA", "minimum (non-isolated)", "exact, numeric", "y", "y"]


def test_json_records_of_a_set():
    doc = json.loads(run("critical", "x**2*y**2", "--timeout", "60", "-f", "json").out)
    assert sorted(tuple(p["free"]) for p in doc["points"]) == [("x",), ("y",)]
    for p in doc["points"]:
        assert p["eigenvalues"] is None and p["f"] == 0.0
        fixed = [i for i, t in enumerate(p["point_exact"]) if t not in p["free"]]
        assert [p["point"][i] for i in fixed] == [0.0]
    assert "2 sets" in doc["exact_solve"]


# ----------------------------------------------------------------- the Newton search's shortcuts
def _plain_newton(grad, hess, window, steps: int = 60) -> np.ndarray:
    """Newton from the same 15×15 grid, every start for every step, no shortcut: the
    search as it was before starts could stop early (independent of gradlab)."""
    xmin, xmax, ymin, ymax = window
    X = np.stack([m.ravel() for m in np.meshgrid(np.linspace(xmin, xmax, 15), np.linspace(ymin, ymax, 15))])
    with np.errstate(all="ignore"):
        for _ in range(steps):
            G, H = grad(*X), hess(*X)
            for k in range(X.shape[1]):
                g, h = G[:, k], H[:, :, k]
                if np.isfinite(g).all() and np.isfinite(h).all():
                    X[:, k] = X[:, k] - np.linalg.pinv(h, rcond=1e-12) @ g
        gn = np.linalg.norm(grad(*X), axis=0)
    scale = max(1.0, *(abs(w) for w in window))
    inside = (X[0] >= xmin) & (X[0] <= xmax) & (X[1] >= ymin) & (X[1] <= ymax)
    found = X[:, (gn < 1e-8 * scale) & inside].T
    keep: list[np.ndarray] = []
    for p in found:
        if all(np.linalg.norm(p - q) > 1e-6 * scale for q in keep):
            keep.append(p)
    return np.array(sorted(map(tuple, keep)))


def test_the_search_finds_what_plain_newton_finds():
    """f = sin x · cos y: ∇f = (cos x cos y, -sin x sin y); its critical points in the
    window are the lattice (π/2 + kπ, mπ) and (kπ, π/2 + mπ)."""
    from gradlab.calculus.critical import numeric_critical

    def grad(x, y):
        return np.array([np.cos(x) * np.cos(y), -np.sin(x) * np.sin(y)])

    def hess(x, y):
        a, b = -np.sin(x) * np.cos(y), -np.cos(x) * np.sin(y)
        return np.array([[a, b], [b, a]])

    want = _plain_newton(grad, hess, W)
    got = np.array(sorted(numeric_critical(parse("sin(x)*cos(y)"), W)))
    assert got.shape == want.shape and np.allclose(got, want, rtol=0, atol=1e-9)
    for x, y in got:  # and each is on the lattice
        on_a = abs(math.remainder(x - math.pi / 2, math.pi)) < 1e-9 and abs(math.remainder(y, math.pi)) < 1e-9
        on_b = abs(math.remainder(x, math.pi)) < 1e-9 and abs(math.remainder(y - math.pi / 2, math.pi)) < 1e-9
        assert on_a or on_b, (x, y)


def test_a_start_caught_in_a_newton_cycle_gives_no_point():
    """f' = x³ - 2x + 2: Newton from 0 goes to 1 and back to 0 for ever (the textbook
    2-cycle). Its one real root (discriminant -76 < 0) is the only critical point."""
    from gradlab.calculus.critical import numeric_critical

    window = (-2.0, 2.0, -2.0, 2.0)  # one of the 15 starts on [-2, 2] is 0
    assert 0.0 in np.linspace(-2, 2, 15)
    (point,) = numeric_critical(parse("x**4/4 - x**2 + 2*x"), window)
    x = point[0]
    assert abs(x ** 3 - 2 * x + 2) < 1e-12 and -1.8 < x < -1.7


def test_a_data_surface_in_row_form_has_plain_newton_s_minimum():
    """A logistic loss over 400 rows kept in row form (mean over rows with NumPy): its
    minimum is where an independent NumPy Newton on the same rows arrives."""
    from gradlab.calculus.parsing import Context, Parsed, symbol, variables_of

    rng = np.random.default_rng(3)
    xs = [sympy.Rational(int(v), 100) for v in rng.integers(-200, 200, 400)]
    ys = [sympy.Integer(int(v)) for v in rng.integers(0, 2, 400)]
    text = "mean(softplus(w*x + b) - y*(w*x + b)) + (w**2 + b**2)/100"
    expr = parse_scalar(text, ctx=Context(columns={"x": tuple(xs), "y": tuple(ys)}, expand_rows=0))
    variables = (symbol("w"), symbol("b"))
    assert set(variables_of([expr])) == set(variables)
    res = critical_points(Parsed(text, (expr,), variables), (-3, 3, -3, 3), timeout=5)
    (p,) = res.points
    X, Y = np.array([float(v) for v in xs]), np.array([float(v) for v in ys])
    t = np.zeros(2)
    for _ in range(50):  # Newton on the convex loss from 0
        s = 1 / (1 + np.exp(-(t[0] * X + t[1])))
        g = np.array([np.mean((s - Y) * X), np.mean(s - Y)]) + t / 50
        h = np.array([[np.mean(s * (1 - s) * X * X), np.mean(s * (1 - s) * X)],
                      [np.mean(s * (1 - s) * X), np.mean(s * (1 - s))]]) + np.eye(2) / 50
        t = t - np.linalg.solve(h, g)
    assert np.allclose(p.value, t, rtol=0, atol=1e-10) and p.classification == "minimum"


def test_a_periodic_f_has_every_period_s_set_in_the_window():
    """sin(x + y): ∇f = cos(x + y)·(1, 1) vanishes on the lines x + y = π/2 + kπ; in
    [-5, 5]² x + y runs over [-10, 10], which holds k = -3 … 2 (|π/2 + kπ| ≤ 10). On
    each line sin = ±1, its largest or least value: maxima for even k, minima for odd."""
    res = critical_points(parse("sin(x+y)"), W, timeout=60)
    assert all(p.free == ("y",) for p in res.points)
    y = sympy.Symbol("y", real=True)
    got = {sympy.simplify(parse_scalar(p.exact_texts()[0]) + y) / sympy.pi: p.classification for p in res.points}
    want = {sympy.Rational(1, 2) + k: "maximum (non-isolated)" if k % 2 == 0 else "minimum (non-isolated)"
            for k in range(-3, 3)}
    assert got == want
    _check_result("sin(x+y)", res)


def test_no_common_factor_in_many_variables_is_seen_at_once():
    """Rosenbrock in 60 variables: ∂f/∂x1 = -400x1(x2 - x1²) - 2(1 - x1) is irreducible
    (degree 1 in x2 with coprime coefficients -400x1 and 400x1³ - 2 + 2x1), and does not
    divide ∂f/∂x2, which has x3 in it: no factor is shared, no set to split off."""
    from gradlab.calculus.critical import _common_factor
    from gradlab.calculus.derivatives import gradient
    from gradlab.resolve import surface

    p = surface("rosenbrock-nd", None, 60).parsed
    assert len(p.variables) == 60
    assert _common_factor(gradient(p.expr, p.variables), p.variables) is None
    # a shared factor is found: ∇((x1 + … + x6)²) = 2(x1 + … + x6)·(1, …, 1)
    q = parse("(" + " + ".join(f"x{i}" for i in range(1, 7)) + ")**2")
    g, rest = _common_factor(gradient(q.expr, q.variables), q.variables)
    assert sympy.expand(g * rest[0] - 2 * sum(q.variables)) == 0 and sympy.expand(g - sum(q.variables)).is_number is not None
    assert all(r.is_number for r in rest) and not g.is_number


# --------------------------------------------------------------------------- many variables
def _rosenbrock_grad(x: np.ndarray) -> np.ndarray:
    """∇ of Σ 100(x_{i+1} - x_i²)² + (1 - x_i)², written out by hand."""
    g = np.zeros_like(x)
    g[:-1] += -400 * x[:-1] * (x[1:] - x[:-1] ** 2) - 2 * (1 - x[:-1])
    g[1:] += 200 * (x[1:] - x[:-1] ** 2)
    return g


def _rosenbrock_hessian(x: np.ndarray) -> np.ndarray:
    """Its Hessian, tridiagonal: 1200x_i² - 400x_{i+1} + 2 (+ 200 past the first) on the
    diagonal, -400x_i beside it."""
    n = len(x)
    H = np.zeros((n, n))
    for i in range(n):
        if i < n - 1:
            H[i, i] += 1200 * x[i] ** 2 - 400 * x[i + 1] + 2
            H[i, i + 1] = H[i + 1, i] = -400 * x[i]
        if i > 0:
            H[i, i] += 200
    return H


@pytest.mark.parametrize("n", [3, 4, 5, 6, 7])
def test_rosenbrock_nd_has_one_minimum_for_3_and_two_for_4_to_7(n):
    """The extended Rosenbrock function has exactly one minimum for n = 3, (1, 1, 1), and
    exactly two for 4 ≤ n ≤ 7: the global one at (1, …, 1), f = 0, and a local one near
    (-1, 1, …, 1) (Kok and Sandrock 2009, as Wikipedia's Rosenbrock page reports). Each
    minimum found is checked with ∇f and the Hessian written out here."""
    from gradlab.resolve import surface

    s = surface("rosenbrock-nd", None, n)
    res = critical_points(s.parsed, s.window, timeout=5)
    minima = [np.array(p.value) for p in res.points if p.classification == "minimum"]
    assert len(minima) == (1 if n == 3 else 2)
    for x in minima:
        assert np.linalg.norm(_rosenbrock_grad(x)) < 1e-8
        assert np.linalg.eigvalsh(_rosenbrock_hessian(x))[0] > 0
    glob = [x for x in minima if np.allclose(x, 1, rtol=0, atol=1e-9)]
    assert len(glob) == 1
    if n > 3:
        (local,) = [x for x in minima if x[0] < 0]
        assert local[0] < -0.7 and np.all(local[1:] > 0)  # near (-1, 1, …, 1)


def test_rosenbrock_in_50_variables_has_its_minimum_at_ones():
    """In 50 variables the global minimum (1, …, 1), f = 0, is among the points found, and
    every point reported has ∇f = 0 and the Hessian's kind by the formulas written here."""
    from gradlab.resolve import surface

    s = surface("rosenbrock-nd", None, 50)
    res = critical_points(s.parsed, s.window, timeout=5)
    ones = [p for p in res.points if np.allclose(p.value, 1, rtol=0, atol=1e-9)]
    assert len(ones) == 1 and ones[0].classification == "minimum" and abs(ones[0].f) < 1e-20
    for p in res.points:
        x = np.array(p.value)
        assert np.linalg.norm(_rosenbrock_grad(x)) < 1e-8
        low = np.linalg.eigvalsh(_rosenbrock_hessian(x))[0]
        assert (low > 0) == (p.classification == "minimum")


def test_more_variables_than_the_search_takes_is_one_line_exit_2():
    """Past MAX_VARIABLES critical refuses before any work: exit 2, one line."""
    from gradlab.calculus.critical import MAX_VARIABLES
    from gradlab.errors import LimitExceeded

    text = " + ".join(f"x{i}**2" for i in range(1, MAX_VARIABLES + 2))
    with pytest.raises(LimitExceeded, match=f"{MAX_VARIABLES + 1} variables"):
        critical_points(parse(text), W, timeout=5)
    assert_error(run("critical", "rosenbrock-nd", "--dims", str(MAX_VARIABLES + 1)), 2, "at most")


@settings(max_examples=30, deadline=None)
@given(st.integers(5, 12), st.integers(0, 2**32 - 1))
def test_newton_steps_solve_h_step_equals_g(n, seed):
    """The batched step solves H·s = g for regular Hessians, and is the pseudo-inverse's
    (the least-squares step), to the damping, for a singular one in the same batch."""
    from gradlab.calculus.critical import _newton_steps

    rng = np.random.default_rng(seed)
    H = rng.normal(size=(4, n, n))
    H = H + np.swapaxes(H, 1, 2)
    h = rng.normal(size=n)
    H[2] = np.outer(h, h)  # rank one: singular (to rounding)
    G = rng.normal(size=(4, n))
    S = _newton_steps(H, G)
    for r in (0, 1, 3):  # LU's backward error: ‖Hs - g‖ ≤ c·ε·‖H‖‖s‖
        assert np.linalg.norm(H[r] @ S[r] - G[r]) <= 1e-12 * np.linalg.norm(H[r]) * np.linalg.norm(S[r])
    # H = λ u uᵀ: H⁺g = (uᵀg / λ) u; the damped step (H² + δ²)⁻¹Hg is that times
    # λ²/(λ² + δ²) = 1/(1 + 1e-10), with the rounding of a solve of condition 1e10
    u, lam = h / np.linalg.norm(h), h @ h
    want = (u @ G[2]) / lam * u
    assert np.abs(S[2] - want).max() <= 1e-4 * np.abs(want).max()
