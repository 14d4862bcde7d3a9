"""Means over data rows in row form (gradlab.calculus.rows) against the written-out sum.

The written-out form (one SymPy term per row, what the parser builds for small data) is
the reference: the row form must give the same function, derivatives, exact values and
descent on the same data. A hand-written NumPy mean checks the arrays.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import sympy
from hypothesis import given, settings, strategies as st

from gradlab.calculus import derivatives as d
from gradlab.calculus import rows
from gradlab.calculus.numeric import Compiled, complex_step, gradient as sparse_gradient, hessian as sparse_hessian
from gradlab.calculus.parsing import Context, parse_scalar, symbol, variables_of
from tests.conftest import assert_contract, run

BODIES = [
    "mean((w*x + b - y)**2)",
    "mean(softplus(w*x + b) - y*(w*x + b)) + (w**2 + b**2)/100",
    "sum(abs(w*x - y) + sigmoid(b*x)) / 3",
    "mean(exp(-(w - x)**2) * (b + y)**2)",
    "sqrt(mean((w*x - y)**2) + 1)",
]
W, B = symbol("w"), symbol("b")

datasets = st.integers(2, 6).flatmap(lambda n: st.tuples(
    st.lists(st.integers(-30, 30).map(lambda k: sympy.Rational(k, 10)), min_size=n, max_size=n),
    st.lists(st.integers(-30, 30).map(lambda k: sympy.Rational(k, 10)), min_size=n, max_size=n)))
points = st.tuples(st.integers(-20, 20), st.integers(-20, 20)).map(lambda p: (sympy.Rational(p[0], 7), sympy.Rational(p[1], 5)))


def _both(text: str, xs, ys) -> tuple[sympy.Expr, sympy.Expr]:
    columns = {"x": tuple(xs), "y": tuple(ys)}
    written = parse_scalar(text, ctx=Context(columns=columns))
    row_form = parse_scalar(text, ctx=Context(columns=columns, expand_rows=0))
    return written, row_form


def _close(a: float, b: float, rel: float = 1e-9) -> bool:
    return a == b or abs(a - b) <= rel * max(1.0, abs(a), abs(b))


@settings(max_examples=12)
@given(body=st.sampled_from(BODIES), data=datasets, at=points)
def test_row_form_is_the_written_out_sum(body, data, at):
    written, row_form = _both(body, *data)
    assert row_form.has(rows.RowMean) and not written.has(rows.RowMean)
    assert set(variables_of([written])) <= set(variables_of([row_form])) <= {B, W}
    variables = (W, B)
    point = dict(zip(variables, at))
    X = np.array([float(v) for v in at])
    first = [(written, row_form), *zip(d.gradient(written, variables), d.gradient(row_form, variables))]
    second = list(zip(sum(d.hessian(written, variables), ()), sum(d.hessian(row_form, variables), ())))
    for i, (a, b) in enumerate(first + second):
        fa, fb = Compiled([a], variables)(X)[0], Compiled([b], variables)(X)[0]
        assert _close(float(fa), float(fb)), (a, b)
        if i >= len(first):
            continue  # exact values of f and ∇f below; the Hessian's floats above
        va, vb = d.evaluate(a, point), d.evaluate(b, point)
        assert _close(va.value, vb.value, 1e-14), (a, b)
        if va.exact is not None and va.exact.is_Rational and body.startswith("mean((w*x"):
            assert vb.exact == va.exact  # a polynomial body sums exactly (power sums)
    # the sparse paths that descent uses agree with the dense ones
    g = sparse_gradient(row_form, variables)
    assert all(_close(float(Compiled([p], variables)(X)[0]), float(Compiled([q], variables)(X)[0]))
               for p, q in zip(g, d.gradient(written, variables)))
    assert len(sparse_hessian(row_form, variables, g)) == 2


@settings(max_examples=10)
@given(data=datasets)
def test_row_means_broadcast_over_grids_and_complex_steps(data):
    xs, ys = data
    _, f = _both(BODIES[1], xs, ys)
    F = Compiled([f], (W, B))
    grid = np.stack(np.meshgrid(np.linspace(-2, 2, 5), np.linspace(-1, 1, 3)))
    got = F(grid)[0]
    x, y = np.array([float(v) for v in xs]), np.array([float(v) for v in ys])

    def by_hand(w, b):  # an independent mean, row by row
        z = w * x + b
        return float(np.mean(np.logaddexp(0, z) - y * z) + (w * w + b * b) / 100)

    assert got.shape == (3, 5)
    assert all(_close(got[i, j], by_hand(grid[0, i, j], grid[1, i, j])) for i in range(3) for j in range(5))
    # complex-step differentiation goes through the same code with a complex dtype
    C = Compiled([f], (W, B), complex_safe=True)
    cs = complex_step(lambda v: C(v)[0], np.array([0.3, -0.2]))
    h = 1e-6
    fd = [(by_hand(0.3 + h, -0.2) - by_hand(0.3 - h, -0.2)) / (2 * h), (by_hand(0.3, -0.2 + h) - by_hand(0.3, -0.2 - h)) / (2 * h)]
    assert np.allclose(cs, fd, rtol=1e-6, atol=1e-8)


def test_row_means_are_chunked_without_changing_the_mean(monkeypatch):
    xs = tuple(sympy.Rational(k, 3) for k in range(50))
    t = rows.table_for({"x": xs})
    f = rows.row_mean(W * t.symbol("x") ** 2, t)
    whole = rows.mean_over_rows(int(f.args[0]), np.array([1.0, 2.0]))
    monkeypatch.setattr(rows, "CHUNK", 3)
    assert np.allclose(rows.mean_over_rows(int(f.args[0]), np.array([1.0, 2.0])), whole)
    assert whole[0] == pytest.approx(sum(float(v) ** 2 for v in xs) / 50)


def test_exact_value_and_display():
    xs, ys = (1, 2, 3), (2, 3, 5)
    _, f = _both("mean((w*x - y)**2)", [sympy.Integer(v) for v in xs], [sympy.Integer(v) for v in ys])
    assert str(f) == "mean((w*x - y)**2)"
    # Σ (x - y)²/3 at w = 1: (1 + 1 + 4)/3 = 2, exactly
    assert f.subs(W, 1) == 2
    assert str(d.derivative(f, W)) == "mean(2*x*(w*x - y))"
    assert d.derivative(f, B) == 0


def test_a_row_with_no_real_value_is_refused():
    xs = [sympy.Integer(v) for v in (1, -4)]
    _, f = _both("mean(sqrt(w*x))", xs, xs)
    with pytest.raises(Exception) as info:
        d.evaluate(f, {W: sympy.Integer(1)})
    assert "not real" in str(info.value)
    assert math.isnan(float(Compiled([f], [W])(np.array([1.0]))[0]))


YAML = """\
fit:
  description: a line through noisy points
  data:
    x: [{x}]
    y: [{y}]
  expression: mean(softplus(w*x + b) - y*(w*x + b)) + (w**2 + b**2)/100
  variables: [w, b]
  start: [0.5, -0.5]
  window: [-3, 3, -3, 3]
  lr: 0.5
  steps: 200
"""


@pytest.fixture
def fit_file(tmp_path):
    rng = np.random.default_rng(3)
    x = np.round(rng.normal(size=12), 2)
    y = (rng.random(12) < 0.5).astype(int)
    p = tmp_path / "fit.yaml"
    p.write_text(YAML.format(x=", ".join(map(str, x)), y=", ".join(map(str, y))))
    return str(p)


@pytest.mark.parametrize("args", [
    ("grad", "fit", "--at", "1/2,-1"),
    ("hessian", "fit", "--at", "1/2,-1"),
    ("directional", "fit", "--at", "1/2,-1", "--dir", "1,2"),
    ("check", "fit", "--at", "1/2,-1"),
    ("descend", "fit", "--steps", "150", "-o", "gd,momentum,adam"),
    ("descend", "fit", "--steps", "60", "--batch-size", "4", "--seed", "2"),
    ("sweep", "fit", "--steps", "80"),
])
def test_commands_agree_in_both_forms(args, fit_file, monkeypatch):
    written = run(*args, "--surfaces", fit_file, "--format", "json")
    monkeypatch.setattr(rows, "EXPAND_ROWS", 0)
    row_form = run(*args, "--surfaces", fit_file, "--format", "json")
    assert_contract(written)
    assert_contract(row_form)
    assert written.code == row_form.code == 0, (written, row_form)
    a, b = json.loads(written.out), json.loads(row_form.out)

    def numbers(v):
        if isinstance(v, dict):
            return [n for k in sorted(v) if k not in ("symbolic", "exact", "expression") for n in numbers(v[k])]
        if isinstance(v, list):
            return [n for e in v for n in numbers(e)]
        return [v] if isinstance(v, float) else []

    na, nb = numbers(a), numbers(b)
    assert len(na) == len(nb) > 0
    assert all(_close(p, q, 1e-7) for p, q in zip(na, nb)), (na, nb)


def test_explain_derives_the_row_body_once_by_the_mean_rule():
    from gradlab.calculus.explain import explain
    from gradlab.calculus.parsing import Parsed

    xs = [sympy.Integer(v) for v in (1, 2, 3)]
    _, f = _both("mean((w*x - y)**2)", xs, xs)
    r = explain(Parsed("mean((w*x - y)**2)", (f,), (W,)), "w")
    assert r.steps[-1].rule.startswith("mean rule")
    x, y = r.result.table.symbol("x"), r.result.table.symbol("y")
    assert sympy.expand(r.result.body_at() - 2 * x * (W * x - y)) == 0
