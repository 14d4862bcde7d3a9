"""Exact calculus: gradients, Jacobians, Hessians, directional derivatives, exact values.

Everything here is SymPy and exact; floats appear only as the last step of
:func:`evaluate`. Undefined values (poles, ``log(0)``, ``sqrt(-1)``) raise
:class:`~gradlab.errors.Undefined` rather than leaking ``zoo``, ``nan`` or ``I``.

>>> from gradlab.parsing import parse
>>> p = parse("x**2*y + 3*y")
>>> gradient(p.expr, p.variables)
(2*x*y, x**2 + 3)
>>> evaluate(gradient(p.expr, p.variables)[0], dict(zip(p.variables, (2, 5)))).value
20.0
"""

from __future__ import annotations

import cmath
import math
from dataclasses import dataclass
from typing import Mapping, Sequence

import sympy

from gradlab.errors import BadInput, Undefined
from gradlab.functions import KINKED
from gradlab.parsing import to_text

Point = Mapping[sympy.Symbol, sympy.Expr]


def _clean(d: sympy.Expr) -> sympy.Expr:
    # Derivatives of abs/sign bring Dirac deltas; gradlab uses the almost-everywhere
    # derivative (0), the convention autodiff frameworks use too.
    if d.has(sympy.DiracDelta):
        d = d.replace(sympy.DiracDelta, lambda *args: sympy.S.Zero)
    return d


def derivative(expr: sympy.Expr, var: sympy.Symbol) -> sympy.Expr:
    """∂expr/∂var, zero at once where ``var`` does not occur.

    >>> from gradlab.parsing import symbol
    >>> x, y = symbol("x"), symbol("y")
    >>> derivative(x**3*y**2, x)
    3*x**2*y**2
    """
    if var not in expr.free_symbols:
        return sympy.S.Zero
    return _clean(sympy.diff(expr, var))


def gradient(expr: sympy.Expr, variables: Sequence[sympy.Symbol]) -> tuple[sympy.Expr, ...]:
    """The partial derivatives of ``expr``, one per variable, in order."""
    return tuple(derivative(expr, v) for v in variables)


def jacobian(exprs: Sequence[sympy.Expr], variables: Sequence[sympy.Symbol]) -> tuple[tuple[sympy.Expr, ...], ...]:
    """The m×n Jacobian: row i is the gradient of component i."""
    return tuple(gradient(e, variables) for e in exprs)


def hessian(expr: sympy.Expr, variables: Sequence[sympy.Symbol]) -> tuple[tuple[sympy.Expr, ...], ...]:
    """The symmetric Hessian, built as the Jacobian of the gradient.

    Only entries whose row derivative mentions the column variable are differentiated,
    and only the upper triangle; sparse functions such as Rosenbrock in 100 variables
    then cost O(n) derivatives instead of ``sympy.hessian``'s n².

    >>> from gradlab.parsing import parse
    >>> p = parse("x**2 - y**2")
    >>> hessian(p.expr, p.variables)
    ((2, 0), (0, -2))
    """
    grad = gradient(expr, variables)
    n = len(variables)
    rows = [[sympy.S.Zero] * n for _ in range(n)]
    for i, g in enumerate(grad):
        free = g.free_symbols
        for j in range(i, n):
            if variables[j] in free:
                rows[i][j] = rows[j][i] = _clean(sympy.diff(g, variables[j]))
    return tuple(tuple(r) for r in rows)


@dataclass(frozen=True)
class Value:
    """An exact value and its float.

    ``exact`` is a SymPy number (``7*sqrt(2)``); ``value`` its nearest float64.
    """

    exact: sympy.Expr
    value: float


def _why_undefined(v: sympy.Expr) -> str | None:
    """None when ``v`` is a finite real number, else the reason in a few words."""
    if v.has(sympy.zoo, sympy.oo, -sympy.oo):
        return "a pole: division by zero or log(0)"
    if v.has(sympy.nan):
        return "an indeterminate form such as 0/0"
    if v.is_extended_real is False:
        return "its value is not real (a root or log of a negative number?)"
    if v.is_extended_real is None:
        # SymPy could not decide (nested radicals, logs): ask for 30 digits instead.
        re, im = sympy.N(v, 30).as_real_imag()
        if im != 0 and abs(im) > 1e-25 * max(1, abs(re)):
            return "its value is not real"
    return None


MAX_EXACT_DIGITS = 10_000

_CMATH = {
    sympy.sin: cmath.sin, sympy.cos: cmath.cos, sympy.tan: cmath.tan, sympy.asin: cmath.asin,
    sympy.acos: cmath.acos, sympy.atan: cmath.atan, sympy.sinh: cmath.sinh, sympy.cosh: cmath.cosh,
    sympy.tanh: cmath.tanh, sympy.exp: cmath.exp, sympy.log: cmath.log, sympy.Abs: abs,
}


def _approx(e: sympy.Expr) -> complex:
    """A float64 estimate of a numeric expression; OverflowError if any part overflows.

    This guards the exact evaluation: SymPy and mpmath never overflow, so a value like
    exp(exp(exp(10))) would be computed to thousands of digits before float() gave up.
    """
    if e.is_Rational:
        return complex(float(e))  # OverflowError for a huge rational
    if e.is_NumberSymbol:
        return complex(float(e))
    if e.is_Add:
        out = sum(_approx(a) for a in e.args)
    elif e.is_Mul:
        out = complex(1)
        for a in e.args:
            out *= _approx(a)
    elif e.is_Pow:
        base, exp = _approx(e.args[0]), _approx(e.args[1])
        if base == 0 and exp.real < 0:
            raise ZeroDivisionError
        out = base**exp if not (base.imag == 0 and base.real > 0) else cmath.exp(exp * math.log(base.real))
    elif e.func in _CMATH:
        out = complex(_CMATH[e.func](_approx(e.args[0])))
    else:  # gradlab's activations and anything rare: mpmath at low precision
        out = complex(sympy.N(e, 17))
    if not cmath.isfinite(out):
        raise OverflowError
    return out


def _checked_replace(expr: sympy.Expr, point: dict) -> sympy.Expr:
    """``expr.xreplace(point)``, refusing numeric powers too large to compute exactly."""
    if expr in point:
        return point[expr]
    if not expr.args:
        return expr
    args = [_checked_replace(a, point) for a in expr.args]
    if expr.is_Pow and args[0].is_Number and args[1].is_Number and abs(args[0]) not in (0, 1):
        digits = abs(float(args[1])) * abs(math.log10(abs(float(args[0])))) if abs(args[0]) < 1e300 else math.inf
        if digits > MAX_EXACT_DIGITS:
            raise Undefined(f"{to_text(expr)} has about {digits:.3g} digits at this point: too large to compute")
    return expr.func(*args)


def evaluate(expr: sympy.Expr, point: Point, what: str = "the function") -> Value:
    """The exact value of ``expr`` at ``point`` and its float.

    Raises :class:`Undefined` at poles, logs of zero, roots of negatives, and when the
    float would overflow.

    >>> from gradlab.parsing import symbol
    >>> x = symbol("x")
    >>> evaluate(sympy.sqrt(x), {x: sympy.Integer(8)})
    Value(exact=2*sqrt(2), value=2.8284271247461903)
    """
    exact = _checked_replace(expr, dict(point))
    if exact.free_symbols:
        missing = ", ".join(sorted(s.name for s in exact.free_symbols))
        raise BadInput(f"no value given for {missing}", "--at")
    where = _describe(point)
    why = _why_undefined(exact)
    if why:
        raise Undefined(f"{what} is undefined at {where}: {why}")
    try:
        _approx(exact)
    except (OverflowError, ZeroDivisionError):
        raise Undefined(f"{what} at {where} is too large for a float") from None
    except (ValueError, TypeError):
        pass  # e.g. log(0) in cmath: the exact checks above already decided
    numeric = sympy.N(exact, 20)
    re, im = numeric.as_real_imag()
    try:
        value = float(re)
    except (TypeError, ValueError):
        raise Undefined(f"{what} has no real value at {where}") from None
    if not math.isfinite(value):
        raise Undefined(f"{what} at {where} is too large for a float")
    return Value(exact=exact, value=value)


def _describe(point: Point) -> str:
    return "(" + ", ".join(f"{k}={v}" for k, v in point.items()) + ")" if point else "the point"


def kink_warnings(exprs: Sequence[sympy.Expr], point: Point) -> tuple[str, ...]:
    """Warnings for every kinked function (abs, relu, …) evaluated exactly at its kink.

    >>> from gradlab.parsing import symbol
    >>> x = symbol("x")
    >>> kink_warnings([sympy.Abs(x)], {x: sympy.S.Zero})
    ('abs(x) has a kink at this point: its derivative there is taken as 0, the subgradient PyTorch uses',)
    """
    seen: list[str] = []
    for e in exprs:
        for atom in e.atoms(*KINKED):
            arg = atom.args[0].xreplace(dict(point))
            if arg.is_number and arg.is_zero:
                msg = (f"{to_text(atom)} has a kink at this point: its derivative there is "
                       "taken as 0, the subgradient PyTorch uses")
                if msg not in seen:
                    seen.append(msg)
    return tuple(seen)


def unit_vector(direction: Sequence[sympy.Expr]) -> tuple[sympy.Expr, ...]:
    """``direction`` scaled to length 1, exactly.

    >>> unit_vector((sympy.Integer(3), sympy.Integer(4)))
    (3/5, 4/5)
    """
    norm = sympy.sqrt(sum(d**2 for d in direction))
    if norm.is_zero or all(d == 0 for d in direction):
        raise BadInput("the direction is the zero vector", "--dir")
    return tuple(sympy.radsimp(d / norm) for d in direction)


def norm(values: Sequence[sympy.Expr]) -> sympy.Expr:
    """The exact Euclidean norm."""
    return sympy.sqrt(sum(v**2 for v in values))


def classify(eigenvalues: Sequence[float], singular: bool | None = None, tol: float = 1e-9) -> str:
    """minimum | maximum | saddle | inconclusive, from the Hessian's eigenvalues.

    An eigenvalue within ``tol`` × max(1, max|λ|) of zero, or a Hessian known to be
    exactly singular, makes the second-derivative test inconclusive.

    >>> classify([2.0, 50.0]), classify([-2.0, 2.0]), classify([0.0, 12.0])
    ('minimum', 'saddle', 'inconclusive')
    """
    scale = max([1.0, *(abs(v) for v in eigenvalues)])
    pos = sum(v > tol * scale for v in eigenvalues)
    neg = sum(v < -tol * scale for v in eigenvalues)
    if pos and neg:
        return "saddle"
    if singular or pos + neg < len(eigenvalues):
        return "inconclusive"
    return "minimum" if pos else "maximum"


def exactly_singular(matrix: Sequence[Sequence[sympy.Expr]], max_size: int = 6) -> bool | None:
    """Whether an exact numeric matrix has determinant exactly 0 (None if too large)."""
    if len(matrix) > max_size:
        return None
    det = sympy.Matrix(matrix).det(method="bareiss")
    if det.is_zero is not None:
        return bool(det.is_zero)
    return abs(sympy.N(det, 50)) < sympy.Float("1e-40")
