"""The step-by-step loop for runs the batch engine does not make: mini-batches, learning-
rate schedules, line searches, BFGS and L-BFGS, and sharpness along a run.

Each run advances alone (a line search or a mini-batch draw is per run), and produces the
same :class:`~gradlab.runs.Run` records as :func:`gradlab.descent.runs.descend`, with the stop
rules of that engine: *converged* when the full gradient's norm falls below ``tol``,
*diverged* when x leaves the escape radius or f or ∇f stops being finite, else
*max_steps*; and one more, *stalled*, when a line search finds no acceptable step (which
happens near a minimum, where float64 cannot show f decreasing any more).

The optimizers are gradlab's own (:mod:`gradlab.descent.optimizers`) with their states; a
schedule multiplies each step by schedule(t)/lr, which is optax's ``scale_by_schedule``
after the optimizer's transform, so for every optimizer the rate at update t is
schedule(t). The full batch takes exactly the steps of :func:`gradlab.descent.runs.descend`.

>>> from gradlab.surfaces import builtin
>>> from gradlab.descent.runs import RunSpec
>>> res = run_training(builtin()["rosenbrock"], ["bfgs"], None)
>>> r = res.runs[0]
>>> r.status, r.steps < 40, [round(v, 6) for v in r.x]
('converged', True, [1.0, 1.0])
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Sequence

import numpy as np

from gradlab.descent import linesearch
from gradlab.descent import optimizers
from gradlab.descent import quasinewton
from gradlab.descent.descend import DEFAULT_LR, DEFAULT_STEPS, DescentResult, MAX_RUNS, MAX_STEPS, MAX_WORK, \
    objective_for
from gradlab.errors import BadInput, LimitExceeded
from gradlab.descent.minibatch import RowLoss, batches, check_batch, check_seed
from gradlab.descent.runs import Objective, Run, RunSpec, nearest_minima, outcome_message
from gradlab.descent.schedules import Schedule, parse_schedule
from gradlab.surfaces import Surface
from gradlab.present import Presentable

NAMES = optimizers.NAMES + quasinewton.NAMES
#: Optimizers whose step is a descent direction a line search can scale.
SEARCHABLE = ("gd", "newton", "bfgs", "lbfgs")
#: Trajectory points kept for sharpness at most (evenly spaced beyond that).
MAX_SHARPNESS_POINTS = 5000
MAX_SHARPNESS_DIMS = 50
LOOP_WORK = 2_000_000


@dataclass(frozen=True)
class Settings:
    """What the training loop adds to a descent.

    ``batch_size``: rows per mini-batch (``None``: the full batch); ``seed``: the draw of
    the batches; ``epochs``: passes over the data (sets the steps); ``schedule``: the
    learning-rate schedule; ``line_search``: ``armijo`` or ``wolfe`` (bfgs and lbfgs use
    ``wolfe`` unless told otherwise); ``sharpness``: record λ_max(H(x_k)) along each run.
    """

    batch_size: int | None = None
    seed: int | None = None
    epochs: int | None = None
    schedule: Schedule | str | None = None  # text is read once the number of steps is known
    line_search: str | None = None
    sharpness: bool = False

    def to_record(self, rows: int | None = None) -> dict[str, Any]:
        return {
            "batch_size": self.batch_size if self.batch_size is not None else rows,
            "rows": rows, "seed": self.seed, "epochs": self.epochs,
            "schedule": self.schedule.to_record() if self.schedule else None,
            "line_search": self.line_search,
            "line_search_constants": ({"c1": linesearch.C1, "rho": linesearch.RHO} if self.line_search == "armijo"
                                      else {"c1": linesearch.C1, "c2": linesearch.C2}
                                      if self.line_search == "wolfe" else None),
            "sharpness": self.sharpness,
        }


def check_names(optimizer_names: Sequence[str]) -> None:
    """Refuse an unknown optimizer, naming every one ``descend`` runs (the batch
    engine's and bfgs, lbfgs), before the choice of loop."""
    for name in optimizer_names:
        if name not in NAMES:
            raise BadInput(f"unknown optimizer {name!r} (choose from {', '.join(NAMES)})", "--optimizer")


def wanted(optimizer_names: Sequence[str], settings: Settings) -> bool:
    """Whether these runs need this loop rather than the batch engine."""
    return (any(o in quasinewton.NAMES for o in optimizer_names) or settings.batch_size is not None
            or settings.epochs is not None or settings.schedule is not None
            or settings.line_search is not None or settings.sharpness or settings.seed is not None)


@dataclass(frozen=True)
class TrainingRun(Run):
    """A :class:`Run` with what the training loop records along it (``None`` when not
    asked for); every per-step array has one entry per update, in order:

    - ``lr_per_step``: the rate used at each update (the schedule's value, or the
      accepted step α of a line search);
    - ``evaluations``: f evaluations of each line search;
    - ``batch_loss``: the mini-batch's mean loss at x_k, before update k;
    - ``epoch_loss``: the full f at the end of each epoch, epoch 0 being the start;
    - ``sharpness``: λ_max(H(x_k)) at the steps ``sharpness_steps``;
    - ``skipped_updates``: BFGS/L-BFGS curvature pairs skipped because yᵀs ≤ 0.
    """

    lr_per_step: np.ndarray | None = field(default=None, repr=False, compare=False)
    evaluations: np.ndarray | None = field(default=None, repr=False, compare=False)
    batch_loss: np.ndarray | None = field(default=None, repr=False, compare=False)
    epoch_loss: np.ndarray | None = field(default=None, repr=False, compare=False)
    sharpness: np.ndarray | None = field(default=None, repr=False, compare=False)
    sharpness_steps: np.ndarray | None = field(default=None, repr=False, compare=False)
    skipped_updates: int = 0

    def to_record(self) -> dict[str, Any]:
        rec = super().to_record()
        for key in ("lr_per_step", "evaluations", "batch_loss", "epoch_loss", "sharpness", "sharpness_steps"):
            v = getattr(self, key)
            if v is not None:
                rec[key] = [x.item() for x in np.asarray(v)]
        if self.optimizer in quasinewton.NAMES:
            rec["skipped_updates"] = self.skipped_updates
        return rec


@dataclass(frozen=True)
class TrainingResult(DescentResult):
    """A :class:`~gradlab.descent.DescentResult` made by the training loop, with its
    ``settings`` and the data's row count (``rows``, ``None`` without data)."""

    settings: Settings = field(default_factory=Settings)
    rows: int | None = None
    batches_per_epoch: int | None = None

    def to_record(self) -> dict[str, Any]:
        rec = super().to_record()
        rec["training"] = self.settings.to_record(self.rows)
        rec["training"]["batches_per_epoch"] = self.batches_per_epoch
        return rec

    def view(self):
        v = super().view()
        return replace(v, notes=v.notes + tuple(self.notes()))

    def notes(self) -> list[str]:
        s, out = self.settings, []
        if self.rows is not None and (s.batch_size is not None or s.epochs is not None):
            b = s.batch_size or self.rows
            out.append(f"mini-batches of {b} of {self.rows} rows (seed {s.seed or 0}), {self.batches_per_epoch} "
                       f"update{'s' if self.batches_per_epoch != 1 else ''} an epoch; each step's gradient is the "
                       "exact gradient of its batch's mean loss")
        if s.schedule is not None:
            T = max(1, self.steps)
            lrs = sorted({r.lr for r in self.runs})
            lr = lrs[0]
            pts = sorted({0, T // 2, T - 1})
            vals = ", ".join(f"t={t}: {s.schedule.value(lr, t):.4g}" for t in pts)
            out.append(f"schedule {s.schedule.describe()} (as optax's); for lr={lr:g}: {vals}")
        for r in self.runs:
            if not isinstance(r, TrainingRun):
                continue
            if r.evaluations is not None and r.lr_per_step is not None and len(r.lr_per_step):
                a = np.asarray(r.lr_per_step)
                out.append(f"{r.optimizer} lr={r.lr:g}: {s.line_search or 'wolfe'} α from {a.min():.4g} to "
                           f"{a.max():.4g} (median {np.median(a):.4g}), {np.mean(r.evaluations):.3g} f-evaluations "
                           "a step")
            if r.sharpness is not None and len(r.sharpness):
                lam = np.asarray(r.sharpness)
                k = int(np.nanargmax(lam)) if np.isfinite(lam).any() else 0
                c, formula = edge_factor(r.optimizer, r.hyper)
                tail = ""
                if c is not None and r.evaluations is None:
                    lr_t = (np.asarray(r.lr_per_step)[np.minimum(r.sharpness_steps, len(r.lr_per_step) - 1)]
                            if r.lr_per_step is not None and len(r.lr_per_step) else r.lr)
                    above = int(np.count_nonzero(lam > c / lr_t))
                    what = f"{formula}/lr = {c / r.lr:.4g}" if r.lr_per_step is None else f"{formula}/lr_t"
                    tail = f"; {what}, exceeded at {above} of {lam.size} points"
                out.append(f"{r.optimizer} lr={r.lr:g}: sharpness λmax(H) from {lam[0]:.4g} to {lam[-1]:.4g}, "
                           f"largest {lam[k]:.4g} at step {int(r.sharpness_steps[k])}{tail}")
            if r.status == "stalled":
                out.append(f"{r.optimizer} lr={r.lr:g}: {r.message}")
        return out


def edge_factor(optimizer: str, hyper: dict) -> tuple[float | None, str]:
    """c with the stability edge λmax = c/lr on a quadratic, and c as a formula: 2 for gd,
    2(1 + β) for heavy ball, 2(1 + β)/(1 + 2β) for Nesterov (``None`` for the others).

    >>> edge_factor("momentum", {"momentum": 0.5})
    (3.0, '2(1+β)')
    """
    beta = hyper.get("momentum")
    if optimizer == "gd":
        return 2.0, "2"
    if optimizer == "momentum" and beta is not None:
        return 2 * (1 + beta), "2(1+β)"
    if optimizer == "nesterov" and beta is not None:
        return 2 * (1 + beta) / (1 + 2 * beta), "2(1+β)/(1+2β)"
    return None, ""


def check(surface: Surface, optimizer_names: Sequence[str], lrs: Sequence[float], starts, steps: int | None,
          tol: float, settings: Settings) -> None:
    """Refuse bad combinations before any work (exit 2)."""
    check_names(optimizer_names)
    if len(set(optimizer_names)) != len(optimizer_names):
        raise BadInput("an optimizer is listed twice", "--optimizer")
    for lr in lrs:
        if not (math.isfinite(lr) and lr > 0):
            raise BadInput(f"learning rate {lr!r} must be a positive number", "--lr")
    if not (math.isfinite(tol) and tol > 0):
        raise BadInput("the tolerance must be a positive number", "--tol")
    if settings.line_search is not None:
        if settings.line_search not in linesearch.NAMES:
            raise BadInput(f"unknown line search {settings.line_search!r} (choose from armijo, wolfe)",
                           "--line-search")
        bad = [o for o in optimizer_names if o not in SEARCHABLE]
        if bad:
            raise BadInput(f"a line search needs a descent direction: {bad[0]} does not give one (use it with "
                           f"{', '.join(SEARCHABLE)})", "--line-search")
    if settings.epochs is not None:
        if steps is not None:
            raise BadInput("give --epochs or --steps, not both", "--epochs")
        if not 1 <= settings.epochs <= MAX_STEPS:
            raise LimitExceeded(f"--epochs must be from 1 to {MAX_STEPS}", "--epochs")
    if settings.epochs is not None and not surface.spec.get("data"):
        raise BadInput(f"an epoch is a pass over the data; {surface.name or 'this expression'} has none "
                       "(use --steps)", "--epochs")
    if settings.seed is not None and settings.batch_size is None:
        raise BadInput("--seed draws the mini-batches; give --batch-size too", "--seed")
    if settings.batch_size is not None and settings.batch_size < 1:
        raise BadInput(f"the batch size must be a positive whole number, got {settings.batch_size}", "--batch-size")
    check_seed(settings.seed)
    if settings.sharpness and len(surface.parsed.variables) > MAX_SHARPNESS_DIMS:
        raise LimitExceeded(f"--sharpness needs the Hessian's eigenvalues at every step; at most "
                            f"{MAX_SHARPNESS_DIMS} variables", "--sharpness")


def _default_lrs(surface: Surface, name: str) -> list[float]:
    return [1.0] if name in ("newton", "bfgs", "lbfgs") else [surface.lr or DEFAULT_LR]


def run_training(surface: Surface, optimizer_names: Sequence[str], lrs: Sequence[float] | None,
                 starts: Sequence[Sequence[float]] | None = None, steps: int | None = None,
                 tol: float = 1e-6, hyper: dict | None = None, settings: Settings | None = None,
                 trajectory: bool = True, progress: Callable[[int, int], None] | None = None,
                 _prepared: dict | None = None) -> TrainingResult:
    """Every optimizer × learning rate × start on ``surface``, run by the training loop
    (``lrs=None``: 1 for newton, bfgs and lbfgs, else the surface's rate).

    ``_prepared`` may hold a ``RowLoss`` (``rows``) and an ``Objective`` (``obj``) already
    built for this surface and start, for callers that run it many times."""
    _prepared = _prepared or {}
    settings = settings or Settings()
    hyper = hyper or {}
    starts = [tuple(float(v) for v in s) for s in (starts or [surface.start])]
    per = {o: list(lrs) if lrs is not None else _default_lrs(surface, o) for o in optimizer_names}
    check(surface, optimizer_names, [lr for v in per.values() for lr in v], starts, steps, tol, settings)
    n = len(surface.parsed.variables)
    for s in starts:
        if len(s) != n:
            raise BadInput(f"a start has {len(s)} coordinates; the function has {n} variables", "--start")

    rows = None
    bpe = None
    if settings.batch_size is not None or settings.epochs is not None:
        if settings.batch_size is not None or surface.spec.get("data"):
            rows = _prepared.get("rows") or RowLoss(surface)
            check_batch(settings.batch_size, rows.n_rows)
            bpe = rows.batches_per_epoch(settings.batch_size or rows.n_rows)
    if settings.epochs is not None:
        steps = settings.epochs * (bpe or 1)
    steps = steps if steps is not None else (surface.steps or DEFAULT_STEPS)
    if not 1 <= steps <= MAX_STEPS:
        raise LimitExceeded(f"{steps} steps; the limit is {MAX_STEPS}", "--steps" if settings.epochs is None
                            else "--epochs")
    specs = [RunSpec(o, float(lr), s) for o in optimizer_names for lr in per[o] for s in starts]
    if len(specs) > MAX_RUNS:
        raise LimitExceeded(f"{len(specs)} runs; the limit is {MAX_RUNS}", "--lr/--start")
    # This loop is Python per step (some 20,000 steps a second): a budget of about a minute.
    if len(specs) * steps > LOOP_WORK:
        raise LimitExceeded(f"{len(specs)} runs × {steps} steps is more than {LOOP_WORK:.0e} steps in all "
                            "for the step-by-step loop", "--steps")
    if isinstance(settings.schedule, str):
        settings = replace(settings, schedule=parse_schedule(settings.schedule, steps))
    obj = _prepared.get("obj") or objective_for(surface, starts)
    mult = settings.schedule.multipliers(1.0, steps) if settings.schedule is not None else None
    runs = []
    for i, spec in enumerate(specs):
        if progress is not None:
            progress(i, len(specs))
        runs.append(run_one(obj, spec, steps, tol, hyper, settings, rows, mult, trajectory))
    bounds = ()
    if not settings.line_search and all(o in optimizers.NAMES for o in optimizer_names):
        from gradlab.descent.descend import _bounds  # the stability bound column, as descend shows it

        bounds = _bounds(surface, runs, hyper)
    return TrainingResult(surface, tuple(runs), steps, tol, obj.f_star, bounds, settings,
                          rows.n_rows if rows is not None else None, bpe)


def _gradient(obj: Objective) -> Callable[[np.ndarray], np.ndarray]:
    """∇f at an (n, 1) column, computed as :func:`gradlab.descent.runs.descend` computes it for a
    single run (Python floats, NumPy where those fail), so the full batch matches it bit
    for bit."""
    scalar = obj.grad.scalar
    function = obj.grad.function
    fallback = (ValueError, OverflowError, ZeroDivisionError, TypeError)

    def grad(x: np.ndarray) -> np.ndarray:
        out = np.empty_like(x)
        try:
            out.reshape(-1)[:] = scalar(*x.reshape(-1).tolist())
        except fallback:
            for i, v in enumerate(function(*x)):
                out[i] = v
        return out

    return grad


def run_one(obj: Objective, spec: RunSpec, steps: int, tol: float, hyper: dict, settings: Settings,
            rows: RowLoss | None, mult: np.ndarray | None, trajectory: bool = True) -> TrainingRun:
    """One run of the training loop (see the module's docstring for its rules)."""
    n = obj.n
    name = spec.optimizer
    quasi = name in quasinewton.NAMES
    search = settings.line_search or ("wolfe" if quasi else None)
    grad = _gradient(obj)

    def f_of(x1d: np.ndarray) -> float:
        return float(obj.f(np.asarray(x1d, dtype=float))[0])

    def g_of(x1d: np.ndarray) -> np.ndarray:
        return grad(np.asarray(x1d, dtype=float).reshape(n, 1)).reshape(-1)

    opt = None
    qn = None
    if quasi:
        qn = quasinewton.make(name, n)
    else:
        # With a line search the optimizer gives the direction (rate 1) and the search the rate.
        lr0 = np.array([1.0 if search else spec.lr])
        opt = optimizers.make(name, lr0, obj.hessian if name == "newton" else None, **hyper)
        state = opt.init(np.array(spec.start, dtype=float).reshape(n, 1))

    full_batch = rows is None or (settings.batch_size or rows.n_rows) >= rows.n_rows
    draw = batches(rows.n_rows, settings.batch_size or rows.n_rows, settings.seed or 0) if rows is not None else None

    x = np.array(spec.start, dtype=float).reshape(n, 1)
    xs = [x]
    lr_used: list[float] = []
    evals: list[int] = []
    batch_loss: list[float] = []
    drawn: list[np.ndarray] = []
    status, taken, div_at, message = "max_steps", steps, None, ""
    bound = obj.bound
    old_f = None
    skipped = 0
    g = grad(x)
    f: float | None = f_of(x[:, 0]) if search or quasi else None  # else computed at the end
    modified = 0
    with np.errstate(all="ignore"):
        for k in range(steps + 1):
            gn = float(np.sqrt(np.sum(g * g)))
            if not (math.isfinite(gn) and (f is None or math.isfinite(f)) and np.all(np.abs(x) <= bound)):
                status, taken, div_at = "diverged", k, k
                break
            if gn < tol:
                status, taken = "converged", k
                break
            if k == steps:
                break
            m = 1.0 if mult is None else float(mult[k])
            if rows is not None and not full_batch:
                idx = next(draw)
                gb = rows.grad(x, idx).reshape(n, 1)
                drawn.append(idx)
                if search:
                    batch_loss.append(rows.loss(x, idx))
            else:
                gb = g
            if quasi:
                p = qn.direction(gb[:, 0])
                if name == "lbfgs" and not qn.pairs:
                    p = p / max(1.0, float(np.linalg.norm(p)))  # the first step: at most unit length
            elif search:
                step1, state = opt.update(gb, state, x)
                p = step1[:, 0]
            if quasi or search:
                alpha0 = spec.lr * m
                x1 = x[:, 0]
                if full_batch:
                    fs, gs, fx = f_of, g_of, f
                else:  # a mini-batch searches along its own loss
                    fs, fx = (lambda z, b=idx: rows.loss(z, b)), batch_loss[-1]
                    gs = lambda z, b=idx: rows.grad(z, b)  # noqa: E731
                if search == "armijo":
                    res = linesearch.armijo(fs, x1, fx, gb[:, 0], p, alpha0)
                else:
                    old = (old_f if old_f is not None else f + gn / 2) if quasi and full_batch else None
                    res = linesearch.wolfe(fs, gs, x1, fx, gb[:, 0], p, alpha0, old_fx=old)
                evals.append(res.evaluations)
                if res.alpha is None:
                    status, taken = "stalled", k
                    message = (f"the {search} line search found no acceptable step at step {k} "
                               f"(‖∇f‖ = {gn:.3g}: f no longer decreases measurably along the direction)")
                    break
                lr_used.append(res.alpha)
                x_new = x + res.alpha * p.reshape(n, 1)
                g_new = res.grad.reshape(n, 1) if res.grad is not None and full_batch else grad(x_new)
                if quasi:
                    gb_new = g_new if full_batch else rows.grad(x_new, idx).reshape(n, 1)
                    if not qn.update((x_new - x)[:, 0], (gb_new - gb)[:, 0]):
                        skipped += 1
                old_f = f
                x, g, f = x_new, g_new, res.f if full_batch else f_of(x_new[:, 0])
            else:
                step, state = opt.update(gb, state, x)
                if mult is not None:
                    step = step * m
                    lr_used.append(spec.lr * m)
                x = x + step
                g = grad(x)
                f = None  # f along the run is computed at the end, in one call
            xs.append(x)
        if name == "newton" and opt is not None:
            modified = int(state[1][0])

    traj = np.concatenate(xs, axis=1).T  # (steps + 1, n)
    with np.errstate(all="ignore"):
        traj_f = np.broadcast_to(obj.f(traj.T)[0], (len(traj),)).copy()
    bad_f = np.flatnonzero(~np.isfinite(traj_f))
    if bad_f.size and (div_at is None or bad_f[0] < div_at):
        # f undefined where ∇f is finite (log(x) at x < 0): divergence, as the batch engine says
        k = int(bad_f[0])
        traj, traj_f = traj[: k + 1], traj_f[: k + 1]
        status, taken, div_at, message = "diverged", k, k, ""
        with np.errstate(all="ignore"):
            g = grad(traj[-1].reshape(n, 1))
    if rows is not None and not search:
        if full_batch:
            batch_loss = list(traj_f[:taken])
        else:
            batch_loss = list(rows.losses(traj[:taken], drawn[:taken]))
    final = traj[-1]
    d = float(nearest_minima(obj.minima, final.reshape(-1, 1))[1][0])
    dist = None if math.isnan(d) else d
    gn = float(np.sqrt(np.sum(g * g)))
    if not message:
        message = outcome_message(status, taken, div_at, bound)
    if modified:
        message += (f"; {modified} step{'s' if modified != 1 else ''} met a Hessian that is not positive "
                    "definite and used |eigenvalues| instead (saddle-free Newton)")
    if skipped:
        message += f"; {skipped} curvature pair{'s' if skipped != 1 else ''} with yᵀs ≤ 0 skipped"
    epoch_loss = None
    if rows is not None:
        bpe = rows.batches_per_epoch(settings.batch_size or rows.n_rows)
        epoch_loss = traj_f[::bpe].copy()
    sharp = sharp_steps = None
    if settings.sharpness:
        from gradlab.descent.stability import sharpness_along

        sharp_steps, sharp = sharpness_along(obj, traj)
    hyper_rec = {} if quasi else opt.hyper
    if search:
        hyper_rec = {**hyper_rec, "line_search": search}
    return TrainingRun(
        name, spec.lr, tuple(float(v) for v in spec.start), status, int(taken), tuple(final.tolist()),
        float(traj_f[-1]), gn, div_at, dist, hyper_rec, message,
        traj if trajectory else None, traj_f if trajectory else None,
        lr_per_step=np.array(lr_used) if (mult is not None or search) else None,
        evaluations=np.array(evals, dtype=int) if search else None,
        batch_loss=np.array(batch_loss) if rows is not None else None,
        epoch_loss=epoch_loss, sharpness=sharp, sharpness_steps=sharp_steps, skipped_updates=skipped,
    )


MAX_SEEDS = 1000


@dataclass(frozen=True)
class SeedSweep(Presentable):
    """A learning-rate sweep with mini-batches: every rate × seed, and the spread.

    - ``lrs``, ``seeds``: the grid; ``final[i, j]``: the full f at the end of the run at
      lrs[i] with seeds[j] (NaN where it diverged); ``status[i, j]``: its status.
    - ``epoch_loss[i, j]``: the full f after each epoch (epoch 0 the start), NaN-padded.
    - per rate: ``median``, ``low``, ``high``: the median, smallest and largest final f
      over the seeds that did not diverge; ``diverged``: how many seeds diverged.
    - ``largest_stable_lr``: the largest rate at which no seed diverged and every run
      ended below its starting f, scanning up to the first rate where one did not.
    """

    surface: Surface
    optimizer: str
    batch_size: int
    rows: int
    steps: int
    lrs: tuple[float, ...]
    seeds: tuple[int, ...]
    final: np.ndarray
    status: np.ndarray
    epoch_loss: np.ndarray
    f0: float
    settings: Settings

    @property
    def diverged(self) -> np.ndarray:
        return np.count_nonzero(self.status == "diverged", axis=1)

    def _stat(self, fn) -> np.ndarray:
        out = np.full(len(self.lrs), np.nan)
        for i, row in enumerate(self.final):
            ok = row[np.isfinite(row)]
            if ok.size:
                out[i] = fn(ok)
        return out

    @property
    def median(self) -> np.ndarray:
        return self._stat(np.median)

    @property
    def low(self) -> np.ndarray:
        return self._stat(np.min)

    @property
    def high(self) -> np.ndarray:
        return self._stat(np.max)

    @property
    def stable(self) -> np.ndarray:
        with np.errstate(invalid="ignore"):
            return (self.diverged == 0) & np.all(self.final < self.f0, axis=1)

    @property
    def largest_stable_lr(self) -> float | None:
        st = self.stable
        if not st.size or not st[0]:
            return None
        bad = np.flatnonzero(~st)
        return self.lrs[(bad[0] if bad.size else len(st)) - 1]

    def to_record(self) -> dict[str, Any]:
        def num(v):
            return float(v) if math.isfinite(v) else None

        return {
            "command": "sweep", "kind": "mini_batch", "surface": self.surface.name or None,
            "expression": self.surface.text, "optimizer": self.optimizer, "batch_size": self.batch_size,
            "rows": self.rows, "max_steps": self.steps, "seeds": list(self.seeds), "f_start": self.f0,
            "training": self.settings.to_record(self.rows),
            "largest_stable_lr": self.largest_stable_lr,
            "lrs": [
                {"lr": lr, "median_f": num(self.median[i]), "min_f": num(self.low[i]), "max_f": num(self.high[i]),
                 "diverged": int(self.diverged[i]), "stable": bool(self.stable[i]),
                 "final_f": [num(v) for v in self.final[i]], "status": [str(s) for s in self.status[i]]}
                for i, lr in enumerate(self.lrs)
            ],
        }

    def view(self):
        from gradlab.views import View

        rows = tuple((lr, float(self.median[i]), float(self.low[i]), float(self.high[i]),
                      f"{int(self.diverged[i])}/{len(self.seeds)}", "yes" if self.stable[i] else "no")
                     for i, lr in enumerate(self.lrs))
        name = self.surface.name or f"f = {self.surface.text}"
        lsl = self.largest_stable_lr
        notes = (f"final full f over {len(self.seeds)} seeds ({', '.join(map(str, self.seeds[:8]))}"
                 f"{', …' if len(self.seeds) > 8 else ''}); f at the start {self.f0:.6g}",
                 f"largest rate at which every seed was stable: {lsl:.6g}" if lsl is not None
                 else "no rate was stable for every seed")
        return View(f"mini-batch sweep of {self.optimizer} on {name}: batches of {self.batch_size} of "
                    f"{self.rows} rows, {self.steps} steps", ("lr", "median f", "min f", "max f", "diverged",
                                                               "stable"), rows, notes=notes, digits=4)


def run_seed_sweep(surface: Surface, optimizer: str, lrs: Sequence[float], seeds: Sequence[int],
                   settings: Settings, steps: int | None = None, tol: float = 1e-6, hyper: dict | None = None,
                   start: Sequence[float] | None = None,
                   progress: Callable[[int, int], None] | None = None) -> SeedSweep:
    """Every rate × seed with mini-batches, and the spread of the final loss."""
    if not 1 <= len(seeds) <= MAX_SEEDS:
        raise BadInput(f"give from 1 to {MAX_SEEDS} seeds", "--seeds")
    for s in seeds:
        check_seed(s, "--seeds")
    results = []
    total = len(lrs) * len(seeds)
    starts = [tuple(float(v) for v in (start if start is not None else surface.start))]
    prepared = {"rows": RowLoss(surface), "obj": objective_for(surface, starts)}
    if optimizer in optimizers.NAMES and optimizer != "newton" and settings.line_search is None:
        return _seed_sweep_columns(surface, optimizer, lrs, seeds, settings, steps, tol, hyper or {}, starts[0],
                                   prepared)
    for j, seed in enumerate(seeds):
        res = run_training(surface, [optimizer], list(lrs), starts, steps, tol,
                           hyper, replace(settings, seed=seed), trajectory=False,
                           progress=(lambda i, _n, j=j: progress(j * len(lrs) + i, total)) if progress else None,
                           _prepared=prepared)
        results.append(res)
    first = results[0]
    n_lr, n_seed = len(lrs), len(seeds)
    final = np.full((n_lr, n_seed), np.nan)
    status = np.empty((n_lr, n_seed), dtype=object)
    epochs = max(len(r.epoch_loss) for res in results for r in res.runs)
    curves = np.full((n_lr, n_seed, epochs), np.nan)
    for j, res in enumerate(results):
        for i, r in enumerate(res.runs):
            status[i, j] = r.status
            final[i, j] = r.f if r.status != "diverged" else np.nan
            curves[i, j, :len(r.epoch_loss)] = r.epoch_loss
    obj_f0 = float(first.runs[0].epoch_loss[0])
    return SeedSweep(surface, optimizer, first.settings.batch_size or first.rows, first.rows, first.steps,
                     tuple(float(v) for v in lrs), tuple(int(s) for s in seeds), final, status, curves, obj_f0,
                     first.settings)


def parse_seeds(text: str, where: str = "--seeds") -> list[int]:
    """``5`` (the seeds 0 … 4) or a list ``1,2,7``.

    >>> parse_seeds("3"), parse_seeds("4, 9")
    ([0, 1, 2], [4, 9])
    """
    parts = [p.strip() for p in (text or "").split(",")]
    try:
        values = [int(p) for p in parts]
    except ValueError:
        raise BadInput(f"{text!r} must be a count of seeds (5) or a list of seeds (1,2,7)", where) from None
    if len(values) == 1:
        if not 1 <= values[0] <= MAX_SEEDS:
            raise BadInput(f"the number of seeds must be from 1 to {MAX_SEEDS}, got {values[0]}", where)
        return list(range(values[0]))
    if len(set(values)) != len(values):
        raise BadInput("a seed is listed twice", where)
    for v in values:
        check_seed(v, where)
    return values


def _seed_sweep_columns(surface: Surface, optimizer: str, lrs: Sequence[float], seeds: Sequence[int],
                        settings: Settings, steps: int | None, tol: float, hyper: dict, start: tuple,
                        prepared: dict) -> SeedSweep:
    """Every rate × seed advanced together as the columns of (n, R) arrays: the steps of
    :func:`run_one`, vectorised (each column draws its own batches)."""
    rows: RowLoss = prepared["rows"]
    obj: Objective = prepared["obj"]
    check(surface, [optimizer], list(lrs), [start], steps, tol, replace(settings, seed=seeds[0]))
    B = check_batch(settings.batch_size, rows.n_rows)
    bpe = rows.batches_per_epoch(B)
    if settings.epochs is not None:
        steps = settings.epochs * bpe
    steps = steps if steps is not None else (surface.steps or DEFAULT_STEPS)
    if not 1 <= steps <= MAX_STEPS:
        raise LimitExceeded(f"{steps} steps; the limit is {MAX_STEPS}", "--steps")
    pairs = [(lr, seed) for lr in lrs for seed in seeds]
    R = len(pairs)
    if R * steps > MAX_WORK:
        raise LimitExceeded(f"{R} runs × {steps} steps is more than {MAX_WORK:.0e} steps in all", "--steps")
    sched = parse_schedule(settings.schedule, steps) if isinstance(settings.schedule, str) else settings.schedule
    mult = sched.multipliers(1.0, steps) if sched is not None else None
    opt = optimizers.make(optimizer, np.array([p[0] for p in pairs]), None, **hyper)
    X = np.repeat(np.array(start, dtype=float)[:, None], R, axis=1)
    state = opt.init(X)
    draws = [batches(rows.n_rows, B, seed) for _, seed in pairs]
    alive = np.ones(R, dtype=bool)
    status = np.full(R, "max_steps", dtype=object)
    final_f = np.full(R, np.nan)
    epochs = steps // bpe + 1
    curves = np.full((R, epochs), np.nan)
    bound = obj.bound
    g_row = rows._g.function
    with np.errstate(all="ignore"):
        for k in range(steps + 1):
            G = obj.grad(X)
            F = np.broadcast_to(obj.f(X)[0], (R,))
            if k % bpe == 0:
                curves[alive, k // bpe] = F[alive]
            gn = np.sqrt(np.einsum("ir,ir->r", G, G))
            bad = alive & ~(np.isfinite(gn) & np.isfinite(F) & (np.abs(X) <= bound).all(axis=0))
            conv = alive & ~bad & (gn < tol)
            status[bad], status[conv] = "diverged", "converged"
            final_f[conv] = F[conv]
            alive &= ~(bad | conv)
            if k == steps or not alive.any():
                final_f[alive] = F[alive]
                break
            idx = np.stack([next(d) for d in draws])  # (R, b): every run's batch of this step
            parts = g_row(*X[:, :, None], *rows.data[:, idx])
            Gb = np.stack([np.broadcast_to(v, idx.shape).mean(axis=1) for v in parts])
            step, state = opt.update(Gb, state, X)
            if mult is not None:
                step = step * mult[k]
            X = np.where(alive, X + step, X)
    final = final_f.reshape(len(lrs), len(seeds))
    stat = status.reshape(len(lrs), len(seeds))
    final[stat == "diverged"] = np.nan
    f0 = float(obj.f(np.array(start, dtype=float))[0])
    return SeedSweep(surface, optimizer, B, rows.n_rows, steps, tuple(float(v) for v in lrs),
                     tuple(int(v) for v in seeds), final, stat, curves.reshape(len(lrs), len(seeds), epochs), f0,
                     replace(settings, schedule=sched))
