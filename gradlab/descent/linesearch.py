"""Line searches along a descent direction p: backtracking (Armijo) and strong Wolfe.

Backtracking tries α = α₀, ρα₀, ρ²α₀, … and accepts the first α with the Armijo
(sufficient decrease) condition

    f(x + αp) ≤ f(x) + c₁·α·∇f(x)ᵀp        (c₁ = 1e-4, ρ = 0.5)

which for gradient descent (p = −g) reads f(x − αg) ≤ f(x) − c₁·α·‖g‖². Strong Wolfe
adds the curvature condition |∇f(x + αp)ᵀp| ≤ c₂·|∇f(x)ᵀp| (c₂ = 0.9), which keeps
quasi-Newton updates positive definite; it is SciPy's ``scipy.optimize.line_search``
(Nocedal & Wright, algorithms 3.5 and 3.6), and SciPy is imported only when it runs.

>>> import numpy as np
>>> f = lambda x: float(x @ x)
>>> x = np.array([3.0, 4.0]); g = 2 * x
>>> r = armijo(f, x, f(x), g, -g, alpha0=10.0)
>>> r.alpha, r.evaluations      # α = 10, 5, 2.5, 1.25 overshoot; 0.625 passes
(0.625, 5)
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Callable

import numpy as np

C1 = 1e-4
RHO = 0.5
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
    """Backtracking from ``alpha0`` until f(x + αp) ≤ f(x) + c₁α gᵀp."""
    slope = float(g @ p)
    if not slope < 0:
        return Search(None, fx, 0)
    alpha = alpha0
    for i in range(max_backtracks + 1):
        with np.errstate(all="ignore"):
            fn = f(x + alpha * p)
        if math.isfinite(fn) and fn <= fx + c1 * alpha * slope:
            return Search(alpha, fn, i + 1)
        alpha *= rho
    return Search(None, fx, max_backtracks + 1)


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
