"""Common subexpressions of a large system in two linear passes over its DAG.

``sympy.cse`` is made for small systems: before its tree pass it always runs ``opt_cse``,
which matches argument subsets of every Add and Mul against each other (superlinear: for
the 999 terms of Rosenbrock's f in 500 variables it spends seconds and finds nothing), and
its tree pass puts the arguments of every Add and Mul in SymPy's canonical order and
re-evaluates each rebuilt node. :func:`tree_cse` keeps only the tree pass: a subexpression
met twice becomes a temporary, the nodes are rebuilt unevaluated with their arguments in
the order they have, and the result has ``sympy.cse``'s format, ``(replacements,
reduced)``, the temporaries in dependency order (each uses only earlier ones).

The values are those of the expressions given (nothing is rewritten, only named); the
floats of the printed code can differ in the last bits from ``sympy.cse``'s (another
order of the same operations), so every engine that must give the same bits has to go
through the same function: see ``numeric.LARGE_N``.

>>> import sympy
>>> x, y = sympy.symbols("x y")
>>> tree_cse([(x - y**2)**2 + sympy.sin(x - y**2), sympy.cos(x - y**2)])
([(_c0, x - y**2)], [_c0**2 + sin(_c0), cos(_c0)])
"""

from __future__ import annotations

from typing import Iterator, Sequence

import sympy

# Rebuilt without evaluation: the node keeps its operation and its arguments' order, and
# skips SymPy's flatten and its assumption queries (most of sympy.cse's rebuilding time).
_UNEVALUATED = (sympy.Add, sympy.Mul, sympy.Pow, sympy.Function)


def tree_cse(exprs: Sequence[sympy.Basic], prefix: str = "_c") -> tuple[list[tuple[sympy.Symbol, sympy.Basic]],
                                                                          list[sympy.Basic]]:
    """``(replacements, reduced)`` as ``sympy.cse(exprs, symbols=numbered_symbols(prefix))``
    gives them, without its argument-subset search and reordering (see the module's
    docstring): temporaries ``prefix0, prefix1, …`` for each subexpression that occurs
    more than once, in the order their first occurrence is finished.

    >>> import sympy
    >>> x = sympy.Symbol("x")
    >>> tree_cse([sympy.exp(x**2) * x**2, sympy.cos(x)])
    ([(_c0, x**2)], [_c0*exp(_c0), cos(x)])
    """
    seen: set = set()
    repeated: set = set()
    taken: set[str] = set()

    def find(e: sympy.Basic) -> None:
        # As sympy.cse's tree pass: a node met again is not entered again, so a part of it
        # that occurs nowhere else is not a temporary of its own.
        if e.is_Atom or not e.args:
            if e.is_Symbol:
                taken.add(e.name)
            return
        if e in seen:
            repeated.add(e)
            return
        seen.add(e)
        for a in e.args:
            find(a)

    for e in exprs:
        find(e)

    names = _names(prefix, taken)
    done: dict = {}
    replacements: list[tuple[sympy.Symbol, sympy.Basic]] = []

    def rebuild(e: sympy.Basic) -> sympy.Basic:
        if e.is_Atom or not e.args:
            return e
        hit = done.get(e)
        if hit is not None:
            return hit
        args = [rebuild(a) for a in e.args]
        if any(new is not old for new, old in zip(args, e.args)):
            new = e.func(*args, evaluate=False) if isinstance(e, _UNEVALUATED) else e.func(*args)
        else:
            new = e
        if e in repeated:
            sym = next(names)
            replacements.append((sym, new))
            new = sym
        done[e] = new
        return new

    return replacements, [rebuild(e) for e in exprs]


def _names(prefix: str, taken: set[str]) -> Iterator[sympy.Symbol]:
    """``prefix0, prefix1, …`` without the names the expressions already use."""
    k = 0
    while True:
        name = f"{prefix}{k}"
        k += 1
        if name not in taken:
            yield sympy.Symbol(name)
