"""Critical points: every x with ∇f(x) = 0, found exactly and numerically, classified.

SymPy's ``solve`` runs first, within the budget of exact work (:mod:`gradlab.calculus.budget`):
a polynomial system whose Bézout bound (the product of the degrees) is above the degree
limit, or a system larger than the size limit, is not attempted, so the same input gives
the same answer on every machine; what is attempted runs under the ``timeout`` deadline,
and when that deadline decides, the status says so. ``solve`` may also return only some
of the points without saying so, so a multi-start Newton search over the window always
runs too, and its points are merged with the exact ones. Each point is classified by the
Hessian's inertia: exactly at rational points, else from its eigenvalues. Where ∇f
vanishes on a whole set (``(x - y)**2`` on the line y = x), the exact solve gives the set
in its free variables; it is one entry, and the numeric points on it are left out.

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
from gradlab.errors import LimitExceeded, Undefined
from gradlab.calculus.numeric import Compiled, eigenvalues
from gradlab.calculus.parsing import Parsed, to_text
from gradlab.views import View
from gradlab.present import Presentable  # to_dict, LaTeX and rich for notebooks

_TRACE = False
STARTS_PER_AXIS = 15
NEWTON_STEPS = 60
#: Up to this many variables each Newton step is the pseudo-inverse's (an SVD per start,
#: tolerant of singular Hessians); past it a batched LU solve (``np.linalg.solve`` on the
#: stacked Hessians: 50 variables × 225 starts cost 0.01 s a step, the SVDs 2 s), with the
#: pseudo-inverse only for the Hessians the LU finds singular.
PINV_MAX = 4
#: The most variables the search takes: each step solves a dense n×n system per start
#: (n³/3 operations), past 60 variables a search takes longer than a user waits for an answer. Beyond,
#: critical refuses at once (exit 2) instead of running for minutes.
MAX_VARIABLES = 60
#: An eigenvalue within EIG_TOL × max(1, max|λ|) of zero makes the test inconclusive.
EIG_TOL = 1e-8
MAX_EXACT_TEXT = 60


@dataclass(frozen=True)
class CriticalPoint:
    """One critical point, or one set of them that is not isolated.

    A point: ``exact`` coordinates where SymPy found readable ones (else ``None``),
    ``value`` as floats always, f there, the Hessian's eigenvalues, the classification,
    and which method found it (``exact``, ``numeric`` or both). A coordinate that is a
    root of a polynomial with no radicals (``CRootOf``) has no exact text: ``roots``
    gives that polynomial in the coordinate's variable instead (else ``None``).

    A set (``free`` names its free variables): every point whose free variables take
    any value and whose other coordinates are ``exact`` (expressions in the free ones; a
    free variable is itself). ``value`` holds a coordinate's float where it is constant
    on the set, else ``None``; ``f`` is f's value on the set; ``eigenvalues`` is empty
    (the Hessian varies along the set and is singular everywhere on it); the
    classification is ``minimum (non-isolated)`` or ``maximum (non-isolated)`` where
    f ≥ f(set) (or ≤) is proved from the exact form, else ``degenerate (non-isolated)``.
    """

    exact: tuple[sympy.Expr, ...] | None
    value: tuple[float | None, ...]
    f: float | None
    eigenvalues: tuple[float, ...]
    classification: str
    method: str
    free: tuple[str, ...] = ()
    roots: tuple[sympy.Expr | None, ...] | None = None

    def exact_texts(self) -> list[str | None] | None:
        """The exact coordinates in gradlab's syntax; None for a root with no radicals."""
        if self.exact is None:
            return None
        roots = self.roots or (None,) * len(self.exact)
        return [None if r is not None else to_text(v) for v, r in zip(self.exact, roots)]

    def to_record(self) -> dict[str, Any]:
        return {
            "point": [None if v is None else float(v) for v in self.value],
            "point_exact": self.exact_texts(),
            "point_roots": None if self.roots is None else [None if r is None else to_text(r) for r in self.roots],
            "free": list(self.free),
            "f": self.f, "eigenvalues": list(self.eigenvalues) if not self.free else None,
            "classification": self.classification, "method": self.method,
        }

    def exact_cell(self) -> str:
        if self.exact is None:
            return "—"
        texts = self.exact_texts() or []
        roots = self.roots or (None,) * len(texts)
        return ", ".join(t if t is not None else f"root of {to_text(r)}" for t, r in zip(texts, roots))

    def value_cell(self) -> Any:
        """A point's floats; for a set, what it is (a line, a curve, a plane, …)."""
        if not self.free or self.exact is None:
            return self.value
        syms = sorted(set().union(*(e.free_symbols for e in self.exact)), key=str)
        linear = all(e.is_polynomial(*syms) and sympy.Poly(e, *syms).total_degree() <= 1 for e in self.exact)
        k = len(self.free)
        shape = {1: "line" if linear else "curve", 2: "plane" if linear else "surface"}.get(k, f"{k}-dimensional set")
        return f"a {shape}: {', '.join(self.free)} free"


@dataclass(frozen=True)
class CriticalResult(Presentable):
    """All critical points found (isolated points first, then sets of them), with how
    the search went."""

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
        rows = tuple((p.exact_cell(), p.value_cell(), p.f, p.eigenvalues if not p.free else "—",
                      p.classification, p.method) for p in self.points)
        plain = tuple((p.value, p.f, p.classification, p.method) for p in self.points)
        notes = [f"exact solve: {self.exact_status}", _search_note(self.parsed.variables, self.window),
                 f"an eigenvalue within {self.tolerance:g}·max(1, max|λ|) of 0 makes the test inconclusive"]
        if any(p.free for p in self.points):
            notes.append("a row with a free variable is a set of critical points, not isolated ones: its "
                         "coordinates are given in the free variables; numeric points on it are not listed")
        if any(p.roots and any(r is not None for r in p.roots) for p in self.points):
            notes.append("root of p: the real root of the polynomial p nearest the value shown "
                         "(it has no expression in radicals)")
        if not self.points:  # an answer too: one clear line, and how the search went
            return View(f"f = {self.parsed.text} has no critical points (none exactly, none found numerically "
                        f"in the window)", (), (), notes=tuple(notes), plain_cells=(), digits=8)
        return View(f"critical points of f = {self.parsed.text}",
                    ("exact", "value", "f", "eigenvalues", "kind", "method"), rows, notes=tuple(notes),
                    plain_cells=plain, digits=8)


def _search_note(variables: Sequence[sympy.Symbol], window: Sequence[float]) -> str:
    """How the Newton search started: the grid, and past two variables the others."""
    text = (f"numeric search: Newton from a {STARTS_PER_AXIS}×{STARTS_PER_AXIS} grid over "
            f"{', '.join(f'{w:g}' for w in window)}")
    if len(variables) > 2:
        first, second = variables[0].name, variables[1].name
        text += (f" in ({first}, {second}), twice: the other variables random in {second}'s range, "
                 f"then each equal to {second}")
    return text


def _solve(grad: Sequence[sympy.Expr], variables: Sequence[sympy.Symbol]) -> list[dict]:
    """``sympy.solve(∇f = 0)``, completed where it silently drops roots.

    For a polynomial system ``solve`` keeps only the roots it can write in radicals:
    ``x**5 - x + 1 = 0`` gives no solution at all. So a polynomial system with finitely
    many solutions is solved by ``solve_poly_system(strict=True)``, which refuses rather
    than drops; where it refuses, ``nonlinsolve`` gives every root, as ``CRootOf`` where
    no radicals exist. Sets of solutions (``{x: 0}``, y free) come from ``solve``.
    """
    eqs, vs = list(grad), list(variables)
    if budget.polynomial_degree(eqs, vs) is not None:
        from sympy.polys.polyerrors import UnsolvableFactorError
        from sympy.solvers.polysys import solve_poly_system

        try:
            found = solve_poly_system(eqs, *vs, strict=True)
        except UnsolvableFactorError:
            found = _nonlinsolve(eqs, vs)
        except (NotImplementedError, sympy.PolynomialError):
            found = None  # not zero-dimensional (a curve of solutions): solve below
        if found is not None:
            return [dict(zip(vs, sol)) for sol in found]
    return sympy.solve(eqs, vs, dict=True)


def _nonlinsolve(eqs: list[sympy.Expr], vs: list[sympy.Symbol]) -> list[tuple] | None:
    """Every solution as a tuple in ``vs`` order, or None when nonlinsolve does not give
    a finite set of points."""
    got = sympy.nonlinsolve(eqs, vs)
    if not isinstance(got, sympy.FiniteSet):
        return None
    sols = [tuple(t) for t in got]
    if any(len(t) != len(vs) or any(sympy.sympify(c).free_symbols for c in t) for t in sols):
        return None
    return sols


def _real_point(sol: dict, variables: Sequence[sympy.Symbol]) -> tuple[tuple[sympy.Expr, ...], tuple[float, ...]] | None:
    if any(v not in sol for v in variables):
        return None  # a set of critical points: see _family
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
    """Exact coordinates worth showing: real radicals and rationals (and roots of
    polynomials, see :func:`_roots`), not casus irreducibilis forms full of I that only
    cancel numerically."""
    if any(not e.has(sympy.CRootOf) and (e.has(sympy.I) or len(to_text(e)) > MAX_EXACT_TEXT) for e in exact):
        return None
    return exact


def _roots(exact: tuple[sympy.Expr, ...], variables: Sequence[sympy.Symbol]) -> tuple[sympy.Expr | None, ...] | None:
    """For each coordinate that is a ``CRootOf`` (no radicals: gradlab cannot write it),
    its polynomial in that coordinate's variable; None for the others, or None in all."""
    if not any(e.has(sympy.CRootOf) for e in exact):
        return None
    out: list[sympy.Expr | None] = []
    for e, v in zip(exact, variables):
        if not e.has(sympy.CRootOf):
            out.append(None)
        elif isinstance(e, sympy.CRootOf):
            out.append(e.poly.as_expr().xreplace({e.poly.gen: v}))
        else:  # an expression in roots: its minimal polynomial (exact, if not small)
            out.append(sympy.minimal_polynomial(e, v))
    return tuple(out)


@dataclass(frozen=True)
class _Family:
    """A solution of ∇f = 0 with free variables: each coordinate as an expression in
    the free ones, compiled; f's exact value on the set where SymPy reduces it."""

    exact: tuple[sympy.Expr, ...]
    free: tuple[sympy.Symbol, ...]
    coords: Compiled
    f_exact: sympy.Expr | None

    def at(self, free_values: np.ndarray) -> np.ndarray:
        """Points of the set (columns) for values of the free variables (rows)."""
        return self.coords(free_values)

    def distance(self, p: np.ndarray, free_index: Sequence[int]) -> float:
        """How far p is from the point of the set with p's free coordinates."""
        with np.errstate(all="ignore"):
            q = self.at(p[list(free_index)].reshape(-1, 1))[:, 0]
        d = float(np.linalg.norm(p - q))
        return d if math.isfinite(d) else math.inf


def _family(sol: dict, variables: Sequence[sympy.Symbol], expr: sympy.Expr) -> _Family | None:
    """The set of critical points a parametric solution describes, or None when it is
    not one in the free variables alone."""
    free = tuple(v for v in variables if v not in sol)
    exact = tuple(sympy.sympify(sol.get(v, v)) for v in variables)
    if any(not e.free_symbols <= set(free) or e.has(sympy.I) for e in exact):
        return None
    f_on = expr.xreplace(dict(zip(variables, exact)))
    f_exact = f_on if not f_on.free_symbols and f_on.is_finite else None
    return _Family(exact, free, Compiled(list(exact), free), f_exact)


FAMILY_SAMPLES = 9


def _family_samples(fam: _Family, variables: Sequence[sympy.Symbol], window: Sequence[float]) -> np.ndarray:
    """Real points of the set: the free variables on a grid over the window (the first
    variable on x's range, the others on y's), the rest computed; columns, finite only."""
    ranges = [(window[0], window[1]) if variables.index(v) == 0 else (window[2], window[3]) for v in fam.free]
    if len(ranges) <= 2:
        axes = [np.linspace(lo, hi, FAMILY_SAMPLES) for lo, hi in ranges]
        T = np.stack([m.ravel() for m in np.meshgrid(*axes)])
    else:
        rng = np.random.default_rng(0)
        T = np.stack([rng.uniform(lo, hi, FAMILY_SAMPLES ** 2) for lo, hi in ranges])
    with np.errstate(all="ignore"):
        P = np.asarray(fam.at(T), dtype=float)
    return P[:, np.isfinite(P).all(axis=0)]


#: Functions increasing in their argument wherever they are defined.
_INCREASING = (sympy.exp, sympy.log, sympy.atan, sympy.tanh, sympy.sinh, sympy.asinh, sympy.erf)


def _extreme(e: sympy.Expr, point: dict, lower: bool) -> bool:
    """Whether ``e ≥ e(set)`` everywhere (``lower``; else ``e ≤ e(set)``), where
    ``point`` maps the variables onto the set and ``e`` is constant on it. A proof by
    the form of ``e``, never a numeric check: False means not proved."""
    e0 = e.xreplace(point)
    if e0.free_symbols or not e0.is_finite:
        return False
    if e.is_number:
        return True
    gap = (e - e0) if lower else (e0 - e)
    if gap.is_nonnegative:
        return True
    if e.is_Add:  # each term at its own extreme on the set: so is the sum
        return all(_extreme(t, point, lower) for t in e.args)
    if e.is_Mul:
        k, rest = e.as_coeff_Mul()
        if k != 1 and k.is_nonzero:
            return _extreme(rest, point, lower if k.is_positive else not lower)
        return False
    if isinstance(e, (sympy.sin, sympy.cos)):  # -1 ≤ sin, cos ≤ 1
        return e0 == (-1 if lower else 1)
    if e.is_Pow and e.exp.is_positive and e.base.is_nonnegative:  # increasing in its base
        return _extreme(e.base, point, lower)
    if isinstance(e, _INCREASING) or getattr(e.func, "__name__", "") in ("sigmoid", "softplus"):
        return len(e.args) == 1 and _extreme(e.args[0], point, lower)
    if e.is_polynomial() and sympy.count_ops(gap) <= 200:
        return bool(sympy.factor(gap).is_nonnegative)
    return False


def _set_kind(expr: sympy.Expr, fam: _Family, variables: Sequence[sympy.Symbol]) -> str:
    point = dict(zip(variables, fam.exact))
    if fam.f_exact is not None:
        if _extreme(expr, point, lower=True):
            return "minimum (non-isolated)"
        if _extreme(expr, point, lower=False):
            return "maximum (non-isolated)"
    return "degenerate (non-isolated)"


def check_size(n: int) -> None:
    """Refuse a function of more than MAX_VARIABLES variables before any work.

    >>> check_size(101)
    Traceback (most recent call last):
    ...
    gradlab.errors.LimitExceeded: critical points: f has 101 variables; the search takes at most 60 (a dense Newton solve per start and step)
    """
    if n > MAX_VARIABLES:
        raise LimitExceeded(f"critical points: f has {n} variables; the search takes at most {MAX_VARIABLES} "
                            f"(a dense Newton solve per start and step)", None)


class _SparseHessian:
    """The Hessian compiled from its nonzero upper triangle only, for arrays: called on
    ``X`` (shape ``(n, R)``) it gives the ``(n*n, R)`` entries row by row, as a
    ``Compiled`` of every entry would (a banded Hessian, Rosenbrock's, has 3n - 2 of the
    n² entries nonzero: compiling and evaluating the zeros is most of the cost)."""

    def __init__(self, H: Sequence[Sequence[sympy.Expr]], variables: Sequence[sympy.Symbol]):
        n = len(variables)
        pairs = [(i, j) for i in range(n) for j in range(i, n) if H[i][j] != 0]
        self.n = n
        self._upper = np.array([i * n + j for i, j in pairs], dtype=np.intp)
        self._lower = np.array([j * n + i for i, j in pairs], dtype=np.intp)
        self._entries = Compiled([H[i][j] for i, j in pairs], variables)

    def __call__(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=float)
        out = np.zeros((self.n * self.n, *X.shape[1:]))
        if self._upper.size:
            values = self._entries(X)
            out[self._upper] = values
            out[self._lower] = values
        return out


def _derived(parsed: Parsed) -> tuple:
    """∇f and the Hessian, symbolic and compiled: derived once per search."""
    g = d.gradient(parsed.expr, parsed.variables)
    H = d.hessian(parsed.expr, parsed.variables)
    if len(parsed.variables) <= PINV_MAX:
        hess = Compiled([e for row in H for e in row], parsed.variables)
    else:
        hess = _SparseHessian(H, parsed.variables)
    return g, H, Compiled(g, parsed.variables), hess


def _newton_steps(H: np.ndarray, G: np.ndarray) -> np.ndarray:
    """The Newton steps H⁺g for stacked Hessians ``H`` (R, n, n) and gradients ``G``
    (R, n): the pseudo-inverse's up to PINV_MAX variables, else a batched LU solve, and
    where a Hessian is singular or nearly (a degenerate point: a condition number above
    1e12, the pseudo-inverse's cut) the damped step of :func:`_damped_steps`.

    >>> _newton_steps(np.array([np.diag([2.0, 4, 1, 1, 1]), np.diag([2.0, 0, 1, 1, 1])]), np.ones((2, 5)))
    array([[0.5 , 0.25, 1.  , 1.  , 1.  ],
           [0.5 , 0.  , 1.  , 1.  , 1.  ]])
    """
    n = H.shape[-1]
    if n <= PINV_MAX:  # lstsq-like solve that tolerates singular Hessians (degenerate points)
        return np.einsum("rij,rj->ri", np.linalg.pinv(H, rcond=1e-12), G)
    norm_h = np.sqrt(np.einsum("rij,rij->r", H, H))
    with np.errstate(all="ignore"):
        try:
            step = np.linalg.solve(H, G[..., None])[..., 0]
        except np.linalg.LinAlgError:  # a pivot exactly 0 fails the whole batch: set those apart
            step = np.full_like(G, np.nan)
            regular = np.linalg.slogdet(H)[0] != 0
            if regular.any():
                step[regular] = np.linalg.solve(H[regular], G[regular][..., None])[..., 0]
        # LU finds a Hessian singular only where a pivot is exactly 0; rounding usually
        # leaves a tiny one, and the step comes out huge along the near-null direction.
        # Where ‖step‖·‖H‖ > 1e12·‖g‖ the condition number is above 1e12 (‖H⁻¹g‖ ≤
        # ‖g‖/σ_min and ‖H‖_F ≥ σ_max).
        bad = ~(np.linalg.norm(step, axis=1) * norm_h <= 1e12 * np.linalg.norm(G, axis=1))
    if bad.any():
        step[bad] = _damped_steps(H[bad], G[bad], norm_h[bad])
    return step


#: δ/‖H‖ of the damped step: H² + δ²I then has a condition number of at most 1e10, and
#: the solve's rounding stays near 1e-6 of the step.
DAMPING = 1e-5


def _damped_steps(H: np.ndarray, G: np.ndarray, norm_h: np.ndarray) -> np.ndarray:
    """(H² + δ²I)⁻¹Hg with δ = DAMPING·‖H‖_F, per start: H⁻¹g along the eigenvalues well
    away from 0 and next to nothing along those below δ, like the pseudo-inverse, but
    at the cost of one LU (NumPy's batched SVD takes seconds on a few hundred 50×50
    Hessians whose entries span 1e-10 to 1e10). A zero Hessian, or one past float64's
    range, gives the step 0 (the start stops there)."""
    out = np.zeros_like(G)
    live = np.isfinite(norm_h) & (norm_h > 0)
    if live.any():
        with np.errstate(all="ignore"):
            Hs = H[live] / norm_h[live, None, None]  # ‖Hs‖_F = 1: nothing overflows
            A = Hs @ Hs + DAMPING**2 * np.eye(H.shape[-1])
            rhs = np.einsum("rij,rj->ri", Hs, G[live])
            try:
                s = np.linalg.solve(A, rhs[..., None])[..., 0] / norm_h[live, None]
            except np.linalg.LinAlgError:  # not finite entries: no step
                s = np.zeros_like(rhs)
        out[live] = np.where(np.isfinite(s).all(axis=1, keepdims=True), s, 0.0)
    return out


def _newton_search(parsed: Parsed, window: Sequence[float], derived: tuple | None = None,
                   progress: Callable[[int, int], None] | None = None) -> np.ndarray:
    """Critical points from Newton's method on ∇f = 0, started from a grid of points.

    Only the starts still moving are evaluated: a start stops where its Newton step
    is below a few ulps of its coordinates (it has arrived, further steps only move it
    in the last bits) or where ∇f or the Hessian is not finite (its step would be 0 from
    then on). On a data surface each evaluation is a pass over every row, so this is
    most of the cost.
    """
    n = len(parsed.variables)
    _, _, grad, hess = derived or _derived(parsed)
    xmin, xmax, ymin, ymax = window
    axes = [np.linspace(xmin, xmax, STARTS_PER_AXIS), np.linspace(ymin, ymax, STARTS_PER_AXIS)][:n]
    mesh = np.meshgrid(*axes)
    X = np.stack([m.ravel() for m in mesh])
    if n > 2:
        # further variables: a fixed-seed sample of the same box as y, and, as many
        # starts again, the grid with every further variable equal to y (the plane of
        # (x, y, y, …, y)): random starts in 50 dimensions miss Rosenbrock's (1, …, 1)
        rng = np.random.default_rng(0)
        X = np.hstack([np.vstack([X, rng.uniform(ymin, ymax, size=(n - 2, X.shape[1]))]),
                       np.vstack([X, np.repeat(X[1:2], n - 2, axis=0)])])
    active = np.arange(X.shape[1])
    last = np.full(X.shape[1], np.inf)  # each start's previous step length
    follow = np.arange(X.shape[1])  # the start whose path each start shares
    drifted = np.full(X.shape[1], np.inf)  # how far each came back to two steps ago, last time
    before = np.full_like(X, np.nan)  # each start two steps ago (at the step's start: one step ago)
    eps = np.finfo(float).eps
    with np.errstate(all="ignore"):
        for k in range(NEWTON_STEPS):
            if progress is not None:
                progress(k, NEWTON_STEPS)
            if _TRACE and active.size: print(k, active.size, np.percentile(np.abs(X[:, active]).max(axis=0), [10, 50, 90]), np.percentile(last[active], [10, 50, 90]))
            if not active.size:
                break
            Xa = X[:, active]
            Ga = grad(Xa)
            Hm = np.moveaxis(hess(Xa).reshape(n, n, -1), -1, 0)
            ok = np.isfinite(Ga).all(axis=0) & np.isfinite(Hm).all(axis=(1, 2))
            step = np.zeros_like(Xa)
            if ok.any():
                step[:, ok] = _newton_steps(Hm[ok], Ga[:, ok].T).T
            X[:, active] = Xa - step
            size = np.abs(step).max(axis=0)
            mag = np.maximum(1.0, np.abs(Xa).max(axis=0))
            # Arrived: a step within a few ulps, or a tiny step after a step 100 times
            # longer (quadratic convergence: what is left is below the ulps). A slow,
            # linear approach (a degenerate point) keeps all its steps.
            arrived = (size <= 4 * eps * mag) | ((size <= 1e-10 * mag) & (size <= 1e-2 * last[active]))
            # Caught in an attracting cycle: after a long step, back near where it was two
            # steps ago, and nearer than last time. Newton would go round it to the end;
            # no point of it is critical.
            drift = np.abs(X[:, active] - before[:, active]).max(axis=0)
            cycling = (size > 1e-3 * mag) & (drift <= 1e-3 * size) & (drift <= 0.5 * drifted[active])
            drifted[active] = np.where(np.isfinite(drift), drift, np.inf)
            arrived |= cycling
            before[:, active] = Xa
            # Converging (a step under half the last, and short): two such starts closer
            # than their steps have one limit, to the ulps; one of them goes on.
            converging = ok & ~arrived & (size <= 0.5 * last[active]) & (size <= 1e-2 * mag)
            last[active] = size
            idx = np.flatnonzero(converging)
            if idx.size > 1:
                P = X[:, active[idx]]
                near = np.abs(P[:, :, None] - P[:, None, :]).max(axis=0) <= np.maximum.outer(size[idx], size[idx])
                lead = np.argmax(near, axis=1)  # the first start each one is near (itself at worst)
                lead = lead[lead]  # near the lead's lead: one limit still (within two steps)
                moved = lead != np.arange(idx.size)
                follow[active[idx[moved]]] = active[idx[lead[moved]]]
                arrived[idx[moved]] = True
            active = active[ok & ~arrived]
            # Starts that have met (to 12 decimals) follow the same path from here on:
            # one of them goes on, the others take its end point.
            _, first, which = np.unique(np.round(X[:, active], 12), axis=1, return_index=True, return_inverse=True)
            if first.size < active.size:
                follow[active] = active[first[which.ravel()]]
                active = np.sort(active[first])
        while not np.array_equal(follow[follow], follow):
            follow = follow[follow]
        X = X[:, follow]
        # ∇f once per end point (most starts share one)
        ends, back = np.unique(X, axis=1, return_inverse=True)
        G = grad(ends)[:, back.ravel()]
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


#: A factor common to ∇f's components is looked for in pairs of components with at most
#: this many variables between them.
MAX_FACTOR_VARIABLES = 8


def _common_factor(grad: Sequence[sympy.Expr], variables: Sequence[sympy.Symbol],
                   polynomial: bool | None = None) -> tuple[sympy.Expr, list[sympy.Expr]] | None:
    """For a polynomial gradient in two or more variables whose components share a
    factor g (``(x - y)**2``: ∇f = 2(x - y)·(1, -1)): g and the components divided by it.
    Every zero of g is a critical point, so ``g = 0`` is a set of them, and the rest of
    the system has fewer solutions. None when there is no such factor. ``polynomial``:
    whether ∇f is known to be polynomial (else it is checked)."""
    if len(variables) < 2:
        return None
    if polynomial is None:
        polynomial = budget.polynomial_degree(list(grad), list(variables)) is not None
    if not polynomial:
        return None
    g = sympy.Integer(0)
    for c in grad:
        # the generators of these two only: a gcd over all n variables is a dense
        # polynomial in n variables (200 of them overflow the recursion), and even one in
        # 30 costs most of a second: past MAX_FACTOR_VARIABLES, no search (bounded time)
        if len((g.free_symbols | c.free_symbols)) > MAX_FACTOR_VARIABLES:
            return None
        g = sympy.gcd(g, c)
        if g.is_number and g != 0:
            return None  # no common factor: stop at the first pair that shows it
    if not g.free_symbols:
        return None
    return g, [sympy.cancel(c / g) for c in grad]


def _solve_split(common: sympy.Expr, rest: list[sympy.Expr], variables: Sequence[sympy.Symbol]) -> list[dict]:
    """The solutions of ``rest = 0`` and the set ``common = 0`` (one variable solved for)."""
    return _solve(rest, variables) + sympy.solve(common, list(variables), dict=True)


def exact_solve(grad: Sequence[sympy.Expr], variables: Sequence[sympy.Symbol], timeout: float,
                tick: Callable[[], None] | None = None) -> budget.Outcome:
    """``sympy.solve(∇f = 0)`` within the budget: refused by size first (a polynomial
    system above the degree limit, or more nodes than the size limit), then run under
    ``timeout`` seconds. A factor common to every component of a polynomial ∇f is a set
    of critical points, solved apart, and the degree bound is the rest's. The value is
    the list of solutions, or None."""
    lim = budget.limits()
    bound = budget.polynomial_degree(list(grad), list(variables))
    split = _common_factor(grad, variables, polynomial=bound is not None)
    if split is not None:
        bound = budget.polynomial_degree(split[1], list(variables))
    if bound is not None and bound > lim.degree:
        return budget.Outcome(None, False, f"not attempted: up to {bound} solutions, above "
                                           f"GRADLAB_EXACT_DEGREE={lim.degree}")
    if split is not None:
        return budget.attempt("sympy.solve", _solve_split, split[0], split[1], variables, size=budget.size_of(*grad),
                              seconds=timeout, limit=lim, tick=tick)
    return budget.attempt("sympy.solve", _solve, grad, variables, size=budget.size_of(*grad), seconds=timeout,
                          limit=lim, tick=tick)


def critical_points(parsed: Parsed, window: Sequence[float], timeout: float = 5.0,
                    progress: Callable[[int, int], None] | None = None) -> CriticalResult:
    """Every critical point of ``parsed.expr``, exact where SymPy finds them within the
    budget (``timeout`` seconds at most), numeric over ``window`` always; none
    found is an empty ``points``. Where the exact solve gives a set of critical points
    (``x = 0`` for every y), the set is one entry and the numeric points on it are not
    listed. ``progress(k, total)`` is called as the search goes."""
    variables = parsed.variables
    if not variables:
        raise Undefined("a constant function has no isolated critical points")
    check_size(len(variables))
    if parsed.expr.has(sympy.zoo, sympy.nan, sympy.oo, -sympy.oo):
        raise Undefined("f is undefined everywhere: it divides by a constant that is zero")
    derived = _derived(parsed)
    grad, H, grad_c, hess = derived
    total = NEWTON_STEPS + 10
    ticks = [0]

    def tick() -> None:  # the exact solve: up to 10 steps of the bar
        ticks[0] = min(ticks[0] + 1, 9)
        if progress is not None:
            progress(ticks[0], total)

    scale = max(1.0, *(abs(w) for w in window))
    tol = 1e-6 * scale
    solved = exact_solve(grad, variables, timeout, tick)
    exact_found: list[tuple[tuple[sympy.Expr, ...], tuple[float, ...]]] = []
    families: list[tuple[_Family, np.ndarray]] = []
    if solved.exact:
        for sol in solved.value:
            rp = _real_point(sol, variables)
            if rp is not None:
                exact_found.append(rp)
                continue
            fam = _family(sol, variables, parsed.expr) if any(v not in sol for v in variables) else None
            samples = _verified(fam, variables, window, grad_c) if fam is not None else None
            if samples is not None:
                families.append((fam, samples))
    elif solved.reason.startswith("not attempted"):
        status = solved.reason
    else:
        status = f"no exact answer ({solved.reason})"
    numeric = _newton_search(parsed, window, derived,
                             None if progress is None else (lambda k, n: progress(10 + k, total)))

    families = _largest(families, variables, tol)
    periods = _other_periods(families, numeric, parsed.expr, variables, window, grad_c, tol)
    families += periods
    F = Compiled([parsed.expr], variables)
    free_index = [[variables.index(v) for v in fam.free] for fam, _ in families]
    on_family = [False] * len(families)
    # A parametrisation can fail where the set turns (x = sqrt(1 - y**2) at y = 1 + 1e-16):
    # a factor g common to ∇f's components is the set's own equation, and |g|/|∇g| the
    # distance to it, to first order.
    split = _common_factor(grad, variables) if families else None
    if split is not None:
        g_c = Compiled([split[0], *d.gradient(split[0], variables)], variables)
        with np.errstate(all="ignore"):
            of_g = [bool(np.all(np.abs(g_c(S)[0]) <= 1e-9 * np.maximum(1.0, np.linalg.norm(g_c(S)[1:], axis=0))))
                    for _, S in families]

    def g_distance(p: np.ndarray) -> float:
        if split is None:
            return math.inf
        with np.errstate(all="ignore"):
            v = g_c(p.reshape(-1, 1))[:, 0]
        dist = abs(v[0]) / np.linalg.norm(v[1:]) if np.linalg.norm(v[1:]) > 0 else (0.0 if v[0] == 0 else math.inf)
        return float(dist) if math.isfinite(dist) else math.inf

    def on_a_set(p: np.ndarray, numeric_only: bool) -> bool:
        """Whether p lies on a set found exactly; a numeric point also where it cannot be
        told from the set's nearest point (the same f, near: Newton crawls on a flat set)."""
        hit = False
        for j, (fam, _) in enumerate(families):
            dist = fam.distance(p, free_index[j])
            if dist <= tol or (numeric_only and dist <= 1e-3 * scale and fam.f_exact is not None
                               and abs(float(F(p)[0]) - float(fam.f_exact)) <= 1e-8 * max(1.0, abs(float(fam.f_exact)))):
                on_family[j] = on_family[j] or numeric_only
                hit = True
        if not hit and g_distance(p) <= tol:
            for j in range(len(families)):
                on_family[j] = on_family[j] or (numeric_only and of_g[j])
            hit = True
        return hit

    if solved.exact:
        on_sets = [ef for ef in exact_found if on_a_set(np.array(ef[1]), False)]
        exact_found = [ef for ef in exact_found if not any(ef is o for o in on_sets)]
        status = _status(len(exact_found), len(families) - len(periods), len(on_sets), len(periods))
    with np.errstate(all="ignore"):
        numeric = [p for p in numeric if not on_a_set(p, True)]
    candidates = [np.array(v) for _, v in exact_found] + list(numeric)
    methods = ["exact"] * len(exact_found) + ["numeric"] * len(numeric)
    keep = _merge(candidates, tol)
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
                                 ", ".join(found_by), roots=_roots(exact, variables) if exact else None))
    out.sort(key=lambda c: c.value)
    sets = []
    for (fam, samples), seen in zip(families, on_family):
        value = tuple(float(e) if not e.free_symbols else None for e in fam.exact)
        if fam.f_exact is not None:
            f_value: float | None = float(fam.f_exact)
        else:  # f is constant on a connected set of critical points; SymPy did not reduce it
            with np.errstate(all="ignore"):
                fs = F(samples)[0]
            f_value = float(np.median(fs)) if np.isfinite(fs).any() else None
        with np.errstate(all="ignore"):
            at_zero = np.nan_to_num(fam.at(np.zeros((len(fam.free), 1)))[:, 0], nan=np.inf)
        sets.append(((len(fam.free), tuple(at_zero.tolist())),
                     CriticalPoint(fam.exact, value, f_value, (), _set_kind(parsed.expr, fam, variables),
                                   "exact, numeric" if seen else "exact", free=tuple(v.name for v in fam.free))))
    # in order of their point where the free variables are 0 (the other periods in place)
    sets = [c for _, c in sorted(sets, key=lambda kc: kc[0])]
    if progress is not None:
        progress(total, total)
    # None found is an answer (x + y has none), not a failure: an empty list of points.
    return CriticalResult(parsed, tuple(window), tuple(out) + tuple(sets), status, deadline=solved.deadline)


def _verified(fam: _Family, variables: Sequence[sympy.Symbol], window: Sequence[float],
              grad_c: Compiled) -> np.ndarray | None:
    """Samples of the set where it has real points and ∇f vanishes on all of them (a
    check of SymPy's answer), else None."""
    samples = _family_samples(fam, variables, window)
    if not samples.size:
        return None
    with np.errstate(all="ignore"):
        gn = np.linalg.norm(grad_c(samples), axis=0)
    return samples if np.all(gn <= 1e-8 * np.maximum(1.0, np.abs(samples).max(axis=0))) else None


#: At most this many sets are added from other periods of a periodic f.
MAX_PERIODS = 24


def _other_periods(families: list[tuple[_Family, np.ndarray]], numeric: Sequence[np.ndarray], expr: sympy.Expr,
                   variables: Sequence[sympy.Symbol], window: Sequence[float], grad_c: Compiled,
                   tol: float) -> list[tuple[_Family, np.ndarray]]:
    """Sets SymPy gave for one period only (``sin(x + y)``: x = π/2 - y and 3π/2 - y)
    moved by multiples of π/4 in their solved coordinates to pass through a numeric
    point that lies on none; each kept where ∇f vanishes on it (checked as SymPy's)."""
    if not families or not expr.has(sympy.sin, sympy.cos, sympy.tan):
        return []
    out: list[tuple[_Family, np.ndarray]] = []
    index = [[variables.index(v) for v in fam.free] for fam, _ in families]
    for p in numeric:
        if len(out) >= MAX_PERIODS:
            break
        if any(f.distance(p, [variables.index(v) for v in f.free]) <= tol for f, _ in families + out):
            continue
        for (fam, _), free_index in zip(families, index):
            with np.errstate(all="ignore"):
                q = fam.at(p[free_index].reshape(-1, 1))[:, 0]
            shift = {}
            for i, v in enumerate(variables):
                if v in fam.free:
                    continue
                k = (p[i] - q[i]) / math.pi
                r = sympy.Rational(round(k * 4), 4) if math.isfinite(k) and abs(k) < 1e6 else None
                if r is None or abs(k - float(r)) > 1e-9:
                    break
                shift[v] = fam.exact[i] + r * sympy.pi
            else:
                moved = _family(shift, variables, expr) if shift else None
                samples = _verified(moved, variables, window, grad_c) if moved is not None else None
                if samples is not None and moved.distance(p, free_index) <= tol:
                    out.append((moved, samples))
                    break
    return out


def _largest(families: list[tuple[_Family, np.ndarray]], variables: Sequence[sympy.Symbol],
             tol: float) -> list[tuple[_Family, np.ndarray]]:
    """The sets that are not part of another (the axes of x²y²z² lie in its planes), each
    once: a set goes when every sample of it lies on a set of as many free variables or
    more that is kept."""
    index = [[variables.index(v) for v in fam.free] for fam, _ in families]
    order = sorted(range(len(families)), key=lambda i: -len(families[i][0].free))
    kept: list[int] = []
    for i in order:
        fam, S = families[i]
        if not any(all(families[j][0].distance(S[:, c], index[j]) <= tol for c in range(S.shape[1])) for j in kept):
            kept.append(i)
    return [families[i] for i in sorted(kept)]


def _status(points: int, sets: int, on_sets: int = 0, periods: int = 0) -> str:
    """``1 real point and 2 sets of critical points from sympy.solve``: what the exact
    solve found, each isolated point once (points that lie on a set are in it)."""
    text = f"{points} real point{'s' if points != 1 else ''}"
    if sets:
        text += f" and {sets} set{'s' if sets != 1 else ''} of critical points"
        if on_sets:
            text += f" ({on_sets} more point{'s' if on_sets != 1 else ''} on them)"
    text += " from sympy.solve"
    if periods:
        text += (f"; {periods} more set{'s' if periods != 1 else ''} in the window: those moved by "
                 f"multiples of pi/4 (other periods)")
    return text
