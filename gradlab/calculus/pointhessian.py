"""The Hessian of a polynomial at a rational point, exactly, without its formulas.

The learning-rate theory needs ∇²f at a known minimum. Building the symbolic Hessian
first costs one SymPy derivative per entry (1,999 for 1000-D Rosenbrock: more than a
second) only to substitute the point into each. When ∇f is a polynomial and the point
rational, forward-mode differentiation of each component with exact fractions gives the
same numbers in milliseconds: both are exact rationals, and an exact rational has one
form, so the entries are the very SymPy numbers the substitution gives.

>>> from gradlab.calculus.parsing import parse
>>> from gradlab.calculus.numeric import gradient
>>> p = parse("(1 - x)**2 + 100*(y - x**2)**2")
>>> hessian_at(gradient(p.expr, p.variables), p.variables, (1, 1))
{(0, 0): 802, (0, 1): -400, (1, 0): -400, (1, 1): 200}
>>> hessian_at(gradient(parse("exp(x*y)").expr, p.variables), p.variables, (1, 1)) is None
True
"""

from __future__ import annotations

from fractions import Fraction
from typing import Sequence

import sympy

Number = int | Fraction
Dual = tuple[Number, dict[int, Number]]  # a value and its partials by variable index


class _NotPolynomial(Exception):
    """A node other than +, ×, a power by a whole number ≥ 0, a rational or a variable."""


def hessian_at(gradient: Sequence[sympy.Expr], variables: Sequence[sympy.Symbol],
               point: Sequence) -> dict[tuple[int, int], sympy.Expr] | None:
    """The Hessian at ``point`` as ``numeric.hessian(...)`` with the point substituted
    would give it, as ``{(i, j): entry}`` for the entries that are not structurally 0:
    row i of the Jacobian of ``gradient`` differentiated by the variables x_j (j ≥ i)
    that occur in it, mirrored to (j, i); every other entry is S.Zero. None unless every
    component is a polynomial and every coordinate a rational number."""
    values = [sympy.sympify(v) for v in point]
    if not all(v.is_Rational for v in values):
        return None
    at = [_fraction(v) for v in values]
    index = {v: i for i, v in enumerate(variables)}
    entries: dict[tuple[int, int], sympy.Expr] = {}
    try:
        for i, g in enumerate(gradient):
            wanted = {index[s] for s in g.free_symbols if s in index and index[s] >= i}
            if not wanted:
                continue
            _, partials = _dual(g, index, at, wanted)
            for j in wanted:
                d = partials.get(j, 0)
                entries[i, j] = entries[j, i] = sympy.Rational(d.numerator, d.denominator)
    except _NotPolynomial:
        return None
    return entries


def _fraction(v: sympy.Rational) -> Number:
    # Python ints where the number is whole: int arithmetic is several times faster than
    # Fraction's, and mixes with it exactly.
    return int(v.p) if v.q == 1 else Fraction(int(v.p), int(v.q))


def _dual(expr: sympy.Expr, index: dict, at: list[Number], wanted: set[int]) -> Dual:
    """expr and its partials by the ``wanted`` variables at ``at``, each shared node once."""
    memo: dict = {}

    def ev(e) -> Dual:
        hit = memo.get(e)
        if hit is not None:
            return hit
        if e.is_Rational:
            out: Dual = (_fraction(e), {})
        elif e.is_Symbol:
            j = index.get(e)
            if j is None:
                raise _NotPolynomial
            out = (at[j], {j: 1} if j in wanted else {})
        elif e.is_Add:
            v, d = 0, {}
            for a in e.args:
                av, ad = ev(a)
                v += av
                for j, x in ad.items():
                    d[j] = d.get(j, 0) + x
            out = (v, d)
        elif e.is_Mul:
            v, d = 1, {}
            for a in e.args:  # (v, d)·(av, ad) = (v·av, v·ad + av·d)
                av, ad = ev(a)
                d = {j: av * d.get(j, 0) + v * ad.get(j, 0) for j in d.keys() | ad.keys()}
                v *= av
            out = (v, d)
        elif e.is_Pow and e.exp.is_Integer and e.exp >= 0:
            bv, bd = ev(e.base)
            k = int(e.exp)
            scale = k * bv ** (k - 1) if k else 0
            out = (bv**k, {j: scale * x for j, x in bd.items()})
        else:
            raise _NotPolynomial
        memo[e] = out
        return out

    return ev(expr)
