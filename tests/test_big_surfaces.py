"""Large surfaces: the linear CSE, the unsorted printing past LARGE_N variables, the
sparse gradient, the exact Hessian at a rational point, and the engines' bits on
100-D and 200-D Rosenbrock."""

from __future__ import annotations

import numpy as np
import pytest
import sympy
from hypothesis import given, settings, strategies as st
from sympy.simplify.cse_main import tree_cse as sympys_tree_pass

from gradlab.calculus import derivatives as d
from gradlab.calculus import numeric
from gradlab.calculus.pointhessian import hessian_at
from gradlab.calculus.treecse import tree_cse
from gradlab.descent import runs as runs_module
from gradlab.descent import theory
from gradlab.descent.runs import Objective, RunSpec, descend
from gradlab.descent.scalar import SCALAR_MAX_N
from gradlab.surfaces import resolve
from tests.test_fast_paths import assert_same_runs

X = sympy.symbols("x y z", real=True)


# --------------------------------------------------------------------------- expressions
def _grow(children):
    return st.one_of(
        st.tuples(children, children).map(lambda t: t[0] + t[1]),
        st.tuples(children, children).map(lambda t: t[0] - t[1]),
        st.tuples(children, children).map(lambda t: t[0] * t[1]),
        st.tuples(children, st.integers(2, 3)).map(lambda t: t[0] ** t[1]),
        children.map(sympy.sin),
        children.map(sympy.cos),
    )


leaves = st.one_of(st.sampled_from(X), st.integers(-3, 3).map(sympy.Integer),
                   st.sampled_from([sympy.Rational(1, 2), sympy.Rational(-3, 4)]))
exprs = st.recursive(leaves, _grow, max_leaves=10)
# systems whose members share subexpressions, the case CSE is for
systems = st.lists(exprs, min_size=2, max_size=4).map(
    lambda es: [*es, es[0] * es[1] + sympy.sin(es[0]), (es[0] - es[1]) ** 2 + es[1]])


def _expand(replacements, reduced):
    """The expressions back, each temporary replaced by what it names (unevaluated)."""
    full: dict = {}
    with sympy.evaluate(False):
        for sym, sub in replacements:
            full[sym] = sub.xreplace(full)
        return [r.xreplace(full) for r in reduced]


@given(systems)
def test_tree_cse_only_names_subexpressions(system):
    replacements, reduced = tree_cse(system)
    assert _expand(replacements, reduced) == system
    temporaries = [s for s, _ in replacements]
    for k, (_, sub) in enumerate(replacements):  # each uses only earlier temporaries
        assert sub.free_symbols & set(temporaries) <= set(temporaries[:k])
    assert len(set(temporaries)) == len(temporaries)


@given(systems)
def test_tree_cse_finds_the_temporaries_of_sympys_tree_pass(system):
    # sympy.cse's own tree pass, without its opt_cse rewrites, names the same repeated
    # subexpressions (it re-evaluates what it rebuilds: compare them expanded)
    replacements, _ = tree_cse(system)
    ours = set(_expand(replacements, [sub for _, sub in replacements]))
    theirs, _ = sympys_tree_pass(system, sympy.numbered_symbols("_t"), opt_subs={}, order="none")
    full: dict = {}
    for sym, sub in theirs:
        full[sym] = sub.xreplace(full)
    assert set(full.values()) == ours


@settings(deadline=None)
@given(systems, st.lists(st.floats(-2, 2), min_size=3, max_size=3))
def test_tree_cse_gives_the_bits_of_the_expressions_computed_whole(system, point):
    # naming a subexpression changes no operation and no order: the printed code with the
    # temporaries computes bit for bit what the expressions printed whole compute
    printer = numeric._unsorted_printer([numeric._FLOAT_FUNCS, "numpy"], system)
    whole = sympy.lambdify(X, system, modules=[numeric._FLOAT_FUNCS, "numpy"], printer=printer)
    shared = sympy.lambdify(X, system, modules=[numeric._FLOAT_FUNCS, "numpy"], cse=tree_cse,
                            printer=numeric._unsorted_printer([numeric._FLOAT_FUNCS, "numpy"], system))
    xs = [np.array([v, v / 3, -v]) for v in point]
    with np.errstate(all="ignore"):
        a = [np.broadcast_to(np.asarray(v, dtype=float), (3,)) for v in whole(*xs)]
        b = [np.broadcast_to(np.asarray(v, dtype=float), (3,)) for v in shared(*xs)]
    for u, v in zip(a, b):
        assert np.array_equal(u, v, equal_nan=True)


def test_tree_cse_avoids_names_the_expressions_use():
    c0 = sympy.Symbol("_c0")
    replacements, reduced = tree_cse([sympy.sin(c0 + X[0]) + (c0 + X[0]) ** 2])
    assert [s.name for s, _ in replacements] == ["_c1"]


def test_the_scalar_loops_never_meet_the_large_path():
    # descent/scalar.py prints its own code with SymPy's sorted printer and sympy.cse: it
    # must only ever see systems below LARGE_N variables, or the engines' bits part
    assert SCALAR_MAX_N <= numeric.LARGE_N


# --------------------------------------------------------------------------- derivatives
terms = st.recursive(leaves, _grow, max_leaves=6)


@settings(deadline=None)
@given(st.lists(terms, min_size=1, max_size=6))
def test_the_sparse_gradient_is_sympys_derivative_of_the_whole_sum(parts):
    f = sympy.Add(*parts)
    got = d.gradient(f, X)
    assert got == tuple(sympy.diff(f, v) for v in X)
    assert got == tuple(d._diff(f, v) if v in f.free_symbols else 0 for v in X)


def test_the_sparse_gradient_of_abs_terms_is_the_whole_sums():
    x, y, z = X
    f = sympy.Abs(x - y) + x * sympy.Abs(z) + y**2 + sympy.sign(z) * x
    assert d.gradient(f, X) == tuple(d._diff(f, v) for v in X)


# a long sum of local terms: each of a few shapes (built on x, y, z) moved onto
# consecutive variables x1 … x40 (x9 and x10 sort the other way round from x1 and x2),
# with a few terms of a shape of their own and a term that repeats another's variables
VS = sympy.symbols("x1:41", real=True)
shaped = st.recursive(st.one_of(st.sampled_from(X[:2]), st.integers(-3, 3).map(sympy.Integer),
                                st.sampled_from([sympy.Rational(1, 2), sympy.Rational(-3, 4)])), _grow, max_leaves=6)


@settings(deadline=None, max_examples=60)
@given(st.lists(shaped, min_size=1, max_size=3), st.lists(terms, max_size=3), st.integers(0, 38))
def test_the_termwise_gradient_is_the_sparse_gradient_to_the_bit(shapes, extra, start):
    from gradlab.calculus import termwise

    parts = [sh.xreplace({X[0]: VS[i], X[1]: VS[i + 1]}) for sh in shapes for i in range(39)]
    parts += [e.xreplace(dict(zip(X, VS[start:start + 2] + VS[:1]))) for e in extra]
    f = sympy.Add(*parts)
    got, want = termwise.gradient(f, VS), d.gradient(f, VS)
    # the same expressions, built the same way: equal, and printed the same
    assert got == want and [str(g) for g in got] == [str(w) for w in want]
    assert [sympy.srepr(g) for g in got] == [sympy.srepr(w) for w in want]


@pytest.mark.parametrize("name", ["rosenbrock-nd", "quadratic-nd"])
@pytest.mark.parametrize("n", [2, 3, 50, 1000])
def test_the_families_gradients_are_the_sparse_gradients_to_the_bit(name, n):
    from gradlab.calculus import termwise

    if name == "quadratic-nd" and n < 2:
        return
    p = resolve(name, dims=n)[0].parsed
    got, want = termwise.gradient(p.expr, p.variables), d.gradient(p.expr, p.variables)
    assert [sympy.srepr(g) for g in got] == [sympy.srepr(w) for w in want]


def _rosenbrock_formula(x: list) -> tuple:
    """f and ∇f of Σ 100(x_{i+1} - x_i²)² + (1 - x_i)², written out here."""
    n = len(x)
    f = sum(100 * (x[i + 1] - x[i] ** 2) ** 2 + (1 - x[i]) ** 2 for i in range(n - 1))
    g = [0] * n
    for i in range(n - 1):
        g[i] += -400 * x[i] * (x[i + 1] - x[i] ** 2) - 2 * (1 - x[i])
        g[i + 1] += 200 * (x[i + 1] - x[i] ** 2)
    return f, g


@pytest.mark.parametrize("n", [2, 3, 50, 1000])
def test_rosenbrock_nd_f_and_gradient_are_the_formula_at_rational_points(n):
    """Exactly: f and every ∂f/∂x_i at random rational points are the textbook formula's."""
    from fractions import Fraction

    p = resolve("rosenbrock-nd", dims=n)[0].parsed
    grad = numeric.gradient(p.expr, p.variables)
    rng = np.random.default_rng(n)
    for _ in range(3):
        x = [Fraction(int(a), int(b)) for a, b in zip(rng.integers(-30, 30, n), rng.integers(1, 12, n))]
        at = {v: sympy.Rational(q.numerator, q.denominator) for v, q in zip(p.variables, x)}
        f, g = _rosenbrock_formula(x)
        assert p.expr.xreplace(at) == sympy.Rational(f.numerator, f.denominator)
        assert [e.xreplace(at) for e in grad] == [sympy.Rational(q.numerator, q.denominator) for q in g]


polynomials = st.recursive(st.one_of(st.sampled_from(X), st.integers(-3, 3).map(sympy.Integer),
                                     st.sampled_from([sympy.Rational(1, 2), sympy.Rational(-5, 3)])),
                           lambda c: st.one_of(st.tuples(c, c).map(lambda t: t[0] + t[1]),
                                               st.tuples(c, c).map(lambda t: t[0] * t[1]),
                                               st.tuples(c, st.integers(0, 3)).map(lambda t: t[0] ** t[1])),
                           max_leaves=8)
rationals = st.fractions(min_value=-3, max_value=3, max_denominator=7).map(lambda q: sympy.Rational(q.numerator,
                                                                                                     q.denominator))


@settings(deadline=None)
@given(polynomials, st.lists(rationals, min_size=3, max_size=3))
def test_the_hessian_at_a_rational_point_is_the_symbolic_one_substituted(f, point):
    grad = d.gradient(f, X)
    H = numeric.hessian(f, X, grad)
    pm = dict(zip(X, point))
    expected = {(i, j): e.xreplace(pm) for i, row in enumerate(H) for j, e in enumerate(row) if e is not sympy.S.Zero}
    got = hessian_at(grad, X, point)
    assert got == expected
    for k, v in got.items():  # the very numbers (an exact rational has one form)
        assert type(v) is type(expected[k])


def test_the_hessian_at_a_point_refuses_what_is_not_a_polynomial_at_a_rational_point():
    x, y, _ = X
    assert hessian_at(d.gradient(sympy.exp(x * y), X), X, (1, 1, 1)) is None
    assert hessian_at(d.gradient(x / y, X), X, (1, 1, 1)) is None
    assert hessian_at(d.gradient(x**2 * y, X), X, (sympy.sqrt(2), 1, 1)) is None


# --------------------------------------------------------------------------- Rosenbrock
def _rosenbrock(n: int):
    surface, _ = resolve("rosenbrock-nd", dims=n)
    return surface


def _gradient_by_hand(x: np.ndarray) -> np.ndarray:
    """Rosenbrock's gradient written out (an independent implementation)."""
    g = np.zeros_like(x)
    g[:-1] = -400 * x[:-1] * (x[1:] - x[:-1] ** 2) - 2 * (1 - x[:-1])
    g[1:] += 200 * (x[1:] - x[:-1] ** 2)
    return g


@pytest.mark.parametrize("n", [100, 200])
def test_large_rosenbrock_engines_give_the_same_bits(n, monkeypatch):
    s = _rosenbrock(n)
    obj = Objective(s.parsed, [[1.0] * n], 0.0, 2.0)
    rng = np.random.default_rng(n)
    X_ = rng.uniform(-1.5, 1.5, size=(n, 7))
    G_rows = np.empty((n, 7))
    obj.grad_into(G_rows, X_, *X_)
    G_arrays = obj.grad(X_)
    assert np.array_equal(G_rows, G_arrays)
    for k in range(7):
        assert np.allclose(G_arrays[:, k], _gradient_by_hand(X_[:, k]), rtol=1e-12, atol=1e-9)
    starts = [tuple(rng.uniform(-1.2, 1.2, size=n)) for _ in range(3)]
    specs = [RunSpec(o, lr, x0) for o in ("gd", "momentum", "adam") for lr in (1e-4, 2e-3) for x0 in starts]
    for stepwise in (1, 10**9):
        monkeypatch.setattr(runs_module, "STEPWISE_MIN", stepwise)
        fast = descend(obj, specs, 60, 1e-9)
        plain = descend(obj, specs, 60, 1e-9, fast=False)
        assert_same_runs(fast, plain)
        assert np.array_equal(fast.x, plain.x)
    for spec in specs[:2]:  # a single run beyond SCALAR_MAX_N: rows against the plain engine
        one, ref = descend(obj, [spec], 80, 1e-9), descend(obj, [spec], 80, 1e-9, fast=False)
        assert_same_runs(one, ref)
        assert np.array_equal(one.x, ref.x)


def test_large_rosenbrock_curvature_is_the_symbolic_routes(monkeypatch):
    s = _rosenbrock(100)
    p = s.parsed
    fast = theory.curvature_at(p.expr, p.variables, s.minima[0].point, "known minimum")
    monkeypatch.setattr("gradlab.calculus.pointhessian.hessian_at", lambda *a: None)
    slow = theory.curvature_at(p.expr, p.variables, s.minima[0].point, "known minimum")
    assert fast.hessian == slow.hessian and fast.eigenvalues == slow.eigenvalues
    assert fast.exact is None and slow.exact is None
    assert fast.quadratic is False and slow.quadratic is False
    assert fast.hessian[0][:2] == (802.0, -400.0) and fast.hessian[50][49:52] == (-400.0, 1002.0, -400.0)


def test_a_quadratic_family_is_quadratic_through_the_fast_route():
    s, _ = resolve("quadratic-nd", dims=80)
    p = s.parsed
    c = theory.curvature_at(p.expr, p.variables, s.minima[0].point, "known minimum")
    assert c.quadratic is True
    assert c.to_record()["quadratic"] is True


# --------------------------------------------------------------------------- expanding sums
SUM_BODIES = [
    "100*(x[i+1] - x[i]**2)**2 + (1 - x[i])**2",  # Rosenbrock: i only in subscripts
    "(x[i] - x[i+2])**2 + exp(x[i+1]/3) + sigmoid(x[i]) - relu(x[i+1])",
    "abs(x[i] - x[i+1]) + sqrt(x[i]**2 + 1)",
    "x[i]*x[n+1-i] + sin(x[i]) - x[2*i-1]**3/7",  # the order of the names changes often
    "xa*x[i] + y*x[i+1]**2 + w",  # other variables between and around the x names
    "x[i]*x[i] + x[i+1]/x[i]",
    "(1 + 99*(i-1)/(n-1))*x[i]**2",  # i outside a subscript: every term walked
    "sum(x[j]*x[i], j, 1, 3)",  # a nested sum: walked
]


@pytest.mark.parametrize("body", SUM_BODIES)
@pytest.mark.parametrize("n", [7, 23, 120])
def test_an_expanded_sum_is_the_term_by_term_walk_to_the_bit(body, n, monkeypatch):
    """sum(body, i, 1, m) builds the very expression walking each term builds (most terms
    are another one renamed, see renaming.expand_sum), errors included."""
    from gradlab.calculus import parsing, renaming
    from gradlab.calculus.parsing import Context, parse_scalar
    from gradlab.errors import GradlabError

    m = n // 2 if "2*i" in body else n - 2
    text = f"sum({body}, i, 1, {m}) + x[1]"

    def parsed():
        try:
            return sympy.srepr(parse_scalar(text, "e", Context(vector="x", dims=n)))
        except GradlabError as exc:
            return str(exc)

    got = parsed()
    monkeypatch.setattr(parsing._Walker, "terms",
                        lambda self, b, index, ks: [self.with_env({index: sympy.Integer(k)}, b) for k in ks])
    monkeypatch.setattr(renaming, "add", lambda ts: sympy.Add(*ts))
    assert got == parsed()


@pytest.mark.parametrize("text, n", [("sum(x[i] + x[i+1], i, 1, n)", 30),  # x[31] is out of range
                                     ("sum(x[i]**2, i, 1, n) + sum(x[i]*x[i+1], i, 1, n - 1)", 1000)])
def test_an_expanded_sum_keeps_the_parsers_errors_and_limits(text, n, monkeypatch):
    from gradlab.calculus import parsing
    from gradlab.calculus.parsing import Context, parse_scalar
    from gradlab.errors import GradlabError

    monkeypatch.setattr(parsing, "MAX_EXPANSION", 9000)  # the second text walks about 10,000 nodes

    def outcome():
        try:
            return sympy.srepr(parse_scalar(text, "e", Context(vector="x", dims=n)))
        except GradlabError as exc:
            return type(exc).__name__ + ": " + str(exc)

    got = outcome()
    assert got.startswith(("BadInput", "LimitExceeded"))
    monkeypatch.setattr(parsing._Walker, "terms",
                        lambda self, b, index, ks: [self.with_env({index: sympy.Integer(k)}, b) for k in ks])
    assert got == outcome()


@settings(deadline=None, max_examples=40)
@given(st.lists(st.one_of(shaped, terms), min_size=1, max_size=40))
def test_the_quick_sum_is_sympys_add(parts):
    from gradlab.calculus import renaming

    moved = [p.xreplace({X[0]: VS[i % 39], X[1]: VS[i % 39 + 1]}) for i, p in enumerate(parts)]
    assert sympy.srepr(renaming.add(moved)) == sympy.srepr(sympy.Add(*moved))
