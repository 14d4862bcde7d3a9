"""gradlab's own functions: signs decided soundly, stable closed forms, stable floats.

Reference values come from mpmath at 60 digits computed here, from the textbook formula,
never from the code under test.
"""

from __future__ import annotations

import json
import math

import mpmath
import numpy as np
import pytest
import sympy
from hypothesis import given, strategies as st

from gradlab.calculus.functions import Abs, logsumexp, relu, sigmoid, sign, sign_of, softmax, softplus, step
from gradlab.calculus.numeric import lambdify
from gradlab.calculus.parsing import parse, symbol
from tests.conftest import run

x, y = symbol("x"), symbol("y")
S = sympy.Integer

# value, written for mpmath (independently of SymPy), and the SymPy number
SIGNS = [
    (lambda: 10**20 * mpmath.acos(mpmath.tanh(30)), 10**20 * sympy.acos(sympy.tanh(30))),
    (lambda: -(10**20) * mpmath.acos(mpmath.tanh(30)), -(10**20) * sympy.acos(sympy.tanh(30))),
    (lambda: mpmath.sqrt(2) - mpmath.mpf("1.4142135623730950488016887242097"),
     sympy.sqrt(2) - sympy.Rational(14142135623730950488016887242097, 10**31)),
    (lambda: mpmath.pi - mpmath.mpf(355) / 113, sympy.pi - sympy.Rational(355, 113)),
    # Ramanujan's constant falls short of an integer by 7.5e-13
    (lambda: mpmath.exp(mpmath.pi * mpmath.sqrt(163)) - 640320**3 - 744,
     sympy.exp(sympy.pi * sympy.sqrt(163)) - 640320**3 - 744),
    (lambda: mpmath.tanh(40) - 1, sympy.tanh(40) - 1),
]


@pytest.mark.parametrize("reference, number", SIGNS)
def test_sign_of_agrees_with_60_digit_arithmetic(reference, number):
    with mpmath.workdps(60):
        v = reference()
    assert sign_of(number) == (1 if v > 0 else -1)


@pytest.mark.parametrize("zero", [
    sympy.sin(sympy.pi / 7) ** 2 + sympy.cos(sympy.pi / 7) ** 2 - 1,
    sympy.log(6) - sympy.log(2) - sympy.log(3),
])
def test_sign_of_proves_exact_zeros(zero):
    assert sign_of(zero) == 0


def test_sign_of_a_tower_is_undecided_not_wrong():
    assert sign_of(sympy.exp(sympy.exp(sympy.exp(10))) - 1) in (1, None)


def test_sympy_is_positive_is_wrong_here_and_relu_is_not():
    a = 10**20 * sympy.acos(sympy.tanh(30))  # ≈ 1.87e7 > 0
    assert relu(a) == a and step(a) == 1
    assert relu(-a) == 0 and step(-a) == 0


def test_relu_gradient_at_30_is_minus_1e20_sech_30():
    out = json.loads(run("grad", "relu(10**20*acos(tanh(x)))", "--at", "30", "-f", "json").out)
    # d/dx acos(tanh x) = -sech x, and the relu is active (its argument is > 0)
    assert out["gradient"]["value"][0] == pytest.approx(-1e20 / math.cosh(30), rel=1e-12)


@pytest.mark.parametrize("t", [-1000, -745, -700, -30, -1, 0, 1, 30, 700, 1000])
def test_sigmoid_and_softplus_evaluate_stably(t):
    with mpmath.workdps(60):
        s_ref = float(1 / (1 + mpmath.exp(-t)))
        sp_ref = float(mpmath.log1p(mpmath.exp(t)))  # log(1 + tiny) needs log1p
    r = run("eval", "sigmoid(x)", "--at", str(t), "-f", "json")
    assert r.code == 0, r
    assert json.loads(r.out)["result"]["value"] == pytest.approx(s_ref, rel=1e-12, abs=1e-320)
    r = run("eval", "softplus(x)", "--at", str(t), "-f", "json")
    assert json.loads(r.out)["result"]["value"] == pytest.approx(sp_ref, rel=1e-12, abs=1e-320)


def test_stable_closed_forms_are_the_same_numbers():
    for t in (S(-1000), S(3), sympy.Rational(-7, 2)):
        assert sympy.simplify(sigmoid(t) - 1 / (1 + sympy.exp(-t))) == 0
        assert sympy.simplify(sympy.exp(softplus(t)) - (1 + sympy.exp(t))) == 0
    assert sympy.simplify(sympy.exp(logsumexp(1000, 0, -3)) - (sympy.exp(1000) + 1 + sympy.exp(-3))) == 0


def test_softmax_at_1000_0_0():
    r = run("jacobian", "softmax(x,y,z)", "--at", "1000,0,0", "-f", "json")
    assert r.code == 0, r
    r = run("jacobian", "softmax(x,y,z)", "--at", "700,0,0", "-f", "json")
    jac = json.loads(r.out)["jacobian"]["value"]
    e = math.exp(-700)  # s = (1, e, e) to first order; ∂s2/∂y = s2(1 - s2) ≈ e
    assert jac[1][1] == pytest.approx(e, rel=1e-12)
    assert jac[0][0] == pytest.approx(2 * e, rel=1e-12)


def test_logsumexp_exact_and_float_at_1000():
    r = run("eval", "logsumexp(x, 0)", "--at", "1000", "-f", "json")
    assert json.loads(r.out)["result"]["value"] == 1000.0
    f = lambdify([x], [logsumexp(x, 0), sympy.diff(logsumexp(x, 0), x)])
    value, slope = f(np.array([1000.0, -1000.0, 0.0]))
    assert value.tolist() == [1000.0, math.log1p(math.exp(-1000)), math.log(2)]
    assert slope.tolist() == [1.0, 0.0, 0.5]


def test_logsumexp_descends_from_1000():
    doc = json.loads(run("descend", "logsumexp(x,0)", "--start", "1000", "--steps", "50", "-f", "json").out)
    (r,) = doc["runs"]
    assert r["status"] != "diverged" and r["diverged_at"] is None
    assert r["f"] == pytest.approx(1000 - 50 * 0.01, rel=1e-12)  # slope 1: steps of lr


@given(st.floats(-30, 30), st.floats(-30, 30))
def test_logsumexp_complex_step_is_softmax(a, b):
    f = lambdify([x, y], [logsumexp(x, y)], complex_safe=True)
    h = 1e-30
    d = f(np.array([a + 1j * h]), np.array([b]))[0].imag / h
    assert d == pytest.approx(1 / (1 + math.exp(b - a)), rel=1e-9)


def test_softmax_components_sum_to_one_and_printed_form_is_stable():
    comps = softmax([x, y])
    assert sympy.simplify(comps[0].subs({x: 2, y: 5}) + comps[1].subs({x: 2, y: 5}) - 1) == 0
    assert parse("softmax(x, y)", vector=True).exprs == tuple(comps)


def test_relu_of_a_non_real_number_is_undefined():
    r = run("eval", "relu(asin(x)) - asin(x)", "--at", "2")
    assert r.code == 1 and "undefined" in r.err


def test_abs_and_sign_of_numbers_are_decided_soundly():
    a = 10**20 * sympy.acos(sympy.tanh(30))  # ≈ 1.87e7; SymPy's own Abs and sign get it wrong
    assert Abs(1 - a) == a - 1 and sign(a) == 1 and sign(1 - a) == -1
    doc = json.loads(run("eval", "abs(10**20*acos(tanh(x)) - 1)", "--at", "30", "-f", "json").out)
    assert parse(doc["result"]["exact"]).expr == a - 1
    assert doc["result"]["value"] > 1e7  # its digits are evaluate's business (20-digit N)


def test_abs_of_a_quotient_has_the_textbook_hessian():
    # for x, y > 0, |x/y| = x/y: H = [[0, -1/y²], [-1/y², 2x/y³]]
    doc = json.loads(run("hessian", "abs(x/y)", "--at", "1,2", "-f", "json").out)
    assert doc["hessian"]["value"] == [[0.0, -0.25], [-0.25, 0.25]]


def test_abs_derivative_is_sign_times_inner_derivative():
    doc = json.loads(run("grad", "abs(acos(x))", "--at", "1/2", "-f", "json").out)
    (text,) = doc["gradient"]["symbolic"]
    assert "re(" not in text and "atan2" not in text
    assert doc["gradient"]["value"][0] == pytest.approx(-1 / math.sqrt(1 - 0.25), rel=1e-12)


def test_abs_of_a_non_real_number_is_undefined_not_its_modulus():
    r = run("eval", "abs(asin(x))", "--at", "2")
    assert r.code == 1 and "undefined" in r.err
