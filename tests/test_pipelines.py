"""Many inputs in one call and the stream formats (issue 14's facts)."""

from __future__ import annotations

import csv
import io
import json
import math
import random
from fractions import Fraction

import pytest

from tests.conftest import assert_error, run


def strict_json(text: str):
    """RFC 8259 JSON: NaN and Infinity are refused."""
    def refuse(name):
        raise ValueError(f"non-standard JSON constant {name}")

    return json.loads(text, parse_constant=refuse)


def invoke(*args: str, stdin: str | None = None):
    from typer.testing import CliRunner

    from gradlab.cli import app
    from tests.conftest import Run

    return Run(CliRunner().invoke(app, list(args), input=stdin))


# f = x²y + 3y − xz: ∇f = (2xy − z, x² + 3, −x)
def grad_f(x, y, z):
    return [2 * x * y - z, x * x + 3, -x]


F = "x**2*y + 3*y - x*z"


# ------------------------------------------------------------------ many points
def test_a_thousand_points_from_stdin_match_single_calls_in_order():
    rng = random.Random(14)
    pts = [(rng.randint(-50, 50) / 4, rng.randint(-50, 50) / 8, rng.randint(-9, 9)) for _ in range(1000)]
    stdin = "\n".join(f"{x} {y} {z}" if k % 2 else f"{x},{y},{z}" for k, (x, y, z) in enumerate(pts)) + "\n"
    r = invoke("grad", F, "--at", "-", "-f", "jsonl", stdin=stdin)
    assert r.code == 0 and r.err == "", r
    recs = [strict_json(line) for line in r.out.splitlines()]
    assert len(recs) == 1000
    # in order, and right by the closed form (these points are exact in binary)
    for rec, p in zip(recs, pts):
        assert [float(Fraction(c)) for c in rec["point"]] == list(p)
        assert rec["gradient"]["value"] == grad_f(*p)
        assert rec["norm"]["value"] == pytest.approx(math.sqrt(sum(g * g for g in grad_f(*p))), rel=1e-15)
        assert rec["error"] is None
    # the same numbers as single calls (a sample)
    for k in rng.sample(range(1000), 12):
        single = strict_json(run("grad", F, "--at", ",".join(map(str, pts[k])), "-f", "json").out)
        assert single["gradient"]["value"] == recs[k]["gradient"]["value"]
        assert single["norm"]["value"] == pytest.approx(recs[k]["norm"]["value"], rel=1e-15)


def _ulps(a: float, b: float) -> float:
    """How many units in the last place apart two floats are (0 for equal ones)."""
    if a == b:
        return 0.0
    return abs(a - b) / math.ulp(max(abs(a), abs(b)))


def test_many_points_are_float64_within_4_ulps_and_exact_with_exact():
    # Many points are evaluated in float64 from the compiled derivatives; single calls
    # round the exact value. Documented: within a few ulps where nothing cancels, and
    # --exact gives the single calls' numbers exactly.
    from hypothesis import given, settings, strategies as st

    g = "sin(x)*y**2*exp(y/8)"  # products only: its partials have no sums that cancel (|y| < 7)
    # coordinates that are exact in binary: the only difference left is the evaluation
    coord = st.integers(-400, 400).map(lambda k: k / 64)

    @settings(max_examples=8, deadline=None)
    @given(st.lists(st.tuples(coord, coord), min_size=2, max_size=4))
    def check(pts):
        ats = sum((["--at", f"{x},{y}"] for x, y in pts), [])
        floats = strict_json(invoke("grad", g, *ats, "-f", "json").out)["results"]
        exact = strict_json(invoke("grad", g, *ats, "--exact", "-f", "json").out)["results"]
        for (x, y), fl, ex in zip(pts, floats, exact):
            single = strict_json(run("grad", g, "--at", f"{x},{y}", "-f", "json").out)
            assert ex["gradient"]["value"] == single["gradient"]["value"]
            assert ex["norm"]["value"] == single["norm"]["value"]
            for a, b in zip(fl["gradient"]["value"], single["gradient"]["value"]):
                assert _ulps(a, b) <= 4, (x, y, a, b)

    check()


def test_the_reviewers_point_differs_in_float_mode_only_within_4_ulps():
    # -2.194 is not a binary fraction: the single call (and --exact) work with the decimal
    # exactly; float mode with the nearest float. The answers still agree within 4 ulps.
    at = "-2.194,2.085"
    single = strict_json(run("grad", "sin(x)*y**2", "--at", at, "-f", "json").out)["gradient"]["value"]
    many = strict_json(invoke("grad", "sin(x)*y**2", "--at", at, "--at", at, "-f", "json").out)["results"]
    exact = strict_json(invoke("grad", "sin(x)*y**2", "--at", at, "--at", at, "--exact", "-f", "json").out)["results"]
    assert exact[0]["gradient"]["value"] == single
    assert all(_ulps(a, b) <= 4 for a, b in zip(many[0]["gradient"]["value"], single))
    # and the exact answer is the closed form: d/dx = cos(x) y^2, d/dy = 2 sin(x) y
    x, y = Fraction("-2.194"), Fraction("2.085")
    assert single[0] == pytest.approx(math.cos(float(x)) * float(y) ** 2, rel=1e-14)
    assert single[1] == pytest.approx(2 * math.sin(float(x)) * float(y), rel=1e-14)


def test_a_bad_line_in_the_middle():
    stdin = "1 2 3\n0.5,0.5,0.5\nnot a point\n# a comment\n\n4 5 6\n1,2\n-1 -2 -3\n"
    r = invoke("grad", F, "--at", "-", "-f", "jsonl", stdin=stdin)
    assert r.code == 1
    recs = [strict_json(line) for line in r.out.splitlines()]
    assert len(recs) == 6  # every input answered or refused, in order
    bad = [rec for rec in recs if rec["error"] is not None]
    assert [b["input"] for b in bad] == ["line 3", "line 7"]
    assert "coordinates" in bad[1]["error"]  # 2 coordinates for 3 variables
    errs = r.err.strip().splitlines()
    assert len(errs) == 2 and all(e.startswith("gradlab: error: ") for e in errs)
    assert "(line 3)" in errs[0] and "(line 7)" in errs[1]
    good = [rec for rec in recs if rec["error"] is None]
    assert [rec["gradient"]["value"] for rec in good] == [grad_f(1, 2, 3), grad_f(.5, .5, .5), grad_f(4, 5, 6),
                                                         grad_f(-1, -2, -3)]


def test_fail_fast_stops_at_the_first_bad_line():
    r = invoke("eval", "x**2", "--at", "-", "--fail-fast", "-f", "csv", stdin="1\n2\nbad\n4\n")
    assert r.code == 1
    rows = list(csv.DictReader(io.StringIO(r.out)))
    assert [row["f"] for row in rows] == ["1.0", "4.0", "NA"]
    assert len(r.err.strip().splitlines()) == 1 and "line 3" in r.err


def test_undefined_point_is_that_points_error_only():
    r = invoke("eval", "log(x)", "--at", "1", "--at", "0", "--at", "-1", "--at", "2.718281828459045", "-f", "jsonl")
    assert r.code == 1
    recs = [strict_json(line) for line in r.out.splitlines()]
    assert recs[0]["result"]["value"] == 0.0 and recs[3]["result"]["value"] == pytest.approx(1.0, rel=1e-15)
    assert recs[1]["error"] and recs[2]["error"] and "--at #2" in recs[1]["error"]


def test_points_file(tmp_path):
    path = tmp_path / "pts.csv"
    path.write_text("z,x,y\n3,1,2\n0,0,0\n")  # any column order
    r = invoke("grad", F, "--points", str(path), "-f", "csv")
    rows = list(csv.DictReader(io.StringIO(r.out)))
    assert r.code == 0
    assert [[float(row[c]) for c in ("grad_x", "grad_y", "grad_z")] for row in rows] == [grad_f(1, 2, 3), grad_f(0, 0, 0)]
    path.write_text("x,y,w\n1,2,3\n")
    assert_error(invoke("grad", F, "--points", str(path)), 2, "'w' is not a variable")


def test_expressions_from_stdin_share_columns():
    stdin = "x**2\nx*y\n(\ny - x\n"
    r = invoke("grad", "-", "--at", "3,4", "-f", "csv", stdin=stdin)
    assert r.code == 1 and "line 3" in r.err
    rows = list(csv.DictReader(io.StringIO(r.out)))
    assert [row["expression"] for row in rows] == ["x**2", "x*y", "(", "y - x"]
    # x² as a function of (x, y): ∂/∂y = 0
    assert [(row["grad_x"], row["grad_y"]) for row in rows] == [("6.0", "0.0"), ("4.0", "3.0"), ("NA", "NA"),
                                                                ("-1.0", "1.0")]


def test_not_both_from_stdin():
    assert_error(invoke("grad", "-", "--at", "-", stdin="x\n"), 2, "stdin")


def test_exact_values_for_many_points_on_request():
    r = invoke("grad", "sqrt(x)*y", "--at", "2,1", "--at", "8,3", "--exact", "-f", "jsonl")
    recs = [strict_json(line) for line in r.out.splitlines()]
    # ∂/∂x = y/(2√x): 1/(2√2) = √2/4; 3/(2√8) = 3√2/8
    assert [rec["gradient"]["exact"][0] for rec in recs] == ["sqrt(2)/4", "3*sqrt(2)/8"]


def test_hessian_many_points_classify():
    # x² − y²: saddle; x² + y²: minimum — eigenvalues (−2, 2) and (2, 2) everywhere
    r = invoke("hessian", "x**2 - y**2", "--at", "0,0", "--at", "1,1", "-f", "csv")
    rows = list(csv.DictReader(io.StringIO(r.out)))
    assert [(row["eig_1"], row["eig_2"], row["critical"]) for row in rows] == [("-2.0", "2.0", "true"),
                                                                               ("-2.0", "2.0", "false")]
    assert [row["H_x_y"] for row in rows] == ["0.0", "0.0"]


def test_directional_many_points():
    # ∇(x² + y²) = (2x, 2y); along (3, 4)/5: (6x + 8y)/5
    r = invoke("directional", "x**2 + y**2", "--at", "1,0", "--at", "0,1", "--dir", "3,4", "-f", "tsv")
    rows = [line.split("\t") for line in r.out.splitlines()]
    col = rows[0].index("directional")
    assert [float(row[col]) for row in rows[1:]] == pytest.approx([6 / 5, 8 / 5], rel=1e-15)


def test_descend_starts_from_stdin():
    r = invoke("descend", "bowl", "--start", "-", "--lr", "0.1", "-f", "jsonl", stdin="1 1\n-2,3\n")
    recs = [strict_json(line) for line in r.out.splitlines()]
    assert [rec["start"] for rec in recs] == [[1.0, 1.0], [-2.0, 3.0]]


# ------------------------------------------------------------------ formats
DOCUMENTED = {
    "eval": ["x", "y", "f", "f_exact", "expression", "error"],
    "grad": ["x", "y", "grad_x", "grad_y", "norm", "grad_x_exact", "grad_y_exact", "norm_exact", "expression",
             "error"],
    "hessian": ["x", "y", "H_x_x", "H_x_y", "H_y_x", "H_y_y", "eig_1", "eig_2", "critical", "classification",
                "H_x_x_exact", "H_x_y_exact", "H_y_x_exact", "H_y_y_exact", "expression", "error"],
    "jacobian": ["x", "y", "J_1_x", "J_1_y", "J_2_x", "J_2_y", "J_1_x_exact", "J_1_y_exact", "J_2_x_exact",
                 "J_2_y_exact", "expression", "error"],
}


@pytest.mark.parametrize("command, expr", [("eval", "x*y"), ("grad", "x**2*y + 3*y"), ("hessian", "x**3*y"),
                                           ("jacobian", "x*y, x + y")])
@pytest.mark.parametrize("many", [False, True])
def test_csv_reads_back_into_the_documented_columns(command, expr, many):
    at = ["--at", "2,5"] + (["--at", "1/2,-1"] if many else [])
    r = invoke(command, expr, *at, "-f", "csv")
    assert r.code == 0, r
    rows = list(csv.reader(io.StringIO(r.out)))
    assert rows[0] == DOCUMENTED[command] and all(h.isascii() for h in rows[0])
    assert all(len(row) == len(rows[0]) for row in rows)
    assert all(cell != "" for row in rows for cell in row)  # NA, never an empty cell
    assert len(rows) == 1 + (2 if many else 1)
    first = dict(zip(rows[0], rows[1]))
    assert (float(first["x"]), float(first["y"])) == (2.0, 5.0)
    r2 = invoke(command, expr, *at, "-f", "tsv", "--no-header")
    assert [line.split("\t") for line in r2.out.splitlines()] == rows[1:]


def test_single_point_csv_carries_exact_values_and_the_norm():
    r = invoke("grad", "x**2*y + 3*y", "--at", "2,5", "-f", "csv")
    [row] = list(csv.DictReader(io.StringIO(r.out)))
    # ∇ = (2xy, x² + 3) = (20, 7); ‖∇‖ = √449
    assert (row["grad_x"], row["grad_y"], row["grad_x_exact"], row["norm_exact"]) == ("20.0", "7.0", "20", "sqrt(449)")
    assert float(row["norm"]) == pytest.approx(math.sqrt(449), rel=1e-15)


def test_descend_csv_has_every_hyper_parameter_column():
    r = invoke("descend", "bowl", "-o", "gd,adam", "--lr", "0.1", "-f", "csv")
    rows = list(csv.DictReader(io.StringIO(r.out)))
    assert {row["optimizer"] for row in rows} == {"gd", "adam"}
    gd = next(row for row in rows if row["optimizer"] == "gd")
    assert gd["momentum"] == "NA" and gd["beta1"] == "NA"
    adam = next(row for row in rows if row["optimizer"] == "adam")
    assert float(adam["beta1"]) == 0.9


def test_sweep_csv_carries_the_refined_largest_stable_lr():
    # elongated = x² + 25 y²... (λ_max = 50): gd is stable for lr < 2/50 = 0.04
    r = invoke("sweep", "elongated", "-f", "csv")
    rows = list(csv.DictReader(io.StringIO(r.out)))
    best = {float(row["largest_stable_lr"]) for row in rows}
    assert len(best) == 1 and best.pop() == pytest.approx(0.04, rel=2e-3)
    assert float(rows[0]["bound"]) == pytest.approx(0.04, rel=1e-12)


def test_critical_csv():
    # x² − y² has one critical point, a saddle at the origin, eigenvalues −2 and 2
    r = invoke("critical", "x**2 - y**2", "-f", "csv")
    [row] = list(csv.DictReader(io.StringIO(r.out)))
    assert (float(row["x"]), float(row["y"]), row["classification"]) == (0.0, 0.0, "saddle")
    assert (float(row["eig_1"]), float(row["eig_2"])) == (-2.0, 2.0)


JSON_CALLS = [
    ("grad", "x**2*y", "--at", "1,2"), ("jacobian", "x*y, x+y", "--at", "1,2"), ("hessian", "x*y", "--at", "1,2"),
    ("directional", "x*y", "--at", "1,2", "--dir", "1,1"), ("eval", "x*y", "--at", "1,2"),
    ("check", "x*y", "--at", "1,2"), ("critical", "x**2 - y**2"), ("explain", "x*sin(x)"),
    ("descend", "x**2", "--start", "1e200", "--lr", "10"),  # overflows: f = inf
    ("descend", "sqrt(x+y)", "--start", "-1,-1"),  # undefined at the start: nan
    ("sweep", "bowl", "--num", "5"), ("surfaces",), ("surfaces", "bowl"),
    ("eval", "1/x", "--at", "0", "--at", "1"),  # many points, one undefined
    ("grad", "log(x)", "--at", "-", "<stdin>0\n-1\n1e-300\n1\n"),
]


@pytest.mark.parametrize("args", JSON_CALLS, ids=[" ".join(a[:2]) for a in JSON_CALLS])
@pytest.mark.parametrize("fmt", ["json", "jsonl"])
def test_json_and_jsonl_are_strict(args, fmt):
    stdin = None
    if args[-1].startswith("<stdin>"):
        stdin, args = args[-1][len("<stdin>"):], args[:-1]
    r = invoke(*args, "-f", fmt, stdin=stdin)
    assert r.code in (0, 1) and r.out, r
    docs = [strict_json(r.out)] if fmt == "json" else [strict_json(line) for line in r.out.splitlines()]
    assert all(isinstance(d, dict) and d["command"] == args[0] for d in docs)


def test_non_finite_numbers_are_null_with_a_marker():
    # (10^200)² overflows a float: f is +inf at the start
    r = invoke("descend", "x**2", "--start", "1e200", "--lr", "10", "-f", "json")
    [run_] = strict_json(r.out)["runs"]
    assert run_["status"] == "diverged" and run_["f"] is None and run_["f_nonfinite"] == "inf"
    assert run_["momentum"] is None and "beta1" in run_  # hyper-parameters on every run


def test_compact_json_is_one_line_and_pretty_keeps_lists_on_a_line():
    r = invoke("hessian", "x*y", "--at", "1,2", "-f", "json", "--compact")
    assert r.out.count("\n") == 1 and strict_json(r.out)["hessian"]["value"] == [[0.0, 1.0], [1.0, 0.0]]
    r = invoke("grad", "x**2*y", "--at", "1,2", "-f", "json")
    assert '"value": [4.0, 1.0]' in r.out


def test_latex_is_refused_where_it_does_not_apply():
    assert_error(invoke("eval", "x", "--at", "1", "-f", "latex"), 2, "latex")
    assert_error(invoke("eval", "x", "-f", "csv"), 2, "--at")
    assert_error(invoke("taylor", "x**2", "--at", "1", "-f", "csv"), 2, "no csv output")


def _tex_pieces(line: str) -> list[str]:
    """The math between the matrix environments, each entry alone."""
    import re

    pieces = []
    for m in re.finditer(r"\\begin\{pmatrix\}(.*?)\\end\{pmatrix\}", line):
        for row in m.group(1).split(r"\\"):
            pieces += [e.strip() for e in row.split("&")]
    pieces.append(re.sub(r"\\begin\{pmatrix\}.*?\\end\{pmatrix\}", "M", line))
    return pieces


@pytest.mark.parametrize("args", [
    ("grad", "x**2*y + 3*y", "--at", "2,5"), ("grad", "sin(x)/y"),
    ("jacobian", "x**2*y, x + y**3", "--at", "2,3"), ("hessian", "exp(x*y)", "--at", "0,1"),
    ("explain", "x*exp(x)"), ("explain", "sqrt(1 + x**2)"),
])
def test_latex_parses_as_math(args):
    from matplotlib.mathtext import MathTextParser

    r = invoke(*args, "-f", "latex")
    assert r.code == 0 and r.out.strip(), r
    parser = MathTextParser("path")
    for line in r.out.splitlines():
        assert line.count("{") == line.count("}") and line.count(r"\left") == line.count(r"\right")
        assert line.count(r"\begin{pmatrix}") == line.count(r"\end{pmatrix}")
        for piece in _tex_pieces(line):
            parser.parse(f"${piece}$")  # raises ValueError on anything mathtext cannot read


def test_latex_values_are_the_exact_gradient():
    r = invoke("grad", "x**2*y + 3*y", "--at", "2,5", "-f", "latex")
    lines = r.out.splitlines()
    assert lines[1].endswith(r"\begin{pmatrix} 20 \\ 7 \end{pmatrix}") and lines[2].endswith(r"\sqrt{449}")


# ------------------------------------------------------------------ exit codes
def test_check_exits_1_when_your_gradient_is_wrong():
    assert invoke("check", "x**2*y", "--at", "1,2", "--grad", "2*x*y, x**2").code == 0
    r = invoke("check", "x**2*y", "--at", "1,2", "--grad", "2*x*y, x**2 + 1", "-f", "csv")
    [rec] = list(csv.DictReader(io.StringIO(r.out)))
    # ∂(x²y)/∂y = x² = 1 at (1, 2); x² + 1 gives 2 there: wrong
    assert r.code == 1 and rec["passed"] == "false" and (rec["right_x"], rec["right_y"]) == ("true", "false")
    assert float(rec["yours_y"]) == 2.0 and float(rec["exact_y"]) == 1.0
    r = invoke("check", "x**2*y", "--at", "1,2", "--grad", "2*x*y, x**2 + 1", "-f", "table")
    assert r.code == 1 and "WRONG" in r.out


def test_exit_status_for_divergence():
    assert invoke("descend", "bowl", "--lr", "0.1,1.5").code == 0  # divergence is a result
    assert invoke("descend", "bowl", "--lr", "0.1,1.5", "--exit-status").code == 3
    assert invoke("descend", "bowl", "--lr", "0.1", "--exit-status").code == 0


def test_quiet_silences_notes_not_errors():
    r = invoke("grad", "abs(x)", "--at", "0")
    assert "kink" in r.err
    r = invoke("grad", "abs(x)", "--at", "0", "--quiet")
    assert r.err == "" and r.code == 0
    assert_error(invoke("grad", "log(x)", "--at", "0", "--quiet"), 1, "undefined")


def test_trajectory_to_stdout():
    r = invoke("descend", "bowl", "--start", "1,1", "--lr", "0.25", "--steps", "3", "--tol", "1e-300", "--trajectory", "-")
    rows = list(csv.DictReader(io.StringIO(r.out)))
    # gd on x² + y² with lr 1/4: x ← x − 2x/4 = x/2
    assert [float(row["x"]) for row in rows] == [1.0, 0.5, 0.25, 0.125]


def test_empty_stdin_gives_no_answers():
    r = invoke("grad", "x*y", "--at", "-", "-f", "csv", stdin="# nothing here\n\n")
    assert r.code == 0 and r.out.splitlines() == ["x,y,grad_x,grad_y,norm,grad_x_exact,grad_y_exact,norm_exact,"
                                                  "expression,error"]


def test_a_missing_points_file_is_one_error(tmp_path):
    assert_error(invoke("grad", "x*y", "--points", str(tmp_path / "nope.csv")), 1, "cannot read")


def test_jacobian_of_expressions_from_stdin():
    # softmax-free maps of (x, y): J(x*y, x+y) = [[y, x], [1, 1]]
    r = invoke("jacobian", "-", "--at", "2,3", "-f", "jsonl", stdin="x*y, x + y\nx - y, x*y**2\n")
    recs = [strict_json(line) for line in r.out.splitlines()]
    assert [rec["jacobian"]["value"] for rec in recs] == [[[3.0, 2.0], [1.0, 1.0]], [[1.0, -1.0], [9.0, 12.0]]]


# ------------------------------------------------------------------ the JSON writer
def _json_values():
    from hypothesis import strategies as st

    scalars = st.none() | st.booleans() | st.integers(-10**6, 10**6) | \
        st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=6)
    return st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["a", "b%s", "é", "x"]), inner, max_size=4), max_leaves=30)


def _records():
    """Lists of records with the same keys (the fast table layout) and near misses."""
    from hypothesis import strategies as st

    # (a few values that repeat down a column, −0.0 beside 0.0: columns converted once per value)
    few = st.sampled_from([0.0, -0.0, 2.5, 7, "s", "é", [1.0, -0.0]])
    cell = st.none() | few | st.floats(allow_nan=False) | st.text(max_size=3) | \
        st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=2, max_size=2)
    zeros = st.sampled_from([0.0, -0.0, 2.5])  # (a column of floats only)
    return st.lists(st.fixed_dictionaries({"k": cell, "lr": st.floats(0, 1) | few, "z": zeros, "x": cell}),
                    max_size=12)


def test_the_fast_json_layout_writes_exactly_the_reference_text():
    from hypothesis import given, settings, strategies as st

    from gradlab.render.output import _pretty, json_safe, render_json

    @settings(max_examples=300, deadline=None)
    @given(st.one_of(_json_values(), _records().map(lambda rs: {"runs": rs})), st.booleans())
    def check(value, ascii):
        text = render_json(value, ascii=ascii)
        assert text == _pretty(json_safe(value), "", ascii) + "\n"
        assert strict_json(text) == strict_json(render_json(value, ascii=ascii, compact=True))
        if ascii:
            assert text.isascii()

    check()


# ------------------------------------------------------------------ plain is tsv without its header
PLAIN_CASES = [
    ("eval", "sqrt(x) + log(y)", "--at", "8,e"),
    ("grad", "x**2*y + 3*y", "--at", "2,5"), ("grad", "x**2*y + 3*y"),
    ("jacobian", "x**2*y, x + y**3", "--at", "2,3"), ("jacobian", "x*y, x + y"),
    ("hessian", "x**2 - y**2", "--at", "0,0"), ("hessian", "x**3*y"),
    ("directional", "x**2 + y**2", "--at", "3,4", "--dir", "1,1"),
    ("check", "x**2*y", "--at", "1,2"), ("check", "x**2*y", "--at", "1,2", "--grad", "2*x*y, x"),
    ("critical", "x**3 - 3*x + y**2"), ("explain", "sin(x**2)"),
    ("surfaces",), ("surfaces", "elongated"),
    ("descend", "elongated", "--lr", "0.01,0.06", "-o", "gd,adam"),
    ("sweep", "elongated", "--num", "8"),
    ("grad", "x**2*y", "--at", "1,2", "--at", "3,4"),
]


@pytest.mark.parametrize("args", PLAIN_CASES, ids=[" ".join(a) for a in PLAIN_CASES])
def test_plain_is_tsv_without_its_header_and_never_an_empty_cell(args):
    plain, tsv = invoke(*args, "-f", "plain"), invoke(*args, "-f", "tsv")
    assert plain.code == tsv.code and plain.code in (0, 1), (plain, tsv)
    header, *rows = tsv.out.splitlines()
    assert plain.out.splitlines() == rows and rows
    names = header.split("\t")
    assert header.isascii() and len(set(names)) == len(names)
    for row in rows:
        cells = row.split("\t")
        assert len(cells) == len(names) and "" not in cells
        assert not any("," in c and c[:1] in "-0123456789" and "(" not in c for c in cells), cells  # no 1.0,2.0


def test_plain_carries_every_answer_the_table_shows():
    def rec(*args):
        t = invoke(*args, "-f", "tsv")
        header, *rows = t.out.splitlines()
        return [dict(zip(header.split("\t"), r.split("\t"))) for r in rows]

    # grad: the norm and exact values; ‖(20, 7)‖ = √449
    [g] = rec("grad", "x**2*y + 3*y", "--at", "2,5")
    assert (g["norm_exact"], float(g["norm"])) == ("sqrt(449)", math.sqrt(449))
    # hessian of x² − y²: eigenvalues −2, 2 at the critical point 0: a saddle
    [h] = rec("hessian", "x**2 - y**2", "--at", "0,0")
    assert (h["eig_1"], h["eig_2"], h["critical"], h["classification"]) == ("-2.0", "2.0", "true", "saddle")
    # check's verdict
    assert rec("check", "x**2*y", "--at", "1,2", "--grad", "2*x*y, x")[0]["passed"] == "false"
    # critical: x³ − 3x + y² has a saddle at (−1, 0) (eigenvalues −6, 2) and a minimum at (1, 0) (2, 6)
    crit = rec("critical", "x**3 - 3*x + y**2")
    assert [(c["x_exact"], c["eig_1"], c["eig_2"], c["classification"]) for c in crit] == [
        ("-1", "-6.0", "2.0", "saddle"), ("1", "2.0", "6.0", "minimum")]
    # sweep on elongated: gd's bound 2/λmax = 2/50; the refined answer is just below it, on every row
    rows = rec("sweep", "elongated")
    lrs = {r["largest_stable_lr"] for r in rows}
    assert len(lrs) == 1 and 0.0399 < float(lrs.pop()) < 0.04 and rows[0]["bound"] == "0.04"


@pytest.mark.parametrize("args", [("taylor", "x**2*y", "--at", "1,2"), ("backprop", "x*y + sin(x)", "--at", "1,2")])
def test_commands_without_fixed_columns_refuse_csv_and_split_vectors_in_plain(args):
    assert_error(invoke(*args, "-f", "csv"), 2, "no csv output")
    r = invoke(*args, "-f", "plain")
    assert r.code == 0 and all("" not in line.split("\t") for line in r.out.splitlines())
    assert not any(c[:1] in "-0123456789" and "," in c for line in r.out.splitlines() for c in line.split("\t"))


# ------------------------------------------------------------------ one point shape; exact strings read back
@pytest.mark.parametrize("args, path", [
    (("grad", "x**2*y", "--at", "1/2,e"), []),
    (("check", "x**2*y", "--at", "1/2,e"), []),
    (("taylor", "x**2*y", "--at", "1/2,e"), []),
    (("critical", "x**2 - x + y**2 - 2*y*exp(1)"), ["points", 0]),
    (("surfaces", "elongated"), None),
])
def test_a_point_is_floats_and_its_exact_coordinates_everywhere(args, path):
    from gradlab.calculus.parsing import parse_scalar

    doc = strict_json(invoke(*args, "-f", "json").out)
    if path is None:  # a surface: its start and its minima
        pairs = [(doc["start"], doc["start_exact"])] + [(m["point"], m["point_exact"]) for m in doc["minima"]]
    else:
        for p in path:
            doc = doc[p]
        pairs = [(doc["point"], doc["point_exact"])]
    for floats, exact in pairs:
        assert all(isinstance(v, float) for v in floats) and len(floats) == len(exact)
        # the exact strings are gradlab syntax: they read back to the floats
        assert [float(parse_scalar(e)) for e in exact] == floats
    if path is not None:
        assert pairs[0][1] == ["1/2", "e"] and pairs[0][0] == [0.5, math.e]


def test_exact_values_read_back_through_gradlabs_parser():
    """SymPy spells e as E and |x| as Abs; gradlab's JSON writes what its parser reads."""
    import sympy

    from gradlab.calculus.parsing import parse_scalar

    for args in [("eval", "exp(x)*abs(y)", "--at", "1,-2"), ("grad", "exp(x*y) + lambertw(x)", "--at", "1,1"),
                 ("hessian", "exp(x)*y**2", "--at", "1,1/3")]:
        doc = strict_json(invoke(*args, "-f", "json").out)
        key = {"eval": "result", "grad": "gradient", "hessian": "hessian"}[args[0]]
        exact = doc[key]["exact"]
        flat = exact if isinstance(exact, str) else [e for row in exact for e in (row if isinstance(row, list) else [row])]
        values = doc[key]["value"]
        fvals = [values] if isinstance(values, float) else [v for row in values for v in (row if isinstance(row, list) else [row])]
        for e, v in zip([flat] if isinstance(flat, str) else flat, fvals):
            assert "E" not in e.replace("e", "") or False, e
            assert float(parse_scalar(e)) == pytest.approx(v, rel=1e-14), (e, v)
    assert sympy.E.free_symbols == set()  # (sanity: e is a number, not a variable)


def test_many_point_hessian_classifies_as_single_calls_do():
    rng = random.Random(3)
    pts = [(0, 0)] + [(rng.randint(-6, 6) / 2, rng.randint(-6, 6) / 2) for _ in range(12)]
    expr = "x**3*y + y**2 - 3*x"
    many = strict_json(invoke("hessian", expr, *[a for p in pts for a in ("--at", f"{p[0]},{p[1]}")],
                              "-f", "json").out)["results"]
    for p, rec in zip(pts, many):
        one = strict_json(invoke("hessian", expr, "--at", f"{p[0]},{p[1]}", "-f", "json").out)["hessian"]
        assert rec["hessian"]["classification"] == one["classification"], p
        assert rec["hessian"]["critical"] == one["critical"], p


def test_every_run_has_the_same_keys_whatever_its_optimizer():
    doc = strict_json(invoke("descend", "rosenbrock", "-o", "gd,momentum,adam,bfgs,newton", "-f", "json").out)
    keys = {tuple(r) for r in doc["runs"]}
    assert len(keys) == 1 and {"momentum", "beta1", "beta2", "eps", "line_search"} <= set(keys.pop())
    gd, momentum, adam = doc["runs"][:3]
    assert gd["momentum"] is None and gd["beta1"] is None and momentum["momentum"] == 0.9 and adam["beta2"] == 0.999
    lines = [strict_json(line) for line in invoke("descend", "rosenbrock", "-o", "gd,bfgs", "-f", "jsonl").out.splitlines()]
    assert len({tuple(r) for r in lines}) == 1


# ------------------------------------------------------------------ expressions from stdin, no point
_STDIN_EXPRS = "x**2\nx*y\nsin(x)*y**3\n"


def _symbolic_derivatives(command: str, text: str, names: list[str]) -> list:
    """The derivatives the no-point row must carry, by SymPy's own diff (rows of a matrix
    flattened row-major)."""
    import sympy

    from gradlab.calculus.parsing import parse_components

    v = sympy.symbols(names, real=True)
    exprs = [e.subs({sympy.Symbol(n, real=True): s for n, s in zip(names, v)})
             for e in parse_components(text, "expression")]
    if command == "grad":
        return [sympy.diff(exprs[0], s) for s in v]
    if command == "hessian":
        return [sympy.diff(exprs[0], a, b) for a in v for b in v]
    return [sympy.diff(e, s) for e in exprs for s in v]


@pytest.mark.parametrize("command, stdin", [
    ("grad", _STDIN_EXPRS), ("hessian", _STDIN_EXPRS), ("jacobian", "x**2, y\nx*y\nsin(x)*y**3, x - y\n"),
])
@pytest.mark.parametrize("fmt", ["tsv", "csv", "plain"])
def test_expressions_from_stdin_without_a_point_are_their_derivatives(command, stdin, fmt):
    """grad -, hessian -, jacobian - without --at: the documented no-point columns, one
    row per expression, every cell the derivative (never NA for a derivative that exists)."""
    from gradlab.calculus.parsing import parse_scalar

    r = invoke(command, "-", "-f", fmt, stdin=stdin)
    assert r.code == 0 and r.err == "", r
    rows = list(csv.reader(io.StringIO(r.out), delimiter="," if fmt == "csv" else "\t"))
    single = run(command, "x*y" if command != "jacobian" else "x*y, x", "-f", "tsv").out.splitlines()[0]
    if fmt != "plain":
        header, *rows = rows
        assert header == single.split("\t")  # the columns of the same command without --at
        assert header[-2:] == ["expression", "error"]
    lines = stdin.splitlines()
    assert len(rows) == len(lines)
    outputs = max(len(line.split(",")) for line in lines)
    for row, text in zip(rows, lines):
        assert row[-2:] == [text, "NA"]
        want = _symbolic_derivatives(command, text, ["x", "y"])
        cells = row[:-2]
        assert len(cells) == (outputs * 2 if command == "jacobian" else len(want))
        got = [parse_scalar(c) for c in cells[:len(want)]]
        assert all(_same_function(g, w) for g, w in zip(got, want)), (got, want)
        assert all(c == "NA" for c in cells[len(want):])  # a map with fewer outputs


def _same_function(a, b) -> bool:
    import sympy

    names = {s.name: s for s in b.free_symbols}
    a = a.subs({s: names[s.name] for s in a.free_symbols if s.name in names})
    return sympy.simplify(a - b) == 0


@pytest.mark.parametrize("at", ["1e-200", "-2.5e150", "0.125", "3e-7"])
def test_a_points_exact_coordinates_read_back_alone_and_among_many(at):
    """point_exact is gradlab syntax for the decimal's exact value (1e-200 is 10⁻²⁰⁰, not a
    201-digit fraction the parser refuses), the same alone and among many points."""
    from gradlab.calculus.parsing import parse_scalar

    one = strict_json(run("eval", "x", "--at", at, "-f", "json").out)
    many = [strict_json(line) for line in run("eval", "x", "--at", at, "--at", "1", "-f", "jsonl").out.splitlines()]
    [text] = one["point_exact"]
    assert many[0]["point_exact"] == [text]
    assert Fraction(str(parse_scalar(text))) == Fraction(at)


def test_a_column_of_repeated_values_keeps_each_text():
    # a column converted once per distinct value must still tell −0.0 from 0.0 (equal keys)
    from gradlab.render.output import render_json

    rows = [{"z": 0.0 if i % 2 else -0.0, "s": "same", "n": 7} for i in range(10)]
    doc = strict_json(render_json({"runs": rows}))
    assert [math.copysign(1, r["z"]) for r in doc["runs"]] == [-1.0 if i % 2 == 0 else 1.0 for i in range(10)]
    assert {r["s"] for r in doc["runs"]} == {"same"} and {r["n"] for r in doc["runs"]} == {7}


# ------------------------------------------------------------------ a point alone and among many
# e¹⁰⁰⁰ ≈ 10⁴³⁴ exists but is past a float's range: alone it is an answer (the exact value
# beside the float inf, exit 0), so among many points it must be the same answer.
PAST_FLOAT_RANGE = [
    # command, expression, extra options, the many-point column and its exact column at x = 1000, y = 1
    ("eval", "exp(x)*y", (), "f", "exp(1000)"),
    ("grad", "exp(x)*y", (), "grad_x", "exp(1000)"),
    ("hessian", "exp(x)*y", (), "H_x_x", "exp(1000)"),
    ("directional", "exp(x)*y", ("--dir", "0,1"), "directional", "exp(1000)"),  # D_(0,1) f = ∂f/∂y = eˣ
    ("jacobian", "exp(x)*y, y", (), "J_1_x", "exp(1000)"),
]


def _without_input(rec: dict) -> dict:
    return {k: v for k, v in rec.items() if k not in ("input", "error")}


@pytest.mark.parametrize("command, expr, extra, column, exact", PAST_FLOAT_RANGE, ids=[c[0] for c in PAST_FLOAT_RANGE])
def test_a_value_past_a_floats_range_is_the_same_answer_alone_and_among_many(command, expr, extra, column, exact):
    alone = invoke(command, expr, "--at", "1000,1", *extra, "-f", "json")
    assert alone.code == 0 and alone.err == "", alone
    among = invoke(command, expr, "--at", "1000,1", "--at", "1,1", "--at", "0,2", *extra, "-f", "jsonl")
    assert among.code == 0 and among.err == "", among
    recs = [strict_json(line) for line in among.out.splitlines()]
    assert [r["error"] for r in recs] == [None, None, None]
    assert _without_input(recs[0]) == strict_json(alone.out)  # the single call's answer, exactly
    # and in rows: the float inf beside its exact value, no error, whatever the delimiter
    for fmt, sep in (("plain", "\t"), ("tsv", "\t"), ("csv", ",")):
        r = invoke(command, expr, "--at", "1000,1", "--at", "1,1", *extra, "-f", fmt)
        assert r.code == 0 and r.err == "", r
        lines = list(csv.reader(io.StringIO(r.out), delimiter=sep))
        header = lines[0] if fmt != "plain" else \
            invoke(command, expr, "--at", "1000,1", "--at", "1,1", *extra, "-f", "tsv").out.splitlines()[0].split("\t")
        rows = [dict(zip(header, line)) for line in (lines if fmt == "plain" else lines[1:])]
        assert float(rows[0][column]) == math.inf and rows[0][f"{column}_exact"] == exact
        assert rows[0]["error"] == "NA" and rows[1]["error"] == "NA"
        assert float(rows[1][column]) == pytest.approx(math.e, rel=1e-15)  # e¹ at (1, 1), each column's value


@pytest.mark.parametrize("command", ["eval", "grad", "hessian", "directional"])
def test_a_table_of_many_points_shows_the_exact_value_past_a_floats_range(command):
    extra = ("--dir", "1") if command == "directional" else ()
    r = invoke(command, "exp(x)", "--at", "1000", "--at", "1", *extra, "-f", "table")
    assert r.code == 0 and r.err == "", r
    assert "exp(1000)" in r.out and "failed" not in r.out and "inf" in r.out


def test_points_past_a_floats_range_from_stdin():
    # --at - reads the same points: e¹⁰⁰⁰ (an answer), e¹, then log(0) (a pole: an error)
    r = invoke("eval", "exp(x) + log(x)", "--at", "-", "-f", "jsonl", stdin="1000\n1\n0\n")
    assert r.code == 1
    recs = [strict_json(line) for line in r.out.splitlines()]
    assert recs[0]["result"]["exact"] == "exp(1000) + log(1000)" and recs[0]["result"]["value_nonfinite"] == "inf"
    assert recs[1]["result"]["value"] == pytest.approx(math.e, rel=1e-15)
    single = run("eval", "exp(x) + log(x)", "--at", "0")
    assert recs[2]["error"] == single.err.strip().removeprefix("gradlab: error: ") + " (line 3)"
    assert r.err.strip().splitlines() == [f"gradlab: error: {recs[2]['error']}"]


@pytest.mark.parametrize("command, expr, value", [
    # σ(x)² = e²ˣ/(eˣ+1)²: at x = 1000 the floats are inf/inf = nan, the value 1 − O(e⁻¹⁰⁰⁰) rounds to 1.0
    ("eval", "exp(2*x)/(exp(x)+1)**2", 1.0),
    # log(eˣ − 1) = x + log(1 − e⁻ˣ): 1000 to a float's precision
    ("eval", "log(exp(x) - 1)", 1000.0),
    # d/dx σ(x)² = 2σ²(1 − σ) ≈ 2e⁻¹⁰⁰⁰: 0.0 as a float, not an error
    ("grad", "exp(2*x)/(exp(x)+1)**2", 0.0),
])
def test_a_finite_value_whose_floats_overflow_on_the_way_is_answered_among_many(command, expr, value):
    r = invoke(command, expr, "--at", "1000", "--at", "1", "-f", "jsonl")
    assert r.code == 0 and r.err == "", r
    first = strict_json(r.out.splitlines()[0])
    got = first["result"]["value"] if command == "eval" else first["gradient"]["value"][0]
    assert got == value
    assert _without_input(first) == strict_json(run(command, expr, "--at", "1000", "-f", "json").out)


def test_a_direction_that_does_not_fit_is_one_usage_error_at_one_point_or_many():
    # the same line and exit code alone and among many: the direction is the user's option
    for ats in (["--at", "1,2"], ["--at", "1,2", "--at", "3,4"]):
        assert_error(invoke("directional", "x*y", *ats, "--dir", "1,2,3"), 2, "(--dir)")
