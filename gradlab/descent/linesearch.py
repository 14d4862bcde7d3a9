"""Line searches along a descent direction p: backtracking (Armijo) and strong Wolfe.

Backtracking starts at α = α₀ and accepts the first α with the Armijo (sufficient
decrease) condition

    f(x + αp) ≤ f(x) + c₁·α·∇f(x)ᵀp        (c₁ = 1e-4)

which for gradient descent (p = −g) reads f(x − αg) ≤ f(x) − c₁·α·‖g‖². A rejected α is
replaced by the minimiser of the quadratic through f(x), its slope ∇f(x)ᵀp and f(x + αp),
kept within [0.1α, ρα] (ρ = 0.5; Nocedal & Wright §3.5), or by ρα when f(x + αp) is not
finite. Plain halving would accept the largest α₀ρʲ that passes, which can sit just
below the stability edge 2/λ_max: on x² + 25y² from α₀ = 2.546875 it takes α₀/64 =
0.0398 every step and y shrinks by 0.99 a step; the interpolated step is the exact
minimiser along the line for a quadratic. Strong Wolfe
adds the curvature condition |∇f(x + αp)ᵀp| ≤ c₂·|∇f(x)ᵀp| (c₂ = 0.9), which keeps
quasi-Newton updates positive definite; it is SciPy's ``scipy.optimize.line_search``
(Nocedal & Wright, algorithms 3.5 and 3.6), and SciPy is imported only when it runs.

>>> import numpy as np
>>> f = lambda x: float(x @ x)
>>> x = np.array([3.0, 4.0]); g = 2 * x
>>> r = armijo(f, x, f(x), g, -g, alpha0=10.0)
>>> r.alpha, r.evaluations      # α = 10 and 1 (0.1·10, the safeguard) overshoot; 0.5 is the minimum
(0.5, 3)
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Callable

import numpy as np

C1 = 1e-4
RHO = 0.5  # a rejected α shrinks to at most ρα ...
LEAST = 0.1  # ... and at least 0.1α
C2 = 0.9
MAX_BACKTRACKS = 60  # 0.5**60 ≈ 1e-18: below that no step changes a float64 x
NAMES = ("armijo", "wolfe")


@dataclass(frozen=True)
class Search:
    """One line search: the accepted ``alpha`` (``None`` when none was found), f there,
    the gradient there when the search computed it, and how many f evaluations it took."""

    alpha: float | None
    f: float
    evaluations: int
    grad: np.ndarray | None = None


def armijo(f: Callable[[np.ndarray], float], x: np.ndarray, fx: float, g: np.ndarray, p: np.ndarray,
           alpha0: float, c1: float = C1, rho: float = RHO, max_backtracks: int = MAX_BACKTRACKS) -> Search:
    """Backtracking from ``alpha0`` until f(x + αp) ≤ f(x) + c₁α gᵀp, each rejected α
    replaced by the safeguarded quadratic interpolation :func:`next_alpha`."""
    slope = float(g @ p)
    if not slope < 0:
        return Search(None, fx, 0)
    alpha = alpha0
    for i in range(max_backtracks + 1):
        with np.errstate(all="ignore"):
            fn = f(x + alpha * p)
        if math.isfinite(fn) and fn <= fx + c1 * alpha * slope:
            return Search(alpha, fn, i + 1)
        alpha = next_alpha(alpha, fx, slope, fn, rho)
    return Search(None, fx, max_backtracks + 1)


def next_alpha(alpha: float, fx: float, slope: float, fn: float, rho: float = RHO) -> float:
    """The next trial after ``alpha`` was rejected with f(x + αp) = ``fn``: the minimiser
    of the quadratic q with q(0) = f(x), q'(0) = ``slope`` and q(α) = ``fn``, clipped to
    [0.1α, ρα]; ρα when ``fn`` is not finite.

    >>> next_alpha(1.0, 1.0, -2.0, 3.0)   # q(t) = 1 − 2t + 4t²: minimum at 1/4
    0.25
    """
    if not math.isfinite(fn):
        return alpha * rho
    curvature = fn - fx - slope * alpha  # > 0 when Armijo failed (c₁ < 1, slope < 0)
    trial = -slope * alpha * alpha / (2 * curvature) if curvature > 0 else alpha * rho
    return min(max(trial, LEAST * alpha), rho * alpha)


def wolfe(f: Callable[[np.ndarray], float], grad: Callable[[np.ndarray], np.ndarray], x: np.ndarray, fx: float,
          g: np.ndarray, p: np.ndarray, alpha0: float, old_fx: float | None = None, c1: float = C1,
          c2: float = C2) -> Search:
    """A step satisfying the strong Wolfe conditions along p, first trying α = ``alpha0``
    (SciPy's line search on the scaled direction α₀p; ``old_fx``, when given, lets
    SciPy choose its first trial as its BFGS does)."""
    from scipy.optimize import line_search

    if not float(g @ p) < 0:
        return Search(None, fx, 0)
    count = [0]

    def fc(z):
        count[0] += 1
        with np.errstate(all="ignore"):
            v = f(z)
        return v if math.isfinite(v) else math.inf

    def gc(z):
        with np.errstate(all="ignore"):
            return np.asarray(grad(z), dtype=float)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SciPy warns when it gives up; the None says so
        with np.errstate(all="ignore"):
            a, _, _, fn, _, gn = line_search(fc, gc, x, alpha0 * p, gfk=g, old_fval=fx, old_old_fval=old_fx,
                                             c1=c1, c2=c2, maxiter=30)
    if a is None or fn is None or not math.isfinite(fn):
        return Search(None, fx, count[0])
    return Search(float(a) * alpha0, float(fn), count[0], None if gn is None else np.asarray(gn, dtype=float))
