"""SymPy → fast float64 NumPy functions, grids, eigenvalues and finite differences.

Expressions are compiled once with ``lambdify(..., cse=True)`` and then called on whole
arrays; nothing here calls ``subs``/``evalf`` in a loop.

>>> from gradlab.calculus.parsing import parse
>>> p = parse("x**2 + 25*y**2")
>>> import numpy as np
>>> Compiled(p.exprs, p.variables)(np.array([[1.0, 2.0], [1.0, 0.0]]))
array([[26.,  4.]])
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import numpy as np
import sympy


def _sigmoid(x):
    # exp(-logaddexp(0, -x)) never overflows, unlike 1/(1 + exp(-x)) for x ≪ 0.
    return np.exp(-np.logaddexp(0.0, -x))


def _step(x):
    return np.where(x > 0, 1.0, 0.0)


def _relu(x):
    return np.maximum(x, 0.0)


def _softplus(x):
    return np.logaddexp(0.0, x)


_FLOAT_FUNCS = {"sigmoid": _sigmoid, "softplus": _softplus, "relu": _relu, "step": _step}
# Complex-step differentiation needs every function analytic in a complex argument.
_COMPLEX_FUNCS = {
    "sigmoid": lambda z: 1 / (1 + np.exp(-z)),
    "softplus": lambda z: np.log1p(np.exp(z)),
    "relu": lambda z: np.where(z.real > 0, z, 0 * z),
    "step": lambda z: np.where(z.real > 0, 1.0, 0.0),
    "Abs": lambda z: np.where(z.real < 0, -z, z),
    "sign": lambda z: np.sign(z.real),
}


def _math_sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x)) if x >= 0 else math.exp(x) / (1 + math.exp(x))


_MATH_FUNCS = {
    "sigmoid": _math_sigmoid,
    "softplus": lambda x: max(x, 0.0) + math.log1p(math.exp(-abs(x))),
    "relu": lambda x: x if x > 0 else 0.0,
    "step": lambda x: 1.0 if x > 0 else 0.0,
    "sign": lambda x: (x > 0) - (x < 0),
}


def _safe(variables: Sequence[sympy.Symbol], exprs: Sequence[sympy.Expr]) -> tuple[list, list, Callable]:
    """The variables renamed ``_v0, _v1, …`` in one pass over the expressions, and a CSE
    that names its temporaries ``_c0, _c1, …``.

    User names never start with ``_``, so generated names cannot clash with a variable
    (``x0``) or with a NumPy name the printed code calls (``where``). lambdify's own
    ``dummify`` does the same renaming with one pass per variable: minutes at 500.
    """
    new = [sympy.Symbol(f"_v{i}", real=True) for i in range(len(variables))]
    mapping = dict(zip(variables, new))
    renamed = [sympy.sympify(e).xreplace(mapping) for e in exprs]

    def cse(es):
        return sympy.cse(es, symbols=sympy.numbered_symbols("_c"))

    return new, renamed, cse


def lambdify_scalar(variables: Sequence[sympy.Symbol], exprs: Sequence[sympy.Expr]) -> Callable:
    """The expressions as a function of Python floats (the ``math`` module).

    For one run at a time this is several times faster than NumPy on 1-element arrays;
    it raises (ValueError, OverflowError, ZeroDivisionError) where NumPy would give
    inf or nan, and the caller falls back to the array version.
    """
    args, renamed, cse = _safe(variables, exprs)
    return sympy.lambdify(args, renamed, modules=[_MATH_FUNCS, "math"], cse=cse, dummify=False)


def lambdify(variables: Sequence[sympy.Symbol], exprs: Sequence[sympy.Expr], complex_safe: bool = False) -> Callable:
    """``sympy.lambdify`` with gradlab's functions, CSE, and names that cannot clash
    (see ``_safe``)."""
    modules = [_COMPLEX_FUNCS if complex_safe else _FLOAT_FUNCS, "numpy"]
    args, renamed, cse = _safe(variables, exprs)
    return sympy.lambdify(args, renamed, modules=modules, cse=cse, dummify=False)


def gradient(expr: sympy.Expr, variables: Sequence[sympy.Symbol]) -> tuple[sympy.Expr, ...]:
    """∇expr, the same as ``derivatives.gradient``, but each partial differentiates only
    the terms of a sum that mention its variable: O(size) for a sum of local terms
    (Rosenbrock in 500 variables) instead of O(n × size).

    >>> from gradlab.calculus.parsing import parse
    >>> p = parse("x**2 + x*y + y**3")
    >>> gradient(p.expr, p.variables)
    (2*x + y, x + 3*y**2)
    """
    from gradlab.calculus import derivatives as d

    terms = expr.args if expr.is_Add else (expr,)
    index = {v: i for i, v in enumerate(variables)}
    parts: list[list[sympy.Expr]] = [[] for _ in variables]
    for t in terms:
        for s in t.free_symbols:
            if s in index:
                parts[index[s]].append(t)
    return tuple(d.derivative(sympy.Add(*p), v) if p else sympy.S.Zero for p, v in zip(parts, variables))


def hessian(expr: sympy.Expr, variables: Sequence[sympy.Symbol],
            grad: Sequence[sympy.Expr] | None = None) -> tuple[tuple[sympy.Expr, ...], ...]:
    """The Hessian as the Jacobian of :func:`gradient` (or of ``grad``, when already
    known), only where a variable occurs (the same matrix as ``derivatives.hessian``).

    >>> from gradlab.calculus.parsing import parse
    >>> p = parse("x**2*y + y**2")
    >>> hessian(p.expr, p.variables)
    ((2*y, 2*x), (2*x, 2))
    """
    from gradlab.calculus import derivatives as d

    grad = gradient(expr, variables) if grad is None else grad
    n = len(variables)
    rows = [[sympy.S.Zero] * n for _ in range(n)]
    index = {v: i for i, v in enumerate(variables)}
    for i, g in enumerate(grad):
        for j in sorted(index[s] for s in g.free_symbols if s in index):
            if j >= i:
                rows[i][j] = rows[j][i] = d.derivative(g, variables[j])
    return tuple(tuple(r) for r in rows)


class Compiled:
    """Expressions compiled for arrays: ``f(X)`` with ``X`` of shape ``(n, ...)``.

    Returns shape ``(m, ...)``; constant components (a derivative such as ``50``) are
    broadcast to the grid shape.
    """

    def __init__(self, exprs: Sequence[sympy.Expr], variables: Sequence[sympy.Symbol], complex_safe: bool = False):
        self.m = len(exprs)
        self.n = len(variables)
        #: The raw lambdified function: ``function(x1_row, x2_row, ...) -> [f1, f2, ...]``.
        self.function = lambdify(variables, exprs, complex_safe)
        self._variables, self._exprs = tuple(variables), tuple(exprs)
        self._scalar: Callable | None = None

    @property
    def scalar(self) -> Callable:
        """The same expressions on Python floats (made on first use); see ``lambdify_scalar``."""
        if self._scalar is None:
            self._scalar = lambdify_scalar(self._variables, self._exprs)
        return self._scalar

    def into(self, X: np.ndarray, out: np.ndarray) -> np.ndarray:
        """Evaluate at ``X`` and write the m components into ``out`` (no new array)."""
        for i, v in enumerate(self.function(*X)):
            out[i] = v
        return out

    def __call__(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X)
        out = np.empty((self.m, *X.shape[1:]), dtype=np.result_type(X.dtype, np.float64))
        with np.errstate(all="ignore"):
            return self.into(X, out)


def eigenvalues(matrix: Sequence[Sequence[float]]) -> list[float]:
    """Eigenvalues of a symmetric matrix, ascending.

    >>> eigenvalues([[2.0, 0.0], [0.0, -2.0]])
    [-2.0, 2.0]
    """
    return [float(v) for v in np.linalg.eigvalsh(np.asarray(matrix, dtype=float))]


def grid(window: Sequence[float], size: int = 200) -> tuple[np.ndarray, np.ndarray]:
    """A ``size``×``size`` mesh over ``(xmin, xmax, ymin, ymax)``."""
    xmin, xmax, ymin, ymax = window
    return np.meshgrid(np.linspace(xmin, xmax, size), np.linspace(ymin, ymax, size))


def forward_difference(f: Callable[[np.ndarray], float], x: np.ndarray, h: float) -> np.ndarray:
    """(f(x + h eᵢ) − f(x)) / h for each i: error O(h)."""
    x = np.asarray(x, dtype=float)
    fx = f(x)
    return np.array([(f(x + h * e) - fx) / h for e in np.eye(len(x))])


def central_difference(f: Callable[[np.ndarray], float], x: np.ndarray, h: float) -> np.ndarray:
    """(f(x + h eᵢ) − f(x − h eᵢ)) / 2h for each i: error O(h²)."""
    x = np.asarray(x, dtype=float)
    return np.array([(f(x + h * e) - f(x - h * e)) / (2 * h) for e in np.eye(len(x))])


def complex_step(f: Callable[[np.ndarray], complex], x: np.ndarray, h: float = 1e-20) -> np.ndarray:
    """Im f(x + i h eᵢ) / h: no subtraction, so accurate to machine precision."""
    x = np.asarray(x, dtype=complex)
    return np.array([np.imag(f(x + 1j * h * e)) / h for e in np.eye(len(x))])
