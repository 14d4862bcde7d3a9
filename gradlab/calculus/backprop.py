"""``backprop``: a computational graph evaluated at a point, forward and backward, every
node's value and adjoint, every edge's local derivative and contribution, checked against
SymPy's gradient of the composed function; forward-mode tangents along a direction and
the paths behind one adjoint on request.

>>> from gradlab.calculus.graph import build
>>> r = backprop(build("x**2*y + 3*y"), {"x": (2,), "y": (5,)})
>>> [(n.node.name, n.adjoint[0].exact) for n in r.nodes if n.node.op == "input"]
[('x', 20), ('y', 7)]
"""

from __future__ import annotations

from typing import Mapping, Sequence

import sympy

from gradlab.calculus import derivatives as d
from gradlab.calculus.closedforms import closed_forms
from gradlab.calculus.derivatives import Value
from gradlab.calculus.graph import Comps, Graph, wrt_names
from gradlab.calculus.graphresults import BackpropResult, Cost, EdgeResult, NodeResult, SelfCheck
from gradlab.calculus.nodemath import local_formula
from gradlab.calculus.passes import (backward, compose, forward, hp_point, local_jacobians, point_map,
                                     tangents)
from gradlab.calculus.paths import Path, why_paths
from gradlab.calculus.shapes import components, shape_text, size
from gradlab.calculus.values import PRECISION, close, exact_value, exact_values, hp
from gradlab.errors import BadInput

SELF_CHECK_LIMIT = 200  # leaf components differentiated again by SymPy for the self-check


MODES = ("reverse", "forward")


def check_mode(mode: str, direction_given: bool) -> None:
    """Refuse a mode and direction that do not go together (the CLI and the API ask the
    same): forward mode needs a direction, and only it takes one.

    >>> check_mode("forward", False)
    Traceback (most recent call last):
    gradlab.errors.BadInput: forward mode needs a direction: --dir 1,0 (or x=1) (--dir)
    """
    if mode not in MODES:
        raise BadInput(f"--mode is reverse or forward, not {mode!r}", "--mode")
    if mode == "forward" and not direction_given:
        raise BadInput("forward mode needs a direction: --dir 1,0 (or x=1)", "--dir")
    if direction_given and mode != "forward":
        raise BadInput("--dir goes with --mode forward", "--dir")


def backprop(graph: Graph, point: Mapping[str, Comps], wrt: str | Sequence[str] | None = None,
             direction: Mapping[str, Comps] | None = None, why: str | None = None) -> BackpropResult:
    """The forward and backward pass at ``point`` ({leaf: components}), with forward-mode
    tangents along ``direction`` when given, and the paths to ``why``'s adjoint.

    >>> from gradlab.calculus.graph import build
    >>> g = build("x*x + x")
    >>> r = backprop(g, {"x": (3,)})
    >>> r.gradient[0][0].exact, r.self_check.passed
    (7, True)
    """
    out = graph.node(graph.output)
    if out.shape:
        raise BadInput(f"the output {out.name} has shape {shape_text(out.shape)}; backprop needs a scalar "
                       f"(wrap it in sum(...) or mean(...))", "expression")
    names = wrt_names(graph, wrt)
    exact = forward(graph, point)
    approx = forward(graph, hp_point(graph, point))
    values = {n.name: exact_values(exact[n.name], f"node {n.name} = {n.label}", approx[n.name]) for n in graph.nodes}
    jacs = local_jacobians(graph, exact)
    jacs_hp = local_jacobians(graph, approx)
    adj, contrib = backward(graph, exact, jacs)
    adj_hp, contrib_hp = backward(graph, approx, jacs_hp)
    adjoints = {name: exact_values(c, f"the adjoint of {name}", adj_hp[name]) for name, c in adj.items()}
    syms, composed = compose(graph)
    gradient = tuple(adjoints[w] for w in names)
    pm = point_map(graph, point)
    hpm = {s: hp(v) for s, v in pm.items()}
    n_wrt = sum(size(graph.node(w).shape) for w in names)
    if n_wrt <= SELF_CHECK_LIMIT:
        # SymPy's own derivatives of the composed function: the symbolic gradient `grad`
        # prints, and the reference the backward pass is checked against.
        symbolic = tuple(tuple(d.derivative(composed[graph.output][0], s) for s in syms[w]) for w in names)
        check = _self_check(graph, names, symbolic, pm, hpm, gradient, adj_hp)
    else:
        sym_adj, _ = backward(graph, composed, local_jacobians(graph, composed))
        symbolic = tuple(sym_adj[w] for w in names)
        check = SelfCheck(None, f"{n_wrt} components; SymPy re-differentiates at most {SELF_CHECK_LIMIT}")
    tangent = None
    if direction is not None:
        # v over every leaf (a leaf --dir leaves out moves by 0): the result records v whole
        full = {n: direction.get(n, (0,) * size(graph.node(n).shape)) for n in graph.leaves}
        direction = full
        tangent_c = tangents(graph, jacs, full)
        tangent_hp = tangents(graph, jacs_hp, full)
        tangent = {name: exact_values(c, f"the tangent of {name}", tangent_hp[name]) for name, c in tangent_c.items()}
    nodes = tuple(NodeResult(n, values[n.name], adjoints[n.name], tangent[n.name] if tangent else None)
                  for n in graph.nodes)
    edges = []
    for n in graph.nodes:
        for k, u in enumerate(n.inputs):
            scalar = not n.shape and not graph.node(u).shape
            lv = exact_value(jacs[(n.name, k)][0][2], f"∂{n.name}/∂{u}", jacs_hp[(n.name, k)][0][2]) \
                if scalar and jacs[(n.name, k)] else None
            edges.append(EdgeResult(u, n.name, k, local_formula(graph, n, k), lv,
                                    exact_values(contrib[(n.name, k)], f"∂{graph.output}/∂{u}", contrib_hp[(n.name, k)]),
                                    graph.node(u).shape))
    paths: tuple[Path, ...] = ()
    if why is not None:
        paths = why_paths(graph, why, jacs, jacs_hp)
    entries = sum(len(j) for j in jacs.values())
    cost = Cost(sum(size(graph.node(w).shape) for w in names), entries)
    closed = closed_forms(graph, names, exact, adj)
    warnings = d.kink_warnings([composed[graph.output][0]], pm)
    return BackpropResult(graph, dict(point), nodes, tuple(edges), names, symbolic, gradient, check, cost, closed,
                          "forward" if direction is not None else "reverse", direction, why, paths, warnings)


def _self_check(graph: Graph, wrt: Sequence[str], reference: Sequence[Comps], pm: Mapping, hpm: Mapping,
                gradient: Sequence[Sequence[Value]], adj_hp: Mapping[str, Comps]) -> SelfCheck:
    """SymPy's derivatives of the composed function (``reference``) at the point, against
    the adjoints: compared exactly when both are rational, else to 25 digits (40-digit
    evaluation)."""
    all_exact = True
    rational = all(v.is_Rational for v in pm.values())
    for w, refs, vals in zip(wrt, reference, gradient):
        for s, r, v, a in zip(components(w, graph.node(w).shape), refs, vals, adj_hp[w]):
            exact = rational and v.exact.is_Rational
            ref = r.xreplace(pm if exact else hpm)
            if exact and ref.is_Rational:
                ok = ref == v.exact
            else:
                all_exact = False
                ok = close(sympy.N(ref, PRECISION) if not ref.is_Float else ref, a)
            if not ok:
                return SelfCheck(False, f"∂{graph.output}/∂{s}: SymPy gives {ref}, the backward pass {v.exact}")
    return SelfCheck(True, "compared exactly" if all_exact else "agree to 25 digits")
