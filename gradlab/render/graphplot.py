"""The computational graph drawn with matplotlib alone (no graphviz program): layered left
to right, each node a box with its name, definition, value and adjoint (or tangent), each
edge labelled with its local derivative; an edge that skips columns bends round the boxes
between, so that it never seems to enter a node it passes. The text is measured before
anything is placed: boxes are as wide as their longest line, the gaps between columns as
wide as the longest label, and each label sits on its edge in a gap, clear of every box
and every other label.

matplotlib is imported only here, lazily (when a plot is asked for); the figure is built
with the object API and written by :func:`gradlab.render.plots.save`.

>>> from gradlab.calculus.graph import build
>>> layers(build("x*x + x"))
{'x': 0, 't1': 1, 'f': 2}
"""

from __future__ import annotations

import functools
from typing import Any

from gradlab.calculus.graph import Graph, steps_text
from gradlab.calculus.graphtext import where_text  # the leaves in words, as the table's title says them
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


def _clear(p0, c, p1, boxes: list[tuple[float, float]], box: tuple[float, float] = (BOX_W, BOX_H)) -> bool:
    """Whether the curve p0 → p1 (control point c) keeps out of every box (centres given,
    ``box`` its width and height)."""
    half_w, half_h = box[0] / 2 + _MARGIN, box[1] / 2 + _MARGIN
    for k in range(1, 60):
        x, y = _bezier(p0, c, p1, k / 60)
        for bx, by in boxes:
            if abs(x - bx) < half_w and abs(y - by) < half_h:
                return False
    return True


def route(start: tuple[float, float], end: tuple[float, float], boxes: list[tuple[float, float]],
          box: tuple[float, float] = (BOX_W, BOX_H)) -> tuple[float, float]:
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
    if _clear(start, mid, end, boxes, box):
        return mid
    for bend in _BENDS:
        c = (mid[0], mid[1] + bend)
        if _clear(start, c, end, boxes, box):
            return c
    return mid  # boxed in on every side: straight, as before


def positions(graph: Graph) -> dict[str, tuple[float, float]]:
    """Each node's centre: x its column, y its place in the column (rows one unit apart)."""
    col = layers(graph)
    y = _order(graph, col)
    return {n.name: (float(col[n.name]), y[n.name]) for n in graph.nodes}


def edge_curve(graph: Graph, pos: dict[str, tuple[float, float]], source: str, target: str,
               box: tuple[float, float] = (BOX_W, BOX_H)):
    """The edge source → target as (start, control point, end): from the right side of the
    source's box to the left side of the target's, round the boxes of the columns between."""
    (x0, y0), (x1, y1) = pos[source], pos[target]
    start, end = (x0 + box[0] / 2, y0), (x1 - box[0] / 2, y1)
    skipped = [p for p in pos.values() if x0 < p[0] < x1]
    return start, route(start, end, skipped, box), end


def _num(values, digits: int = 4) -> str:
    if values is None:
        return "—"
    if len(values) == 1:
        return f"{values[0].value:.{digits}g}"
    shown = ", ".join(f"{v.value:.3g}" for v in values[:3])
    return f"[{shown}{', …' if len(values) > 3 else ''}]"


def _clip(text: str, most: int = 22) -> str:
    return text if len(text) <= most else text[: most - 1] + "…"


# Sizes in inches and points: the layout is measured, so that boxes hold their text and
# every edge label fits in the gap between two columns, clear of the boxes and of the other
# labels (a label that finds no room widens the gaps and the rows, and the layout is redone).
HEAD_PT, LINE_PT, LABEL_PT = 8.0, 7.5, 7.0
BOX_MIN_IN, BOX_H_IN = 1.3, 0.8  # a box at least this wide, and this tall (three lines)
GAP_MIN_IN, ROW_IN = 0.9, 1.15  # the least gap between columns; the height of a row
PAD_IN = 0.06  # the white room kept round a label
TITLE_IN = 0.75
LABEL_CHARS = 30  # a local derivative longer than this is cut (JSON and the table have it whole)


def _text_inches(text: str, points: float, bold: bool = False) -> tuple[float, float]:
    """The width and height of one line of text, in inches, as Agg draws it."""
    from matplotlib.font_manager import FontProperties

    w, h, _ = _renderer().get_text_width_height_descent(
        text, FontProperties(size=points, weight="bold" if bold else "normal"), ismath=False)
    return w / MEASURE_DPI, h / MEASURE_DPI


@functools.lru_cache(maxsize=1)
def _renderer():
    """One small Agg renderer for every measurement."""
    from matplotlib.backends.backend_agg import RendererAgg

    return RendererAgg(10, 10, MEASURE_DPI)


# Measured at a resolution fine enough that the font's hinting does not shrink the text
# (at 72 dpi a line of digits measures 8% narrower than it draws at 100 dpi).
MEASURE_DPI = 200


def _fit(text: str, points: float, inches: float) -> str:
    """``text`` cut (and marked …) to the longest start that is at most ``inches`` wide."""
    if _text_inches(text, points)[0] <= inches:
        return text
    lo, hi = 1, len(text)  # the longest cut that fits lies in [lo, hi)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if _text_inches(text[:mid] + "…", points)[0] <= inches else (lo, mid)
    return text[:lo] + "…"


def _node_lines(r, forward: bool) -> tuple[str, str, str]:
    n = r.node
    head = n.name if n.is_leaf else f"{n.name} = {_clip(n.label, 18)}"
    if n.shape:
        head += f"  ({shape_text(n.shape)})"
    second = r.tangent if forward else r.adjoint
    return head, f"value {_num(r.value)}", f"{'tangent' if forward else 'grad'} {_num(second)}"


def title_text(result, inches: float, points: float = 10) -> str:
    """``backprop of <program> with W ∈ ℝ³ˣ², b ∈ ℝ³ at y = 1``, at most ``inches`` wide:
    a long program is cut (…) before the leaves are, since they say what the boxes hold."""
    head = "forward mode on " if result.mode == "forward" else "backprop of "
    steps, where = steps_text(result.graph.text), where_text(result.graph, result.point)
    tail = f" {where}" if where else ""
    room = inches - _text_inches(head + tail, points)[0]
    if room < 0.25 * inches:  # many leaves: the title as a whole is cut
        return _fit(head + steps + tail, points, inches)
    return head + _fit(steps, points, room) + tail


def _edge_text(e) -> str:
    local = e.local.replace(" (elementwise)", "").replace(VJP, "")
    text = _clip(local, LABEL_CHARS)
    if e.local_value is not None and local != f"{e.local_value.exact}":
        text += f" = {e.local_value.value:.3g}"
    return text


def _overlaps(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    """Whether two boxes (x0, x1, y0, y1) overlap."""
    return a[0] < b[1] and b[0] < a[1] and a[2] < b[3] and b[2] < a[3]


def _place_labels(curves, sizes, nodes, box, gap) -> list[tuple[float, float]] | None:
    """A centre for each edge label (data units) on its edge, inside a gap between columns,
    clear of every box and every label placed before it; None when one finds no room.
    Candidates, best first: the middle of the first gap the edge crosses, then further along
    that gap and the later ones, then just above or below the edge."""
    bw, bh = box
    taken = [(x - bw / 2, x + bw / 2, y - bh / 2, y + bh / 2) for x, y in nodes]
    placed: list[tuple[float, float] | None] = [None] * len(curves)
    # the widest labels first: they have the fewest places to go
    for i in sorted(range(len(curves)), key=lambda i: -sizes[i][0]):
        (start, c, end), (lw, lh) = curves[i], sizes[i]
        room = gap - lw  # free width left in a gap beside the label
        spots = []
        first = round(start[0] - bw / 2)  # the source's column
        for col in range(first, round(end[0] + bw / 2)):
            lo, hi = col + bw / 2 + lw / 2, col + 1 - bw / 2 - lw / 2  # label centres inside this gap
            if hi < lo:
                continue
            for f in (0.5, 0.25, 0.75, 0.0, 1.0):
                spots.append(lo + f * (hi - lo))
        found = None
        for shift in (0.0, 0.6, -0.6, 1.2, -1.2):
            for x in spots:
                t = (x - start[0]) / (end[0] - start[0])
                y = _bezier(start, c, end, min(max(t, 0.0), 1.0))[1] + shift * lh
                rect = (x - lw / 2, x + lw / 2, y - lh / 2, y + lh / 2)
                if not any(_overlaps(rect, o) for o in taken):
                    found = (x, y)
                    break
            if found:
                break
        if found is None or room < 0:
            return None
        placed[i] = found
        x, y = found
        taken.append((x - lw / 2, x + lw / 2, y - lh / 2, y + lh / 2))
    return placed  # type: ignore[return-value]


def graph_figure(result: Any):
    """A Figure of a :class:`~gradlab.calculus.graphresults.BackpropResult`'s graph: boxes
    wide enough for their text, gaps wide enough for the longest edge label, each label on
    its edge, clear of every box and every other label."""
    from matplotlib.figure import Figure
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch
    from matplotlib.path import Path

    graph = result.graph
    pos = positions(graph)
    columns = [x for x, _ in pos.values()]
    ncols = int(max(columns)) + 1
    forward = result.mode == "forward"
    out = graph.output
    lines = {r.node.name: _node_lines(r, forward) for r in result.nodes}
    box_in = max([BOX_MIN_IN] + [max(_text_inches(a, HEAD_PT, True)[0], _text_inches(b, LINE_PT)[0],
                                     _text_inches(c, LINE_PT)[0]) + 0.2 for a, b, c in lines.values()])
    texts = [_edge_text(e) for e in result.edges]
    label_in = [_text_inches(t, LABEL_PT) for t in texts]
    widest = max([w for w, _ in label_in], default=0.0)
    gap_in, row_in = max(GAP_MIN_IN, widest + 2 * PAD_IN + 0.3), ROW_IN
    for _ in range(6):  # room for every label, widening the gaps and the rows as needed
        col_in = box_in + gap_in
        box = (box_in / col_in, BOX_H_IN / row_in)
        curves = [edge_curve(graph, pos, e.source, e.target, box) for e in result.edges]
        sizes = [((w + 2 * PAD_IN) / col_in, (h + 2 * PAD_IN) / row_in) for w, h in label_in]
        spots = _place_labels(curves, sizes, list(pos.values()), box, gap_in / col_in)
        if spots is not None:
            break
        gap_in, row_in = gap_in * 1.25, row_in * 1.2
    else:  # still crowded after six widenings: each label in the middle of its first gap
        spots = [_bezier(a, c, b, 0.5 * (1 - box[0]) / (b[0] - a[0])) for a, c, b in curves]
    bw, bh = box
    ys = [y for _, y in pos.values()]
    low, high = min(ys) - bh / 2 - 0.25, max(ys) + bh / 2 + 0.25
    for start, c, end in curves:  # room for the bends
        for k in range(21):
            y = _bezier(start, c, end, k / 20)[1]
            low, high = min(low, y - 0.1), max(high, y + 0.1)
    for (x, y), (_, lh) in zip(spots, sizes):
        low, high = min(low, y - lh), max(high, y + lh)
    xmin, xmax = -bw / 2 - 0.25 / col_in, ncols - 1 + bw / 2 + 0.25 / col_in
    width, height = (xmax - xmin) * col_in, (high - low) * row_in
    fig_w = max(width, 6.0)
    title = title_text(result, fig_w - 0.3)
    fig = Figure(figsize=(fig_w, height + TITLE_IN))
    axes_w = width / max(width, 6.0)  # data units keep their size in inches: the text was measured so
    ax = fig.add_axes([(1 - axes_w) / 2, 0, axes_w, height / (height + TITLE_IN)])
    ax.set_xlim(xmin, xmax)
    ax.set_ylim(low, high)
    ax.axis("off")
    mode = "forward mode: value and tangent" if forward else f"forward: value; backward: adjoint ∂{out}/∂node"
    fig.suptitle(f"{title}\n{mode}; edges: local derivative", fontsize=10, y=1 - 0.08 / (height + TITLE_IN),
                 va="top")
    labels = []
    for (start, c, end), text, (x, y) in zip(curves, texts, spots):
        style = {"arrowstyle": "-|>", "mutation_scale": 10, "color": "#6b7280", "lw": 0.9, "zorder": 1}
        if c == ((start[0] + end[0]) / 2, (start[1] + end[1]) / 2):
            ax.add_patch(FancyArrowPatch(start, end, shrinkA=0, shrinkB=0, **style))
        else:
            ax.add_patch(FancyArrowPatch(path=Path([start, c, end], [Path.MOVETO, Path.CURVE3, Path.CURVE3]), **style))
        labels.append(ax.text(x, y, text, fontsize=LABEL_PT, ha="center", va="center", color="#1f2937", zorder=3,
                              bbox={"boxstyle": f"round,pad={PAD_IN * 72 / LABEL_PT:.2f}", "fc": "white",
                                    "ec": "none", "alpha": 0.9}))
    boxes, inside = [], []
    for r in result.nodes:
        n = r.node
        x0, y0 = pos[n.name]
        colour = OUTPUT if n.name == out else LEAF if n.is_leaf else INNER
        boxes.append(ax.add_patch(FancyBboxPatch((x0 - bw / 2, y0 - bh / 2), bw, bh,
                                                 boxstyle="round,pad=0,rounding_size=0.05", fc=colour,
                                                 ec="#374151", lw=0.9, zorder=2)))
        head, value, second = lines[n.name]
        step = 0.25 * BOX_H_IN / row_in  # the three lines a quarter of the box apart
        inside.append(ax.text(x0, y0 + step, head, fontsize=HEAD_PT, ha="center", va="center", weight="bold",
                              zorder=4))
        inside.append(ax.text(x0, y0, value, fontsize=LINE_PT, ha="center", va="center", zorder=4))
        inside.append(ax.text(x0, y0 - step, second, fontsize=LINE_PT, ha="center", va="center", color="#b91c1c",
                              zorder=4))
    fig._gradlab_layout = {"boxes": boxes, "labels": labels, "node_text": inside}  # for the geometry tests
    return fig
