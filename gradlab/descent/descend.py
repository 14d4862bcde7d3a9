"""``gradlab descend`` as a library call: a surface, optimizers × learning rates × starts.

>>> from gradlab.surfaces import builtin
>>> res = run_descent(builtin()["elongated"], ["gd"], [0.01, 0.03, 0.06, 0.08])
>>> [r.status for r in res.runs]
['converged', 'converged', 'diverged', 'diverged']
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Sequence

import sympy

from gradlab.errors import BadInput, LimitExceeded
from gradlab.descent.optimizers import NAMES
from gradlab.calculus.parsing import Parsed
from gradlab.descent.runs import Objective, Run, RunSpec, descend
from gradlab.surfaces import Surface
from gradlab.descent.theory import OptimizerTheory
from gradlab.views import View, plural
from gradlab.present import Presentable  # to_dict, LaTeX and rich for notebooks

DEFAULT_LR = 0.01
DEFAULT_STEPS = 1000
DEFAULT_TOL = 1e-6
MAX_STEPS = 1_000_000
MAX_RUNS = 100_000
MAX_WORK = 200_000_000  # runs × steps: about half a minute of numpy at the most
#: Numbers kept when every iterate is asked for (--trajectory, plots): runs × (steps + 1)
#: × (n + 1), 8 bytes each in memory and about 20 characters each in a file.
MAX_TRAJECTORY = 10_000_000
#: What a figure or an animation draws at most (DescentResult.for_plot).
MAX_PANELS = 12
MAX_PLOT_RUNS = 200


_PLAIN = re.compile(r"[+-]?(?:\d{1,40}(?:\.\d{0,40})?|\.\d{1,40})(?:[eE][+-]?\d{1,3})?")


def plain_numbers(text: str, count: int | None = None) -> list[float] | None:
    """Comma-separated plain decimal numbers (``0.01,2e-3,-4``) as floats, fast; ``None``
    when any part is something else (``pi/4``, ``x=1``, ``1/100``), has another count
    than ``count``, or is out of range: the caller then uses the safe parser, which
    reads it or says exactly what is wrong. A decimal read exactly and then rounded is
    the float ``float()`` gives, so both paths agree.

    >>> plain_numbers("0.01, 2e-3,-4"), plain_numbers("pi/4"), plain_numbers("1,2", count=3)
    ([0.01, 0.002, -4.0], None, None)
    """
    parts = text.split(",")
    if count is not None and len(parts) != count:
        return None
    out = []
    for p in parts:
        p = p.strip()
        if not _PLAIN.fullmatch(p):
            return None
        mantissa, _, exponent = p.lower().partition("e")
        if exponent and abs(int(exponent)) > 300:
            return None  # the parser's limit on exponents decides, and says so
        v = float(p)
        if not abs(v) <= 1e300:
            return None
        out.append(v)
    return out


def exact_text(v: Any) -> str:
    """A start coordinate exactly, in gradlab's syntax: a SymPy number as it reads back
    in, a float as the decimal it prints as (0.1 is ``1/10``: what was typed).

    >>> exact_text(0.1), exact_text(-4.0), exact_text(sympy.pi / 4)
    ('1/10', '-4', 'pi/4')
    """
    from gradlab.calculus.parsing import to_text

    if isinstance(v, sympy.Basic):
        return to_text(v)
    return to_text(sympy.Rational(repr(float(v))))


def inline_surface(parsed: Parsed, start: Sequence[sympy.Expr]) -> Surface:
    """A surface for an expression typed on the command line: no known minima, a window
    around the start."""
    if len(start) != len(parsed.variables):
        raise BadInput(f"the start has {plural(len(start), 'coordinate')}; the function has "
                       f"{plural(len(parsed.variables), 'variable')}", "--start")
    r = max([5.0, *(2 * abs(float(v)) for v in start)])
    s = [float(v) for v in start] + [0.0, 0.0]
    window = (s[0] - r, s[0] + r, s[1] - r, s[1] + r)
    return Surface(name="", description="", text=parsed.text, parsed=parsed, start=tuple(start),
                   window=window, minima=(), where="expression")


def objective_for(surface: Surface, starts: Sequence[Sequence[float]] = ()) -> Objective:
    """The compiled objective, with the known minima and an escape radius that suits the
    surface's size."""
    minima = [[float(v) for v in m.point] for m in surface.minima]
    f_star = min((float(m.f) for m in surface.minima), default=None)
    scale = max([1.0, *(abs(w) for w in surface.window), *(abs(v) for s in starts for v in s),
                 *(abs(v) for m in minima for v in m)])
    return Objective(surface.parsed, minima, f_star, scale)


def check_options(optimizers: Sequence[str], lrs: Sequence[float], starts: Sequence[Sequence[float]],
                  steps: int, tol: float, runs: int | None = None, trajectory: bool = False,
                  n: int = 2) -> None:
    """Refuse bad options before any work (exit 2).

    ``runs``: how many runs the batch makes (default: every optimizer × every lr × every
    start); ``trajectory``: every iterate is kept, ``n`` coordinates each.
    """
    for name in optimizers:
        if name not in NAMES:
            raise BadInput(f"unknown optimizer {name!r} (choose from {', '.join(NAMES)})", "--optimizer")
    if len(set(optimizers)) != len(optimizers):
        raise BadInput("an optimizer is listed twice", "--optimizer")
    for lr in lrs:
        if not (math.isfinite(lr) and lr > 0):
            raise BadInput(f"learning rate {lr!r} must be a positive number", "--lr")
    if not 1 <= steps <= MAX_STEPS:
        raise LimitExceeded(f"--steps must be from 1 to {MAX_STEPS}", "--steps")
    if not (math.isfinite(tol) and tol >= 0):
        raise BadInput("the tolerance must be a number ≥ 0 (0: run every step)", "--tol")
    if runs is None:
        runs = len(optimizers) * len(lrs) * len(starts)
    if runs > MAX_RUNS:
        raise LimitExceeded(f"{runs} runs; the limit is {MAX_RUNS}", "--lr/--start")
    if runs * steps > MAX_WORK:
        raise LimitExceeded(f"{runs} runs × {steps} steps is more than {MAX_WORK:.0e} steps in all", "--steps")
    kept = runs * (steps + 1) * (n + 1)
    if trajectory and kept > MAX_TRAJECTORY:
        raise LimitExceeded(f"keeping every iterate of {runs} run{'s' if runs != 1 else ''} × {steps} steps "
                            f"({n} coordinates and f each) is more than {MAX_TRAJECTORY:.0e} numbers; "
                            "use fewer --steps or runs", "--trajectory/--plot/--animate")


@dataclass(frozen=True)
class DescentResult(Presentable):
    """Every run of one ``descend`` call, with the surface and the settings used.

    ``bounds[i]`` is the stability bound theory gives run i's optimizer at the known
    minimum nearest where the run ended (``None`` without known minima, or for an
    adaptive optimizer). ``starts_exact`` maps each start (floats) to its coordinates
    exactly (gradlab syntax), for the runs' ``start_exact``.
    """

    surface: Surface
    runs: Sequence[Run]
    steps: int
    tol: float
    f_star: float | None = None
    bounds: tuple[OptimizerTheory | None, ...] = ()
    starts_exact: dict = field(default_factory=dict, kw_only=True)

    def to_record(self) -> dict[str, Any]:
        return {
            "command": "descend",
            "surface": self.surface.name or None,
            "expression": self.surface.text,
            "variables": [v.name for v in self.surface.parsed.variables],
            "max_steps": self.steps,
            "tol": self.tol,
            "f_star": self.f_star,
            "runs": self._records(),
        }

    def for_plot(self, max_panels: int = MAX_PANELS, max_runs: int = MAX_PLOT_RUNS) -> tuple["DescentResult", str | None]:
        """The result with at most ``max_panels`` (optimizer, lr) pairs and ``max_runs``
        runs, spread evenly over the batch, for drawing; and a note saying what was left
        out (``None`` when nothing was). A figure of 1,000 panels helps nobody and takes
        minutes to draw.

        >>> from gradlab.surfaces import builtin
        >>> res = run_descent(builtin()["bowl"], ["gd"], [0.01 * k for k in range(1, 31)], steps=3)
        >>> small, note = res.for_plot()
        >>> len(small.runs), note
        (12, 'drawing 12 of 30 (optimizer, lr) pairs, spread over the batch; every run is in the output')
        """
        runs = list(self.runs)
        pairs = list(dict.fromkeys((r.optimizer, r.lr) for r in runs))
        keep_pairs = pairs if len(pairs) <= max_panels else \
            [pairs[round(k * (len(pairs) - 1) / (max_panels - 1))] for k in range(max_panels)]
        chosen = set(keep_pairs)
        idx = [i for i, r in enumerate(runs) if (r.optimizer, r.lr) in chosen]
        if len(idx) > max_runs:
            idx = [idx[round(k * (len(idx) - 1) / (max_runs - 1))] for k in range(max_runs)]
        if len(idx) == len(runs):
            return self, None
        parts = []
        if len(keep_pairs) < len(pairs):
            parts.append(f"{len(keep_pairs)} of {len(pairs)} (optimizer, lr) pairs")
        if len(idx) < sum(1 for r in runs if (r.optimizer, r.lr) in chosen):
            parts.append(f"{len(idx)} of {len(runs)} runs")
        note = f"drawing {' and '.join(parts)}, spread over the batch; every run is in the output"
        bounds = tuple(self.bounds[i] for i in idx) if self.bounds else ()
        return replace(self, runs=tuple(runs[i] for i in idx), bounds=bounds), note

    def _records(self) -> list[dict[str, Any]]:
        # From the columns when the runs are a batch (Runs): 10,000 Run objects cost more
        # than the JSON text itself.
        recs = self.runs.records() if hasattr(self.runs, "records") else [r.to_record() for r in self.runs]
        minima = self._minima()
        bounds = [b.bound if b is not None else None for b in self.bounds] if self.bounds else [None] * len(recs)
        exact_of, get = {}, self.starts_exact.get
        for rec, bound, k in zip(recs, bounds, self._nearest()):
            rec["stability_bound"] = bound
            start = tuple(rec["start"])
            if start not in exact_of:  # (a batch has few starts)
                exact_of[start] = get(start)
            exact = exact_of[start]
            rec["start_exact"] = list(exact) if exact is not None else None
            rec["nearest_minimum"] = list(minima[k]) if k >= 0 and rec["status"] != "diverged" else None
        return recs

    def _nearest(self) -> list[int]:
        """The index of the known minimum nearest each run's end (−1: none), as the
        engine found it with the run's distance (``runs.nearest_minima``)."""
        if hasattr(self.runs, "nearest"):
            return self.runs.nearest.tolist()
        import numpy as np

        from gradlab.descent.runs import nearest_minima

        X = np.array([r.x for r in self.runs], dtype=float).reshape(len(self.runs), -1).T
        return nearest_minima(np.array(self._minima(), dtype=float).reshape(-1, X.shape[0]), X)[0].tolist()

    def _minima(self) -> list[tuple[float, ...]]:
        return [tuple(float(v) for v in m.point) for m in self.surface.minima]

    def _below(self, i: int) -> bool | None:
        """Whether run i's rate is below its stability bound (None: no bound known)."""
        b = self.bounds[i] if self.bounds else None
        return None if b is None or b.bound is None else bool(self.runs[i].lr < b.bound)

    def _bound_notes(self) -> tuple[str, ...]:
        """One line per optimizer and bound: "gd: stable for lr < 2/λmax = 0.04"."""
        seen: dict[str, None] = {}
        minima = [m for m in self.surface.minima if not m.kink]
        done: set[tuple[str, int]] = set()  # (the runs share one bound per optimizer and minimum)
        nearest = _smooth_nearest(self.surface, self.runs) if len(minima) > 1 else []
        for i, (r, b) in enumerate(zip(self.runs, self.bounds)):
            if b is not None and b.bound is not None and (r.optimizer, id(b)) not in done:
                done.add((r.optimizer, id(b)))
                value = f"{b.bound:.4g}"
                rule = value if b.short in ("", value) else f"{b.short} = {value}"
                where = ""
                if len(minima) > 1:  # name the minimum the bound was taken at, as _bounds chose it
                    m = minima[nearest[i]]
                    where = f" at m{minima.index(m) + 1} (" + ", ".join(f"{float(v):.4g}" for v in m.point) + ")"
                seen[f"{r.optimizer}: theory says stable for lr < {rule}{where}"] = None
        lines = tuple(seen)
        if any("λmax" in line for line in lines):
            lines += ("λmax: the largest eigenvalue of the Hessian at the nearest known minimum",)
        return lines

    def view(self) -> View:
        """Plain rows: optimizer, lr, start, status, steps, f, ‖∇f‖, diverged_at,
        distance to the nearest known minimum, x. The table leaves out what does not
        vary or is not known, to fit a terminal, and explains the bound below."""
        minima = self._minima()
        nearest = [k if k >= 0 else None for k in self._nearest()]
        plain_rows = tuple(
            (r.optimizer, r.lr, r.start, r.status, r.steps, r.f, r.grad_norm, r.diverged_at,
             r.distance if minima else None, r.x)
            for r in self.runs
        )
        cols = ["optimizer", "lr", "start", "status", "steps", "f", "‖∇f‖", "diverged at", "to min",
                "lr < bound", "minimum", "x"]
        rows = tuple(row[:9] + (self._below(i), f"m{k + 1}" if k is not None and row[3] != "diverged" else None,
                                row[9])
                     for i, (row, k) in enumerate(zip(plain_rows, nearest)))
        drop = {11}  # the end point stays in plain and JSON output
        if len(minima) < 2:
            drop.add(10)
        if all(row[9] is None for row in rows):
            drop.add(9)
        elif 10 not in drop:  # one column for both, to fit 80 columns: the bound is taken at that minimum
            word = {True: "yes", False: "no", None: "—"}
            rows = tuple(row[:9] + (f"{word[row[9]]} {row[10]}" if row[10] else word[row[9]], None, row[11])
                         for row in rows)
            drop.add(10)
        if len({r.start for r in self.runs}) == 1:
            drop.add(2)
        if all(r.distance is None for r in self.runs) or 9 not in drop:
            drop.add(8)  # room for the bound: the distance stays in plain and JSON output
        if all(r.diverged_at is None or r.diverged_at == r.steps for r in self.runs):
            drop.add(7)  # a diverged run's steps already say when
        keep = [i for i in range(len(cols)) if i not in drop]
        name = self.surface.name or f"f = {self.surface.text}"
        notes = (f"runs stop when ‖∇f‖ < {self.tol:g} (converged) or after "
                 f"{plural(self.steps, 'step')} (max_steps)",)
        if any(r.status == "diverged" and r.steps == 0 for r in self.runs):
            notes += ("diverged at step 0: f or ∇f is undefined (or infinite) at the start: no step can be taken",)
        if any(r.status == "diverged" and r.steps > 0 for r in self.runs) and 7 in drop:
            notes += ("diverged: at the step shown, a coordinate left ±1000 × the surface's size or a value overflowed",)
        if len(minima) > 1:
            notes += (("minimum" if 10 not in drop else "m1, m2, …") + ": the known minimum nearest where the run "
                      "ended, " +
                      ", ".join(f"m{k + 1} = (" + ", ".join(f"{v:.4g}" for v in m) + ")"
                                for k, m in enumerate(minima)),)
        notes += self._bound_notes()
        notes += tuple(f"{r.optimizer} lr={r.lr!r}: {r.message}" for r in self.runs if "Hessian" in r.message)
        return View(
            f"descent on {name} from {_start(self.runs)}",
            tuple(cols[i] for i in keep), tuple(tuple(row[i] for i in keep) for row in rows),
            notes=notes, plain_cells=plain_rows, digits=4,
            fold=tuple(keep.index(i) for i in (0, 1) if i in keep),
        )


def _start(runs: Sequence[Run]) -> str:
    starts = {r.start for r in runs}
    if len(starts) > 1:
        return f"{len(starts)} starts"
    s = next(iter(starts))
    shown = [f"{v:g}" for v in s] if len(s) <= 4 else [*(f"{v:g}" for v in s[:3]), "…", f"{s[-1]:g}"]
    return "(" + ", ".join(shown) + ")"


def default_lrs(surface: Surface, optimizer: str) -> list[float]:
    """The learning rate used when none is given: 1 for Newton (a full Newton step),
    else the surface's own (or 0.01)."""
    return [1.0] if optimizer == "newton" else [surface.lr or DEFAULT_LR]


def run_descent(surface: Surface, optimizers: Sequence[str], lrs: Sequence[float] | None,
                starts: Sequence[Sequence[float]] | None = None, steps: int | None = None,
                tol: float = DEFAULT_TOL, hyper: dict | None = None, trajectory: bool = False,
                progress: Callable[[int, int], None] | None = None,
                starts_exact: Sequence[Sequence[str]] | None = None) -> DescentResult:
    """Run every optimizer × learning rate × start on ``surface`` in one batch
    (``lrs=None``: each optimizer's default, see :func:`default_lrs`). ``starts_exact``:
    the starts exactly, as read (default: :func:`exact_text` of each coordinate)."""
    given = list(starts or [surface.start])
    starts = [tuple(float(v) for v in s) for s in given]
    if starts_exact is None:
        starts_exact = [[exact_text(v) for v in s] for s in given] if len(given) <= 1000 else []
    exact_of = {s: tuple(e) for s, e in zip(starts, starts_exact)}
    steps = steps if steps is not None else (surface.steps or DEFAULT_STEPS)
    per_optimizer = {o: list(lrs) if lrs is not None else default_lrs(surface, o) for o in optimizers}
    n = len(surface.parsed.variables)
    for s in starts:
        if len(s) != n:
            raise BadInput(f"a start has {plural(len(s), 'coordinate')}; the function has "
                           f"{plural(n, 'variable')}", "--start")
    check_options(optimizers, [lr for v in per_optimizer.values() for lr in v], starts, steps, tol,
                  runs=sum(len(v) for v in per_optimizer.values()) * len(starts), trajectory=trajectory, n=n)
    specs = [RunSpec(o, float(lr), s) for o in optimizers for lr in per_optimizer[o] for s in starts]
    obj = objective_for(surface, starts)
    runs = descend(obj, specs, steps, tol, hyper or {}, trajectory, progress)
    return DescentResult(surface, runs, steps, tol, obj.f_star, _bounds(surface, runs, hyper or {}, obj),
                         starts_exact=exact_of)


def _smooth_nearest(surface: Surface, runs) -> list[int]:
    """For each run, the index among the surface's minima without a kink of the one
    nearest where it ended (its start where the end is not finite), −1 where there is
    none: the minimum its stability bound is taken at."""
    import numpy as np

    from gradlab.descent.runs import nearest_minima

    minima = [m for m in surface.minima if not m.kink]
    if not minima or not len(runs):
        return [-1] * len(runs)
    points = np.array([[float(v) for v in m.point] for m in minima])
    n = points.shape[1]
    if hasattr(runs, "specs"):  # a batch's columns
        X = np.asarray(runs.x, dtype=float)
        S = np.array([s.start for s in runs.specs], dtype=float).reshape(-1, n).T
    else:
        X = np.array([r.x for r in runs], dtype=float).reshape(-1, n).T
        S = np.array([r.start for r in runs], dtype=float).reshape(-1, n).T
    return nearest_minima(points, np.where(np.isfinite(X).all(axis=0), X, S))[0].tolist()


def _bounds(surface: Surface, runs, hyper: dict, obj: Objective | None = None) -> tuple[OptimizerTheory | None, ...]:
    """Each run's stability bound at the known minimum nearest where it ended (its start
    where the end is not finite); one Hessian per minimum, one bound per optimizer there."""
    from gradlab.descent.theory import ADAPTIVE, curvature_at, optimizer_theory

    minima = [m for m in surface.minima if not m.kink]
    if not minima or not len(runs):
        return ()
    names = [s.optimizer for s in runs.specs] if hasattr(runs, "specs") else [r.optimizer for r in runs]
    nearest = _smooth_nearest(surface, runs)
    curvatures: dict[int, Any] = {}
    theories: dict[tuple[str, int], OptimizerTheory | None] = {}
    out = []
    for name, k in zip(names, nearest):
        if name in ADAPTIVE or k < 0:
            out.append(None)
            continue
        if (name, k) not in theories:
            if k not in curvatures:
                curvatures[k] = curvature_at(surface.parsed.expr, surface.parsed.variables, minima[k].point,
                                             "known minimum", obj.gradient_exprs if obj is not None else None)
            c = curvatures[k]
            theories[name, k] = optimizer_theory(name, c.eigenvalues, hyper, c.exact) if c.eigenvalues[-1] > 0 else None
        out.append(theories[name, k])
    return tuple(out)
