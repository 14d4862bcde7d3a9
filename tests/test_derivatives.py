"""Calculus facts from the mathematics: gradients, Jacobians, Hessians, directions."""

from __future__ import annotations

import json

import numpy as np
import pytest
import sympy
from hypothesis import assume, given, strategies as st

from gradlab.calculus import derivatives as d
from gradlab.calculus.pointwise import directional_report, eval_report, grad_report, hessian_report, jacobian_report
from gradlab.errors import BadInput, Undefined
from gradlab.calculus.numeric import Compiled, central_difference
from gradlab.calculus.parsing import parse, parse_point, symbol
from tests.test_parsing import smooth_text

x, y, z = symbol("x"), symbol("y"), symbol("z")


@pytest.mark.parametrize(
    "text, expected",
    [
        ("x**2*y + 3*y", [2 * x * y, x**2 + 3]),
        ("x**2*y + y*z**3", [2 * x * y, x**2 + z**3, 3 * y * z**2]),
        ("x**3*y**2", [3 * x**2 * y**2, 2 * x**3 * y]),
        ("sin(x*y)", [y * sympy.cos(x * y), x * sympy.cos(x * y)]),
    ],
)
def test_gradient_closed_forms(text, expected):
    p = parse(text)
    assert [sympy.simplify(g - e) for g, e in zip(d.gradient(p.expr, p.variables), expected)] == [0] * len(expected)


def test_gradient_at_point():
    r = grad_report(parse("x**2*y + 3*y"), parse_point("2,5", 2))
    assert [v.exact for v in r.values] == [20, 7]
    assert [v.value for v in r.values] == [20.0, 7.0]
    assert r.norm.exact == sympy.sqrt(449)


@pytest.mark.parametrize(
    "text, point, expected",
    [
        ("x**2*y, x + y**3", "2,3", [[12, 4], [1, 27]]),
        ("x**2 + y, x*y", "1,2", [[2, 1], [2, 1]]),
    ],
)
def test_jacobian_values(text, point, expected):
    p = parse(text, vector=True)
    r = jacobian_report(p, parse_point(point, 2))
    assert [[v.exact for v in row] for row in r.values] == expected


def test_jacobian_shape_r5_to_r3():
    p = parse("a*b, c + d, e1*a + d*c*b", "a,b,c,d,e1", vector=True)
    r = jacobian_report(p)
    assert r.shape == (3, 5)
    assert r.to_record()["jacobian"]["shape"] == [3, 5]


def test_softmax_jacobian_is_diag_minus_outer():
    p = parse("softmax(a, b, c)", vector=True)
    J = sympy.Matrix(jacobian_report(p).matrix)
    s = sympy.Matrix(p.exprs)
    assert sympy.simplify(J - (sympy.diag(*s) - s * s.T)) == sympy.zeros(3, 3)


def test_logsumexp_gradient_is_softmax_minus_onehot():
    p = parse("logsumexp(a, b, c, d) - d")
    soft = parse("softmax(a, b, c, d)", vector=True).exprs
    grad = d.gradient(p.expr, p.variables)
    onehot = [0, 0, 0, 1]
    assert all(sympy.simplify(g - (s - o)) == 0 for g, s, o in zip(grad, soft, onehot))


@pytest.mark.parametrize(
    "text, point, matrix, eig, cls",
    [
        ("x**2 - y**2", "0,0", [[2, 0], [0, -2]], [-2, 2], "saddle"),
        ("x**2 + y**2", "0,0", [[2, 0], [0, 2]], [2, 2], "minimum"),
        ("-x**2 - 3*y**2", "0,0", [[-2, 0], [0, -6]], [-6, -2], "maximum"),
        ("x**4 + y**4", "0,0", [[0, 0], [0, 0]], [0, 0], "inconclusive"),
        ("x**3 - 3*x*y**2", "0,0", [[0, 0], [0, 0]], [0, 0], "inconclusive"),
        ("x**2 + 25*y**2", "0,0", [[2, 0], [0, 50]], [2, 50], "minimum"),
    ],
)
def test_hessian_classification(text, point, matrix, eig, cls):
    r = hessian_report(parse(text), parse_point(point, 2))
    assert [[v.exact for v in row] for row in r.values] == matrix
    assert r.eigenvalues == pytest.approx(eig)
    assert r.classification == cls
    assert r.critical is True


def test_hessian_is_symmetric_and_matches_sympy():
    p = parse("x**2*y*z + sin(x*z) + exp(y)")
    assert sympy.Matrix(d.hessian(p.expr, p.variables)) == sympy.hessian(p.expr, p.variables)


def test_hessian_away_from_critical_point():
    r = hessian_report(parse("x**2 + y**2"), parse_point("1,0", 2))
    assert r.critical is False


def test_directional_derivative_facts():
    p = parse("x**2 + y**2")
    at = parse_point("3,4", 2)
    r = directional_report(p, at, parse_point("1,1", 2, where="--dir"))
    assert sympy.simplify(r.result.exact - 7 * sympy.sqrt(2)) == 0
    assert r.result.value == pytest.approx(9.899494936611665)
    assert r.steepest.exact == 10
    along = directional_report(p, at, (sympy.Integer(6), sympy.Integer(8)))
    assert along.result.exact == 10
    perp = directional_report(p, at, (sympy.Integer(-4), sympy.Integer(3)))
    assert perp.result.exact == 0


def test_zero_direction_is_bad_input():
    with pytest.raises(BadInput):
        directional_report(parse("x + y"), (1, 1), (sympy.S.Zero, sympy.S.Zero))


@pytest.mark.parametrize(
    "text, point",
    [("1/x", "0"), ("log(x)", "0"), ("sqrt(x)", "-1"), ("x**(-1)", "0"), ("log(x)", "-2"), ("asin(x)", "2"),
     ("exp(exp(exp(x)))", "10")],
)
def test_undefined_values_raise(text, point):
    with pytest.raises(Undefined):
        eval_report(parse(text), parse_point(point, 1))


def test_gradient_undefined_where_function_is():
    with pytest.raises(Undefined):
        grad_report(parse("1/x"), parse_point("0", 1))
    with pytest.raises(Undefined):  # f is defined at 0, its derivative is not
        grad_report(parse("sqrt(x)"), parse_point("0", 1))


def test_kink_warns_and_uses_subgradient_zero():
    r = grad_report(parse("abs(x) + relu(y)"), parse_point("0,0", 2))
    assert [v.value for v in r.values] == [0.0, 0.0]
    assert len(r.warnings) == 2 and "subgradient" in r.warnings[0]
    r = grad_report(parse("relu(y)"), parse_point("2", 1))
    assert r.values[0].exact == 1 and r.warnings == ()


def test_exact_decimals():
    assert eval_report(parse("0.1 + 0.2 - 0.3"), ()).result.exact == 0


@given(smooth_text, st.lists(st.floats(-1.5, 1.5), min_size=3, max_size=3))
def test_symbolic_gradient_agrees_with_central_differences(text, point):
    p = parse(text, "x,y,z")
    f = Compiled([p.expr], p.variables)
    g = Compiled(d.gradient(p.expr, p.variables), p.variables)
    xs = np.array(point)
    exact = g(xs)
    assume(np.all(np.isfinite(exact)) and np.all(np.abs(exact) < 1e6))
    assume(abs(float(f(xs)[0])) < 1e12)  # exp(9**3) overflows: no difference quotient there
    fd = central_difference(lambda v: float(f(v)[0]), xs, 1e-6)
    assert np.allclose(exact, fd, rtol=1e-4, atol=1e-4 * max(1.0, float(np.max(np.abs(exact)))))


def test_compiled_functions_survive_variables_named_like_cse_temporaries():
    # lambdify's CSE names its temporaries x0, x1, ...; a user's x0 must not be captured
    p = parse("x0*x1 + (x0*x1)**2 + sin(x0*x1) + numpy + math")
    G = Compiled(d.gradient(p.expr, p.variables), p.variables)
    x0, x1 = 0.3, -0.7
    t = x0 * x1
    expected = [x1 + 2 * t * x1 + np.cos(t) * x1, 1.0, x0 + 2 * t * x0 + np.cos(t) * x0, 1.0]
    names = [v.name for v in p.variables]
    values = {"x0": x0, "x1": x1, "numpy": 2.0, "math": 3.0}
    got = G(np.array([values[n] for n in names]))
    assert dict(zip(names, got)) == pytest.approx(dict(zip(["x0", "math", "x1", "numpy"],
                                                          [expected[0], 1.0, expected[2], 1.0])))


@given(smooth_text)
def test_one_pass_chain_rule_is_sympys_derivative(text):
    # gradlab differentiates shared subexpressions once (derivatives._chain); the result is
    # the expression SymPy's own diff builds, first and second derivatives alike
    p = parse(text)
    for v in p.variables:
        first = d._chain(p.expr, v)
        assert first == sympy.diff(p.expr, v)
        for w in p.variables:
            assert d._chain(first, w) == sympy.diff(first, w)


def test_the_hessian_of_a_deep_chain_is_the_product_formula():
    # the 58-deep chain of sines (issue 12: seconds in SymPy's diff): f'' at x = 1 against
    # the product formula written out here
    import math

    f = x
    for _ in range(58):
        f = sympy.sin(f)
    h = d.hessian(f, (x,))[0][0]
    s = [1.0]  # s[k] = sin applied k times to 1
    for _ in range(58):
        s.append(math.sin(s[-1]))
    c = [math.cos(s[k]) for k in range(58)]  # c[k] = cos(s_k): the k-th link's slope
    prod = math.prod(c)
    # (Π cos s_k)' = Π cos s_k · Σ_k (−tan s_k)·s_k', with s_k' = Π_{j<k} cos s_j
    second = prod * sum(-math.tan(s[k]) * math.prod(c[:k]) for k in range(58))
    got = float(Compiled([h], (x,))(np.array([1.0]))[0])
    assert got == pytest.approx(second, rel=1e-10)


@given(seed=st.integers(0, 2**32 - 1), n=st.integers(13, 40))
def test_certified_inertia_is_never_wrong(seed, n):
    # H = Q·diag(λ)·Qᵀ with Q orthogonal: its true eigenvalues are λ (to about 1e-14 of
    # max|λ|), some of them tiny; a certified inertia must count λ's signs exactly
    from gradlab.calculus.derivatives import certified_inertia

    rng = np.random.default_rng(seed)
    lam = rng.choice([-1.0, 1.0], n) * 10.0 ** rng.uniform(-12, 3, n)
    Q, _ = np.linalg.qr(rng.normal(size=(n, n)))
    H = (Q * lam) @ Q.T
    got = certified_inertia(np.linalg.eigvalsh((H + H.T) / 2).tolist())
    if got is not None:
        assert (got.positive, got.negative, got.zero) == (int((lam > 0).sum()), int((lam < 0).sum()), 0)
    # clearly separated eigenvalues are always certified
    clear = np.where(np.abs(lam) < 1e-3 * np.abs(lam).max(), np.sign(lam) * np.abs(lam).max(), lam)
    assert certified_inertia(np.linalg.eigvalsh((Q * clear) @ Q.T).tolist()) is not None


def test_a_large_hessians_verdict_is_certified_not_computed_to_150_bits():
    # 20 variables: f = Σ i·x_i² (i < 20) − x_20² at 0: eigenvalues 2i and −2: a saddle
    text = " + ".join(f"{i}*x{i}**2" for i in range(1, 20)) + " - x20**2"
    from tests.conftest import run

    out = run("hessian", text, "--at", ",".join(["0"] * 20), "-f", "json")
    assert out.code == 0, out
    h = json.loads(out.out)["hessian"]
    assert (h["classification"], h["signs_decided"]) == ("saddle", "certified")
    assert h["eigenvalues"] == [-2.0] + [2.0 * i for i in range(1, 20)]
