"""Exact calculus: gradients, Jacobians, Hessians, directional derivatives, exact values.

Everything here is SymPy and exact; floats appear only as the last step of
:func:`evaluate`. Undefined values (poles, ``log(0)``, ``sqrt(-1)``) raise
:class:`~gradlab.errors.Undefined` rather than leaking ``zoo``, ``nan`` or ``I``.

>>> from gradlab.calculus.parsing import parse
>>> p = parse("x**2*y + 3*y")
>>> gradient(p.expr, p.variables)
(2*x*y, x**2 + 3)
>>> evaluate(gradient(p.expr, p.variables)[0], dict(zip(p.variables, (2, 5)))).value
20.0
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Mapping, Sequence

import sympy

from gradlab.calculus import budget
from gradlab.calculus import precise
from gradlab.errors import BadInput, Undefined
from gradlab.calculus.functions import KINKED
from gradlab.calculus.parsing import to_text

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


try:  # gradlab's own Abs and sign, where the grammar has them (they print and read back)
    from gradlab.calculus.functions import Abs as _Abs, sign as _Sign
except ImportError:
    _Abs, _Sign = sympy.Abs, sympy.sign
_TO_REAL = {sympy.Abs: _abs, sympy.sign: _sign}
_FROM_REAL = {_abs: _Abs, _sign: _Sign}


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


def _chain(expr: sympy.Expr, var: sympy.Symbol) -> sympy.Expr:
    """∂expr/∂var by the sum, product, power and chain rules, each shared subexpression
    differentiated once; the same expression ``sympy.diff`` gives.

    ``sympy.diff`` builds a ``Derivative`` at every node and rewrites the whole result
    each time (a walk of the tree per node): quadratic in the depth, seconds for the
    Hessian of a 58-deep chain. Functions with their own rule (``_eval_derivative``) and
    anything else unusual still go to SymPy.
    """
    memo: dict = {}
    has: dict = {}

    def contains(e: sympy.Basic) -> bool:
        hit = has.get(e)
        if hit is None:
            hit = has[e] = e == var or any(contains(a) for a in e.args)
        return hit

    def d(e: sympy.Expr) -> sympy.Expr:
        hit = memo.get(e)
        if hit is not None:
            return hit
        if not contains(e):
            out = sympy.S.Zero
        elif e == var:
            out = sympy.S.One
        elif e.is_Add:
            out = sympy.Add(*[d(a) for a in e.args])
        elif e.is_Mul:
            a = e.args
            out = sympy.Add(*[sympy.Mul(*a[:i], d(f), *a[i + 1:]) for i, f in enumerate(a) if contains(f)])
        elif e.is_Pow:
            base, ex = e.args  # SymPy's own formula, so the result prints the same
            if contains(ex):
                out = e * (d(ex) * sympy.log(base) + d(base) * ex / base)
            else:
                out = e * (d(base) * ex / base)
        elif isinstance(e, sympy.Function) and type(e)._eval_derivative is sympy.Function._eval_derivative:
            out = sympy.Add(*[e.fdiff(i) * d(a) for i, a in enumerate(e.args, 1) if contains(a)])
        else:
            out = sympy.diff(e, var)
        memo[e] = out
        return out

    return d(expr)


@functools.lru_cache(maxsize=256)  # a command asks for ∇f more than once (hessian: ∇f = 0?)
def _diff(expr: sympy.Expr, var: sympy.Symbol) -> sympy.Expr:
    if expr.has(sympy.Abs, sympy.sign):
        return _clean(_swap(_chain(_swap(expr, _TO_REAL), var), _FROM_REAL))
    return _clean(_chain(expr, var))


def derivative(expr: sympy.Expr, var: sympy.Symbol) -> sympy.Expr:
    """∂expr/∂var, zero at once where ``var`` does not occur.

    >>> from gradlab.calculus.parsing import symbol
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
    """The partial derivatives of ``expr``, one per variable, in order.

    Each partial of a sum differentiates only the terms that mention its variable: the
    same expression (a sum's derivative is SymPy's sum of its terms' derivatives, which
    depends neither on their order nor on the zeros left out), in O(size) for a sum of
    local terms (Rosenbrock in 500 variables) instead of O(n × size).

    >>> from gradlab.calculus.parsing import parse
    >>> p = parse("x**2 + x*y + y**3")
    >>> gradient(p.expr, p.variables)
    (2*x + y, x + 3*y**2)
    """
    if not expr.is_Add:
        return tuple(derivative(expr, v) for v in variables)
    wanted = set(variables)
    parts: dict[sympy.Symbol, list[sympy.Expr]] = {}
    for t in expr.args:
        for s in t.free_symbols & wanted:
            parts.setdefault(s, []).append(t)
    return tuple(derivative(sympy.Add(*parts[v]), v) if v in parts else sympy.S.Zero for v in variables)


def jacobian(exprs: Sequence[sympy.Expr], variables: Sequence[sympy.Symbol]) -> tuple[tuple[sympy.Expr, ...], ...]:
    """The m×n Jacobian: row i is the gradient of component i."""
    return tuple(gradient(e, variables) for e in exprs)


def hessian(expr: sympy.Expr, variables: Sequence[sympy.Symbol]) -> tuple[tuple[sympy.Expr, ...], ...]:
    """The symmetric Hessian, built as the Jacobian of the gradient.

    Only entries whose row derivative mentions the column variable are differentiated,
    and only the upper triangle; sparse functions such as Rosenbrock in 100 variables
    then cost O(n) derivatives instead of ``sympy.hessian``'s n².

    >>> from gradlab.calculus.parsing import parse
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

    ``exact`` is a SymPy number (``7*sqrt(2)``), or None when the exact form is too large
    to build (``reason`` says why); ``value`` is its float64, correct to the last bit or two.
    """

    exact: sympy.Expr | None
    value: float
    reason: str | None = None


MAX_EXACT_DIGITS = 10_000
#: An expression larger than this (nodes) gets no exact value at a point, only its float:
#: SymPy's evaluation of the substituted form costs time in proportion, for no reader.
MAX_EXACT_FORM = 5_000
#: A numeric base raised to a number larger than this gets no exact form.
MAX_EXACT_EXPONENT = 10_000


def _checked_replace(expr: sympy.Expr, point: dict) -> sympy.Expr:
    """``expr.xreplace(point)``, refusing numeric powers too large to compute exactly."""
    if expr in point:
        return point[expr]
    if not expr.args:
        return expr
    args = [_checked_replace(a, point) for a in expr.args]
    if (expr.is_Pow and args[1].is_Number and abs(args[1]) > MAX_EXACT_EXPONENT and not args[0].free_symbols
            and args[0] not in (0, 1, -1)):
        # SymPy distributes such a power over a product's factors: (a*tan(b))**(10**8 + 1)
        # becomes a**(10**8 + 1)*..., a rational of 10**8 digits.
        raise _Unevaluated
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

    SymPy's automatic evaluation asks assumption questions that run ``evalf``; on
    exp of a huge argument (``check.wild``) that can take minutes, so such forms stay
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


def evaluate(expr: sympy.Expr, point: Point, what: str = "the function", overflow: bool = False) -> Value:
    """The exact value of ``expr`` at ``point`` and its float.

    The float comes from :func:`gradlab.calculus.precise.value` (precision raised until stable,
    bounded by size); the exact value is the substituted expression as SymPy simplifies
    it. Raises :class:`Undefined` at poles, logs of zero, roots of negatives, and when the
    float would overflow, unless ``overflow``: then a finite value too large for a float
    (``exp(1000)``) is returned exactly with the float ±inf.

    >>> from gradlab.calculus.parsing import symbol
    >>> x = symbol("x")
    >>> evaluate(sympy.sqrt(x), {x: sympy.Integer(8)})
    Value(exact=2*sqrt(2), value=2.8284271247461903, reason=None)
    """
    if expr is sympy.S.Zero:  # most entries of a large sparse Hessian: O(1), not O(len(point))
        return Value(exact=expr, value=0.0)
    point = {k: precise.as_number(v) for k, v in point.items()}
    missing = expr.free_symbols - set(point)
    if missing:
        raise BadInput(f"no value given for {', '.join(sorted(s.name for s in missing))}", "--at")
    got = precise.value(expr, point)
    if got.number is None:
        if got.problem in (precise.POLE, precise.NOT_REAL, precise.INDETERMINATE):
            raise Undefined(f"{what} is undefined at {_describe(point)}: {got.problem}")
        raise Undefined(f"{what} at {_describe(point)}: {got.problem}")
    value = got.as_float()
    if not math.isfinite(value) and not overflow:
        raise Undefined(f"{what} at {_describe(point)} is too large for a float")
    nodes = budget.size_of(expr, cap=MAX_EXACT_FORM, rows=False)  # a mean over rows is shown as mean(...)
    # Past a float's range only the exact value says anything: without it, an error.
    too_large = Undefined(f"{what} at {_describe(point)} is too large for a float") if not math.isfinite(value) else None
    if nodes > MAX_EXACT_FORM:
        if too_large:
            raise too_large
        return Value(None, value, f"the exact form has more than {MAX_EXACT_FORM} nodes: only its float is given")
    if got.wild:
        if too_large:
            raise too_large
        return Value(None, value, "an intermediate value is exp of more than 2**62: SymPy's exact form is not "
                                  "built, only the float (computed to the last bit) is given")
    exact, evaluated = exact_form(expr, point, got)
    if not evaluated and exact.free_symbols == set() and not exact.is_Number:
        if too_large:
            raise too_large
        # An unevaluated form is a trap: norms and sums built from it make SymPy evaluate
        # it after all (a power of 10**8 digits). Give the float only.
        return Value(None, value, "SymPy's exact form is too large to build (a power of more than "
                                  f"{MAX_EXACT_DIGITS} digits) or could not be evaluated; only the float is given")
    return Value(exact=exact, value=value)


def _describe(point: Point) -> str:
    return "(" + ", ".join(f"{k}={v}" for k, v in point.items()) + ")" if point else "the point"


def kink_warnings(exprs: Sequence[sympy.Expr], point: Point) -> tuple[str, ...]:
    """Warnings for every kinked function (abs, relu, …) evaluated exactly at its kink.

    >>> from gradlab.calculus.parsing import symbol
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
    """minimum | maximum | saddle | inconclusive, from float eigenvalues of the Hessian
    at a critical point.

    An eigenvalue within ``tol`` × max(1, max|λ|) of zero, or a Hessian known to be
    exactly singular, makes the second-derivative test inconclusive.

    >>> classify([2.0, 50.0]), classify([-2.0, 2.0]), classify([0.0, 12.0])
    ('minimum', 'saddle', 'inconclusive')
    """
    scale = max([1.0, *(abs(v) for v in eigenvalues)])
    pos = sum(v > tol * scale for v in eigenvalues)
    neg = sum(v < -tol * scale for v in eigenvalues)
    return Inertia(pos, neg, len(eigenvalues) - pos - neg, "float").classification(True) \
        if not singular else ("saddle" if pos and neg else "inconclusive")


#: Relative size below which a high-precision eigenvalue counts as 0 (about 45 digits).
ZERO_EIGEN_BITS = 150
#: Largest Hessian whose exact characteristic polynomial is computed.
MAX_EXACT_ORDER = 12


@dataclass(frozen=True)
class Inertia:
    """How many eigenvalues of a symmetric matrix are positive, negative and zero, and
    how that was decided: ``exact`` (the characteristic polynomial over the rationals and
    Descartes' rule of signs, exact for a symmetric matrix, whose roots are all real),
    ``numeric`` (eigenvalues to 150 bits; one below 2**-150 of the largest entry is 0),
    ``certified`` (float64 eigenvalues each farther from 0 than their error bound, for
    matrices of more than a dozen rows) or ``float`` (float64 eigenvalues with a relative
    tolerance)."""

    positive: int
    negative: int
    zero: int
    how: str

    @property
    def curvature(self) -> str:
        """positive definite | negative definite | indefinite | positive semidefinite |
        negative semidefinite | zero."""
        if self.positive and self.negative:
            return "indefinite"
        if self.positive:
            return "positive definite" if not self.zero else "positive semidefinite"
        if self.negative:
            return "negative definite" if not self.zero else "negative semidefinite"
        return "zero"

    def classification(self, critical: bool) -> str:
        """At a critical point: minimum | maximum | saddle | inconclusive. Elsewhere the
        Hessian describes the curvature only: convex | concave | indefinite | degenerate
        (semidefinite: a zero eigenvalue and no eigenvalue of the opposite sign)."""
        curv = self.curvature
        if critical:
            return {"positive definite": "minimum", "negative definite": "maximum",
                    "indefinite": "saddle"}.get(curv, "inconclusive")
        return {"positive definite": "convex", "negative definite": "concave",
                "indefinite": "indefinite"}.get(curv, "degenerate")


def _descartes(coeffs: Sequence[sympy.Rational]) -> Inertia:
    n = len(coeffs) - 1
    zero = 0
    while zero < n and coeffs[n - zero] == 0:
        zero += 1
    signs = [c > 0 for c in coeffs[: n - zero + 1] if c != 0]
    pos = sum(a != b for a, b in zip(signs, signs[1:]))
    return Inertia(pos, n - zero - pos, zero, "exact")


def inertia(matrix: Sequence[Sequence[sympy.Expr]], point: Point, fallback: Sequence[float] = (),
            exact: Sequence[Sequence[sympy.Expr]] | None = None) -> Inertia:
    """The inertia of the symmetric ``matrix`` of expressions at ``point``.

    Exact when every entry is rational there (a polynomial at a rational point, or
    ``exact``, the entries' exact values, all rational), else from eigenvalues computed
    to 150 bits; ``fallback`` float eigenvalues are used when an entry has no precise
    value.

    >>> from gradlab.calculus.parsing import parse
    >>> p = parse("10000000000*x**2 + y**2")
    >>> inertia(hessian(p.expr, p.variables), {v: sympy.S.Zero for v in p.variables})
    Inertia(positive=2, negative=0, zero=0, how='exact')
    """
    import mpmath

    pm = dict(point)
    n = len(matrix)
    entries = exact or [[_checked_or_none(e, pm) for e in row] for row in matrix]
    if n <= MAX_EXACT_ORDER and all(e is not None and e.is_Rational for row in entries for e in row):
        lam = sympy.Dummy("lam")
        poly = sympy.Matrix(entries).charpoly(lam)
        return _descartes(poly.all_coeffs())
    if n > MAX_EXACT_ORDER:
        # Beyond a dozen variables 150-bit eigenvalues cost minutes (mpmath's O(n³) at
        # 210 bits): where float64 eigenvalues all clear their error bound their signs
        # are certain, and that is the inertia.
        certain = certified_inertia(fallback)
        if certain is not None:
            return certain
    with mpmath.workprec(ZERO_EIGEN_BITS + 60):
        rows = []
        for row in matrix:
            vals = []
            for e in row:
                if e is sympy.S.Zero:  # most of a large sparse Hessian: no evaluation
                    vals.append(mpmath.mpf(0))
                    continue
                got = precise.value(e, pm, bits=ZERO_EIGEN_BITS + 20)
                if got.number is None or mpmath.isinf(got.number):
                    return classify_floats(fallback)
                vals.append(got.number)
            rows.append(vals)
        scale = max([abs(v) for r in rows for v in r] + [mpmath.mpf(0)])
        if scale == 0:
            return Inertia(0, 0, n, "exact")
        eig = mpmath.eigsy(mpmath.matrix(rows), eigvals_only=True)
        tiny = mpmath.ldexp(scale, -ZERO_EIGEN_BITS)
        pos = sum(1 for v in eig if v > tiny)
        neg = sum(1 for v in eig if v < -tiny)
    return Inertia(pos, neg, n - pos - neg, "numeric")


#: The error bound of float64 eigenvalues, relative to n·max|λ|: far above the entries'
#: rounding and LAPACK's backward error (together at most about (√n + c·n)·2⁻⁵³·‖H‖₂).
CERTIFIED_MARGIN = 1e-9


def certified_inertia(eigenvalues: Sequence[float]) -> Inertia | None:
    """The inertia from float64 eigenvalues of a symmetric matrix when every one lies
    farther from 0 than ``CERTIFIED_MARGIN``·n·max|λ|: the matrix's true eigenvalues are
    within that of them (Weyl), so none can have the other sign and none is 0. None when
    some eigenvalue is that close to 0 (or none is finite): then only more digits decide.

    >>> certified_inertia([-3.0, 1e-3, 2.0]), certified_inertia([0.0, 1.0])
    (Inertia(positive=2, negative=1, zero=0, how='certified'), None)
    """
    if not eigenvalues or not all(math.isfinite(v) for v in eigenvalues):
        return None
    margin = CERTIFIED_MARGIN * len(eigenvalues) * max(abs(v) for v in eigenvalues)
    if not margin > 0 or any(abs(v) <= margin for v in eigenvalues):
        return None
    pos = sum(v > 0 for v in eigenvalues)
    return Inertia(pos, len(eigenvalues) - pos, 0, "certified")


def classify_floats(eigenvalues: Sequence[float], tol: float = 1e-9) -> Inertia:
    """The inertia from float eigenvalues: one within ``tol``·max(1, max|λ|) of 0 is 0."""
    scale = max([1.0, *(abs(v) for v in eigenvalues)])
    pos = sum(v > tol * scale for v in eigenvalues)
    neg = sum(v < -tol * scale for v in eigenvalues)
    return Inertia(pos, neg, len(eigenvalues) - pos - neg, "float")


def _checked_or_none(e: sympy.Expr, pm: dict) -> sympy.Expr | None:
    """The entry at the point as SymPy evaluates it, when that is cheap and safe."""
    if not all(v.is_Rational for v in pm.values()):
        return None
    try:
        out = _checked_replace(e, pm)
    except (_Unevaluated, TypeError):
        return None
    return out if out.is_Rational else None


#: Largest expression (nodes) whose vanishing at a point is proven with ``simplify``.
MAX_PROOF_SIZE = 80


def is_zero_at(expr: sympy.Expr, value: Value, point: Point | None = None) -> tuple[bool, bool]:
    """Whether an evaluated expression is 0 there, and whether that is proven exactly.

    A nonzero float is certainly not 0 (the float is correctly computed). A 0.0 is 0
    when SymPy's exact value is the number 0; else when high-precision evaluation shows
    rounding noise that shrinks with the precision (a tiny number such as exp(-10**8)
    does not), proven by ``simplify`` within the budget for small expressions.
    """
    if value.value != 0.0:
        return False, True
    ex = value.exact
    if ex is not None and ex.is_Number:
        return bool(ex == 0), True
    if point is not None and not precise.vanishes(expr, point):
        return False, True
    if ex is None or budget.size_of(ex, cap=MAX_PROOF_SIZE) > MAX_PROOF_SIZE:
        return True, False
    return True, bool(budget.is_zero(ex).value)
