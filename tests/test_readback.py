"""What gradlab prints reads back in; what it cannot read is refused with the fix named.

Round trip: every symbolic result (the function, its gradient, its Hessian) and every
exact value gradlab prints, in gradlab's syntax (``to_text``) and in SymPy's own (``str``,
used for JSON "exact" strings), parses back with gradlab to the same expression.
"""

from __future__ import annotations

import json

import pytest
import sympy
from hypothesis import assume, given, settings, strategies as st

from gradlab.cli.app import EXPRESSION_HELP
from gradlab.calculus.derivatives import evaluate, gradient, hessian
from gradlab.errors import BadInput, GradlabError
from gradlab.calculus.parsing import ALIASES, CONSTANTS, FUNCTIONS, parse, parse_point, parse_scalar, to_text
from tests.conftest import assert_error, run


def same(a: sympy.Expr, b: sympy.Expr) -> bool:
    """Equal as trees, or equal once SymPy's automatic distribution is undone: printing
    ``-(1 - s)*s`` and reading it back gives ``(s - 1)*s``, the same expression."""
    return a == b or sympy.expand(a - b) == 0 or sympy.cancel(sympy.expand(a - b)) == 0


def reads_back(e: sympy.Expr) -> None:
    for text in (to_text(e), str(e)):
        back = parse_scalar(text)
        assert same(back, e), (text, back, e)


# ----------------------------------------------------------------- generated expressions
_LEAVES = ["x", "y", "2", "3", "1/2", "0.5", "pi", "e", "-1"]
# defined at every real point, so derivatives and values exist wherever generated
_EVERYWHERE = ["sin", "cos", "atan", "exp", "sinh", "cosh", "tanh", "asinh", "sigmoid", "softplus", "relu", "abs"]
_SOMEWHERE = ["tan", "asin", "acos", "log", "sqrt", "acosh", "atanh", "sign", "step"]


def _expressions(unary: list[str]):
    def combine(children):
        return st.one_of(
            st.tuples(children, st.sampled_from(["+", "-", "*", "/"]), children).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
            st.tuples(st.sampled_from(unary), children).map(lambda t: f"{t[0]}({t[1]})"),
            st.tuples(children, st.sampled_from(["2", "3", "-1", "1/2"])).map(lambda t: f"({t[0]})**{t[1]}"),
            st.tuples(st.sampled_from(["logsumexp", "max", "min"]), st.lists(children, min_size=1, max_size=3))
            .map(lambda t: f"{t[0]}({', '.join(t[1])})"),
            st.tuples(children, children).map(lambda t: f"atan2({t[0]}, {t[1]})"),
        )

    return st.recursive(st.sampled_from(_LEAVES), combine, max_leaves=6)


def _parsed(text: str) -> sympy.Expr:
    try:
        return parse_scalar(text)
    except GradlabError:  # 1/0, log(-1), ... are refused, and that is tested below
        assume(False)


@settings(max_examples=60)
@given(_expressions(_EVERYWHERE + _SOMEWHERE))
def test_printed_derivatives_read_back(text):
    e = _parsed(text)
    variables = sorted(e.free_symbols, key=str)
    outputs = [e, *gradient(e, variables), *(h for row in hessian(e, variables) for h in row)]
    # An unevaluated Derivative (SymPy cannot differentiate sign of a quotient) is a
    # derivative not computed, not a printing matter.
    assume(not any(o.has(sympy.Derivative) for o in outputs))
    for o in outputs:
        reads_back(o)


@settings(max_examples=60)
@given(_expressions(_EVERYWHERE), st.tuples(st.integers(-9, 9), st.integers(1, 4)),
       st.tuples(st.integers(-9, 9), st.integers(1, 4)))
def test_printed_exact_values_read_back(text, px, py):
    e = _parsed(text)
    x, y = sympy.Symbol("x", real=True), sympy.Symbol("y", real=True)
    point = {x: sympy.Rational(*px), y: sympy.Rational(*py)}
    variables = sorted(e.free_symbols, key=str)
    for o in [e, *gradient(e, variables)]:
        try:
            value = evaluate(o, point)
        except GradlabError:
            continue  # a pole of a quotient: refused, not printed
        reads_back(value.exact)


@pytest.mark.parametrize("args", [
    ("grad", "exp(x)*y + e", "--at", "1,2"),
    ("hessian", "abs(x)*y + sign(y)*x", "--at", "1,2"),
    ("grad", "max(x, y) + min(x, 2*y)", "--at", "1,3"),
    ("grad", "logsumexp(x, y, 0)", "--at", "1000,0"),
    ("eval", "lambertw(x) + atan2(x, y)", "--at", "1,2"),
])
def test_cli_json_reads_back(args):
    doc = json.loads(run(*args, "-f", "json").out)
    texts = []

    def collect(v):
        if isinstance(v, str):
            texts.append(v)
        elif isinstance(v, list):
            for item in v:
                collect(item)
        elif isinstance(v, dict):
            for key, item in v.items():
                if key in ("symbolic", "exact"):
                    collect(item)
                elif isinstance(item, (dict, list)):
                    collect(item)

    collect(doc)
    assert texts
    for t in texts:
        parse_scalar(t)  # refused text would raise


@pytest.mark.parametrize("name", ["E", "e"])
def test_eulers_number_in_both_spellings(name):
    assert parse_scalar(f"{name}**x") == sympy.exp(sympy.Symbol("x", real=True))
    assert to_text(sympy.E) == "e"


def test_explain_output_reads_back():
    doc = json.loads(run("explain", "sigmoid(w*x+b)*abs(w)", "--wrt", "w", "-f", "json").out)
    for s in doc["steps"]:
        parse_scalar(s["expression"]) and parse_scalar(s["result"])
    assert same(parse_scalar(doc["result"]), parse_scalar(doc["unsimplified"]))


def test_help_lists_every_name_the_parser_knows():
    names = set(EXPRESSION_HELP.replace(",", " ").replace(".", " ").replace(";", " ").split())
    assert set(FUNCTIONS) <= names
    assert set(CONSTANTS) <= names and set(ALIASES) & {"E"} <= names
    out = run("--help").out
    assert "lambertw" in out and "pi" in out


# ----------------------------------------------------------------- not real numbers
@pytest.mark.parametrize("text, word", [
    ("1/0", "division by zero"), ("x/0", "division by zero"), ("sqrt(-1)", "not a real number"),
    ("log(-1)", "not a real number"), ("asin(pi)", "not a real number"), ("x**2 + log(-1)", "log(-1)"),
    ("log(0)*x", "undefined"), ("acos(2)*x", "acos(2)"), ("(-8)**(1/3)", "not a real number"),
    ("(-2)**x", "positive base"), ("lambertw(-1)", "not a real number"), ("x + 0**-1", "division by zero"),
])
def test_constants_that_are_not_real_numbers_are_refused(text, word):
    with pytest.raises(BadInput, match=word.replace("(", r"\(").replace(")", r"\)").replace("*", r"\*")):
        parse(text)


@pytest.mark.parametrize("args", [
    ("descend", "x**2+log(-1)", "--start", "1"),
    ("grad", "1/0 + x", "--at", "1"),
    ("eval", "asin(pi)*x", "--at", "1"),
    ("eval", "x", "--at", "sqrt(-1)"),
])
def test_cli_refuses_non_real_constants_with_exit_2(args):
    assert_error(run(*args), 2, "real" if "1/0" not in args[1] else "zero")


def test_real_constants_stay_accepted():
    assert parse_scalar("sqrt(2)**2 + log(1) + asin(1/2)*x") == 2 + sympy.pi / 6 * sympy.Symbol("x", real=True)
    assert parse_point("pi/4, -sqrt(2), e") == (sympy.pi / 4, -sympy.sqrt(2), sympy.E)


# ----------------------------------------------------------------- errors name the fix
@pytest.mark.parametrize("args, words", [
    (("eval", "2x", "--at", "1"), ["write 2*x"]),
    (("eval", "2 x", "--at", "1"), ["write 2*x"]),
    (("eval", "x y", "--at", "1,2"), ["write x*y"]),
    (("eval", "(x+1)(x-1)", "--at", "1"), ["(...)*(...)"]),
    (("eval", "2(x+1)", "--at", "1"), ["2*(...)"]),
    (("eval", "ln(x)", "--at", "1"), ["use log"]),
    (("eval", "arctan(x)", "--at", "1"), ["use atan"]),
    (("eval", "x", "--at", "(1)"), None),
    (("eval", "x*y", "--at", "(1,2)"), ["write", "1,2"]),
    (("eval", "x*y", "--at", "[1, 2]"), ["1, 2"]),
    (("grad", "sin(x", "--at", "1"), ["missing ')'?"]),
    (("grad", "exp(sin(x)", "--at", "1"), ["missing ')'?"]),
    (("grad", "x +", "--at", "1"), ["ends with '+'", "missing"]),
    (("grad", "x)", "--at", "1"), ["unmatched ')'"]),
    (("grad", "x = 1", "--at", "1"), ["'='"]),
    (("grad", "SIN(x)", "--at", "1"), ["did you mean sin"]),
    (("grad", "x(y+1)", "--at", "1,2"), ["x*(...)"]),
])
def test_errors_name_the_likely_fix(args, words):
    r = run(*args)
    if words is None:
        assert r.code == 0, r  # (1) is just the number 1
        return
    assert_error(r, 2, *words)
    assert "EOF" not in r.err and "multi-line" not in r.err and "invalid decimal literal" not in r.err
