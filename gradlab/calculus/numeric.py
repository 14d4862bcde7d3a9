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

import ast
import math
from typing import Callable, Sequence

import numpy as np
import sympy

from gradlab.calculus import inplace


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


#: Beyond this many variables expressions are compiled the way that scales: common
#: subexpressions from ``treecse.tree_cse`` (linear; sympy.cse spends 10 s on 500-D
#: Rosenbrock's f and ∇f) and terms printed in the order they are stored, not sorted
#: (sorting a 999-term sum costs seconds more). Other floats than sympy.cse's order gives,
#: the same for every engine: each compiles through this module, and the paths that print
#: their own code (the single-run float loops of descent/scalar.py) stop at 64 variables.
LARGE_N = 64


def _safe(variables: Sequence[sympy.Symbol], exprs: Sequence[sympy.Expr]) -> tuple[list, list, Callable]:
    """The variables renamed ``_v0, _v1, …`` in one pass over the expressions, and a CSE
    that names its temporaries ``_c0, _c1, …`` (:func:`cse`).

    User names never start with ``_``, so generated names cannot clash with a variable
    (``x0``) or with a NumPy name the printed code calls (``where``). lambdify's own
    ``dummify`` does the same renaming with one pass per variable: minutes at 500.
    """
    new = [sympy.Symbol(f"_v{i}", real=True) for i in range(len(variables))]
    mapping = dict(zip(variables, new))
    large = len(variables) > LARGE_N
    # Unevaluated: the expressions are already in SymPy's form, and evaluating again
    # would undo a chosen form (2*(x + y) back into 2*x + 2*y; see fewer_operations).
    # Past LARGE_N variables renaming.rename builds the very nodes xreplace builds
    # under evaluate(False) (the same arguments, unevaluated), in a fifth of the time.
    renamed = [_renamed(sympy.sympify(e), mapping, large) for e in exprs]
    return new, renamed, lambda es: cse(es, large)


def _renamed(e: sympy.Basic, mapping: dict, quick: bool) -> sympy.Basic:
    """``e.xreplace(mapping)`` under ``evaluate(False)``; ``quick``: by
    ``renaming.rename`` where it rebuilds every node of ``e``."""
    if quick and e.free_symbols <= set(mapping):
        from gradlab.calculus.renaming import rename

        out = rename(e, mapping)
        if out is not None:
            return out
    with sympy.evaluate(False):
        return e.xreplace(mapping)


def cse(exprs: Sequence[sympy.Expr], large: bool = False, prefix: str = "_c") -> tuple[list, list]:
    """Common subexpressions, as ``sympy.cse`` returns them: ``sympy.cse`` itself, or for
    a ``large`` system (more than LARGE_N variables) ``treecse.tree_cse``. Every path
    that must give the engines' bits takes its CSE from here.

    >>> x, y = sympy.symbols("x y")
    >>> cse([sympy.sin(x + y) + (x + y)**2])
    ([(_c0, x + y)], [_c0**2 + sin(_c0)])
    """
    if large:
        from gradlab.calculus.treecse import tree_cse

        return tree_cse(exprs, prefix)
    return sympy.cse(exprs, symbols=sympy.numbered_symbols(prefix))


def _lambdify(args: list, renamed: list, cse_: Callable, modules: list) -> Callable:
    """``sympy.lambdify`` of renamed expressions (see ``_safe``); past LARGE_N variables
    with a printer that keeps the terms in their stored order (see LARGE_N)."""
    printer = _unsorted_printer(modules, renamed) if len(args) > LARGE_N else None
    return sympy.lambdify(args, renamed, modules=modules, cse=cse_, dummify=False, printer=printer)


def _unsorted_printer(modules: list, exprs: list):
    """The printer ``lambdify`` would choose for ``modules``, with the same settings, but
    ``order='none'``: sums and products print their arguments as stored."""
    from sympy.printing.numpy import NumPyPrinter
    from sympy.printing.pycode import PythonCodePrinter
    names = {k for m in [_implemented(exprs), *modules] if isinstance(m, dict) for k in m}
    cls = NumPyPrinter if "numpy" in modules else PythonCodePrinter
    return cls({"fully_qualified_modules": False, "inline": True, "allow_unknown_functions": True,
                "user_functions": {k: k for k in names}, "order": "none"})


def _implemented(exprs: Sequence[sympy.Basic]) -> dict:
    """The names and implementations of the ``implemented_function``s in ``exprs``:
    lambdify's ``_imp_namespace``, with each distinct subexpression visited once (it
    walks the tree, a shared node again at each occurrence)."""
    from sympy.utilities.lambdify import _imp_namespace

    seen: set = set()
    stack = list(exprs)
    out: dict = {}
    while stack:
        e = stack.pop()
        if not isinstance(e, sympy.Basic) or e in seen:
            continue
        seen.add(e)
        if getattr(e.func, "_imp_", None) is not None:
            out.update(_imp_namespace(e))
        stack.extend(e.args)
    return out


def lambdify_scalar(variables: Sequence[sympy.Symbol], exprs: Sequence[sympy.Expr]) -> Callable:
    """The expressions as a function of Python floats (the ``math`` module).

    For one run at a time this is several times faster than NumPy on 1-element arrays;
    it raises (ValueError, OverflowError, ZeroDivisionError) where NumPy would give
    inf or nan, and the caller falls back to the array version. One case does not raise:
    Python's ``**`` makes a fractional power of a negative number complex, so a caller
    also falls back on the TypeError that storing it as a float raises.
    """
    args, renamed, cse_ = _safe(variables, exprs)
    return _lambdify(args, renamed, cse_, [_MATH_FUNCS, "math"])


def lambdify(variables: Sequence[sympy.Symbol], exprs: Sequence[sympy.Expr], complex_safe: bool = False) -> Callable:
    """``sympy.lambdify`` with gradlab's functions, CSE, and names that cannot clash
    (see ``_safe``)."""
    modules = [_COMPLEX_FUNCS if complex_safe else _FLOAT_FUNCS, "numpy"]
    args, renamed, cse_ = _safe(variables, exprs)
    return _lambdify(args, renamed, cse_, modules)


def gradient(expr: sympy.Expr, variables: Sequence[sympy.Symbol]) -> tuple[sympy.Expr, ...]:
    """∇expr: the expressions ``derivatives.gradient`` gives (whose partials of a sum
    differentiate only the terms that mention their variable), from
    ``termwise.gradient``, which differentiates each shape of term of a long sum once
    (Rosenbrock in 1,000 variables: 0.7 s instead of 2.3 s).

    >>> from gradlab.calculus.parsing import parse
    >>> p = parse("x**2 + x*y + y**3")
    >>> gradient(p.expr, p.variables)
    (2*x + y, x + 3*y**2)
    """
    from gradlab.calculus import termwise

    return termwise.gradient(expr, variables)


#: Above this many components the two CSE passes that compare the forms cost seconds
#: (500-D Rosenbrock: 12 s), more than the operations they save in any documented run.
FEWER_OPERATIONS_MAX = 64


def fewer_operations(exprs: Sequence[sympy.Expr]) -> tuple[sympy.Expr, ...]:
    """The same expressions, each with its common numeric factor taken out
    (``factor_terms``) where that takes fewer operations, kept only if the whole system,
    its common subexpressions shared, then takes fewer operations than as given.

    Rosenbrock's ``-200*x**2 + 200*y`` becomes ``200*(-x**2 + y)``, which shares
    ``y - x**2`` with ``∂f/∂x``: 8 array operations a step instead of 10. The values are
    the same real numbers; their floats may differ in the last bits from the form given,
    so every engine must compute from the same returned forms.

    >>> from gradlab.calculus.parsing import parse
    >>> p = parse("(1 - x)**2 + 100*(y - x**2)**2")
    >>> fewer_operations(gradient(p.expr, p.variables))
    (-400*x*(-x**2 + y) + 2*x - 2, 200*(-x**2 + y))
    """
    exprs = tuple(sympy.sympify(e) for e in exprs)
    if len(exprs) > FEWER_OPERATIONS_MAX:
        return exprs
    chosen = []
    for e in exprs:
        f = sympy.factor_terms(e)
        chosen.append(f if sympy.count_ops(f) < sympy.count_ops(e) else e)
    if all(c is e for c, e in zip(chosen, exprs)):
        return exprs

    def cost(es) -> int:
        shared, reduced = sympy.cse(list(es))
        return sum(sympy.count_ops(v) for _, v in shared) + sum(sympy.count_ops(r) for r in reduced)

    return tuple(chosen) if cost(chosen) < cost(exprs) else exprs


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
        self._variables, self._exprs, self._complex_safe = tuple(variables), tuple(exprs), complex_safe
        self._function: Callable | None = None
        self._scalar: Callable | None = None

    @property
    def function(self) -> Callable:
        """The raw lambdified function, ``function(x1_row, x2_row, ...) -> [f1, f2, ...]``,
        made on first use: for 500 components it costs most of a second, and the fast engine
        may never call it (it writes gradients into rows, see ``lambdify_into``)."""
        if self._function is None:
            self._function = lambdify(self._variables, self._exprs, self._complex_safe)
        return self._function

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


# --------------------------------------------------------------------------- writing into rows
_UFUNC_OF_OP = {"Add": np.add, "Sub": np.subtract, "Mult": np.multiply, "Div": np.true_divide}


def _template(node, variables: dict[str, int]):
    """A key for ``node``'s shape with its variables and plain numbers left out, and the
    leaves (("x", index) or ("k", number)) in order; None when the node is more than
    + − × ÷, unary minus, numbers and variables, or powers by a literal number.

    Components with the same key are the same operations on other rows, so one ufunc
    call over the stacked rows gives the same bits as one call per row (no libm function
    is involved, whose vectorised loops may differ from its per-element ones).
    """
    leaves: list[tuple[str, float | int]] = []

    def walk(n):
        if isinstance(n, ast.Name) and n.id in variables:
            leaves.append(("x", variables[n.id]))
            return "X"
        if isinstance(n, ast.Constant) and type(n.value) in (int, float) and abs(n.value) < 2**53:
            leaves.append(("k", n.value))
            return "K"
        if isinstance(n, ast.BinOp) and type(n.op).__name__ in _UFUNC_OF_OP:
            left, right = walk(n.left), walk(n.right)
            return None if left is None or right is None else f"({left}{type(n.op).__name__}{right})"
        if isinstance(n, ast.BinOp) and isinstance(n.op, ast.Pow) and isinstance(n.right, ast.Constant) \
                and type(n.right.value) is int:
            base = walk(n.left)  # the exponent stays literal: x**2 is numpy's square
            return None if base is None else f"({base}**{n.right.value})"
        if isinstance(n, ast.UnaryOp) and isinstance(n.op, ast.USub):
            inner = walk(n.operand)
            return None if inner is None else f"(-{inner})"
        return None

    key = walk(node)
    return (key, leaves) if key is not None else None


class _SubtractNegated(ast.NodeTransformer):
    """``(-a) + b`` → ``b - a`` and ``a + (-b)`` → ``a - b``: IEEE 754 defines x − y as
    x + (−y), and addition commutes exactly, so the bits (signed zeros and NaN included)
    are the same, with one operation fewer."""

    def visit_BinOp(self, node):
        self.generic_visit(node)
        if isinstance(node.op, ast.Add):
            neg = [isinstance(s, ast.UnaryOp) and isinstance(s.op, ast.USub) for s in (node.left, node.right)]
            if neg[1]:
                return ast.BinOp(node.left, ast.Sub(), node.right.operand)
            if neg[0]:
                return ast.BinOp(node.right, ast.Sub(), node.left.operand)
        return node


def lambdify_into(variables: Sequence[sympy.Symbol], exprs: Sequence[sympy.Expr]) -> Callable:
    """The expressions compiled to write into the rows of an array: ``fn(out, X, *X)``
    puts expression i at the rows ``X`` (shape ``(n, R)``; ``*X`` its rows) into
    ``out[i]`` (shape ``(m, R)``), with the same operations, in the same order, as
    :func:`lambdify` (the same bits), but the last operation of each expression writes
    straight into its row (``out=``), and expressions that are the same operations on
    other variables and numbers (``2*x1``, ``3*x2``, …: a quadratic's gradient) are one
    call over their stacked rows.

    >>> from gradlab.calculus.parsing import parse
    >>> p = parse("x**2 + 3*y**2")
    >>> fn = lambdify_into(p.variables, gradient(p.expr, p.variables))
    >>> X, out = np.array([[1.0, 2.0], [1.0, -1.0]]), np.empty((2, 2))
    >>> fn(out, X, *X); out.tolist()
    [[2.0, 4.0], [6.0, -6.0]]
    """
    fn = lambdify(variables, exprs)
    try:
        return _rows_function(fn, len(variables), len(exprs))
    except RecursionError:  # a sum of thousands of terms nests deeper than Python recurses

        def copy_rows(out, X, *rows):
            for i, v in enumerate(fn(*rows)):
                out[i] = v

        copy_rows.source = "(lambdify's function, each result copied into its row)"
        return copy_rows


def _rows_function(fn: Callable, n: int, m: int) -> Callable:
    """lambdify_into's work on the function ``fn`` that lambdify made."""
    import inspect

    tree = ast.parse(inspect.getsource(fn))
    fdef = tree.body[0]
    ret = fdef.body[-1]
    if not (isinstance(ret, ast.Return) and isinstance(ret.value, ast.List) and len(ret.value.elts) == m):
        raise AssertionError("unexpected lambdify output")  # a SymPy change: fail loudly, not wrongly
    names = {f"_v{i}": i for i in range(n)}
    for stmt in fdef.body:  # SymPy prints y − x² as -x**2 + y: one negation fewer
        _SubtractNegated().visit(stmt)
    ns = dict(fn.__globals__)
    ns.update({f"_np_{k}": u for k, u in _UFUNC_OF_OP.items()}, _np_negative=np.negative)

    def rows(idx: list[int], tag: str) -> ast.expr:
        """``name[a:b]`` for consecutive indices (a view), else ``name[_I…]`` (a copy)."""
        if idx == list(range(idx[0], idx[-1] + 1)):
            return ast.parse(f"{tag}[{idx[0]}:{idx[-1] + 1}]", mode="eval").body
        key = f"_np_I{len(ns)}"
        ns[key] = np.array(idx)
        return ast.parse(f"{tag}[{key}]", mode="eval").body

    def write(expr: ast.expr, target: ast.expr) -> ast.stmt:
        """``target[...] = expr`` with the last operation of expr writing into target."""
        import copy

        if isinstance(expr, ast.BinOp) and type(expr.op).__name__ in _UFUNC_OF_OP and not (
                isinstance(expr.left, ast.Constant) and isinstance(expr.right, ast.Constant)):
            call = ast.Call(ast.Name(f"_np_{type(expr.op).__name__}", ast.Load()), [expr.left, expr.right],
                            [ast.keyword("out", copy.deepcopy(target))])
            return ast.Expr(call)
        if isinstance(expr, ast.UnaryOp) and isinstance(expr.op, ast.USub) and not isinstance(expr.operand, ast.Constant):
            return ast.Expr(ast.Call(ast.Name("_np_negative", ast.Load()), [expr.operand],
                                     [ast.keyword("out", copy.deepcopy(target))]))
        sub = ast.Subscript(copy.deepcopy(target), ast.Constant(Ellipsis), ast.Store())
        return ast.Assign([sub], expr)

    groups: dict[str, list[tuple[int, list]]] = {}
    alone: list[int] = []
    for i, e in enumerate(ret.value.elts):
        t = _template(e, names)
        if t is None or not any(kind == "x" for kind, _ in t[1]):
            alone.append(i)
        else:
            groups.setdefault(t[0], []).append((i, t[1]))
    body = list(fdef.body[:-1])
    for key, members in groups.items():
        if len(members) == 1:
            alone.append(members[0][0])
            continue
        # one operand per leaf: the members' variables as rows of X, their numbers as a column
        operands = []
        for p in range(len(members[0][1])):
            kind = members[0][1][p][0]
            if kind == "x":
                operands.append(rows([m[1][p][1] for m in members], "_np_X"))
            else:
                col = f"_np_K{len(ns)}"
                ns[col] = np.array([float(m[1][p][1]) for m in members])[:, None]
                operands.append(ast.Name(col, ast.Load()))
        it = iter(operands)

        class Fill(ast.NodeTransformer):
            def visit_Name(self, n):
                return next(it) if n.id in names else n

            def visit_Constant(self, n):
                return next(it) if type(n.value) in (int, float) and abs(n.value) < 2**53 else n

            def visit_BinOp(self, n):  # left to right, as _template walked; the exponent stays
                n.left = self.visit(n.left)
                if not isinstance(n.op, ast.Pow):
                    n.right = self.visit(n.right)
                return n

        stacked = Fill().visit(ret.value.elts[members[0][0]])
        idx = [m[0] for m in members]
        if idx == list(range(idx[0], idx[-1] + 1)):
            body.append(write(stacked, rows(idx, "_np_out")))
        else:  # out[[i, j, …]] = …: a fancy index assigns into out itself (read, it copies)
            target = rows(idx, "_np_out")
            target.ctx = ast.Store()
            body.append(ast.Assign([target], stacked))
    for i in sorted(alone):
        body.append(write(ret.value.elts[i], ast.parse(f"_np_out[{i}]", mode="eval").body))
    fdef.body = body
    fdef.name = "_into"
    fdef.args.args = [ast.arg("_np_out"), ast.arg("_np_X"), *fdef.args.args]
    inplace.rewrite(fdef, set(names), ns)  # intermediates into work arrays (the same bits)
    ast.fix_missing_locations(tree)
    exec(compile(tree, "<gradlab lambdify_into>", "exec"), ns)  # noqa: S102  (SymPy's printed code)
    ns["_into"].source = ast.unparse(tree)  # for reading and debugging
    return ns["_into"]


def finite_on_box(expr: sympy.Expr, variables: Sequence[sympy.Symbol], bound: float) -> bool:
    """Whether ``expr`` is finite, as computed in float64, wherever every variable is
    finite with |x| ≤ ``bound`` (see :func:`magnitude_bound`; False: "not known").

    >>> from gradlab.calculus.parsing import parse
    >>> p = parse("(1 - x)**2 + 100*(y - x**2)**2")
    >>> finite_on_box(p.expr, p.variables, 1e3), finite_on_box(parse("log(x)").expr, [], 1e3)
    (True, False)
    """
    return magnitude_bound(expr, variables, bound) < math.inf


def magnitude_bound(expr: sympy.Expr, variables: Sequence[sympy.Symbol], bound: float) -> float:
    """An upper bound of |expr| wherever every variable is finite with |x| ≤ ``bound``,
    finite only when the bounds of every intermediate value (sums, products, integer
    powers, sin, cos, exp, Abs of such) stay below 1e300, so that float64 evaluation
    cannot overflow either; inf means "not known", not "infinite somewhere".

    >>> from gradlab.calculus.parsing import parse
    >>> p = parse("x**2 + 25*y**2")
    >>> magnitude_bound(p.expr, p.variables, 10.0), magnitude_bound(parse("1/x").expr, [], 10.0)
    (2600.0, inf)
    """
    names = set(variables)
    limit = 1e300
    inf = (math.inf, math.inf)

    seen: dict = {}  # a subexpression met twice is bounded once (x·sin(x) nested: 2^depth)

    def size(e) -> tuple[float, float]:
        """(a bound of |e|, a bound of |e| and of every intermediate value), or inf."""
        if e not in seen:
            seen[e] = bounds(e)
        return seen[e]

    def bounds(e) -> tuple[float, float]:
        if e.is_Number or isinstance(e, sympy.NumberSymbol):
            v = abs(float(e))
            return (v, v) if math.isfinite(v) else inf
        if e.is_Symbol:
            return (bound, bound) if e in names else inf
        if e.is_Add or e.is_Mul:
            parts = [size(a) for a in e.args]
            v = math.fsum(p[0] for p in parts) if e.is_Add else math.prod(p[0] for p in parts)
            # a partial sum is at most the whole; a partial product at most Π max(1, |factor|)
            inner = v if e.is_Add else math.prod(max(1.0, p[0]) for p in parts)
            m = max(inner, *(p[1] for p in parts))
            return (v, m) if m < limit else inf
        if e.is_Pow and e.exp.is_Integer and e.exp >= 0:
            b, mb = size(e.base)
            k = int(e.exp)
            if not mb < limit or (b > 1 and k * math.log10(b) >= 300):
                return inf
            return (b**k, max(mb, max(1.0, b) ** k))
        if isinstance(e, (sympy.sin, sympy.cos)):
            return (1.0, max(1.0, size(e.args[0])[1]))
        if isinstance(e, sympy.Abs):
            return size(e.args[0])
        if isinstance(e, sympy.exp):
            a, ma = size(e.args[0])
            return (math.exp(a), max(ma, math.exp(a))) if a < 690 else inf
        return inf

    try:
        v, m = size(sympy.sympify(expr))
    except RecursionError:  # nested deeper than Python recurses: not known
        return math.inf
    return v if m < limit else math.inf
