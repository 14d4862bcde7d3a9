"""``gradlab descend`` as a library call: a surface, optimizers × learning rates × starts.

>>> from gradlab.surfaces import builtin
>>> res = run_descent(builtin()["elongated"], ["gd"], [0.01, 0.03, 0.06, 0.08])
>>> [r.status for r in res.runs]
['converged', 'converged', 'diverged', 'diverged']
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import sympy

from gradlab.errors import BadInput, LimitExceeded
from gradlab.optimizers import NAMES
from gradlab.parsing import Parsed
from gradlab.runs import Objective, Run, RunSpec, descend
from gradlab.surfaces import Surface
from gradlab.theory import OptimizerTheory
from gradlab.views import View
from gradlab.present import Presentable  # to_dict, LaTeX and rich for notebooks

DEFAULT_LR = 0.01
DEFAULT_STEPS = 1000
DEFAULT_TOL = 1e-6
MAX_STEPS = 1_000_000
MAX_RUNS = 100_000
MAX_WORK = 200_000_000  # runs × steps: about half a minute of numpy at the most


def inline_surface(parsed: Parsed, start: Sequence[sympy.Expr]) -> Surface:
    """A surface for an expression typed on the command line: no known minima, a window
    around the start."""
    if len(start) != len(parsed.variables):
        raise BadInput(f"the start has {len(start)} coordinates; the function has "
                       f"{len(parsed.variables)} variables", "--start")
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
                  steps: int, tol: float) -> None:
    """Refuse bad options before any work (exit 2)."""
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
    if not (math.isfinite(tol) and tol > 0):
        raise BadInput("the tolerance must be a positive number", "--tol")
    runs = len(optimizers) * len(lrs) * len(starts)
    if runs > MAX_RUNS:
        raise LimitExceeded(f"{runs} runs; the limit is {MAX_RUNS}", "--lr/--start")
    if runs * steps > MAX_WORK:
        raise LimitExceeded(f"{runs} runs × {steps} steps is more than {MAX_WORK:.0e} steps in all", "--steps")


@dataclass(frozen=True)
class DescentResult(Presentable):
    """Every run of one ``descend`` call, with the surface and the settings used.

    ``bounds[i]`` is the stability bound theory gives run i's optimizer at the known
    minimum nearest where the run ended (``None`` without known minima, or for an
    adaptive optimizer).
    """

    surface: Surface
    runs: Sequence[Run]
    steps: int
    tol: float
    f_star: float | None = None
    bounds: tuple[OptimizerTheory | None, ...] = ()

    def to_record(self) -> dict[str, Any]:
        return {
            "command": "descend",
            "surface": self.surface.name or None,
            "expression": self.surface.text,
            "variables": [v.name for v in self.surface.parsed.variables],
            "max_steps": self.steps,
            "tol": self.tol,
            "f_star": self.f_star,
            "runs": [self._record(i) for i in range(len(self.runs))],
        }

    def _record(self, i: int) -> dict[str, Any]:
        rec = self.runs[i].to_record()
        b = self.bounds[i] if self.bounds else None
        rec["stability_bound"] = b.bound if b is not None else None
        return rec

    def _versus(self, i: int) -> str | None:
        """"0.06 > 2/λmax = 0.04": the run's rate against its bound."""
        b = self.bounds[i] if self.bounds else None
        if b is None or b.bound is None:
            return None
        lr = self.runs[i].lr
        sign = "<" if lr < b.bound else ">" if lr > b.bound else "="
        return f"{lr:g} {sign} {b.short} = {b.bound:.4g}"

    def view(self) -> View:
        """Plain rows: optimizer, lr, start, status, steps, f, ‖∇f‖, diverged_at,
        distance to the nearest known minimum, x. The table leaves out what does not
        vary or is not known, to fit a terminal."""
        plain = tuple(
            (r.optimizer, r.lr, r.start, r.status, r.steps, r.f, r.grad_norm, r.diverged_at, r.distance, r.x)
            for r in self.runs
        )
        cols = ["optimizer", "lr", "start", "status", "steps", "f", "‖∇f‖", "div. at", "to min",
                "lr vs bound", "x"]
        plain_rows = plain
        plain = tuple(row[:9] + (self._versus(i), row[9]) for i, row in enumerate(plain))
        drop = set()
        if all(row[9] is None for row in plain):
            drop.add(9)
        else:
            # room for the bound: x and the distance stay in plain and JSON output
            drop.update({8, 10})
        if len({r.start for r in self.runs}) == 1:
            drop.add(2)
        if all(r.distance is None for r in self.runs):
            drop.add(8)
        if all(r.diverged_at is None for r in self.runs):
            drop.add(7)
        keep = [i for i in range(len(cols)) if i not in drop]
        name = self.surface.name or f"f = {self.surface.text}"
        notes = tuple(f"{r.optimizer} lr={r.lr!r}: {r.message}" for r in self.runs if "Hessian" in r.message)
        return View(
            f"descent on {name} from {_start(self.runs)} ({self.steps} steps at most, ‖∇f‖ < {self.tol:g})",
            tuple(cols[i] for i in keep), tuple(tuple(row[i] for i in keep) for row in plain),
            notes=notes, plain_cells=plain_rows, digits=3,
            nowrap=tuple(k for k, i in enumerate(keep) if cols[i] == "lr vs bound"),
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
                progress: Callable[[int, int], None] | None = None) -> DescentResult:
    """Run every optimizer × learning rate × start on ``surface`` in one batch
    (``lrs=None``: each optimizer's default, see :func:`default_lrs`)."""
    starts = [tuple(float(v) for v in s) for s in (starts or [surface.start])]
    steps = steps if steps is not None else (surface.steps or DEFAULT_STEPS)
    per_optimizer = {o: list(lrs) if lrs is not None else default_lrs(surface, o) for o in optimizers}
    check_options(optimizers, [lr for v in per_optimizer.values() for lr in v], starts, steps, tol)
    for s in starts:
        if len(s) != len(surface.parsed.variables):
            raise BadInput(f"a start has {len(s)} coordinates; the function has "
                           f"{len(surface.parsed.variables)} variables", "--start")
    specs = [RunSpec(o, float(lr), s) for o in optimizers for lr in per_optimizer[o] for s in starts]
    obj = objective_for(surface, starts)
    runs = descend(obj, specs, steps, tol, hyper or {}, trajectory, progress)
    return DescentResult(surface, runs, steps, tol, obj.f_star, _bounds(surface, runs, hyper or {}))


def _bounds(surface: Surface, runs, hyper: dict) -> tuple[OptimizerTheory | None, ...]:
    """Each run's stability bound at the known minimum nearest where it ended."""
    import numpy as np

    from gradlab.theory import ADAPTIVE, curvature_at, optimizer_theory

    minima = [m for m in surface.minima if not m.kink]
    if not minima or len(runs) > 1000:  # a table of 1,000 bounds helps nobody; sweep explains
        return ()
    points = np.array([[float(v) for v in m.point] for m in minima])
    curvatures: dict[int, Any] = {}
    out = []
    for i in range(len(runs)):
        r = runs[i]
        if r.optimizer in ADAPTIVE:
            out.append(None)
            continue
        end = np.array(r.x if all(math.isfinite(v) for v in r.x) else r.start)
        k = int(np.argmin(np.linalg.norm(points - end, axis=1)))
        if k not in curvatures:
            c = curvature_at(surface.parsed.expr, surface.parsed.variables, minima[k].point, "known minimum")
            curvatures[k] = c
        c = curvatures[k]
        out.append(optimizer_theory(r.optimizer, c.eigenvalues, hyper, c.exact) if c.eigenvalues[-1] > 0 else None)
    return tuple(out)
