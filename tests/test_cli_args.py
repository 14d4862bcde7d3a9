"""How the command line reads its words: leading minus, surface or expression,
repeated and empty options (issue 11, items 2 and 9)."""

from __future__ import annotations

import pytest

from tests.conftest import assert_error, run


def plain_records(*args: str) -> list[dict[str, str]]:
    """The plain rows of a call, named by the tsv header of the same call (plain is tsv
    without its header)."""
    r = run(*args)
    assert r.code == 0, r
    t = run(*args, "-f", "tsv")
    header, *lines = t.out.splitlines()
    assert lines == r.out.splitlines()
    return [dict(zip(header.split("\t"), line.split("\t"))) for line in lines]


@pytest.mark.parametrize("args, cells", [
    # ∇(−x² − y²) = (−2x, −2y): at (1, 2) it is (−2, −4)
    (("grad", "-x**2 - y**2", "--at", "1,2"), {"grad_x": "-2.0", "grad_y": "-4.0"}),
    # the Hessian of −x² − 3y² is diag(−2, −6) everywhere
    (("hessian", "-x**2-3*y**2", "--at", "0,0"), {"H_x_x": "-2.0", "H_x_y": "0.0", "H_y_y": "-6.0"}),
    (("--debug", "hessian", "-x**2-3*y**2", "--at", "0,0"), {"H_x_x": "-2.0", "H_y_x": "0.0", "H_y_y": "-6.0"}),
    (("eval", "-x", "--at", "3"), {"f_exact": "-3", "f": "-3.0"}),
    (("eval", "--at", "3", "-x"), {"f_exact": "-3", "f": "-3.0"}),
    (("eval", "-(x+1)**2", "--at=2"), {"f_exact": "-9", "f": "-9.0"}),
    # the user's own -- keeps working, before or after the options
    (("grad", "--", "-x**2 - y**2", "--at", "1,2"), {"grad_x": "-2.0", "grad_y": "-4.0"}),
    (("grad", "--at", "1,2", "--", "-x**2 - y**2"), {"grad_x": "-2.0", "grad_y": "-4.0"}),
    (("directional", "-x*y", "--at", "1,2", "--dir", "1,0"), {"directional_exact": "-2", "directional": "-2.0"}),
])
def test_a_leading_minus_is_an_expression(args, cells):
    [rec] = plain_records(*args)
    assert {k: rec[k] for k in cells} == cells


def test_leading_minus_works_for_descend_and_critical():
    # −(x² + y²) + (x² + y²)²/2: minima on the circle r = 1; gd from (0.5, 0) goes to (1, 0)
    r = run("descend", "-(x**2+y**2) + (x**2+y**2)**2/2", "--start", "0.5,0", "--lr", "0.1", "-f", "json")
    assert r.code == 0, r
    import json

    [run_] = json.loads(r.out)["runs"]
    assert run_["status"] == "converged" and run_["x"][0] == pytest.approx(1.0, abs=1e-5)
    r = run("critical", "-x**2 - y**2", "-f", "json")
    assert r.code == 0 and json.loads(r.out)["points"][0]["classification"] == "maximum"


@pytest.mark.parametrize("text, partials", [
    ("x-y", ["1", "-1"]), ("w-b", ["-1", "1"]), ("x-1", ["1"]), ("a-b-c", ["1", "-1", "-1"]),
    ("(rosenbrock)", ["1"]),  # parentheses force an expression: one variable named rosenbrock
])
def test_a_text_is_a_surface_only_when_the_catalogue_has_it(text, partials):
    [rec] = plain_records("grad", text)
    assert [v for k, v in rec.items() if k.startswith("grad_")] == partials


def test_surface_prefix_forces_the_catalogue():
    r = run("grad", "surface:bowl", "--at", "1,2")  # bowl = x² + y²
    assert r.code == 0 and r.out.split("\t")[2:4] == ["2.0", "4.0"]
    assert_error(run("grad", "surface:x-y"), 2, "unknown surface", "x-y")


def test_a_misspelt_surface_is_refused_with_the_fix():
    assert_error(run("grad", "rosenbrok", "--at", "1,2"), 2, "did you mean rosenbrock", "(rosenbrok)")


@pytest.mark.parametrize("args, option", [
    (("grad", "x", "--at", "1", "-f", "json", "--format", "plain"), "--format"),
    (("grad", "x", "--at", "1", "-f", "json", "-f", "json"), "--format"),
    (("descend", "bowl", "--lr", "0.1", "--lr", "0.2"), "--lr"),
    (("descend", "bowl", "-o", "gd", "--optimizer", "adam"), "--optimizer"),
    (("descend", "bowl", "--lr=0.1", "--lr", "0.2"), "--lr"),
    (("sweep", "bowl", "--num", "3", "--num", "4"), "--num"),
])
def test_a_repeated_option_is_refused(args, option):
    assert_error(run(*args), 2, "given twice", option)


@pytest.mark.parametrize("args, option", [
    (("descend", "bowl", "--lr", ""), "--lr"),
    (("grad", "x*y", "--vars", ""), "--vars"),
    (("plot", "bowl", "--out", "p.png", "--window", ""), "--window"),
    (("descend", "bowl", "--plot", ""), "--plot"),
    (("grad", "x", "--at", " "), "--at"),
    (("descend", "bowl", "--lr="), "--lr"),
])
def test_an_empty_value_is_refused(args, option):
    assert_error(run(*args), 2, "empty", option)


def test_repeatable_options_still_repeat():
    r = run("descend", "bowl", "--start", "1,1", "--start", "2,2", "--lr", "0.1", "-f", "json")
    assert r.code == 0 and r.out.count('"start"') == 2


def test_an_unknown_long_option_is_still_named():
    assert_error(run("grad", "x", "--nope", "1"), 2, "--nope")


@pytest.mark.parametrize("args", [
    ("grad", "abs(x)", "--at", "0", "-q"),
    ("grad", "abs(x)", "-q", "--at", "0"),
    ("grad", "-q", "abs(x)", "--at", "0"),
    ("-q", "grad", "abs(x)", "--at", "0"),
    ("grad", "abs(x)", "--at", "0", "--quiet"),
])
def test_q_is_quiet_anywhere_once_the_expression_is_given(args):
    """-q after the command silences the kink warning, like --quiet (--help: anywhere on
    the line); the answer is abs's subgradient 0 at 0 either way."""
    loud = run("grad", "abs(x)", "--at", "0")
    assert "kink" in loud.err
    r = run(*args)
    assert r.code == 0 and r.err == "" and r.out == loud.out


def test_a_lone_minus_q_is_still_the_expression():
    [rec] = plain_records("grad", "-q", "--at", "3")  # f = −q: ∂f/∂q = −1
    assert rec["grad_q"] == "-1.0" and rec["expression"] == "-q"


# ----------------------------------------------------------------- latex carries the table's facts
from hypothesis import assume, given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


def _latex_eigenvalues(out: str) -> list[float]:
    [line] = [ln for ln in out.splitlines() if ln.startswith(r"\text{eigenvalues: ")]
    return [float(v) for v in line[len(r"\text{eigenvalues: "):].split(" (")[0].split(", ")]


@given(st.integers(-9, 9), st.integers(-9, 9), st.integers(-9, 9))
def test_hessian_latex_has_the_eigenvalues_and_classification(p, q, r):
    """f = p x²/2 + q x y + r y²/2 has H = [[p, q], [q, r]] everywhere, with eigenvalues
    (p + r)/2 ± √(((p − r)/2)² + q²); (0, 0) is critical, and the signs classify it."""
    import math

    det = p * r - q * q
    assume(det != 0)
    out = run("hessian", f"{p}*x**2/2 + {q}*x*y + {r}*y**2/2", "--at", "0,0", "-f", "latex")
    assert out.code == 0, out
    m, d = (p + r) / 2, math.hypot((p - r) / 2, q)
    got = _latex_eigenvalues(out.out)
    assert len(got) == 2 and all(math.isclose(a, b, rel_tol=1e-9) for a, b in zip(got, [m - d, m + d])), got
    kind = "saddle" if det < 0 else "minimum" if p > 0 else "maximum"
    assert rf"\text{{classification: {kind}}}" in out.out.splitlines()
    assert r"\text{∇f = 0 here: a critical point}" in out.out.splitlines()


def test_hessian_latex_is_the_notebooks():
    """One builder: the CLI's lines are the notebook's display, without its delimiters."""
    import gradlab

    out = run("hessian", "x**3 - 3*x*y**2", "--at", "1,2", "-f", "latex").out
    shown = gradlab.hessian("x**3 - 3*x*y**2", at=(1, 2))._repr_latex_()
    assert shown == r"$$\begin{gathered}" + r" \\ ".join(out.splitlines()) + r"\end{gathered}$$"
    # H = [[6x, −6y], [−6y, −6x]] = [[6, −12], [−12, −6]] at (1, 2): λ = ±√(36 + 144) = ±6√5
    assert _latex_eigenvalues(out) == pytest.approx([-6 * 5 ** 0.5, 6 * 5 ** 0.5], rel=1e-9)
    assert r"\text{∇f ≠ 0 here: not a critical point}" in out.splitlines()  # ∇f = (3 − 12, −12) ≠ 0


def test_explain_latex_names_each_rule():
    """(x eˣ)' = eˣ + x eˣ by the product rule, built from x' = 1 and (eˣ)' = eˣ."""
    lines = run("explain", "x*exp(x)", "-f", "latex").out.splitlines()
    assert len(lines) == 4 and all(r"\quad \text{(" in line for line in lines)
    [product] = [line for line in lines if r"\left[x e^{x}\right]" in line]
    assert "product rule" in product
    assert any("exp rule" in line for line in lines) and lines[-1].endswith(r"\text{(simplify)}")
