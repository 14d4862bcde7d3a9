"""Critical points: every x with ∇f(x) = 0, found exactly and numerically, classified.

SymPy's ``solve`` runs first, within the budget of exact work (:mod:`gradlab.calculus.budget`):
a polynomial system whose Bézout bound (the product of the degrees) is above the degree
limit, or a system larger than the size limit, is not attempted, so the same input gives
the same answer on every machine; what is attempted runs under the ``timeout`` deadline,
and when that deadline decides, the status says so. ``solve`` may also return only some
of the points without saying so, so a multi-start Newton search over the window always
runs too, and its points are merged with the exact ones. Each point is classified by the
Hessian's inertia: exactly at rational points, else from its eigenvalues.

>>> from gradlab.calculus.parsing import parse
>>> res = critical_points(parse("x**2 - y**2"), (-5, 5, -5, 5), timeout=5)
>>> [(p.exact, p.classification, p.method) for p in res.points]
[((0, 0), 'saddle', 'exact, numeric')]
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
import sympy

from gradlab.calculus import budget
from gradlab.calculus import derivatives as d
from gradlab.errors import Undefined
from gradlab.calculus.numeric import Compiled, eigenvalues
from gradlab.calculus.parsing import Parsed, to_text
from gradlab.views import View
from gradlab.present import Presentable  # to_dict, LaTeX and rich for notebooks

STARTS_PER_AXIS = 15
NEWTON_STEPS = 60
#: An eigenvalue within EIG_TOL × max(1, max|λ|) of zero makes the test inconclusive.
EIG_TOL = 1e-8
MAX_EXACT_TEXT = 60


@dataclass(frozen=True)
class CriticalPoint:
    """One critical point: ``exact`` coordinates where SymPy found readable ones (else
    ``None``), ``value`` as floats always, f there, the Hessian's eigenvalues, the
    classification, and which method found it (``exact``, ``numeric`` or both)."""

    exact: tuple[sympy.Expr, ...] | None
    value: tuple[float, ...]
    f: float
    eigenvalues: tuple[float, ...]
    classification: str
    method: str

    def to_record(self) -> dict[str, Any]:
        return {
            "point": [float(v) for v in self.value],
            "point_exact": [to_text(v) for v in self.exact] if self.exact is not None else None,
            "f": self.f, "eigenvalues": list(self.eigenvalues), "classification": self.classification,
            "method": self.method,
        }


@dataclass(frozen=True)
class CriticalResult(Presentable):
    """All critical points found, with how the search went."""

    parsed: Parsed
    window: tuple[float, ...]
    points: tuple[CriticalPoint, ...]
    exact_status: str
    tolerance: float = EIG_TOL
    #: Whether a wall-clock deadline decided the exact solve (the outcome may then
    #: differ on another machine).
    deadline: bool = False

    @property
    def warnings(self) -> tuple[str, ...]:
        if not self.deadline:
            return ()
        return (f"exact solve: {self.exact_status}; the exact points shown may differ on another machine",)

    def to_record(self) -> dict[str, Any]:
        return {"command": "critical", "expression": self.parsed.text,
                "variables": [v.name for v in self.parsed.variables], "window": list(self.window),
                "exact_solve": self.exact_status, "exact_solve_deadline": self.deadline,
                "eigenvalue_tolerance": self.tolerance,
                "points": [p.to_record() for p in self.points]}

    def view(self) -> View:
        rows = tuple(
            (", ".join(to_text(v) for v in p.exact) if p.exact is not None else "—", p.value, p.f, p.eigenvalues,
             p.classification, p.method)
            for p in self.points
        )
        plain = tuple((p.value, p.f, p.classification, p.method) for p in self.points)
        notes = (f"exact solve: {self.exact_status}",
                 f"numeric search: Newton from a {STARTS_PER_AXIS}×{STARTS_PER_AXIS} grid over "
                 f"{', '.join(f'{w:g}' for w in self.window)}",
                 f"an eigenvalue within {self.tolerance:g}·max(1, max|λ|) of 0 makes the test inconclusive")
        if not self.points:  # an answer too: one clear line, and how the search went
            return View(f"f = {self.parsed.text} has no critical points (none exactly, none found numerically "
                        f"in the window)", (), (), notes=notes, plain_cells=(), digits=8)
        return View(f"critical points of f = {self.parsed.text}",
                    ("exact", "value", "f", "eigenvalues", "kind", "method"), rows, notes=notes,
                    plain_cells=plain, digits=8)


def _solve(grad: Sequence[sympy.Expr], variables: Sequence[sympy.Symbol]) -> list[dict]:
    return sympy.solve(list(grad), list(variables), dict=True)


def _real_point(sol: dict, variables: Sequence[sympy.Symbol]) -> tuple[tuple[sympy.Expr, ...], tuple[float, ...]] | None:
    if any(v not in sol for v in variables):
        return None  # a curve of critical points: the numeric search reports samples of it
    exact = tuple(sympy.sympify(sol[v]) for v in variables)
    values = []
    for e in exact:
        if e.free_symbols:
            return None
        re, im = sympy.N(e, 30).as_real_imag()
        if abs(im) > 1e-20 * max(1, abs(re)):
            return None
        values.append(float(re))
    return exact, tuple(values)


def _readable(exact: tuple[sympy.Expr, ...]) -> tuple[sympy.Expr, ...] | None:
    """Exact coordinates worth showing: real radicals and rationals, not casus
    irreducibilis forms full of I that only cancel numerically."""
    if any(e.has(sympy.I) or len(to_text(e)) > MAX_EXACT_TEXT for e in exact):
        return None
    return exact


def _derived(parsed: Parsed) -> tuple:
    """∇f and the Hessian, symbolic and compiled: derived once per search."""
    g = d.gradient(parsed.expr, parsed.variables)
    H = d.hessian(parsed.expr, parsed.variables)
    return g, H, Compiled(g, parsed.variables), Compiled([e for row in H for e in row], parsed.variables)


def _newton_search(parsed: Parsed, window: Sequence[float], derived: tuple | None = None,
                   progress: Callable[[int, int], None] | None = None) -> np.ndarray:
    """Critical points from Newton's method on ∇f = 0, started from a grid of points."""
    n = len(parsed.variables)
    _, _, grad, hess = derived or _derived(parsed)
    xmin, xmax, ymin, ymax = window
    axes = [np.linspace(xmin, xmax, STARTS_PER_AXIS), np.linspace(ymin, ymax, STARTS_PER_AXIS)][:n]
    mesh = np.meshgrid(*axes)
    X = np.stack([m.ravel() for m in mesh])
    if n > 2:  # further variables: a fixed-seed sample of the same box as y
        rng = np.random.default_rng(0)
        X = np.vstack([X, rng.uniform(ymin, ymax, size=(n - 2, X.shape[1]))])
    with np.errstate(all="ignore"):
        for k in range(NEWTON_STEPS):
            if progress is not None:
                progress(k, NEWTON_STEPS)
            G = grad(X)
            Hm = np.moveaxis(hess(X).reshape(n, n, -1), -1, 0)
            ok = np.isfinite(G).all(axis=0) & np.isfinite(Hm).all(axis=(1, 2))
            step = np.zeros_like(X)
            if ok.any():
                # lstsq-like solve that tolerates singular Hessians (degenerate points)
                step[:, ok] = np.einsum("rij,rj->ir", np.linalg.pinv(Hm[ok], rcond=1e-12), G[:, ok].T)
            X = X - step
        G = grad(X)
        scale = max(1.0, *(abs(w) for w in window))
        gn = np.linalg.norm(G, axis=0)
        # Newton may jump far from its start: keep what it found inside the window.
        pad_x, pad_y = 1e-9 * (xmax - xmin), 1e-9 * (ymax - ymin)
        inside = (X[0] >= xmin - pad_x) & (X[0] <= xmax + pad_x)
        if n > 1:
            inside &= (X[1] >= ymin - pad_y) & (X[1] <= ymax + pad_y)
        good = np.isfinite(gn) & (gn < 1e-8 * scale) & np.isfinite(X).all(axis=0) & inside
    return X[:, good].T


def _merge(points: list[np.ndarray], tol: float) -> list[int]:
    """Indices of the first of each cluster of points closer than ``tol``."""
    keep: list[int] = []
    for i, p in enumerate(points):
        if all(np.linalg.norm(p - points[j]) > tol for j in keep):
            keep.append(i)
    return keep


def numeric_critical(parsed: Parsed, window: Sequence[float]) -> list[tuple[float, ...]]:
    """The critical points the Newton search finds in ``window`` (no exact solve): quick
    enough to mark on every landscape plot."""
    scale = max(1.0, *(abs(w) for w in window))
    pts = list(_newton_search(parsed, window))
    return [tuple(float(v) for v in pts[i]) for i in _merge(pts, 1e-6 * scale)]


def exact_solve(grad: Sequence[sympy.Expr], variables: Sequence[sympy.Symbol], timeout: float,
                tick: Callable[[], None] | None = None) -> budget.Outcome:
    """``sympy.solve(∇f = 0)`` within the budget: refused by size first (a polynomial
    system above the degree limit, or more nodes than the size limit), then run under
    ``timeout`` seconds. The value is the list of solutions, or None."""
    lim = budget.limits()
    bound = budget.polynomial_degree(list(grad), list(variables))
    if bound is not None and bound > lim.degree:
        return budget.Outcome(None, False, f"not attempted: up to {bound} solutions, above "
                                           f"GRADLAB_EXACT_DEGREE={lim.degree}")
    return budget.attempt("sympy.solve", _solve, grad, variables, size=budget.size_of(*grad), seconds=timeout,
                          limit=lim, tick=tick)


def critical_points(parsed: Parsed, window: Sequence[float], timeout: float = 5.0,
                    progress: Callable[[int, int], None] | None = None) -> CriticalResult:
    """Every critical point of ``parsed.expr``, exact where SymPy finds them within the
    budget (``timeout`` seconds at most), numeric over ``window`` always; none
    found is an empty ``points``. ``progress(k, total)`` is called as the search goes."""
    variables = parsed.variables
    if not variables:
        raise Undefined("a constant function has no isolated critical points")
    if parsed.expr.has(sympy.zoo, sympy.nan, sympy.oo, -sympy.oo):
        raise Undefined("f is undefined everywhere: it divides by a constant that is zero")
    derived = _derived(parsed)
    grad, H, _, hess = derived
    total = NEWTON_STEPS + 10
    ticks = [0]

    def tick() -> None:  # the exact solve: up to 10 steps of the bar
        ticks[0] = min(ticks[0] + 1, 9)
        if progress is not None:
            progress(ticks[0], total)

    solved = exact_solve(grad, variables, timeout, tick)
    exact_found: list[tuple[tuple[sympy.Expr, ...], tuple[float, ...]]] = []
    if solved.exact:
        for sol in solved.value:
            rp = _real_point(sol, variables)
            if rp is not None:
                exact_found.append(rp)
        status = f"{len(exact_found)} real point{'s' if len(exact_found) != 1 else ''} from sympy.solve"
    elif solved.reason.startswith("not attempted"):
        status = solved.reason
    else:
        status = f"no exact answer ({solved.reason})"
    numeric = _newton_search(parsed, window, derived,
                             None if progress is None else (lambda k, n: progress(10 + k, total)))

    scale = max(1.0, *(abs(w) for w in window))
    tol = 1e-6 * scale
    candidates = [np.array(v) for _, v in exact_found] + list(numeric)
    methods = ["exact"] * len(exact_found) + ["numeric"] * len(numeric)
    keep = _merge(candidates, tol)
    F = Compiled([parsed.expr], variables)
    n = len(variables)
    out = []
    for i in keep:
        p = candidates[i]
        found_by = sorted({m for j, m in enumerate(methods) if np.linalg.norm(candidates[j] - p) <= tol})
        exact = _readable(exact_found[i][0]) if i < len(exact_found) else None
        with np.errstate(all="ignore"):
            f = float(F(p)[0])
            Hp = hess(p).reshape(n, n)
        if not (math.isfinite(f) and np.isfinite(Hp).all()):
            continue
        eig = tuple(eigenvalues(Hp))
        if i < len(exact_found):
            inert = d.inertia(H, dict(zip(variables, exact_found[i][0])), eig)
        else:
            inert = d.classify_floats(eig, EIG_TOL)
        out.append(CriticalPoint(exact, tuple(float(v) for v in p), f, eig, inert.classification(True),
                                 ", ".join(found_by)))
    if progress is not None:
        progress(total, total)
    # None found is an answer (x + y has none), not a failure: an empty list of points.
    out.sort(key=lambda c: c.value)
    return CriticalResult(parsed, tuple(window), tuple(out), status, deadline=solved.deadline)
