"""Figures: landscapes, gradient fields, trajectories, learning-rate panels, loss curves,
sweeps, 3-D views and animations.

matplotlib is imported only here, and only when a plot is asked for; figures are built
with the object API (``Figure``, never pyplot's global state) on the Agg canvas, and
written atomically.

Arrows point along −∇f, the direction of steepest descent, scaled to a common length and
coloured by ‖∇f‖. A surface of more than two variables is drawn as the slice through its
minimum (or its start) in the first two variables, the others held fixed.
"""

from __future__ import annotations

import io
import math
import os
from typing import Any, Sequence

import matplotlib

matplotlib.use("Agg")  # no display, ever: gradlab only writes files

import numpy as np  # noqa: E402
from matplotlib.colors import LogNorm, Normalize  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from gradlab.errors import WriteFailed  # noqa: E402
from gradlab.files import atomic_write  # noqa: E402
from gradlab.numeric import Compiled, grid  # noqa: E402

GRID = 200
ARROWS = 18
MAX_FRAMES = 60
CMAP = "viridis"


# --------------------------------------------------------------------------- writing
def save(fig: Figure, path: str, dpi: int = 100) -> None:
    """Render ``fig`` to PNG in memory, then write it atomically to ``path``."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    atomic_write(path, lambda fh: fh.write(buf.getvalue()))


# --------------------------------------------------------------------------- landscapes
class Landscape:
    """f and −∇f on a grid over a window, in the plane of the first two variables.

    ``fixed`` holds the values of the other variables (n > 2).
    """

    def __init__(self, parsed, window: Sequence[float], fixed: Sequence[float] = (), size: int = GRID):
        self.parsed = parsed
        self.n = len(parsed.variables)
        self.window = tuple(float(w) for w in window)
        self.fixed = tuple(float(v) for v in fixed)
        self.f = Compiled([parsed.expr], parsed.variables)
        from gradlab.derivatives import gradient

        self.grad = Compiled(gradient(parsed.expr, parsed.variables), parsed.variables)
        self.X, self.Y = grid(self.window, size)
        with np.errstate(all="ignore"):
            self.Z = np.ma.masked_invalid(self.values(self.X, self.Y))

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
        """Grid points and the unit vectors along −∇f there, with ‖∇f‖ (NaN where undefined)."""
        xmin, xmax, ymin, ymax = self.window
        AX, AY = np.meshgrid(np.linspace(xmin, xmax, count), np.linspace(ymin, ymax, count))
        with np.errstate(all="ignore"):
            G = self.grad(self._stack(AX, AY))
        gx, gy = G[0], G[1] if self.n > 1 else np.zeros_like(G[0])
        mag = np.hypot(gx, gy)
        safe = np.where(mag > 0, mag, np.nan)
        return AX, AY, -gx / safe, -gy / safe, mag

    def norm(self) -> tuple[Normalize, np.ndarray]:
        """Colour scale and contour levels: log-spaced when f is steep (Rosenbrock)."""
        z = self.Z.compressed()
        if z.size == 0:
            return Normalize(0, 1), np.linspace(0, 1, 20)
        lo, hi = float(z.min()), float(z.max())
        mid = float(np.percentile(z, 25))
        # Steep functions (Rosenbrock's walls against its flat valley) need log levels.
        if hi - lo > 0 and (hi - lo) / max(mid - lo, 1e-300) > 20:
            shift = lo - max((mid - lo) * 1e-3, 1e-12)
            levels = np.geomspace(lo - shift, hi - shift, 30) + shift
            return _ShiftedLogNorm(shift, lo - shift, hi - shift), levels
        if hi == lo:
            hi = lo + 1
        return Normalize(lo, hi), np.linspace(lo, hi, 30)


class _ShiftedLogNorm(LogNorm):
    """A log colour scale of f − shift, for functions whose minimum is 0 or negative."""

    def __init__(self, shift: float, vmin: float, vmax: float):
        super().__init__(vmin, vmax)
        self.shift = shift

    def __call__(self, value, clip=None):
        return super().__call__(np.ma.asarray(value) - self.shift, clip)

    def inverse(self, value):
        return super().inverse(value) + self.shift


def _title(parsed, fallback: str) -> str:
    """The expression as mathtext, or plain text when it is too long or mathtext balks."""
    import sympy
    from matplotlib.mathtext import MathTextParser

    tex = sympy.latex(parsed.expr)
    if len(tex) > 110:
        return fallback
    try:
        MathTextParser("path").parse(f"${tex}$")
    except Exception:  # mathtext knows only part of LaTeX
        return fallback
    return f"$f = {tex}$"


def _draw_landscape(ax, land: Landscape, norm: Normalize, levels: np.ndarray, arrows: bool = True,
                    image: bool = False):
    """Filled contours (or, for the many small panels of a descent, a faster image), the
    contour lines, and optionally the field of −∇f."""
    if image:
        xmin, xmax, ymin, ymax = land.window
        filled = ax.imshow(land.Z, origin="lower", extent=(xmin, xmax, ymin, ymax), norm=norm, cmap=CMAP,
                           aspect="auto", interpolation="bilinear")
    else:
        filled = ax.contourf(land.X, land.Y, land.Z, levels=levels, norm=norm, cmap=CMAP, extend="both")
    ax.contour(land.X, land.Y, land.Z, levels=levels[::3], colors="white", linewidths=0.4, alpha=0.6)
    quiver = None
    if arrows:
        AX, AY, U, V, mag = land.arrows()
        with np.errstate(all="ignore"):
            colour = np.log10(np.where(mag > 0, mag, np.nan))
        quiver = ax.quiver(AX, AY, U, V, colour, cmap="magma", scale=ARROWS * 1.4, width=0.004,
                           pivot="mid", alpha=0.85)
    xmin, xmax, ymin, ymax = land.window
    ax.set_xlim(xmin, xmax)
    ax.set_ylim(ymin, ymax)
    names = [v.name for v in land.parsed.variables]
    ax.set_xlabel(names[0])
    if len(names) > 1:
        ax.set_ylabel(names[1])
    return filled, quiver


def _mark_points(ax, points: Sequence[Sequence[float]], label: str, marker: str = "*", colour: str = "white"):
    pts = [p for p in points if len(p) >= 2]
    if pts:
        P = np.array(pts, dtype=float)
        ax.scatter(P[:, 0], P[:, 1], marker=marker, s=120, c=colour, edgecolors="black", linewidths=0.8,
                   zorder=5, label=label)


def slice_values(surface) -> tuple[float, ...]:
    """The values of variables 3..n for a slice: the first known minimum's, else the start's."""
    if len(surface.parsed.variables) <= 2:
        return ()
    base = surface.minima[0].point if surface.minima else surface.start
    return tuple(float(v) for v in base[2:])


def landscape_figure(surface, window: Sequence[float] | None = None, critical: Sequence[Any] = ()) -> Figure:
    """The landscape of a surface (or an expression's :func:`inline_surface`)."""
    land = Landscape(surface.parsed, window or surface.window, slice_values(surface))
    norm, levels = land.norm()
    fig = Figure(figsize=(7.5, 6), layout="constrained")
    ax = fig.add_subplot()
    filled, quiver = _draw_landscape(ax, land, norm, levels)
    fig.colorbar(filled, ax=ax, label="f")
    _mark_points(ax, [[float(v) for v in m.point] for m in surface.minima], "known minimum")
    if critical:
        _mark_points(ax, critical, "critical point", marker="X", colour="orange")
    if surface.minima or critical:
        ax.legend(loc="upper right", fontsize=8, framealpha=0.8)
    name = surface.name or "f"
    ax.set_title(_title(surface.parsed, name), fontsize=11)
    sub = " (slice: other variables at the minimum)" if land.n > 2 else ""
    fig.suptitle(f"{name}: arrows point along −∇f, coloured by log₁₀‖∇f‖{sub}", fontsize=9)
    fig._gradlab_quiver = quiver  # tests read the vector data the plot received
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


def _panels(runs: Sequence[Any]) -> list[tuple[str, float, list[Any]]]:
    keys: dict[tuple[str, float], list[Any]] = {}
    for r in runs:
        keys.setdefault((r.optimizer, r.lr), []).append(r)
    return [(o, lr, rs) for (o, lr), rs in keys.items()]


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
            if len(p) == 2:
                w[0], w[1] = min(w[0], p[0]), max(w[1], p[0])
                w[2], w[3] = min(w[2], p[1]), max(w[3], p[1])
    return tuple(w)


def _loss(run, f_star: float) -> np.ndarray:
    return np.asarray(run.trajectory_f, dtype=float) - f_star


def _f_star(result) -> float:
    if result.f_star is not None:
        return float(result.f_star)
    lows = [float(np.nanmin(r.trajectory_f)) for r in result.runs if np.isfinite(r.trajectory_f).any()]
    return min(lows) if lows else 0.0


def draw_loss(ax, result, f_star: float) -> None:
    """f(x_k) − f* against k on a log scale, one line per run."""
    floor = None
    for i, r in enumerate(result.runs):
        loss = _loss(r, f_star)
        finite = np.isfinite(loss)
        if not finite.any():
            continue
        top = float(np.nanmax(np.abs(loss[finite])))
        floor = max(top * 1e-17, 1e-300) if floor is None else min(floor, max(top * 1e-17, 1e-300))
        label = f"{r.optimizer} lr={r.lr:g}" + (" (diverged)" if r.status == "diverged" else "")
        ax.plot(np.arange(len(loss)), np.maximum(loss, floor), lw=1.3, label=label,
                ls="--" if r.status == "diverged" else "-")
    ax.set_yscale("log")
    ax.set_xlabel("step k")
    ax.set_ylabel("f(xₖ) − f*" if result.f_star is not None else "f(xₖ) − min f seen")
    ax.set_title("loss curves", fontsize=10)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=7, loc="best")


def _descent_1d(result, with_loss: bool) -> Figure:
    """For a function of one variable: f itself, with each run's iterates on it."""
    s = result.surface
    xmin, xmax = _window_for(result)[:2]
    panels = _panels(result.runs)
    ncols = min(4, len(panels))
    nrows = math.ceil(len(panels) / ncols)
    fig = Figure(figsize=(3.4 * ncols + 4.6 * with_loss, 3.3 * nrows + 0.9), layout="constrained")
    gs = fig.add_gridspec(nrows, ncols + with_loss)
    xs = np.linspace(xmin, xmax, 400)
    with np.errstate(all="ignore"):
        fx = Compiled([s.parsed.expr], s.parsed.variables)(xs[None, :])[0]
    axes = []
    for k, (opt, lr, runs) in enumerate(panels):
        ax = fig.add_subplot(gs[k // ncols, k % ncols], sharex=axes[0] if axes else None,
                             sharey=axes[0] if axes else None)
        axes.append(ax)
        ax.plot(xs, fx, color="grey", lw=1.2)
        for r in runs:
            inside = (r.trajectory[:, 0] >= xmin) & (r.trajectory[:, 0] <= xmax)
            end = np.flatnonzero(~inside)[0] + 1 if (~inside).any() else len(inside)
            ax.plot(r.trajectory[:end, 0], r.trajectory_f[:end], "-o", ms=3, lw=0.8,
                    color="#b00020" if r.status == "diverged" else "tab:blue")
            if r.status == "diverged":
                ax.annotate(f"diverged at step {r.diverged_at}", xy=(0.03, 0.9), xycoords="axes fraction",
                            color="white", fontsize=9, bbox={"boxstyle": "round", "fc": "#b00020"})
        ax.set_xlim(xmin, xmax)
        ax.set_ylim(np.nanmin(fx), np.nanmax(fx))
        ax.set_title(f"{opt}, lr = {lr:g}\n{', '.join(sorted({r.status for r in runs}))}", fontsize=10)
        ax.set_xlabel(s.parsed.variables[0].name)
    if with_loss:
        draw_loss(fig.add_subplot(gs[:, ncols]), result, _f_star(result))
    fig.suptitle(f"{s.name or 'f'}: {_title(s.parsed, '')}", fontsize=11)
    fig._gradlab_panels = axes
    return fig


def descent_figure(result, with_loss: bool = True) -> Figure:
    """One panel per (optimizer, lr): trajectories over the landscape, shared axes and
    colours; a diverged run is drawn until it leaves the window and labelled with the
    step where ``descend`` reported it. The loss curves stand beside the panels. A
    function of one variable is drawn as its graph with the iterates on it."""
    s = result.surface
    if len(s.parsed.variables) == 1:
        return _descent_1d(result, with_loss)
    window = _window_for(result)
    land = Landscape(s.parsed, window, slice_values(s), size=150)
    norm, levels = land.norm()
    panels = _panels(result.runs)
    ncols = min(4, len(panels))
    nrows = math.ceil(len(panels) / ncols)
    extra = 1 if with_loss else 0
    # A fixed layout: constrained layout would measure every label in extra drawing passes.
    width, height = 3.4 * ncols + 5.2 * extra + 1.4, 3.3 * nrows + 0.9
    fig = Figure(figsize=(width, height))
    ratios = [1] * ncols + [0.06] + [0.42, 1.4] * extra
    gs = fig.add_gridspec(nrows, len(ratios), width_ratios=ratios, left=0.7 / width, right=1 - 0.2 / width,
                          bottom=0.55 / height, top=1 - 0.85 / height, wspace=0.12, hspace=0.35)
    first = None
    axes = []
    for k, (opt, lr, runs) in enumerate(panels):
        ax = fig.add_subplot(gs[k // ncols, k % ncols], sharex=first, sharey=first)
        first = first or ax
        axes.append(ax)
        filled, _ = _draw_landscape(ax, land, norm, levels, arrows=False, image=True)
        _mark_points(ax, [[float(v) for v in m.point] for m in s.minima], "minimum")
        for r in runs:
            path = visible_path(r.trajectory, window)
            colour = "#ff4f4f" if r.status == "diverged" else "white"
            ax.plot(path[:, 0], path[:, 1], "-o", color=colour, ms=2.2, lw=1.1, mec="black", mew=0.3)
            ax.plot(*path[0, :2], "s", color="deepskyblue", ms=7, mec="black", zorder=6)
            if r.status == "diverged":
                for k_, p in enumerate(path[1:4], 1):  # number the first swings
                    ax.annotate(str(k_), p[:2], xytext=(4, 2), textcoords="offset points", color="white",
                                fontsize=8, fontweight="bold")
                ax.annotate(f"diverged at step {r.diverged_at}", xy=(0.03, 0.04), xycoords="axes fraction",
                            color="white", fontsize=9, fontweight="bold",
                            bbox={"boxstyle": "round", "fc": "#b00020", "alpha": 0.85})
            else:
                ax.plot(*path[-1, :2], "o", color="yellow", ms=7, mec="black", zorder=6)
        status = ", ".join(sorted({r.status for r in runs}))
        ax.set_title(f"{opt}, lr = {lr:g}\n{status}", fontsize=10)
        if k % ncols:
            ax.set_ylabel("")
            ax.tick_params(labelleft=False)
        if k // ncols < nrows - 1 and k + ncols < len(panels):
            ax.set_xlabel("")
            ax.tick_params(labelbottom=False)
    fig.colorbar(filled, cax=fig.add_subplot(gs[:, ncols]), label="f")
    if with_loss:
        draw_loss(fig.add_subplot(gs[:, ncols + 2]), result, _f_star(result))
    name = s.name or "f"
    fig.suptitle(f"{name}: {_title(s.parsed, '')}   (■ start, ● end)", fontsize=11)
    fig._gradlab_panels = axes
    return fig


def loss_figure(result) -> Figure:
    fig = Figure(figsize=(6.5, 4.5), layout="constrained")
    draw_loss(fig.add_subplot(), result, _f_star(result))
    return fig


def surface3d_figure(result) -> Figure:
    """The landscape as a 3-D surface with the trajectories lifted onto it."""
    s = result.surface
    window = _window_for(result)
    land = Landscape(s.parsed, window, slice_values(s), size=80)
    norm, _ = land.norm()
    fig = Figure(figsize=(8, 6.5), layout="constrained")
    ax = fig.add_subplot(projection="3d")
    Z = np.ma.filled(land.Z.astype(float), np.nan)
    ax.plot_surface(land.X, land.Y, Z, cmap=CMAP, norm=norm, alpha=0.75, linewidth=0, antialiased=True)
    zlo, zhi = np.nanmin(Z), np.nanmax(Z)
    for r in result.runs:
        path = visible_path(r.trajectory, window)
        z = np.clip(land.at(path), zlo, zhi)
        ax.plot(path[:, 0], path[:, 1], z, "-o", ms=2, lw=1.5, label=f"{r.optimizer} lr={r.lr:g}")
    names = [v.name for v in s.parsed.variables]
    ax.set_xlabel(names[0])
    ax.set_ylabel(names[1] if len(names) > 1 else "")
    ax.set_zlabel("f")
    ax.legend(fontsize=7)
    ax.set_title(f"{s.name or 'f'}: {_title(s.parsed, '')}", fontsize=10)
    return fig


def animate(result, path: str, dpi: int = 80, frames: int = MAX_FRAMES) -> int:
    """The descent as a GIF: every run drawn step by step on one landscape, with at most
    ``frames`` frames (steps are subsampled). Returns the number of frames."""
    from matplotlib.animation import FuncAnimation, PillowWriter
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    s = result.surface
    window = _window_for(result)
    land = Landscape(s.parsed, window, slice_values(s), size=120)
    norm, levels = land.norm()
    fig = Figure(figsize=(5.5, 4.5), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    _draw_landscape(ax, land, norm, levels, arrows=False)
    paths = [visible_path(r.trajectory, window) for r in result.runs]
    longest = max(len(p) for p in paths)
    ticks = np.unique(np.linspace(0, longest - 1, min(frames, longest)).astype(int))
    lines = [ax.plot([], [], "-o", ms=2, lw=1.2, label=f"{r.optimizer} lr={r.lr:g}")[0] for r in result.runs]
    label = ax.text(0.02, 0.96, "", transform=ax.transAxes, color="white", fontsize=9, va="top")
    ax.legend(fontsize=7, loc="upper right")

    def frame(k):
        for line, p in zip(lines, paths):
            q = p[: min(k + 1, len(p))]
            line.set_data(q[:, 0], q[:, 1])
        label.set_text(f"step {k}")
        return [*lines, label]

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
    """Final loss against learning rate on log axes, the theory's bound as a vertical
    line, diverged rates marked."""
    fig = Figure(figsize=(7.5, 4.8), layout="constrained")
    ax = fig.add_subplot()
    runs = result.runs
    f_star = float(result.surface.minima[0].f) if result.surface.minima else float(np.nanmin(runs.f))
    colours = matplotlib.colormaps["tab10"]
    for k, o in enumerate(result.optimizers):
        idx = np.array([i for i, s in enumerate(runs.specs) if s.optimizer == o.optimizer])
        lrs = np.array([runs.specs[i].lr for i in idx])
        loss = np.abs(runs.f[idx] - f_star)
        diverged = runs.status[idx] == "diverged"
        finite = np.isfinite(loss) & ~diverged
        top = float(np.nanmax(loss[finite])) if finite.any() else 1.0
        floor = max(top * 1e-17, 1e-300)
        c = colours(k)
        ax.plot(lrs[~diverged], np.maximum(loss[~diverged], floor), "-o", ms=3, color=c, label=o.optimizer)
        if diverged.any():
            ax.plot(lrs[diverged], np.full(diverged.sum(), top * 10 if finite.any() else 1.0), "x", color=c,
                    ms=7, mew=2, label=f"{o.optimizer}: diverged")
        if o.theory is not None and o.theory.bound is not None:
            ax.axvline(o.theory.bound, color=c, ls="--", lw=1.2,
                       label=f"{o.optimizer} theory {o.theory.short} = {o.theory.bound:.4g}")
        if o.largest_stable_lr is not None:
            ax.axvline(o.largest_stable_lr, color=c, ls=":", lw=1.2,
                       label=f"{o.optimizer} largest stable ≈ {o.largest_stable_lr:.4g}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("learning rate")
    ax.set_ylabel("|f(final) − f*|")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=7)
    ax.set_title(f"learning-rate sweep on {result.surface.name or 'f'} ({result.steps} steps)", fontsize=10)
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
    ax.set_title(f"finite differences of {_title(parsed, 'f')} at ({at})", fontsize=10)
    return fig
