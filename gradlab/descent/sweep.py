"""Learning-rate sweeps: the largest stable learning rate, by experiment and by theory.

A run is *stable* when it converged, or when it is settling: it did not diverge, f ended
no higher than it started, f and ‖∇f‖ both fell over the second half of the run, and the
Hessian where it ended has no negative eigenvalue. The last test is what tells a slow
approach from a slow escape: near a point where H has an eigenvalue λ < 0, gd multiplies
the gradient's component along it by 1 + lr·|λ| > 1 every step, whatever lr (on x² − y²
from y₀ ≠ 0, y_k = y₀(1 + 2lr)^k: no rate is stable, though a short run at a small rate
still sees f and ‖∇f‖ fall). Nor a slope with no curvature: where ∇f has a part g₀ along a
direction in which H is 0, no step shrinks that part, so ‖∇f‖ ≥ |g₀| never reaches the
tolerance and each gd step lowers f by lr·g₀² (on −x + y², x_k = x₀ + lr·k: f → −∞ for
every rate, and ‖∇f‖ → 1 while y dies out, so a short run sees both fall): such a run is
*unbounded*, and an optimizer whose runs all are has no stable rate. On a quadratic
½xᵀAx + bᵀx this is exact: ∇f = Ax + b keeps b's part in A's null space at every x, so
there is a minimum iff that part is 0. (A run that bounces across a valley forever, as
gd does on Rosenbrock just above 2/λ_max, is not stable either: f stops falling.)

What a finite run cannot see is curvature that fades far off without ever being 0: on
log(1 + e⁻ˣ) + y², gd is stable in the usual sense for lr < 1 (f falls monotonically to
its infimum 0 and ∇f → 0), though x drifts off to infinity and no minimum is attained;
on −log x + y², f → −∞ as ∇f → 0. Locally both look like a far or flat minimum, so such
runs count as settling, and the explanation says that no minimum is known.

The grid of rates runs as one batch; the edge of the stable region (scanning up from the
first stable rate: smaller ones that did not settle in the steps given are too slow, not
unstable) is then narrowed by multisection, every optimizer's bracket refined in the
same batch, until it is narrower than ``precision`` × the rate. Theory comes from the
Hessian at the minimum the runs approach (see :mod:`gradlab.descent.theory`).

>>> from gradlab.surfaces import builtin
>>> res = run_sweep(builtin()["elongated"], ["gd"], 0.001, 0.1, num=20, steps=1000)
>>> abs(res.optimizers[0].largest_stable_lr - 0.04) <= res.optimizers[0].precision
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from gradlab.descent.descend import check_options, objective_for
from gradlab.errors import BadInput, LimitExceeded
from gradlab.descent.runs import Runs, RunSpec, descend
from gradlab.surfaces import Surface
from gradlab.descent.theory import ADAPTIVE, RATE_TOL, Curvature, OptimizerTheory, curvature_at, \
    optimizer_theory, predicted_steps, spectral_radius
from gradlab.views import View, plural
from gradlab.present import Presentable  # to_dict, LaTeX and rich for notebooks

MAX_NUM = 100_000
POINTS_PER_ROUND = 15
MAX_ROUNDS = 12
AGREE = 0.02  # relative difference under which experiment and theory "agree"
#: Grid rates keep this many significant digits: 0.2, not 0.20000000000000004, so that
#: they print short and read back as the same float.
GRID_DIGITS = 12
#: The default range where no bound is known (an expression; an adaptive optimizer).
NO_BOUND_RANGE = (1e-4, 1.0)


@dataclass(frozen=True)
class OptimizerSweep:
    """One optimizer's answer.

    ``largest_stable_lr``: the largest rate found stable below the first unstable one;
    the boundary lies in [largest_stable_lr, largest_stable_lr + precision]
    (``first_unstable_lr`` is its upper end, ``None`` when nothing in the range was
    unstable). ``theory``: what the Hessian predicts; ``agree`` and ``explanation`` compare
    the two; ``predicted_steps``: steps to the tolerance at the best rate, from theory.
    ``unbounded``: no rate was stable because f falls without bound along every run that
    did not diverge (a slope of zero curvature; the explanation says which).
    """

    optimizer: str
    largest_stable_lr: float | None
    first_unstable_lr: float | None
    precision: float | None
    rounds: int
    theory: OptimizerTheory | None
    agree: bool | None
    explanation: str
    predicted_steps: int | None = None
    unbounded: bool = False

    def to_record(self) -> dict[str, Any]:
        t = self.theory
        theory = None
        if t is not None:
            theory = {"bound": t.bound, "bound_exact": t.bound_exact, "formula": t.formula, "best_lr": t.best_lr,
                      "best_lr_exact": t.best_lr_exact, "factor": t.factor, "factor_exact": t.factor_exact,
                      "predicted_steps": self.predicted_steps, "note": t.note or None,
                      "optimal": t.optimal}
        return {"optimizer": self.optimizer, "largest_stable_lr": self.largest_stable_lr,
                "first_unstable_lr": self.first_unstable_lr, "precision": self.precision,
                "refinement_rounds": self.rounds, "theory": theory, "agree": self.agree,
                "explanation": self.explanation, "unbounded": self.unbounded}


@dataclass(frozen=True)
class SweepResult(Presentable):
    """A sweep: the grid's runs (one per optimizer × rate), each optimizer's answer, and
    the curvature the theory used. ``verdicts``: what each run did (:data:`VERDICTS`;
    ``stable`` is the first two)."""

    surface: Surface
    start: tuple[float, ...]
    steps: int
    tol: float
    grid: tuple[float, ...]
    runs: Runs
    stable: np.ndarray
    predicted: tuple[int | None, ...]
    optimizers: tuple[OptimizerSweep, ...]
    curvature: Curvature | None
    f0: float
    verdicts: np.ndarray | None = None

    def to_record(self) -> dict[str, Any]:
        runs = []
        bounds = {o.optimizer: o.theory.bound if o.theory is not None else None for o in self.optimizers}
        for i, rec in enumerate(self.runs.records()):
            rec["stability_bound"] = bounds[rec["optimizer"]]
            rec["stable"] = bool(self.stable[i])
            rec["verdict"] = self._verdict(i)
            rec["predicted_steps"] = self.predicted[i]
            runs.append(rec)
        return {
            "command": "sweep", "surface": self.surface.name or None, "expression": self.surface.text,
            "variables": [v.name for v in self.surface.parsed.variables], "start": list(self.start),
            "max_steps": self.steps, "tol": self.tol, "lr_min": self.grid[0], "lr_max": self.grid[-1],
            "num": len(self.grid), "curvature": self.curvature.to_record() if self.curvature else None,
            "optimizers": [o.to_record() for o in self.optimizers],
            "largest_stable_lr": {o.optimizer: o.largest_stable_lr for o in self.optimizers},
            "theory": {o.optimizer: (o.to_record()["theory"]) for o in self.optimizers},
            "runs": runs,
        }

    def _verdict(self, i: int) -> str:
        if self.verdicts is not None:
            return str(self.verdicts[i])
        return "converged" if self.runs.status[i] == "converged" else "settling" if self.stable[i] else \
            "diverged" if self.runs.status[i] == "diverged" else "not settled"

    def view(self) -> View:
        def stable(i: int) -> str:  # "unbounded" says more than "no" (the note under the table says why)
            return "yes" if self.stable[i] else "unbounded" if self._verdict(i) == "unbounded" else "no"

        rows = tuple(
            (self.runs.specs[i].optimizer, float(self.runs.specs[i].lr), str(self.runs.status[i]),
             int(self.runs.steps[i]), float(self.runs.f[i]), stable(i), self.predicted[i])
            for i in range(len(self.runs))
        )
        notes: list[str] = []
        c = self.curvature
        if c is not None:
            eig = ", ".join(f"{v:.6g}" for v in c.eigenvalues)
            where = "(" + ", ".join(f"{v:.6g}" for v in c.point) + ")"
            notes.append(f"Hessian at {where} ({c.source}): eigenvalues {eig}; "
                         f"condition number κ = {c.kappa:.6g}")
        for o in self.optimizers:
            exp = (f"largest stable lr ≈ {o.largest_stable_lr:.6g} (boundary within {o.precision:.2g})"
                   if o.largest_stable_lr is not None and o.precision is not None
                   else f"largest stable lr ≥ {o.largest_stable_lr:.6g} (nothing unstable up to lr-max)"
                   if o.largest_stable_lr is not None else "no stable lr in the range")
            notes.append(f"{o.optimizer}: {exp}")
            t = o.theory
            if t is not None and t.bound is not None:
                bound = _both(t.bound, t.bound_exact)
                line = f"  theory: bound {t.formula} = {bound}" if t.formula.split()[0] != bound else \
                    f"  theory: bound {t.formula}"
                if t.best_lr is not None:
                    best = _both(t.best_lr, t.best_lr_exact)
                    fac = _both(t.factor, t.factor_exact)
                    line += f"; best lr {best}, contraction {fac} per step"
                    if "β" in t.formula:
                        line += " (for this β)"
                if o.predicted_steps is not None:
                    line += f"; about {plural(o.predicted_steps, 'step')} to ‖∇f‖ < {self.tol:g} at the best lr"
                notes.append(line)
                if t.optimal is not None:
                    p = t.optimal
                    notes.append(f"  Polyak's optimal pair (choosing β too): lr {p['lr']:.6g} with β = "
                                 f"{p['momentum']:.6g}, contraction {p['factor']:.6g} per step")
            notes.append(f"  {o.explanation}")
        name = self.surface.name or f"f = {self.surface.text}"
        start = "(" + ", ".join(f"{v:.6g}" for v in self.start) + ")"
        head = [f"each run: at most {plural(self.steps, 'step')}, converged when ‖∇f‖ < {self.tol:g}",
                "stable: converged, or settling (f ended ≤ f at the start, f and ‖∇f‖ fell over the second "
                "half, no negative curvature at the end)"]
        if any(self._verdict(i) == "unbounded" for i in range(len(self.runs))):
            head.append("unbounded: the run ended on a slope with no curvature (∇f has a part along a direction "
                        "where H is 0, which no step shrinks): f falls without end, there is no minimum ahead")
        if c is not None and any(p is None and o not in ADAPTIVE for p, o in
                                 zip(self.predicted, (s.optimizer for s in self.runs.specs))):
            head.append(f"predicted steps —: the linear rate ρ ≥ 1 − {RATE_TOL:.1e} there (at or past the bound)")
        notes[:0] = head
        return View(
            f"learning-rate sweep on {name} from {start}",
            ("optimizer", "lr", "status", "steps", "f", "stable", "predicted steps"), rows, notes=tuple(notes),
            digits=5, fold=(0,),
        )


def _both(value: float, exact: str | None) -> str:
    """``0.04 = 1/25``; the float alone where the exact form says nothing more (``2``)."""
    shown = f"{value:.6g}"
    return shown if not exact or exact == shown else f"{shown} = {exact}"


def default_range(surface: Surface, optimizers: Sequence[str], hyper: dict) -> tuple[float, float]:
    """A grid around the theory's bound: from bound/100 to 10 × bound (the smallest and
    largest over the optimizers). A bound is known for Newton (2, whatever the Hessian)
    and, at the surface's first known minimum, for gd, momentum and Nesterov; an
    optimizer without one (an adaptive optimizer, or an expression with no known
    minimum) widens the range to take in 1e-4 to 1.

    >>> from gradlab.surfaces import builtin
    >>> default_range(builtin()["elongated"], ["gd"], {}), default_range(builtin()["saddle"], ["newton"], {})
    ((0.0004, 0.4), (0.02, 20.0))
    """
    from gradlab.descent.optimizers import NAMES

    for name in optimizers:  # the theory knows only these: refuse the rest here, as run_sweep would
        if name not in NAMES:
            raise BadInput(f"unknown optimizer {name!r} (choose from {', '.join(NAMES)})", "--optimizer")
    minima = [m for m in surface.minima if not m.kink]
    c = None
    if minima and any(o not in ADAPTIVE and o != "newton" for o in optimizers):
        p = surface.parsed
        c = curvature_at(p.expr, p.variables, minima[0].point, "known minimum")
    lows, highs = [], []
    for o in optimizers:
        bound = None
        if o == "newton":
            bound = 2.0
        elif o not in ADAPTIVE and c is not None and c.eigenvalues[-1] > 0:
            bound = optimizer_theory(o, c.eigenvalues, hyper).bound
        lo, hi = (bound / 100, bound * 10) if bound else NO_BOUND_RANGE
        lows.append(lo)
        highs.append(hi)
    return _short(min(lows)), _short(max(highs))


def _short(v: float) -> float:
    """``v`` to GRID_DIGITS significant digits: 0.2, not 0.20000000000000004."""
    return float(f"{v:.{GRID_DIGITS}g}")


def make_grid(lr_min: float, lr_max: float, num: int, log: bool = True) -> np.ndarray:
    """``num`` rates from ``lr_min`` to ``lr_max`` (both kept exactly), log- or evenly
    spaced, each inner one rounded to GRID_DIGITS significant digits (to full precision
    where rounding would make two rates equal: a very narrow range).

    >>> make_grid(0.1, 2.1, 11, log=False).tolist()[:3]
    [0.1, 0.3, 0.5]
    """
    raw = np.geomspace(lr_min, lr_max, num) if log else np.linspace(lr_min, lr_max, num)
    short = np.array([lr_min, *(_short(float(v)) for v in raw[1:-1]), lr_max])
    return short if np.all(np.diff(short) > 0) else np.array([lr_min, *raw[1:-1], lr_max])


def check_range(lr_min: float, lr_max: float, num: int, precision: float) -> None:
    """Refuse a bad range before any work (exit 2)."""
    for name, v in (("--lr-min", lr_min), ("--lr-max", lr_max)):
        if not (math.isfinite(v) and v > 0):
            raise BadInput(f"must be a positive number, got {v}", name)
    if lr_min >= lr_max:
        raise BadInput(f"--lr-min ({lr_min:g}) must be below --lr-max ({lr_max:g})", "--lr-min")
    if num < 2:
        raise BadInput(f"--num must be at least 2, got {num}", "--num")
    if num > MAX_NUM:
        raise LimitExceeded(f"--num is at most {MAX_NUM}", "--num")
    if not (math.isfinite(precision) and 0 < precision < 1):
        raise BadInput("--precision must be between 0 and 1 (a relative width)", "--precision")


def _edge(lrs: np.ndarray, stable: np.ndarray) -> tuple[float | None, float | None]:
    """The last stable rate before the first unstable one, scanning up from the first
    stable rate, and that unstable one. Rates below the first stable one did not settle
    in the steps given (Rosenbrock's valley at lr = 2·10⁻⁵ takes more than 20,000): too
    slow, not unstable, so they do not end the scan."""
    order = np.argsort(lrs)
    lrs, stable = lrs[order], stable[order]
    good = np.flatnonzero(stable)
    if not good.size:
        return None, float(lrs[0])
    bad = np.flatnonzero(~stable[good[0]:]) + good[0]
    if not bad.size:
        return float(lrs[-1]), None
    return float(lrs[bad[0] - 1]), float(lrs[bad[0]])


#: What each run did, as ``verdicts`` names it; the first two are *stable*.
VERDICTS = ("converged", "settling", "unbounded", "escaping", "diverged", "not settled")
STABLE_VERDICTS = ("converged", "settling")
#: An eigenvalue within this fraction of H's largest |eigenvalue| counts as zero: the
#: rounding of an exact 0 (curvature below it is invisible to float steps anyway).
FLAT = 1e-12


def verdicts(runs: Runs, f0: float, obj=None, tol: float = 1e-6) -> np.ndarray:
    """What each run did (see the module's docstring), one of :data:`VERDICTS`:

    - ``converged``: ‖∇f‖ < tol; ``diverged``: left the box or overflowed;
    - ``settling``: f ended ≤ f at the start, f and ‖∇f‖ fell over the second half, and
      the Hessian where it ended has no negative eigenvalue and no zero-curvature slope;
    - ``escaping``: f fell, but H has an eigenvalue λ < 0 where the run ended;
    - ``unbounded``: f fell, but ∇f has a component of at least ``tol`` along directions
      where H is zero: a slope no step can shrink, so f falls without bound;
    - ``not settled``: anything else (f rose, stopped falling, or ‖∇f‖ grew).

    ``obj``: the compiled objective, for the Hessian at the runs' end points (``None``:
    the curvature tests are skipped, and ``escaping``/``unbounded`` never appear).

    >>> from gradlab.calculus.parsing import parse
    >>> from gradlab.descent.runs import Objective
    >>> obj = Objective(parse("-x + y**2"))
    >>> runs = descend(obj, [RunSpec("gd", 0.01, (1.0, 1.0))], 200, 1e-6, watch=100)
    >>> verdicts(runs, 0.0, obj).tolist()
    ['unbounded']
    """
    out = np.full(len(runs), "not settled", dtype=object)
    out[runs.status == "converged"] = "converged"
    out[runs.status == "diverged"] = "diverged"
    with np.errstate(invalid="ignore"):  # NaN f of a diverged run compares False, as it should
        # "still falling": by more than rounding, so that a 2-cycle (equal f every other
        # step; the two halves have even length) does not pass.
        falling = (runs.status == "max_steps") & (runs.f <= f0) & \
            (runs.f < runs.watched - 1e-12 * np.abs(runs.watched))
        # ‖∇f‖ shrinks towards a minimum; down a saddle's escape route it grows
        settling = falling & (runs.grad_norm < runs.watched_grad_norm)
    if obj is not None and falling.any():
        # The curvature where a falling run ended says whether it can stop there: a
        # negative eigenvalue pushes it away, and a gradient along a zero one never shrinks
        # (on a quadratic, ∇f's part in H's null space is the same at every point).
        escaping, slope = _local_trouble(obj, runs.x[:, falling], tol)
        idx = np.flatnonzero(falling)
        out[idx[escaping]] = "escaping"
        out[idx[slope & ~escaping]] = "unbounded"
        settling[idx[escaping | slope]] = False
    out[settling] = "settling"
    return out


def _stable(runs: Runs, f0: float, obj=None, tol: float = 1e-6) -> np.ndarray:
    """Which runs are stable: converged, or settling (see :func:`verdicts`)."""
    return np.isin(verdicts(runs, f0, obj, tol), STABLE_VERDICTS)


#: The curvature test needs the Hessian: n² expressions, compiled once per sweep. Beyond
#: this many variables it is skipped (stated in the notes).
CURVATURE_MAX_N = 20


def _escaping(obj, X: np.ndarray) -> np.ndarray:
    """Whether the Hessian at each column of ``X`` has a negative eigenvalue.

    Near x the update is x ← x − lr·∇f, so a gradient component along an eigenvector
    with λ < 0 is multiplied by 1 + lr·|λ| > 1 at every step, whatever lr: the run is
    being pushed away (x² − y²: y_k = y₀(1 + 2lr)^k), not settling, however slowly it
    moves yet. Rounding-sized negative eigenvalues (of a zero one) do not count.
    """
    lam_min, scale = _lambda_min(obj, X)
    with np.errstate(invalid="ignore"):
        return lam_min < -FLAT * scale


def _flat_slope(obj, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """At each column of ``X``: the size of ∇f's component in the null space of the
    Hessian (eigenvalues within :data:`FLAT` of zero; NaN where H or ∇f is not finite) and
    the unit direction of descent along it (``(n, R)``; zero where there is none).

    Near x, f(x + d) ≈ f + ∇fᵀd + ½dᵀHd; along a null vector u of H that is f + (∇f·u)t,
    a line: if ∇f·u ≠ 0 the model has no minimum, and every step along −(∇f·u)u lowers f
    by the same amount without changing ∇f·u. On a quadratic ½xᵀAx + bᵀx this is exact
    everywhere (∇f = Ax + b, and u ⊥ Ax), so ‖∇f‖ ≥ |b·u| > 0 forever: f has no minimum
    and gd lowers it by about lr·(b·u)² a step, without end (−x + y²: 1 per unit step).

    >>> from gradlab.calculus.parsing import parse
    >>> from gradlab.descent.runs import Objective
    >>> size, d = _flat_slope(Objective(parse("-x + y**2")), np.array([[3.0], [0.5]]))
    >>> size.tolist(), d[:, 0].tolist()
    ([1.0], [1.0, 0.0])
    """
    size, direction, *_ = _local_model(obj, X)
    return size, direction


def _local_model(obj, X: np.ndarray) -> tuple[np.ndarray, ...]:
    """At each column of ``X``, from one Hessian and gradient evaluation: the slope's size
    and direction (as :func:`_flat_slope`), H's smallest eigenvalue and largest
    |eigenvalue|, and ‖∇f‖ (NaN where H or ∇f is not finite)."""
    R, n = X.shape[1], X.shape[0]
    size, direction = np.full(R, np.nan), np.zeros((n, R))
    lam_min, scale, gnorm = np.full(R, np.nan), np.full(R, np.nan), np.full(R, np.nan)
    with np.errstate(all="ignore"):
        H = np.moveaxis(obj.hessian(X), -1, 0)  # (R, n, n)
        G = np.asarray(obj.grad(X), dtype=float).reshape(n, R)
    ok = np.isfinite(H).all(axis=(1, 2)) & np.isfinite(G).all(axis=0)
    if ok.any():
        lam, vec = np.linalg.eigh(H[ok])  # (k, n), (k, n, n): columns are eigenvectors
        big = np.abs(lam).max(axis=1, keepdims=True)
        flat = np.abs(lam) <= FLAT * big  # all of them where H = 0 (f linear there)
        coef = np.einsum("kij,ik->kj", vec, G[:, ok]) * flat  # ∇f along each flat eigenvector
        along = np.einsum("kij,kj->ik", vec, coef)  # its projection onto the null space
        size[ok] = np.linalg.norm(along, axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            direction[:, ok] = np.where(size[ok] > 0, -along / size[ok], 0.0) + 0.0  # (no −0.0)
        lam_min[ok], scale[ok] = lam[:, 0], big[:, 0]
        gnorm[ok] = np.linalg.norm(G[:, ok], axis=0)
    return size, direction, lam_min, scale, gnorm


def _local_trouble(obj, X: np.ndarray, tol: float) -> tuple[np.ndarray, np.ndarray]:
    """(escaping, unbounded) at each column of ``X``: H has a negative eigenvalue (see
    :func:`_escaping`), or ∇f has a component of at least ``tol`` (and more than rounding
    of ‖∇f‖) along H's null space. At that size the run cannot reach ‖∇f‖ < tol: the
    component does not shrink."""
    size, _, lam_min, scale, gnorm = _local_model(obj, X)
    with np.errstate(invalid="ignore"):  # (NaN where H is not finite: neither)
        escaping = lam_min < -FLAT * scale
        slope = (size >= max(tol, 0.0)) & (size > 1e-8 * gnorm) & (size > 0)
    return escaping, slope


def _lambda_min(obj, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The smallest eigenvalue of the Hessian at each column of ``X`` and the largest
    |eigenvalue| (NaN where H is not finite)."""
    with np.errstate(all="ignore"):
        H = np.moveaxis(obj.hessian(X), -1, 0)  # (R, n, n)
    lam_min, scale = np.full(X.shape[1], np.nan), np.full(X.shape[1], np.nan)
    ok = np.isfinite(H).all(axis=(1, 2))
    if ok.any():
        lam = np.linalg.eigvalsh(H[ok])
        lam_min[ok], scale[ok] = lam[:, 0], np.abs(lam).max(axis=1)
    return lam_min, scale


def _curvature(surface: Surface, runs: Runs, stable: np.ndarray, start: Sequence[float]) -> Curvature | None:
    """The Hessian at the minimum the runs approach, or at the nearest known minimum."""
    conv = np.flatnonzero((runs.status == "converged") & stable)
    target = runs.x[:, conv[np.argmin(runs.f[conv])]] if conv.size else np.asarray(start, dtype=float)
    p = surface.parsed
    if surface.minima:
        smooth = [m for m in surface.minima if not m.kink] or list(surface.minima)
        m = min(smooth, key=lambda m: float(np.linalg.norm(np.array([float(v) for v in m.point]) - target)))
        how = "the known minimum the runs approach" if conv.size else "the known minimum nearest the start"
        return curvature_at(p.expr, p.variables, m.point, how)
    if conv.size:
        import sympy

        point = [sympy.Float(float(v), 17) for v in target]
        return curvature_at(p.expr, p.variables, point, "where the runs converged")
    return None


def line_range(surface: Surface, optimizers: Sequence[str], hyper: dict, lr_range, lr_min: float | None,
               lr_max: float | None, num: int, epochs=None, schedule=None) -> tuple[float, float, int]:
    """The learning rates of an ordinary sweep, ``(lo, hi, num)``, from the options as the
    CLI and the API take them: ``--lr A:B[:N]`` (``lr_range``), or ``--lr-min``/``--lr-max``
    with :func:`default_range` filling in what is left out.

    >>> from gradlab.surfaces import builtin
    >>> line_range(builtin()["elongated"], ["gd"], {}, None, None, 0.1, 50)
    (0.0004, 0.1, 50)
    """
    if epochs is not None or schedule is not None:
        raise BadInput("--epochs and --schedule in a sweep go with --batch-size or --seeds", "--epochs"
                       if epochs is not None else "--schedule")
    if lr_range is not None:
        lr_min, lr_max = lr_range[0], lr_range[1]
        num = lr_range[2] or num
    lo, hi = default_range(surface, optimizers, hyper) if lr_min is None or lr_max is None else (lr_min, lr_max)
    return (lr_min if lr_min is not None else lo), (lr_max if lr_max is not None else hi), num


def run_sweep(surface: Surface, optimizers: Sequence[str], lr_min: float, lr_max: float, num: int = 50,
              steps: int | None = None, tol: float = 1e-6, start: Sequence[float] | None = None,
              hyper: dict | None = None, precision: float = 1e-3, log: bool = True,
              progress: Callable[[int, int], None] | None = None) -> SweepResult:
    """Sweep ``num`` rates in [lr_min, lr_max] for each optimizer, refine each boundary,
    and compare with the Hessian's prediction."""
    hyper = hyper or {}
    check_range(lr_min, lr_max, num, precision)
    steps = steps if steps is not None else (surface.steps or 1000)
    x0 = tuple(float(v) for v in (start if start is not None else surface.start))
    grid = make_grid(lr_min, lr_max, num, log)
    check_options(optimizers, list(grid), [x0], steps, tol)
    obj = objective_for(surface, [x0])
    f0 = float(obj.f(np.array(x0))[0])
    g0 = float(np.linalg.norm(obj.grad(np.array(x0))))

    specs = [RunSpec(o, float(lr), x0) for o in optimizers for lr in grid]
    mid = 2 * (steps // 4)  # the watched step, even: a 2-cycle compares equal with itself
    runs = descend(obj, specs, steps, tol, hyper, progress=progress, watch=mid)
    # A run that has not diverged yet may be creeping down a saddle's escape route (on
    # x² − y² every rate escapes, given steps enough): the Hessian where it ended says so.
    curv_obj = obj if len(x0) <= CURVATURE_MAX_N else None
    verdict = verdicts(runs, f0, curv_obj, tol)
    stable = np.isin(verdict, STABLE_VERDICTS)

    brackets: dict[str, list] = {}
    for k, o in enumerate(optimizers):
        sl = slice(k * num, (k + 1) * num)
        lo, hi = _edge(grid, stable[sl])
        brackets[o] = [lo, hi, 0]
    for _ in range(MAX_ROUNDS):
        open_ = {o: b for o, b in brackets.items() if b[0] is not None and b[1] is not None
                 and b[1] - b[0] > precision * b[1]}
        if not open_:
            break
        specs_r = [RunSpec(o, float(lr), x0) for o, (lo, hi, _) in open_.items()
                   for lr in np.geomspace(lo, hi, POINTS_PER_ROUND + 2)[1:-1]]
        rr = descend(obj, specs_r, steps, tol, hyper, watch=mid)
        st = _stable(rr, f0, curv_obj, tol)
        for k, (o, b) in enumerate(open_.items()):
            sl = slice(k * POINTS_PER_ROUND, (k + 1) * POINTS_PER_ROUND)
            pts = np.array([s.lr for s in specs_r[sl]])
            lo, hi = _edge(np.concatenate([[b[0]], pts, [b[1]]]), np.concatenate([[True], st[sl], [False]]))
            b[0], b[1], b[2] = lo, hi, b[2] + 1

    curv = _curvature(surface, runs, stable, x0)
    eig = list(curv.eigenvalues) if curv else None
    predicted = tuple(
        predicted_steps(spectral_radius(s.optimizer, s.lr, eig, hyper), g0, tol) if eig else None for s in specs
    )
    answers = []
    for k, o in enumerate(optimizers):
        lo, hi, rounds = brackets[o]
        theory = optimizer_theory(o, eig, hyper, curv.exact) if curv else None
        pred = None
        if theory is not None and theory.best_lr is not None and o == "gd":
            pred = predicted_steps(theory.factor, g0, tol)
        agree, why = _compare(o, lo, hi, theory, curv, surface, x0, lr_min, lr_max)
        sl = slice(k * num, (k + 1) * num)
        unbounded = False
        if lo is None and curv_obj is not None:
            slope = _unbounded_reason(o, runs, verdict, curv_obj, sl)
            unbounded = slope is not None
            why = slope or _escape_reason(o, runs, curv_obj, sl) or why
        answers.append(OptimizerSweep(o, lo, hi, (hi - lo) if lo is not None and hi is not None else None,
                                      rounds, theory, agree, why, pred, unbounded))
    return SweepResult(surface, x0, steps, tol, tuple(float(v) for v in grid), runs, stable, predicted,
                       tuple(answers), curv, f0, verdict)


def _unbounded_reason(name: str, runs: Runs, verdict: np.ndarray, obj, sl: slice) -> str | None:
    """Why no rate was stable, when every run that did not diverge went down a slope of
    zero curvature: one line with the slope's size and direction."""
    idx = np.arange(len(runs))[sl][runs.status[sl] != "diverged"]
    if not idx.size or not (verdict[idx] == "unbounded").all():
        return None
    size, direction = _flat_slope(obj, runs.x[:, idx])
    j = int(np.nanargmin(size))
    d = "(" + ", ".join(f"{v:.4g}" for v in direction[:, j]) + ")"
    head = (f"no rate settles: every run that did not diverge ended on a slope with no curvature: ∇f has a "
            f"part of size {size[j]:.4g} along {d}, where H is 0, which no step shrinks, so f falls without end")
    if name == "gd":
        return head + f" (by lr·{size[j] ** 2:.4g} a step)"
    return head


def _escape_reason(name: str, runs: Runs, obj, sl: slice) -> str | None:
    """Why no rate was stable, when the runs that did not diverge all ended at negative
    curvature: one line with the eigenvalue."""
    idx = np.arange(len(runs))[sl][runs.status[sl] == "max_steps"]
    if not idx.size:
        return None
    lam_min, scale = _lambda_min(obj, runs.x[:, idx])
    with np.errstate(invalid="ignore"):
        if not (lam_min < -1e-12 * scale).all():
            return None
    lam = float(np.nanmax(lam_min))
    head = (f"no rate settles: every run that did not diverge ended where the Hessian has an eigenvalue "
            f"λ ≤ {lam:.4g} < 0")
    if name not in ("gd", "momentum", "nesterov"):
        return head + ", moving away along it"
    # gd: 1 − lr·λ = 1 + lr|λ|; heavy ball and Nesterov: their recurrence's polynomial is
    # −lr|λ| < 0 at z = 1, so it has a root above 1
    factor = "1 + lr·|λ|" if name == "gd" else "more than 1"
    return head + f", and each step multiplies ∇f's component along it by {factor}, whatever lr"


def _compare(name: str, lo: float | None, hi: float | None, theory: OptimizerTheory | None, curv: Curvature | None,
             surface: Surface, x0: Sequence[float], lr_min: float, lr_max: float) -> tuple[bool | None, str]:
    """Whether experiment and theory agree, and why not when they do not."""
    if theory is None:
        if lo is None:
            return None, "no theory: no minimum is known and no run converged to one"
        # Stable runs that never converged: a finite run cannot tell a far or flat minimum
        # from a slope whose curvature fades at infinity, where no curvature is ever zero:
        # logistic loss (gd stable in the usual sense: f falls monotonically to inf f = 0,
        # ∇f → 0, yet the iterates drift off) or −log x (f → −∞ as ∇f → 0).
        return None, ("no theory: no minimum is known and no stable run converged: f and ‖∇f‖ still fall, "
                      "towards a minimum more --steps would reach, or towards none: a slope whose curvature "
                      "fades far off (log(1 + e^−x) → 0, −log x → −∞) looks the same to a finite run")
    if name in ADAPTIVE:
        return None, "no bound to compare: " + theory.note
    bound = theory.bound
    if bound is None:
        return None, theory.note or "no bound"
    if lo is None:
        return False, (f"even lr-min = {lr_min:g} was unstable, but theory allows lr < {bound:.6g}: " +
                       _why_not(curv, surface, x0))
    if hi is None:
        if bound >= lr_max:
            return True, f"every rate up to lr-max = {lr_max:g} was stable, as theory says (bound {bound:.6g})"
        return False, (f"no rate up to lr-max = {lr_max:g} was unstable, though theory bounds lr by {bound:.6g}: "
                       + _why_not(curv, surface, x0))
    rel = abs(lo - bound) / bound
    if rel <= AGREE or lo <= bound <= hi:
        return True, f"experiment and theory agree: {lo:.6g} vs {bound:.6g} ({100 * rel:.2g}% apart)"
    return False, f"experiment {lo:.6g} vs theory {bound:.6g} ({100 * rel:.2g}% apart): " + _why_not(curv, surface, x0)


def _why_not(curv: Curvature | None, surface: Surface, x0: Sequence[float]) -> str:
    reasons = []
    if curv is not None and not curv.quadratic:
        reasons.append("the surface is not quadratic, so the bound from the Hessian at the minimum holds only "
                       "near it; on the way, where the curvature differs, another rate decides")
        dist = float(np.linalg.norm(np.array(x0) - np.array(curv.point)))
        if dist > 0:
            reasons.append(f"the start is {dist:.3g} away from the minimum")
    else:
        reasons.append("near the bound a run grows or shrinks very slowly: more --steps show it")
    return "; ".join(reasons)
