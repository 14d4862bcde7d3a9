"""gradlab's own SymPy functions: the machine-learning activations and logsumexp.

They stay unexpanded in symbolic output (``sigmoid(x)`` reads better than
``1/(1 + exp(-x))``), know their derivatives, and turn into closed forms as soon as the
argument is a number. The closed forms are the numerically stable ones (sigmoid through
exp(-|x|), logsumexp shifted by its largest argument), so the exact value of
``sigmoid(-1000)`` or ``logsumexp(1000, 0)`` never passes through a number too large for a
float; their float versions (``_imp_``, used by ``lambdify``) are stable too.

Kinks (``relu``, ``step``) need the sign of a number. SymPy's ``is_positive`` decides it
from a 2-digit estimate and can be wrong (``10**20*acos(tanh(30))`` is "not positive"), so
:func:`sign_of` decides it exactly or from values that agree at two precisions, with
bounded work, and otherwise leaves the function unevaluated.

>>> import sympy
>>> x = sympy.Symbol("x", real=True)
>>> sympy.diff(sigmoid(x), x)
(1 - sigmoid(x))*sigmoid(x)
>>> relu(-3), relu(sympy.Rational(1, 2))
(0, 1/2)
>>> sigmoid(-1000)
exp(-1000)/(exp(-1000) + 1)
"""

from __future__ import annotations

import functools
import math
from typing import Any

import mpmath
import sympy
from sympy import Function
from sympy.core.logic import fuzzy_and

# --------------------------------------------------------------------------- numeric signs
#: Largest binary exponent an intermediate value may have while a sign is decided
#: (|v| < 2**2**20, about 10**315000): a tower like exp(exp(exp(10))) is refused at once
#: instead of being computed to millions of digits.
MAX_MAGNITUDE_BITS = 1 << 20
#: Working precisions (bits) tried in turn; a sign is trusted when two successive
#: precisions agree on it and on the leading half of their bits.
PRECISIONS = (64, 128, 256, 512, 1024, 2048)
#: Only expressions this small are simplified to prove that a value is exactly 0.
MAX_ZERO_PROOF_OPS = 24


class _NoValue(Exception):
    """A number :func:`_mp` cannot evaluate with bounded work (too big, unknown function)."""


def _guard(v):
    if isinstance(v, (mpmath.mpf, mpmath.mpc)) and v != 0 and mpmath.isfinite(v):
        if mpmath.mag(v) > MAX_MAGNITUDE_BITS:
            raise _NoValue("too large")
    elif isinstance(v, (mpmath.mpf, mpmath.mpc)) and not mpmath.isfinite(v):
        raise _NoValue("not finite")
    return v


def _real_arg(v):
    if isinstance(v, mpmath.mpc):
        raise _NoValue("complex argument")
    return v


def _mp_exp(v):
    if abs(mpmath.re(v)) > MAX_MAGNITUDE_BITS:
        raise _NoValue("exponent too large")
    return mpmath.exp(v)


def _mp_sign(v):
    v = _real_arg(v)
    return mpmath.mpf((v > 0) - (v < 0))


def _mp_lse(*vs):
    vs = [_real_arg(v) for v in vs]
    m = max(vs)
    return m + mpmath.log(mpmath.fsum(_mp_exp(v - m) for v in vs))


def _mp_functions() -> dict:
    return {
        sympy.sin: mpmath.sin, sympy.cos: mpmath.cos, sympy.tan: mpmath.tan,
        sympy.asin: mpmath.asin, sympy.acos: mpmath.acos, sympy.atan: mpmath.atan,
        sympy.sinh: lambda v: (_mp_exp(v) - _mp_exp(-v)) / 2,
        sympy.cosh: lambda v: (_mp_exp(v) + _mp_exp(-v)) / 2,
        sympy.tanh: mpmath.tanh, sympy.asinh: mpmath.asinh, sympy.acosh: mpmath.acosh,
        sympy.atanh: mpmath.atanh, sympy.exp: _mp_exp, sympy.log: mpmath.log,
        sympy.Abs: abs, sympy.sign: _mp_sign, sympy.re: mpmath.re, sympy.im: mpmath.im,
        sympy.atan2: lambda y, x: mpmath.atan2(_real_arg(y), _real_arg(x)),
        sympy.LambertW: mpmath.lambertw,
        sympy.Max: lambda *vs: max(_real_arg(v) for v in vs),
        sympy.Min: lambda *vs: min(_real_arg(v) for v in vs),
        sympy.Heaviside: lambda v, h0=mpmath.mpf(1) / 2: (
            mpmath.mpf(1) if _real_arg(v) > 0 else mpmath.mpf(0) if v < 0 else h0),
        sigmoid: lambda v: 1 / (1 + _mp_exp(-v)),
        softplus: lambda v: _mp_lse(v, mpmath.mpf(0)),
        relu: lambda v: max(_real_arg(v), mpmath.mpf(0)),
        step: lambda v: mpmath.mpf(1) if _real_arg(v) > 0 else mpmath.mpf(0),
        logsumexp: _mp_lse,
    }


def _mp(e: sympy.Expr, table: dict):
    """The value of a numeric expression at mpmath's working precision, guarded."""
    if e.is_Rational:
        return mpmath.mpf(int(e.p)) / int(e.q)
    if e is sympy.pi:
        return +mpmath.pi
    if e is sympy.E:
        return mpmath.e()
    if e.is_Float:
        return mpmath.mpf(e._mpf_)
    if e.is_Add:
        return _guard(mpmath.fsum(_mp(a, table) for a in e.args))
    if e.is_Mul:
        out = mpmath.mpf(1)
        for a in e.args:
            out = _guard(out * _mp(a, table))
        return out
    if e.is_Pow:
        base, ex = _mp(e.args[0], table), _mp(e.args[1], table)
        if base == 0:
            if mpmath.re(ex) <= 0:
                raise _NoValue("pole")
            return mpmath.mpf(0)
        if abs(ex) * (abs(mpmath.mag(base)) + 1) > MAX_MAGNITUDE_BITS:
            raise _NoValue("power too large")
        return _guard(mpmath.power(base, ex))
    fn = next((table[c] for c in type(e).__mro__ if c in table), None)  # gradlab's Abs is an Abs
    if fn is None:
        raise _NoValue(f"no numeric rule for {e.func}")
    try:
        return _guard(fn(*(_mp(a, table) for a in e.args)))
    except (ValueError, ZeroDivisionError, OverflowError) as exc:
        raise _NoValue(str(exc)) from None


def mp_value(e: sympy.Expr, bits: int = 64):
    """``e`` (a number) as an mpmath value at ``bits`` of working precision, or None
    when it cannot be computed with bounded work (a tower of exponentials, a pole).

    >>> float(mp_value(sympy.sqrt(2) * sympy.pi))
    4.442882938158366
    """
    table = _mp_functions()
    try:
        with mpmath.workprec(bits):
            return _mp(e, table)
    except (_NoValue, ValueError, ZeroDivisionError, OverflowError, TypeError):
        return None


def _evalf(e: sympy.Expr, prec: int):
    if not e.is_number:
        return None
    v = mp_value(e, prec + 20)
    if v is None or isinstance(v, mpmath.mpc):
        return None
    return sympy.Float(v, precision=prec)


def _not_real(e: sympy.Expr) -> bool:
    """Whether a number is certainly not real (SymPy says so, or its imaginary part is
    clearly nonzero at two precisions)."""
    if e.is_extended_real is False:
        return True
    a, b = mp_value(e, 64), mp_value(e, 128)
    return all(isinstance(v, mpmath.mpc) and abs(v.imag) > abs(v) * 2.0**-30 for v in (a, b))


def _evalf_kink(arg: sympy.Expr, prec: int, value) -> sympy.Expr | None:
    """Numeric value of relu/step left unevaluated at a number: a complex argument gives a
    complex result (so "not real" is reported, never a comparison error)."""
    v = mp_value(arg, prec + 20)
    if v is None:
        return None
    if isinstance(v, mpmath.mpc):
        if abs(v.imag) > abs(v) * mpmath.ldexp(1, -prec // 2):
            return sympy.Float(v.real, precision=prec) + sympy.I * sympy.Float(v.imag, precision=prec)
        v = v.real
    out = value(v)
    return None if out is None else sympy.Float(out, precision=prec)


def _agree(a, b, bits: int) -> bool:
    return a != 0 and b != 0 and (a > 0) == (b > 0) and abs(a - b) <= abs(b) * mpmath.ldexp(1, -(bits // 2))


def sign_of(e: sympy.Expr) -> int | None:
    """The sign (-1, 0 or 1) of a real number ``e``, or None if it cannot be decided.

    Exact for rationals; otherwise from values computed at increasing precision, trusted
    when two successive precisions agree; exactly 0 only when a small simplification
    proves it. Never SymPy's 2-digit ``is_positive``.

    >>> sign_of(10**20 * sympy.acos(sympy.tanh(30)))
    1
    >>> sign_of(sympy.sin(sympy.pi / 7)**2 + sympy.cos(sympy.pi / 7)**2 - 1)
    0
    """
    if e.is_Rational:
        return (e.p > 0) - (e.p < 0)
    if e.free_symbols or not e.is_number:
        return None
    table, prev = _mp_functions(), None
    for bits in PRECISIONS:
        try:
            with mpmath.workprec(bits):
                v = _mp(e, table)
        except (_NoValue, ValueError, ZeroDivisionError, OverflowError, TypeError):
            return None
        if isinstance(v, mpmath.mpc):
            if abs(v.imag) > abs(v) * mpmath.ldexp(1, -(bits // 2)):
                return None  # not a real number
            v = v.real
        if prev is not None and _agree(prev[1], v, prev[0]):
            return 1 if v > 0 else -1
        prev = (bits, v)
    # No two precisions agree: the value is (close to) 0. Prove 0 exactly, or give up.
    if sympy.count_ops(e) <= MAX_ZERO_PROOF_OPS:
        try:
            if sympy.simplify(e) == 0:
                return 0
        except (TypeError, ValueError, NotImplementedError, RecursionError):
            pass
    return None


# --------------------------------------------------------------------------- activations
class sigmoid(Function):  # noqa: N801 - SymPy prints the class name; users type it
    """The logistic function 1/(1 + exp(-x)); its derivative is s(1 - s).

    At a number it becomes 1/(1 + exp(-x)) for x ≥ 0 and exp(x)/(1 + exp(x)) for x < 0:
    the same number, but no exp of a large positive value.
    """

    @classmethod
    def eval(cls, x):
        if x.is_number:
            if sign_of(x) == -1:
                return sympy.exp(x) / (1 + sympy.exp(x))
            return 1 / (1 + sympy.exp(-x))
        return None

    def fdiff(self, argindex=1):
        s = sigmoid(self.args[0])
        return s * (1 - s)

    def _eval_rewrite_as_exp(self, x, **kwargs):
        return 1 / (1 + sympy.exp(-x))

    def _eval_is_extended_real(self):
        return self.args[0].is_extended_real


class softplus(Function):  # noqa: N801
    """log(1 + exp(x)), the smooth ReLU; its derivative is sigmoid(x).

    At a number x > 0 it becomes x + log(1 + exp(-x)), the stable form.
    """

    @classmethod
    def eval(cls, x):
        if x.is_number:
            if sign_of(x) == 1:
                return x + sympy.log(1 + sympy.exp(-x))
            return sympy.log(1 + sympy.exp(x))
        return None

    def fdiff(self, argindex=1):
        return sigmoid(self.args[0])

    def _eval_rewrite_as_exp(self, x, **kwargs):
        return sympy.log(1 + sympy.exp(x))

    def _eval_is_extended_real(self):
        return self.args[0].is_extended_real


class step(Function):  # noqa: N801
    """The Heaviside step with step(0) = 0: the derivative gradlab gives relu.

    At 0 this is the subgradient convention PyTorch uses; its own derivative is taken
    as 0 everywhere (the Dirac spike at 0 is not a number a descent can use). At a number
    whose sign cannot be decided it stays unevaluated.
    """

    @classmethod
    def eval(cls, x):
        if x.is_number:
            s = sign_of(x)
            if s is not None:
                return sympy.S.One if s > 0 else sympy.S.Zero
            if _not_real(x):
                return sympy.S.NaN  # undefined, and stays so whatever it is combined with
        return None

    def fdiff(self, argindex=1):
        return sympy.S.Zero

    def _eval_evalf(self, prec):
        # an undecided sign is a value too close to 0 to tell 0 from 1: no value
        return _evalf_kink(self.args[0], prec, lambda v: None)

    def _eval_is_extended_real(self):
        return self.args[0].is_extended_real


class relu(Function):  # noqa: N801
    """max(x, 0); its derivative is step(x), so relu'(0) = 0 as in PyTorch."""

    @classmethod
    def eval(cls, x):
        if x.is_number:
            s = sign_of(x)
            if s is not None:
                return x if s > 0 else sympy.S.Zero
            if _not_real(x):
                return sympy.S.NaN  # relu(asin(2)) - asin(2) must not come out as a real 0
        return None

    def fdiff(self, argindex=1):
        return step(self.args[0])

    def _eval_evalf(self, prec):
        # left unevaluated at a number whose sign is undecided: max(v, 0) is still a
        # well-defined value, close to 0
        return _evalf_kink(self.args[0], prec, lambda v: max(v, 0))

    def _eval_is_extended_real(self):
        return self.args[0].is_extended_real


# --------------------------------------------------------------------------- logsumexp
def _float_logsumexp(*args: Any):
    """log Σ exp(aᵢ), shifted by the largest real part: floats, arrays or complex arrays."""
    if all(isinstance(a, (int, float)) for a in args):
        if any(math.isnan(a) for a in args):
            return math.nan
        m = max(args)
        if math.isinf(m):
            return m
        return m + math.log(math.fsum(math.exp(a - m) for a in args))
    import numpy as np  # only when compiled for arrays: plain commands never load numpy

    arrays = [np.asarray(a) for a in args]
    m = functools.reduce(np.maximum, [a.real for a in arrays])
    m = np.where(np.isfinite(m), m, 0.0)  # ±inf and nan pass through the sum unshifted
    return m + np.log(sum(np.exp(a - m) for a in arrays))


class logsumexp(Function):  # noqa: N801
    """log(exp(a₁) + … + exp(aₙ)); its partial derivatives are the softmax.

    At numbers it becomes m + log(1 + Σ exp(aᵢ - m)) with m the largest argument, so
    ``logsumexp(1000, 0)`` is ``1000 + log(1 + exp(-1000))``, never ``log(exp(1000) + 1)``.

    >>> a, b = sympy.symbols("a b", real=True)
    >>> sympy.diff(logsumexp(a, b), a)
    exp(a - logsumexp(a, b))
    >>> logsumexp(1000, 0)
    log(exp(-1000) + 1) + 1000
    """

    _imp_ = staticmethod(_float_logsumexp)

    @classmethod
    def eval(cls, *args):
        if not args:
            raise TypeError("logsumexp needs at least one argument")
        if len(args) == 1:
            return args[0]
        if all(a.is_number for a in args):
            k = _largest(args)
            m = args[k]
            rest = [sympy.exp(a - m) for i, a in enumerate(args) if i != k]
            return m + sympy.log(1 + sympy.Add(*rest))
        return None

    def fdiff(self, argindex=1):
        return sympy.exp(self.args[argindex - 1] - self)

    def _eval_rewrite_as_exp(self, *args, **kwargs):
        return sympy.log(sympy.Add(*[sympy.exp(a) for a in args]))

    def _eval_is_extended_real(self):
        return fuzzy_and(a.is_extended_real for a in self.args)

    def _eval_evalf(self, prec):
        return _evalf(self, prec)


def _largest(numbers) -> int:
    """Index of the largest number, decided by :func:`sign_of` where it can, else by a
    float estimate (any choice gives the same exact value; only stability is at stake)."""
    best = 0
    for i in range(1, len(numbers)):
        s = sign_of(numbers[i] - numbers[best])
        if s is None:
            a, b = mp_value(numbers[i]), mp_value(numbers[best])
            s = 1 if a is not None and b is not None and mpmath.re(a) > mpmath.re(b) else -1
        if s > 0:
            best = i
    return best


def softmax(args) -> list[sympy.Expr]:
    """The softmax components exp(aᵢ - logsumexp(a)): stable, and their Jacobian is
    diag(s) - s sᵀ.

    >>> a, b = sympy.symbols("a b", real=True)
    >>> softmax([a, b])
    [exp(a - logsumexp(a, b)), exp(b - logsumexp(a, b))]
    """
    lse = logsumexp(*args)
    return [sympy.exp(a - lse) for a in args]


# --------------------------------------------------------------------------- abs and sign
class Abs(sympy.Abs):
    """|u| for gradlab's real-valued maths (``abs`` in expressions).

    SymPy's Abs decides the sign of a number from a 2-digit estimate, so
    ``Abs(1 - 10**20*acos(tanh(30)))`` came out negative; here :func:`sign_of` decides.
    Its derivative is sign(u)·u' for every u (SymPy's, for a u not known to be real such
    as acos(x), is written with re, im and atan2).

    >>> x = sympy.Symbol("x", real=True)
    >>> Abs(1 - 10**20 * sympy.acos(sympy.tanh(30)))
    -1 + 100000000000000000000*acos(tanh(30))
    >>> sympy.diff(Abs(sympy.acos(x)), x)
    -sign(acos(x))/sqrt(1 - x**2)
    """

    @classmethod
    def eval(cls, arg):
        if arg.is_number:
            s = sign_of(arg)
            if s is not None:
                return arg if s > 0 else -arg if s < 0 else sympy.S.Zero
            if _not_real(arg):
                return sympy.S.NaN  # abs(asin(2)) is undefined, not the modulus of a complex
            return None
        if arg.is_extended_nonnegative:
            return arg
        if arg.is_extended_nonpositive:
            return -arg
        if arg.could_extract_minus_sign():
            return cls(-arg)
        return None

    def fdiff(self, argindex=1):
        return sign(self.args[0])

    def _eval_derivative(self, x):
        return sign(self.args[0]) * self.args[0].diff(x)


class sign(sympy.sign):  # noqa: N801
    """The sign of a real u, decided by :func:`sign_of`; its derivative is taken as 0
    everywhere (the derivative gradlab gives abs has its kink at 0)."""

    @classmethod
    def eval(cls, arg):
        if arg.is_number:
            s = sign_of(arg)
            if s is not None:
                return sympy.Integer(s)
            if _not_real(arg):
                return sympy.S.NaN
            return None
        if arg.is_extended_positive:
            return sympy.S.One
        if arg.is_extended_negative:
            return sympy.S.NegativeOne
        if arg.is_zero:
            return sympy.S.Zero
        if arg.could_extract_minus_sign():
            return -cls(-arg)
        return None

    def fdiff(self, argindex=1):
        return sympy.S.Zero

    def _eval_derivative(self, x):
        return sympy.S.Zero


#: Functions with a kink: their derivative uses a convention at the kink.
KINKED = (sympy.Abs, relu, step, sympy.sign)
