"""The passes over a computational graph, node by node in topological order: forward
values, backward adjoints (reverse mode: vector-Jacobian products) and forward-mode
tangents (Jacobian-vector products), on symbols or on exact numbers alike.

>>> from gradlab.calculus.graph import build
>>> g = build("x*x + x")
>>> vals = forward(g, {"x": (3,)})
>>> adj, _ = backward(g, vals, local_jacobians(g, vals))
>>> vals["f"], adj["x"]
((12,), (7,))
>>> tangents(g, local_jacobians(g, vals), {"x": (1,)})["f"]
(7,)
"""

from __future__ import annotations

from typing import Mapping

import sympy

from gradlab.calculus.graph import Comps, Graph
from gradlab.calculus.nodemath import apply, jacobian_entries
from gradlab.calculus.shapes import components, size
from gradlab.calculus.values import hp, number

def forward(graph: Graph, leaves: Mapping[str, Comps]) -> dict[str, Comps]:
    """Every node's components, from the leaves' (symbols or exact numbers)."""
    vals: dict[str, Comps] = {}
    for n in graph.nodes:
        vals[n.name] = tuple(number(v) for v in leaves[n.name]) if n.is_leaf else apply(n, [vals[u] for u in n.inputs])
    return vals


def local_jacobians(graph: Graph, vals: Mapping[str, Comps]) -> dict[tuple[str, int], list]:
    return {(n.name, k): jacobian_entries(n, k, [vals[u] for u in n.inputs], vals[n.name])
            for n in graph.nodes for k in range(len(n.inputs))}


def backward(graph: Graph, vals: Mapping[str, Comps], jacs: Mapping[tuple[str, int], list],
             seed: Comps | None = None) -> tuple[dict[str, Comps], dict[tuple[str, int], Comps]]:
    """Adjoints ∂out/∂node of every node (reverse mode), and every edge's contribution
    Jᵀ·adjoint; a node's adjoint is the sum of the contributions of its out-edges."""
    out = graph.node(graph.output)
    adj: dict[str, Comps] = {out.name: seed or (sympy.S.One,) * size(out.shape)}
    terms: dict[str, list[Comps]] = {}
    contrib: dict[tuple[str, int], Comps] = {}
    for n in reversed(graph.nodes):
        if n.name != out.name:
            parts = terms.get(n.name, [])
            adj[n.name] = tuple(sympy.Add(*(p[j] for p in parts)) for j in range(size(n.shape))) if parts \
                else (sympy.S.Zero,) * size(n.shape)
        a = adj[n.name]
        for k, u in enumerate(n.inputs):
            acc: list[list] = [[] for _ in range(len(vals[u]))]
            for i, j, e in jacs[(n.name, k)]:
                if a[i] != 0:
                    acc[j].append(a[i] * e)
            c = tuple(sympy.Add(*t) for t in acc)
            contrib[(n.name, k)] = c
            terms.setdefault(u, []).append(c)
    return adj, contrib


def tangents(graph: Graph, jacs: Mapping[tuple[str, int], list], direction: Mapping[str, Comps]) -> dict[str, Comps]:
    """Forward mode: every node's tangent (directional derivative along ``direction``)."""
    tan: dict[str, Comps] = {}
    for n in graph.nodes:
        if n.is_leaf:
            tan[n.name] = tuple(number(v) for v in direction[n.name])
            continue
        acc: list[list] = [[] for _ in range(size(n.shape))]
        for k, u in enumerate(n.inputs):
            for i, j, e in jacs[(n.name, k)]:
                if tan[u][j] != 0:
                    acc[i].append(e * tan[u][j])
        tan[n.name] = tuple(sympy.Add(*t) for t in acc)
    return tan


def leaf_symbols(graph: Graph) -> dict[str, Comps]:
    return {name: components(name, graph.node(name).shape) for name in graph.leaves}


def compose(graph: Graph) -> tuple[dict[str, Comps], dict[str, Comps]]:
    """The leaves' component symbols, and every node as a function of them."""
    syms = leaf_symbols(graph)
    return syms, forward(graph, syms)


def point_map(graph: Graph, point: Mapping[str, Comps]) -> dict[sympy.Symbol, sympy.Expr]:
    """The point as {component symbol: exact number}, for evaluating composed forms."""
    return {s: number(v) for name in graph.leaves for s, v in zip(components(name, graph.node(name).shape), point[name])}


def hp_point(graph: Graph, point: Mapping[str, Comps]) -> dict[str, Comps]:
    """The point to 40 digits: the leaves of the numeric pass run beside the exact one."""
    return {n: tuple(hp(v) for v in point[n]) for n in graph.leaves}
