"""Exact work under a budget: the one door for SymPy calls that can blow up.

``solve``, ``simplify``, ``nsimplify``, determinants and eigenvalues of symbolic matrices
can run for minutes on a short input. Every such call goes through :func:`attempt`, which

1. refuses work whose input is larger than a size limit (nodes of the expression tree,
   degree of a polynomial system): the same answer on every machine;
2. runs what passes under a wall-clock deadline (:func:`gradlab.calculus.timelimit.within`) as a
   backstop. When the deadline decides, the outcome says so (``deadline=True``): that
   answer may differ on a faster or slower machine, and the CLI prints a note.

Either way the caller gets an :class:`Outcome`: the exact answer, or the float fallback
with the reason. Limits (defaults, and environment variables that override them):

- ``GRADLAB_EXACT_SIZE`` (default 400): most nodes in an expression handed to exact work;
- ``GRADLAB_EXACT_DEGREE`` (default 8): most product of the degrees of a polynomial
  system handed to ``solve`` (its Bézout bound: the most isolated solutions it can have);
- ``GRADLAB_EXACT_SECONDS`` (default 5): the deadline of one exact call.

>>> import sympy
>>> x = sympy.Symbol("x")
>>> attempt("simplify", sympy.simplify, sympy.sin(x)**2 + sympy.cos(x)**2, size=size_of(x)).value
1
>>> big = sum(x**k for k in range(500))
>>> out = attempt("simplify", sympy.simplify, big, size=size_of(big), fallback=lambda: None)
>>> out.exact, out.reason
(False, 'simplify skipped: the expression has more than 400 nodes (limit GRADLAB_EXACT_SIZE=400)')
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Callable

import sympy

from gradlab.errors import BadInput
from gradlab.calculus.rows import RowMean
from gradlab.calculus.timelimit import within

DEFAULT_SIZE = 400
DEFAULT_DEGREE = 8
DEFAULT_SECONDS = 5.0


@dataclass(frozen=True)
class Limits:
    """The budget of exact work: ``size`` (nodes), ``degree`` (Bézout bound of a
    polynomial system) and ``seconds`` (the deadline of one call)."""

    size: int = DEFAULT_SIZE
    degree: int = DEFAULT_DEGREE
    seconds: float = DEFAULT_SECONDS


def _env_number(name: str, default: float, kind: type) -> float:
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = kind(text)
    except ValueError:
        raise BadInput(f"{name} must be a number, got {text!r}", name) from None
    if not 0 < value <= 10**6:
        raise BadInput(f"{name} must be positive and at most 1000000, got {text}", name)
    return value


def limits() -> Limits:
    """The limits in force: the defaults, overridden by the environment."""
    return Limits(int(_env_number("GRADLAB_EXACT_SIZE", DEFAULT_SIZE, int)),
                  int(_env_number("GRADLAB_EXACT_DEGREE", DEFAULT_DEGREE, int)),
                  float(_env_number("GRADLAB_EXACT_SECONDS", DEFAULT_SECONDS, float)))


def size_of(*exprs: sympy.Basic, cap: int = 10**6, rows: bool = True) -> int:
    """Nodes in the expression trees (counting stops just past ``cap``). A mean over data
    rows counts as the sum it stands for (rows × its body), the object SymPy's exact
    algorithms would have to work on; ``rows=False`` counts its body once.

    >>> x = sympy.Symbol("x")
    >>> size_of(x**2 + 1)
    5
    """
    seen = 0
    stack = list(exprs)
    while stack and seen <= cap:
        e = stack.pop()
        seen += 1
        if isinstance(e, RowMean):
            body = size_of(e.body_at(), cap=cap, rows=rows)
            seen += body * (e.n_rows if rows else 1)
            continue
        stack.extend(e.args)
    return seen


@dataclass(frozen=True)
class Outcome:
    """What an exact attempt gave.

    ``value``: the exact answer, or the fallback's; ``exact``: whether ``value`` is the
    exact answer; ``reason``: why not (``None`` when exact); ``deadline``: whether a
    wall-clock deadline decided (the outcome may then differ from machine to machine).
    """

    value: Any
    exact: bool
    reason: str | None = None
    deadline: bool = False

    def to_record(self) -> dict[str, Any]:
        return {"exact": self.exact, "reason": self.reason, "deadline": self.deadline}


def attempt(what: str, fn: Callable, *args: Any, size: int, fallback: Callable[[], Any] | None = None,
            seconds: float | None = None, limit: Limits | None = None, tick: Callable[[], None] | None = None,
            **kwargs: Any) -> Outcome:
    """``fn(*args, **kwargs)`` if ``size`` is within the limit and it ends within the
    deadline, else ``fallback()`` with the reason.

    ``size`` is measured by the caller (usually :func:`size_of` of the input); ``seconds``
    overrides the deadline (the ``--timeout`` of ``critical``); ``tick()`` is called
    every quarter second while the call runs (for a progress bar).
    """
    lim = limit or limits()
    fb = fallback or (lambda: None)
    if size > lim.size:
        return Outcome(fb(), False, f"{what} skipped: the expression has more than {lim.size} nodes "
                                    f"(limit GRADLAB_EXACT_SIZE={lim.size})")
    deadline = lim.seconds if seconds is None else seconds
    ok, answer = within(deadline, fn, *args, tick=tick, **kwargs)
    if ok:
        return Outcome(answer, True)
    if str(answer).startswith("timed out"):
        return Outcome(fb(), False, f"{what} stopped at the {deadline:g} s deadline (on a faster machine "
                                    "it might finish: this outcome depends on the machine's speed)", True)
    return Outcome(fb(), False, f"{what} failed ({answer})")


def polynomial_degree(exprs: list[sympy.Expr], variables: list[sympy.Symbol]) -> int | None:
    """The Bézout bound (product of total degrees) of a polynomial system, None if a
    component is not a polynomial in ``variables``.

    >>> x, y = sympy.symbols("x y")
    >>> polynomial_degree([x**2 - y, x*y**2], [x, y]), polynomial_degree([sympy.sin(x)], [x])
    (6, None)
    """
    bound = 1
    for e in exprs:
        if not e.is_polynomial(*variables):
            return None
        deg = sympy.Poly(e, *variables).total_degree() if e.free_symbols else 0
        bound *= max(deg, 1)
    return bound


def is_zero(expr: sympy.Expr) -> Outcome:
    """Whether a symbolic expression is identically 0: ``value`` True/False when proven
    (``exact``), else None with the reason. Cheap canonical forms first, ``simplify``
    under the budget last.

    >>> x = sympy.Symbol("x")
    >>> is_zero(sympy.sin(x)**2 + sympy.cos(x)**2 - 1).value
    True
    """
    if expr == 0:
        return Outcome(True, True)
    out = attempt("simplify", _zero_test, expr, size=size_of(expr))
    if out.exact:
        return Outcome(True, True) if out.value else Outcome(None, False, "simplify could not show it is 0")
    return out


def _zero_test(expr: sympy.Expr) -> bool:
    return sympy.expand(expr) == 0 or sympy.simplify(expr) == 0
