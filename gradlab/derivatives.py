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

import math
from dataclasses import dataclass
from typing import Mapping, Sequence

import sympy

from gradlab import precise
from gradlab.errors import BadInput, Undefined
from gradlab.functions import KINKED
from gradlab.parsing import to_text

Point = Mapping[sympy.Symbol, sympy.Expr]


class _abs(sympy.Function):  # noqa: N801 - private stand-in for Abs while differentiating
    """|u| for a real u: its derivative is sign(u)·u'.

    SymPy's Abs only knows that for arguments it can prove real; for acos(x) or x/y it
    writes re/im/atan2 or leaves Derivative(sign(x/y), y) unevaluated. gradlab's symbols
    are real and a function is only evaluated where it is real, so the real rule holds.
    """

    def fdiff(self, argindex=1):
        return _sign(self.args[0])


class _sign(sympy.Function):  # noqa: N801
    """sign(u): derivative 0 almost everywhere (the convention autodiff uses)."""

    def fdiff(self, argindex=1):
        return sympy.S.Zero


_TO_REAL = {sympy.Abs: _abs, sympy.sign: _sign}
_FROM_REAL = {_abs: sympy.Abs, _sign: sympy.sign}


def _swap(e: sympy.Expr, table: dict) -> sympy.Expr:
    for old, new in table.items():
        if e.has(old):
            e = e.replace(old, new)
    return e


def _clean(d: sympy.Expr) -> sympy.Expr:
    # Derivatives of step (via Heaviside) bring Dirac deltas; gradlab uses the
    # almost-everywhere derivative (0), the convention autodiff frameworks use too.
    if d.has(sympy.DiracDelta):
        d = d.replace(sympy.DiracDelta, lambda *args: sympy.S.Zero)
    return d


def _diff(expr: sympy.Expr, var: sympy.Symbol) -> sympy.Expr:
    if expr.has(sympy.Abs, sympy.sign):
        return _clean(_swap(sympy.diff(_swap(expr, _TO_REAL), var), _FROM_REAL))
    return _clean(sympy.diff(expr, var))


def derivative(expr: sympy.Expr, var: sympy.Symbol) -> sympy.Expr:
    """∂expr/∂var, zero at once where ``var`` does not occur.

    >>> from gradlab.parsing import symbol
    >>> x, y = symbol("x"), symbol("y")
    >>> derivative(x**3*y**2, x)
    3*x**2*y**2
    >>> derivative(abs(x / y), y)
    -x*sign(x/y)/y**2
    """
    if var not in expr.free_symbols:
        return sympy.S.Zero
    return _diff(expr, var)


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
                rows[i][j] = rows[j][i] = _diff(g, variables[j])
    return tuple(tuple(r) for r in rows)


@dataclass(frozen=True)
class Value:
    """An exact value and its float.

    ``exact`` is a SymPy number (``7*sqrt(2)``); ``value`` its nearest float64.
    """

    exact: sympy.Expr
    value: float


MAX_EXACT_DIGITS = 10_000


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
            raise _Unevaluated
    return expr.func(*args)


class _Unevaluated(Exception):
    """SymPy's automatic evaluation of this exact form is not worth running."""


def exact_form(expr: sympy.Expr, point: Point, check: precise.Precise | None = None) -> tuple[sympy.Expr, bool]:
    """``expr`` with ``point`` substituted, as SymPy simplifies it on the way, and whether
    that simplified form could be used (else the substituted form, unevaluated).

    SymPy's automatic evaluation asks assumption questions that run ``evalf``; on values
    beyond 10**±19,700 (``check.wild``) that can take minutes, so such forms stay
    unevaluated. The evaluated form is kept only if it has the value ``check`` says.
    """
    pm = dict(point)
    plain = _unevaluated(expr, pm)
    if check is not None and check.wild:
        return plain, False
    try:
        exact = _checked_replace(expr, pm)
    except _Unevaluated:
        return plain, False
    except TypeError:
        # SymPy's own eval methods sometimes compare a Relational they cannot decide
        # ("cannot determine truth value", "Invalid NaN comparison"): keep the plain form.
        return plain, False
    if check is not None and check.number is not None and exact != plain:
        again = precise.value(exact)
        if again.number is None or not precise.same_float(again, check):
            return plain, False  # e.g. relu trusting an undecided is_positive
    return exact, True


def _unevaluated(expr: sympy.Expr, pm: dict) -> sympy.Expr:
    with sympy.evaluate(False):
        return expr.xreplace(pm)


def evaluate(expr: sympy.Expr, point: Point, what: str = "the function") -> Value:
    """The exact value of ``expr`` at ``point`` and its float.

    The float comes from :func:`gradlab.precise.value` (precision raised until stable,
    bounded by size); the exact value is the substituted expression as SymPy simplifies
    it. Raises :class:`Undefined` at poles, logs of zero, roots of negatives, and when the
    float would overflow.

    >>> from gradlab.parsing import symbol
    >>> x = symbol("x")
    >>> evaluate(sympy.sqrt(x), {x: sympy.Integer(8)})
    Value(exact=2*sqrt(2), value=2.8284271247461903)
    """
    missing = expr.free_symbols - set(point)
    if missing:
        raise BadInput(f"no value given for {', '.join(sorted(s.name for s in missing))}", "--at")
    where = _describe(point)
    got = precise.value(expr, point)
    if got.number is None:
        if got.problem in (precise.POLE, precise.NOT_REAL, precise.INDETERMINATE):
            raise Undefined(f"{what} is undefined at {where}: {got.problem}")
        raise Undefined(f"{what} at {where}: {got.problem}")
    value = got.as_float()
    if not math.isfinite(value):
        raise Undefined(f"{what} at {where} is too large for a float")
    exact, _ = exact_form(expr, point, got)
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
            if precise.is_zero(atom.args[0], point):
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
