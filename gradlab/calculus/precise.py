"""Bounded, self-checking arbitrary-precision evaluation of a numeric SymPy expression.

SymPy's ``N(e, 20)`` evaluates a function's argument to about 20 digits and trusts the
result: ``acos(1 - 10**-30)`` comes out as 0 (the true value is 1.41e-15), and
``log(sigmoid(80))`` as 0 (true: -1.8e-35). Its assumption queries (``is_real``) also call
``evalf``, which can run for minutes on ``exp(-exp(10**8))``.

Here an expression is evaluated with mpmath at a precision ``p`` and again at ``2p``,
starting with enough bits to hold every number of the input exactly, until two successive
precisions agree to the accuracy asked for. The work is bounded by size, not time:

- at most :data:`MAX_BITS` bits of precision (a fixed ladder of doublings);
- ``exp``, ``sinh``, ``cosh`` of an argument beyond 2**62 are not computed: their
  magnitude is used, perturbed differently at every rung of the ladder, so an answer that
  depends on the unknown digits never agrees with itself and is refused;
- ``sin``, ``cos``, ``tan`` of an argument beyond 2**2048 are refused (argument
  reduction would need that many digits of π).

Outcomes are values or reasons, never hangs; the same input gives the same outcome on
every machine.

>>> import sympy
>>> x = sympy.Symbol("x", real=True)
>>> float(value(sympy.acos(1 - x), {x: sympy.Rational(1, 10**30)}).number)
1.414213562373095e-15
>>> value(sympy.log(x), {x: sympy.Integer(0)}).problem
'a pole: division by zero or log(0)'
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping

import mpmath
import sympy

from gradlab.calculus.functions import _NoValue, relu, sigmoid, softplus, step
from gradlab.calculus.rows import NotReal, RowMean, mp_mean

#: The largest working precision, in bits (about 2,466 decimal digits).
MAX_BITS = 8192
#: Arguments of exp, sinh, cosh above this are used by magnitude only (mpmath and SymPy
#: both compute exp of anything below it in milliseconds).
EXP_LIMIT = mpmath.mpf(2) ** 62
#: Arguments of sin, cos, tan above this are refused.
TRIG_LIMIT = mpmath.mpf(2) ** 2048
#: A value below this in magnitude is 0 as a float (the smallest subnormal is 2**-1074).
_EXPONENT_CAP = mpmath.mpf(2) ** 62
FLOAT_ZERO = mpmath.mpf(2) ** -1100
FLOAT_MAX = mpmath.mpf(2) ** 1024
#: A value this small at precision p needs p of at least this many bits before it is 0.
ZERO_BITS = 2048

POLE = "a pole: division by zero or log(0)"
NOT_REAL = "its value is not real (a root or log of a negative number?)"
INDETERMINATE = "an indeterminate form such as 0/0"


class _Stop(Exception):
    """One rung of the ladder ended in a reason instead of a number."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Precise:
    """The outcome of :func:`value`: ``number`` (an mpmath float, possibly ±inf when the
    value is too large for any float) or ``problem`` (why there is no real value), and
    the precision in bits at which two rungs agreed. ``wild``: a value was used by
    magnitude only (exp of more than 2**62): SymPy's own evaluation of such a form
    may run for minutes."""

    number: mpmath.mpf | None
    problem: str | None
    bits: int
    wild: bool = False

    def as_float(self) -> float:
        """The nearest float64 (±inf when it overflows)."""
        if self.number is None:
            raise ValueError(self.problem)
        if abs(self.number) < FLOAT_ZERO:
            return 0.0
        return float(self.number)


class _Evaluator:
    def __init__(self, point: Mapping[sympy.Symbol, sympy.Expr], prec: int, rung: int) -> None:
        self.prec = prec
        # A small, rung-dependent tilt of magnitude-only values (see exp): agreement
        # between rungs then proves those unknown digits did not matter.
        self.tilt = mpmath.mpf(1) + mpmath.mpf(2) ** -20 * (1 if rung % 2 else -1)
        self.snap = mpmath.mpf(2) ** -(prec // 2)
        self.cache: dict = {}
        self.wild = False
        self.point: dict = {}
        self.point = {k: self.ev(v) for k, v in point.items()}
        self.cache.clear()

    # -- helpers -------------------------------------------------------------
    def _exp(self, a):
        if mpmath.isnan(a):
            raise _Stop(INDETERMINATE)
        if mpmath.isinf(a):
            return mpmath.inf if a > 0 else mpmath.mpf(0)
        if abs(a) <= EXP_LIMIT:
            return mpmath.exp(a)
        # Only the magnitude is knowable cheaply: 2**(a·log2(e)), tilted per rung.
        self.wild = True
        # Beyond 2**62 even the exponent is too large to hold usefully: clamp it.
        scaled = a * mpmath.log(mpmath.e, 2)
        scaled = max(min(scaled, _EXPONENT_CAP), -_EXPONENT_CAP)
        exponent = int(mpmath.nint(scaled * self.tilt))
        return mpmath.ldexp(mpmath.mpf(1), exponent)

    def _tiny(self, a) -> bool:
        """Within this rung's noise of 0: treated as 0 at a domain boundary or a kink."""
        return abs(a) < self.snap

    # -- the walk ------------------------------------------------------------
    def ev(self, e: sympy.Expr):
        hit = self.cache.get(e)
        if hit is not None:
            return hit
        out = self._ev(e)
        if mpmath.isnan(out):
            raise _Stop(INDETERMINATE)
        if mpmath.isinf(out):
            self.wild = True
        self.cache[e] = out
        return out

    def _ev(self, e: sympy.Expr):
        if e.is_Symbol:
            return self.point[e]
        if e is sympy.zoo or e is sympy.oo or e is sympy.S.NegativeInfinity:
            raise _Stop(POLE)
        if e is sympy.nan:
            raise _Stop(INDETERMINATE)
        if e.is_Integer:
            return mpmath.mpf(int(e))
        if e.is_Rational:
            return mpmath.mpf(int(e.p)) / int(e.q)
        if e.is_Float:
            return mpmath.mpf(e._mpf_)
        if e is sympy.pi:
            return +mpmath.pi
        if e is sympy.E:
            return +mpmath.e
        if e.is_Add:
            return mpmath.fsum(self.ev(a) for a in e.args)
        if e.is_Mul:
            return mpmath.fprod(self.ev(a) for a in e.args)
        if e.is_Pow:
            return self._pow(e)
        if isinstance(e, RowMean):
            return self._row_mean(e)
        if len(e.args) > 1:
            many = _MANY.get(_kind(e.func, _MANY))
            if many is None:
                raise _Stop(f"{e.func} cannot be evaluated")
            return many(self, [self.ev(a) for a in e.args])
        handler = _FUNCS.get(_kind(e.func, _FUNCS))
        if handler is None:
            raise _Stop(f"{e.func} cannot be evaluated")
        return handler(self, self.ev(e.args[0]))

    def _row_mean(self, e: RowMean):
        """mean over data rows: every row at this precision (see gradlab.calculus.rows)."""
        try:
            got = mp_mean(int(e.args[0]), [self.ev(a) for a in e.args[1:]], self.prec)
        except _NoValue:
            raise _Stop("a row's value is too large to compute") from None
        except NotReal:
            raise _Stop(NOT_REAL) from None
        if mpmath.isinf(got):
            raise _Stop(POLE)  # log(0) on some row: no value there
        return got

    def _pow(self, e: sympy.Pow):
        b = self.ev(e.base)
        ex = e.exp
        if ex.is_Integer:
            n = int(ex)
            if b == 0:
                if n < 0:
                    raise _Stop(POLE)
                return mpmath.mpf(1) if n == 0 else mpmath.mpf(0)
            if mpmath.isinf(b):
                return mpmath.mpf(0) if n < 0 else (b if n % 2 else mpmath.inf)
            if abs(mpmath.mag(b)) * abs(n) > 2**40:  # by magnitude, like exp
                sign = -1 if (b < 0 and n % 2) else 1
                return sign * self._exp(n * mpmath.log(abs(b)))
            return b**n
        if ex.is_Rational and ex.q == 2 and b < 0 and self._tiny(b):
            b = mpmath.mpf(0)
        t = self.ev(ex)
        if b == 0:
            if t > 0:
                return mpmath.mpf(0)
            if t < 0:
                raise _Stop(POLE)
            return mpmath.mpf(1)
        if b < 0:
            # A real power of a negative number is real only for an integer exponent
            # (SymPy's principal root of (-8)**(1/3) is complex, as is NumPy's nan).
            if not ex.is_Rational and mpmath.isint(t) and abs(t) < mpmath.mpf(2) ** (self.prec - 8):
                n = int(t)
                sign = -1 if n % 2 else 1
                return sign * self._exp(t * mpmath.log(-b))
            raise _Stop(NOT_REAL)
        if mpmath.isinf(b):
            return mpmath.inf if t > 0 else mpmath.mpf(0)
        return self._exp(t * mpmath.log(b))


def _log(ev: _Evaluator, a):
    if a < 0 and not ev._tiny(a):
        raise _Stop(NOT_REAL)
    if a <= 0:
        raise _Stop(POLE)
    return mpmath.log(a)


def _sqrt(ev: _Evaluator, a):
    if a < 0:
        if not ev._tiny(a):
            raise _Stop(NOT_REAL)
        return mpmath.mpf(0)
    return mpmath.sqrt(a)


def _trig(fn):
    def run(ev: _Evaluator, a):
        if mpmath.isinf(a) or abs(a) > TRIG_LIMIT:
            raise _Stop("the argument of a sine, cosine or tangent is too large to reduce (beyond 10^616)")
        return fn(a)

    return run


def _arc(fn, lo, hi):
    def run(ev: _Evaluator, a):
        if a < lo:
            if not ev._tiny(a - lo):
                raise _Stop(NOT_REAL)
            a = mpmath.mpf(lo)
        if a > hi:
            if not ev._tiny(a - hi):
                raise _Stop(NOT_REAL)
            a = mpmath.mpf(hi)
        return fn(a)

    return run


def _sinh(ev: _Evaluator, a):
    if abs(a) <= EXP_LIMIT:
        return mpmath.sinh(a)
    return (1 if a > 0 else -1) * ev._exp(abs(a)) / 2


def _cosh(ev: _Evaluator, a):
    return mpmath.cosh(a) if abs(a) <= EXP_LIMIT else ev._exp(abs(a)) / 2


def _tanh(ev: _Evaluator, a):
    if abs(a) <= EXP_LIMIT:
        return mpmath.tanh(a)
    s = 1 if a > 0 else -1
    return s * (1 - 2 / (ev._exp(2 * abs(a)) + 1))


def _sigmoid(ev: _Evaluator, a):
    if a >= 0:
        return 1 / (1 + ev._exp(-a))
    t = ev._exp(a)
    return t / (1 + t)


def _softplus(ev: _Evaluator, a):
    if a > 0:
        return a + mpmath.log1p(ev._exp(-a))
    return mpmath.log1p(ev._exp(a))


def _relu(ev: _Evaluator, a):
    return a if a > 0 and not ev._tiny(a) else mpmath.mpf(0)


def _step(ev: _Evaluator, a):
    return mpmath.mpf(1) if a > 0 and not ev._tiny(a) else mpmath.mpf(0)


def _sign(ev: _Evaluator, a):
    if ev._tiny(a):
        return mpmath.mpf(0)
    return mpmath.mpf(1) if a > 0 else mpmath.mpf(-1)


_FUNCS = {
    sympy.exp: lambda ev, a: ev._exp(a),
    sympy.log: _log,
    sympy.sin: _trig(mpmath.sin), sympy.cos: _trig(mpmath.cos), sympy.tan: _trig(mpmath.tan),
    sympy.asin: _arc(mpmath.asin, -1, 1), sympy.acos: _arc(mpmath.acos, -1, 1),
    sympy.atan: lambda ev, a: mpmath.atan(a),
    sympy.sinh: _sinh, sympy.cosh: _cosh, sympy.tanh: _tanh,
    sympy.Abs: lambda ev, a: abs(a),
    sympy.sign: _sign, sympy.Heaviside: _step,
    sympy.DiracDelta: lambda ev, a: mpmath.mpf(0),  # gradlab's almost-everywhere derivative
    sigmoid: _sigmoid, softplus: _softplus, relu: _relu, step: _step,
}


def as_number(v) -> sympy.Expr:
    """A point's coordinate as a SymPy number (a Python int or float is taken exactly)."""
    if isinstance(v, sympy.Basic):
        return v
    if isinstance(v, (int, float)):
        return sympy.Rational(v)
    raise TypeError(f"not a number: {v!r}")


def _kind(func, table):
    """The class of ``func`` (or its nearest base, e.g. gradlab's own Abs) in ``table``."""
    for cls in getattr(func, "__mro__", (func,)):
        if cls in table:
            return cls
    return None


def _logsumexp(ev: _Evaluator, args):
    m = max(args)
    if mpmath.isinf(m):
        return m
    return m + mpmath.log(mpmath.fsum(ev._exp(a - m) for a in args))


def _atan2(ev: _Evaluator, args):
    y, x = args
    if x == 0 and y == 0:
        raise _Stop(INDETERMINATE)
    return mpmath.atan2(y, x)


def _atanh(ev: _Evaluator, a):
    if abs(a) > 1:
        raise _Stop(NOT_REAL)
    if abs(a) == 1:
        raise _Stop(POLE)
    return mpmath.atanh(a)


def _lambertw(ev: _Evaluator, a):
    if a < -1 / mpmath.e:
        raise _Stop(NOT_REAL)
    return mpmath.re(mpmath.lambertw(a))


_MANY = {sympy.atan2: _atan2}
try:  # gradlab's own stable logsumexp, where the parser makes one
    from gradlab.calculus.functions import logsumexp as _lse_class

    _MANY[_lse_class] = _logsumexp
except ImportError:  # an older grammar builds log(Σ exp) instead
    pass
_FUNCS.update({
    sympy.asinh: lambda ev, a: mpmath.asinh(a),
    sympy.acosh: _arc(mpmath.acosh, 1, mpmath.inf),
    sympy.atanh: _atanh,
    sympy.re: lambda ev, a: a, sympy.im: lambda ev, a: mpmath.mpf(0),  # of a real value
    sympy.LambertW: _lambertw,
})


def _start_bits(expr: sympy.Expr, point: Mapping[sympy.Symbol, sympy.Expr]) -> int:
    """Enough bits to hold every rational of the input exactly (64 at least)."""
    most = 0
    # each shared subtree once: atoms() walks the tree, exponential in a chain's depth
    seen: set = set()
    stack = [expr, *point.values()]
    while stack:
        e = stack.pop()
        if e in seen:
            continue
        seen.add(e)
        if e.is_Rational:
            most = max(most, int(e.p).bit_length() + int(e.q).bit_length())
        stack.extend(e.args)
    return min(MAX_BITS // 2, 64 + most)


def _agree(a, b, bits: int, prec: int) -> bool:
    if isinstance(a, str) or isinstance(b, str):
        return a == b
    if mpmath.isinf(a) or mpmath.isinf(b):
        return a == b
    big = max(abs(a), abs(b))
    if big < FLOAT_ZERO:
        # Zero as a float, but only trusted once the precision reaches far below it.
        return prec >= ZERO_BITS
    if min(abs(a), abs(b)) > FLOAT_MAX:
        # Too large for a float either way: agreeing on the sign is enough.
        return (a > 0) == (b > 0)
    return abs(a - b) <= mpmath.ldexp(big, -bits)


def value(expr: sympy.Expr, point: Mapping[sympy.Symbol, sympy.Expr] | None = None, bits: int = 60) -> Precise:
    """``expr`` at ``point`` to ``bits`` correct bits, or the reason it has no real value.

    Every symbol of ``expr`` must have a value in ``point`` (numbers or numeric SymPy
    expressions such as ``pi/2``).
    """
    point = {k: as_number(v) for k, v in (point or {}).items()}
    prec = _start_bits(expr, point)
    prev: object = None
    rung = 0
    wild = False
    while True:
        with mpmath.workprec(prec):
            ev = None
            try:
                ev = _Evaluator(point, prec, rung)
                got: object = ev.ev(expr)
            except _Stop as stop:
                got = stop.reason
            except ZeroDivisionError:
                got = POLE
            wild = wild or bool(ev and ev.wild)
            if prev is not None and _agree(prev, got, bits, prec):
                break
        if prec * 2 > MAX_BITS:
            if isinstance(got, str):
                break
            return Precise(None, f"no stable value within {MAX_BITS} bits of precision "
                                 "(a pole, or a value too large to compute?)", prec, wild)
        prev, prec, rung = got, prec * 2, rung + 1
    if isinstance(got, str):
        return Precise(None, got, prec, wild)
    return Precise(+got, None, prec, wild)


def is_zero(expr: sympy.Expr, point: Mapping[sympy.Symbol, sympy.Expr] | None = None) -> bool | None:
    """True if ``expr`` is 0 to far below float precision, False if it is certainly not,
    None if it has no real value. Exact zeros SymPy already knows are answered at once.

    >>> import sympy
    >>> is_zero(sympy.log(6) - sympy.log(2) - sympy.log(3)), is_zero(sympy.sqrt(2) - 1)
    (True, False)
    """
    if expr.is_Number:
        return bool(expr == 0)
    got = value(expr, point)
    if got.number is None:
        return None
    return abs(got.number) < FLOAT_ZERO


def vanishes(expr: sympy.Expr, point: Mapping[sympy.Symbol, sympy.Expr] | None = None) -> bool:
    """Whether ``expr`` (whose float is 0.0) is 0 rather than a tiny nonzero number: at
    1024 and 4096 bits a true 0 comes out as rounding noise that shrinks with the
    precision, a tiny number such as exp(-10**8) as the same magnitude twice.

    >>> import sympy
    >>> vanishes(sympy.log(6) - sympy.log(2) - sympy.log(3)), vanishes(sympy.exp(-10**8))
    (True, False)
    """
    point = {k: as_number(v) for k, v in (point or {}).items()}
    got = []
    for rung, prec in ((0, 1024), (2, 4096)):  # rungs of the same tilt: see _Evaluator
        with mpmath.workprec(prec):
            try:
                got.append(_Evaluator(point, prec, rung).ev(expr))
            except (_Stop, ZeroDivisionError):
                return False
    low, high = (abs(v) for v in got)
    if high == 0:
        return True
    return bool(high < low * mpmath.mpf(2) ** -1000)


def digits_of(p: Precise) -> int:
    """The decimal digits the agreeing precision stands for (for messages)."""
    return int(p.bits * math.log10(2))


def same_float(a: Precise, b: Precise) -> bool:
    """Whether two outcomes give the same float64 (to within the last bit or two)."""
    fa, fb = a.as_float(), b.as_float()
    if fa == fb:
        return True
    return math.isfinite(fa) and math.isfinite(fb) and abs(fa - fb) <= 2**-50 * max(abs(fa), abs(fb))
