"""Figures: landscapes, gradient fields, trajectories, learning-rate panels, loss curves,
sweeps, 3-D views and animations. Each one is drawn to show one fact a learner needs:

- gradients are perpendicular to contour lines: the field is drawn on equal axes (or the
  title says the axes are not to scale);
- valleys are visible: colours and contour levels follow log₁₀(f − f*), so Rosenbrock's
  curved valley and the elongated bowl's narrow ellipses show (f* the known minimum's
  value; where none is known, the lowest value on the grid, and the label says so);
- learning rates side by side: one panel per rate in a grid of at most three columns,
  each titled with what happened, the theory's bound on the figure;
- loss curves on a log scale, a diverging run drawn until it leaves the frame.

matplotlib is imported only here, and only when a plot is asked for; figures are built
with the object API (``Figure``, never pyplot's global state) on the Agg canvas, and
written atomically. Values too large for a float, or undefined, are left blank; every
axis limit is finite, so any function draws.

Arrows point along −∇f, the direction of steepest descent, scaled to a common length and
coloured by ‖∇f‖. A surface of more than two variables is drawn as a slice in the plane of
its first two variables, the others held fixed (:func:`choose_slice`): through a known or
exactly proved minimum, else at the start, else at 1 where f is constant at the start.
"""

from __future__ import annotations

import io
import math
import os
from typing import Any, Sequence

import matplotlib

matplotlib.use("Agg")  # no display, ever: gradlab only writes files

import numpy as np  # noqa: E402
from matplotlib.colors import Normalize  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from gradlab.errors import WriteFailed  # noqa: E402
from gradlab.files import atomic_write  # noqa: E402
from gradlab.calculus.numeric import Compiled, grid  # noqa: E402

GRID = 200
ARROWS = 18
MAX_FRAMES = 60
CMAP = "viridis"
PANEL = 4.2  # inches: a learning-rate panel is big enough to read its zigzags
TOO_BIG = 1e300  # larger values are treated as off the chart
EQUAL_UP_TO = 3.0  # a window more elongated than this is drawn not to scale
ANIMATION_STYLES = ("-", "--", ":", "-.")  # a run's line style in an animation, by its place
ANIMATION_MARKERS = ("o", "s", "^", "D", "v", "P", "h")
KINDS = {  # marker, colour and size of each kind of critical point
    "minimum": ("*", "white", 220),
    "maximum": ("^", "#ff5050", 110),
    "saddle": ("X", "orange", 110),
    "inconclusive": ("D", "lightgrey", 70),
}


# --------------------------------------------------------------------------- writing
def save(fig: Figure, path: str, dpi: int = 100) -> None:
    """Render ``fig`` to PNG in memory, then write it atomically to ``path``."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    atomic_write(path, lambda fh: fh.write(buf.getvalue()))


# --------------------------------------------------------------------------- small helpers
def _finite(values) -> np.ndarray:
    """The finite values, below :data:`TOO_BIG` in size, as a flat array."""
    v = np.ma.filled(np.ma.asarray(values, dtype=float), np.nan).ravel()
    with np.errstate(invalid="ignore"):
        return v[np.isfinite(v) & (np.abs(v) < TOO_BIG)]


def _limits(values, pad: float = 0.05, fallback: tuple[float, float] = (0.0, 1.0)) -> tuple[float, float]:
    """Finite, increasing axis limits around the finite values (a fallback when none)."""
    v = _finite(values)
    if v.size == 0:
        return fallback
    lo, hi = float(v.min()), float(v.max())
    span = hi - lo if hi > lo else max(abs(hi), 1.0)
    lo, hi = lo - pad * span, hi + pad * span
    return (lo, hi) if hi > lo else (lo - 1.0, lo + 1.0)


def _decade_ticks(lo: float, hi: float) -> tuple[list[float], list[str]]:
    """Ticks for an axis of log₁₀ values: whole decades labelled 10ᵏ (at most 8)."""
    first, last = math.ceil(lo), math.floor(hi)
    if last < first:  # less than a decade: label the ends with their values
        return [lo, hi], [_short(10 ** lo), _short(10 ** hi)]
    step = max(1, math.ceil((last - first + 1) / 8))
    ks = list(range(first, last + 1, step))
    return [float(k) for k in ks], [f"$10^{{{k}}}$" for k in ks]


def _short(v: float) -> str:
    return f"{v + 0.0:.3g}"  # + 0.0: no "-0"


def known_f(surface) -> float | None:
    """The lowest value f takes at the surface's known minima (None when none is known).

    >>> from gradlab.surfaces import builtin
    >>> known_f(builtin()["rosenbrock"]), known_f(builtin()["saddle"])
    (0.0, None)
    """
    return min((float(m.f) for m in surface.minima), default=None)


def _title(parsed, name: str = "", chars: int | None = None) -> str:
    """The function once, as mathematics: ``name: f(x, y) = …`` in mathtext, or plain
    text when it is too long or mathtext balks: on two lines when longer than a title's
    width, or cut to ``chars`` characters on one line when given."""
    import sympy
    from matplotlib.mathtext import MathTextParser

    names = [v.name for v in parsed.variables]
    args = ", ".join(names) if len(names) <= 4 else f"{names[0]}, …, {names[-1]}"  # x1, …, x10 fits a title
    head = f"{name}:  " if name else ""
    tex = sympy.latex(parsed.expr)
    if len(tex) <= 110:
        text = f"$f({args}) = {tex}$"
        try:
            MathTextParser("path").parse(text)
            return head + text
        except Exception:  # mathtext knows only part of LaTeX
            pass
    line = f"{head}f({args}) = {parsed.text}"
    if chars is not None:  # one line, as wide as the caller's room
        return line if len(line) <= chars else line[:chars - 1] + "…"
    plain = parsed.text if len(parsed.text) <= TITLE_CHARS else parsed.text[:TITLE_CHARS - 1] + "…"
    # a long formula goes on a line of its own: a figure's title is about 80 characters wide
    return line if len(line) <= TITLE_CHARS else f"{head}f({args}) =\n{plain}"


TITLE_CHARS = 80  # characters of plain text that fit across a figure's title


def _equal_aspect(ax, window: Sequence[float]) -> bool:
    """Equal axes when the window is not too elongated; False when drawn not to scale."""
    xmin, xmax, ymin, ymax = window
    ratio = (ymax - ymin) / (xmax - xmin)
    if 1 / EQUAL_UP_TO <= ratio <= EQUAL_UP_TO:
        ax.set_aspect("equal", adjustable="box")
        return True
    return False


# --------------------------------------------------------------------------- landscapes
class Landscape:
    """f and −∇f on a grid over a window, in the plane of the first two variables.

    ``fixed`` holds the values of the other variables (n > 2). ``L`` is the picture's
    height: log₁₀(f − f_min + δ), so that every valley shows; blank where f is undefined
    or beyond float range. f_min is ``f_star``, the known minimum's value, when given and
    no point of the grid lies below it (``known``); else the smallest finite value on the
    grid. δ is the smallest step up from f_min on the grid.

    >>> from gradlab.calculus.parsing import parse
    >>> p = parse("x**2 + y**2")
    >>> Landscape(p, (0.5, 1, 0.5, 1), f_star=0).label, Landscape(p, (0.5, 1, 0.5, 1)).label
    ('f − f* (log scale), f* = 0 (known minimum)', 'f − grid min (log scale), grid min = 0.5')
    """

    def __init__(self, parsed, window: Sequence[float], fixed: Sequence[float] = (), size: int = GRID,
                 f_star: float | None = None):
        self.parsed = parsed
        self.n = len(parsed.variables)
        self.window = tuple(float(w) for w in window)
        self.fixed = tuple(float(v) for v in fixed)
        self.f = Compiled([parsed.expr], parsed.variables)
        from gradlab.calculus.derivatives import gradient

        self.grad = Compiled(gradient(parsed.expr, parsed.variables), parsed.variables)
        self.X, self.Y = grid(self.window, size)
        with np.errstate(all="ignore"):
            Z = np.asarray(self.values(self.X, self.Y), dtype=float)
            Z = np.where(np.abs(Z) < TOO_BIG, Z, np.nan)
        self.Z = np.ma.masked_invalid(Z)
        z = self.Z.compressed()
        lowest = float(z.min()) if z.size else 0.0
        # the known minimum's value when the grid agrees (never lower than it but for
        # rounding); else the grid's own lowest value, and the label says which it is
        slack = 1e-9 * max(1.0, abs(f_star), float(np.ptp(z)) if z.size else 0.0) if f_star is not None else 0.0
        self.known = f_star is not None and math.isfinite(f_star) and lowest >= f_star - slack
        self.fmin = float(f_star) if self.known else lowest
        with np.errstate(all="ignore"):
            d = z - self.fmin
        span = float(d.max()) if z.size else 0.0
        # δ: the smallest step up from f_min on the grid, so the log scale reaches into
        # the valley floor however many decades below the range that is
        positive = d[d > 0]
        self.delta = max(float(positive.min()), span * 1e-300) if positive.size else 1.0
        self.L = self.log(self.Z)
        lv = self.L.compressed()
        if lv.size:
            lo, hi = float(np.percentile(lv, 0.5)), float(lv.max())
        else:
            lo, hi = 0.0, 1.0
        if not hi - lo > 1e-9:
            lo, hi = lo - 0.5, hi + 0.5
        self.levels = np.linspace(lo, hi, 25)
        self.norm = Normalize(lo, hi)

    def log(self, f) -> np.ma.MaskedArray:
        """log₁₀(f − f_min + δ), masked where undefined."""
        with np.errstate(all="ignore"):
            d = np.ma.filled(np.ma.asarray(f, dtype=float), np.nan) - self.fmin
            return np.ma.masked_invalid(np.log10(np.maximum(d, 0.0) + self.delta))

    def _stack(self, X: np.ndarray, Y: np.ndarray) -> np.ndarray:
        rest = [np.full_like(X, v) for v in self.fixed]
        return np.stack([X, Y, *rest][: self.n])

    def values(self, X: np.ndarray, Y: np.ndarray) -> np.ndarray:
        with np.errstate(all="ignore"):
            return self.f(self._stack(X, Y))[0]

    def at(self, points: np.ndarray) -> np.ndarray:
        """f at points of shape (k, n)."""
        with np.errstate(all="ignore"):
            return self.f(np.asarray(points, dtype=float).T)[0]

    def arrows(self, count: int = ARROWS) -> tuple[np.ndarray, ...]:
        """Grid points and the unit vectors along −∇f there, with ‖∇f‖: NaN where f or ∇f
        is undefined (log(x·y) where x·y < 0 has the finite ∇f = (1/x, 1/y), yet no
        slope to show) or ∇f = 0."""
        xmin, xmax, ymin, ymax = self.window
        AX, AY = np.meshgrid(np.linspace(xmin, xmax, count), np.linspace(ymin, ymax, count))
        with np.errstate(all="ignore"):
            G = self.grad(self._stack(AX, AY))
            gx, gy = G[0] * np.ones_like(AX), (G[1] if self.n > 1 else np.zeros_like(AX)) * np.ones_like(AX)
            F = np.asarray(self.values(AX, AY), dtype=float) * np.ones_like(AX)
            defined = np.isfinite(F) & (np.abs(F) < TOO_BIG) & np.isfinite(gx) & np.isfinite(gy)
            mag = np.where(defined, np.hypot(gx, gy), np.nan)
            safe = np.where((mag > 0) & np.isfinite(mag), mag, np.nan)
            return AX, AY, -gx / safe, -gy / safe, mag

    @property
    def offset(self) -> str:
        """What is subtracted from f: ``f*`` (the known minimum) or ``grid min``."""
        return "f*" if self.known else "grid min"

    @property
    def label(self) -> str:
        """The colour bar's label: a minimum is claimed only when it is known."""
        if self.known:
            return f"f − f* (log scale), f* = {_short(self.fmin)} (known minimum)"
        return f"f − grid min (log scale), grid min = {_short(self.fmin)}"

    def colorbar(self, fig, mappable, **where) -> None:
        """The colour bar of f − f_min on its log scale, ticks at whole decades."""
        bar = fig.colorbar(mappable, **where)
        ticks, labels = _decade_ticks(self.levels[0], self.levels[-1])
        bar.set_ticks(ticks, labels=labels)
        bar.set_label(self.label)


def _draw_landscape(ax, land: Landscape, arrows: bool = True, image: bool = False):
    """Filled log-spaced contours (or, for the many small panels of a descent, a faster
    image), white contour lines, and optionally the field of −∇f coloured by ‖∇f‖."""
    xmin, xmax, ymin, ymax = land.window
    if image:
        filled = ax.imshow(land.L, origin="lower", extent=(xmin, xmax, ymin, ymax), norm=land.norm, cmap=CMAP,
                           aspect="auto", interpolation="bilinear")
    else:
        filled = ax.contourf(land.X, land.Y, land.L, levels=land.levels, norm=land.norm, cmap=CMAP, extend="min")
    if land.L.count() > 3:
        ax.contour(land.X, land.Y, land.L, levels=land.levels[::2], colors="white", linewidths=0.45, alpha=0.7)
    quiver = None
    if arrows:
        AX, AY, U, V, mag = land.arrows()
        # only the arrows with a direction: none where f is undefined (the blank stays blank)
        drawn = np.isfinite(U) & np.isfinite(V)
        if drawn.any():
            colour = np.log10(mag[drawn])
            cnorm = Normalize(float(colour.min()), float(colour.max()) + 1e-9)
            cell = min(xmax - xmin, ymax - ymin) / ARROWS
            quiver = ax.quiver(AX[drawn], AY[drawn], U[drawn], V[drawn], colour, cmap="plasma", norm=cnorm,
                               angles="xy", scale_units="xy", scale=1 / (0.8 * cell), width=0.0045, pivot="mid",
                               edgecolor="black", linewidth=0.3)
            # the darkest arrows (small ‖∇f‖) sit in the dark valleys: a white rim keeps them readable
            quiver.set_edgecolor(np.where(cnorm(colour) < 0.35, "white", "black").tolist())
            quiver.set_linewidth(np.where(cnorm(colour) < 0.35, 0.6, 0.3).tolist())
    ax.set_xlim(xmin, xmax)
    ax.set_ylim(ymin, ymax)
    names = [v.name for v in land.parsed.variables]
    ax.set_xlabel(names[0])
    if len(names) > 1:
        ax.set_ylabel(names[1])
    return filled, quiver


def slice_values(surface) -> tuple[float, ...]:
    """The values of variables 3..n for a slice: the first known minimum's, else the start's."""
    if len(surface.parsed.variables) <= 2:
        return ()
    base = surface.minima[0].point if surface.minima else surface.start
    return tuple(float(v) for v in base[2:])


def _varies(parsed, window: Sequence[float], fixed: Sequence[float], size: int = 25) -> bool:
    """Whether f takes more than one finite value on a coarse grid of the slice."""
    f = Compiled([parsed.expr], parsed.variables)
    X, Y = grid(window, size)
    with np.errstate(all="ignore"):
        Z = np.asarray(f(np.stack([X, Y, *(np.full_like(X, v) for v in fixed)])), dtype=float)[0] * np.ones_like(X)
    z = _finite(Z)
    return z.size > 1 and float(np.ptp(z)) > 1e-12 * max(1.0, float(np.max(np.abs(z))))


def _proved_minimum(parsed, window: Sequence[float]) -> tuple[float, ...] | None:
    """A minimum found exactly (``sympy.solve`` on ∇f = 0) and classified by the Hessian's
    exact inertia, so the slice through it is known to pass through a minimum; None when
    there is none (numeric finds are not proof)."""
    from gradlab.calculus.critical import critical_points

    found = critical_points(parsed, window, timeout=SLICE_SOLVE_SECONDS)
    for p in found.points:
        # an isolated minimum only: every coordinate a number (a set of minima has free ones)
        if p.classification == "minimum" and "exact" in p.method.split(", ") and None not in p.value:
            return tuple(float(v) for v in p.value)
    return None


SLICE_SOLVE_SECONDS = 2.0  # the exact search for a minimum to slice through (expressions of n > 2 variables)


def _assignments(names: Sequence[str], values: Sequence[float]) -> str:
    """``z = 1, w = 2``; many equal values as ``x3 … x10 = 0``."""
    if len(values) > 3 and len(set(values)) == 1:
        return f"{names[0]} … {names[-1]} = {_short(values[0])}"
    text = ", ".join(f"{n} = {_short(v)}" for n, v in zip(names, values))
    return text if len(text) <= 70 else text[:69] + "…"


def choose_slice(surface, window: Sequence[float] | None = None) \
        -> tuple[tuple[float, ...], str, tuple[float, ...] | None]:
    """For a function of n > 2 variables, the values of variables 3..n for the landscape's
    slice, a caption that says truthfully where it is, and the minimum it passes through
    when that was found here: through the catalogue's known minimum; else through a
    minimum proved exactly; else at the start, or at 1 for every fixed variable when f is
    constant on the start's slice (x·y·z at z = 0).

    >>> from gradlab.calculus.parsing import parse
    >>> from gradlab.descent.descend import inline_surface
    >>> choose_slice(inline_surface(parse("x*y*z"), [0, 0, 0]))
    ((1.0,), 'slice z = 1 (no minimum known to slice through)', None)
    """
    names = [v.name for v in surface.parsed.variables]
    if len(names) <= 2:
        return (), "", None
    window = tuple(window or surface.window)
    if surface.minima:
        values = slice_values(surface)
        return values, f"slice {_assignments(names[2:], values)}, through the known minimum", None
    proved = _proved_minimum(surface.parsed, window)
    if proved is not None:
        at = ", ".join(_short(v) for v in proved)
        return proved[2:], f"slice {_assignments(names[2:], proved[2:])}, through a minimum found exactly at ({at})", \
            proved
    start = tuple(float(v) for v in surface.start[2:])
    for values in (start, (1.0,) * len(start)):
        if _varies(surface.parsed, window, values):
            return values, f"slice {_assignments(names[2:], values)} (no minimum known to slice through)", None
    return start, f"slice {_assignments(names[2:], start)} (f is constant on it)", None


def classify_points(parsed, points: Sequence[Sequence[float]]) -> list[tuple[tuple[float, ...], str]]:
    """Each critical point with its kind from the Hessian's eigenvalues (the second-
    derivative test), for the markers of a landscape."""
    from gradlab.calculus.derivatives import classify, hessian
    from gradlab.calculus.numeric import eigenvalues

    if not points:
        return []
    n = len(parsed.variables)
    H = Compiled([e for row in hessian(parsed.expr, parsed.variables) for e in row], parsed.variables)
    out = []
    for p in points:
        with np.errstate(all="ignore"):
            Hp = H(np.asarray(p, dtype=float)).reshape(n, n)
        kind = classify(eigenvalues(Hp), None, 1e-8) if np.isfinite(Hp).all() else "inconclusive"
        out.append((tuple(float(v) for v in p), kind))
    return out


def _mark_kinds(ax, marks: Sequence[tuple[Sequence[float], str]]) -> None:
    """One marker per kind of point (minimum, maximum, saddle), labelled for a legend."""
    for kind, (marker, colour, size) in KINDS.items():
        pts = np.array([p[:2] for p, k in marks if k == kind and len(p) >= 2], dtype=float)
        if len(pts):
            ax.scatter(pts[:, 0], pts[:, 1], marker=marker, s=size, c=colour, edgecolors="black", linewidths=0.8,
                       zorder=6, label=f"{kind} ({len(pts)})", clip_on=True)


def landscape_figure(surface, window: Sequence[float] | None = None, critical: Sequence[Any] = ()) -> Figure:
    """The landscape of a surface (or an expression's :func:`inline_surface`): log-spaced
    contours of f with a colour bar, the field of −∇f coloured by ‖∇f‖ with its own
    colour bar, and the known minima and ``critical`` points, one marker per kind."""
    fixed, where, proved = choose_slice(surface, window)
    land = Landscape(surface.parsed, window or surface.window, fixed, f_star=known_f(surface))
    xmin, xmax, ymin, ymax = land.window
    ratio = min(max((ymax - ymin) / (xmax - xmin), 1 / EQUAL_UP_TO), EQUAL_UP_TO)
    fig = Figure(figsize=(8.4, min(max(1.9 + 5.4 * ratio, 4.8), 9.0)), layout="constrained")
    ax = fig.add_subplot()
    filled, quiver = _draw_landscape(ax, land)
    scaled = _equal_aspect(ax, land.window)
    land.colorbar(fig, filled, ax=ax, pad=0.02)
    if quiver is not None and _finite(quiver.get_array()).size:
        ticks, labels = _decade_ticks(quiver.norm.vmin, quiver.norm.vmax)
        bar = fig.colorbar(quiver, ax=ax, pad=0.01)
        bar.set_ticks(ticks, labels=labels)
        bar.set_label("‖∇f‖ of the arrows (log scale)")
    # a point is marked only where it lies in the plane drawn (its other coordinates on the slice)
    known = [([float(v) for v in m.point], "minimum") for m in surface.minima
             if all(math.isclose(float(a), b, rel_tol=1e-9, abs_tol=1e-12) for a, b in zip(m.point[2:], fixed))]
    found = [(p, k) for p, k in (classify_points(surface.parsed, critical) if critical else [])
             if all(math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12) for a, b in zip(p[2:], fixed))
             and all(math.dist(p[:2], q[:2]) > 1e-6 * max(1.0, *map(abs, land.window)) for q, _ in known)]
    marks = known + found + ([(list(proved), "minimum")] if proved else [])
    _mark_kinds(ax, marks)
    if marks:
        fig.legend(loc="outside lower center", ncols=len({k for _, k in marks}), fontsize=9, frameon=False)
    fig.suptitle(_title(surface.parsed, surface.name), fontsize=13)
    sub = ("arrows point along −∇f, at right angles to the contour lines"
           if scaled else "axes NOT to scale: the right angles between arrows and contours look skewed")
    if where:
        sub += f"\n{where}"
    ax.set_title(sub, fontsize=9.5)
    fig._gradlab_quiver = quiver  # tests read the vector data the plot received
    fig._gradlab_marks = marks
    fig._gradlab_land = land  # and the slice drawn (land.fixed, land.Z)
    return fig


# --------------------------------------------------------------------------- descent
def _inside(points: np.ndarray, window: Sequence[float], margin: float = 0.0) -> np.ndarray:
    xmin, xmax, ymin, ymax = window
    dx, dy = (xmax - xmin) * margin, (ymax - ymin) * margin
    with np.errstate(invalid="ignore"):
        return ((points[:, 0] >= xmin - dx) & (points[:, 0] <= xmax + dx)
                & (points[:, 1] >= ymin - dy) & (points[:, 1] <= ymax + dy) & np.isfinite(points).all(axis=1))


def visible_path(points: np.ndarray, window: Sequence[float]) -> np.ndarray:
    """The trajectory up to the first point outside the window, that point included."""
    if points.shape[1] < 2:
        return points
    outside = np.flatnonzero(~_inside(points[:, :2], window, margin=0.5))
    end = outside[0] + 1 if outside.size else len(points)
    return points[:end]


def exit_point(path: np.ndarray, window: Sequence[float]) -> tuple[np.ndarray, int] | None:
    """Where the path first crosses the window's edge, and the step it was heading to
    (None if it stays inside)."""
    inside = _inside(path[:, :2], window)
    out = np.flatnonzero(~inside)
    if not out.size or out[0] == 0:
        return None
    k = int(out[0])
    a, b = path[k - 1, :2], path[k, :2]
    xmin, xmax, ymin, ymax = window
    t = 1.0
    with np.errstate(all="ignore"):
        d = b - a
        for lo, hi, i in ((xmin, xmax, 0), (ymin, ymax, 1)):
            if not np.isfinite(d[i]) or d[i] == 0:
                continue
            for edge in (lo, hi):
                s = (edge - a[i]) / d[i]
                if 0 <= s < t:
                    t = s
    if not np.isfinite(t) or not np.all(np.isfinite(d)):
        return a, k
    return a + t * d, k


def framed_path(points: np.ndarray, window: Sequence[float]) -> tuple[np.ndarray, np.ndarray | None]:
    """The iterates while they stay in the window, and the point where the path then
    crosses the window's edge (None if it never leaves)."""
    crossing = exit_point(points, window)
    if crossing is None:
        inside = _inside(points[:, :2], window)
        if len(points) and not inside[0]:  # a start outside the window: show the start alone
            return points[:1], None
        return points, None
    point, k = crossing
    return points[:k], point


def _panels(runs: Sequence[Any]) -> list[tuple[str, float, list[Any]]]:
    keys: dict[tuple[str, float], list[Any]] = {}
    for r in runs:
        keys.setdefault((r.optimizer, r.lr), []).append(r)
    return [(o, lr, rs) for (o, lr), rs in keys.items()]


def _grid_shape(n: int) -> tuple[int, int]:
    """Rows and columns for n panels: at most three columns, four as 2×2."""
    ncols = 1 if n == 1 else 2 if n in (2, 4) else 3
    return math.ceil(n / ncols), ncols


def _outcome(runs: Sequence[Any]) -> str:
    """What happened in a panel: "converged in 787 steps", "diverged at step 12"."""
    def one(r):
        if r.status == "converged":
            return f"converged in {r.steps} step{'s' if r.steps != 1 else ''}"
        if r.status == "diverged":
            return f"diverged at step {r.diverged_at}"
        return f"still moving after {r.steps} step{'s' if r.steps != 1 else ''}"

    if len(runs) == 1:
        return one(runs[0])
    counts: dict[str, int] = {}
    for r in runs:
        counts[r.status] = counts.get(r.status, 0) + 1
    return f"{len(runs)} starts: " + ", ".join(f"{v} {k}" for k, v in counts.items())


def _window_for(result) -> tuple[float, ...]:
    """The surface's window, grown to hold every start and the first zigzags of a
    diverging run (up to four times the window), so that a learner sees it swing out."""
    s = result.surface
    w = list(s.window)
    cx, cy, hx, hy = (w[0] + w[1]) / 2, (w[2] + w[3]) / 2, (w[1] - w[0]) * 2, (w[3] - w[2]) * 2
    for r in result.runs:
        pts = [[float(v) for v in r.start[:2]]]
        if r.status == "diverged" and r.trajectory is not None and r.trajectory.shape[1] >= 2:
            pts += [p[:2].tolist() for p in r.trajectory[1:4]
                    if np.all(np.isfinite(p[:2])) and abs(p[0] - cx) <= hx and abs(p[1] - cy) <= hy]
        for p in pts:
            if len(p) == 2 and all(math.isfinite(v) and abs(v) < TOO_BIG for v in p):
                w[0], w[1] = min(w[0], p[0]), max(w[1], p[0])
                w[2], w[3] = min(w[2], p[1]), max(w[3], p[1])
    if len(s.parsed.variables) == 1:  # a start far out: keep the window about it
        xs = [float(r.start[0]) for r in result.runs if math.isfinite(r.start[0])]
        w[0], w[1] = min([w[0], *xs]), max([w[1], *xs])
    return tuple(w)


def _bound_lines(result) -> list[str]:
    """The theory's stability bound per optimizer, as the table's notes say it."""
    seen: dict[str, None] = {}
    for r, b in zip(result.runs, getattr(result, "bounds", ()) or ()):
        if b is not None and b.bound is not None:
            value = f"{b.bound:.4g}"
            formula = b.short.replace("λmax", "λ_max") if b.short else ""
            rule = value if formula in ("", value) else f"{formula} = {value}"
            seen[f"{r.optimizer} is stable for lr < {rule}"] = None
    return list(seen)[:3]


def _loss(run, f_star: float) -> np.ndarray:
    with np.errstate(all="ignore"):
        return np.asarray(run.trajectory_f, dtype=float) - f_star


def _f_star(result) -> float:
    if result.f_star is not None:
        return float(result.f_star)
    lows = [float(np.min(v)) for r in result.runs if (v := _finite(r.trajectory_f)).size]
    return min(lows) if lows else 0.0


def draw_loss(ax, result, f_star: float) -> None:
    """f(x_k) − f* against k on a log scale, one line per run. The y-range is set by the
    runs that stay finite; a diverging run is drawn until it leaves the frame and marked
    there with the step where ``descend`` reported it."""
    losses = [_loss(r, f_star) for r in result.runs]
    settled = [v for r, v in zip(result.runs, losses) if r.status != "diverged"]
    pool = np.concatenate([_finite(v) for v in settled]) if settled else np.array([])
    if not pool.size:  # every run diverged: the first steps set the scale
        pool = np.concatenate([_finite(v[:4]) for v in losses] or [np.array([])])
    positive = pool[pool > 0]
    top = float(positive.max()) if positive.size else 1.0
    floor = max(float(positive.min()) if positive.size else top * 1e-16, top * 1e-17, 1e-300)
    hi = min(top * 30, TOO_BIG)
    lo = floor / 3
    colours = matplotlib.colormaps["tab10"]
    shown = 0
    for i, (r, loss) in enumerate(zip(result.runs, losses)):
        c = colours(i % 10)
        label = f"{r.optimizer}, lr = {r.lr:g}"
        with np.errstate(invalid="ignore"):
            y = np.where(np.isfinite(loss), np.clip(loss, lo, None), np.inf)
        if r.status == "diverged":
            above = np.flatnonzero(~(y <= hi))
            end = int(above[0]) if above.size else len(y)
            k = np.arange(len(y))
            ax.plot(k[:end], y[:end], lw=1.4, color=c, ls="--", label=label + " (diverged)")
            if end < len(y):  # the step at which the curve leaves the frame
                ax.plot([end - 1, end], [y[end - 1] if end else hi, hi], lw=1.4, color=c, ls="--")
                ax.plot(end, hi, "X", ms=10, color=c, mec="black", clip_on=False, zorder=5)
                ax.annotate(f"lr = {r.lr:g} leaves the frame at step {end} (diverged at step {r.diverged_at})",
                            (end, hi), xytext=(0.04, 0.95 - 0.06 * shown), textcoords="axes fraction",
                            fontsize=8, color=c, va="top", arrowprops={"arrowstyle": "-", "color": c, "lw": 0.6})
                shown += 1
        else:
            ax.plot(np.arange(len(y)), y, lw=1.4, color=c, label=f"{label}: {_outcome([r])}")
            ax.plot(len(y) - 1, y[-1], "o", ms=5, color=c, mec="black", mew=0.5)
    lengths = [len(v) for r, v in zip(result.runs, losses) if len(v) and r.status != "diverged"]
    if lengths and max(lengths) > 50 * max(min(lengths), 1):
        # runs of 6 and 20,000 steps: a log step axis past k = 10 shows both
        ax.set_xscale("symlog", linthresh=10, linscale=0.5)
        ax.set_xlabel("step k (log scale past 10)")
    else:
        ax.set_xlabel("step k")
    ax.set_yscale("log")
    ax.set_ylim(lo, hi)
    ax.set_xlim(left=0)
    ax.set_ylabel("f(xₖ) − f*" if result.f_star is not None else "f(xₖ) − lowest f seen")
    ax.set_title("loss curves (log scale)", fontsize=10)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=7, loc="lower left")


def _panel_size(window: Sequence[float] | None) -> tuple[float, float, bool]:
    """Width and height of a panel in inches, at least PANEL each, shaped like the window
    so equal axes waste no room; False when the window is too elongated to draw to scale."""
    if window is None:
        return PANEL, PANEL, False
    xmin, xmax, ymin, ymax = window
    a = (ymax - ymin) / (xmax - xmin)
    if 1 / 1.6 <= a <= 1.6:
        return PANEL * max(1.0, 1 / a), PANEL * max(1.0, a), True
    return PANEL, PANEL, False


def _layout(n: int, with_loss: bool, window: Sequence[float] | None = None, colour_bar: bool = False):
    """A figure and the cells of its grid: n panels of at least PANEL inches in at most
    three columns, no empty cell (the loss curves fill the last row's gap, or stand
    beside the panels)."""
    nrows, ncols = _grid_shape(n)
    pw, ph, to_scale = _panel_size(window)
    empty = nrows * ncols - n
    beside = with_loss and empty == 0
    widths = [pw] * ncols + ([0.25] if colour_bar else []) + ([1.1, PANEL * 1.2] if beside else [])
    # inches between panels: titles need room, and loss curves in the grid their tick labels
    gap_w, gap_h = (1.0 if with_loss and empty else 0.35), 0.75
    right = 1.1 if colour_bar and not beside else 0.45  # a colour bar's ticks and label
    width = sum(widths) + gap_w * (len(widths) - 1) + 0.75 + right
    height = ph * nrows + gap_h * (nrows - 1) + 1.9
    fig = Figure(figsize=(width, height))
    mean_w = sum(widths) / len(widths)
    gs = fig.add_gridspec(nrows, len(widths), width_ratios=widths, left=0.75 / width, right=1 - right / width,
                          bottom=0.6 / height, top=1 - 1.3 / height, wspace=gap_w / mean_w, hspace=gap_h / ph)
    cells = [gs[k // ncols, k % ncols] for k in range(n)]
    loss_cell = None
    if with_loss:
        loss_cell = gs[nrows - 1, ncols - empty:ncols] if empty else gs[:, len(widths) - 1]
    elif empty:  # centre the short last row on a grid of half cells
        sub = gs[nrows - 1, :ncols].subgridspec(1, 2 * ncols, wspace=gap_w / (pw / 2))
        last = n - (n % ncols)
        for j, k in enumerate(range(last, n)):
            cells[k] = sub[0, empty + 2 * j: empty + 2 * j + 2]
    bar_cell = gs[:, ncols] if colour_bar else None
    return fig, cells, loss_cell, bar_cell, (nrows, ncols), to_scale


def _descent_1d(result, with_loss: bool) -> Figure:
    """For a function of one variable: f itself, with each run's iterates on it."""
    s = result.surface
    xmin, xmax = _window_for(result)[:2]
    panels = _panels(result.runs)
    fig, cells, loss_cell, _, (nrows, ncols), _ = _layout(len(panels), with_loss)
    xs = np.linspace(xmin, xmax, 400)
    with np.errstate(all="ignore"):
        fx = np.asarray(Compiled([s.parsed.expr], s.parsed.variables)(xs[None, :])[0], dtype=float) * np.ones_like(xs)
    fx = np.where(np.abs(fx) < TOO_BIG, fx, np.nan)
    ylo, yhi = _limits(fx)
    axes = []
    for k, (opt, lr, runs) in enumerate(panels):
        ax = fig.add_subplot(cells[k], sharex=axes[0] if axes else None, sharey=axes[0] if axes else None)
        axes.append(ax)
        ax.plot(xs, fx, color="grey", lw=1.2)
        for r in runs:
            x, y = r.trajectory[:, 0], np.asarray(r.trajectory_f, dtype=float)
            with np.errstate(invalid="ignore"):
                inside = (x >= xmin) & (x <= xmax) & (y >= ylo) & (y <= yhi)
            end = int(np.flatnonzero(~inside)[0]) + 1 if (~inside).any() else len(x)
            colour = "#b00020" if r.status == "diverged" else "tab:blue"
            ax.plot(x[:end], np.clip(y[:end], ylo, yhi), "-o", ms=3, lw=0.8, color=colour)
            ax.plot(x[0], np.clip(y[0], ylo, yhi), "s", color="deepskyblue", ms=7, mec="black", zorder=6)
            if r.status == "diverged":
                ax.annotate(f"diverged at step {r.diverged_at}", xy=(0.03, 0.9), xycoords="axes fraction",
                            color="white", fontsize=9, bbox={"boxstyle": "round", "fc": "#b00020"})
            else:
                ax.plot(x[end - 1], np.clip(y[end - 1], ylo, yhi), "o", color="yellow", ms=7, mec="black", zorder=6)
        ax.set_xlim(xmin, xmax)
        ax.set_ylim(ylo, yhi)
        name = f"{opt}, " if len({o for o, _, _ in panels}) > 1 else ""
        ax.set_title(f"{name}lr = {lr:g}: {_outcome(runs)}", fontsize=10)
        ax.set_xlabel(s.parsed.variables[0].name)
    if loss_cell is not None:
        draw_loss(fig.add_subplot(loss_cell), result, _f_star(result))
    _suptitle(fig, result)
    fig._gradlab_panels = axes
    return fig


def _suptitle(fig: Figure, result) -> None:
    s = result.surface
    lines = _bound_lines(result)
    if lines:
        sub = "theory: " + "; ".join(lines)
        if any("λ_max" in line for line in lines):
            sub += "  (λ_max: the Hessian's largest eigenvalue at the minimum)"
    else:
        sub = ", ".join(sorted({r.optimizer for r in result.runs}))
    h = fig.get_figheight()
    # one line: the heading's three lines sit at fixed heights (14 pt: about 0.6 × 14 pt a character)
    fig.suptitle(_title(s.parsed, s.name, chars=int(fig.get_figwidth() * 72 / (0.6 * 14))), fontsize=14,
                 y=1 - 0.32 / h)
    fig.text(0.5, 1 - 0.72 / h, sub, ha="center", va="center", fontsize=10.5)
    key = "■ start    ● end    ✕ where a run leaves the frame"
    names = [v.name for v in s.parsed.variables]
    if len(names) > 2:  # the picture is a plane through n dimensions: say which, and that paths are shadows
        where = "through the known minimum" if s.minima else "through the start"
        key += (f"    landscape: slice {_assignments(names[2:], slice_values(s))} {where}; "
                f"paths: their ({names[0]}, {names[1]}) coordinates")
    fig.text(0.5, 1 - 1.0 / h, key, ha="center", va="center", fontsize=9, color="dimgrey")


def descent_figure(result, with_loss: bool = True) -> Figure:
    """One panel per (optimizer, lr) in a grid of at most three columns: trajectories over
    the log-scaled landscape, shared axes and colours, each panel titled with its lr and
    what happened; a diverged run is drawn until it leaves the frame and marked there with
    the step where ``descend`` reported it. The theory's bound is in the heading; the loss
    curves fill the grid's last gap or stand beside it. A function of one variable is drawn
    as its graph with the iterates on it."""
    s = result.surface
    if len(s.parsed.variables) == 1:
        return _descent_1d(result, with_loss)
    window = _window_for(result)
    land = Landscape(s.parsed, window, slice_values(s), size=150, f_star=known_f(s))
    panels = _panels(result.runs)
    fig, cells, loss_cell, bar_cell, (nrows, ncols), to_scale = _layout(len(panels), with_loss, window, True)
    several = len({o for o, _, _ in panels}) > 1
    first = None
    axes = []
    for k, (opt, lr, runs) in enumerate(panels):
        ax = fig.add_subplot(cells[k], sharex=first, sharey=first)
        first = first or ax
        axes.append(ax)
        filled, _ = _draw_landscape(ax, land, arrows=False, image=True)
        if to_scale:
            ax.set_aspect("equal", adjustable="box")
        _mark_kinds(ax, [([float(v) for v in m.point], "minimum") for m in s.minima])
        for r in runs:
            path, crossing = framed_path(r.trajectory, window)
            colour = "#ff4f4f" if r.status == "diverged" else "white"
            ax.plot(path[:, 0], path[:, 1], "-o", color=colour, ms=2.4, lw=1.2, mec="black", mew=0.3)
            if crossing is not None:  # the last segment, to where it leaves the frame
                ax.plot([path[-1, 0], crossing[0]], [path[-1, 1], crossing[1]], "-", color=colour, lw=1.2)
                ax.plot(*crossing, "X", color="#ff4f4f", ms=13, mec="black", zorder=8, clip_on=False)
            ax.plot(*path[0, :2], "s", color="deepskyblue", ms=8, mec="black", zorder=7)
            if r.status == "diverged":
                for k_, p in enumerate(path[1:4], 1):  # number the first swings
                    ax.annotate(str(k_), p[:2], xytext=(4, 2), textcoords="offset points", color="white",
                                fontsize=9, fontweight="bold")
                ax.annotate(f"diverged at step {r.diverged_at}", xy=(0.03, 0.04), xycoords="axes fraction",
                            color="white", fontsize=9, fontweight="bold",
                            bbox={"boxstyle": "round", "fc": "#b00020", "alpha": 0.85})
            elif crossing is None:
                ax.plot(*path[-1, :2], "o", color="yellow", ms=8, mec="black", zorder=7)
        ax.set_title(f"{opt + ', ' if several else ''}lr = {lr:g}: {_outcome(runs)}", fontsize=10.5)
        if k % ncols:
            ax.set_ylabel("")
            ax.tick_params(labelleft=False)
        if k + ncols < len(panels):
            ax.set_xlabel("")
            ax.tick_params(labelbottom=False)
    land.colorbar(fig, filled, cax=fig.add_subplot(bar_cell))
    if loss_cell is not None:
        draw_loss(fig.add_subplot(loss_cell), result, _f_star(result))
    _suptitle(fig, result)
    if not to_scale:
        fig.text(0.5, 0.012, "axes not to scale: the window is too elongated", ha="center", fontsize=8)
    fig._gradlab_panels = axes
    return fig


def loss_figure(result) -> Figure:
    fig = Figure(figsize=(7, 4.8), layout="constrained")
    draw_loss(fig.add_subplot(), result, _f_star(result))
    fig.suptitle(_title(result.surface.parsed, result.surface.name), fontsize=11)
    return fig


def surface3d_figure(result) -> Figure:
    """The landscape as a 3-D surface (height log₁₀(f − f*) when f is steep) with the
    trajectories drawn over it, each start (■) and end (●) marked."""
    s = result.surface
    window = _window_for(result)
    land = Landscape(s.parsed, window, slice_values(s), size=80, f_star=known_f(s))
    z = land.Z.compressed()
    steep = bool(z.size) and float(np.ptp(z)) > 20 * max(float(np.percentile(z, 25) - z.min()), 1e-300)
    floor = float(np.percentile(land.L.compressed(), 5)) if land.L.count() else 0.0

    def height(f):
        if steep:  # log₁₀(f − f*), the valley floor flattened at the lowest colour level
            return np.ma.maximum(land.log(f), floor)
        return np.ma.masked_invalid(np.asarray(f, dtype=float))

    fig = Figure(figsize=(8.5, 7), layout="constrained")
    ax = fig.add_subplot(projection="3d", computed_zorder=False)
    Z = np.ma.filled(height(land.Z).astype(float), np.nan)
    zlo, zhi = _limits(Z, pad=0.0)
    ax.plot_surface(land.X, land.Y, Z, cmap=CMAP, vmin=zlo, vmax=zhi, alpha=0.7, linewidth=0, antialiased=True,
                    zorder=1)
    lift = 0.01 * (zhi - zlo)  # just above the surface, so the path reads on top of it
    colours = matplotlib.colormaps["tab10"]
    for i, r in enumerate(result.runs):
        path = visible_path(r.trajectory, window)
        with np.errstate(all="ignore"):
            zp = np.clip(np.ma.filled(height(land.at(path)), zhi), zlo, zhi) + lift
        c = colours(i % 10)
        # as in the animation: earlier runs wider and beneath, so a path run over still shows
        width = 1.2 + 2.4 * (len(result.runs) - 1 - i) / max(len(result.runs) - 1, 1)
        ax.plot(path[:, 0], path[:, 1], zp, ls=ANIMATION_STYLES[i % len(ANIMATION_STYLES)], marker="o", ms=2,
                lw=width, color=c, zorder=10 + i, label=f"{r.optimizer}, lr = {r.lr:g}: {_outcome([r])}")
        ax.plot([path[0, 0]], [path[0, 1]], [zp[0]], "s", ms=8, color=c, mec="black", zorder=40)
        ax.plot([path[-1, 0]], [path[-1, 1]], [zp[-1]], "o", ms=8, color=c, mec="black", zorder=40)
    inside = [[float(v) for v in m.point] for m in s.minima
              if window[0] <= float(m.point[0]) <= window[1] and window[2] <= float(m.point[1]) <= window[3]]
    if inside:  # the known minima, on the floor of the picture, as the flat plots mark them
        pts = np.array(inside, dtype=float)
        with np.errstate(all="ignore"):
            zm = np.clip(np.ma.filled(height(land.at(pts)), zlo), zlo, zhi) + lift
        ax.scatter(pts[:, 0], pts[:, 1], zm, marker="*", s=220, c="white", edgecolors="black", linewidths=0.8,
                   zorder=35, depthshade=False, label=f"known minimum ({len(pts)})")  # under the ends: a run that reached it shows
    names = [v.name for v in s.parsed.variables]
    ax.set_xlabel(names[0])
    ax.set_ylabel(names[1] if len(names) > 1 else "")
    ax.set_zlabel(f"log₁₀(f − {land.offset})" if steep else "f")
    ax.set_zlim(zlo, zhi + 2 * lift)
    ax.legend(fontsize=7, loc="upper left")
    ax.set_title(_title(s.parsed, s.name) + "\n■ start   ● end", fontsize=11)
    return fig


def animation_figure(result, frames: int = MAX_FRAMES):
    """The figure of :func:`animate`, a function that draws step k on it, and the steps
    shown (at most ``frames``, subsampled): every run on one landscape.

    Paths that share a stretch stay apart: each run has its own colour, line style and
    marker, the earlier runs drawn wider and beneath the later ones, and a large marker at
    each run's current point (hollow, so that several at one point all show); the start (■)
    and the known minima (★) are marked as on the static plots, and the legend stands below
    the landscape, off the paths."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    s = result.surface
    window = _window_for(result)
    land = Landscape(s.parsed, window, slice_values(s), size=120, f_star=known_f(s))
    runs = list(result.runs)
    fig = Figure(figsize=(6.0, 5.2 + 0.16 * math.ceil(len(runs) / 2)), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    _draw_landscape(ax, land, arrows=False, image=True)  # an image redraws fast, frame after frame
    _equal_aspect(ax, window)
    paths = [visible_path(r.trajectory, window) for r in runs]
    longest = max(len(p) for p in paths)
    ticks = np.unique(np.linspace(0, longest - 1, min(frames, longest)).astype(int))
    colours = matplotlib.colormaps["tab10"]
    lines, heads = [], []
    for i, r in enumerate(runs):
        c, marker = colours(i % 10), ANIMATION_MARKERS[i % len(ANIMATION_MARKERS)]
        # the first run widest and lowest: where a later path runs over it, it still shows either side
        width = 1.2 + 2.4 * (len(runs) - 1 - i) / max(len(runs) - 1, 1)
        lines.append(ax.plot([], [], ls=ANIMATION_STYLES[i % len(ANIMATION_STYLES)], marker=marker, ms=3, lw=width,
                             color=c, zorder=3 + i, label=f"{r.optimizer}, lr = {r.lr:g}: {_outcome([r])}")[0])
        # hollow: heads of several runs at one point (the minimum) stack as nested rings
        heads.append(ax.plot([], [], ls="none", marker=marker, ms=11, mfc="none", mec=c, mew=2.2, zorder=20 + i)[0])
    starts = np.unique(np.array([p[0, :2] for p in paths], dtype=float), axis=0)
    ax.plot(starts[:, 0], starts[:, 1], "s", ls="none", color="deepskyblue", ms=8, mec="black", zorder=19,
            label="start")
    _mark_kinds(ax, [([float(v) for v in m.point], "minimum") for m in s.minima])
    label = ax.text(0.02, 0.96, "", transform=ax.transAxes, color="white", fontsize=9, va="top", zorder=30)
    fig.legend(loc="outside lower center", ncols=2, fontsize=8, frameon=False)
    ax.set_title(_title(s.parsed, s.name), fontsize=10)

    def frame(k):
        for line, head, p in zip(lines, heads, paths):
            q = p[: min(k + 1, len(p))]
            line.set_data(q[:, 0], q[:, 1])
            head.set_data(q[-1:, 0], q[-1:, 1])
        label.set_text(f"step {k}")
        return [*lines, *heads, label]

    fig._gradlab_runs = {"lines": lines, "heads": heads}  # for the tests
    return fig, frame, ticks


def animate(result, path: str, dpi: int = 80, frames: int = MAX_FRAMES) -> int:
    """The descent as a GIF (see :func:`animation_figure`), written atomically. Returns the
    number of frames."""
    from matplotlib.animation import FuncAnimation, PillowWriter

    fig, frame, ticks = animation_figure(result, frames)
    fig.canvas.draw()
    fig.set_layout_engine("none")  # laid out once: redoing it for every frame costs 2/3 of the time
    anim = FuncAnimation(fig, frame, frames=list(ticks), blit=False)
    folder = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(folder, f".gradlab-{os.getpid()}.gif")
    try:
        anim.save(tmp, writer=PillowWriter(fps=10), dpi=dpi)
        with open(tmp, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        raise WriteFailed(f"cannot write {path}: {exc.strerror or exc}") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    atomic_write(path, lambda fh: fh.write(data))
    return len(ticks)


# --------------------------------------------------------------------------- sweeps
def sweep_figure(result) -> Figure:
    """Final loss against learning rate on log axes: diverged rates in one band above the
    data, the theory's bound as a vertical line, the legend outside the data."""
    fig = Figure(figsize=(9, 5), layout="constrained")
    ax = fig.add_subplot()
    runs = result.runs
    known = known_f(result.surface)
    # without a known minimum, the lowest f any run reached stands in, and the axis says so
    f_star = known if known is not None else float(np.min(_finite(runs.f))) if _finite(runs.f).size else 0.0
    what = "f*" if known is not None else "lowest f reached"
    colours = matplotlib.colormaps["tab10"]
    with np.errstate(all="ignore"):
        loss_all = np.abs(np.asarray(runs.f, dtype=float) - f_star)
    settled = (runs.status != "diverged") & np.isfinite(loss_all) & (loss_all < TOO_BIG)
    pool = loss_all[settled]
    top = float(pool.max()) if pool.size else 1.0
    floor = max(float(pool[pool > 0].min()) if (pool > 0).any() else top * 1e-16, top * 1e-17, 1e-300)
    band_lo, band_hi = top * 10, top * 300
    band_y = math.sqrt(band_lo * band_hi)
    any_diverged = False
    for k, o in enumerate(result.optimizers):
        idx = np.array([i for i, s in enumerate(runs.specs) if s.optimizer == o.optimizer])
        lrs = np.array([runs.specs[i].lr for i in idx])
        loss = loss_all[idx]
        diverged = ~settled[idx]
        c = colours(k)
        ax.plot(lrs[~diverged], np.clip(loss[~diverged], floor, None), "-o", ms=3, color=c, label=o.optimizer)
        if diverged.any():
            any_diverged = True
            ax.plot(lrs[diverged], np.full(diverged.sum(), band_y * (1.6 ** (k - 0.5 * (len(result.optimizers) - 1)))),
                    "x", color=c, ms=7, mew=2, label=f"{o.optimizer}: diverged")
        if o.theory is not None and o.theory.bound is not None:
            ax.axvline(o.theory.bound, color=c, ls="--", lw=1.4,
                       label=f"{o.optimizer}: theory's bound {o.theory.short or 'lr'} = {o.theory.bound:.4g}")
        if o.largest_stable_lr is not None:
            ax.axvline(o.largest_stable_lr, color=c, ls=":", lw=1.2,
                       label=f"{o.optimizer}: largest stable lr found ≈ {o.largest_stable_lr:.4g}")
    if any_diverged:
        ax.axhspan(band_lo, band_hi, color="#b00020", alpha=0.12, lw=0)
        ax.text(0.005, band_y, " diverged", transform=ax.get_yaxis_transform(), va="center", fontsize=9,
                color="#b00020")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_ylim(floor / 3, band_hi if any_diverged else top * 10)
    ax.set_xlabel("learning rate")
    ax.set_ylabel(f"|f − {what}| after {result.steps} step{'s' if result.steps != 1 else ''}")
    ax.grid(True, which="major", alpha=0.3)
    fig.legend(loc="outside right upper", fontsize=8)
    ax.set_title(f"learning-rate sweep:  {_title(result.surface.parsed, result.surface.name)}", fontsize=11)
    return fig


# --------------------------------------------------------------------------- gradient checks
def check_figure(parsed, point, hs: np.ndarray, forward: np.ndarray, central: np.ndarray) -> Figure:
    """Relative error of forward and central differences against h, log-log, with the
    O(h) and O(h²) slopes and the round-off floor ε/h."""
    fig = Figure(figsize=(7, 4.8), layout="constrained")
    ax = fig.add_subplot()
    floor = 1e-18
    ax.loglog(hs, np.maximum(forward, floor), "o-", ms=3, label="forward difference")
    ax.loglog(hs, np.maximum(central, floor), "s-", ms=3, label="central difference")
    eps = np.finfo(float).eps
    mid = len(hs) // 4
    ax.loglog(hs, forward[mid] * hs / hs[mid], ":", color="grey", label="slope 1: O(h)")
    ax.loglog(hs, central[mid] * (hs / hs[mid]) ** 2, "--", color="grey", label="slope 2: O(h²)")
    ax.loglog(hs, eps / hs, "-.", color="firebrick", label="round-off ≈ ε/h")
    ax.set_ylim(max(floor, min(np.min(central[central > 0], initial=1), 1e-16) / 10), 10)
    ax.set_xlabel("step h")
    ax.set_ylabel("relative error of the gradient")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8)
    at = ", ".join(str(p) for p in point)
    ax.set_title(f"finite differences of {_title(parsed)} at ({at})", fontsize=10)
    return fig
