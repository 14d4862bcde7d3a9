"""How results on a computational graph read: expressions printed in gradlab's syntax
(fast for the thousands of entries of a matrix gradient), the point in a title, and the
pieces of JSON that ``backprop``, ``grad`` and ``jacobian`` share.

>>> from gradlab.calculus.graph import build
>>> g = build("W@x", {"W": (1, 2), "x": (2,)})
>>> point_text(g, {"W": (1, 2), "x": (3, 4)}), point_record(g, {"W": (1, 2), "x": (3, 4)})
('(W=1×2, x=2)', [[[1.0, 2.0]], [3.0, 4.0]])
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import sympy

from gradlab.calculus.derivatives import Value
from gradlab.calculus.graph import Comps, Graph
from gradlab.calculus.parsing import _GradlabPrinter, to_text
from gradlab.calculus.shapes import nest, shape_text


def point_text(graph: Graph, point: Mapping[str, Comps]) -> str:
    """The point for a title: ``(x=2, y=5)``, a shaped leaf by its shape (``W=3×4``)."""
    parts = []
    for name in graph.leaves:
        comps = point[name]
        parts.append(f"{name}={to_text(comps[0])}" if len(comps) == 1 else f"{name}={shape_text(graph.node(name).shape)}")
    return "(" + ", ".join(parts) + ")"


class _ManyPrinter(_GradlabPrinter):
    """gradlab's printer for many related forms: terms in SymPy's own order (sorting
    34,000 terms costs seconds) and each distinct sum printed once (the 1,024 entries of
    ∂L/∂W share 32 sums)."""

    def __init__(self) -> None:
        super().__init__({"order": "none"})
        self.memo: dict[sympy.Expr, str] = {}

    def _print_Add(self, expr, order=None):
        if expr not in self.memo:
            self.memo[expr] = super()._print_Add(expr, order)
        return self.memo[expr]


def texts(exprs: Sequence[sympy.Expr]) -> list[str]:
    """Expressions in gradlab's syntax; past a few dozen, with the faster printer."""
    if len(exprs) <= 64:
        return [to_text(e) for e in exprs]
    printer = _ManyPrinter()
    return [printer.doprint(e) for e in exprs]


def gradient_record(graph: Graph, wrt: Sequence[str], symbolic: Sequence[Comps],
                    values: Sequence[Sequence[Value]] | None) -> dict[str, Any]:
    """The JSON ``gradient`` object as ``grad`` writes it, each variable in its shape."""
    shapes = [graph.node(w).shape for w in wrt]
    rec: dict[str, Any] = {"symbolic": [nest(texts(s), sh) for s, sh in zip(symbolic, shapes)]}
    if values is not None:
        rec["exact"] = [nest([str(v.exact) for v in vs], sh) for vs, sh in zip(values, shapes)]
        rec["value"] = [nest([v.value for v in vs], sh) for vs, sh in zip(values, shapes)]
    return rec


def point_record(graph: Graph, point: Mapping[str, Comps]) -> list:
    """A point (or a direction) for JSON: each leaf's values as floats, in its shape
    (the one point shape of every command; exact values in :func:`point_exact_record`)."""
    return [nest([float(v) for v in point[n]], graph.node(n).shape) for n in graph.leaves]


def point_exact_record(graph: Graph, point: Mapping[str, Comps]) -> list:
    """The same point's exact values in gradlab's syntax, in each leaf's shape."""
    return [nest([to_text(v) for v in point[n]], graph.node(n).shape) for n in graph.leaves]


def shapes_record(graph: Graph) -> dict[str, list[int]]:
    """Each leaf's shape for JSON (``[]`` for a scalar)."""
    return {n: list(graph.node(n).shape) for n in graph.leaves}
