"""The computational graph drawn with matplotlib alone (no graphviz program): layered left
to right, each node a box with its name, definition, value and adjoint (or tangent), each
edge labelled with its local derivative; an edge that skips columns bends round the boxes
between, so that it never seems to enter a node it passes.

matplotlib is imported only here, lazily (when a plot is asked for); the figure is built
with the object API and written by :func:`gradlab.render.plots.save`.

>>> from gradlab.calculus.graph import build
>>> layers(build("x*x + x"))
{'x': 0, 't1': 1, 'f': 2}
"""

from __future__ import annotations

from typing import Any

from gradlab.calculus.graph import Graph, steps_text
from gradlab.calculus.nodemath import VJP
from gradlab.calculus.shapes import shape_text

LEAF, INNER, OUTPUT = "#dbeafe", "#f3f4f6", "#fde68a"


def layers(graph: Graph) -> dict[str, int]:
    """Each node's column: one more than its deepest input; a leaf sits just left of its
    first consumer, so that ``y`` in ``(a - y)**2`` is drawn next to the subtraction."""
    col: dict[str, int] = {}
    for n in graph.nodes:
        col[n.name] = 1 + max((col[u] for u in n.inputs), default=-1)
    for n in graph.nodes:
        if n.is_leaf:
            used = [col[c.name] for c, _ in graph.consumers(n.name)]
            col[n.name] = max(0, min(used) - 1) if used else 0
    return col


def _order(graph: Graph, col: dict[str, int]) -> dict[str, float]:
    """Vertical positions: within a column, nodes sorted by the mean height of their
    inputs (then consumers), which keeps most edges from crossing."""
    y: dict[str, float] = {}
    width = max(col.values()) + 1
    columns = [[n.name for n in graph.nodes if col[n.name] == c] for c in range(width)]
    for names in columns:  # first pass: order of appearance
        for i, name in enumerate(names):
            y[name] = -(i - (len(names) - 1) / 2)
    for _ in range(2):
        for names in columns:
            def key(name: str) -> float:
                node = graph.node(name)
                near = [y[u] for u in node.inputs] or [y[c.name] for c, _ in graph.consumers(name)]
                return -(sum(near) / len(near)) if near else 0.0
            names.sort(key=key)
            for i, name in enumerate(names):
                y[name] = -(i - (len(names) - 1) / 2)
    return y


BOX_W, BOX_H = 0.56, 0.74  # a node's box, in column widths and row heights
_MARGIN = 0.06  # the room an edge keeps from a box it passes
_BENDS = tuple(b * s for b in (0.6, 0.9, 1.2, 1.6, 2.0, 2.6, 3.2, 4.0) for s in (1, -1))  # offsets tried, least first


def _bezier(p0: tuple[float, float], c: tuple[float, float], p1: tuple[float, float], t: float) -> tuple[float, float]:
    u = 1 - t
    return (u * u * p0[0] + 2 * u * t * c[0] + t * t * p1[0], u * u * p0[1] + 2 * u * t * c[1] + t * t * p1[1])


def _clear(p0, c, p1, boxes: list[tuple[float, float]]) -> bool:
    """Whether the curve p0 → p1 (control point c) keeps out of every box (centres given)."""
    for k in range(1, 60):
        x, y = _bezier(p0, c, p1, k / 60)
        for bx, by in boxes:
            if abs(x - bx) < BOX_W / 2 + _MARGIN and abs(y - by) < BOX_H / 2 + _MARGIN:
                return False
    return True


def route(start: tuple[float, float], end: tuple[float, float], boxes: list[tuple[float, float]]) -> tuple[float, float]:
    """The control point of an edge drawn as a quadratic curve from ``start`` to ``end``:
    the straight line when it passes no box of the columns it skips, else the least bend,
    over or under, that goes round them (so t3 → f is not drawn through t6 and read as
    t3 → t6). The control point sits at the middle column, so x runs evenly along the curve.

    >>> route((0.28, 0.0), (1.72, 0.0), [])
    (1.0, 0.0)
    >>> route((0.28, 0.0), (1.72, 0.0), [(1.0, 0.0)]), route((0.28, 0.0), (1.72, 0.0), [(1.0, 0.0), (1.0, 1.0)])
    ((1.0, 1.2), (1.0, -1.2))
    """
    mid = ((start[0] + end[0]) / 2, (start[1] + end[1]) / 2)
    if _clear(start, mid, end, boxes):
        return mid
    for bend in _BENDS:
        c = (mid[0], mid[1] + bend)
        if _clear(start, c, end, boxes):
            return c
    return mid  # boxed in on every side: straight, as before


def positions(graph: Graph) -> dict[str, tuple[float, float]]:
    """Each node's centre: x its column, y its place in the column (rows one unit apart)."""
    col = layers(graph)
    y = _order(graph, col)
    return {n.name: (float(col[n.name]), y[n.name]) for n in graph.nodes}


def edge_curve(graph: Graph, pos: dict[str, tuple[float, float]], source: str, target: str):
    """The edge source → target as (start, control point, end): from the right side of the
    source's box to the left side of the target's, round the boxes of the columns between."""
    (x0, y0), (x1, y1) = pos[source], pos[target]
    start, end = (x0 + BOX_W / 2, y0), (x1 - BOX_W / 2, y1)
    skipped = [p for p in pos.values() if x0 < p[0] < x1]
    return start, route(start, end, skipped), end


def _num(values, digits: int = 4) -> str:
    if values is None:
        return "—"
    if len(values) == 1:
        return f"{values[0].value:.{digits}g}"
    shown = ", ".join(f"{v.value:.3g}" for v in values[:3])
    return f"[{shown}{', …' if len(values) > 3 else ''}]"


def _clip(text: str, most: int = 22) -> str:
    return text if len(text) <= most else text[: most - 1] + "…"


def graph_figure(result: Any):
    """A Figure of a :class:`~gradlab.calculus.graphresults.BackpropResult`'s graph."""
    from matplotlib.figure import Figure
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch
    from matplotlib.path import Path

    graph = result.graph
    pos = positions(graph)
    columns = [x for x, _ in pos.values()]
    ncols = int(max(columns)) + 1
    tall = max(columns.count(float(k)) for k in range(ncols))
    fig = Figure(figsize=(max(6.0, 2.3 * ncols), max(3.0, 1.25 * tall + 1.0)))
    ax = fig.add_axes([0.01, 0.01, 0.98, 0.9])
    ax.set_xlim(-0.7, ncols - 0.3)
    ax.axis("off")
    forward = result.mode == "forward"
    out = graph.output
    fig.suptitle(f"{steps_text(graph.text)[:110]}\n"
                 f"{'forward mode: value and tangent' if forward else f'forward: value; backward: adjoint ∂{out}/∂node'}"
                 "; edges: local derivative", fontsize=10)
    bw, bh = BOX_W, BOX_H
    low, high = -tall / 2 - 0.2, tall / 2 + 0.2
    for e in result.edges:
        start, c, end = edge_curve(graph, pos, e.source, e.target)
        style = {"arrowstyle": "-|>", "mutation_scale": 10, "color": "#6b7280", "lw": 0.9, "zorder": 1}
        if c == ((start[0] + end[0]) / 2, (start[1] + end[1]) / 2):
            ax.add_patch(FancyArrowPatch(start, end, shrinkA=0, shrinkB=0, **style))
        else:
            ax.add_patch(FancyArrowPatch(path=Path([start, c, end], [Path.MOVETO, Path.CURVE3, Path.CURVE3]), **style))
            ys = [_bezier(start, c, end, k / 20)[1] for k in range(21)]
            low, high = min(low, min(ys) - 0.2), max(high, max(ys) + 0.2)  # room for the bend
        local = e.local.replace(" (elementwise)", "").replace(VJP, "")
        text = _clip(local, 16)
        if e.local_value is not None and local != f"{e.local_value.exact}":
            text += f" = {e.local_value.value:.3g}"
        # the label in the gap just after the source: on a long edge, the middle may be a box
        lx, ly = _bezier(start, c, end, (1 - bw) / 2 / (end[0] - start[0]))
        ax.text(lx, ly, text, fontsize=6.5, ha="center", va="center", color="#1f2937", zorder=3,
                bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.85})
    ax.set_ylim(low, high)
    for r in result.nodes:
        n = r.node
        x0, y0 = pos[n.name]
        colour = OUTPUT if n.name == out else LEAF if n.is_leaf else INNER
        ax.add_patch(FancyBboxPatch((x0 - bw / 2, y0 - bh / 2), bw, bh, boxstyle="round,pad=0.02,rounding_size=0.06",
                                    fc=colour, ec="#374151", lw=0.9, zorder=2))
        head = n.name if n.is_leaf else f"{n.name} = {_clip(n.label, 18)}"
        if n.shape:
            head += f"  ({shape_text(n.shape)})"
        second = r.tangent if forward else r.adjoint
        lines = [head, f"value {_num(r.value)}", f"{'tangent' if forward else 'grad'} {_num(second)}"]
        ax.text(x0, y0 + 0.18, lines[0], fontsize=8, ha="center", va="center", weight="bold", zorder=4)
        ax.text(x0, y0 - 0.05, lines[1], fontsize=7.5, ha="center", va="center", zorder=4)
        ax.text(x0, y0 - 0.24, lines[2], fontsize=7.5, ha="center", va="center", color="#b91c1c", zorder=4)
    return fig
