"""Curvature decides stability: sharpness along a run, and stability maps over (lr, β).

*Sharpness* is λ_max(H(x_k)), the largest eigenvalue of the exact Hessian at each iterate.
On a quadratic, gd is stable iff lr < 2/λ_max; along a run on any surface, comparing
λ_max(H(x_k)) with 2/lr shows where the iterates sit relative to that edge ("edge of
stability", Cohen et al. 2021).

A *stability map* runs heavy-ball momentum (or Nesterov) on a grid of learning rates ×
momenta β, measures each run's rate of convergence — the per-step factor
ρ̂ = (‖∇f(x_K)‖/‖∇f(x_{K/2})‖)^(2/K) over the second half of the run — and the steps it needed to reach the tolerance, and
draws them with the theory's region 0 < lr·λ_max < 2(1 + β) and Polyak's optimal
(lr, β) = (4/(√λ_max + √λ_min)², ((√κ − 1)/(√κ + 1))²): the figure of Distill's "Why
Momentum Really Works", measured on your function.

>>> from gradlab.surfaces import builtin
>>> m = stability_map(builtin()["elongated"], "momentum", (0.01, 0.1), (0.0, 0.9), num_lr=10, num_beta=4,
...                   steps=400)
>>> m.theory_edge[0]                  # β = 0: 2/λmax
0.04
>>> m.edge[0]                         # the last stable rate: 0.04 itself only oscillates
0.03
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from gradlab.errors import BadInput, LimitExceeded
from gradlab.descent.runs import Objective, RunSpec, descend
from gradlab.surfaces import Surface
from gradlab.views import View
from gradlab.present import Presentable

MAX_CELLS = 40_000
MAP_OPTIMIZERS = ("momentum", "nesterov")


def sharpness_along(obj: Objective, trajectory: np.ndarray, most: int = 5000) -> tuple[np.ndarray, np.ndarray]:
    """λ_max(H(x_k)) at the iterates of ``trajectory`` (shape (K, n)): the step indices
    used (every step, or ``most`` evenly spaced ones) and the values (NaN where H is not
    finite).

    >>> from gradlab.calculus.parsing import parse
    >>> obj = Objective(parse("x**2 + 25*y**2"))
    >>> sharpness_along(obj, np.array([[1.0, 1.0], [0.5, 0.5]]))[1].tolist()
    [50.0, 50.0]
    """
    K = len(trajectory)
    steps = np.arange(K) if K <= most else np.unique(np.linspace(0, K - 1, most).round().astype(int))
    pts = np.asarray(trajectory, dtype=float)[steps]
    out = np.full(len(steps), np.nan)
    ok = np.isfinite(pts).all(axis=1)
    if ok.any():
        with np.errstate(all="ignore"):
            H = np.moveaxis(obj.hessian(pts[ok].T), -1, 0)  # (k, n, n)
        good = np.isfinite(H).all(axis=(1, 2))
        vals = np.full(H.shape[0], np.nan)
        if good.any():
            vals[good] = np.linalg.eigvalsh(H[good])[:, -1]
        out[ok] = vals
    return steps, out


def _rate(obj: Objective, trajectory: np.ndarray) -> float:
    """The per-step factor by which ‖∇f‖ shrank over the second half of a run: the
    asymptotic rate, free of the transient of the first steps (the stiff directions die
    out first and would make the whole run look faster than its slowest direction)."""
    K = len(trajectory) - 1
    if K < 1:
        return 0.0
    half = K // 2
    with np.errstate(all="ignore"):
        g = obj.grad(trajectory[[half, K]].T)
        n0, n1 = np.linalg.norm(g, axis=0)
        return float((n1 / n0) ** (1.0 / (K - half))) if n0 > 0 else 0.0


def _closing_in(runs, f0: float) -> np.ndarray:
    """Converged, or still closing in: not diverged, f no higher than at the start and
    still falling (by more than rounding) over the second half of the run."""
    with np.errstate(invalid="ignore"):  # the NaN f of a diverged run compares False
        falling = (runs.status == "max_steps") & (runs.f <= f0) & \
            (runs.f < runs.watched - 1e-12 * np.abs(runs.watched))
    return (runs.status == "converged") | falling


def _curvature(surface: Surface, all_runs, x0: Sequence[float]):
    """The Hessian at the known minimum nearest where the converged runs ended (or the
    start), else where the best converged run ended."""
    import sympy

    from gradlab.descent.theory import curvature_at

    ends = [runs.x[:, i] for runs, _ in all_runs for i in np.flatnonzero(runs.status == "converged")]
    target = np.mean(ends, axis=0) if ends else np.asarray(x0, dtype=float)
    p = surface.parsed
    smooth = [m for m in surface.minima if not m.kink]
    if smooth:
        m = min(smooth, key=lambda m: float(np.linalg.norm(np.array([float(v) for v in m.point]) - target)))
        return curvature_at(p.expr, p.variables, m.point, "at the known minimum " +
                            ("the runs approach" if ends else "nearest the start"))
    if ends:
        return curvature_at(p.expr, p.variables, [sympy.Float(float(v), 17) for v in ends[0]],
                            "where the runs converged")
    return None


def parse_range(text: str, where: str, lo_limit: float | None = None, hi_limit: float | None = None,
                strict_hi: bool = False) -> tuple[float, float, int | None]:
    """``A:B`` or ``A:B:N`` (N grid points) as (A, B, N or None); numbers in gradlab's
    exact syntax (``1/100``). Every mistake says what is wrong (exit 2).

    >>> parse_range("0.001:0.1:20", "--lr")
    (0.001, 0.1, 20)
    """
    from gradlab.calculus.parsing import parse_number

    parts = (text or "").split(":")
    if len(parts) not in (2, 3) or not all(p.strip() for p in parts):
        raise BadInput(f"{text!r} must be a range A:B or A:B:N", where)
    try:
        a, b = (float(parse_number(p.strip(), where)) for p in parts[:2])
    except (TypeError, ValueError, OverflowError):
        raise BadInput(f"{text!r} must be a range of real numbers A:B", where) from None
    if not (math.isfinite(a) and math.isfinite(b)) or not a < b:
        raise BadInput(f"the range {text!r} must run from a smaller to a larger number", where)
    if lo_limit is not None and a < lo_limit:
        raise BadInput(f"the range {text!r} must start at {lo_limit:g} or above", where)
    if hi_limit is not None and (b > hi_limit or (strict_hi and b >= hi_limit)):
        raise BadInput(f"the range {text!r} must end {'below' if strict_hi else 'at or below'} {hi_limit:g}", where)
    num = None
    if len(parts) == 3:
        try:
            num = int(parts[2].strip())
        except ValueError:
            raise BadInput(f"the point count in {text!r} must be a whole number", where) from None
        if not 2 <= num <= 1000:
            raise BadInput(f"the point count in {text!r} must be from 2 to 1000", where)
    return a, b, num


@dataclass(frozen=True)
class StabilityMap(Presentable):
    """Measured rates over a grid of learning rates (columns) × momenta (rows).

    - ``lrs``, ``betas``: the grid; ``rate[i, j]``: the measured per-step factor of ‖∇f‖
      over the second half of the run at
      (betas[i], lrs[j]) (> 1 or NaN for runs that diverged); ``steps[i, j]``: steps to
      the tolerance (−1 where the run did not converge); ``status``: each run's status; ``verdict``: what each
      run did, as a line sweep names it (:data:`gradlab.descent.sweep.VERDICTS`).
    - ``edge[i]``: the largest rate of row i below the first unstable one (``None`` when
      even the smallest was unstable); ``theory_edge[i]``: 2(1 + β)/λ_max (momentum) or
      2(1 + β)/((1 + 2β)λ_max) (Nesterov).
    - ``lambda_min``, ``lambda_max``: the Hessian's extreme eigenvalues at the minimum;
      ``optimal``: Polyak's (lr, β) (momentum only); ``best``: the measured fastest cell.
    """

    surface: Surface
    optimizer: str
    start: tuple[float, ...]
    steps_max: int
    tol: float
    lrs: tuple[float, ...]
    betas: tuple[float, ...]
    rate: np.ndarray
    steps: np.ndarray
    status: np.ndarray
    edge: tuple[float | None, ...]
    theory_edge: tuple[float | None, ...]
    lambda_min: float | None
    lambda_max: float | None
    optimal: tuple[float, float] | None
    best: tuple[float, float, float] | None
    source: str = ""
    verdict: np.ndarray | None = None

    def to_record(self) -> dict[str, Any]:
        def clean(a):
            return [[None if not math.isfinite(v) else float(v) for v in row] for row in a]

        return {
            "command": "sweep", "kind": "stability_map", "surface": self.surface.name or None,
            "expression": self.surface.text, "optimizer": self.optimizer, "start": list(self.start),
            "max_steps": self.steps_max, "tol": self.tol, "lrs": list(self.lrs), "betas": list(self.betas),
            "rate": clean(self.rate), "steps_to_tol": [[int(v) if v >= 0 else None for v in row] for row in self.steps],
            "status": [[str(s) for s in row] for row in self.status],
            "edge": list(self.edge), "theory_edge": list(self.theory_edge),
            "lambda_min": self.lambda_min, "lambda_max": self.lambda_max,
            "theory_region": self.region_formula(),
            "optimal": ({"lr": self.optimal[0], "momentum": self.optimal[1]} if self.optimal else None),
            "best_measured": ({"lr": self.best[0], "momentum": self.best[1], "rate": self.best[2]}
                              if self.best else None),
            "curvature_source": self.source,
            "verdict": None if self.verdict is None else [[str(v) for v in row] for row in self.verdict],
        }

    def region_formula(self) -> str:
        return ("0 < lr·λmax < 2 + 2β" if self.optimizer == "momentum"
                else "0 < lr·λmax < 2(1 + β)/(1 + 2β)")

    def view(self) -> View:
        rows = []
        for i, b in enumerate(self.betas):
            row_rates = self.rate[i]
            ok = np.isfinite(row_rates) & (row_rates < 1)
            j = int(np.nanargmin(np.where(ok, row_rates, np.nan))) if ok.any() else None
            rows.append((b, self.edge[i], self.theory_edge[i],
                         self.lrs[j] if j is not None else None,
                         float(row_rates[j]) if j is not None else None,
                         int(self.steps[i, j]) if j is not None and self.steps[i, j] >= 0 else None))
        notes = [f"theory's region {self.region_formula()}"]
        if self.verdict is not None and (self.verdict == "unbounded").any():
            notes.append("unbounded cells: the run ended on a slope where H is 0 along ∇f, which no step shrinks: "
                         "f falls without end")
        if self.verdict is not None and (self.verdict == "escaping").any():
            notes.append("escaping cells: the run ended where H has a negative eigenvalue, moving away along it")
        if self.lambda_max is not None:
            notes.append(f"Hessian ({self.source}): λmin = {self.lambda_min:.6g}, λmax = {self.lambda_max:.6g}")
        if self.optimal:
            notes.append(f"Polyak's optimum: lr = {self.optimal[0]:.6g}, β = {self.optimal[1]:.6g}")
        if self.best:
            notes.append(f"fastest measured cell: lr = {self.best[0]:.6g}, β = {self.best[1]:.6g}, "
                         f"rate {self.best[2]:.6g} a step")
        name = self.surface.name or f"f = {self.surface.text}"
        return View(f"stability map of {self.optimizer} on {name}: {len(self.lrs)} rates × {len(self.betas)} momenta "
                    f"({self.steps_max} steps at most, ‖∇f‖ < {self.tol:g})",
                    ("β", "last stable lr", "theory edge", "fastest lr", "rate", "steps"),
                    tuple(rows), notes=tuple(notes), digits=4)


def stability_map(surface: Surface, optimizer: str, lr_range: tuple[float, float],
                  beta_range: tuple[float, float], num_lr: int = 50, num_beta: int = 20, steps: int | None = None,
                  tol: float = 1e-6, start: Sequence[float] | None = None, log: bool = False,
                  progress: Callable[[int, int], None] | None = None) -> StabilityMap:
    """Run ``optimizer`` at every (lr, β) of the grid and measure each run's rate."""
    from gradlab.descent.descend import check_options, objective_for
    from gradlab.descent.sweep import CURVATURE_MAX_N, STABLE_VERDICTS, verdicts

    if optimizer not in MAP_OPTIMIZERS:
        raise BadInput(f"a stability map over (lr, β) needs momentum or nesterov, not {optimizer}", "--optimizer")
    lo, hi = lr_range
    if not (0 < lo < hi and math.isfinite(hi)):
        raise BadInput("the learning-rate range must be positive and increasing", "--lr")
    b0, b1 = beta_range
    if not (0 <= b0 < b1 < 1):
        raise BadInput("the momentum range must lie in [0, 1) and increase", "--momentum")
    if num_lr * num_beta > MAX_CELLS:
        raise LimitExceeded(f"{num_lr} × {num_beta} cells; the limit is {MAX_CELLS}", "--lr/--momentum")
    steps = steps if steps is not None else (surface.steps or 1000)
    x0 = tuple(float(v) for v in (start if start is not None else surface.start))
    from gradlab.descent.sweep import make_grid  # rates that print short: 0.058, not 0.057999999999999996

    lrs = make_grid(lo, hi, num_lr, log)
    betas = make_grid(b0, b1, num_beta, log=False)
    check_options([optimizer], list(lrs), [x0], steps, tol)
    if num_lr * num_beta * steps > 200_000_000:
        raise LimitExceeded(f"{num_lr * num_beta} runs × {steps} steps is more than 2e+08 steps in all", "--steps")
    obj = objective_for(surface, [x0])
    with np.errstate(all="ignore"):
        f0 = float(obj.f(np.array(x0))[0])
        g0 = float(np.linalg.norm(obj.grad(np.array(x0))))
    rate = np.full((num_beta, num_lr), np.nan)
    to_tol = np.full((num_beta, num_lr), -1)
    status = np.empty((num_beta, num_lr), dtype=object)
    verdict = np.empty((num_beta, num_lr), dtype=object)
    edge: list[float | None] = []
    all_runs = []
    for i, b in enumerate(betas):
        if progress is not None:
            progress(i, num_beta)
        specs = [RunSpec(optimizer, float(lr), x0) for lr in lrs]
        mid = 2 * (steps // 4)
        runs = descend(obj, specs, steps, tol, {"momentum": float(b)}, trajectory=True, watch=mid)
        trajs = [runs[j].trajectory for j in range(num_lr)]
        # closing in, unless the run escapes along negative curvature or goes down a slope
        # with no curvature: as the line sweep judges
        v = verdicts(runs, f0, obj if len(x0) <= CURVATURE_MAX_N else None, tol)
        verdict[i] = np.where(_closing_in(runs, f0) & (v == "not settled"), "settling", v)
        stable = np.isin(verdict[i], STABLE_VERDICTS)
        all_runs.append((runs, stable))
        st = runs.status
        status[i] = st
        r = np.array([_rate(obj, t) for t in trajs]) if g0 > 0 else np.zeros(num_lr)
        r = np.where(st == "diverged", np.inf, r)
        r = np.where(stable | (st == "converged"), np.minimum(r, 1.0 - 1e-12), np.maximum(r, 1.0))
        rate[i] = r
        to_tol[i] = np.where(st == "converged", runs.steps, -1)
        bad = np.flatnonzero(~(stable | (st == "converged")))
        first_bad = bad[0] if bad.size else num_lr
        edge.append(float(lrs[first_bad - 1]) if first_bad > 0 else None)
    # the curvature at the minimum the stable runs approach (as sweep finds it)
    curv = _curvature(surface, all_runs, x0)
    lam_min = lam_max = None
    theory: list[float | None] = [None] * num_beta
    optimal = None
    if curv is not None and curv.eigenvalues[-1] > 0:
        lam_min, lam_max = float(curv.eigenvalues[0]), float(curv.eigenvalues[-1])
        for i, b in enumerate(betas):
            b = float(b)
            theory[i] = (2 * (1 + b) / lam_max if optimizer == "momentum"
                         else 2 * (1 + b) / ((1 + 2 * b) * lam_max))
        if optimizer == "momentum" and lam_min > 0:
            sq = math.sqrt(lam_max / lam_min)
            optimal = (4 / (math.sqrt(lam_max) + math.sqrt(lam_min)) ** 2, ((sq - 1) / (sq + 1)) ** 2)
    best = None
    finite = np.where(np.isfinite(rate) & (rate < 1), rate, np.nan)
    if np.isfinite(finite).any():
        i, j = np.unravel_index(int(np.nanargmin(finite)), finite.shape)
        best = (float(lrs[j]), float(betas[i]), float(rate[i, j]))
    return StabilityMap(surface, optimizer, x0, steps, tol, tuple(float(v) for v in lrs),
                        tuple(float(v) for v in betas), rate, to_tol, status, tuple(edge), tuple(theory),
                        lam_min, lam_max, optimal, best, curv.source if curv else "", verdict)
