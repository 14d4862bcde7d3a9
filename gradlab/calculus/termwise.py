"""The gradient of a long sum of local terms, each term's partials taken once per shape.

``derivatives.gradient`` differentiates, for each variable, the sum of the terms that
mention it: O(size) SymPy work, about a millisecond per partial (SymPy's constructors ask
assumption questions at every node). The terms of an n-dimensional family are mostly the
same term on other variables (Rosenbrock's ``100*(x2 - x1**2)**2 + (1 - x1)**2``, then on
x2 and x3, …), so :func:`gradient` differentiates one term of each *shape* and renames the
result for the others.

Two terms have the same shape when renaming the variables of one, in the order SymPy
sorts their names, gives the other. SymPy orders the arguments of a sum or a product by
comparing them, and two variables by their names; a renaming that keeps the order of the
names keeps every such comparison, and every other step of SymPy's canonical form (merging
like terms, powers of the same base, a coefficient distributed over a sum) does not look
at names. So the renamed partial is the very expression SymPy builds for the other term:
it is rebuilt without evaluation, with its arguments in the order they have (x9 and x10
sort the other way round from x1 and x2: such a term has a shape of its own).

Each partial ∂f/∂v is then the sum of the terms' partials, which is what
``derivatives.gradient`` returns (a sum's derivative is SymPy's sum of its terms'
derivatives, whatever their order), to the bit.

>>> from gradlab.calculus.parsing import parse
>>> p = parse("(1 - x)**2 + 100*(y - x**2)**2 + (1 - y)**2 + 100*(z - y**2)**2")
>>> gradient(p.expr, p.variables)
(-400*x*(-x**2 + y) + 2*x - 2, -200*x**2 - 400*y*(-y**2 + z) + 202*y - 2, -200*y**2 + 200*z)
"""

from __future__ import annotations

from typing import Sequence

import sympy

from gradlab.calculus import derivatives as d
from gradlab.calculus.renaming import rename, symbols_of

#: Below this many terms the plain gradient is as fast: no shapes are looked for.
MIN_TERMS = 32

# derivatives._diff rewrites Abs and sign around the whole expression it differentiates,
# and drops the Dirac deltas of a step's derivative from the whole result: a sum with any
# of them is left to derivatives.gradient, whose partials differentiate sums of terms.
_REWRITTEN = (sympy.Abs, sympy.sign, sympy.Heaviside, sympy.DiracDelta)

_PLACEHOLDERS: list[sympy.Symbol] = []


def _placeholder(k: int, like: sympy.Symbol) -> sympy.Symbol:
    """The k-th placeholder, with the assumptions of gradlab's variables; the names
    ``_t0000…`` sort as the numbers k do."""
    while len(_PLACEHOLDERS) <= k:
        _PLACEHOLDERS.append(sympy.Symbol(f"_t{len(_PLACEHOLDERS):06d}", **like.assumptions0))
    return _PLACEHOLDERS[k]


def gradient(expr: sympy.Expr, variables: Sequence[sympy.Symbol]) -> tuple[sympy.Expr, ...]:
    """∂expr/∂v for each variable v, the same expressions as ``derivatives.gradient``,
    with each shape of term differentiated once (see the module's docstring)."""
    if not expr.is_Add or len(expr.args) < MIN_TERMS or expr.has(*_REWRITTEN):
        return d.gradient(expr, variables)
    wanted = set(variables)
    if any(s.assumptions0 != variables[0].assumptions0 for s in wanted):
        return d.gradient(expr, variables)
    parts: dict[sympy.Symbol, list[sympy.Expr]] = {}
    shapes: dict[sympy.Basic, dict[sympy.Symbol, sympy.Expr]] = {}
    for t in expr.args:
        syms = sorted(symbols_of(t), key=lambda s: s.name)
        if not syms:
            continue
        partials = None
        if not set(syms) - wanted:
            to_shape = {s: _placeholder(k, s) for k, s in enumerate(syms)}
            shape = rename(t, to_shape)
            if shape is not None:
                known = shapes.get(shape)
                if known is None:
                    own = {s: d.derivative(t, s) for s in syms}
                    # kept only where the partials rename back and forth as well
                    as_shape = {to_shape[s]: rename(p, to_shape) for s, p in own.items()}
                    if all(v is not None for v in as_shape.values()):
                        shapes[shape] = as_shape
                    partials = own
                else:
                    back = {p: s for s, p in to_shape.items()}
                    partials = {s: rename(known[to_shape[s]], back) for s in syms}
                    if any(v is None for v in partials.values()):
                        partials = None
        if partials is None:
            partials = {s: d.derivative(t, s) for s in syms if s in wanted}
        for s, p in partials.items():
            parts.setdefault(s, []).append(p)
    return tuple(sympy.Add(*parts[v]) if v in parts else sympy.S.Zero for v in variables)
