"""Taylor models: exact on quadratics, errors of order ‖h‖² and ‖h‖³, Newton and safe steps."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy
from hypothesis import given, settings
from hypothesis import strategies as st

from gradlab.errors import BadInput, Undefined
from gradlab.calculus.parsing import parse, parse_point, symbol
from gradlab.descent.taylor import taylor

small = st.integers(-9, 9)


@settings(max_examples=25)
@given(small, small, small, small, small, small, small, small)
def test_second_order_model_of_a_quadratic_is_exact(a, b, c, d, e, k, p, q):
    text = f"{a}*x**2 + {b}*x*y + {c}*y**2 + {d}*x + {e}*y + {k}"
    parsed = parse(text, "x,y")
    t = taylor(parsed, parse_point(f"{p},{q}", 2))
    assert sympy.expand(t.quadratic - parsed.expr) == 0
    assert all(s.err2 <= 1e-9 * max(1.0, abs(s.f)) for s in t.samples)


def test_first_order_error_shrinks_as_h_squared():
    """log|f − m₁| against log t has slope 2; |f − m₂| has slope 3 (f and ∇f written here)."""
    parsed = parse("exp(x)*sin(y) + x**3*y")
    t = taylor(parsed, parse_point("0.3,0.7", 2))
    a = np.array([0.3, 0.7])
    u = np.array([0.6, -0.8])  # a direction of our own

    def f(x, y):
        return math.exp(x) * math.sin(y) + x**3 * y

    g = np.array([math.exp(0.3) * math.sin(0.7) + 3 * 0.09 * 0.7, math.exp(0.3) * math.cos(0.7) + 0.027])
    ts = np.geomspace(0.2, 0.002, 8)
    err1 = [abs(f(*(a + s * u)) - (f(*a) + s * g @ u)) for s in ts]
    assert np.polyfit(np.log(ts), np.log(err1), 1)[0] == pytest.approx(2, abs=0.05)
    # the model gradlab built is the same linear model
    pts = np.array([a + s * u for s in ts]).T
    assert np.allclose(t.model(pts, 1), [f(*a) + s * g @ u for s in ts], rtol=1e-12)
    assert t.slope1 == pytest.approx(2, abs=0.05) and t.slope2 == pytest.approx(3, abs=0.1)


def test_models_of_a_cubic_in_one_variable():
    t = taylor(parse("x**3"), parse_point("2", 1))
    x = symbol("x")
    assert sympy.expand(t.linear - (8 + 12 * (x - 2))) == 0
    assert sympy.expand(t.quadratic - (8 + 12 * (x - 2) + 6 * (x - 2) ** 2)) == 0
    for s in t.samples:  # f − m₂ = (x − 2)³ exactly, here along u = −1
        assert s.err2 == pytest.approx(s.t**3, rel=1e-6)


def test_newton_step_is_the_quadratic_models_minimiser():
    t = taylor(parse("x**2 + x*y + 2*y**2 - 3*x"), parse_point("1,1", 2))
    # H = [[2, 1], [1, 4]], g = (2 + 1 - 3, 1 + 4) = (0, 5): h* = −H⁻¹g = (5/7, −10/7)
    assert [str(v) for v in t.newton_step.exact] == ["5/7", "-10/7"]
    assert [str(v) for v in t.minimiser.exact] == ["12/7", "-3/7"]
    # and the minimiser of f itself, a quadratic: 2x + y = 3, x + 4y = 0
    assert t.minimiser.value == pytest.approx((12 / 7, -3 / 7))


def test_no_minimiser_where_the_hessian_is_not_positive_definite():
    t = taylor(parse("x**2 - y**2"), parse_point("1,1", 2))
    assert t.newton_step is None and "not positive definite" in t.newton_note


@pytest.mark.parametrize("lr", [0.01, 0.02, 0.04, 0.05])
def test_gradient_step_predictions_on_the_elongated_bowl(lr):
    """On a quadratic m₂ = f: predicted and actual decrease agree; the decrease changes
    sign at the safe step 2‖g‖²/gᵀHg."""
    t = taylor(parse("x**2 + 25*y**2"), parse_point("1,1", 2), lrs=[lr])
    [c] = t.steps
    g2, gHg = 4 + 2500, 2 * 4 + 50 * 2500
    assert c.predicted1 == pytest.approx(lr * g2)
    assert c.predicted2 == pytest.approx(lr * g2 - lr**2 * gHg / 2)
    assert c.actual == pytest.approx(26 - ((1 - 2 * lr) ** 2 + 25 * (1 - 50 * lr) ** 2))
    assert c.ratio == pytest.approx(1, rel=1e-9)
    assert str(t.safe_step.exact) == str(sympy.Rational(2 * g2, gHg))
    assert (c.actual > 0) == (lr < t.safe_step.value)


def test_safe_step_along_the_top_eigenvector_is_two_over_lambda_max():
    t = taylor(parse("x**2 + 25*y**2"), parse_point("0,1", 2))
    assert t.safe_step.value == pytest.approx(2 / 50) and t.cauchy_step.value == pytest.approx(1 / 50)


def test_undefined_point_and_bad_order():
    with pytest.raises(Undefined):
        taylor(parse("log(x)"), parse_point("0", 1))
    with pytest.raises(BadInput, match="order"):
        taylor(parse("x**2"), parse_point("1", 1), order=3)


def test_record_keys():
    rec = taylor(parse("x*y"), parse_point("1,2", 2), lrs=[0.1]).to_record()
    assert rec["command"] == "taylor" and rec["linear_model"] == "2*x + y - 2"
    assert rec["quadratic_model"] == "x*y" and rec["gradient"]["exact"] == ["2", "1"]
    assert set(rec["gradient_steps"][0]) == {"lr", "predicted_decrease_linear", "predicted_decrease_quadratic",
                                             "actual_decrease", "ratio"}


def _step_handles(fig):
    """The legend's gradient-step entries: (label, colour, marker, data point)."""
    from matplotlib.colors import to_hex

    (legend,) = fig.legends
    out = []
    for h, text in zip(legend.legend_handles, legend.get_texts()):
        if text.get_text().startswith("gradient step"):
            out.append((text.get_text(), to_hex(h.get_color()), h.get_marker()))
    return out


@pytest.mark.parametrize("text, at", [("x**2 + 25*y**2", (1, 1)), ("exp(x)", (0,))])
def test_each_gradient_step_has_its_own_colour_marker_and_legend_entry(text, at):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from gradlab.render.training_plots import taylor_figure

    lrs = (0.01, 0.02, 0.03)
    fig = taylor_figure(taylor(parse(text), list(at), 2, lrs))
    FigureCanvasAgg(fig).draw()
    steps = _step_handles(fig)
    assert [s[0].split(":")[0] for s in steps] == [f"gradient step lr = {lr:g}" for lr in lrs]
    assert len({s[1] for s in steps}) == len(lrs) and len({s[2] for s in steps}) == len(lrs)
    # each step's marker sits where the step lands: a − lr·∇f(a)
    grad = {"x**2 + 25*y**2": lambda p: (2 * p[0], 50 * p[1]), "exp(x)": lambda p: (math.exp(p[0]),)}[text](at)
    ax = fig.axes[0]
    drawn = {line.get_label(): line.get_xydata()[0] for line in ax.get_lines()
             if line.get_label().startswith("gradient")}
    for lr, (label, _, _) in zip(lrs, steps):
        x = [a - lr * g for a, g in zip(at, grad)]
        expected = x if len(at) == 2 else [x[0], math.exp(x[0])]
        assert np.allclose(drawn[label], expected)
    # the legend sits outside the axes: it hides none of the picture
    r = fig.canvas.get_renderer()
    assert not fig.legends[0].get_window_extent(r).overlaps(ax.get_window_extent(r))


@pytest.mark.parametrize("lr", ["0.05", "0.01", "0.03"])
def test_a_quadratics_step_check_is_exact(lr):
    """x² + 25y² at (1, 1), step lr·g with g = (2, 50): the decrease is, in fractions,
    26 − ((1 − 2lr)² + 25(1 − 50lr)²), m₂ predicts it exactly, so the ratio is exactly 1
    and every float is that fraction correctly rounded (no −31.060000000000016)."""
    from fractions import Fraction

    t = taylor(parse("x**2 + 25*y**2"), parse_point("1,1", 2), lrs=[float(lr)])
    [c] = t.steps
    r = Fraction(lr)
    actual = 26 - ((1 - 2 * r) ** 2 + 25 * (1 - 50 * r) ** 2)
    assert c.actual == float(actual) and c.predicted2 == float(actual)
    assert c.predicted1 == float(r * (4 + 2500))
    assert c.ratio == 1.0
    assert all(s.err2 == 0.0 for s in t.samples)  # m₂ = f for a quadratic: exactly, not 1.55e-15


def test_eigenvalues_and_newton_step_are_the_exact_values_rounded():
    # H of xyz at (1, 1, 1) is J − I (J all ones): eigenvalues 3 − 1 = 2 and −1 (twice)
    t = taylor(parse("x*y*z"), parse_point("1,1,1", 3))
    assert t.eigenvalues == (-1.0, -1.0, 2.0)
    # x² + xy + 2y² − 3x at (12/7, −3/7) is its minimum: the Newton step is 0, not −0.0
    t = taylor(parse("x**2 + x*y + 2*y**2 - 3*x"), parse_point("12/7,-3/7", 2))
    assert all(math.copysign(1.0, v) == 1.0 and v == 0.0 for v in t.newton_step.value)
    assert t.model_min == float(sympy.Rational(12, 7) ** 2 + sympy.Rational(12, 7) * sympy.Rational(-3, 7)
                                + 2 * sympy.Rational(9, 49) - 3 * sympy.Rational(12, 7))
