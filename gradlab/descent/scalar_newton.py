"""One Newton run on Python floats, the array engine's steps without its bookkeeping.

For a single run the array engine pays, at every step, for arrays of shape ``(n, 1)``,
chunk buffers, a generic update and the Gershgorin or ``eigvalsh`` test of H; for a
10-D surface that is most of a step. :func:`run_newton` makes the same steps in a plain
loop: ∇f and H from the float functions the engine uses for one run (the same bits),
one chained comparison as the stop test (the exact tests of
:func:`gradlab.descent.scalar._decider` only where it fails), and for the step:

* H is positive definite by a safe margin when ``H − δI`` has a Cholesky factor
  (:func:`gradlab.descent.optimizers.surely_positive_definite`, written out here on
  preallocated arrays): then ``eigvalsh`` would find every eigenvalue positive, and the
  step is ``np.linalg.solve``'s kernel on H, as in the plain engine;
* anything else (a saddle, a nearly singular H, a non-finite entry) takes
  :func:`gradlab.descent.optimizers.newton_direction`, the plain engine's own code.

Statuses, step counts, ``diverged_at``, the count of modified steps and the iterates
are the array engine's, bit for bit (tests/test_fast_paths.py). Where ``math`` raises
(the log of a negative number) numpy would give inf or nan instead: the caller then
runs the array engine.

>>> from gradlab.calculus.parsing import parse
>>> from gradlab.descent.runs import Objective
>>> obj = Objective(parse("x**4/4 + x**2/2 + y**2"))
>>> status, k, x, gn, modified = run_newton(obj, (2.0, -1.0), 1.0, 100, 1e-10)
>>> status, k, modified
('converged', 6, 0)
"""

from __future__ import annotations

import math
import operator
from typing import TYPE_CHECKING, Sequence

import numpy as np

from gradlab.descent import optimizers
from gradlab.descent.scalar import _HMAX, _MATH_ERRORS, SCALAR_MAX_N, _decider, f_is_implied, lower_bound

if TYPE_CHECKING:
    from gradlab.descent.runs import Objective


def run_newton(objective: Objective, start: Sequence[float], lr: float, steps: int,
               tol: float) -> tuple[str, int, tuple[float, ...], float, int] | None:
    """One Newton run: ``(status, steps, x, ‖∇f‖, modified)`` at the step where it
    stopped (``modified``: the steps taken that met a Hessian that is not positive
    definite), or None where the array engine must make it (more than SCALAR_MAX_N
    coordinates, or math raised where numpy gives inf or nan)."""
    n = objective.n
    if n > SCALAR_MAX_N or steps < 0:
        return None
    grad, hess = objective.grad.scalar, objective.hessian_scalar()
    fval = None if f_is_implied(objective) else objective.f.scalar
    bound = float(objective.bound)
    decide, lo, nb, na = _decider(steps, tol, bound), lower_bound(float(tol)), -bound, -float(lr)
    inf, ninf, mul = math.inf, -math.inf, operator.mul
    H, S = np.empty((n, n)), np.empty((n, n))
    h_flat, s_flat = H.reshape(-1), S.reshape(-1)
    s_diag = s_flat[::n + 1]  # (a view: S's diagonal)
    margin = optimizers.PD_MARGIN * n
    solve = optimizers._solve_regular
    # (the kernel itself where numpy has it: NaN where the factorisation fails)
    cholesky = optimizers.cholesky_or_nan if optimizers._cholesky is None else \
        lambda S, _c=optimizers._cholesky: _c(S, signature="d->d")
    x = [float(v) for v in start]
    modified = 0
    try:
        with np.errstate(all="ignore"):
            for k in range(steps):
                g = grad(*x)
                fv = fval(*x)[0] if fval is not None else 0.0  # (f in the box is finite)
                if not (lo <= sum(map(mul, g, g)) <= _HMAX and nb <= min(x) and max(x) <= bound
                        and ninf < fv < inf):
                    out = decide(k, tuple(x), tuple(g), fv)
                    if out is not None:
                        return out[0], k, tuple(x), out[1], modified
                h = hess(*x)
                h_flat[:] = h
                top = max(h[::n + 1])
                if 0 < top < inf and ninf < sum(h) < inf:
                    np.copyto(S, H)
                    np.subtract(s_diag, margin * top, out=s_diag)
                    certain = cholesky(S)[-1, -1] > 0
                else:
                    certain = False
                if certain:
                    d = solve(H, np.array(g))
                else:
                    d, changed = optimizers.newton_direction(H, np.array(g))
                    modified += changed
                x = [xi + na * di for xi, di in zip(x, d.tolist())]
            g = grad(*x)  # the last step decides, whatever it finds
            status, gn = decide(steps, tuple(x), tuple(g), fval(*x)[0] if fval is not None else 0.0)
            return status, steps, tuple(x), gn, modified
    except _MATH_ERRORS:
        return None
