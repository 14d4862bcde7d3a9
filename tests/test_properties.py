"""Properties of exact calculus on generated expressions (hypothesis).

Agreement: exact gradients, Jacobians and Hessians against central differences (and the
complex step where every function is analytic), within the tolerance below.
Bounded: every calculus call on generated inputs answers or refuses with a GradlabError,
and none of them consults a wall-clock deadline: their work is bounded by size alone.

Tolerances (documented here and in README "Exact work under a budget"): central
differences with h = 1e-5·max(1, |x|) agree to 1e-5 relative to max(1, ‖exact‖); the
complex step with h = 1e-30 agrees to 1e-12 relative.
"""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
import sympy
from hypothesis import assume, example, given, settings, strategies as st

from gradlab.calculus import derivatives as d
from gradlab.calculus import precise
from gradlab.calculus import timelimit
from gradlab.calculus.pointwise import directional_report, eval_report, grad_report, hessian_report, jacobian_report
from gradlab.errors import BadInput, GradlabError
from gradlab.calculus.numeric import Compiled
from gradlab.calculus.parsing import parse

NAMES = ("x", "y", "z")
SMOOTH = ("sin", "cos", "exp", "tanh", "atan", "sigmoid", "softplus", "sinh", "cosh")
ANY = SMOOTH + ("tan", "asin", "acos", "log", "sqrt", "abs", "relu")

_leaf = st.sampled_from(NAMES + ("2", "3", "1/2", "pi"))


def _combine(children, functions):
    return st.one_of(
        st.tuples(st.sampled_from(functions), children).map(lambda t: f"{t[0]}({t[1]})"),
        st.tuples(children, st.sampled_from(["+", "-", "*"]), children).map(lambda t: f"({t[0]}) {t[1]} ({t[2]})"),
        st.tuples(children, st.sampled_from(["2", "3"])).map(lambda t: f"({t[0]})**{t[1]}"),
    )


smooth = st.recursive(_leaf, lambda c: _combine(c, SMOOTH), max_leaves=6)
anything = st.recursive(_leaf, lambda c: st.one_of(
    _combine(c, ANY),
    st.tuples(c, c).map(lambda t: f"({t[0]}) / ({t[1]})"),
    st.tuples(c, c).map(lambda t: f"logsumexp({t[0]}, {t[1]})"),
    st.tuples(c, st.sampled_from(["0.5", "-1", "(1 - x)"])).map(lambda t: f"({t[0]})**{t[1]}"),
), max_leaves=8)
coordinate = st.sampled_from(["0", "1e-8", "-1e-8", "1e8", "-1e8", "1", "-1", "1/3", "2", "-5/2"])
smooth_point = st.lists(st.floats(-1.5, 1.5, allow_nan=False), min_size=3, max_size=3)

CENTRAL_RTOL = 1e-5
COMPLEX_RTOL = 1e-12


def _parse(text: str):
    """The generated text parsed, or the example rejected when the parser refuses it
    (a constant such as asin(2) that is not a real number)."""
    try:
        return parse(text, ",".join(NAMES))
    except GradlabError:
        assume(False)


def _central(f, x: np.ndarray) -> np.ndarray:
    out = []
    for i in range(len(x)):
        h = 1e-5 * max(1.0, abs(x[i]))
        e = np.zeros_like(x)
        e[i] = h
        out.append((f(x + e) - f(x - e)) / (2 * h))
    return np.array(out)


def _close(a, b, rtol) -> bool:
    scale = max(1.0, float(np.max(np.abs(b))))
    return bool(np.all(np.abs(np.asarray(a) - np.asarray(b)) <= rtol * scale))



def _parse(text: str):
    """A generated text, or no example: a constant that is not a real number (asin(2),
    1/0) is refused by the parser, with exit 2 (tests/test_readback.py)."""
    try:
        return parse(text, ",".join(NAMES))
    except BadInput:
        assume(False)

@given(smooth, smooth_point)
def test_gradient_agrees_with_central_differences_and_complex_step(text, point):
    p = _parse(text)
    x = np.array(point)
    grad = d.gradient(p.expr, p.variables)
    exact = Compiled(grad, p.variables)(x)
    fx = Compiled([p.expr], p.variables)
    assume(np.all(np.isfinite(exact)) and np.max(np.abs(exact)) < 1e6 and abs(fx(x)[0]) < 1e8)
    assert _close(_central(lambda v: float(fx(v)[0]), x), exact, CENTRAL_RTOL)
    fc = Compiled([p.expr], p.variables, complex_safe=True)
    cs = [np.imag(fc((x + 1e-30j * np.eye(3)[i]).astype(complex))[0]) / 1e-30 for i in range(3)]
    assert _close(cs, exact, COMPLEX_RTOL)


@settings(max_examples=25)
@given(smooth, smooth_point)
def test_hessian_agrees_with_differences_of_the_gradient_and_is_symmetric(text, point):
    p = _parse(text)
    x = np.array(point)
    H = d.hessian(p.expr, p.variables)
    exact = Compiled([e for row in H for e in row], p.variables)(x).reshape(3, 3)
    g = Compiled(d.gradient(p.expr, p.variables), p.variables)
    assume(np.all(np.isfinite(exact)) and np.max(np.abs(exact)) < 1e6 and np.max(np.abs(g(x))) < 1e8)
    fd = np.array([_central(lambda v: float(g(v)[i]), x) for i in range(3)])
    assert _close(fd, exact, CENTRAL_RTOL)
    # symmetric as numbers: ∂²f/∂xi∂xj computed in the other order by SymPy itself
    for i in range(3):
        for j in range(i + 1, 3):
            other = sympy.diff(p.expr, p.variables[j], p.variables[i])
            val = Compiled([other], p.variables)(x)[0]
            assert abs(val - exact[i, j]) <= 1e-9 * max(1.0, abs(val))


@given(anything)
def test_gradient_is_the_jacobian_row_and_derivatives_stay_real(text):
    p = _parse(text)
    grad = d.gradient(p.expr, p.variables)
    assert d.jacobian([p.expr], p.variables)[0] == grad
    for e in grad + tuple(e for row in d.hessian(p.expr, p.variables) for e in row):
        assert not e.has(sympy.Derivative, sympy.re, sympy.im, sympy.atan2), e


@settings(max_examples=25)
@given(anything, st.lists(coordinate, min_size=3, max_size=3))
def test_calculus_answers_or_refuses_by_size_alone(text, coords):
    # Bounded: no deadline decides, every outcome is an answer or a GradlabError, and a
    # float that comes back is finite. (The size limits: the parser's, MAX_BITS of
    # precision, MAX_EXACT_FORM nodes, the budget's GRADLAB_EXACT_SIZE.)
    import gradlab.calculus.budget as b

    seen = []
    real_within = timelimit.within

    def record(seconds, fn, *args, **kwargs):
        seen.append(getattr(fn, "__name__", str(fn)))
        return real_within(seconds, fn, *args, **kwargs)

    b.within, saved = record, b.within
    try:
        p = _parse(text)
        point = tuple(sympy.Rational(c) for c in coords)
        for call in (lambda: eval_report(p, point), lambda: grad_report(p, point),
                     lambda: jacobian_report(p, point), lambda: hessian_report(p, point),
                     lambda: directional_report(p, point, (1, 2, 2))):
            try:
                r = call()
            except GradlabError:
                continue
            rec = r.to_record()
            assert rec["command"]
            floats = list(_floats(rec))
            assert not any(math.isnan(v) for v in floats)
            if not all(math.isfinite(v) for v in floats):
                # a finite exact value past a float's range (sinh(10⁸)): its float is ±inf
                # with the exact value beside it, and only then is anything infinite
                assert _exact_past_float_range(rec), rec
    finally:
        b.within = saved
    # only the small proofs and simplifications, each refused by size before any deadline
    assert set(seen) <= {"_zero_test", "radsimp", "nsimplify"}, seen


def _exact_past_float_range(rec) -> bool:
    """Whether some ``{"exact": e, "value": ±inf}`` (or lists of them) in ``rec`` has its
    exact value given where the float is infinite."""
    def pairs(v, e):  # (float, exact) leaf by leaf, through vectors and matrices
        if isinstance(v, list) and isinstance(e, list):
            for a, b in zip(v, e):
                yield from pairs(a, b)
        else:
            yield v, e

    if isinstance(rec, dict):
        if any(isinstance(a, float) and math.isinf(a) and b is not None
               for a, b in pairs(rec.get("value"), rec.get("exact"))):
            return True
        return any(_exact_past_float_range(x) for x in rec.values())
    if isinstance(rec, list):
        return any(_exact_past_float_range(x) for x in rec)
    return False


def _floats(rec):
    if isinstance(rec, float):
        yield rec
    elif isinstance(rec, dict):
        for v in rec.values():
            yield from _floats(v)
    elif isinstance(rec, list):
        for v in rec:
            yield from _floats(v)


class _NotReal(ArithmeticError):
    """An intermediate value is not real: gradlab's functions are real (docs/exact.md)."""


def _real(v):
    if isinstance(v, mpmath.mpc):
        if v.imag != 0:
            raise _NotReal
        return v.real
    return v


def _exp(t):
    if abs(t) > 2**62:  # beyond what plain mpmath computes quickly: no oracle here
        raise OverflowError
    return mpmath.exp(t)


def _mp_lse(*a):
    m = max(a)
    return m + mpmath.log(mpmath.fsum(_exp(t - m) for t in a))


# by SymPy class name (gradlab's own classes share SymPy's names or have their own)
_MP = {
    "sin": mpmath.sin, "cos": mpmath.cos, "tan": mpmath.tan, "asin": mpmath.asin, "acos": mpmath.acos,
    "atan": mpmath.atan, "sinh": lambda t: (_exp(t) - _exp(-t)) / 2, "cosh": lambda t: (_exp(t) + _exp(-t)) / 2,
    "tanh": mpmath.tanh, "exp": _exp, "log": mpmath.log, "Abs": abs, "sign": mpmath.sign,
    "sigmoid": lambda t: 1 / (1 + _exp(-t)),
    "softplus": lambda t: _mp_lse(t, mpmath.mpf(0)),
    "relu": lambda t: t if t > 0 else mpmath.mpf(0),
    "step": lambda t: mpmath.mpf(1) if t > 0 else mpmath.mpf(0),
    "logsumexp": _mp_lse,
}


def _oracle(e, env):
    """e at env with plain mpmath at the working precision, in real arithmetic: any
    intermediate that is not real (sqrt(-1e-8), log(-1), asin(2), (-2)**0.5) raises."""
    if e.is_Symbol:
        return env[e]
    if e.is_Rational:
        return mpmath.mpf(int(e.p)) / int(e.q)
    if e is sympy.pi:
        return +mpmath.pi
    if e is sympy.E:
        return +mpmath.e
    args = [_oracle(a, env) for a in e.args]
    if e.is_Add:
        return mpmath.fsum(args)
    if e.is_Mul:
        return mpmath.fprod(args)
    if e.is_Pow:
        base, ex = args
        if base < 0 and not mpmath.isint(ex):
            raise _NotReal
        return _real(mpmath.power(base, ex))
    fn = next((_MP[c.__name__] for c in type(e).__mro__ if c.__name__ in _MP), None)
    if fn is None:
        raise TypeError(f"no oracle for {e.func}")
    return _real(fn(*args))


@given(anything, st.lists(coordinate, min_size=3, max_size=3))
@example("abs((x)**0.5)", ["-1e-8", "0", "0"])  # complex arithmetic says 1e-4; real: undefined
@example("abs(acos(x))", ["2", "0", "0"])
@example("(x)**(1 - x)", ["-1", "0", "0"])  # (-1)**2: an integer power of a negative is real
def test_precise_values_agree_with_plain_mpmath_at_400_digits(text, coords):
    # The oracle: a plain mpmath walk at a fixed 400 digits, no precision ladder, in real
    # arithmetic as documented (a root or log of a negative anywhere: undefined).
    p = _parse(text)
    assume(not p.expr.has(sympy.zoo, sympy.nan, sympy.I))  # x/sin(pi): the parser's to refuse
    pm = {v: sympy.Rational(c) for v, c in zip(p.variables, coords)}
    got = precise.value(p.expr, pm)
    assert got.bits <= precise.MAX_BITS
    assert (got.number is None) != (got.problem is None)
    with mpmath.workdps(400):
        try:
            ref = _oracle(p.expr, {v: mpmath.mpf(c.p) / c.q for v, c in pm.items()})
        except _NotReal:
            # not real at 400 digits: gradlab refuses too
            assert got.number is None, (got, text, coords)
            assert got.problem in (precise.NOT_REAL, precise.POLE) or "stable" in got.problem, got
            return
        except (ValueError, ZeroDivisionError, OverflowError, TypeError):
            return
        if not isinstance(ref, mpmath.mpf) or not mpmath.isfinite(ref) or not 1e-300 < abs(ref) < 1e300:
            return
        if got.number is None:
            # 400 digits found a real value where the ladder refused: only poles/too large
            assert "stable" in got.problem or "too large" in got.problem, (got.problem, ref)
            return
        assert abs(got.as_float() - float(ref)) <= 1e-14 * abs(float(ref)), (got, ref)
