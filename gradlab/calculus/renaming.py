"""Renaming the variables of SymPy expressions without SymPy's rebuilding, for long sums.

SymPy orders the arguments of a sum or a product by comparing them, and two variables by
their names; a renaming that keeps the order of the names keeps every such comparison,
and every other step of SymPy's canonical form (merging like terms, powers of the same
base, a coefficient distributed over a sum) does not look at names. So an expression
renamed that way, rebuilt without evaluation with its arguments in the order they have,
is the very expression SymPy builds from the renamed parts. ``termwise`` differentiates
one term of each shape of a long sum this way; the parser expands ``sum(body, i, lo,
hi)`` with :func:`expand_sum` and adds the terms with :func:`add`.

>>> x1, x2, x3, x4 = sympy.symbols("x1:5", real=True)
>>> e = rename(100*(x2 - x1**2)**2, {x1: x3, x2: x4})
>>> e, sympy.srepr(e) == sympy.srepr(100*(x4 - x3**2)**2)
(100*(-x3**2 + x4)**2, True)
"""

from __future__ import annotations

from typing import Callable, Sequence

import sympy

# Nodes rebuilt by renaming; a term with any other kind of node (Piecewise, gradlab's
# own functions, …) is differentiated as it is.
_PLAIN = (sympy.Add, sympy.Mul, sympy.Pow, sympy.exp, sympy.log, sympy.sin, sympy.cos, sympy.tan,
          sympy.sinh, sympy.cosh, sympy.tanh, sympy.atan, sympy.asin, sympy.acos)


def rename(e: sympy.Basic, table: dict) -> sympy.Basic | None:
    """``e`` with the symbols in ``table`` replaced, every node rebuilt unevaluated with
    its arguments in their order; None where a node is not one of _PLAIN's kinds."""
    hit = table.get(e)
    if hit is not None:
        return hit
    if not e.args:
        return e if not e.is_Symbol else None  # a symbol not in the table: not this term's
    if not isinstance(e, _PLAIN):
        return None
    args = []
    for a in e.args:
        r = rename(a, table)
        if r is None:
            return None
        args.append(r)
    if isinstance(e, (sympy.Add, sympy.Mul)):
        return e.func._from_args(args, e.is_commutative)
    return e.func(*args, evaluate=False)


def symbols_of(e: sympy.Basic) -> set:
    """The symbols in ``e`` (``free_symbols`` without its set of every subexpression)."""
    out, stack = set(), [e]
    while stack:
        node = stack.pop()
        if node.is_Symbol:
            out.add(node)
        else:
            stack.extend(node.args)
    return out


def expand_sum(walk: Callable[[int], sympy.Expr], indices: Callable[[int], list[int] | None],
               vector: Callable[[int], sympy.Symbol], ks: range, visits: Callable[[], int],
               charge: Callable[[int], None]) -> list[sympy.Expr]:
    """The terms of ``sum(body, i, lo, hi)`` for i in ``ks``, where the index i occurs in
    the body only inside subscripts ``x[…]`` (the parser checks that): the term for k is
    the body's term for another k' with x[s(k')] renamed to x[s(k)] for each subscript s.

    ``walk(k)`` builds a term the parser's way; ``indices(k)`` gives the value of each
    subscript of the body for i = k (None where one is out of range: that term is walked,
    and the parser says what is wrong); ``vector(j)`` is the variable x[j]. One term is
    walked for each order of its variables' names (see the module's docstring), the
    others renamed; ``charge(v)`` counts the ``v`` syntax-tree visits a walk of that term
    would have made (``visits()`` reads the parser's count), so the parser's limit on an
    expansion stays where it was.
    """
    out: list[sympy.Expr] = []
    walked: dict[tuple, tuple[sympy.Expr, list[int], int]] = {}
    for k in ks:
        idx = indices(k)
        term = None
        if idx is not None:
            targets = [vector(j) for j in idx]
            key = _order_key(targets)
            known = walked.get(key)
            if known is not None:
                rep, rep_idx, cost = known
                table = _index_map(rep_idx, idx, vector)
                if table is not None:
                    term = rename_all(rep, table)
                    if term is not None:
                        charge(cost)
        if term is None:
            before = visits()
            term = walk(k)
            if idx is not None:
                walked.setdefault(_order_key([vector(j) for j in idx]), (term, idx, visits() - before))
        out.append(term)
    return out


def _order_key(targets: list[sympy.Symbol]) -> tuple:
    """Which subscripts name the same variable, and the order of the variables' names."""
    names = sorted({t.name for t in targets})
    return tuple(names.index(t.name) for t in targets)


def _index_map(rep_idx: list[int], idx: list[int], vector: Callable[[int], sympy.Symbol]) -> dict | None:
    """x[a] → x[b] for each subscript's values a (the walked term) and b (this one); None
    where that is not a renaming (two subscripts equal in one term and not the other)."""
    table: dict = {}
    for a, b in zip(rep_idx, idx):
        old, new = vector(a), vector(b)
        if table.setdefault(old, new) is not new:
            return None
    return table if len(set(table.values())) == len(table) else None


def rename_all(term: sympy.Expr, table: dict) -> sympy.Expr | None:
    """``term`` renamed by ``table``; the term's other symbols (not from subscripts) kept.
    None where a rename would change the order of the term's names (a symbol of the term
    falls between the renamed ones) or a node is not one :func:`rename` rebuilds."""
    others = symbols_of(term) - set(table)
    if others:
        before = sorted([*table, *others], key=lambda s: s.name)
        after = sorted([*(table[s] for s in table), *others], key=lambda s: s.name)
        mapped = [table.get(s, s) for s in before]
        if mapped != after:
            return None
        table = {**table, **{s: s for s in others}}
    return rename(term, table)


def add(terms: Sequence[sympy.Expr]) -> sympy.Expr:
    """``sympy.Add(*terms)``, the same expression, quickly where no two of the terms'
    summands are like terms (a long sum of local terms: Rosenbrock's 999).

    SymPy's ``Add`` collects like terms and rebuilds each summand with its coefficient
    (``Mul(100, (x2 - x1**2)**2)``: a millisecond of assumption queries each, seconds for
    a 1,000-term sum); where every summand is alone, that rebuilds the summand itself,
    and the sum is the summands in SymPy's canonical order after the numbers' total.
    Anything else (like terms, a float, a non-commutative or infinite summand, a power
    of a number) is left to ``sympy.Add``.

    >>> x, y = sympy.symbols("x y")
    >>> add([3*x**2 + 1, (1 - y)**2, sympy.Rational(1, 2)]), add([x, 2*x])
    (3*x**2 + (1 - y)**2 + 3/2, 3*x)
    """
    from sympy.core.basic import _args_sortkey  # the key of SymPy's own _addsort

    coeff = sympy.S.Zero
    seen: set = set()
    rest: list[sympy.Expr] = []
    for t in terms:
        for a in (t.args if t.is_Add else (t,)):
            if a.is_Rational:
                coeff += a
                continue
            if not a.is_commutative or a.is_Number or a.is_Add or not isinstance(a, (sympy.Mul, sympy.Pow, sympy.Symbol,
                                                                                     sympy.Function)):
                return sympy.Add(*terms)
            if a.is_Pow and a.base.is_Number:
                return sympy.Add(*terms)
            s = a.as_coeff_Mul()[1] if a.is_Mul else a
            if s in seen or a.has(sympy.oo, -sympy.oo, sympy.zoo, sympy.nan, sympy.Order):
                return sympy.Add(*terms)
            seen.add(s)
            rest.append(a)
    if not rest:
        return coeff
    rest.sort(key=_args_sortkey)
    if coeff != 0:
        rest.insert(0, coeff)
    return rest[0] if len(rest) == 1 else sympy.Add._from_args(rest, True)
