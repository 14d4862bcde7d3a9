"""Computational graphs: facts of the chain rule, checked against hand formulas and an
independent float implementation written here."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy
from hypothesis import given
from hypothesis import strategies as st

from gradlab.errors import BadInput, GradlabError, LimitExceeded, Undefined
from gradlab.calculus.backprop import backprop
from gradlab.calculus.graph import build
from gradlab.calculus.shaped import shaped_grad, shaped_jacobian
from gradlab.render.graphplot import BOX_H, BOX_W, edge_curve, layers, positions, route
from gradlab.calculus.shapes import parse_values, seeded_values

NEURON = "z = w*x + b; a = sigmoid(z); L = (a - y)**2"
R = sympy.Rational


def sig(t: float) -> float:
    return 1 / (1 + math.exp(-t))


def neuron_point(w, x, b, y):
    return {"w": (w,), "x": (x,), "b": (b,), "y": (y,)}


def local(result, source, target):
    return [e.local_value.value for e in result.edges if e.source == source and e.target == target]


# --------------------------------------------------------------------------- structure
@pytest.mark.parametrize("text, ops", [
    ("a - y", ["-"]),                       # a subtraction, not Add(Mul(-1, y))
    ("x/y", ["/"]),                         # a division, not Pow(y, -1)
    ("x*y + sin(x*y)", ["*", "sin", "+"]),  # the shared x*y once
    ("(a - y)**2", ["-", "**"]),
    ("-x + 1/2", ["neg", "+"]),             # literals folded into their operation
    ("x*x + x", ["*", "+"]),
])
def test_learners_graph(text, ops):
    g = build(text)
    assert [n.op for n in g.nodes if not n.is_leaf] == ops


def test_steps_name_their_nodes():
    g = build(NEURON)
    assert [n.name for n in g.nodes if not n.is_leaf] == ["t1", "z", "a", "t2", "L"]
    assert g.node("z").inputs == ("t1", "b") and g.node("z").label == "t1 + b"
    assert g.output == "L" and g.leaves == ("b", "w", "x", "y")


@pytest.mark.parametrize("text, words", [
    ("z = x; z = y", ["assigned twice"]),
    ("z = x +; L = z", ["syntax"]),
    ("x.y", ["attribute"]),
    ("foo(x)", ["unknown function"]),
    ("z = x*2; 3*z; L = z", ["NAME = expression"]),
    ("x.__class__", ["attribute"]),
    ("[x, y]", ["not allowed"]),
])
def test_bad_programs(text, words):
    with pytest.raises(BadInput) as err:
        build(text)
    for w in words:
        assert w in str(err.value)


# --------------------------------------------------------------------------- the sigmoid neuron
@given(w=st.integers(-20, 20), x=st.integers(-20, 20), b=st.integers(-20, 20), y=st.integers(0, 1))
def test_neuron_adjoints_are_the_gradient(w, x, b, y):
    w, x, b = R(w, 10), R(x, 10), R(b, 10)
    r = backprop(build(NEURON), neuron_point(w, x, b, y))
    z = float(w * x + b)
    a = sig(z)
    dz = 2 * (a - y) * a * (1 - a)  # the hand formula, chain rule written out
    grads = {name: vals[0].value for name, vals in zip(r.wrt, r.gradient)}
    assert grads["w"] == pytest.approx(dz * float(x), rel=1e-12, abs=1e-15)
    assert grads["b"] == pytest.approx(dz, rel=1e-12, abs=1e-15)
    assert grads["x"] == pytest.approx(dz * float(w), rel=1e-12, abs=1e-15)
    assert grads["y"] == pytest.approx(-2 * (a - y), rel=1e-12, abs=1e-15)
    assert r.self_check.passed is True


def test_neuron_local_derivatives_match_hand_formulas():
    w, x, b, y = R(1, 2), R(2), R(1, 10), R(1)
    r = backprop(build(NEURON), neuron_point(w, x, b, y))
    a = sig(1.1)
    assert local(r, "w", "t1") == [2.0]          # ∂(wx)/∂w = x
    assert local(r, "x", "t1") == [0.5]          # ∂(wx)/∂x = w
    assert local(r, "t1", "z") == [1.0] and local(r, "b", "z") == [1.0]
    assert local(r, "z", "a") == [pytest.approx(a * (1 - a), rel=1e-15)]  # σ′ = σ(1 − σ)
    assert local(r, "a", "t2") == [1.0] and local(r, "y", "t2") == [-1.0]
    assert local(r, "t2", "L") == [pytest.approx(2 * (a - 1), rel=1e-15)]  # d(u²)/du = 2u
    formulas = {(e.source, e.target): e.local for e in r.edges}
    assert formulas[("z", "a")] == "a*(1 - a)" and formulas[("t2", "L")] == "2*t2"
    # the values: forward pass by hand
    assert r.node("a").value[0].value == pytest.approx(a, rel=1e-15)
    assert r.node("L").value[0].value == pytest.approx((a - 1) ** 2, rel=1e-14)


def test_node_used_twice_sums_both_contributions():
    r = backprop(build("x*x + x"), {"x": (3,)})
    into_x = [e for e in r.edges if e.source == "x"]
    assert len(into_x) == 3  # twice into x*x, once into the sum
    contributions = [e.contribution[0].exact for e in into_x]
    assert sorted(contributions) == [1, 3, 3]
    assert r.node("x").adjoint[0].exact == sum(contributions) == 2 * 3 + 1


@given(st.integers(-50, 50))
def test_fan_in_is_the_derivative(k):
    x = R(k, 7)
    r = backprop(build("x*x + x"), {"x": (x,)})
    assert r.gradient[0][0].exact == 2 * x + 1


def test_x2y_matches_grad():
    r = backprop(build("x**2*y + 3*y"), {"x": (2,), "y": (5,)})
    assert [g[0].exact for g in r.gradient] == [20, 7]  # 2xy, x² + 3
    assert [str(s[0]) for s in r.symbolic] == ["2*x*y", "x**2 + 3"]


# --------------------------------------------------------------------------- forward mode and cost
def f_float(x1, x2, x3):
    return math.sin(x1 * x2) + x3 * math.exp(x1) / (1 + x2 ** 2)


F_TEXT = "sin(x1*x2) + x3*exp(x1)/(1 + x2**2)"


@pytest.mark.parametrize("i", [0, 1, 2])
def test_forward_mode_along_ei_is_the_partial(i):
    point = (R(1, 2), R(-3, 4), R(2))
    g = build(F_TEXT)
    e = {name: (1 if k == i else 0,) for k, name in enumerate(g.leaves)}
    r = backprop(g, {n: (v,) for n, v in zip(g.leaves, point)}, direction=e)
    h = 1e-6
    p = [float(v) for v in point]
    up, down = list(p), list(p)
    up[i] += h
    down[i] -= h
    central = (f_float(*up) - f_float(*down)) / (2 * h)
    assert r.node(g.output).tangent[0].value == pytest.approx(central, rel=1e-7)
    # reverse mode: all n partials from one backward pass agree with the n forward passes
    assert r.gradient[i][0].value == pytest.approx(r.node(g.output).tangent[0].value, rel=1e-14)
    assert r.cost.to_record()["reverse"]["passes"] == 1
    assert r.cost.to_record()["forward"]["passes"] == 3


@pytest.mark.parametrize("wrt", [None, "x", "y"])
def test_forward_tangent_is_the_full_gradient_dotted_with_v(wrt):
    # f = x*y at (1, 2) along v = (1, 1): ḟ = y·1 + x·1 = 3, whichever leaves --wrt reports
    r = backprop(build("x*y"), {"x": (1,), "y": (2,)}, wrt, direction={"x": (1,), "y": (1,)})
    assert r.node("f").tangent[0].exact == 3
    assert "tangent of f = ∇f·v = 3 (equals the reverse-mode gradient dotted with v)" in r.view().notes


def test_stacked_scalars_feed_softmax():
    # s = softmax(a, b, c): ∂s₀/∂a = s₀(1 − s₀), ∂s₀/∂b = −s₀s₁; [a, b, c] depends on b
    # through its component 1 only (∂[a, b, c]/∂b = e₁)
    r = backprop(build("softmax(a, b, c)[0]"), {"a": (1,), "b": (2,), "c": (3,)})
    s = softmax(np.array([1.0, 2.0, 3.0]))
    assert r.node("a").adjoint[0].value == pytest.approx(s[0] * (1 - s[0]), rel=1e-14)
    assert r.node("b").adjoint[0].value == pytest.approx(-s[0] * s[1], rel=1e-14)
    assert [e.local for e in r.edges if e.target == "t1"] == ["1 at [0]", "1 at [1]", "1 at [2]"]


# --------------------------------------------------------------------------- why: sums over paths
def test_why_sums_paths_to_the_adjoint():
    r = backprop(build("x*x + x"), {"x": (3,)}, why="x")
    assert len(r.paths) == 3
    assert sorted(p.product.exact for p in r.paths) == [1, 3, 3]
    r = backprop(build(NEURON), neuron_point(R(1, 2), 2, R(1, 10), 1), why="w")
    (path,) = r.paths
    assert path.nodes == ("w", "t1", "z", "a", "t2", "L")
    a = sig(1.1)
    assert path.product.value == pytest.approx(2 * (a - 1) * a * (1 - a) * 2, rel=1e-14)
    assert sympy.simplify(path.symbolic - sympy.Symbol("x", real=True) * 2 * sympy.Symbol("t2", real=True)
                          * sympy.Symbol("a", real=True) * (1 - sympy.Symbol("a", real=True))) == 0


def test_why_of_a_quotient_adds_a_negative_path():
    # q = (x - y)/(x + y): ∂q/∂(x - y) = 1/(x + y) = 1/4 and ∂q/∂(x + y) = -(x - y)/(x + y)² = -1/8 at (3, 1),
    # and ∂q/∂x = 2y/(x + y)² = 1/8 is their sum
    r = backprop(build("(x - y)/(x + y)"), {"x": (3,), "y": (1,)}, why="x")
    assert [p.product.exact for p in r.paths] == [R(1, 4), R(-1, 8)]
    assert r.node("x").adjoint[0].exact == R(1, 8)
    assert r.view().notes[0] == "sum over the 2 paths: 1/4 + (-1/8) = 1/8"  # not "1/4 + -1/8"
    r = backprop(build("(x - y)/(x + y)"), {"x": (3,), "y": (1,)}, why="t2")
    assert r.view().notes[0] == "sum over the 1 path: -1/8 = -1/8"


@pytest.mark.parametrize("shape", [(1, 1), (2,), (5,), (2, 3)])
def test_mean_local_derivative_is_one_over_n(shape):
    # mean(t) = (t_1 + … + t_n)/n, so ∂mean/∂t_j = 1/n: "1" for a single component, not "1/1"
    n = math.prod(shape)
    r = backprop(build("mean(x*x)", {"x": shape}), seeded_values(n, {"x": shape}))
    (edge,) = [e for e in r.edges if e.target == "f"]
    assert edge.local == f"{'1' if n == 1 else f'1/{n}'} for every component"
    assert [v.exact for v in edge.contribution] == [R(1, n)] * n


def test_why_unknown_node():
    with pytest.raises(BadInput, match="not a node"):
        backprop(build("x*x"), {"x": (1,)}, why="q")


# --------------------------------------------------------------------------- shapes
SHAPES = {"W": (3, 4), "x": (4,), "b": (3,)}


def arrays(point):
    W = np.array([float(v) for v in point["W"]]).reshape(3, 4)
    return W, np.array([float(v) for v in point["x"]]), np.array([float(v) for v in point["b"]])


def test_linear_layer_gradient_is_2_over_m_outer():
    point = seeded_values(7, SHAPES)
    r = shaped_grad(build("mean((W@x + b)**2)", SHAPES), point, "W,x,b")
    W, x, b = arrays(point)
    u = W @ x + b
    m = 3
    gW = np.array([v.value for v in r.values[0]]).reshape(3, 4)
    assert gW.shape == (3, 4)
    assert np.allclose(gW, (2 / m) * np.outer(u, x), rtol=1e-13, atol=1e-15)
    gx = np.array([v.value for v in r.values[1]])
    assert np.allclose(gx, W.T @ ((2 / m) * u), rtol=1e-13, atol=1e-15)  # ∂L/∂x = Wᵀδ
    gb = np.array([v.value for v in r.values[2]])
    assert np.allclose(gb, (2 / m) * u, rtol=1e-13, atol=1e-15)
    forms = {c.variable: c for c in r.closed_forms}
    assert forms["W"].verified and "xᵀ" in forms["W"].formula
    assert forms["x"].verified and "Wᵀ" in forms["x"].formula


def test_half_squared_residual_closed_form():
    shapes = {"W": (2, 3), "x": (3,), "b": (2,), "y": (2,)}
    point = seeded_values(3, shapes)
    r = shaped_grad(build("sum((W@x + b - y)**2)/2", shapes), point, "W")
    W = np.array([float(v) for v in point["W"]]).reshape(2, 3)
    x, b, y = (np.array([float(v) for v in point[k]]) for k in "xby")
    want = np.outer(W @ x + b - y, x)  # (Wx + b − y)xᵀ
    assert np.allclose(np.array([v.value for v in r.values[0]]).reshape(2, 3), want, rtol=1e-13)


def test_jacobian_of_linear_layer_is_w():
    point = seeded_values(2, SHAPES)
    r = shaped_jacobian(build("W@x + b", SHAPES), point, "x")
    W, _, _ = arrays(point)
    assert np.array_equal(np.array([[v.value for v in row] for row in r.values]), W)
    assert [c.formula for c in r.closed_forms] == ["J = W"]


LOGITS = "z=[2, 1, 0.5, 3]"


def softmax(v):
    e = np.exp(v - v.max())
    return e / e.sum()


def test_softmax_jacobian_closed_form():
    z = np.array([2, 1, 0.5, 3])
    r = shaped_jacobian(build("softmax(z)", {"z": (4,)}), parse_values(LOGITS, {"z": (4,)}), "z")
    s = softmax(z)
    J = np.array([[v.value for v in row] for row in r.values])
    assert np.allclose(J, np.diag(s) - np.outer(s, s), rtol=1e-13, atol=1e-16)
    assert r.closed_forms[-1].verified and "diag(s)" in r.closed_forms[-1].formula


def test_cross_entropy_gradient_is_yhat_minus_y():
    z = np.array([2, 1, 0.5, 3])
    r = shaped_grad(build("cross_entropy(z, 3)", {"z": (4,)}), parse_values(LOGITS, {"z": (4,)}))
    g = np.array([v.value for v in r.values[0]])
    assert np.allclose(g, softmax(z) - np.eye(4)[3], rtol=1e-13, atol=1e-16)
    (form,) = r.closed_forms
    assert form.verified and "ŷ − y" in form.formula
    # the loss itself: −log softmax(z)₃
    out = backprop(build("cross_entropy(z, 3)", {"z": (4,)}), parse_values(LOGITS, {"z": (4,)}))
    assert out.node(out.graph.output).value[0].value == pytest.approx(-math.log(softmax(z)[3]), rel=1e-14)


def test_logsumexp_gradient_is_softmax():
    z = np.array([2, 1, 0.5, 3])
    r = shaped_grad(build("logsumexp(z)", {"z": (4,)}), parse_values(LOGITS, {"z": (4,)}))
    assert np.allclose([v.value for v in r.values[0]], softmax(z), rtol=1e-13)


def test_transpose_and_matrix_product():
    shapes = {"A": (2, 3), "B": (2, 3)}
    point = seeded_values(5, shapes)
    r = shaped_grad(build("sum(A@B.T)", shapes), point, "A")
    B = np.array([float(v) for v in point["B"]]).reshape(2, 3)
    # Σ_ij (A Bᵀ)_ij = Σ_ij Σ_k A_ik B_jk  ⇒  ∂/∂A_ik = Σ_j B_jk
    want = np.tile(B.sum(axis=0), (2, 1))
    assert np.allclose(np.array([v.value for v in r.values[0]]).reshape(2, 3), want)


@pytest.mark.parametrize("text, shapes, words", [
    ("W@x", {"W": (3, 4), "x": (5,)}, ["3×4", "5", "do not fit"]),
    ("x + y", {"x": (3,), "y": (4,)}, ["3", "4"]),
    ("cross_entropy(z, 4)", {"z": (4,)}, ["0 to 3"]),
    ("softmax(W)", {"W": (2, 2)}, ["vector"]),
])
def test_shape_errors(text, shapes, words):
    with pytest.raises(BadInput) as err:
        build(text, shapes)
    for w in words:
        assert w in str(err.value)


def test_graph_too_large():
    with pytest.raises(LimitExceeded):
        build("sum(A@B)", {"A": (100, 100), "B": (100, 100)})


def test_undefined_node_names_itself():
    with pytest.raises(Undefined, match="log"):
        backprop(build("y = log(x); L = y*y"), {"x": (0,)})


def test_backprop_needs_scalar_output():
    with pytest.raises(BadInput, match="scalar"):
        backprop(build("W@x", {"W": (2, 2), "x": (2,)}), seeded_values(0, {"W": (2, 2), "x": (2,)}))


def test_layers_left_to_right():
    g = build(NEURON)
    col = layers(g)
    assert all(col[u] < col[n.name] for n in g.nodes for u in n.inputs)
    assert col["y"] == col["t2"] - 1  # a leaf sits next to its consumer


def curve_points(start, c, end, n=200):
    """A quadratic Bézier curve sampled (written here, not taken from the plot module)."""
    t = np.linspace(0, 1, n)[:, None]
    return (1 - t) ** 2 * np.array(start) + 2 * (1 - t) * t * np.array(c) + t ** 2 * np.array(end)


def inside(points, centre) -> bool:
    return bool(np.any((np.abs(points[:, 0] - centre[0]) < BOX_W / 2) & (np.abs(points[:, 1] - centre[1]) < BOX_H / 2)))


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_backprop_table_shows_a_matrix_row_by_row(mode):
    # L = sum(W@x) = Σᵢⱼ Wᵢⱼ xⱼ, so ∂L/∂Wᵢⱼ = xⱼ: every row of W's adjoint is x; along the
    # direction V (W's tangent) the tangent of W is V itself
    shapes = {"W": (2, 3), "x": (3,)}
    point = seeded_values(1, shapes)
    direction = {"W": tuple(sympy.Integer(k) for k in range(6))} if mode == "forward" else None
    r = backprop(build("L = sum(W@x)", shapes), point, direction=direction)
    view = r.view()
    x = tuple(float(v) for v in point["x"])
    i = [row[0] for row in view.rows].index("W")
    w_rows = view.rows[i:i + 2]
    assert w_rows[0][2] == tuple(float(v) for v in point["W"][:3]) and w_rows[1][2] == tuple(float(v) for v in point["W"][3:])
    assert w_rows[1][:2] == ("", "")  # the second row of W continues the node
    want = ((0.0, 1.0, 2.0), (3.0, 4.0, 5.0)) if mode == "forward" else (x, x)
    assert (w_rows[0][3], w_rows[1][3]) == want
    assert len(view.rows) == len(r.nodes) + 1 and len(view.plain_rows()) == len(r.nodes)  # plain: one node a line


def test_two_layer_network_against_finite_differences():
    # L = CE(W2·tanh(W1·x + b1), 1), written here in NumPy; central differences with h = 1e-6
    # have error O(h²) ≈ 1e-12 plus rounding ≈ 1e-10
    shapes = {"W1": (3, 2), "b1": (3,), "W2": (3, 3), "x": (2,)}
    point = seeded_values(11, shapes)
    r = backprop(build("h = tanh(W1@x + b1); L = cross_entropy(W2@h, 1)", shapes), point)
    arrays = {k: np.array([float(v) for v in point[k]]).reshape(shape) for k, shape in shapes.items()}

    def loss(a):
        z = a["W2"] @ np.tanh(a["W1"] @ a["x"] + a["b1"])
        return np.log(np.exp(z).sum()) - z[1]

    for name, shape in shapes.items():
        numeric = np.zeros(shape)
        for idx in np.ndindex(shape):
            up, down = dict(arrays), dict(arrays)
            up[name], down[name] = arrays[name].copy(), arrays[name].copy()
            up[name][idx] += 1e-6
            down[name][idx] -= 1e-6
            numeric[idx] = (loss(up) - loss(down)) / 2e-6
        got = np.array([v.value for v in r.node(name).adjoint]).reshape(shape)
        assert np.allclose(got, numeric, rtol=0, atol=1e-8), name
    assert r.self_check.passed is True


def test_title_shows_the_steps_not_the_declarations():
    # the shapes are said by their spaces (W1 ∈ ℝ³ˣ²); 60 characters of "W1: 3x2; b1: 3; …" hid the loss itself
    shapes = {"W1": (3, 2), "b1": (3,), "W2": (1, 3), "x": (2,)}
    text = "W1: 3x2; b1: 3; W2: 1x3; x: 2; h = relu(W1@x + b1); L = sum(W2@h)"
    r = backprop(build(text), seeded_values(0, shapes))
    assert r.view().title == "backprop with W1 ∈ ℝ³ˣ², W2 ∈ ℝ¹ˣ³, b1 ∈ ℝ³, x ∈ ℝ²: h = relu(W1@x + b1); L = sum(W2@h)"


def test_table_and_figure_titles_say_the_leaves_alike():
    """The table's title and the figure's name the leaves in the same words: a shaped leaf
    by its space (b ∈ ℝ³, never "b=3", which reads as a value), a scalar by its value."""
    from gradlab.render.graphplot import title_text

    shapes = {"W": (3, 2), "b": (3,), "x": (2,)}
    point = {**seeded_values(0, shapes), "y": (sympy.Rational(1, 2),)}
    r = backprop(build("L = sum(sigmoid(W@x + b))*y", shapes), point)
    words = "with W ∈ ℝ³ˣ², b ∈ ℝ³, x ∈ ℝ² at y = 1/2"
    assert r.view().title == f"backprop {words}: L = sum(sigmoid(W@x + b))*y"
    assert title_text(r, inches=100).endswith(words)
    assert "=3" not in r.view().title
    scalar = backprop(build("x*y + sin(x)"), {"x": (sympy.Integer(1),), "y": (sympy.Integer(2),)})
    assert scalar.view().title == "backprop at x = 1, y = 2: f = x*y + sin(x)"


def test_long_edges_go_round_the_boxes_they_skip():
    # t3 = t1/t2 feeds f two columns on, past t6; drawn straight, the edge ran under t6's box
    # and read as t3 → t6
    g = build("(x - y)/(x + y) + log(x*y)*(x*y)")
    pos = positions(g)
    for n in g.nodes:
        for u in n.inputs:
            start, c, end = edge_curve(g, pos, u, n.name)
            points = curve_points(start, c, end)
            assert not any(inside(points, pos[m.name]) for m in g.nodes if m.name not in (u, n.name)), (u, n.name)
    start, c, end = edge_curve(g, pos, "t3", "f")
    assert c != ((start[0] + end[0]) / 2, (start[1] + end[1]) / 2)  # this one had to bend


@given(st.sets(st.integers(-3, 3), max_size=4), st.integers(-3, 3), st.integers(-3, 3))
def test_route_clears_or_stays_straight(rows, y0, y1):
    boxes = [(1.0, float(r)) for r in rows]
    start, end = (BOX_W / 2, float(y0)), (2 - BOX_W / 2, float(y1))
    c = route(start, end, boxes)
    straight = c == ((start[0] + end[0]) / 2, (start[1] + end[1]) / 2)
    points = curve_points(start, c, end)
    if not straight or len(rows) <= 1:
        assert not any(inside(points, b) for b in boxes)  # a bend is taken only when it clears


@given(st.lists(st.integers(-30, 30), min_size=4, max_size=4), st.integers(0, 3))
def test_cross_entropy_property(logits, k):
    z = np.array(logits, dtype=float) / 10
    text = "z=[" + ",".join(f"{v}/10" for v in logits) + "]"
    r = shaped_grad(build(f"cross_entropy(z, {k})", {"z": (4,)}), parse_values(text, {"z": (4,)}))
    assert np.allclose([v.value for v in r.values[0]], softmax(z) - np.eye(4)[k], rtol=1e-12, atol=1e-15)


def test_errors_are_gradlab_errors():
    for text in ["x @ y", "sum(x, 1)", "x[0]", "softmax()", "mean()"]:
        with pytest.raises(GradlabError):
            build(text)


def test_symbolic_gradient_reads_back_with_shapes():
    shapes = {"W": (2, 2), "x": (2,)}
    g = build("sum((W@x)**2) + W[0,1]*x[1]", shapes)
    r = shaped_grad(g, None, "W")
    for expr in r.symbolic[0]:
        from gradlab.calculus.graphtext import texts
        from gradlab.calculus.passes import compose

        (text,) = texts([expr])
        back = build(text, shapes)
        _, composed = compose(back)
        assert sympy.expand(composed[back.output][0] - expr) == 0


def test_matrix_graph_backprop_edges():
    shapes = {"W": (2, 3), "x": (3,), "b": (2,)}
    point = seeded_values(0, shapes)
    r = backprop(build("h = W@x + b; L = mean(h**2)", shapes), point)
    assert r.self_check.passed is True
    W, x, b = (np.array([float(v) for v in point[k]]) for k in "Wxb")
    W = W.reshape(2, 3)
    h = W @ x + b
    assert np.allclose([v.value for v in r.node("h").adjoint], h, rtol=1e-14)  # d mean(h²)/dh = 2h/2
    vjp = [e for e in r.edges if e.source == "W"][0]
    assert "xᵀ" in vjp.local


@pytest.mark.parametrize("sa, sb", [((2, 3), (3,)), ((1, 3), (3,)), ((3,), (3, 2)), ((3,), (3, 1)), ((3,), (3,)),
                                    ((2, 3), (3, 2)), ((4, 1), (1, 2))])
def test_matmul_gradients_every_shape_pair(sa, sb):
    shapes = {"A": sa, "B": sb}
    point = seeded_values(9, shapes)
    r = shaped_grad(build("sum((A@B)**2)", shapes), point)
    A = np.array([float(v) for v in point["A"]]).reshape(sa)
    B = np.array([float(v) for v in point["B"]]).reshape(sb)
    # matrix calculus by hand on 2-D views: d Σ(AB)²/dA = 2(AB)Bᵀ, d/dB = 2Aᵀ(AB)
    A2 = A.reshape(1, -1) if A.ndim == 1 else A
    B2 = B.reshape(-1, 1) if B.ndim == 1 else B
    C = A2 @ B2
    gA, gB = 2 * C @ B2.T, 2 * A2.T @ C
    assert np.allclose(np.array([v.value for v in r.values[0]]).reshape(sa), gA.reshape(sa), rtol=1e-13)
    assert np.allclose(np.array([v.value for v in r.values[1]]).reshape(sb), gB.reshape(sb), rtol=1e-13)


@pytest.mark.parametrize("text, point, error", [
    ("x**(10**8)", 3, LimitExceeded),            # refused while reading, as the parser refuses it
    ("x**9000", 3, Undefined),                   # 4,294 digits: refused before SymPy computes it
    ("a = x*x; b = a*a; c = b*b; d = c*c; f = d*d; g = f*f; h = g*g; i = h*h; j = i*i; k = j*j; l = k*k; "
     "m = l*l; n = m*m; o = n*n; p = o*o; q = p*p", 3, Undefined),  # digits double at every step
    ("x**700", 3, Undefined),                    # 3**700 ≈ 1e334: exact, but past the largest float
])
def test_huge_exact_values_are_refused(text, point, error):
    with pytest.raises(error):
        backprop(build(text), {"x": (point,)})
