"""The descent engine: every run of a batch advanced together, in one loop.

All combinations of optimizer × learning rate × start become columns of ``(n, R)``
arrays; each step evaluates the compiled gradient once per optimizer group and applies
the optimizer's pure update. Runs that converge or diverge are recorded and dropped from
the arrays, so the loop only works on live runs. Without a trajectory request only
summaries are kept.

>>> from gradlab.parsing import parse
>>> obj = Objective(parse("x**2 + y**2"))
>>> [r] = descend(obj, [RunSpec("gd", 0.5, (3.0, 4.0))], steps=10, tol=1e-8)
>>> r.status, r.steps, r.x
('converged', 1, (0.0, 0.0))
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np
import sympy

from gradlab import derivatives as d
from gradlab import optimizers
from gradlab.numeric import Compiled
from gradlab.parsing import Parsed

#: A run has diverged when a coordinate leaves ±ESCAPE × its scale (the size of the
#: window, the start and the known minima) or anything becomes non-finite.
ESCAPE = 1e3
STATUSES = ("converged", "max_steps", "diverged")


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
        self.gradient_exprs = d.gradient(parsed.expr, parsed.variables)
        self.grad = Compiled(self.gradient_exprs, parsed.variables)
        self.minima = np.asarray(minima, dtype=float).reshape(-1, self.n)
        self.f_star = f_star
        self.bound = ESCAPE * max(1.0, scale)
        self._hess: Compiled | None = None

    def hessian(self, X: np.ndarray) -> np.ndarray:
        """The Hessian at each column of ``X``: shape ``(n, n, R)``."""
        if self._hess is None:
            H = d.hessian(self.parsed.expr, self.variables)
            self._hess = Compiled([e for row in H for e in row], self.variables)
        return self._hess(X).reshape(self.n, self.n, *X.shape[1:])


@dataclass(frozen=True)
class RunSpec:
    """One run to make: an optimizer, a learning rate and a start point."""

    optimizer: str
    lr: float
    start: tuple[float, ...]


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
    """The runs of one optimizer: positions, gradients and optimizer state.

    A finished run is *parked*: its learning rate and state are zeroed and its column
    reset to its start, so it stays put at no cost; the arrays are compacted only when
    parked columns pile up (copying 10,000 columns at every step where a run finishes
    would cost more than the descent itself).
    """

    def __init__(self, opt: optimizers.Optimizer, idx: np.ndarray, X: np.ndarray, compact_at: float):
        self.opt, self.idx, self.X = opt, idx, X
        self.start = X.copy()
        self.G = np.empty_like(X)
        self.state = opt.init(X)
        self.alive = np.ones(idx.size, dtype=bool)
        self.compact_at = compact_at

    def park(self, done: np.ndarray) -> None:
        self.alive &= ~done
        self.X[:, done] = self.start[:, done]
        for s in self.state:
            if isinstance(s, np.ndarray) and s.ndim:
                s[..., done] = 0

    def compact(self) -> None:
        keep = self.alive
        self.idx, self.alive, self.start = self.idx[keep], self.alive[keep], self.start[:, keep]
        self.X = np.ascontiguousarray(self.X[:, keep])
        self.G = np.ascontiguousarray(self.G[:, keep])
        self.state = tuple(s[..., keep] if isinstance(s, np.ndarray) and s.ndim else s for s in self.state)

    def maybe_compact(self, spurious: bool) -> None:
        parked = self.alive.size - np.count_nonzero(self.alive)
        if parked and (spurious or parked > self.compact_at * self.alive.size):
            self.compact()


def _hyper(name: str, hyper: dict) -> dict:
    h = {**optimizers.DEFAULTS, **{k: v for k, v in hyper.items() if v is not None}}
    if name == "rmsprop" and hyper.get("beta2") is None:
        h["beta2"] = 0.9
    return {k: h[k] for k in optimizers.USES[name]}


def descend(objective: Objective, specs: Sequence[RunSpec], steps: int, tol: float,
            hyper: dict | None = None, trajectory: bool = False,
            progress: Callable[[int, int], None] | None = None) -> tuple[Run, ...]:
    """Run every spec for at most ``steps`` updates; the one loop of gradlab.

    ``hyper`` holds ``momentum``, ``beta1``, ``beta2``, ``eps`` (``None`` = default).
    ``progress(k, steps)`` is called now and then from the loop.
    """
    hyper = hyper or {}
    R, n = len(specs), objective.n
    starts = np.array([s.start for s in specs], dtype=float).reshape(R, n)
    groups: list[_Group] = []
    for name in dict.fromkeys(s.optimizer for s in specs):
        idx = np.array([i for i, s in enumerate(specs) if s.optimizer == name])
        lr = np.array([specs[i].lr for i in idx])
        opt = optimizers.make(name, lr, objective.hessian if name == "newton" else None, **hyper)
        # With a trajectory every column must be a live run, so compact at once.
        groups.append(_Group(opt, idx, np.ascontiguousarray(starts[idx].T), 0.0 if trajectory else 0.25))

    status = np.full(R, "max_steps", dtype=object)
    taken = np.full(R, steps)
    final = np.array(starts.T)
    gnorm = np.full(R, np.nan)
    diverged_at = np.full(R, -1)
    modified = np.zeros(R, dtype=int)
    tol2, bound, grad = tol * tol, objective.bound, objective.grad
    traces: list[tuple[int, np.ndarray, np.ndarray]] = []

    with np.errstate(all="ignore"):
        for k in range(steps + 1):
            if progress is not None and k % 256 == 0:
                progress(k, steps)
            for grp in groups:
                if not grp.idx.size:
                    continue
                X, G = grp.X, grp.G
                grad.into(X, G)
                gn2 = np.einsum("ij,ij->j", G, G)
                if trajectory:
                    traces.append((k, grp.idx, X.copy()))
                # One cheap test per step; per-run masks only when something happened.
                if not (k < steps and gn2.min() >= tol2 and gn2.max() < math.inf
                        and X.min() >= -bound and X.max() <= bound):
                    _settle(grp, k, steps, gn2, tol2, bound, status, taken, final, gnorm, diverged_at, modified)
                    if not grp.idx.size:
                        continue
                step, grp.state = grp.opt.update(grp.G, grp.state, grp.X)
                grp.X += step
        fvals = objective.f(final)[0]

    finite = np.isfinite(final).all(axis=0)
    dist = (np.min(np.linalg.norm(objective.minima[:, :, None] - final[None], axis=1), axis=0)
            if len(objective.minima) else np.full(R, np.nan))
    hypers = {name: _hyper(name, hyper) for name in dict.fromkeys(s.optimizer for s in specs)}
    xs, fl, gl, dl = final.T.tolist(), fvals.tolist(), gnorm.tolist(), dist.tolist()
    return tuple(
        _run(specs[i], objective, status[i], int(taken[i]), xs[i], fl[i], gl[i],
             int(diverged_at[i]) if diverged_at[i] >= 0 else None,
             dl[i] if finite[i] and len(objective.minima) else None, hypers[specs[i].optimizer],
             int(modified[i]), *(_trace_of(i, traces, objective) if trajectory else (None, None)))
        for i in range(R)
    )


def _settle(grp: _Group, k: int, steps: int, gn2: np.ndarray, tol2: float, bound: float, status, taken, final,
            gnorm, diverged_at, modified) -> None:
    """Record the runs of ``grp`` that finish at step ``k`` and park them."""
    X = grp.X
    conv = gn2 < tol2
    bad = ~np.isfinite(gn2) | ~(np.abs(X) <= bound).all(axis=0)
    done = (conv | bad | (k == steps)) & grp.alive
    # A parked column that still trips the test would trip it at every step: compact.
    spurious = bool(((conv | bad) & ~grp.alive).any())
    if done.any():
        ids = grp.idx[done]
        if grp.opt.name == "newton":
            modified[ids] = grp.state[1][done]
        status[grp.idx[conv & done]] = "converged"
        status[grp.idx[bad & done]] = "diverged"
        diverged_at[grp.idx[bad & done]] = k
        taken[ids] = k
        final[:, ids] = X[:, done]
        gnorm[ids] = np.sqrt(gn2[done])
        grp.park(done)
    grp.maybe_compact(spurious)


def _trace_of(i: int, traces: list, objective: Objective) -> tuple[np.ndarray, np.ndarray]:
    rows = [X[:, np.searchsorted(idx, i)] for _, idx, X in traces if i in idx]
    points = np.array(rows).reshape(-1, objective.n)
    with np.errstate(all="ignore"):
        return points, objective.f(points.T)[0]


def _run(spec: RunSpec, obj: Objective, status: str, steps: int, x: list, f: float, gn: float,
         div: int | None, dist: float | None, hyper: dict, modified: int, trace: np.ndarray | None,
         trace_f: np.ndarray | None) -> Run:
    message = {
        "converged": f"‖∇f‖ fell below the tolerance after {steps} steps",
        "max_steps": f"still moving after {steps} steps",
        "diverged": f"left the region |x| ≤ {obj.bound:g} or overflowed at step {div}",
    }[status]
    if spec.optimizer == "newton" and modified:
        message += f"; {modified} step{'s' if modified != 1 else ''} met a Hessian that is not positive definite " \
                   "and used |eigenvalues| instead (saddle-free Newton)"
    return Run(spec.optimizer, float(spec.lr), tuple(float(v) for v in spec.start), status, steps,
               tuple(x), f, gn, div, dist, hyper, message, trace, trace_f)
