"""Learning-rate theory from the Hessian at a minimum.

Near a minimum x*, f(x) ≈ f* + ½(x − x*)ᵀH(x − x*), and each optimizer's iteration is a
linear map whose stability depends on the eigenvalues λ of H:

- gd: each eigen-direction is multiplied by 1 − lr·λ, so it is stable iff lr < 2/λ_max;
  the best fixed rate 2/(λ_min + λ_max) contracts by (κ − 1)/(κ + 1), κ = λ_max/λ_min.
- heavy-ball momentum β: stable iff lr < 2(1 + β)/λ_max; for that β the best rate is
  2(1 + β)/(λ_min + λ_max), contracting by max(√β, (t + √(t² − 4β))/2) with
  t = (1 + β)(κ − 1)/(κ + 1). Polyak's optimal pair, a different β, is
  lr = 4/(√λ_max + √λ_min)², β = ((√κ − 1)/(√κ + 1))², contracting by (√κ − 1)/(√κ + 1).
- Nesterov β (Sutskever's form): stable iff lr < 2(1 + β)/((1 + 2β)λ_max).
- Newton: the error is multiplied by 1 − lr, so stable iff lr < 2, whatever H.
- AdaGrad, RMSProp, Adam rescale each step by the gradient's own size: no such bound.

>>> t = optimizer_theory("gd", [2.0, 50.0], exact=[2, 50])
>>> t.bound, t.best_lr, t.factor
(0.04, 0.038461538461538464, 0.9230769230769231)
>>> t.bound_exact, t.best_lr_exact, t.factor_exact
('1/25', '1/26', '12/13')
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import sympy

ADAPTIVE = ("adagrad", "rmsprop", "adam")


@dataclass(frozen=True)
class OptimizerTheory:
    """What the Hessian predicts for one optimizer.

    ``bound``: the largest stable learning rate (``None`` for adaptive optimizers), with
    ``formula`` saying how it is computed; ``best_lr`` and ``factor``: the fastest fixed
    rate for the hyper-parameters in use and its contraction per step (gd and momentum);
    ``*_exact``: the same as exact SymPy strings where the eigenvalues are exact.
    ``optimal``: for momentum, Polyak's optimal pair, which also chooses β:
    ``{"lr", "momentum", "factor"}`` (``None`` otherwise).
    """

    optimizer: str
    bound: float | None
    formula: str
    best_lr: float | None = None
    factor: float | None = None
    bound_exact: str | None = None
    best_lr_exact: str | None = None
    factor_exact: str | None = None
    note: str = ""
    short: str = ""  # the formula in a few characters, for tables
    optimal: dict | None = None



def _real(v: sympy.Expr) -> float:
    """A real eigenvalue as a float, even when SymPy writes it with I (the casus
    irreducibilis of a cubic: real roots through complex radicals)."""
    return float(sympy.re(sympy.N(v, 30)))


def _s(x: sympy.Expr | None) -> str | None:
    return None if x is None else str(sympy.nsimplify(x) if x.is_Float else x)


def _exact_forms(name: str, E: Sequence[sympy.Expr], b: sympy.Expr) -> dict[str, str]:
    """The exact bounds and rates of ``name`` from the exact eigenvalues ``E`` and the
    exact momentum ``b``: SymPy's nsimplify and radsimp, run through the budget."""
    emin, emax = min(E, key=_real), max(E, key=_real)
    ex: dict[str, str] = {}
    if name == "gd":
        ex["bound_exact"] = _s(sympy.nsimplify(2 / emax))
        if _real(emin) > 0:
            ex["best_lr_exact"] = _s(sympy.radsimp(2 / (emin + emax)))
            ex["factor_exact"] = _s(sympy.radsimp((emax - emin) / (emax + emin)))
    elif name == "momentum":
        ex["bound_exact"] = _s(sympy.nsimplify(2 * (1 + b) / emax))
        if _real(emin) > 0:
            ex["best_lr_exact"] = _s(sympy.radsimp(2 * (1 + b) / (emin + emax)))
    elif name == "nesterov":
        ex["bound_exact"] = _s(sympy.nsimplify(2 * (1 + b) / ((1 + 2 * b) * emax)))
    return ex


def _exact(name: str, E: Sequence[sympy.Expr] | None, beta: float) -> dict[str, str]:
    """:func:`_exact_forms` within the budget of exact work; {} (floats only) when refused."""
    if not E:
        return {}
    from gradlab.calculus import budget

    b = _decimal(beta)
    return budget.attempt("exact learning-rate bounds", _exact_forms, name, list(E), b,
                          size=budget.size_of(*E), fallback=dict).value


def _decimal(v: float) -> sympy.Rational:
    """The float as the decimal it prints as (0.9 is 9/10): what the user typed."""
    return sympy.Rational(repr(float(v)))


def optimizer_theory(name: str, eigenvalues: Sequence[float], hyper: dict | None = None,
                     exact: Sequence[sympy.Expr] | None = None) -> OptimizerTheory:
    """The stability bound and best rate of ``name`` for a Hessian with these eigenvalues.

    ``eigenvalues`` are floats; ``exact``, when known, the same eigenvalues as SymPy
    numbers, so that bounds such as 2/50 are also given exactly.
    """
    hyper = hyper or {}
    lam_min, lam_max = min(eigenvalues), max(eigenvalues)
    E = [sympy.sympify(v) for v in exact] if exact is not None else None
    if name in ADAPTIVE:
        return OptimizerTheory(name, None, "none: an adaptive optimizer rescales each step by the gradient's size",
                               note="adaptive optimizer: its step size does not scale with the curvature, so the "
                                    "Hessian gives no learning-rate bound")
    if lam_max <= 0:
        return OptimizerTheory(name, None, "none: the Hessian has no positive eigenvalue here",
                               note="not a minimum: no stable learning rate")
    if name == "newton":
        return OptimizerTheory(name, 2.0, "2 (Newton's error is multiplied by 1 − lr)", best_lr=1.0, factor=0.0,
                               bound_exact="2", best_lr_exact="1", factor_exact="0", short="2")
    if name == "gd":
        bound = 2 / lam_max
        best = 2 / (lam_min + lam_max) if lam_min > 0 else None
        kappa = lam_max / lam_min if lam_min > 0 else math.inf
        factor = (kappa - 1) / (kappa + 1) if lam_min > 0 else None
        ex = _exact(name, E, 0.0)
        return OptimizerTheory(name, bound, "2/λ_max", best, factor, **ex, short="2/λmax")
    beta = float(hyper.get("momentum") if hyper.get("momentum") is not None else 0.9)
    if name == "momentum":
        bound = 2 * (1 + beta) / lam_max
        ex = _exact(name, E, beta)
        best = factor = optimal = None
        if lam_min > 0:
            # For the β in use: the rate that balances the slowest and the fastest direction
            # (h = lr·λ symmetric about 1 + β), where each direction's recurrence
            # z² − (1 + β − h)z + β has roots of modulus √β (complex) or (t + √(t² − 4β))/2.
            best = 2 * (1 + beta) / (lam_min + lam_max)
            t = (1 + beta) * (lam_max - lam_min) / (lam_max + lam_min)
            factor = max(math.sqrt(beta), (t + math.sqrt(max(t * t - 4 * beta, 0.0))) / 2)
            # Polyak's optimal heavy ball chooses β too
            sq = math.sqrt(lam_max / lam_min)
            optimal = {"lr": 4 / (math.sqrt(lam_max) + math.sqrt(lam_min)) ** 2,
                       "momentum": ((sq - 1) / (sq + 1)) ** 2, "factor": (sq - 1) / (sq + 1)}
        return OptimizerTheory(name, bound, f"2(1 + β)/λ_max with β = {beta:g}", best, factor, **ex,
                               note=f"best_lr and factor are for β = {beta:g}; Polyak's optimal pair also "
                                    "chooses β = ((√κ − 1)/(√κ + 1))²",
                               short="2(1+β)/λmax", optimal=optimal)
    if name == "nesterov":
        bound = 2 * (1 + beta) / ((1 + 2 * beta) * lam_max)
        ex = _exact(name, E, beta)
        return OptimizerTheory(name, bound, f"2(1 + β)/((1 + 2β)λ_max) with β = {beta:g}", **ex,
                               short="2(1+β)/((1+2β)λmax)")
    raise ValueError(f"unknown optimizer {name!r}")


@dataclass(frozen=True)
class Curvature:
    """The Hessian at a minimum: where, its eigenvalues (ascending), whether it is the same
    everywhere (``quadratic``), and how it was found."""

    point: tuple[float, ...]
    eigenvalues: tuple[float, ...]
    exact: tuple[sympy.Expr, ...] | None
    #: ``quadratic`` itself, or the function that decides it on first use (it needs the
    #: symbolic Hessian, which only a sweep's explanation asks for)
    quadratic_or_check: bool | Callable[[], bool] = field(repr=False, compare=False)
    source: str
    hessian: tuple[tuple[float, ...], ...] = field(default=())

    @functools.cached_property
    def quadratic(self) -> bool:
        """Whether the Hessian is the same everywhere: no entry of the symbolic Hessian
        mentions a variable."""
        q = self.quadratic_or_check
        return q() if callable(q) else q

    @property
    def kappa(self) -> float:
        lo, hi = self.eigenvalues[0], self.eigenvalues[-1]
        return hi / lo if lo > 0 else math.inf

    def to_record(self) -> dict[str, Any]:
        return {
            "point": list(self.point), "hessian": [list(r) for r in self.hessian],
            "eigenvalues": list(self.eigenvalues), "lambda_min": self.eigenvalues[0],
            "lambda_max": self.eigenvalues[-1], "condition_number": self.kappa if math.isfinite(self.kappa) else None,
            "quadratic": self.quadratic, "source": self.source,
        }


def curvature_at(expr: sympy.Expr, variables: Sequence[sympy.Symbol], point: Sequence[sympy.Expr],
                 source: str, gradient: Sequence[sympy.Expr] | None = None) -> Curvature:
    """The Hessian of ``expr`` at ``point`` (exact numbers where the point is exact);
    ``gradient``: ∇expr when the caller has it already."""
    from gradlab.calculus import numeric
    from gradlab.calculus.pointhessian import hessian_at

    import numpy as np

    grad = numeric.gradient(expr, variables) if gradient is None else gradient
    n, zero = len(variables), sympy.S.Zero
    # A polynomial at a rational point: the same exact entries without the symbolic
    # Hessian (pointhessian), whose only other use, ``quadratic``, is then decided lazily.
    entries = hessian_at(grad, variables, point)
    if entries is not None:
        quadratic: bool | Callable[[], bool] = functools.partial(_constant_hessian, expr, variables, grad)
    else:
        H = numeric.hessian(expr, variables, grad)
        quadratic = all(not e.free_symbols for row in H for e in row if e is not zero)
        pm = dict(zip(variables, point))
        entries = {(i, j): e.xreplace(pm) if e.free_symbols else e
                   for i, row in enumerate(H) for j, e in enumerate(row) if e is not zero}
    # Only the entries where a variable occurs are worked on (S.Zero elsewhere: all but
    # 3,000 of the million entries of 1000-D Rosenbrock's Hessian).
    M = np.zeros((n, n))
    for (i, j), e in entries.items():
        M[i, j] = _float(e)
    finite = bool(np.isfinite(M).all())
    floats = tuple(map(tuple, M.tolist()))
    # NumPy's eigvalsh returns numbers for a matrix with nan in it: say nan instead
    eig = tuple(numeric.eigenvalues(M)) if finite else (math.nan,) * n
    exact = None
    # Exact eigenvalues only for rational matrices: with exp() or radicals inside, SymPy's
    # eigenvals can take minutes to simplify a 2×2 quadratic formula.
    if finite and n <= 3 and all(e.is_Rational for e in entries.values()):
        vals = sympy.Matrix(n, n, lambda i, j: entries.get((i, j), zero)).eigenvals()
        exact = tuple(sorted((v for v, m in vals.items() for _ in range(m)), key=_real))
        # A cubic's real roots can come as complex radicals: exact, but not a form to show.
        if any(v.has(sympy.I) for v in exact):
            exact = None
    return Curvature(tuple(float(v) for v in point), eig, exact, quadratic, source, floats)


def _constant_hessian(expr: sympy.Expr, variables: Sequence[sympy.Symbol], grad: Sequence[sympy.Expr]) -> bool:
    """Whether no entry of the symbolic Hessian mentions a variable."""
    from gradlab.calculus.numeric import hessian

    return all(not e.free_symbols for row in hessian(expr, variables, grad) for e in row)


def _float(e: sympy.Expr) -> float:
    """An entry's float, correct to the last bit (SymPy's N trusts 20 digits), nan where
    it has no real value."""
    if e.is_Rational:
        return float(e)
    from gradlab.calculus import precise

    got = precise.value(e)
    return got.as_float() if got.number is not None else math.nan


def spectral_radius(name: str, lr: float, eigenvalues: Sequence[float], hyper: dict | None = None) -> float | None:
    """The per-step contraction of ``name`` at ``lr`` on a quadratic with these
    eigenvalues: the largest |root| of each eigen-direction's recurrence (None for the
    adaptive optimizers, which have no fixed linear rate).

    >>> spectral_radius("gd", 0.03, [2.0, 50.0])
    0.94
    """
    hyper = hyper or {}
    beta = float(hyper.get("momentum") if hyper.get("momentum") is not None else 0.9)
    if name == "gd":
        return max(abs(1 - lr * lam) for lam in eigenvalues)
    if name == "newton":
        return abs(1 - lr)
    if name not in ("momentum", "nesterov"):
        return None
    worst = 0.0
    for lam in eigenvalues:
        h = lr * lam
        # z² − b z + c = 0: heavy ball b = 1 + β − h, c = β; Nesterov b = (1+β)(1−h), c = β(1−h)
        b, c = (1 + beta - h, beta) if name == "momentum" else ((1 + beta) * (1 - h), beta * (1 - h))
        disc = complex(b * b - 4 * c) ** 0.5
        worst = max(worst, abs((b + disc) / 2), abs((b - disc) / 2))
    return worst


#: A linear rate this close to 1 is not told apart from 1: at the bound the recurrence of
#: momentum has a double root, which floating point finds only to about √ε ≈ 1.5e-8, and
#: ln(ρ) of such a ρ would turn rounding into a count of 10¹⁵ steps.
RATE_TOL = 2.0 ** -26


def predicted_steps(rho: float | None, g0: float, tol: float) -> int | None:
    """Steps for ‖∇f‖ to fall from ``g0`` below ``tol`` when it shrinks by ``rho`` a step:
    ⌈ln(g0/tol)/(−ln ρ)⌉; ``None`` when there is no linear rate, or ρ ≥ 1 − RATE_TOL (at
    or past the bound, where no count follows).

    >>> predicted_steps(0.5, 1.0, 1e-3), predicted_steps(1 - 1e-15, 1.0, 1e-3)
    (10, None)
    """
    if rho is None:
        return None
    if g0 <= tol:
        return 0
    if not 0 <= rho < 1 - RATE_TOL:
        return None
    if rho == 0:
        return 1
    return math.ceil(math.log(g0 / tol) / -math.log(rho))
