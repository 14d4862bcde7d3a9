"""The descent engine: every run of a batch advanced together, in one loop.

All combinations of optimizer × learning rate × start become columns of ``(n, R)``
arrays; each step evaluates the compiled gradient once per optimizer group and applies
the optimizer's pure update. Runs that converge or diverge are recorded and dropped from
the arrays, so the loop only works on live runs. Without a trajectory request only
summaries are kept.

>>> from gradlab.calculus.parsing import parse
>>> obj = Objective(parse("x**2 + y**2"))
>>> [r] = descend(obj, [RunSpec("gd", 0.5, (3.0, 4.0))], steps=10, tol=1e-8)
>>> r.status, r.steps, r.x
('converged', 1, (0.0, 0.0))
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from gradlab.calculus import numeric
from gradlab.descent import optimizers
from gradlab.descent import scalar, scalar_newton
from gradlab.calculus.numeric import Compiled
from gradlab.calculus.parsing import Parsed
from gradlab.views import plural

#: A run has diverged when a coordinate leaves ±ESCAPE × its scale (the size of the
#: window, the start and the known minima) or anything becomes non-finite.
ESCAPE = 1e3
#: Steps advanced between stop tests (the tests still find the exact step).
CHUNK = 32
MAX_CHUNK = 256
#: The fast engine's shortest chunk (large batches; see descend).
FAST_CHUNK = 8
#: From this many numbers (n × runs) on, the fast engine tests a group at every step
#: (see _Group) instead of storing a chunk of iterates: they no longer fit in cache.
STEPWISE_MIN = 4096
STATUSES = ("converged", "max_steps", "diverged")
#: Up to this many runs, each is made alone on Python floats (when the batch has at least
#: FLOAT_WORK_MIN run-steps to do: below that, generating the loops costs more).
FLOAT_RUNS_MAX = 8
FLOAT_WORK_MIN = 20_000


def outcome_message(status: str, steps: int, diverged_at: int | None, bound: float) -> str:
    """What happened to a run, in words (every descent loop says it the same way).

    >>> outcome_message("max_steps", 1, None, 1e3)
    'still moving after 1 step'
    """
    return {
        "converged": f"‖∇f‖ fell below the tolerance after {plural(steps, 'step')}",
        "max_steps": f"still moving after {plural(steps, 'step')}",
        "diverged": ("f or ∇f is undefined or infinite at the start" if diverged_at == 0 else
                     f"left the region |x| ≤ {bound:g}, overflowed or reached where f is undefined "
                     f"at step {diverged_at}"),
    }[status]


class Objective:
    """f, ∇f and (lazily, for Newton) the Hessian, compiled for ``(n, R)`` arrays.

    ``minima`` are the known minima as floats (``(k, n)``), ``f_star`` the lowest known
    value of f, ``bound`` the escape radius used to detect divergence.
    """

    def __init__(self, parsed: Parsed, minima: Sequence[Sequence[float]] = (), f_star: float | None = None,
                 scale: float = 1.0):
        self.parsed = parsed
        self.variables = parsed.variables
        self.n = len(parsed.variables)
        self.f = Compiled([parsed.expr], parsed.variables)
        self._gradient = numeric.gradient(parsed.expr, parsed.variables)
        #: ∇f in the form every engine computes (plain, fast, scalar: the same bits), the
        #: one with fewest operations (``numeric.fewer_operations``).
        self.gradient_exprs = numeric.fewer_operations(self._gradient)
        self.grad = Compiled(self.gradient_exprs, parsed.variables)
        self.minima = np.asarray(minima, dtype=float).reshape(-1, self.n)
        self.f_star = f_star
        self.bound = ESCAPE * max(1.0, scale)
        #: f is finite wherever x is finite and inside the escape box (so the stop tests
        #: need not evaluate f: the box test already covers it); False when not known.
        self.f_bounded = numeric.finite_on_box(parsed.expr, parsed.variables, self.bound)
        self._hess: Compiled | None = None
        self._grad_into: Callable | None = None
        self._grad_bound: float | None = None

    @property
    def grad_bound(self) -> float:
        """A bound of every |∂f/∂x_i| inside the escape box, inf when none is known
        (``numeric.magnitude_bound``); made on first use."""
        if self._grad_bound is None:
            self._grad_bound = max((numeric.magnitude_bound(e, self.variables, self.bound)
                                    for e in self.gradient_exprs), default=0.0)
        return self._grad_bound

    @property
    def grad_into(self) -> Callable:
        """``grad_into(G, X, *X)``: ∇f at the columns of ``X`` written into ``G`` (the same
        bits as ``grad``), made on first use; see ``numeric.lambdify_into``."""
        if self._grad_into is None:
            self._grad_into = numeric.lambdify_into(self.variables, self.gradient_exprs)
        return self._grad_into

    def hessian_scalar(self) -> Callable:
        """The Hessian's entries at one point of Python floats, as a flat list (row by
        row); raises where ``math`` does (see ``numeric.lambdify_scalar``)."""
        self._compile_hessian()
        return self._hess.scalar

    def _compile_hessian(self) -> None:
        if self._hess is None:
            H = numeric.hessian(self.parsed.expr, self.variables, self._gradient)
            self._hess = Compiled([e for row in H for e in row], self.variables)

    def hessian(self, X: np.ndarray) -> np.ndarray:
        """The Hessian at each column of ``X``: shape ``(n, n, R)``."""
        self._compile_hessian()
        if X.ndim == 2 and X.shape[1] == 1:
            # One run: Python floats, as for its gradient (numpy's per-call cost on
            # 1-element arrays would be most of a Newton step); numpy where math raises.
            try:
                return np.array(self._hess.scalar(*X[:, 0].tolist()), dtype=float).reshape(self.n, self.n, 1)
            except (ValueError, OverflowError, ZeroDivisionError, TypeError):
                pass
        return self._hess(X).reshape(self.n, self.n, *X.shape[1:])


@dataclass(frozen=True)
class RunSpec:
    """One run to make: an optimizer, a learning rate and a start point."""

    optimizer: str
    lr: float
    start: tuple[float, ...]

    def __post_init__(self) -> None:  # (3, 4) and (3.0, 4.0) are the same start, as floats
        object.__setattr__(self, "start", tuple(float(v) for v in self.start))


@dataclass(frozen=True)
class Run:
    """The result of one run, in the manner of SciPy's ``OptimizeResult``.

    - ``status``: ``converged`` (‖∇f‖ < tol), ``max_steps`` or ``diverged``.
    - ``steps``: updates made; ``x``, ``f``, ``grad_norm``: at the last iterate.
    - ``diverged_at``: the step at which divergence was detected (else ``None``).
    - ``distance``: to the nearest known minimum (``None`` when none is known).
    - ``hyper``: the optimizer's hyper-parameters; ``message``: a sentence on the outcome.
    - ``trajectory``: every iterate, ``(steps + 1, n)``, and ``trajectory_f`` f at each,
      only when asked for.
    """

    optimizer: str
    lr: float
    start: tuple[float, ...]
    status: str
    steps: int
    x: tuple[float, ...]
    f: float
    grad_norm: float
    diverged_at: int | None
    distance: float | None
    hyper: dict = field(default_factory=dict)
    message: str = ""
    trajectory: np.ndarray | None = field(default=None, repr=False, compare=False)
    trajectory_f: np.ndarray | None = field(default=None, repr=False, compare=False)

    def to_record(self) -> dict[str, Any]:
        rec = {
            "optimizer": self.optimizer, "lr": self.lr, "start": list(self.start), "status": self.status,
            "steps": self.steps, "x": list(self.x), "f": self.f, "grad_norm": self.grad_norm,
            "diverged_at": self.diverged_at, "distance_to_minimum": self.distance,
        }
        rec.update(self.hyper)
        if self.message:
            rec["message"] = self.message
        return rec


class _Group:
    """The runs of one optimizer: positions, gradients and state, a chunk of steps at a time.

    ``Xb[j]`` and ``Gb[j]`` hold the iterate and gradient of step ``k0 + j`` of the current
    chunk, so the stop tests run once per chunk over all its steps, vectorised, and still
    find the exact step where each run converged or diverged.

    A *stepwise* group (the fast engine on a large batch) keeps two buffers, no chunk:
    ``Xb[p]`` holds the current iterate and ``Xb[1 - p]`` its gradient, which the step
    overwrites with the next iterate; the cheap stop test (_quiet's, on one step) runs at
    every step, so the numbers stay in the processor's cache, and the exact test
    (_settle) still runs on the step where something happened (see _stepwise).

    A finished run is *parked*: its learning rate and state are zeroed and its column
    reset to its start, so it stays put at no cost; the arrays are compacted only when
    parked columns pile up (copying 10,000 columns at every step where a run finishes
    would cost more than the descent itself).
    """

    def __init__(self, opt: optimizers.Optimizer, idx: np.ndarray, X: np.ndarray, compact_at: float, chunk: int,
                 fast: bool = False, stepwise: bool = False):
        self.opt, self.idx, self.fast, self.stepwise = opt, idx, fast, stepwise
        self.chunk = 1 if stepwise else chunk
        self.p = 0  # stepwise: Xb[p] is the current iterate
        #: The coordinate whose gradient the fast stop test looks at first (see _quiet).
        self.ci = 0
        self.cneg = False  # whether that coordinate was negative last time
        #: Stepwise: a bound of how far a run moves in one step, in each coordinate (None:
        #: unknown), and how many coming iterates are known to be in the box without a test.
        self.move: float | None = None
        self.free = 0
        #: Stepwise: whether the current iterate passed the box test (None: not yet made).
        self.inbox: bool | None = None
        self.start = X  # (the caller's array, which nothing writes to: no copy)
        self.state = opt.init(X)
        self.alive = np.ones(idx.size, dtype=bool)
        self.compact_at = compact_at
        #: Flags the optimizer raises per step (Newton: H not positive definite), counted
        #: over the steps each run keeps: ``count`` before the chunk, ``Fb[j]`` at step j.
        self.count = np.zeros(idx.size, dtype=int) if opt.flag is not None else None
        self._alloc(X)

    def _alloc(self, X: np.ndarray) -> None:
        n, r = X.shape
        self.Xb = np.empty((self.chunk + 1, n, r))
        self.Xb[0] = X
        self.p = 0
        self.Gb = np.empty((self.chunk, n, r))
        self.Fb = np.zeros((self.chunk, r), dtype=int) if self.count is not None else None
        # Views made once, not at every step: at one run per group the loop is all overhead.
        self.xs, self.gs = list(self.Xb), list(self.Gb)
        self.xrows = [list(x) for x in self.xs]
        if self.stepwise:  # ∇f at the iterate in one buffer is written over the other (_stepwise)
            self.gargs = [(self.xs[1 - q], self.xs[q], *self.xrows[q]) for q in (0, 1)]
        elif self.fast:  # the arguments of Objective.grad_into for each row of the chunk
            self.gargs = [(g, x, *rows) for g, x, rows in zip(self.gs, self.xs, self.xrows)]
        # (Beyond SCALAR_MAX_N coordinates numpy's arrays beat Python floats, and compiling
        # the float gradient of 500 components would cost seconds.)
        self.single = r == 1 and n <= scalar.SCALAR_MAX_N
        self.flat = [x.reshape(-1) for x in self.xs]  # (contiguous rows: views)
        if self.single:  # flat views of the (n, 1) arrays, for the Python-float gradient
            self.xflat, self.gflat = [x.reshape(-1) for x in self.xs], [g.reshape(-1) for g in self.gs]

    def cur(self) -> np.ndarray:
        """The iterate the next step starts from."""
        return self.Xb[self.p]

    def park(self, done: np.ndarray) -> None:
        self.alive &= ~done
        self.cur()[:, done] = self.start[:, done]
        for s in self.state:
            if isinstance(s, np.ndarray) and s.ndim:
                s[..., done] = 0

    def compact(self) -> None:
        keep = self.alive
        self.idx, self.alive, self.start = self.idx[keep], self.alive[keep], self.start[:, keep]
        if self.count is not None:
            self.count = self.count[keep]
        self.state = tuple(s[..., keep] if isinstance(s, np.ndarray) and s.ndim else s for s in self.state)
        self._alloc(np.ascontiguousarray(self.cur()[:, keep]))

    def maybe_compact(self, spurious: bool) -> None:
        parked = self.alive.size - np.count_nonzero(self.alive)
        if parked and (spurious or parked > self.compact_at * self.alive.size):
            self.compact()


def descend(objective: Objective, specs: Sequence[RunSpec], steps: int, tol: float,
            hyper: dict | None = None, trajectory: bool = False,
            progress: Callable[[int, int], None] | None = None, watch: int | None = None,
            fast: bool = True) -> "Runs":
    """Run every spec for at most ``steps`` updates; the one loop of gradlab.

    ``hyper`` holds ``momentum``, ``beta1``, ``beta2``, ``eps`` (``None`` = default).
    ``progress(k, steps)`` is called now and then from the loop. ``watch``: also record
    every run's f at that step (``Runs.watched``; NaN for runs that ended before).
    ``fast=False`` runs the plain engine: no float path for single runs, the generic
    gradient and update functions, every stop test evaluated over every chunk (tests
    compare the two, step by step).
    """
    hyper = hyper or {}
    R, n = len(specs), objective.n
    # The starts as the columns of an (n, R) view: one conversion of the tuples (their
    # floats read in C); each group's first iterate is the one transposing copy.
    starts_t = np.array(list(map(operator.attrgetter("start"), specs)), dtype=float).reshape(R, n).T
    lrs = np.array(list(map(operator.attrgetter("lr"), specs)), dtype=float).reshape(R)
    names = [s.optimizer for s in specs]
    kinds = dict.fromkeys(names)
    by_name = np.array(names, dtype=object) if len(kinds) > 1 else None
    # Longer chunks for small batches, where the per-chunk tests cost most per step.
    chunk = int(min(MAX_CHUNK, max(CHUNK, 8192 // max(1, n * R))))
    if fast:
        # Short chunks for large batches: a chunk's iterates and gradients then stay in
        # the processor's cache between the steps and the stop test that reads them.
        chunk = int(min(MAX_CHUNK, max(FAST_CHUNK, 2**16 // max(1, n * R))))
    status = np.full(R, "max_steps", dtype=object)
    taken = np.full(R, steps)
    final = np.full((n, R), np.nan)  # (every run's row is written where it stops)
    gnorm = np.full(R, np.nan)
    diverged_at = np.full(R, -1)
    modified = np.zeros(R, dtype=int)
    # A few runs, each alone: a loop on Python floats generated for the surface makes the
    # same steps (descent/scalar.py, scalar_newton.py) at a fraction of the array engine's
    # per-step cost on tiny arrays; a run it cannot make (None) stays for the engine.
    pending = np.ones(R, dtype=bool)
    if fast and not trajectory and watch is None and (R == 1 or (R <= FLOAT_RUNS_MAX and steps * R >= FLOAT_WORK_MIN)):
        for i, spec in enumerate(specs):
            out = _float_run(objective, spec, steps, tol, hyper)
            if out is not None:
                status[i], taken[i], final[:, i], gnorm[i], modified[i] = out
                if out[0] == "diverged":
                    diverged_at[i] = out[1]
                pending[i] = False
    groups: list[_Group] = []
    for name in kinds:
        idx = np.flatnonzero(pending if by_name is None else pending & (by_name == name))
        if not idx.size:
            continue
        lr = lrs[idx]
        newton = name == "newton"
        opt = optimizers.make(name, lr, objective.hessian if newton else None, fast, **hyper)
        # With a trajectory every column must be a live run, so compact at once.
        groups.append(_Group(opt, idx, starts_t if idx.size == R else starts_t[:, idx], 0.0 if trajectory else 0.25,
                             chunk, fast, fast and not trajectory and idx.size > 1 and n * idx.size >= STEPWISE_MIN))

    # ‖∇f‖ < tol is decided on exact norms (_norms); the squared norms only rule out a
    # stop quickly, where tol² is neither under- nor overflowing.
    tol2 = tol * tol if 1e-140 < tol < 1e140 else None
    bound2 = objective.bound ** 2 if objective.bound < 1e150 else None
    bound, f_value = objective.bound, objective.f.function

    def f_grad(*rows):  # (the generic gradient, compiled only if some path needs it)
        return objective.grad.function(*rows)

    # A group of one run evaluates its gradient on Python floats: numpy's per-call cost
    # on 1-element arrays would otherwise dominate the loop.
    f_scalar = objective.grad.scalar if any(g.single for g in groups) else None
    grad_into = objective.grad_into if fast and any(g.idx.size > 1 or not g.single for g in groups) else None
    # |g_i| ≥ tol_hi at every step and run rules out ‖g‖ < tol (a margin above tol for the
    # rounding of the norm); with tol ≤ 0 nothing converges.
    tol_hi = tol * (1 + 2.0**-40) if tol > 0 else None
    f_test = None if objective.f_bounded else f_value
    for grp in groups:
        if grp.stepwise and grp.opt.max_move is not None and math.isfinite(objective.grad_bound):
            # (a margin for the rounding of each step; see _stepwise)
            move = grp.opt.max_move(float(np.max(np.abs(lrs[grp.idx]))), objective.grad_bound) * (1 + 1e-6)
            grp.move = move if math.isfinite(move) else None
    fallback = (ValueError, OverflowError, ZeroDivisionError, TypeError)
    minimum, maximum, add = np.minimum.reduce, np.maximum.reduce, np.add
    traces: list[tuple[int, np.ndarray, np.ndarray]] = []
    watched = np.full(R, np.nan)
    watched_gn = np.full(R, np.nan)

    with np.errstate(all="ignore"):
        k0 = 0
        while k0 <= steps:
            live = [g for g in groups if g.idx.size]
            if not live:
                break
            if progress is not None:
                progress(k0, steps)
            L = min(chunk, steps + 1 - k0)
            for j in range(L):
                for grp in live:
                    if grp.stepwise:
                        if grp.idx.size:
                            _stepwise(grp, k0 + j, steps, grad_into, tol_hi, tol2, tol, bound, f_test, f_value,
                                      watch, watched, watched_gn, (status, taken, final, gnorm, diverged_at, modified))
                        continue
                    g = grp.gs[j]
                    if grp.single:
                        try:
                            grp.gflat[j][:] = f_scalar(*grp.xflat[j].tolist())
                        except fallback:  # a pole or an overflow: numpy gives inf/nan
                            for i, v in enumerate(f_grad(*grp.xrows[j])):
                                g[i] = v
                    elif grad_into is not None:
                        grad_into(*grp.gargs[j])
                    else:
                        for i, v in enumerate(f_grad(*grp.xrows[j])):
                            g[i] = v
                    if grp.opt.step_into is not None and (fast or grp.opt.name == "gd"):
                        grp.state = grp.opt.step_into(g, grp.state, grp.xs[j], grp.xs[j + 1])
                        continue
                    step, grp.state = grp.opt.update(g, grp.state, grp.xs[j])
                    if grp.Fb is not None:
                        grp.Fb[j] = grp.state[grp.opt.flag]
                    add(grp.xs[j], step, out=grp.xs[j + 1])
            for grp in live:
                if grp.stepwise:
                    continue
                if trajectory:
                    traces.append((k0, grp.idx.copy(), grp.Xb[:L].copy()))
                Xs, Gs = grp.Xb[:L], grp.Gb[:L]
                ended = k0 + L - 1 == steps
                if fast:
                    if watch is not None and k0 <= watch < k0 + L:
                        _watch(grp, watch - k0, Xs, Gs, f_value, watched, watched_gn)
                    if not ended and _quiet(grp, L, tol_hi, tol2, bound, f_test):
                        grp.Xb[0] = grp.Xb[L]
                        if grp.count is not None:
                            grp.count += grp.Fb[:L].sum(axis=0)
                        continue
                    gn2 = np.einsum("jir,jir->jr", Gs, Gs)
                    fs = (np.zeros(gn2.shape) if f_test is None else  # f is finite wherever x is in the box
                          np.broadcast_to(np.asarray(f_value(*np.moveaxis(Xs, 1, 0))[0], dtype=float), gn2.shape))
                    _settle(grp, k0, L, ended, Xs, _norms(Gs, gn2), fs, tol, bound, status, taken, final, gnorm,
                            diverged_at, modified)
                    continue
                gn2 = np.einsum("jir,jir->jr", Gs, Gs)
                # f too, once per chunk: log(x) has a finite gradient where f is undefined
                fs = np.broadcast_to(np.asarray(f_value(*np.moveaxis(Xs, 1, 0))[0], dtype=float), gn2.shape)
                if watch is not None and k0 <= watch < k0 + L:
                    live_cols = grp.idx[grp.alive]
                    watched[live_cols] = fs[watch - k0][grp.alive]
                    watched_gn[live_cols] = _norms(Gs[watch - k0:watch - k0 + 1], gn2[watch - k0:watch - k0 + 1])[0][grp.alive]
                # One cheap test per chunk that fails whenever some run has an event in it;
                # the exact per-step masks (_settle) only then. A non-finite gradient makes
                # the next iterate non-finite (every update multiplies or divides by g), so
                # beyond the last row it shows in Σx², which is also a sufficient test of
                # |x_i| ≤ bound; a sum of f is non-finite if any f is (or overflows: then
                # _settle looks and finds nothing).
                if ended or tol2 is None or not (
                        minimum(gn2, axis=None) >= tol2 and maximum(gn2[-1]) < math.inf
                        and (maximum(np.einsum("jir,jir->jr", Xs, Xs), axis=None) <= bound2 if bound2 else
                             minimum(Xs, axis=None) >= -bound and maximum(Xs, axis=None) <= bound)
                        and math.isfinite(add.reduce(fs, axis=None))):
                    _settle(grp, k0, L, ended, Xs, _norms(Gs, gn2), fs, tol, bound, status, taken, final, gnorm,
                            diverged_at, modified)
                else:
                    grp.Xb[0] = grp.Xb[L]
                    if grp.count is not None:
                        grp.count += grp.Fb[:L].sum(axis=0)
            k0 += L
        fvals = objective.f(final)[0]
    if watch is not None:
        # NaN for runs that ended before the watched step, also where the chunk that holds
        # the step kept moving them past their end (as the docstring says, in every engine)
        ended_before = taken < watch
        watched[ended_before] = np.nan
        watched_gn[ended_before] = np.nan

    nearest, dist = nearest_minima(objective.minima, final)
    hypers = {name: _resolved(name, hyper) for name in kinds}  # as make() resolves them
    return Runs(tuple(specs), status, taken, final, fvals, gnorm, diverged_at, dist, modified, hypers,
                objective, traces if trajectory else None, watched, watched_gn, nearest)


def nearest_minima(minima: np.ndarray, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each column of ``X`` (``(n, R)``): the index of the nearest of ``minima``
    (``(k, n)``) and the distance to it, −1 and NaN where none is known or x is not
    finite. Every result that reports a distance takes it from here.

    >>> idx, d = nearest_minima(np.array([[0.0, 0.0], [3.0, 4.0]]), np.array([[3.0, 3e300, np.inf], [5.0, 4e300, 0.0]]))
    >>> idx.tolist(), d.tolist()
    ([1, 0, -1], [1.0, 5e+300, nan])
    """
    R = X.shape[1]
    if not len(minima):
        return np.full(R, -1), np.full(R, np.nan)
    with np.errstate(all="ignore"):
        D = _scaled_norms(minima[:, :, None] - X[None])  # (k, R)
    idx = np.argmin(D, axis=0)
    dist = D[idx, np.arange(R)]
    unknown = ~np.isfinite(X).all(axis=0)
    idx[unknown], dist[unknown] = -1, np.nan
    return idx, dist


class Runs(Sequence[Run]):
    """The runs of one batch, stored as columns; ``runs[i]`` is a :class:`Run` record.

    Sweeps read the columns (``status``, ``steps``, ``f``, ``grad_norm``,
    ``diverged_at`` with −1 for none, ``distance`` with NaN for unknown, ``x`` of shape
    ``(n, R)``, ``watched`` and ``watched_grad_norm``: f and ‖∇f‖ at the watched step,
    ``modified``: Newton's steps that met a Hessian that is not positive definite,
    ``nearest``: the index of the nearest known minimum, −1 for none) without making
    10,000 records.
    """

    def __init__(self, specs, status, steps, x, f, grad_norm, diverged_at, distance, modified, hypers,
                 objective, traces, watched, watched_grad_norm=None, nearest=None):
        self.specs, self.status, self.steps, self.x, self.f = specs, status, steps, x, f
        #: the index of the known minimum nearest each run's end (−1: none known)
        self.nearest = np.full(len(specs), -1) if nearest is None else nearest
        self.watched, self.watched_grad_norm = watched, watched_grad_norm
        self.grad_norm, self.diverged_at, self.distance, self.modified = grad_norm, diverged_at, distance, modified
        self._hypers, self._objective, self._traces = hypers, objective, traces
        self._cache: dict[int, Run] = {}

    def __len__(self) -> int:
        return len(self.specs)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return tuple(self[j] for j in range(*i.indices(len(self))))
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(i)
        if i not in self._cache:
            self._cache[i] = self._make(i)
        return self._cache[i]

    def _message(self, i: int, status: str, steps: int, div: int | None) -> str:
        message = outcome_message(status, steps, div, self._objective.bound)
        modified = int(self.modified[i])
        if self.specs[i].optimizer == "newton" and modified:
            message += (f"; {modified} step{'s' if modified != 1 else ''} met a Hessian that is not positive "
                        "definite and used |eigenvalues| instead (saddle-free Newton)")
        return message

    def _make(self, i: int) -> Run:
        spec, obj = self.specs[i], self._objective
        status, steps = str(self.status[i]), int(self.steps[i])
        div = int(self.diverged_at[i]) if self.diverged_at[i] >= 0 else None
        message = self._message(i, status, steps, div)
        trace, trace_f = _trace_of(i, self._traces, obj, steps) if self._traces is not None else (None, None)
        dist = float(self.distance[i])
        return Run(spec.optimizer, float(spec.lr), tuple(float(v) for v in spec.start), status, steps,
                   tuple(self.x[:, i].tolist()), float(self.f[i]), float(self.grad_norm[i]), div,
                   None if math.isnan(dist) else dist, self._hypers[spec.optimizer], message, trace, trace_f)

    def records(self) -> list[dict[str, Any]]:
        """``[runs[i].to_record() for i in ...]``, built from the columns at once: for
        10,000 runs, making each :class:`Run` first costs more than the JSON itself."""
        xs, fs, gns = self.x.T.tolist(), self.f.tolist(), self.grad_norm.tolist()
        steps, divs, dists = self.steps.tolist(), self.diverged_at.tolist(), self.distance.tolist()
        statuses, modified = self.status.tolist(), self.modified.tolist()
        messages: dict[tuple, str] = {}  # (most runs of a batch end alike: each sentence made once)
        out = []
        for i, spec in enumerate(self.specs):
            status, div, dist = statuses[i], divs[i] if divs[i] >= 0 else None, dists[i]
            rec = {"optimizer": spec.optimizer, "lr": float(spec.lr), "start": list(spec.start),
                   "status": status, "steps": steps[i], "x": xs[i], "f": fs[i], "grad_norm": gns[i],
                   "diverged_at": div, "distance_to_minimum": None if dist != dist else dist}
            rec.update(self._hypers[spec.optimizer])
            key = (spec.optimizer == "newton" and modified[i], status, steps[i], div)
            message = messages.get(key)
            if message is None:
                message = messages[key] = self._message(i, status, steps[i], div)
            rec["message"] = message
            out.append(rec)
        return out


def _scaled_norms(D: np.ndarray) -> np.ndarray:
    """‖D[:, :, r]‖ over axis 1: numpy's norm, rescaled as ``math.hypot`` is where that
    overflows (a difference of 1e200 has a finite norm; its square does not).

    >>> big = 2.0**700  # (a power of two: the scaling is exact)
    >>> _scaled_norms(np.array([[[3.0, 3 * big], [4.0, 4 * big]]])).tolist() == [[5.0, 5 * big]]
    True
    """
    with np.errstate(all="ignore"):
        out = np.linalg.norm(D, axis=1)
        risky = np.isinf(out) & np.isfinite(D).all(axis=1)
        if risky.any():
            m = np.abs(D).max(axis=1)
            out[risky] = (m * np.sqrt(np.sum((D / m[:, None, :]) ** 2, axis=1)))[risky]
    return out


def _resolved(name: str, hyper: dict) -> dict:
    """The hyper-parameters ``optimizers.make`` gives ``name`` from the caller's (defaults
    filled in, None dropped)."""
    hessian = (lambda X: X) if name == "newton" else None  # (make wants one; never called)
    return optimizers.make(name, np.ones(1), hessian, **hyper).hyper


def _float_run(objective: Objective, spec: RunSpec, steps: int, tol: float,
               hyper: dict) -> tuple[str, int, tuple[float, ...], float, int] | None:
    """One run on Python floats, ``(status, steps, x, ‖∇f‖, modified)``, or None where
    the array engine must make it."""
    if spec.optimizer == "newton":  # (its own loop: linear algebra at every step)
        return scalar_newton.run_newton(objective, spec.start, spec.lr, steps, tol)
    out = scalar.run_single(objective, spec.optimizer, _resolved(spec.optimizer, hyper), spec.start, spec.lr,
                            steps, tol)
    return None if out is None else (*out, 0)


def _watch(grp: _Group, w: int, Xs: np.ndarray, Gs: np.ndarray, f_value: Callable, watched: np.ndarray,
           watched_gn: np.ndarray) -> None:
    """Record f and ‖∇f‖ at row ``w`` of the chunk for the live runs of ``grp`` (f over
    the whole chunk, as the plain engine computes it, so the same bits)."""
    fs = np.asarray(f_value(*np.moveaxis(Xs, 1, 0))[0], dtype=float)
    fs = np.broadcast_to(fs, (Xs.shape[0], Xs.shape[2]))
    g = Gs[w:w + 1]
    live_cols = grp.idx[grp.alive]
    watched[live_cols] = fs[w][grp.alive]
    watched_gn[live_cols] = _norms(g, np.einsum("jir,jir->jr", g, g))[0][grp.alive]


_MIN, _MAX = np.minimum.reduce, np.maximum.reduce


def _stepwise(grp: _Group, k: int, steps: int, grad_into: Callable, tol_hi: float | None, tol2: float | None,
              tol: float, bound: float, f_test: Callable | None, f_value: Callable, watch: int | None,
              watched: np.ndarray, watched_gn: np.ndarray, out: tuple) -> None:
    """Step ``k`` of a stepwise group: ∇f at x_k, the cheap test of step k, x_{k+1}, and
    the exact test (_settle) of step k only where the cheap one fails (and at the last).

    Two buffers, no more (a third would no longer stay in the processor's cache beside
    them): ∇f(x_k) is written over x_{k−1}, and the step writes x_{k+1} over ∇f(x_k), so
    step k's gradient tests come before the step. The cheap test is _quiet's on one step:
    x_k in the box (made as x_{k+1}'s test of the step before), one coordinate of g_k
    away from zero, f(x_k) finite. A non-finite g_k (which no coordinate test sees) makes
    x_{k+1} non-finite, so it shows in x_{k+1}'s box test after the step: step k is then
    judged exactly on g_k made again, and step k+1 is judged exactly before its own step
    (x_{k+1} may have left the box, and come back at x_{k+2}).
    """
    if grp.inbox is None:  # x_0's box test (every later iterate's comes after its step)
        xf = grp.flat[grp.p]
        grp.inbox = bool(_MIN(xf) >= -bound and _MAX(xf) <= bound)
    p = grp.p
    x, g = grp.xs[p], grp.xs[1 - p]
    grad_into(*grp.gargs[p])
    if k == watch:
        _watch(grp, 0, x[None], g[None], f_value, watched, watched_gn)
    last = k == steps
    if last or not (grp.inbox and _quiet_gradient(grp, g, tol_hi, tol2) and (f_test is None or math.isfinite(
            np.add.reduce(np.asarray(f_test(*grp.xrows[p])[0], dtype=float), axis=None)))):
        _settle_step(grp, k, last, x, g, tol, bound, f_test, f_value, out)
        if last or not grp.idx.size:
            return
        if grp.xs[grp.p] is not x:  # compacted: new buffers, the gradient made again
            p = grp.p
            x, g = grp.xs[p], grp.xs[1 - p]
            grad_into(*grp.gargs[p])
        else:  # parked runs: no gradient, so they stay exactly at their starts
            g[:, ~grp.alive] = 0.0
    opt = grp.opt
    flags = None
    if opt.step_into is not None:
        grp.state = opt.step_into(g, grp.state, x, g)  # (every step_into allows out to be g)
    else:
        step, grp.state = opt.update(g, grp.state, x)
        if grp.count is not None:
            flags = grp.state[opt.flag]
        np.add(x, step, out=g)
    grp.p = 1 - p
    if grp.free > 0:
        grp.free -= 1
    else:
        xf = grp.flat[1 - p]
        lo, hi = _MIN(xf), _MAX(xf)
        grp.inbox = bool(lo >= -bound and hi <= bound)  # (NaN fails both)
        if grp.inbox and grp.move is not None:
            # Inside the box |∇f| ≤ G, so a step moves each coordinate by at most `move`:
            # from max|x| = M the box is out of reach for (B − M)/move steps, and ∇f
            # (bounded) and x stay finite meanwhile
            reach = (bound * (1 - 1e-9) - max(-lo, hi)) / grp.move if grp.move > 0 else 1e6
            grp.free = int(min(reach, 1e6)) - 1
        if not grp.inbox:  # step k's exact test, on g_k made again (x_k is still in place)
            G = grp.Gb[0]
            grad_into(G, x, *grp.xrows[p])
            if flags is not None:  # (_settle counts them after the test, then compacts)
                grp.Fb[0], flags = flags, None
            _settle_step(grp, k, False, x, G, tol, bound, f_test, f_value, out)
            if grp.Fb is not None:
                grp.Fb[0] = 0
    if flags is not None:  # (after step k's test: a run ending at k counts the steps before)
        grp.count += flags


def _quiet_gradient(grp: _Group, g: np.ndarray, tol_hi: float | None, tol2: float | None) -> bool:
    """No run's ‖g‖ below tol (``g``: one step's gradients, ``(n, r)``): one coordinate of
    one sign and at least ``tol_hi`` in size in every run, else the squared norms."""
    if tol_hi is None:
        return True
    gi = g[grp.ci]
    # the side that held last time first: one reduction
    if (_MAX(gi) <= -tol_hi) if grp.cneg else (_MIN(gi) >= tol_hi):
        return True
    if (_MIN(gi) >= tol_hi) if grp.cneg else (_MAX(gi) <= -tol_hi):
        grp.cneg = not grp.cneg
        return True
    return _no_small_norm(grp, g[None], tol2)


def _settle_step(grp: _Group, k: int, last: bool, x: np.ndarray, g: np.ndarray, tol: float, bound: float,
                 f_test: Callable | None, f_value: Callable, out: tuple) -> None:
    """The exact test of step ``k`` of a stepwise group, on x_k and g_k (``(n, r)``)."""
    Xs, Gs = x[None], g[None]
    gn2 = np.einsum("jir,jir->jr", Gs, Gs)
    fs = (np.zeros(gn2.shape) if f_test is None else
          np.broadcast_to(np.asarray(f_value(*np.moveaxis(Xs, 1, 0))[0], dtype=float), gn2.shape))
    _settle(grp, k, 1, last, Xs, _norms(Gs, gn2), fs, tol, bound, *out, advance=False)
    grp.free = 0  # parked runs sit at their starts, which may lie anywhere: look again


def _no_small_norm(grp: _Group, Gs: np.ndarray, tol2: float | None) -> bool:
    """The second chance of the cheap ‖∇f‖ test: the squared norms, as the plain engine
    computes them; and the coordinate farthest from zero in every run is the one to look
    at first from now on."""
    grp.ci = int(np.argmax(_MIN(np.abs(Gs[-1]), axis=1)))
    return tol2 is not None and _MIN(np.einsum("jir,jir->jr", Gs, Gs), axis=None) >= tol2


def _quiet(grp: _Group, L: int, tol_hi: float | None, tol2: float | None, bound: float,
           f_test: Callable | None) -> bool:
    """True when no run of ``grp`` can have converged or diverged in the chunk of ``L``
    steps just made: a cheap test, sound but not exact (``_settle`` decides exactly).

    - Every iterate inside the box, including the next chunk's first: min and max over
      the chunk (NaN fails both). A non-finite gradient at step j makes x_{j+1}
      non-finite (every update multiplies or divides by it), so this covers ∇f too.
    - No ‖∇f‖ < tol: one coordinate of the gradient of one sign and at least ``tol_hi``
      in size at every step of every run (‖g‖ ≥ |g_i|) settles it with one reduction;
      else the squared norms decide, as in the plain engine.
    - f finite at every iterate, unless ``f_test`` is None (f is then finite wherever x
      is in the box: ``Objective.f_bounded``).
    """
    minimum, maximum = np.minimum.reduce, np.maximum.reduce
    Xs = grp.Xb[:L + 1]
    if not (minimum(Xs, axis=None) >= -bound and maximum(Xs, axis=None) <= bound):
        return False
    if tol_hi is not None:
        Gs = grp.Gb[:L]
        gi = Gs[:, grp.ci, :]
        if not (minimum(gi, axis=None) >= tol_hi or maximum(gi, axis=None) <= -tol_hi or
                _no_small_norm(grp, Gs, tol2)):
            return False
    if f_test is not None:
        fs = f_test(*np.moveaxis(grp.Xb[:L], 1, 0))[0]
        if not math.isfinite(np.add.reduce(np.asarray(fs, dtype=float), axis=None)):
            return False
    return True


def _norms(Gs: np.ndarray, gn2: np.ndarray) -> np.ndarray:
    """‖g‖ for each step and run of ``Gs`` (L, n, r), from the squared norms ``gn2`` where
    they are safe, else by scaling: neither 1e-200 nor 1e200 squared is a float."""
    with np.errstate(all="ignore"):
        gn = np.sqrt(gn2)
        risky = ~((gn2 > 1e-290) & (gn2 < math.inf))
        if risky.any():
            jj, rr = np.nonzero(risky)
            sub = np.abs(Gs[jj, :, rr])  # (k, n)
            m = sub.max(axis=1)
            scaled = m * np.sqrt(np.sum((sub / m[:, None]) ** 2, axis=1))
            gn[jj, rr] = np.where((m > 0) & (m < math.inf), scaled, m)  # 0, inf or NaN as they are
    return gn


def _settle(grp: _Group, k0: int, L: int, ended: bool, Xs: np.ndarray, gn: np.ndarray, fs: np.ndarray,
            tol: float, bound: float, status, taken, final, gnorm, diverged_at, modified, advance: bool = True) -> None:
    """Record the runs of ``grp`` that finished in the chunk of steps ``k0 .. k0+L-1`` at
    the first step where each did, park them, and start the next chunk (``advance``:
    from the chunk's last row; a stepwise group has its next iterate in place)."""
    conv = gn < tol  # (L, r)
    bad = ~np.isfinite(gn) | ~np.isfinite(fs) | ~(np.abs(Xs) <= bound).all(axis=1)
    conv &= ~bad
    event = conv | bad
    if ended:
        event[-1] = True
    hit = event.any(axis=0)
    first = np.argmax(event, axis=0)  # the first step of the chunk where each run stopped
    cols = np.arange(gn.shape[1])
    # A parked column that still trips the test would trip it in every chunk: compact.
    spurious = bool((hit & ~grp.alive).any())
    done = hit & grp.alive
    before = None
    if grp.count is not None:  # flags of the steps taken before each row of the chunk
        before = np.zeros((L + 1, gn.shape[1]), dtype=int)
        np.cumsum(grp.Fb[:L], axis=0, out=before[1:])
    if done.any():
        ids, rows, c = grp.idx[done], first[done], cols[done]
        if before is not None:
            modified[ids] = grp.count[done] + before[rows, c]
        is_conv, is_bad = conv[rows, c], bad[rows, c]
        status[ids[is_conv]] = "converged"
        status[ids[is_bad]] = "diverged"
        diverged_at[ids[is_bad]] = k0 + rows[is_bad]
        taken[ids] = k0 + rows
        final[:, ids] = Xs[rows, :, c].T
        gnorm[ids] = gn[rows, c]
    if advance:
        grp.Xb[0] = grp.Xb[L]
    if before is not None:
        grp.count += before[L]
    if ended:  # the last step: nothing moves again
        return
    if done.any():
        grp.park(done)
    grp.maybe_compact(spurious)


def _trace_of(i: int, traces: list, objective: Objective, steps: int) -> tuple[np.ndarray, np.ndarray]:
    rows = [X[:, :, np.searchsorted(idx, i)] for _, idx, X in traces if i in idx]
    points = np.concatenate(rows)[: steps + 1]
    with np.errstate(all="ignore"):
        return points, objective.f(points.T)[0]
