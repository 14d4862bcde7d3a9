"""critical, check and explain: facts from the mathematics."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
import sympy

from gradlab.calculus.critical import critical_points
from gradlab.calculus.explain import MAX_TIDY_OPS, explain
from gradlab.calculus.gradcheck import gradient_check
from gradlab.calculus.parsing import parse, parse_components, parse_point, symbol
from tests.conftest import assert_error, run

W = (-5.0, 5.0, -5.0, 5.0)


def test_cubic_has_exactly_four_critical_points():
    res = critical_points(parse("x**3 + y**3 + 3*x**2 - 6*y**2 - 2"), W, timeout=60)  # a backstop only
    found = {p.exact: p.classification for p in res.points}
    assert found == {(0, 0): "saddle", (0, 4): "minimum", (-2, 0): "maximum", (-2, 4): "saddle"}
    assert all("exact" in p.method for p in res.points)


def test_himmelblau_all_nine_are_found():
    res = critical_points(parse("(x**2 + y - 11)**2 + (x + y**2 - 7)**2"), W, timeout=2)
    kinds = [p.classification for p in res.points]
    assert len(res.points) == 9
    assert kinds.count("minimum") == 4 and kinds.count("maximum") == 1 and kinds.count("saddle") == 4
    assert all(abs(p.f) < 1e-12 for p in res.points if p.classification == "minimum")
    [top] = [p for p in res.points if p.classification == "maximum"]
    assert top.value == pytest.approx((-0.270845, -0.923039), abs=1e-6)
    # any exact coordinates shown are readable reals, never casus-irreducibilis radicals with I
    assert all(p.exact is None or not any(e.has(sympy.I) for e in p.exact) for p in res.points)
    assert any("numeric" in p.method for p in res.points)


@pytest.mark.parametrize("text, kind", [("x**4 + y**4", "inconclusive"), ("x**3 - 3*x*y**2", "inconclusive"),
                                        ("x**2 - y**2", "saddle")])
def test_degenerate_and_saddle_origins(text, kind):
    res = critical_points(parse(text), W, timeout=60)
    assert len(res.points) == 1 and res.points[0].classification == kind
    assert res.points[0].value == pytest.approx((0, 0), abs=1e-6)


def test_no_critical_point_is_an_empty_answer():
    # the gradient of x + y is (1, 1), never 0: "none" is the answer, exit 0
    import csv
    import io
    import json

    def reject(name):
        raise ValueError(name)

    r = run("critical", "x + y", "--format", "json")
    assert r.code == 0 and r.err == "", r
    assert json.loads(r.out, parse_constant=reject)["points"] == []
    r = run("critical", "x + y", "--format", "csv")
    assert r.code == 0 and list(csv.reader(io.StringIO(r.out)))[1:] == [], r
    assert run("critical", "x + y", "--format", "plain").out == ""
    r = run("critical", "x + y", "--format", "table")
    assert r.code == 0 and "no critical points" in r.out.splitlines()[0], r


def test_time_limit_holds():
    # sympy cannot solve this system; the exact attempt must stop at the limit
    text = "sin(x*y) + cos(x + y**2) + exp(x)*y/7 + x**5*y**3/1000"
    start = time.perf_counter()
    r = run("critical", text, "--timeout", "1", "-f", "json")
    elapsed = time.perf_counter() - start
    assert elapsed < 1 + 10  # the limit plus the numeric search
    if r.code == 0:
        doc = json.loads(r.out)
        assert doc["exact_solve"].startswith(("no exact answer", "0 real", "1 real")) or doc["points"]


def test_critical_json():
    doc = json.loads(run("critical", "x**2 - y**2", "--timeout", "60", "-f", "json").out)
    p = doc["points"][0]
    assert p["point_exact"] == ["0", "0"] and p["point"] == [0.0, 0.0] and p["classification"] == "saddle"
    assert p["eigenvalues"] == [-2.0, 2.0] and "exact" in p["method"]


# --------------------------------------------------------------------- check
def test_central_beats_forward_and_complex_step_is_exact():
    r = gradient_check(parse("sin(x)*exp(y) + x**3*y"), parse_point("0.7,0.3", 2), h=1e-5)
    for c in r.components:
        assert c.central_rel * 100 < c.forward_rel  # orders of magnitude
        assert c.complex_rel < 1e-14
    assert r.passed


@pytest.mark.parametrize("grad, passed, wrong", [
    ("2*x*y, x**2 + z**3, 3*y*z**2", True, []),
    ("2*x*y, x**2, 3*y*z**2", False, ["y"]),
    ("2*y*x, z**3 + x*x, 3*z*z*y", True, []),  # same functions, written differently
])
def test_users_gradient(grad, passed, wrong):
    p = parse("x**2*y + y*z**3")
    r = gradient_check(p, parse_point("1,2,3", 3), user=parse_components(grad))
    assert r.passed is passed
    assert [c.variable for c in r.components if not c.user_right] == wrong


def test_wrong_component_shown_beside_the_correct_one():
    r = run("check", "x**2*y + y*z**3", "--at", "1,2,3", "--grad", "2*x*y, x**2, 3*y*z**2", "-f", "json")
    doc = json.loads(r.out)
    y = doc["components"][1]
    assert doc["passed"] is False and y["yours"]["right"] is False
    assert parse("x**2 + z**3").expr == parse(y["exact"]["symbolic"]).expr


def test_check_errors():
    assert_error(run("check", "x*y", "--at", "1,2", "--grad", "y"), 2, "1 component;")
    assert_error(run("check", "x*y", "--at", "1,2", "--grad", "y, q"), 2, "q")
    assert_error(run("check", "x*y", "--at", "1,2", "--h", "0"), 2, "step")
    assert_error(run("check", "log(x)", "--at", "0"), 1, "undefined")


def test_check_plot(tmp_path):
    out = tmp_path / "h.png"
    assert run("check", "sin(x)*exp(y)", "--at", "1,1", "--plot", str(out), "--dpi", "40").code == 0
    assert out.read_bytes()[:4] == b"\x89PNG"


# --------------------------------------------------------------------- explain
CASES = [
    ("7", "x", ["constant rule"]),
    ("x", "x", ["variable rule"]),
    ("x**5", "x", ["power rule"]),
    ("3*x**2 + x + 4", "x", ["sum rule", "constant multiple rule", "power rule"]),
    ("x*exp(x)", "x", ["product rule", "exp rule"]),
    ("sin(x)/x", "x", ["quotient rule", "sin rule"]),
    ("sin(x**2)", "x", ["chain rule with sin", "power rule"]),
    ("exp(3*x)", "x", ["chain rule with exp"]),
    ("log(x**2 + 1)", "x", ["chain rule with log"]),
    ("sqrt(1 + x**2)", "x", ["square root"]),
    ("cos(x) + tan(x)", "x", ["cos rule", "tan rule"]),
    ("asin(x) + acos(x) + atan(x)", "x", ["asin rule", "acos rule", "atan rule"]),
    ("sinh(x) * cosh(x) + tanh(x)", "x", ["sinh rule", "cosh rule", "tanh rule", "product rule"]),
    ("sigmoid(2*x)", "x", ["chain rule with sigmoid"]),
    ("softplus(x)", "x", ["softplus rule"]),
    ("relu(x - 1)", "x", ["chain rule with relu"]),
    ("2**x", "x", ["exponential rule"]),
    ("x**x", "x", ["general power rule"]),
    ("abs(x)*y", "y", ["constant multiple rule"]),
]


@pytest.mark.parametrize("text, wrt, rules", CASES)
def test_explain_agrees_with_sympy_and_names_the_rules(text, wrt, rules):
    p = parse(text, "x,y")
    r = explain(p, wrt)
    x = symbol(wrt)
    expected = sympy.diff(p.expr, x).replace(sympy.Heaviside, lambda *a: sympy.Heaviside(a[0]))
    diff = sympy.simplify(r.result - expected)
    assert diff == 0 or sympy.simplify(diff.rewrite(sympy.exp)) == 0 or _numerically_zero(diff, p.variables)
    named = " | ".join(s.rule for s in r.steps)
    for rule in rules:
        assert rule in named, (rule, named)


def _numerically_zero(e, variables) -> bool:
    from gradlab.calculus.numeric import lambdify

    f = lambdify(variables, [e])
    pts = np.random.default_rng(1).uniform(0.2, 0.9, (10, len(variables)))
    return all(abs(complex(f(*pt)[0])) < 1e-9 for pt in pts)


def test_explain_plain_lines_are_numbered_and_json_has_steps():
    r = run("explain", "x*exp(x)")
    lines = r.out.splitlines()
    assert [line.split("\t")[0] for line in lines] == [str(i) for i in range(1, len(lines) + 1)]
    doc = json.loads(run("explain", "sin(x**2)", "-f", "json").out)
    assert [s["rule"] for s in doc["steps"]] == ["power rule", "chain rule with sin"]
    assert parse(doc["result"]).expr == parse("2*x*cos(x**2)").expr


def test_explain_unknown_variable():
    assert_error(run("explain", "x**2", "--wrt", "z"), 2, "z")


def test_himmelblau_is_the_same_whatever_the_timeout():
    # A polynomial system with up to 3·3 = 9 solutions is above the degree limit (8):
    # the exact solve is not attempted, by size, so no deadline decides anything and the
    # points and methods are the same with any --timeout.
    text = "(x**2 + y - 11)**2 + (x + y**2 - 7)**2"
    quick = critical_points(parse(text), W, timeout=0.5)
    slow = critical_points(parse(text), W, timeout=30)
    assert quick.exact_status == "not attempted: up to 9 solutions, above GRADLAB_EXACT_DEGREE=8"
    assert [(p.value, p.method, p.classification) for p in quick.points] == \
        [(p.value, p.method, p.classification) for p in slow.points]
    assert len(quick.points) == 9 and not quick.deadline and quick.warnings == ()
    assert {p.method for p in quick.points} == {"numeric"}


def test_degree_limit_is_an_environment_override(monkeypatch):
    monkeypatch.setenv("GRADLAB_EXACT_DEGREE", "2")
    res = critical_points(parse("x**3 + y**3 + 3*x**2 - 6*y**2 - 2"), W)  # Bézout bound 2·2 = 4
    assert "GRADLAB_EXACT_DEGREE=2" in res.exact_status
    assert {p.method for p in res.points} == {"numeric"} and len(res.points) == 4
    monkeypatch.setenv("GRADLAB_EXACT_DEGREE", "zero")
    assert_error(run("critical", "x**2 - y**2"), 2, "GRADLAB_EXACT_DEGREE")


def test_a_deadline_that_decides_is_said():
    # No polynomial: only the deadline can stop sympy.solve here, and the output says so.
    r = run("critical", "sin(x*y) + cos(x + y**2) + exp(x)*y/7 + x**5*y**3/1000", "--timeout", "0.2",
            "-f", "json")
    doc = json.loads(r.out)
    assert doc["exact_solve_deadline"] is True and "deadline" in doc["exact_solve"]
    assert "warning:" in r.err and "machine" in r.err


@pytest.mark.parametrize("text, at, grad", [
    ("x**2", "5", "2*x + relu(x-3)"),  # 12 against 10 at the point; equal on [-2, 2]
    ("x**2*y", "4,1", "2*x*y + relu(x - 3)*y, x**2"),
])
def test_users_gradient_is_compared_at_the_point_itself(text, at, grad):
    p = parse(text)
    r = gradient_check(p, parse_point(at, len(p.variables)), user=parse_components(grad))
    assert r.passed is False and r.components[0].user_right is False
    assert r.components[0].user_value != r.components[0].exact


def test_users_gradient_wrong_only_away_from_minus_two_two():
    # At 2.5, 2x + relu(x - 3) and 2x agree, and they agree on all of [-2, 2]; they
    # differ only beyond 3, which the box of radius max(1, |p|) around the point reaches.
    r = gradient_check(parse("x**2"), parse_point("2.5", 1), user=parse_components("2*x + relu(x - 3)"))
    assert r.passed is False


def test_critical_reports_progress_up_to_its_total():
    seen = []
    critical_points(parse("x**2 - y**2"), W, timeout=60, progress=lambda k, n: seen.append((k, n)))
    ks = [k for k, _ in seen]
    assert ks == sorted(ks) and seen[-1][0] == seen[-1][1] and len({n for _, n in seen}) == 1


def test_critical_of_a_function_undefined_everywhere_is_refused():
    # atan(z - z) is the constant 0: a division by zero, refused where it is written
    assert_error(run("critical", "cosh(sin(log(z) / atan(z - z))) + y"), 2, "division by zero")


def test_explain_names_the_variable_it_differentiates_by():
    r = explain(parse("sigmoid(w*x + b)"), "w")
    assert r.steps[0].rule == "variable rule: dw/dw = 1"
    assert not any("dx/dx" in s.rule for s in r.steps)


def test_explain_has_no_simplify_step_that_changes_nothing():
    rows = explain(parse("sigmoid(w*x + b)"), "w").view().rows
    assert rows[-1][1] != "simplify"
    rows = explain(parse("x*exp(x) + x**2*exp(x)"), "x").view().rows
    assert rows[-1][1] == "simplify" and rows[-1][2] != rows[-1][3]


@pytest.mark.parametrize("text", [
    "logsumexp(x, 2*x, y)", "atan2(y, x**2)", "asinh(x) + acosh(x + 2) + atanh(x/2)", "max(x, y**2)",
])
def test_explain_knows_every_function_of_the_grammar(text):
    p = parse(text, "x,y")
    r = explain(p, "x")
    assert "SymPy's derivative" not in " ".join(s.rule for s in r.steps)
    x = symbol("x")
    pts = [{x: sympy.Rational(1, 3), symbol("y"): sympy.Rational(-2, 5)}, {x: sympy.Rational(1, 7), symbol("y"): 2}]
    for pt in pts:  # the derivation agrees with SymPy's derivative, exactly at these points
        assert sympy.simplify((r.result - sympy.diff(p.expr, x)).xreplace(pt)) == 0


def test_explain_tidying_is_bounded_by_size_not_time():
    # 30 nested products: far past the size limit, so the raw derivative is the result,
    # on every machine (no deadline decides)
    text = "*".join(f"sin(x + {k})" for k in range(30))
    r = explain(parse(text), "x")
    assert sympy.count_ops(r.raw) > MAX_TIDY_OPS and r.result == r.raw
