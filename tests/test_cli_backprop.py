"""`gradlab backprop` and the --shape forms of grad, jacobian, hessian and check."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from tests.conftest import assert_contract, assert_error, run

NEURON = "z = w*x + b; a = sigmoid(z); L = (a - y)**2"
AT = "w=0.5,x=2,b=0.1,y=1"


def sig(t):
    return 1 / (1 + math.exp(-t))


def doc(*args):
    r = run(*args, "--format", "json")
    assert r.code == 0, r
    return json.loads(r.out)


def test_backprop_json_per_node():
    d = doc("backprop", NEURON, "--at", AT)
    assert d["command"] == "backprop" and d["output"] == "L"
    nodes = {n["name"]: n for n in d["nodes"]}
    assert [n["name"] for n in d["nodes"]] == ["w", "x", "t1", "b", "z", "a", "y", "t2", "L"]
    for n in d["nodes"]:
        assert {"name", "op", "inputs", "value", "adjoint", "value_exact", "adjoint_exact"} <= set(n)
    assert nodes["z"]["inputs"] == ["t1", "b"] and nodes["t2"]["op"] == "-"
    a = sig(1.1)
    dz = 2 * (a - 1) * a * (1 - a)
    assert nodes["w"]["adjoint"] == pytest.approx(dz * 2, rel=1e-14)
    assert nodes["b"]["adjoint"] == pytest.approx(dz, rel=1e-14)
    assert nodes["z"]["value_exact"] == "11/10"
    assert d["variables"] == ["b", "w", "x", "y"]
    assert d["gradient"]["value"][1] == pytest.approx(dz * 2, rel=1e-14)
    assert set(d["gradient"]) == {"symbolic", "exact", "value"}
    assert d["self_check"]["passed"] is True


def test_backprop_plain_one_node_a_line():
    r = run("backprop", "x**2*y + 3*y", "--at", "2,5", "--format", "plain")
    assert r.code == 0 and r.err == ""
    lines = [line.split("\t") for line in r.out.splitlines()]
    assert len(lines) == 6
    rows = {c[0]: c for c in lines}
    assert float(rows["x"][4]) == 20.0 and float(rows["y"][4]) == 7.0  # 2xy, x² + 3
    assert rows["f"][1] == "+" and rows["f"][2] == "t2,t3"


def test_backprop_table_shows_sums_and_self_check():
    r = run("backprop", "x*x + x", "--at", "3", "--format", "table", env={"COLUMNS": "100"})
    assert r.code == 0
    assert "1 × 3 + 1 × 3 + 1 × 1" in r.out  # the fan-in sum, written out
    assert "self-check: the leaves' adjoints = SymPy's gradient" in r.out


def test_backprop_wrt():
    d = doc("backprop", NEURON, "--at", AT, "--wrt", "w,b")
    assert d["variables"] == ["w", "b"] and len(d["gradient"]["value"]) == 2


def test_forward_mode_and_cost():
    d = doc("backprop", "x**2*y + 3*y", "--at", "2,5", "--mode", "forward", "--dir", "1,0")
    out = {n["name"]: n for n in d["nodes"]}["f"]
    assert out["tangent"] == 20.0  # ∂f/∂x = 2xy
    assert d["cost"]["forward"]["passes"] == 2 and d["cost"]["reverse"]["passes"] == 1
    r = run("backprop", "x**2*y + 3*y", "--at", "2,5", "--mode", "forward", "--dir", "0,1", "--format", "table")
    assert "forward mode: 2 passes" in r.out and "reverse mode: 1 backward pass" in r.out


def test_why():
    d = doc("backprop", "x*x + x", "--at", "3", "--why", "x")
    assert sorted(p["value"] for p in d["why"]["paths"]) == [1.0, 3.0, 3.0]
    assert d["why"]["adjoint"]["exact"] == "7"
    r = run("backprop", NEURON, "--at", AT, "--why", "w", "--format", "table", env={"COLUMNS": "120"})
    assert "w → t1 → z → a → t2 → L" in r.out and "(equal)" in r.out


def test_plot(tmp_path):
    out = tmp_path / "g.png"
    r = run("backprop", NEURON, "--at", AT, "--plot", str(out), "--format", "plain")
    assert r.code == 0 and "wrote" in r.err
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("args, code, words", [
    (["backprop", "W@x", "--shape", "W=3x4,x=5", "--seed", "0"], 2, ["3×4", "5"]),
    (["grad", "sum(W@x)", "--shape", "W=3x4,x=5", "--seed", "0"], 2, ["3×4", "5"]),
    (["grad", "sum(x)", "--shape", "x=200x200"], 2, ["10000"]),
    (["backprop", "W@x", "--shape", "W=2x2,x=2", "--seed", "0"], 2, ["scalar"]),
    (["backprop", "log(x)", "--at", "0"], 1, ["undefined"]),
    # √−1 and log(−1) are not real numbers (SymPy makes them I and I*pi at once)
    (["backprop", "sqrt(x)", "--at", "-1"], 1, ["sqrt(x)", "not real"]),
    (["backprop", "log(x)**2", "--at", "-1"], 1, ["log(x)", "not real"]),
    (["backprop", "x**y", "--at", "-1,2"], 1, ["adjoint of y", "not real"]),  # ∂(xʸ)/∂y = xʸ·ln x
    (["grad", "sum(sqrt(x))", "--shape", "x=2", "--at", "x=[-1,1]"], 1, ["not real"]),
    (["backprop", "x*y", "--at", "1,2", "--why", "q"], 2, ["not a node"]),
    (["backprop", "x*y", "--at", "1,2", "--dir", "1,0"], 2, ["--mode forward"]),
    (["backprop", "x*y", "--at", "1,2", "--mode", "forward"], 2, ["--dir"]),
    (["backprop", "x*y", "--at", "1"], 2, ["1 values given for 2"]),
    (["backprop", "x*y"], 2, ["values are required"]),
    (["backprop", "x.__class__", "--at", "1"], 2, ["attribute"]),
    (["grad", "sum(x)", "--shape", "x=3", "--at", "x=[1,2]"], 2, ["shape 2", "declared 3"]),
    (["backprop", "x*y", "--at", "1,2", "--plot", "g.jpg"], 2, [".png"]),
])
def test_errors(args, code, words):
    assert_error(run(*args), code, *words)


# --------------------------------------------------------------------------- shapes in grad/jacobian/hessian/check
LINEAR = ["--shape", "W=3x4,x=4,b=3"]


def test_grad_linear_layer_in_the_shape_of_w():
    d = doc("grad", "mean((W@x + b)**2)", *LINEAR, "--seed", "4")
    W = np.array(d["point"][0], dtype=object)
    names = d["inputs"]
    vals = {n: np.array(eval_exact(p)) for n, p in zip(names, d["point"])}
    u = vals["W"] @ vals["x"] + vals["b"]
    assert d["variables"] == ["W", "b", "x"]
    gW = np.array(d["gradient"]["value"][0])
    assert gW.shape == (3, 4) and W.shape == (3, 4)
    assert np.allclose(gW, (2 / 3) * np.outer(u, vals["x"]), rtol=1e-13)
    assert np.array(d["gradient"]["exact"][0]).shape == (3, 4)
    assert np.allclose(d["gradient"]["value"][2], vals["W"].T @ ((2 / 3) * u), rtol=1e-13)  # Wᵀδ
    assert any(c["variable"] == "W" and c["verified"] for c in d["closed_forms"])


def eval_exact(nested):
    from fractions import Fraction

    if isinstance(nested, list):
        return [eval_exact(v) for v in nested]
    return float(Fraction(nested))


def test_grad_wrt_w_table_is_a_matrix():
    r = run("grad", "mean((W@x + b)**2)", *LINEAR, "--wrt", "W", "--seed", "0", "--format", "plain")
    rows = [line.split("\t") for line in r.out.splitlines()]
    assert len(rows) == 3 and all(len(row) == 5 for row in rows)  # label + 4 columns, 3 rows


def test_bracketed_values_and_jacobian_is_w():
    at = "W=[[1,2,3,4],[0,1,0,1],[2,0,1,0]],x=[1,0,2,1],b=[0,0,1]"
    d = doc("jacobian", "W@x + b", *LINEAR, "--at", at, "--wrt", "x")
    assert d["jacobian"]["shape"] == [3, 4]
    assert d["jacobian"]["value"] == [[1, 2, 3, 4], [0, 1, 0, 1], [2, 0, 1, 0]]
    assert d["jacobian"]["symbolic"][0] == ["W[0,0]", "W[0,1]", "W[0,2]", "W[0,3]"]
    assert d["closed_forms"][0]["formula"] == "J = W"


def test_softmax_and_cross_entropy_cli():
    z = np.array([2, 1, 0.5, 3])
    s = np.exp(z) / np.exp(z).sum()
    d = doc("jacobian", "softmax(z)", "--shape", "z=4", "--at", "z=[2,1,0.5,3]")
    assert np.allclose(d["jacobian"]["value"], np.diag(s) - np.outer(s, s), rtol=1e-13, atol=1e-16)
    d = doc("grad", "cross_entropy(z, 3)", "--shape", "z=4", "--at", "z=[2,1,0.5,3]")
    assert np.allclose(d["gradient"]["value"][0], s - np.eye(4)[3], rtol=1e-13)
    r = run("grad", "cross_entropy(z, 3)", "--shape", "z=4", "--at", "z=[2,1,0.5,3]", "--format", "table",
            env={"COLUMNS": "120"})
    assert "∂f/∂z = ŷ − y" in r.out and "y = onehot(3)" in r.out
    d = doc("grad", "cross_entropy(z, 3)", "--shape", "z=4", "--at", "z=[2,1,0.5,3]")
    (form,) = d["closed_forms"]
    assert form["verified"] and form["y"] == [0, 0, 0, 1]
    assert np.allclose(form["ŷ"], s, rtol=1e-15)


def test_hessian_and_check_on_components():
    d = doc("hessian", "sum(x**2) + x[0]*x[1]", "--shape", "x=3", "--at", "x=[1,2,3]")
    assert d["hessian"]["value"] == [[2, 1, 0], [1, 2, 0], [0, 0, 2]]
    d = doc("check", "sum(sigmoid(W@x))", "--shape", "W=2x2,x=2", "--seed", "3")
    assert d["passed"] is True


def test_values_from_json_file(tmp_path):
    f = tmp_path / "v.json"
    f.write_text(json.dumps({"W": [[1, 0], [0, 2]], "x": [3, 4]}))
    d = doc("grad", "sum(W@x)", "--shape", "W=2x2,x=2", "--at", str(f), "--wrt", "x")
    assert d["gradient"]["value"] == [[1, 2]]  # column sums of W


def test_steps_declare_shapes():
    d = doc("backprop", "W: 2x2; x: 2; h = W@x; L = sum(h**2)", "--seed", "1")
    assert {n["name"]: n["shape"] for n in d["nodes"]}["W"] == [2, 2]
    assert d["self_check"]["passed"] is True


# --------------------------------------------------------------------------- fuzzing: the error contract
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_tokens = st.sampled_from(["x", "y", "W", "b", "t1", "1", "0", "2.5", "+", "-", "*", "/", "**", "@", ".T", "(", ")",
                           "[", "]", ",", ";", "=", ":", " ", "3x2", "sum", "mean", "softmax", "logsumexp",
                           "cross_entropy", "sigmoid", "log", "sqrt", "relu", "pi", "__class__", "'", "lambda"])
_soup = st.lists(_tokens, min_size=0, max_size=18).map("".join)


@given(_soup)
@settings(max_examples=40)
def test_backprop_keeps_the_error_contract(text):
    assert_contract(run("backprop", "--", text, "--at", "x=1,y=2", "--shape", "W=2x2,b=2", "--seed", "1"))
    assert_contract(run("grad", "--", text, "--shape", "W=2x2,b=2", "--seed", "1"))


_values = st.lists(st.sampled_from(["[", "]", ",", "1", "-2", "1/0", "x", "W=", "b=", "nan", "[[", "]]", "0.5", " "]),
                   min_size=1, max_size=14).map("".join)


@given(_values)
@settings(max_examples=40)
def test_values_keep_the_error_contract(text):
    assert_contract(run("grad", "sum(W@b)", "--shape", "W=2x2,b=2", "--at", text))


def test_help_has_an_example():
    r = run("backprop", "--help")
    assert r.code == 0 and "Example: gradlab backprop" in " ".join(r.out.split())


# --------------------------------------------------------------------------- the graph's layout
LAYOUTS = [
    (NEURON, {}, "w=1/2,x=2,b=1/10,y=1", None),  # the README's picture
    ("log(1 + exp(-(w*x + b)))", {}, "w=1/2,x=2,b=1/10", None),  # the logistic loss
    ("exp(x**2*y)*log(1 + x*y) + tanh(x - y)/sqrt(1 + x**2)", {}, "x=1,y=2", None),  # 16 nodes, long labels
    ("exp(x**2*y)*log(1 + x*y) + tanh(x - y)/sqrt(1 + x**2)", {}, "x=1,y=2", "x=1,y=0"),  # forward mode
    ("cross_entropy(W@x + b, 1)", {"W": (3, 4), "x": (4,), "b": (3,)}, None, None),  # softmax and cross-entropy
    ("L = mean((W@x + b - y)**2)", {"W": (2, 3), "x": (3,), "b": (2,), "y": (2,)}, None, None),
]


@pytest.mark.parametrize("text, shapes, at, direction", LAYOUTS)
def test_graph_labels_overlap_no_box_and_no_other_label(text, shapes, at, direction):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from gradlab.calculus.backprop import backprop
    from gradlab.calculus.graph import build
    from gradlab.calculus.shapes import parse_values, seeded_values
    from gradlab.render.graphplot import graph_figure

    graph = build(text, shapes)
    point = parse_values(at, {n.name: n.shape for n in graph.nodes if n.is_leaf}) if at else seeded_values(0, shapes)
    tangent = parse_values(direction, {n.name: n.shape for n in graph.nodes if n.is_leaf}) if direction else None
    fig = graph_figure(backprop(graph, point, direction=tangent))
    FigureCanvasAgg(fig).draw()
    r = fig.canvas.get_renderer()
    layout = fig._gradlab_layout
    boxes = [p.get_window_extent(r) for p in layout["boxes"]]
    labels = [t.get_bbox_patch().get_window_extent(r) for t in layout["labels"]]
    assert len(labels) == sum(len(n.inputs) for n in graph.nodes)  # every edge is labelled
    for i, lab in enumerate(labels):
        assert not any(lab.overlaps(b) for b in boxes), layout["labels"][i].get_text()
        assert not any(lab.overlaps(other) for other in labels[i + 1:]), layout["labels"][i].get_text()
    whole = fig.bbox
    for i, t in enumerate(layout["node_text"]):  # each box holds its three lines
        e = t.get_window_extent(r)
        b = boxes[i // 3]
        assert b.x0 <= e.x0 and e.x1 <= b.x1 and b.y0 <= e.y0 and e.y1 <= b.y1, t.get_text()
    for e in boxes + labels + [fig._suptitle.get_window_extent(r)]:  # nothing cut off at the edges
        assert whole.x0 <= e.x0 and e.x1 <= whole.x1 and whole.y0 <= e.y0 and e.y1 <= whole.y1


def test_a_long_expression_on_a_small_graph_keeps_its_title_inside_the_figure():
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from gradlab.calculus.backprop import backprop
    from gradlab.calculus.graph import build
    from gradlab.render.graphplot import graph_figure

    c = "0." + "1234567890" * 9  # a long constant: a long title over a graph of three columns
    fig = graph_figure(backprop(build(f"x*{c} + y*{c}"), {"x": (1,), "y": (2,)}))
    FigureCanvasAgg(fig).draw()
    box = fig._suptitle.get_window_extent(fig.canvas.get_renderer())
    assert 0 <= box.x0 and box.x1 <= fig.bbox.width and "…" in fig._suptitle.get_text()


def _graph_title(text, shapes, point):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from gradlab.calculus.backprop import backprop
    from gradlab.calculus.graph import build
    from gradlab.render.graphplot import graph_figure

    fig = graph_figure(backprop(build(text, shapes), point))
    FigureCanvasAgg(fig).draw()
    box = fig._suptitle.get_window_extent(fig.canvas.get_renderer())
    assert 0 <= box.x0 and box.x1 <= fig.bbox.width  # inside the figure
    return fig._suptitle.get_text().split("\n")[0]


def test_shaped_graph_title_names_spaces_not_values():
    # a linear layer: W is 3×2, b and W@x are 3-vectors, x a 2-vector; "b=3" would read as a value
    point = {"W": (1, 2, 3, 4, 5, 6), "b": (0, 0, 1), "x": (1, -1)}
    title = _graph_title("L = sum(sigmoid(W@x + b))", {"W": (3, 2), "b": (3,), "x": (2,)}, point)
    assert title == "backprop of L = sum(sigmoid(W@x + b)) with W ∈ ℝ³ˣ², b ∈ ℝ³, x ∈ ℝ²"
    assert "=3" not in title and "= 3" not in title.split(" with ")[1]


def test_graph_title_gives_scalars_by_value_and_cuts_the_program_not_the_spaces():
    title = _graph_title("L = sum(W@x) + y", {"W": (1, 2), "x": (2,)}, {"W": (1, 2), "x": (3, 4), "y": (5,)})
    assert title.endswith("with W ∈ ℝ¹ˣ², x ∈ ℝ² at y = 5")
    c = "0." + "1234567890" * 9  # a program far wider than the figure: it is cut, the spaces stay whole
    long = _graph_title(f"L = sum(W@x)*{c} + sum(W@x)*{c}", {"W": (1, 2), "x": (2,)}, {"W": (1, 2), "x": (3, 4)})
    assert long.startswith("backprop of L = sum(W@x)*0.1234") and "…" in long
    assert long.endswith(" with W ∈ ℝ¹ˣ², x ∈ ℝ²")


def test_shaped_backprop_plot_through_the_cli(tmp_path):
    out = tmp_path / "layer.png"
    r = run("backprop", "L = sum(sigmoid(W@x + b))", "--shape", "W=3x2,b=3,x=2", "--seed", "0",
            "--plot", str(out), "--format", "json")
    assert r.code == 0 and out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and f"wrote {out}" in r.err


def test_shaped_backprop_table_title_names_spaces_like_the_figure():
    # W·x + b with W 3×2: the table said "(W=3×2, b=3, x=2)", where b=3 reads as a value
    r = run("backprop", "L = sum(W@x + b)", "--shape", "W=3x2,x=2,b=3", "--seed", "0", "--format", "table",
            env={"COLUMNS": "120"})
    assert r.code == 0, r
    title = r.out.splitlines()[0]
    assert title == "backprop with W ∈ ℝ³ˣ², b ∈ ℝ³, x ∈ ℝ²: L = sum(W@x + b)"
    # grad and jacobian of shaped variables say the same, not "at the given values"
    g = run("grad", "sum(W@x + b)", "--shape", "W=3x2,x=2,b=3", "--seed", "0", "--format", "table")
    assert g.out.splitlines()[0] == "∇f with W ∈ ℝ³ˣ², b ∈ ℝ³, x ∈ ℝ² for f = sum(W@x + b)"


@pytest.mark.parametrize("mode, direction, words", [
    ("sideways", None, "--mode is reverse or forward"),
    ("forward", None, "forward mode needs a direction"),
    ("reverse", "1,0", "--dir goes with --mode forward"),
])
def test_a_mode_and_direction_that_do_not_go_together_are_refused_alike(mode, direction, words):
    # the command and the library share one check: the same line, exit 2 from the CLI
    import gradlab
    from gradlab.errors import BadInput

    args = ["backprop", "x*y", "--at", "x=1,y=2", "--mode", mode] + (["--dir", direction] if direction else [])
    assert_error(run(*args), 2, words)
    with pytest.raises(BadInput, match=words):
        gradlab.backprop("x*y", at={"x": 1, "y": 2}, mode=mode, dir=direction)
