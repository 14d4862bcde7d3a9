"""How results on a computational graph read: expressions printed in gradlab's syntax
(fast for the thousands of entries of a matrix gradient), the point in a title, and the
pieces of JSON that ``backprop``, ``grad`` and ``jacobian`` share.

>>> from gradlab.calculus.graph import build
>>> g = build("W@x", {"W": (1, 2), "x": (2,)})
>>> point_text(g, {"W": (1, 2), "x": (3, 4)}), point_record(g, {"W": (1, 2), "x": (3, 4)})
('with W ∈ ℝ¹ˣ², x ∈ ℝ²', [[[1.0, 2.0]], [3.0, 4.0]])
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import sympy

from gradlab.calculus.derivatives import Value
from gradlab.calculus.graph import Comps, Graph
from gradlab.calculus.parsing import _GradlabPrinter, to_text
from gradlab.calculus.shapes import nest


_SUPERSCRIPT = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


def space_text(shape: Sequence[int]) -> str:
    """The space a variable lives in, as mathematics writes it: ``ℝ³ˣ²``, ``ℝ³``, ``ℝ``.

    >>> space_text((3, 2)), space_text((3,)), space_text(())
    ('ℝ³ˣ²', 'ℝ³', 'ℝ')
    """
    return "ℝ" + "ˣ".join(str(n).translate(_SUPERSCRIPT) for n in shape)


def where_text(graph: Graph, point: Mapping[str, Comps]) -> str:
    """What the leaves are, for a title (the table's and the figure's alike): a shaped
    leaf by its space (``W ∈ ℝ³ˣ²``: a shape is not a value, and ``b=3`` would read as
    one), a scalar by its value (``y = 1/2``).

    >>> from gradlab.calculus.graph import build
    >>> g = build("sum(W@x) + y", {"W": (3, 2), "x": (2,)})
    >>> where_text(g, {"W": (0,) * 6, "x": (1, 1), "y": (sympy.Rational(1, 2),)})
    'with W ∈ ℝ³ˣ², x ∈ ℝ² at y = 1/2'
    >>> where_text(build("x*y"), {"x": (2,), "y": (5,)})
    'at x = 2, y = 5'
    """
    shaped = [f"{n} ∈ {space_text(graph.node(n).shape)}" for n in graph.leaves if graph.node(n).shape]
    scalars = [f"{n} = {to_text(point[n][0])}" for n in graph.leaves if not graph.node(n).shape]
    parts = (["with " + ", ".join(shaped)] if shaped else []) + (["at " + ", ".join(scalars)] if scalars else [])
    return " ".join(parts)


def point_text(graph: Graph, point: Mapping[str, Comps]) -> str:
    """The point for a table's title, in the words of the figure's title
    (:func:`where_text`): ``with W ∈ ℝ³ˣ², b ∈ ℝ³, x ∈ ℝ²``, ``at x = 2, y = 5``, and for
    a graph without leaves (a constant) ``with no inputs``."""
    return where_text(graph, point) or "with no inputs"


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
