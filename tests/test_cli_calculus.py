"""The calculus commands through the CLI: formats, JSON keys, errors and exit codes."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import pytest
import sympy

from gradlab.calculus.parsing import parse_scalar
from typer.testing import CliRunner

from gradlab.cli import app
from tests.conftest import assert_error, run


def test_grad_plain_row_is_point_gradient_norm_and_exact_values():
    # f = x²y + 3y at (2, 5): ∇f = (2xy, x² + 3) = (20, 7), ‖∇f‖ = √449
    r = run("grad", "x**2*y+3*y", "--at", "2,5")
    assert r.code == 0 and r.err == ""
    [row] = [line.split("\t") for line in r.out.splitlines()]
    assert row == ["2.0", "5.0", "20.0", "7.0", repr(449 ** 0.5), "20", "7", "sqrt(449)", "x**2*y+3*y", "NA"]


def test_grad_plain_without_a_point_is_the_partials():
    r = run("grad", "x**2*y+3*y")
    [row] = [line.split("\t") for line in r.out.splitlines()]
    assert [parse_scalar(c) for c in row[:2]] == [parse_scalar("2*x*y"), parse_scalar("x**2 + 3")]
    assert row[2] == "x**2*y+3*y"


def test_grad_json_keys_and_round_trip():
    r = run("grad", "x**2*y + y*z**3", "--at", "1,2,3", "--format", "json")
    doc = json.loads(r.out)
    assert doc["command"] == "grad"
    assert doc["variables"] == ["x", "y", "z"]
    assert doc["point"] == [1.0, 2.0, 3.0] and doc["point_exact"] == ["1", "2", "3"]
    g = doc["gradient"]
    assert g["value"] == [4.0, 28.0, 54.0]
    assert g["exact"] == ["4", "28", "54"]
    # symbolic strings are gradlab syntax: they parse back to the same expression
    expected = ["2*x*y", "x**2 + z**3", "3*y*z**2"]
    assert [parse_scalar(s) for s in g["symbolic"]] == [parse_scalar(s) for s in expected]
    assert doc["norm"]["value"] == pytest.approx((4**2 + 28**2 + 54**2) ** 0.5)


def test_grad_without_point_is_symbolic_only():
    doc = json.loads(run("grad", "x**3*y**2", "-f", "json").out)
    assert "point" not in doc and "exact" not in doc["gradient"]
    assert parse_scalar(doc["gradient"]["symbolic"][0]) == parse_scalar("3*x**2*y**2")


def test_table_format_shows_norm():
    r = run("grad", "x**2*y+3*y", "--at", "2,5", "-f", "table")
    assert "sqrt(449)" in r.out and "20" in r.out


def test_jacobian_plain_is_the_point_then_the_matrix_row_major():
    # J of (x²y, x + y³) at (2, 3) = [[2xy, x²], [1, 3y²]] = [[12, 4], [1, 27]]
    r = run("jacobian", "x**2*y, x + y**3", "--at", "2,3")
    [row] = [line.split("\t") for line in r.out.splitlines()]
    assert list(map(float, row[:6])) == [2, 3, 12, 4, 1, 27] and row[6:10] == ["12", "4", "1", "27"]


def test_jacobian_json():
    doc = json.loads(run("jacobian", "x**2 + y, x*y", "--at", "1,2", "-f", "json").out)
    assert doc["jacobian"]["shape"] == [2, 2]
    assert doc["jacobian"]["value"] == [[2.0, 1.0], [2.0, 1.0]]


def test_hessian_json():
    doc = json.loads(run("hessian", "x**2 - y**2", "--at", "0,0", "-f", "json").out)
    h = doc["hessian"]
    assert h["exact"] == [["2", "0"], ["0", "-2"]]
    assert h["eigenvalues"] == [-2.0, 2.0]
    assert h["classification"] == "saddle" and h["critical"] is True


def test_hessian_inconclusive():
    doc = json.loads(run("hessian", "x**4 + y**4", "--at", "0,0", "-f", "json").out)
    assert doc["hessian"]["classification"] == "inconclusive"


def test_directional_json():
    doc = json.loads(run("directional", "x**2 + y**2", "--at", "3,4", "--dir", "1,1", "-f", "json").out)
    dd = doc["directional_derivative"]
    assert sympy.simplify(sympy.sympify(dd["exact"]) - 7 * sympy.sqrt(2)) == 0
    assert dd["value"] == pytest.approx(9.899494936611665)
    assert doc["steepest"]["value"] == 10.0


def test_eval_plain():
    r = run("eval", "sqrt(x) + y", "--at", "8,1/2")
    assert r.out.strip().split("\t") == ["8.0", "0.5", repr(0.5 + 8**0.5), "1/2 + 2*sqrt(2)", "sqrt(x) + y", "NA"]


def test_named_point_and_leading_minus():
    assert run("eval", "x - y", "--at", "y=5,x=2").out.split("\t")[:3] == ["2.0", "5.0", "-3.0"]
    assert run("eval", "x*y*z", "--at", "-1,1/2,pi").out.split("\t")[4] == "-pi/2"


@pytest.mark.parametrize(
    "args",
    [
        ("grad", "1/x", "--at", "0"),
        ("eval", "log(x)", "--at", "0"),
        ("eval", "sqrt(x)", "--at", "-1"),
        ("eval", "0**x", "--at", "-1"),
        ("hessian", "log(x*y)", "--at", "0,1"),
        ("directional", "1/(x-y)", "--at", "1,1", "--dir", "1,0"),
        ("eval", "exp(exp(x))", "--at", "100"),
    ],
)
def test_undefined_is_exit_1_with_one_line(args):
    assert_error(run(*args), 1, "undefined" if "exp(exp" not in args[1] else "too large")


@pytest.mark.parametrize(
    "args, word",
    [
        (("grad", "x**2", "--at", "1,2"), "coordinates"),
        (("grad", "x +* y"), "syntax"),
        (("grad", "x", "--format", "yaml"), "format"),
        (("directional", "x+y", "--at", "1,1", "--dir", "0,0"), "zero"),
        (("directional", "x+y", "--at", "1,1"), "--dir"),
        (("eval", "x+y"), "point"),
        (("jacobian", "x, , y"), "empty"),
        (("grad", "x", "--vars", "x,x"), "twice"),
        (("nosuch",), "nosuch"),
        (("grad",), "missing"),
    ],
)
def test_bad_input_is_exit_2_with_one_line(args, word):
    assert_error(run(*args), 2, word)


HOSTILE = [
    "__import__('os').system('touch {s}')",
    "().__class__.__bases__[0].__subclasses__()",
    "x.__class__",
    "(lambda: open('{s}', 'w'))()",
    "'{s}'",
    "x[0]",
    "x < 1",
    "unknownfn(x)",
    "9**9**9**9",
    "10**10**8",
    "1" * 5000,
    "(" * 1000 + "x" + ")" * 1000,
    "+".join(["x"] * 100_000),
    "xа",  # Cyrillic а
    "x\x00",
    "",
]


@pytest.mark.parametrize("text", HOSTILE, ids=range(len(HOSTILE)))
@pytest.mark.parametrize("command", ["grad", "hessian", "eval", "jacobian"])
def test_hostile_expressions_refused_and_nothing_runs(text, command, tmp_path):
    sentinel = tmp_path / "pwned"
    r = run(command, text.format(s=sentinel), "--at", "1")
    assert_error(r, 2)
    assert not sentinel.exists()


def test_kink_warning_on_stderr_data_on_stdout():
    r = run("grad", "abs(x)", "--at", "0")
    assert r.code == 0
    assert r.out == "0.0\t0.0\t0.0\t0\t0\tabs(x)\tNA\n"  # the subgradient 0 at the kink
    assert "warning" in r.err and "subgradient" in r.err


def test_help_has_an_example_for_every_command():
    for cmd in ["grad", "jacobian", "hessian", "directional", "eval", "surfaces", "descend", "sweep", "plot",
                "critical", "check", "explain"]:
        r = run(cmd, "--help")
        assert r.code == 0 and "Example: gradlab " + cmd in " ".join(r.out.split()), cmd


def test_version():
    r = run("--version")
    assert r.code == 0 and r.out.startswith("gradlab ")


def _process(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gradlab", *args], capture_output=True, text=True, timeout=60, **kw)


def test_installed_process_pipes_plain_and_json():
    p = _process("grad", "x**2*y+3*y", "--at", "2,5")
    assert p.returncode == 0 and p.stdout.split("\t")[2:4] == ["20.0", "7.0"]
    p = _process("grad", "1/x", "--at", "0")
    assert p.returncode == 1 and p.stdout == "" and len(p.stderr.splitlines()) == 1


def test_debug_shows_traceback():
    p = _process("--debug", "grad", "1/x", "--at", "0")
    assert p.returncode != 0 and "Traceback" in p.stderr
    p = subprocess.run([sys.executable, "-m", "gradlab", "grad", "1/x", "--at", "0"], capture_output=True,
                       text=True, env={**os.environ, "GRADLAB_DEBUG": "1"})
    assert "Traceback" in p.stderr


def test_plain_commands_do_not_import_numpy_rich_or_matplotlib():
    code = (
        "import sys; from gradlab.cli import app\n"
        "try: app(['grad', 'x**2*y', '--at', '2,5', '-f', 'plain'])\n"
        "except SystemExit: pass\n"
        "print('loaded:' + ','.join(m for m in ('numpy', 'rich', 'matplotlib', 'yaml') if m in sys.modules))"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert p.stdout.strip().splitlines()[-1] == "loaded:"


def test_a_constant_has_no_gradient_without_vars():
    assert_error(run("grad", "5"), 2, "no variables")
    assert run("grad", "5", "--vars", "x").out == "0\t5\tNA\n"  # ∂5/∂x = 0; the expression; no error


def _strict(text: str):
    def reject(name):
        raise ValueError(f"non-standard JSON constant {name}")

    return json.loads(text, parse_constant=reject)


ONE_POINT_FAILURES = [
    ("grad", "log(x)*y", "0,1", [0.0, 1.0], ["0", "1"]),
    ("hessian", "1/x", "0", [0.0], ["0"]),
    ("jacobian", "1/x", "0", [0.0], ["0"]),
    ("check", "1/x", "0", [0.0], ["0"]),
    ("directional", "1/x", "0", [0.0], ["0"]),
]


@pytest.mark.parametrize("fmt", ["json", "jsonl"])
@pytest.mark.parametrize("command, expression, at, point, exact", ONE_POINT_FAILURES)
def test_one_failing_point_is_one_error_record_like_many_points(fmt, command, expression, at, point, exact):
    extra = ["--dir", "1"] if command == "directional" else []
    one = run(command, expression, "--at", at, *extra, "--format", fmt)
    assert one.code == 1, one
    assert len(one.err.strip().splitlines()) == 1 and one.err.startswith("gradlab: error: "), one
    if fmt == "jsonl":
        assert len(one.out.strip().splitlines()) == 1, one
    record = _strict(one.out)
    # the same record as the many-point path gives for that point (bar where it came from)
    many = run(command, expression, "--at", at, "--at", at, *extra, "--format", "json")
    first = _strict(many.out)["results"][0]
    assert set(record) == set(first), (record, first)
    assert record["point"] == point and record["point_exact"] == exact
    assert record["exit_code"] == 1 and record["error"] and record["text"] == at
    assert first["point"] == point and first["point_exact"] == exact


@pytest.mark.parametrize("fmt", ["json", "jsonl"])
def test_many_point_error_records_keep_the_point(fmt):
    # 1/x has no value at 0, but the point 0 was read: it is in the record, as in CSV
    r = run("eval", "1/x", "--at", "0", "--at", "2", "--format", fmt)
    assert r.code == 1, r
    records = _strict(r.out)["results"] if fmt == "json" else [_strict(line) for line in r.out.splitlines()]
    assert records[0]["point"] == [0.0] and records[0]["point_exact"] == ["0"] and records[0]["error"]
    assert records[1]["result"]["value"] == 0.5


def test_an_unreadable_point_line_has_a_null_point():
    r = run("eval", "1/x", "--at", "0", "--at", "nope(", "--format", "json")
    records = _strict(r.out)["results"]
    assert records[1]["point"] is None and records[1]["point_exact"] is None and records[1]["error"]


@pytest.mark.parametrize("command", ["grad", "hessian"])
def test_latex_with_many_points_is_refused(command):
    assert_error(run(command, "x*y", "--at", "1,2", "--at", "3,4", "--format", "latex"), 2, "one --at")


@pytest.mark.parametrize("args", [["explain", "-"], ["critical", "-"], ["descend", "-"], ["sweep", "-"],
                                  ["plot", "-", "-o", "never.png"], ["taylor", "-", "--at", "1"],
                                  ["backprop", "-", "--at", "1"]])
def test_dash_on_a_command_that_does_not_read_stdin_says_so(args):
    assert_error(run(*args), 2, f"{args[0]} does not read expressions from stdin", "only grad")


def test_dash_on_a_stdin_command_still_reads_stdin():
    r = CliRunner().invoke(app, ["grad", "-", "--at", "2", "--format", "csv"], input="x**2\n")
    assert r.exit_code == 0 and r.stdout.splitlines()[1].split(",")[:2] == ["2.0", "4.0"], r.stdout


def test_an_empty_csv_cell_is_named_as_an_empty_coordinate(tmp_path):
    import csv
    import io

    path = tmp_path / "bad.csv"
    path.write_text("x,y\n1,2\n3,\n,4\n")
    r = run("grad", "x*y", "--points", str(path), "--format", "csv")
    assert r.code == 1, r
    assert r.err.splitlines() == [f"gradlab: error: the coordinate for y is empty ({path}:3)",
                                  f"gradlab: error: the coordinate for x is empty ({path}:4)"]
    rows = list(csv.DictReader(io.StringIO(r.out)))
    assert [row["grad_x"] for row in rows] == ["2.0", "NA", "NA"]  # d(xy)/dx = y = 2 at (1, 2)
    assert "empty expression" not in r.out


# ------------------------------------------------------------------ error messages say what is wrong
@pytest.mark.parametrize("command, expression, at", [
    ("eval", "1/x", "0"),  # a pole
    ("eval", "log(x)", "-1"),  # not real
    ("eval", "exp(exp(x))", "100"),  # e^(e^100): no float, and no exact form worth keeping
    ("grad", "log(x)*y", "0,1"),
])
def test_a_point_fails_in_the_same_words_alone_and_among_many(command, expression, at):
    one = run(command, expression, "--at", at)
    many = run(command, expression, "--at", "1" if "," not in at else "1,1", "--at", at)
    assert one.code == many.code == 1
    alone = one.err.strip().removeprefix("gradlab: error: ")
    [line] = many.err.strip().splitlines()
    assert line == f"gradlab: error: {alone} (--at #2)"


@pytest.mark.parametrize("args, option, fix", [
    (("grad", "x*y", "--at", "1 2"), "--at", "1,2"),
    (("directional", "x*y", "--at", "1,2", "--dir", "1 1"), "--dir", "1,1"),
    (("descend", "bowl", "--lr", "0.1 0.2"), "--lr", "0.1,0.2"),
])
def test_numbers_side_by_side_in_a_list_are_a_missing_comma(args, option, fix):
    r = run(*args)
    assert_error(r, 2, "commas", fix, option)
    assert "*" not in r.err  # not "write 1*2": a list is not a product


def test_a_direction_is_named_as_a_direction():
    assert_error(run("directional", "x*y", "--at", "1,2", "--dir", "1,2,3"), 2,
                 "the direction has 3 components; the function has 2 variables", "(--dir)")
    assert_error(run("directional", "x*y", "--at", "1,2"), 2, "a direction is required", "(--dir)")
    assert_error(run("directional", "x*y", "--at", "1,2", "--at", "2,3"), 2, "a direction is required")


@pytest.mark.parametrize("args, words", [
    (("check", "x", "--at", "1", "--grad", "1, 2"), "--grad has 2 components; f has 1 variable (--grad)"),
    (("directional", "x", "--at", "1", "--dir", "1,2"), "the direction has 2 components; the function has 1 variable"),
    (("grad", "x", "--at", "1,2"), "the point has 2 coordinates; the function has 1 variable (--at)"),
    (("taylor", "x**2", "--at", "1", "--dir", "0"), "the direction must be 1 number, not all zero"),
])
def test_counts_agree_with_their_nouns(args, words):
    assert_error(run(*args), 2, words)


@pytest.mark.parametrize("args, words", [
    (("grad", "x", "--dims", "abc"), "'abc' is not a whole number (--dims)"),
    (("descend", "bowl", "--steps", "1.5"), "'1.5' is not a whole number (--steps)"),
    (("check", "x", "--at", "1", "--h", "abc"), "'abc' is not a number (--h)"),
    (("grad", "x", "--format", "bad"), "'bad' is not one of"),
])
def test_a_bad_option_value_names_its_option_like_gradlabs_own_checks(args, words):
    r = run(*args)
    assert_error(r, 2, words)
    assert r.err.rstrip().endswith(")")


# ------------------------------------------------------------------ check: steps scaled to the point
@pytest.mark.parametrize("expression, at, derivative", [
    ("x**2", "1e6", 2e6),  # an absolute 1e-5 step is lost in f ≈ 1e12's rounding
    ("sin(x)", "1e6", math.cos(1e6)),  # f varies on a unit scale however large x is
    ("log(x)", "1e-3", 1e3),  # a step of 1e-5 is 1% of x: truncation 3e-5 relative
    ("log(x)", "1e-300", 1e300),  # 1e-5 crosses x = 0: the step must shrink inside the domain
    ("sqrt(x - 1)", "1.000001", 500.0),  # 1/(2·√(10⁻⁶)); the domain's edge is 10⁻⁶ away
])
def test_check_passes_a_right_gradient_at_large_and_tiny_coordinates(expression, at, derivative):
    """The exact gradient is right, so check must say PASS (exit 0), with the central
    difference near the closed-form derivative and no unexplained nan anywhere."""
    r = run("check", expression, "--at", at, "-f", "json")
    assert r.code == 0, r
    doc = _strict(r.out)
    [c] = doc["components"]
    assert doc["passed"] is True
    assert c["central"]["value"] == pytest.approx(c["exact"]["value"], rel=1e-6)
    assert c["exact"]["value"] == pytest.approx(derivative, rel=1e-12)
    assert c["step"] > 0 and c["step"] <= 1e-5 * max(1.0, float(at))
    table = run("check", expression, "--at", at, "-f", "table").out
    assert "nan" not in table and "PASS: central differences agree" in " ".join(table.split())


def test_check_says_why_a_step_shrank_and_when_no_difference_exists():
    r = run("check", "log(x)", "--at", "1e-300", "-f", "table")
    text = " ".join(r.out.split())
    assert r.code == 0 and "leaves f's domain" in text and "undefined at x − 1e-05" in text
    # x·√x at 0: f is undefined left of 0 at every step: no central difference, said so
    r = run("check", "x*sqrt(x)", "--at", "0", "-f", "table")
    text = " ".join(r.out.split())
    assert r.code == 1 and "nan" not in text
    assert "FAIL: no central difference for x" in text and "edge of f's domain" in text
    doc = _strict(run("check", "x*sqrt(x)", "--at", "0", "-f", "json").out)
    assert doc["passed"] is False and doc["components"][0]["central"] is None
    assert "no finite difference" in doc["components"][0]["note"]


def test_check_fail_wording_says_they_differ():
    # a step of 0.5 on x³ at 1: central = 3 + h² = 3.25, 8.3% off the exact 3
    r = run("check", "x**3", "--at", "1", "--h", "0.5", "-f", "table")
    assert r.code == 1
    text = " ".join(r.out.split())
    assert "FAIL: central differences differ from the exact gradient by more than relative error 1e-06" in text
    assert "0.0833 for x" in text and "agree" not in text


# ------------------------------------------------------------------ check: below f's rounding
EPS = 2.0 ** -52


def test_check_a_component_far_below_fs_rounding_is_below_resolution_not_a_false_fail():
    # f = 10⁸x² + 10⁻⁷z at (1, 1): f(x, 1 ± h) are rounded to ε·10⁸ ≈ 2.2·10⁻⁸, so their
    # central difference is only known to ε·10⁸/h ≈ 2.2·10⁻³, 10⁴ times ∂f/∂z = 10⁻⁷ itself
    r = run("check", "1e8*x**2 + 1e-7*z", "--at", "1,1", "-f", "json")
    assert r.code == 0, r
    doc = _strict(r.out)
    x, z = doc["components"]
    assert (x["exact"]["value"], z["exact"]["value"]) == (2e8, 1e-7)
    assert x["verdict"] == "agrees" and z["verdict"] == "below resolution"
    assert doc["passed"] is True and doc["below_resolution"] == ["z"]
    step = z["step"]
    assert step == pytest.approx(1e-5, rel=1e-9)
    assert z["central"]["rounding_error"] >= EPS * 1e8 / step  # at least the textbook ε·|f|/h
    assert z["central"]["truncation_error"] == 0.0  # ∂³f/∂z³ = 0
    assert z["central"]["abs_error"] <= z["central"]["rounding_error"]
    assert z["complex_step"]["rel_error"] <= 1e-15  # no subtraction: the complex step resolves it
    table = " ".join(run("check", "1e8*x**2 + 1e-7*z", "--at", "1,1", "-f", "table").out.split())
    assert "PASS for x" in table and "z below resolution" in table and "FAIL" not in table
    # plain: one verdict column per variable, after its errors
    header = run("check", "1e8*x**2 + 1e-7*z", "--at", "1,1", "-f", "tsv").out.splitlines()[0].split("\t")
    row = dict(zip(header, run("check", "1e8*x**2 + 1e-7*z", "--at", "1,1").out.rstrip("\n").split("\t")))
    assert (row["passed"], row["verdict_x"], row["verdict_z"]) == ("true", "agrees", "below resolution")


def test_check_every_component_below_resolution_is_unresolved_not_pass():
    # f = 10¹⁶ + 10⁻³z: f's floats are 2 apart, the difference 10⁻⁸ over 2h = 2·10⁻⁵ apart
    r = run("check", "1e16 + 1e-3*z", "--at", "1", "-f", "table")
    text = " ".join(r.out.split())
    assert r.code == 0 and "UNRESOLVED" in text and "PASS" not in text and "FAIL" not in text


def test_check_cancelling_terms_round_like_the_terms_not_like_f():
    # (10¹²x − 10¹²y)² + z at x = y: f = z is small, but its floats carry the rounding of
    # 10¹²x ≈ 1.3·10¹²: the measured error of f's floats, not ε·|f|, bounds the difference
    r = run("check", "(1e12*x - 1e12*y)**2 + z", "--at", "1.2857142857142858,1.2857142857142858,0.45", "-f", "json")
    assert r.code == 0, r
    doc = _strict(r.out)
    assert [c["verdict"] for c in doc["components"]] == ["below resolution", "below resolution", "agrees"]
    assert [c["exact"]["value"] for c in doc["components"]] == [0.0, 0.0, 1.0]  # 2·10¹²·(10¹²x − 10¹²y) = 0


def test_check_still_catches_a_wrong_gradient_near_fs_rounding(monkeypatch):
    """A wrong exact gradient is caught wherever it is off by more than the difference's
    own error; below that, it is called below resolution, never PASS."""
    from gradlab.calculus import derivatives as d
    from gradlab.calculus import gradcheck
    from gradlab.calculus.parsing import parse, parse_point

    right = d.gradient

    def off_by(delta):
        def wrong(expr, variables):
            g = right(expr, variables)
            return (*g[:-1], g[-1] + delta)
        return wrong

    p, at = parse("1e8*x**2 + 1e-7*z"), parse_point("1,1", 2)
    for delta, verdict in ((1, "differs"), (sympy.Rational(1, 10), "differs"), (sympy.Rational(1, 10**5), "below resolution")):
        monkeypatch.setattr(d, "gradient", off_by(delta))
        r = gradcheck.gradient_check(p, at)
        assert r.components[-1].verdict == verdict, (delta, r.components[-1])
        assert r.passed is (verdict != "differs")
    # the learner's own wrong gradient is compared exactly, however small the component
    monkeypatch.setattr(d, "gradient", right)
    r = run("check", "1e8*x**2 + 1e-7*z", "--at", "1,1", "--grad", "2e8*x, 2e-7", "-f", "json")
    assert r.code == 1 and [c["yours"]["right"] for c in _strict(r.out)["components"]] == [True, False]


def test_check_below_resolution_never_hides_a_failure_of_the_tolerance_alone():
    # x³ at 1, h = 0.5: central = 3 + h² = 3.25; f's rounding is far below the tolerance,
    # so the truncation h² is judged by --tol as before: FAIL (the step is too long)
    doc = _strict(run("check", "x**3", "--at", "1", "--h", "0.5", "-f", "json").out)
    [c] = doc["components"]
    assert c["verdict"] == "differs" and doc["passed"] is False and doc["below_resolution"] == []


def test_check_many_points_below_resolution_exit_0():
    r = run("check", "1e8*x**2 + 1e-7*z", "--at", "1,1", "--at", "2,-1", "-f", "jsonl")
    assert r.code == 0, r
    recs = [_strict(line) for line in r.out.splitlines()]
    assert [rec["below_resolution"] for rec in recs] == [["z"], ["z"]]


def test_check_correct_gradients_of_large_sums_never_differ():
    """A property: the exact gradient of A·g(x, y) + c·h(z), A up to 10¹⁵ and c down to
    10⁻¹², is never judged to differ from central differences (it is right)."""
    from hypothesis import given, settings, strategies as st

    from gradlab.calculus.gradcheck import gradient_check
    from gradlab.calculus.parsing import parse, parse_point

    g = st.sampled_from(["x**2 + y", "sin(x)*y", "exp(y/3) - x*y", "x**2 - y**2", "log(1 + x**2) + y**3"])
    h = st.sampled_from(["z", "z**2", "sin(z)", "exp(z/4)"])
    coord = st.integers(-30, 30).map(lambda k: k / 7)

    @settings(max_examples=25, deadline=None)
    @given(st.integers(0, 15), st.integers(-12, 0), g, h, coord, coord, coord)
    def check(a, c, gx, hz, x, y, z):
        r = gradient_check(parse(f"1e{a}*({gx}) + 1e{c}*({hz})", "x,y,z"), parse_point(f"{x},{y},{z}", 3))
        assert all(comp.verdict in ("agrees", "below resolution") for comp in r.components), r.components
        assert r.passed

    check()


# ------------------------------------------------------------------ long exact numbers stay one word
@pytest.mark.parametrize("args, shown, exact", [
    (("eval", "x*1e-300", "--at", "1"), "1e-300", sympy.Rational(1, 10**300)),
    (("grad", "x**2*y", "--at", "1e-200,3"), "3/5e199", sympy.Rational(6, 10**200)),  # ∂f/∂x = 2xy
    (("check", "log(x)", "--at", "1e-300"), "(1e-300)", None),  # the title's point
])
def test_a_long_exact_number_is_shown_short_and_exact(args, shown, exact):
    r = run(*args, "-f", "table")
    assert r.code == 0, r
    assert all(len(line) <= 80 for line in r.out.splitlines()), r.out  # nothing wraps
    assert shown in r.out and "000000000000" not in r.out
    if exact is not None:  # the short form is gradlab syntax for the exact value
        assert parse_scalar(shown) == exact
        doc = json.loads(run(*args, "-f", "json").out)  # JSON's exact string reads back too
        text = doc["result"]["exact"] if args[0] == "eval" else doc["gradient"]["exact"][0]
        assert parse_scalar(text) == exact


def test_an_exact_number_with_no_short_form_shows_its_float_and_says_where_the_exact_one_is():
    r = run("eval", "2**1000*x", "--at", "1", "-f", "table")
    assert f"≈ {float(2**1000)!r} (exact in json)" in r.out
    assert json.loads(run("eval", "2**1000*x", "--at", "1", "-f", "json").out)["result"]["exact"] == str(2**1000)


from hypothesis import given, settings, strategies as st  # noqa: E402


@settings(max_examples=200, deadline=None)
@given(st.integers(-10**18, 10**18), st.integers(0, 420), st.integers(1, 10**18), st.integers(0, 420))
def test_short_text_reads_back_to_the_same_number(m, a, n, b):
    """m·10^a / (n·10^b) in any size: the short text parses back to exactly that value."""
    from gradlab.calculus.parsing import short_text

    value = sympy.Rational(m * 10**a, n * 10**b)
    text = short_text(value)
    assert parse_scalar(text) == value, text
    assert parse_scalar(short_text(value * sympy.Symbol("x", real=True) + 1)).equals(
        value * parse_scalar("x") + 1)


@pytest.mark.parametrize("fmt", ["csv", "tsv"])
@pytest.mark.parametrize("command, expression, at, point, exact", ONE_POINT_FAILURES)
def test_one_failing_point_in_csv_or_tsv_is_the_many_point_row(fmt, command, expression, at, point, exact):
    """A single --at where f is undefined: the header and the row the many-point path
    writes for that point (the point, NA, the error), one stderr line, exit 1."""
    import csv
    import io

    extra = ["--dir", "1"] if command == "directional" else []
    one = run(command, expression, "--at", at, *extra, "--format", fmt)
    assert one.code == 1 and len(one.err.strip().splitlines()) == 1, one
    many = run(command, expression, "--at", at, "--at", at, *extra, "--format", fmt)
    sep = "," if fmt == "csv" else "\t"
    header, row = list(csv.reader(io.StringIO(one.out), delimiter=sep))
    mheader, mrow, _ = list(csv.reader(io.StringIO(many.out), delimiter=sep))
    assert header == mheader
    assert [float(c) for c in row[:len(point)]] == point
    assert row[:-1] == mrow[:-1] and "undefined" in row[-1]
    assert all(c == "NA" for c in row[len(point):-2])
    # plain, the default when piped, keeps the error contract: nothing on stdout
    assert_error(run(command, expression, "--at", at, *extra), 1, "undefined")


# ----------------------------------------------------------------- exact values past a float
def _exact_back(text: str) -> sympy.Expr:
    return parse_scalar(text)


def test_a_finite_value_too_large_for_a_float_is_an_answer():
    # e**1000 ≈ 10**434.29: finite and exact, above the largest float (≈ 1.8·10**308)
    r = run("eval", "exp(x)", "--at", "1000", "-f", "json")
    assert r.code == 0 and r.err == "", r
    res = json.loads(r.out)["result"]
    assert res["value"] is None and res["value_nonfinite"] == "inf"
    assert _exact_back(res["exact"]) == sympy.exp(1000)
    assert sympy.log(_exact_back(res["exact"]), 10).evalf(20) > 434
    plain = run("eval", "exp(x)", "--at", "1000", "-f", "plain").out.rstrip("\n").split("\t")
    assert plain == ["1000.0", "inf", "exp(1000)", "exp(x)", "NA"]
    assert float(plain[1]) == float("inf")  # the plain cell reads back as a float
    # below the float range: -inf is a float too; e**-1000 rounds to 0, an ordinary float
    r = run("eval", "-exp(x)", "--at", "1000", "-f", "json")
    assert json.loads(r.out)["result"]["value_nonfinite"] == "-inf"


def test_grad_hessian_directional_past_a_float_keep_their_exact_values():
    # f = e^{xy} at (30, 30): ∇f = e^{900}(y, x) = 30e^{900}(1, 1), ‖∇f‖ = 30√2·e^{900};
    # H = e^{900}[[y², 1 + xy], [1 + xy, x²]] = e^{900}[[900, 901], [901, 900]], whose
    # eigenvalues e^{900}(900 ∓ 901) are -e^{900} < 0 < 1801e^{900}: indefinite
    E = sympy.exp(900)
    g = json.loads(run("grad", "exp(x*y)", "--at", "30,30", "-f", "json").out)
    assert [_exact_back(t) for t in g["gradient"]["exact"]] == [30 * E, 30 * E]
    assert g["gradient"]["value_nonfinite"] == ["inf", "inf"]
    assert sympy.simplify(_exact_back(g["norm"]["exact"]) - 30 * sympy.sqrt(2) * E) == 0
    h = json.loads(run("hessian", "exp(x*y)", "--at", "30,30", "-f", "json").out)
    want = [[900 * E, 901 * E], [901 * E, 900 * E]]
    assert [[_exact_back(t) for t in row] for row in h["hessian"]["exact"]] == want
    assert h["hessian"]["eigenvalues_nonfinite"] == ["-inf", "inf"]
    assert h["hessian"]["classification"] == "indefinite" and h["hessian"]["critical"] is False
    d = json.loads(run("directional", "exp(x*y)", "--at", "30,30", "--dir", "1,1", "-f", "json").out)
    # D_u f = ∇f·(1, 1)/√2 = 60e^{900}/√2 = 30√2·e^{900}
    assert sympy.simplify(_exact_back(d["directional_derivative"]["exact"]) - 30 * sympy.sqrt(2) * E) == 0
    assert d["directional_derivative"]["value_nonfinite"] == "inf"


@pytest.mark.parametrize("args, words", [
    (("eval", "log(x)", "--at", "0"), "undefined"),
    (("grad", "exp(x)*log(y)", "--at", "1000,0"), "undefined"),
    # exp(exp(100)) is finite, but neither its float nor a readable exact form exists
    (("eval", "exp(exp(x))", "--at", "100"), "too large"),
])
def test_undefined_or_unwritable_stays_an_error(args, words):
    assert_error(run(*args), 1, words)
