"""Exact numbers with their floats. Every pass runs twice: exactly (SymPy numbers) and
numerically to 40 digits (:data:`PRECISION`); a float is taken from the numeric pass, so it
never needs SymPy to re-evaluate a deep exact form, and two numbers are compared exactly
where they are rational, else to 25 digits.

>>> exact_value(sympy.Rational(1, 3), "x")
Value(exact=1/3, value=0.3333333333333333, reason=None)
>>> same(sympy.sqrt(2) ** 2, 2), close(hp(sympy.pi), hp(sympy.pi) + sympy.Float("1e-30", PRECISION))
(True, True)
"""

from __future__ import annotations

import math
from typing import Any

import sympy

from gradlab.calculus import derivatives as d
from gradlab.calculus import precise
from gradlab.calculus.derivatives import Value
from gradlab.calculus.graph import Comps
from gradlab.errors import Undefined


def number(v) -> sympy.Expr:
    """A Python int as a SymPy Integer; anything else as it is."""
    return sympy.Integer(v) if isinstance(v, int) else v


PRECISION = 40  # digits of the numeric pass run beside the exact one
_BAD = (sympy.zoo, sympy.nan, sympy.oo, -sympy.oo)


def hp(v: sympy.Expr) -> sympy.Expr:
    """A number to PRECISION digits: the numeric pass carries these instead of ever
    longer exact forms, so a float never needs SymPy to re-evaluate a deep expression."""
    v = number(v)
    return sympy.Float(v, PRECISION) if v.is_Rational else sympy.N(v, PRECISION)


def finite(a: Any) -> bool:
    """A finite real number (Float or Rational)."""
    return isinstance(a, sympy.Expr) and (a.is_Float or a.is_Rational) and math.isfinite(float(a))


def exact_value(e: sympy.Expr, what: str, approx: sympy.Expr | None = None) -> Value:
    """An exact number and its float: the float from ``approx`` (the numeric pass, 40
    digits) when it is a finite real; otherwise SymPy decides (and names what is undefined)."""
    e = number(e)
    if e.is_Rational:
        f = float(e)
        if not math.isfinite(f):
            raise Undefined(f"{what} is too large for a float at the point")
        return Value(e, f)
    if approx is not None and finite(approx) and not e.has(*_BAD):
        return Value(e, float(approx))
    if e.has(sympy.I):
        # SymPy evaluates log(-1) or sqrt(-4) at once to I*pi, 2*I: a value, but not a real one
        raise Undefined(f"{what} is undefined at the point: {precise.NOT_REAL}")
    return d.evaluate(e, {}, what)


def exact_values(comps: Comps, what: str, approx: Comps | None = None) -> tuple[Value, ...]:
    """:func:`exact_value` of each component, each float from its numeric twin."""
    if approx is None:
        return tuple(exact_value(e, what) for e in comps)
    return tuple(exact_value(e, what, a) for e, a in zip(comps, approx))


def close(a: sympy.Expr, b: sympy.Expr, digits: int = 25) -> bool:
    """Two numbers of the numeric pass agree to ``digits`` significant digits."""
    if not (finite(a) and finite(b)):
        return False
    return abs(a - b) <= sympy.Float(10, PRECISION) ** -digits * max(1, abs(a), abs(b))


def same(a: sympy.Expr, b: sympy.Expr) -> bool:
    """Exact numbers equal: exactly, or (for transcendental forms) to 25 digits."""
    diff = a - b
    if diff == 0:
        return True
    if diff.is_Rational:
        return False
    return close(sympy.N(a, PRECISION), sympy.N(b, PRECISION))
