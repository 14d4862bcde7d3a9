"""The surface catalogue: every built-in surface's facts, and every YAML trap refused."""

from __future__ import annotations

import json
import textwrap

import numpy as np
import pytest
import sympy

from gradlab.calculus import derivatives as d
from gradlab.errors import BadInput
from gradlab.calculus.numeric import Compiled, eigenvalues
from gradlab.surfaces import builtin, load
from tests.conftest import assert_error, run

BUILTIN = list(builtin())
REQUIRED = {"bowl", "elongated", "saddle", "rosenbrock", "himmelblau", "booth", "beale", "rastrigin", "ackley",
            "matyas", "six-hump-camel", "linear-regression", "logistic-regression"}


def test_catalogue_has_the_classics():
    assert REQUIRED <= set(BUILTIN)
    assert any(builtin()[n].dims for n in BUILTIN)
    assert len(builtin()["himmelblau"].minima) == 4


@pytest.mark.parametrize("name", BUILTIN)
def test_known_minima_are_minima(name):
    s = builtin()[name]
    p = s.parsed
    grad = d.gradient(p.expr, p.variables)
    hess = d.hessian(p.expr, p.variables)
    H = Compiled([e for row in hess for e in row], p.variables)
    G = Compiled(grad, p.variables)
    F = Compiled([p.expr], p.variables)
    for m in s.minima:
        at = np.array([float(v) for v in m.point])
        assert float(F(at)[0]) == pytest.approx(float(m.f), abs=1e-9)
        if m.kink:  # Ackley's cone: f is not differentiable there; check it is lowest nearby
            ring = np.array([[np.cos(t), np.sin(t)] for t in np.linspace(0, 6.28, 12)]) * 1e-3 + at
            assert all(float(F(r)[0]) > float(m.f) for r in ring)
            continue
        exact_zero = all(g.xreplace(dict(zip(p.variables, m.point))).is_zero is True for g in grad)
        assert exact_zero or np.linalg.norm(G(at)) < 1e-7
        assert min(eigenvalues(H(at).reshape(len(at), len(at)))) > 0  # positive definite


@pytest.mark.parametrize("name", BUILTIN)
def test_start_is_finite_and_inside_the_window(name):
    s = builtin()[name]
    x0 = [float(v) for v in s.start]
    assert all(np.isfinite(x0))
    xmin, xmax, ymin, ymax = s.window
    assert xmin <= x0[0] <= xmax and ymin <= x0[1] <= ymax


def test_exact_minima_are_exact():
    assert builtin()["linear-regression"].minima[0].point == (sympy.Rational(346, 175), sympy.Rational(-23, 25))
    s = builtin()["beale"]
    g = d.gradient(s.parsed.expr, s.parsed.variables)
    assert [e.xreplace(dict(zip(s.parsed.variables, s.minima[0].point))) for e in g] == [0, 0]


def test_data_means_expand_over_rows():
    s = builtin()["linear-regression"]
    w, b = s.parsed.variables
    xs, ys = [1, 2, 3, 4, 5, 6], ["1.1", "2.9", "5.2", "6.8", "9.1", "10.9"]
    expected = sum((w * x + b - sympy.Rational(y)) ** 2 for x, y in zip(xs, ys)) / 6
    assert sympy.expand(s.parsed.expr - expected) == 0


@pytest.mark.parametrize("n", [2, 3, 7])
def test_n_dimensional_rosenbrock(n):
    s = builtin()["rosenbrock-nd"].with_dims(n)
    assert len(s.parsed.variables) == n and len(s.start) == n
    xs = sympy.symbols(f"x1:{n + 1}", real=True)
    expected = sum(100 * (xs[i + 1] - xs[i] ** 2) ** 2 + (1 - xs[i]) ** 2 for i in range(n - 1))
    assert sympy.expand(s.parsed.expr - expected) == 0
    assert s.minima[0].point == (1,) * n


def test_quadratic_condition_number():
    s = builtin()["quadratic-nd"].with_dims(5)
    H = d.hessian(s.parsed.expr, s.parsed.variables)
    diag = [H[i][i] for i in range(5)]
    assert max(diag) / min(diag) == 100


def _write(tmp_path, text: str, name="cat.yaml"):
    p = tmp_path / name
    p.write_text(textwrap.dedent(text))
    return str(p)


GOOD = """\
mine:
  description: a test bowl
  expression: x**2 + 4*y**2
  variables: [x, y]
  start: [1, 1]
"""

BAD_YAML = [
    ("mine: [unclosed\n", "YAML", 2),  # PyYAML notices at the end of the stream
    ("mine:\n  description: a\n  description: b\n  expression: x\n  variables: [x]\n  start: [1]\n", "duplicate", 3),
    ("a: &anchor\n  description: a\nb: *anchor\n", "alias", 1),
    (GOOD + "  colour: red\n", "unknown field", 6),
    ("mine:\n  description: d\n  expression: x**2 + y**2\n  variables: [x, y]\n  start: [1, 2, 3]\n", "coordinates", 5),
    ("mine:\n  description: d\n  expression: x**2\n  variables: [x]\n  start: [.nan]\n", "finite", 5),
    ("mine:\n  description: d\n  expression: x**2 +\n  variables: [x]\n  start: [1]\n", "expression", 3),
    ("mine:\n  description: d\n  expression: __import__('os')\n  variables: [x]\n  start: [1]\n", "", 3),
    ("mine: !!python/object/apply:os.system ['echo pwned']\n", "YAML", 1),
    ("- a\n- b\n", "mapping", 1),
    ("mine:\n\tdescription: tab\n", "YAML", 2),
    ("a: 1\n---\nb: 2\n", "YAML", 2),
    ("mine:\n  description: d\n  expression: x + y\n  variables: [x]\n  start: [1]\n", "y", 4),
]


@pytest.mark.parametrize("text, word, line", BAD_YAML)
def test_bad_yaml_is_exit_2_with_file_and_line(tmp_path, text, word, line):
    path = _write(tmp_path, text)
    r = run("surfaces", "--surfaces", path)
    assert_error(r, 2, word, f"{path}:{line}")


def test_empty_file_and_directory_and_binary(tmp_path):
    assert_error(run("surfaces", "--surfaces", _write(tmp_path, "")), 2, "empty")
    assert_error(run("surfaces", "--surfaces", str(tmp_path)), 2, "directory")
    p = tmp_path / "bin.yaml"
    p.write_bytes(b"mine: \xff\xfe\n")
    assert_error(run("surfaces", "--surfaces", str(p)), 2, "UTF-8")
    assert_error(run("surfaces", "--surfaces", str(tmp_path / "missing.yaml")), 2, "cannot read")


def test_user_catalogue_adds_and_replaces_with_a_note(tmp_path):
    path = _write(tmp_path, GOOD + "bowl:\n  description: my bowl\n  expression: 2*x**2 + 2*y**2\n"
                                   "  variables: [x, y]\n  start: [1, 1]\n")
    r = run("surfaces", "--surfaces", path, "-f", "json")
    names = [s["name"] for s in json.loads(r.out)["surfaces"]]
    assert "mine" in names and "rosenbrock" in names
    assert "replaces the built-in" in r.err and f"{path}:" in r.err
    r = run("descend", "mine", "--lr", "0.1", "-f", "json", env={"GRADLAB_SURFACES": path})
    assert json.loads(r.out)["surface"] == "mine"


def test_unknown_surface_names_the_closest():
    assert_error(run("descend", "rosenbrok"), 2, "rosenbrock")
    assert_error(run("surfaces", "elongatd"), 2, "elongated")


def test_surfaces_command_lists_and_details():
    doc = json.loads(run("surfaces", "-f", "json").out)
    assert {s["name"] for s in doc["surfaces"]} >= REQUIRED
    doc = json.loads(run("surfaces", "booth", "-f", "json").out)
    assert doc["minima"][0]["eigenvalues"] == pytest.approx([2, 18])
    assert doc["minima"][0]["classification"] == "minimum"
    assert doc["hessian"]["symbolic"] == [["10", "8"], ["8", "10"]]


def test_surface_names_work_in_every_command():
    r = run("hessian", "rosenbrock", "--at", "1,1", "-f", "json")
    assert json.loads(r.out)["hessian"]["exact"] == [["802", "-400"], ["-400", "200"]]
    # bowl = x² + y²: ∇f(3, 4) = (6, 8), ‖∇f‖ = 10 (plain: the point, the gradient, the norm, ...)
    assert run("grad", "bowl", "--at", "3,4").out.split("\t")[:5] == ["3.0", "4.0", "6.0", "8.0", "10.0"]
    r = run("eval", "rosenbrock-nd", "--dims", "3", "--at", "1,1,1")
    assert r.out.split("\t")[3:5] == ["0.0", "0"]  # x1, x2, x3, f, f_exact


def test_load_is_lazy_but_user_files_are_checked_whole():
    with pytest.raises(BadInput):
        load(GOOD + "bad:\n  description: d\n  expression: '1 +'\n  variables: [x]\n  start: [1]\n", "x.yaml")


@pytest.mark.parametrize("nest", ["[" * 30000 + "]" * 30000, "- " * 30000 + "1", "{a: " * 30000 + "1" + "}" * 30000],
                         ids=["flow lists", "block lists", "flow mappings"])
def test_deep_yaml_nesting_is_refused_before_loading(tmp_path, nest):
    # in a child process: the C loader's recursion would kill the test run itself
    import subprocess
    import sys

    path = tmp_path / "deep.yaml"
    path.write_text("s:\n  description: d\n  expression: x\n  variables: [x]\n  start:\n    " + nest + "\n")
    code = "from gradlab.surfaces import load_file\nimport sys\ntry:\n load_file(sys.argv[1])\nexcept Exception as e:\n print(type(e).__name__, e)"
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr[-300:]
    assert out.stdout.startswith("LimitExceeded") and "nested deeper" in out.stdout


@pytest.mark.parametrize("expr, point", [("sqrt(x) + y**2", "[-1, 0]"), ("1/x + y**2", "[0, 0]"),
                                         ("log(x) + y**2", "[-2, 1]")])
def test_minimum_where_f_is_not_real_is_refused(expr, point):
    text = f"s:\n  description: d\n  expression: {expr}\n  variables: [x, y]\n  start: [1, 1]\n" \
           f"  minima:\n    - {{point: {point}}}\n"
    with pytest.raises(BadInput, match="not a real number"):
        load(text, "t.yaml")


def test_missing_surfaces_file_matters_only_for_surface_names():
    env = {"GRADLAB_SURFACES": "/nonexistent/surfaces.yaml"}
    r = run("grad", "x**2", "--at", "3", "--format", "plain", env=env)
    assert r.code == 0 and r.out.split("\t")[:2] == ["3.0", "6.0"]  # x, ∂(x²)/∂x at 3
    r = run("grad", "x", "--at", "1", "--format", "plain", env=env)
    assert r.code == 0 and "skipped the surfaces file" in r.err
    assert_error(run("surfaces", env=env), 2, "cannot read")


# ---------------------------------------------------------------- declared minima are proven
def _one_minimum(expr: str, point: str, f: str | None = None, kink: bool = False, extra: str = "") -> str:
    fs = f", f: {f}" if f is not None else ""
    ks = ", kink: true" if kink else ""
    return (f"a:\n  description: d\n  expression: {expr}\n  variables: [x]\n  start: [3]\n{extra}"
            f"  minima:\n    - {{point: {point}{fs}{ks}}}\n")


def test_builtin_minima_pass_the_check_a_user_file_gets():
    # the built-in catalogue is loaded lazily, unchecked, at start-up; loaded as a user's
    # file it must pass the same proof (∇f = 0, f as declared) for every minimum
    from importlib import resources

    text = resources.files("gradlab").joinpath("surfaces.yaml").read_text(encoding="utf-8")
    cat = load(text, "surfaces.yaml", eager=True)
    assert set(cat) == set(BUILTIN) and all(cat[n].minima == builtin()[n].minima for n in cat)


@pytest.mark.parametrize("expr, point, f, words", [
    ("x**2", "[1]", "0", "declared minimum (1) is not a critical point (∇f = (2))"),  # 2x at 1
    ("x**2", "[0]", "1", "declared minimum (0) has f = 0, not the declared 1"),
    ("(x - 1)**2 + 3", "[1]", "'1/3'", "has f = 3, not the declared 1/3"),
    ("x**3", "[-1]", None, "is not a critical point (∇f = (3))"),  # 3x² at −1
    ("(x**2 - 2)**2", "[1.41421]", "0", "is not a critical point"),  # √2 to 5 decimals: ∇f ≈ −5.7e-5
    ("sin(x)", "['pi/2']", "'1/2'", "has f = 1, not the declared 1/2"),
])
def test_a_wrong_minimum_is_one_clear_error(tmp_path, expr, point, f, words):
    path = tmp_path / "s.yaml"
    path.write_text(_one_minimum(expr, point, f))
    with pytest.raises(BadInput, match=None) as exc:
        load(path.read_text(), str(path))
    assert words in str(exc.value) and str(exc.value).startswith(f"{path}:7:5: surface 'a': ")
    r = run("surfaces", "a", "--surfaces", str(path))
    assert_error(r, 2, words)


@pytest.mark.parametrize("expr, point, f", [
    ("x**2", "[0]", "0"),
    ("sin(x)", "['pi/2']", "1"),  # cos(π/2) = 0 exactly
    ("(x**2 - 2)**2", "[1.4142135623730951]", "0"),  # √2 to 17 digits: within the tolerance
    ("(x - 1)**2 - 1.0316284534898774", "[1]", "-1.03162845348988"),  # f given to 15 digits
    ("abs(x)", "[0]", "0"),  # the subgradient 0 at the kink
])
def test_a_right_minimum_is_accepted(expr, point, f):
    s = load(_one_minimum(expr, point, f), "s.yaml")["a"]
    assert len(s.minima) == 1


def test_kink_minimum_skips_the_gradient():
    # √(x²) = |x| at 0: no gradient there; kink: true says so, and f is still checked
    assert load(_one_minimum("sqrt(x**2 + 0)", "[0]", "0", kink=True), "s.yaml")["a"].minima[0].kink
    with pytest.raises(BadInput, match="has f = 0, not the declared 2"):
        load(_one_minimum("sqrt(x**2 + 0)", "[0]", "2", kink=True), "s.yaml")


def test_minimum_check_falls_back_to_floats_over_the_exact_budget():
    # 300 data rows: mean((x − y)²) has more nodes than the exact budget; its minimum is the
    # mean of y (∂/∂x = 2(x − ȳ)), checked in float64
    from fractions import Fraction

    ys = [f"{(7 * i) % 13 / 4}" for i in range(300)]
    mean = sum(Fraction(y) for y in ys) / len(ys)
    extra = f"  data:\n    y: [{', '.join(ys)}]\n"
    assert load(_one_minimum("mean((x - y)**2)", f"['{mean}']", extra=extra), "s.yaml")["a"].minima
    with pytest.raises(BadInput, match=r"declared minimum \(0\) is not a critical point \(∇f = \(-"):
        load(_one_minimum("mean((x - y)**2)", "[0]", extra=extra), "s.yaml")
