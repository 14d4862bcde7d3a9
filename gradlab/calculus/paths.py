"""Why an adjoint has its value: ∂out/∂node as the sum, over every path node → out, of
the product of the local derivatives along the path (the multivariable chain rule,
written out; ``backprop --why``). For f = x*x + x at 3: 3 + 3 + 1 = 7 = f′(3).

>>> from gradlab.calculus.graph import build
>>> from gradlab.calculus.passes import forward, local_jacobians
>>> g = build("x*x + x")
>>> jacs = local_jacobians(g, forward(g, {"x": (3,)}))
>>> [(p.nodes, p.product.exact) for p in why_paths(g, "x", jacs, jacs)]
[(('x', 't1', 'f'), 3), (('x', 't1', 'f'), 3), (('x', 'f'), 1)]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import sympy

from gradlab.calculus.derivatives import Value
from gradlab.calculus.graph import Graph
from gradlab.calculus.nodemath import local_expr, local_formula
from gradlab.calculus.parsing import to_text
from gradlab.calculus.values import exact_value
from gradlab.errors import BadInput, LimitExceeded

MAX_PATHS = 200  # paths listed by "why this adjoint"


@dataclass(frozen=True)
class Path:
    """One path from the chosen node to the output: its nodes, each edge's local
    derivative (formula and value), and their product."""

    nodes: tuple[str, ...]
    locals: tuple[str, ...]
    symbolic: sympy.Expr
    product: Value
    approx: sympy.Expr = sympy.S.Zero  # the product to 40 digits
    values: tuple[float, ...] = ()  # each local derivative's value

    def to_record(self) -> dict[str, Any]:
        return {"nodes": list(self.nodes), "locals": list(self.locals), "symbolic": to_text(self.symbolic),
                "exact": str(self.product.exact), "value": self.product.value}


def paths_to_output(graph: Graph, start: str) -> list[list[tuple[str, int]]]:
    """Every path start → output as a list of edges (target, slot)."""
    count: dict[str, int] = {graph.output: 1}
    for n in reversed(graph.nodes):
        if n.name != graph.output:
            count[n.name] = sum(count.get(c.name, 0) for c, _ in graph.consumers(n.name))
    if count.get(start, 0) > MAX_PATHS:
        raise LimitExceeded(f"{start} reaches {graph.output} by {count[start]} paths; the limit is {MAX_PATHS}", "--why")
    out: list[list[tuple[str, int]]] = []

    def walk(name: str, trail: list) -> None:
        if name == graph.output:
            out.append(list(trail))
            return
        for c, k in graph.consumers(name):
            if count.get(c.name, 0):
                trail.append((c.name, k))
                walk(c.name, trail)
                trail.pop()

    walk(start, [])
    return out


def why_paths(graph: Graph, name: str, jacs: Mapping[tuple[str, int], list],
              jacs_hp: Mapping[tuple[str, int], list]) -> tuple[Path, ...]:
    """Every path ``name`` → output with its local derivatives and their product, from the
    exact local Jacobians and their 40-digit twins; scalar paths only."""
    if name not in {n.name for n in graph.nodes}:
        raise BadInput(f"{name!r} is not a node ({', '.join(n.name for n in graph.nodes)})", "--why")
    nodes = {n.name: n for n in graph.nodes}
    result = []
    for trail in paths_to_output(graph, name):
        names, locs, sym, prod, approx, vals = [name], [], [], sympy.S.One, sympy.S.One, []
        prev = name
        for target, k in trail:
            t = nodes[target]
            if t.shape or nodes[prev].shape:
                raise BadInput(f"the path {prev} → {target} carries a vector or matrix; --why sums over scalar "
                               "paths only (ask for a scalar node)", "--why")
            locs.append(local_formula(graph, t, k))
            sym.append(local_expr(t, k))
            prod *= jacs[(target, k)][0][2] if jacs[(target, k)] else 0
            approx *= jacs_hp[(target, k)][0][2] if jacs_hp[(target, k)] else 0
            vals.append(float(jacs_hp[(target, k)][0][2]) if jacs_hp[(target, k)] else 0.0)
            names.append(target)
            prev = target
        result.append(Path(tuple(names), tuple(locs), sympy.Mul(*sym),
                           exact_value(prod, "a product of local derivatives", approx), approx, tuple(vals)))
    return tuple(result)
