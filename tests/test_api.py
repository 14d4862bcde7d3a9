"""The Python API: the CLI's calls and result objects, for notebooks and programs."""

from __future__ import annotations

import doctest
import io
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

import gradlab
from tests.conftest import run

ROOT = Path(__file__).resolve().parents[1]


def cli_json(*args: str) -> dict:
    r = run(*args, "--format", "json")
    assert r.code == 0, r
    return json.loads(r.out)


# The README's examples, as API calls and as the CLI commands that print the same JSON.
SAME = [
    (lambda: gradlab.grad("x**2*y+3*y", at=(2, 5)), ("grad", "x**2*y+3*y", "--at", "2,5")),
    (lambda: gradlab.grad("x**2*y+3*y", at="2,5"), ("grad", "x**2*y+3*y", "--at", "2,5")),
    (lambda: gradlab.grad("x**2*y+3*y", at={"y": 5, "x": 2}), ("grad", "x**2*y+3*y", "--at", "2,5")),
    (lambda: gradlab.grad("x**2*y + 3*y"), ("grad", "x**2*y + 3*y")),
    (lambda: gradlab.jacobian("x**2*y, x + y**3", at=(2, 3)), ("jacobian", "x**2*y, x + y**3", "--at", "2,3")),
    (lambda: gradlab.hessian("x**2 - y**2", at=(0, 0)), ("hessian", "x**2 - y**2", "--at", "0,0")),
    (lambda: gradlab.directional("x**2 + y**2", at=(3, 4), dir=(1, 1)),
     ("directional", "x**2 + y**2", "--at", "3,4", "--dir", "1,1")),
    (lambda: gradlab.evaluate("sqrt(x) + y", at=(8, 0.5)), ("eval", "sqrt(x) + y", "--at", "8,1/2")),
    (lambda: gradlab.check("x**2*y + y*z**3", at=(1, 2, 3), grad="2*x*y, x**2 + z**3, 3*y*z**2"),
     ("check", "x**2*y + y*z**3", "--at", "1,2,3", "--grad", "2*x*y, x**2 + z**3, 3*y*z**2")),
    (lambda: gradlab.explain("x*exp(x)", wrt="x"), ("explain", "x*exp(x)", "--wrt", "x")),
    (lambda: gradlab.critical("x**3 + y**3 + 3*x**2 - 6*y**2 - 2"),
     ("critical", "x**3 + y**3 + 3*x**2 - 6*y**2 - 2")),
    (lambda: gradlab.descend("elongated", lr=[0.01, 0.03, 0.06, 0.08], trajectory=False),
     ("descend", "elongated", "--lr", "0.01,0.03,0.06,0.08")),
    (lambda: gradlab.descend("bowl", lr="0.1", optimizer="gd,adam", start=[(1, 1), (-2, 3)]),
     ("descend", "bowl", "--lr", "0.1", "-o", "gd,adam", "--start", "1,1", "--start", "-2,3")),
    (lambda: gradlab.sweep("elongated", optimizer=["gd", "momentum"]),
     ("sweep", "elongated", "--optimizer", "gd,momentum")),
    (lambda: gradlab.catalogue(), ("surfaces",)),
    (lambda: gradlab.surface("elongated"), ("surfaces", "elongated")),
    (lambda: gradlab.grad("x*y", points=[(1, 2), "3,4", {"x": 5, "y": 6}]),
     ("grad", "x*y", "--at", "1,2", "--at", "3,4", "--at", "x=5,y=6")),
    # the CLI's other options, as keywords with the same names
    (lambda: gradlab.descend("rosenbrock", optimizer="bfgs"), ("descend", "rosenbrock", "-o", "bfgs")),
    (lambda: gradlab.descend("elongated", optimizer=["lbfgs", "gd"], lr=0.03, line_search="Wolfe", trajectory=False),
     ("descend", "elongated", "-o", "lbfgs,gd", "--lr", "0.03", "--line-search", "Wolfe")),
    (lambda: gradlab.descend("linear-regression", lr=0.01, batch_size=2, seed=3, epochs=4, schedule="cosine"),
     ("descend", "linear-regression", "--lr", "0.01", "--batch-size", "2", "--seed", "3", "--epochs", "4",
      "--schedule", "cosine")),
    (lambda: gradlab.descend("elongated", lr=0.03, steps=50, sharpness=True, momentum=0.5, optimizer="momentum"),
     ("descend", "elongated", "--lr", "0.03", "--steps", "50", "--sharpness", "--momentum", "0.5", "-o", "momentum")),
    (lambda: gradlab.grad("mean((W@x + b)**2)", shape={"W": (3, 4), "x": 4, "b": 3}, wrt="W", seed=0),
     ("grad", "mean((W@x + b)**2)", "--shape", "W=3x4,x=4,b=3", "--wrt", "W", "--seed", "0")),
    (lambda: gradlab.grad("cross_entropy(z, 3)", shape="z=4", at={"z": [2, 1, 0.5, 3]}),
     ("grad", "cross_entropy(z, 3)", "--shape", "z=4", "--at", "z=[2,1,0.5,3]")),
    (lambda: gradlab.grad("x**2*y", wrt=["y"]), ("grad", "x**2*y", "--wrt", "y")),
    (lambda: gradlab.jacobian("W@x + b", shape="W=3x4,x=4,b=3", wrt="x",
                              at={"W": [[1, 2, 3, 4], [0, 1, 0, 1], [2, 0, 1, 0]], "x": [1, 0, 2, 1], "b": [0, 0, 1]}),
     ("jacobian", "W@x + b", "--shape", "W=3x4,x=4,b=3", "--wrt", "x", "--at",
      "W=[[1,2,3,4],[0,1,0,1],[2,0,1,0]],x=[1,0,2,1],b=[0,0,1]")),
    (lambda: gradlab.hessian("sum(x**3)", shape={"x": 3}, seed=1), ("hessian", "sum(x**3)", "--shape", "x=3", "--seed", "1")),
    (lambda: gradlab.check("sum(exp(x)*y)", shape={"x": 2, "y": 2}, seed=2),
     ("check", "sum(exp(x)*y)", "--shape", "x=2,y=2", "--seed", "2")),
    (lambda: gradlab.backprop("z = w*x + b; a = sigmoid(z); L = (a - y)**2", at={"w": 0.5, "x": 2, "b": 0.1, "y": 1}),
     ("backprop", "z = w*x + b; a = sigmoid(z); L = (a - y)**2", "--at", "w=0.5,x=2,b=0.1,y=1")),
    (lambda: gradlab.backprop("z = w*x; L = z**2", at="w=3,x=2", mode="forward", dir={"w": 1}),
     ("backprop", "z = w*x; L = z**2", "--at", "w=3,x=2", "--mode", "forward", "--dir", "w=1")),
    (lambda: gradlab.backprop("L = (w*x)**2 + w", at=(3, 2), why="w", wrt="w"),
     ("backprop", "L = (w*x)**2 + w", "--at", "3,2", "--why", "w", "--wrt", "w")),
    (lambda: gradlab.backprop("sum(W@x)", shape={"W": (2, 2), "x": 2}, seed=5),
     ("backprop", "sum(W@x)", "--shape", "W=2x2,x=2", "--seed", "5")),
    (lambda: gradlab.taylor("exp(x)*cos(y)", at=(0, 0), lr=[0.5, 0.1], order=2),
     ("taylor", "exp(x)*cos(y)", "--at", "0,0", "--lr", "0.5,0.1", "--order", "2")),
    (lambda: gradlab.taylor("rosenbrock", at=(0, 0), order=1, dir=(1, 1)),
     ("taylor", "rosenbrock", "--at", "0,0", "--order", "1", "--dir", "1,1")),
    (lambda: gradlab.sweep("elongated", lr=(0.01, 0.1, 10)), ("sweep", "elongated", "--lr", "0.01:0.1:10")),
    (lambda: gradlab.sweep("elongated", optimizer="momentum", lr="0.001:0.1:5", momentum=(0, 0.9, 4)),
     ("sweep", "elongated", "-o", "momentum", "--lr", "0.001:0.1:5", "--momentum", "0:0.9:4")),
    (lambda: gradlab.sweep("linear-regression", batch_size=2, seeds=[1, 4], lr="0.001:0.1:3", epochs=2),
     ("sweep", "linear-regression", "--batch-size", "2", "--seeds", "1,4", "--lr", "0.001:0.1:3", "--epochs", "2")),
    (lambda: gradlab.sweep("elongated", optimizer="momentum", momentum=0.5, num=6),
     ("sweep", "elongated", "-o", "momentum", "--momentum", "0.5", "--num", "6")),
]


@pytest.mark.parametrize("call, args", SAME, ids=[" ".join(a[:2]) for _, a in SAME])
def test_to_dict_is_the_cli_json(call, args):
    got = call().to_dict()
    want = cli_json(*args)
    if args[0] == "grad" and "--at" in args and args.count("--at") > 1:
        # many points: the record says where each point came from (--at #k / point k)
        for rec in got["results"] + want["results"]:
            rec.pop("input")
    assert got == want


def test_values_are_the_mathematics():
    r = gradlab.grad("x**2*y + 3*y", at=(2, 5))
    # ∇(x²y + 3y) = (2xy, x² + 3) = (20, 7) at (2, 5); ‖∇f‖ = √449
    assert [v.value for v in r.values] == [20.0, 7.0] and r.norm.value == pytest.approx(math.sqrt(449), rel=1e-15)
    h = gradlab.hessian("x**2 - y**2", at=(0, 0))
    assert h.eigenvalues == (-2.0, 2.0) and h.classification == "saddle"
    # a float means its decimal: 0.1 is exactly 1/10, as on the command line
    assert str(gradlab.evaluate("10*x", at=0.1).result.exact) == "1"


def test_many_points_batch():
    b = gradlab.hessian("x**3 - 3*x*y**2", points=[(1, 0), (0, 0), (-1, 2)])
    # H = [[6x, −6y], [−6y, −6x]]
    assert [rec["hessian"]["value"] for rec in b.to_dict()["results"]] == [
        [[6.0, -0.0], [-0.0, -6.0]], [[0.0, -0.0], [-0.0, -0.0]], [[-6.0, -12.0], [-12.0, 6.0]]]
    bad = gradlab.evaluate("log(x)", points=[1, 0, "oops"])
    assert [a.ok for a in bad.answers] == [True, False, False] and bad.failures == 2


def test_errors_are_gradlab_errors():
    with pytest.raises(gradlab.BadInput, match="unknown surface"):
        gradlab.descend("rosenbrok")
    with pytest.raises(gradlab.Undefined):
        gradlab.evaluate("log(x)", at=0)
    assert issubclass(gradlab.Undefined, gradlab.GradlabError)


def test_names_shared_with_modules_stay_the_api_calls():
    import gradlab.calculus.explain  # noqa: F401  (the modules themselves stay importable)
    import gradlab.descent.sweep  # noqa: F401
    from gradlab.descent.sweep import run_sweep  # noqa: F401

    assert callable(gradlab.sweep) and callable(gradlab.explain) and not isinstance(gradlab.sweep, type(sys))
    assert gradlab.explain("x**2").to_dict()["result"] == "2*x"


# Every API call's result, with facts of the mathematics its notebook display must carry
# (in the HTML always; in the LaTeX too where the result is symbolic).
SHOWN = [
    # H of x² − y² is diag(2, −2): eigenvalues −2, 2, a saddle at the critical point 0
    ("hessian", lambda: gradlab.hessian("x**2 - y**2", at=(0, 0)), ["saddle", "-2, 2", "critical point"], True),
    # (x eˣ)' by the product rule, each step's rule named
    ("explain", lambda: gradlab.explain("x*exp(x)", wrt="x"), ["product rule", "exp rule", "variable rule"], True),
    ("grad", lambda: gradlab.grad("x**2*y", at=(1, 2)), ["sqrt(17)"], False),  # ∇ = (2xy, x²) = (4, 1)
    ("grad sym", lambda: gradlab.grad("x**2*y"), ["2*x*y"], False),
    ("jacobian", lambda: gradlab.jacobian("x*y, x + y", at=(2, 3)), ["3", "2"], False),
    ("directional", lambda: gradlab.directional("x**2 + y**2", at=(3, 4), dir=(1, 0)), ["6"], None),
    ("evaluate", lambda: gradlab.evaluate("sqrt(x)", at=8), ["2*sqrt(2)"], None),
    ("check", lambda: gradlab.check("x**2", at=1, grad="3*x"), ["WRONG"], None),  # (x²)' = 2x, not 3x
    ("critical", lambda: gradlab.critical("x**2 - y**2"), ["saddle"], None),
    ("descend", lambda: gradlab.descend("bowl", lr=0.1, start=(1, 1), trajectory=False), ["converged"], None),
    ("sweep", lambda: gradlab.sweep("elongated", num=5), ["0.04"], None),  # 2/λmax = 2/50
    ("catalogue", lambda: gradlab.catalogue(), ["rosenbrock"], None),
    ("surface", lambda: gradlab.surface("elongated"), ["50*y"], None),
    ("batch", lambda: gradlab.hessian("x**2 - y**2", points=[(0, 0), (1, 1)]), ["saddle"], None),
    # L = (w x)²: ∂L/∂w = 2 w x² = 24 at (3, 2)
    ("backprop", lambda: gradlab.backprop("z = w*x; L = z**2", at="w=3,x=2"), ["24", "self-check"], None),
    ("taylor", lambda: gradlab.taylor("exp(x)", at=0), ["x**2/2 + x + 1"], None),  # eˣ ≈ 1 + x + x²/2
    ("shaped grad", lambda: gradlab.grad("sum(x**2)", shape={"x": 2}, at={"x": [1, 3]}), ["6"], None),
    ("stability map", lambda: gradlab.sweep("elongated", optimizer="momentum", lr="0.001:0.1:3",
                                            momentum="0:0.9:3"), ["λmax = 50"], None),
    ("seed sweep", lambda: gradlab.sweep("linear-regression", batch_size=3, seeds=2, lr="0.01:0.1:2", epochs=1),
     ["seeds"], None),
]


@pytest.mark.parametrize("call, facts, latex", [s[1:] for s in SHOWN], ids=[s[0] for s in SHOWN])
def test_notebook_display_carries_the_tables_facts(call, facts, latex):
    r = call()
    page = r._repr_html_()
    assert isinstance(page, str) and page.startswith('<div class="gradlab">') and "<table>" in page
    for fact in facts:
        assert fact in page, fact
    tex = r._repr_latex_()
    if latex is None:  # not symbolic: a table only
        assert tex is None
    else:
        assert tex.startswith("$$") and tex.endswith("$$")
        if latex:
            for fact in facts:
                assert fact in tex, fact


def test_html_is_the_terminal_tables_cells():
    import html as html_lib
    import re

    h = gradlab.hessian("x**3 - 3*x*y**2", at=(1, 2))  # H = [[6x, −6y], [−6y, −6x]] = [[6, −12], [−12, −6]]
    page = h._repr_html_()
    cells = [html_lib.unescape(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", page)]
    assert [c.split(" = ")[-1] for c in cells] == ["x", "6", "-12", "y", "-12", "-6"]
    assert cells[1] == "6*x = 6"  # each entry's derivation, as the terminal shows it


def test_str_is_the_terminal_table_and_repr_is_short():
    h = gradlab.hessian("x**2 - y**2", at=(0, 0))
    cli = run("hessian", "x**2 - y**2", "--at", "0,0", "--format", "table", env={"COLUMNS": "80"}).out
    assert str(h) == "\n".join(line.rstrip() for line in cli.rstrip("\n").splitlines())
    assert "\x1b" not in str(h) and max(len(line) for line in str(h).splitlines()) <= 80
    d = gradlab.descend("elongated", lr=[0.01, 0.03, 0.06, 0.08], trajectory=False)
    assert "diverged" in str(d) and "converged" in str(d)
    for r in (h, d, gradlab.catalogue(), gradlab.grad("x", points=[1, 2])):
        text = repr(r)
        assert text.startswith(f"<{type(r).__name__}: ") and len(text) <= 100 and "\n" not in text
    assert repr(h) == "<HessianResult: Hessian at (0, 0) of f = x**2 - y**2>"


def test_rich_renders_a_result_as_the_cli_table():
    from rich.console import Console

    buf = io.StringIO()
    Console(file=buf, width=100).print(gradlab.grad("x**2*y", at=(1, 2)))
    cli = run("grad", "x**2*y", "--at", "1,2", "--format", "table", env={"COLUMNS": "100"}).out
    assert [line.rstrip() for line in buf.getvalue().splitlines()] == [line.rstrip() for line in cli.splitlines()]


def test_plots_are_figures():
    from matplotlib.figure import Figure

    d = gradlab.descend("elongated", lr=[0.01, 0.03])
    for fig in (gradlab.plot("rosenbrock"), gradlab.plot_descent(d), gradlab.plot_loss(d), gradlab.plot_3d(d),
                gradlab.plot_sweep(gradlab.sweep("bowl", num=5)), gradlab.plot_check("sin(x)", at=1)):
        assert isinstance(fig, Figure)
    buf = io.BytesIO()
    gradlab.plot("booth").savefig(buf, format="png")
    assert buf.getvalue()[:8] == b"\x89PNG\r\n\x1a\n"


def test_import_gradlab_loads_neither_sympy_nor_numpy():
    code = "import sys, gradlab; print(sorted(m for m in ('sympy', 'numpy', 'typer', 'rich') if m in sys.modules))"
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert p.stdout.strip() == "[]", p


def test_api_doc_examples_run():
    failures, tried = doctest.testfile(str(ROOT / "docs" / "api.md"), module_relative=False,
                                       optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert tried > 5 and failures == 0


def test_readme_python_example_runs():
    """The README's "Python and notebooks" block, run as written."""
    import re

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## Python and notebooks"):]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    env: dict = {}
    exec(compile(code, "README.md", "exec"), env)  # noqa: S102 (the project's own example)
    assert env["r"].to_dict()["gradient"]["value"] == [20.0, 7.0]  # ∇(x²y + 3y) at (2, 5) = (2xy, x² + 3)
    assert env["bfgs"].runs[0].x == pytest.approx([1.0, 1.0], abs=1e-6)  # Rosenbrock's minimum
    assert [run_.status for run_ in env["runs"].runs] == ["converged", "converged", "diverged", "diverged"]
    assert type(env["fig"]).__name__ == "Figure"
    assert [a.record["gradient"]["value"] for a in env["many"].answers] == [[2.0, 1.0], [4.0, 3.0]]
    assert env["cat"].surfaces[0].name == "bowl"
    assert env["bowl"].to_dict()["points"][0]["point"] == [0.0, 0.0]  # x² + y²: one minimum, at 0


def test_many_points_to_dict_is_the_cli_json_with_repeated_at():
    # one point fails (log at 0): its error record too must be the CLI's
    points = [(1, 2), (0, 1), ("1/2", 3)]
    api = gradlab.grad("log(x)*y", points=points).to_dict()
    args = [a for p in points for a in ("--at", ",".join(str(c) for c in p))]
    r = run("grad", "log(x)*y", *args, "--format", "json")
    assert r.code == 1, r
    assert api == json.loads(r.out)
    assert [rec["input"] for rec in api["results"]] == ["--at #1", "--at #2", "--at #3"]
    assert api["results"][0]["gradient"]["value"] == [2.0, 0.0]  # (y/x, log x) at (1, 2)


def test_new_calls_give_the_mathematics():
    # BFGS and L-BFGS reach Rosenbrock's minimum (1, 1)
    for name in ("bfgs", "lbfgs"):
        run_ = gradlab.descend("rosenbrock", optimizer=name).runs[0]
        assert run_.status == "converged" and run_.x == pytest.approx([1.0, 1.0], abs=1e-6)
    # L = (w x + b)²: ∂L/∂(b, w, x) = 2z (1, x, w), z = 3·2 + 1 = 7
    r = gradlab.backprop("z = w*x + b; L = z**2", at={"w": 3, "x": 2, "b": 1})
    assert r.to_dict()["gradient"]["value"] == [14.0, 28.0, 42.0]
    # forward mode along v = (w: 1, x: 0): dL/dw = 2 z x = 24 with z = 6; x's tangent is 0
    f = gradlab.backprop("z = w*x; L = z**2", at={"w": 3, "x": 2}, mode="forward", dir={"w": 1})
    assert f.to_dict()["direction"] == [1.0, 0.0]
    assert [n["tangent"] for n in f.to_dict()["nodes"] if n["name"] == "L"] == [24.0]
    # shaped: ∇ sum(x²) = 2x; H of sum(x³) = diag(6x)
    g = gradlab.grad("sum(x**2)", shape={"x": 3}, at={"x": [1, -2, 0.5]})
    assert g.to_dict()["gradient"]["value"] == [[2.0, -4.0, 1.0]]
    h = gradlab.hessian("sum(x**3)", shape={"x": 2}, at={"x": [1, -1]})
    assert h.to_dict()["hessian"]["value"] == [[6.0, 0.0], [0.0, -6.0]]
    # Taylor at 0 of eˣ cos y: f = 1, ∇f = (1, 0), H = diag(1, −1)
    t = gradlab.taylor("exp(x)*cos(y)", at=(0, 0)).to_dict()
    assert t["gradient"]["exact"] == ["1", "0"] and t["hessian"]["exact"] == [["1", "0"], ["0", "-1"]]
    # mini-batches of the whole data set are full-batch gradient descent, step for step
    full = gradlab.descend("linear-regression", lr=0.01, steps=20, trajectory=False).runs[0]
    whole = gradlab.descend("linear-regression", lr=0.01, steps=20, batch_size=6, seed=0).runs[0]
    assert whole.x == pytest.approx(full.x, rel=1e-12)


def test_plots_need_trajectories_and_every_plot_is_a_figure():
    from matplotlib.figure import Figure

    bare = gradlab.descend("elongated", lr=0.03, trajectory=False)
    for plot in (gradlab.plot_descent, gradlab.plot_loss, gradlab.plot_3d):
        with pytest.raises(ValueError, match="trajectories"):
            plot(bare)
    with pytest.raises(ValueError, match="descend"):
        gradlab.plot_descent(gradlab.sweep("bowl", num=5))
    figures = [
        gradlab.plot_backprop(gradlab.backprop("z = w*x; L = z**2", at="w=3,x=2")),
        gradlab.plot_taylor(gradlab.taylor("exp(x)*cos(y)", at=(0, 0))),
        gradlab.plot_loss(gradlab.descend("linear-regression", lr=0.01, batch_size=2, epochs=2)),
        gradlab.plot_sweep(gradlab.sweep("elongated", optimizer="momentum", lr="0.001:0.1:3", momentum="0:0.9:3")),
        gradlab.plot_sweep(gradlab.sweep("linear-regression", batch_size=3, seeds=2, lr="0.01:0.1:2", epochs=1)),
    ]
    assert all(isinstance(f, Figure) for f in figures)
    with pytest.raises(gradlab.BadInput, match="positive"):
        gradlab.plot_taylor(gradlab.taylor("x**2", at=1), tol=0)


def test_unknown_optimizer_lists_every_choice():
    for args in (("descend", "elongated", "-o", "sgd"),):
        r = run(*args)
        assert r.code == 2 and "bfgs, lbfgs" in r.err and "Traceback" not in r.err
    with pytest.raises(gradlab.BadInput, match="bfgs, lbfgs"):
        gradlab.descend("elongated", optimizer="sgd")
    # sweep has no quasi-Newton runs: its list stops at newton, and the name is refused cleanly
    r = run("sweep", "elongated", "-o", "sgd")
    assert r.code == 2 and r.err.startswith("gradlab: error: unknown optimizer 'sgd'") and "internal" not in r.err
    with pytest.raises(gradlab.BadInput, match="unknown optimizer 'bfgs'"):
        gradlab.sweep("elongated", optimizer="bfgs")


def test_shaped_values_and_shapes_accept_python_values():
    import numpy as np

    from gradlab.api import shape_text, values_text

    assert values_text({"W": np.eye(2), "b": np.float64(0.5)}) == "W=[[1.0,0.0],[0.0,1.0]],b=0.5"
    assert shape_text({"W": (2, 3), "x": "3"}) == "W=2x3,x=3"
    with pytest.raises(gradlab.BadInput, match="one point"):
        gradlab.grad("sum(x)", shape="x=2", points=[[1, 2]])


def test_numpy_numbers_are_points():
    import numpy as np

    # ∇(x y) at (3, 4) is (4, 3), whatever the numbers' type
    assert gradlab.grad("x*y", at=np.array([3.0, 4.0])).to_dict()["gradient"]["value"] == [4.0, 3.0]
    assert gradlab.grad("x*y", at=(np.float64(3), np.int64(4))).to_dict()["gradient"]["value"] == [4.0, 3.0]
