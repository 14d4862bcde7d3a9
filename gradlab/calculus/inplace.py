"""Intermediate results written into reused work arrays: the last pass of ``lambdify_into``.

``numeric.lambdify_into`` compiles SymPy's printed function so that the last operation of
each expression writes into its row of the output. Every operation before it still makes
a new array: for Rosenbrock's gradient over 10,000 runs that is seven fresh 80 KB arrays a
step, which is most of the gradient's cost. This pass rewrites the function's body so that
each operation on arrays writes into a work array (``out=``), chosen from a pool kept per
batch size, and an operand that dies at an operation is its output: the tuned loop a user
writes by hand with ``out=``.

The bits cannot change: each rewritten operation is the very ufunc Python's operator or
SymPy's printed call applies, to the same operands in the same order; only where its result
goes differs. ``a ** 2`` is ``np.square`` (numpy's own fast path for that exponent); the
exponents numpy treats specially otherwise (−1, 0, ½, 1) are left as they are.

>>> import ast
>>> src = "def f(_np_out, _np_X, _v0, _v1):\\n    _c0 = _v1 - _v0 ** 2\\n    _np_Mult(200, _c0, out=_np_out[1])"
>>> tree = ast.parse(src)
>>> ns = {"_np_Mult": np.multiply}
>>> rewrite(tree.body[0], {"_v0", "_v1"}, ns)
>>> print(ast.unparse(tree.body[0]))
def f(_np_out, _np_X, _v0, _v1):
    _np_b0, = _np_work(_np_X.shape[1])
    _np_square(_v0, out=_np_b0)
    _c0 = _np_subtract(_v1, _np_b0, out=_np_b0)
    _np_Mult(200, _c0, out=_np_out[1])
"""

from __future__ import annotations

import ast
from threading import get_ident
from typing import Callable

import numpy as np

#: Ufuncs that map float64 to float64 (no comparisons, no integer or boolean results),
#: by the names SymPy's NumPy printer gives them; looked up in the function's namespace.
_FLOAT_UFUNCS = frozenset({
    np.add, np.subtract, np.multiply, np.true_divide, np.power, np.negative, np.positive, np.square,
    np.sqrt, np.cbrt, np.exp, np.exp2, np.expm1, np.log, np.log2, np.log10, np.log1p, np.sin, np.cos,
    np.tan, np.arcsin, np.arccos, np.arctan, np.sinh, np.cosh, np.tanh, np.arcsinh, np.arccosh,
    np.arctanh, np.arctan2, np.hypot, np.absolute, np.fabs, np.sign, np.maximum, np.minimum, np.fmax,
    np.fmin, np.floor, np.ceil, np.trunc, np.rint, np.reciprocal,
})
_BINOPS = {ast.Add: np.add, ast.Sub: np.subtract, ast.Mult: np.multiply, ast.Div: np.true_divide}
#: Exponents for which ``ndarray ** c`` does not call np.power (numpy's fast_scalar_power).
_SPECIAL_EXPONENTS = frozenset({-1.0, 0.0, 0.5, 1.0, 2.0})
R = -1  # the symbolic length of a row: the batch size, known only when called

Shape = tuple  # () a scalar, (R,) a row, (k, R) stacked rows, (k, 1) a column of numbers


def _broadcast(a: Shape, b: Shape) -> Shape | None:
    """numpy's broadcasting of two symbolic shapes; None where it is not known to work."""
    n = max(len(a), len(b))
    a, b = (1,) * (n - len(a)) + a, (1,) * (n - len(b)) + b
    out = []
    for x, y in zip(a, b):
        if x == y or y == 1:
            out.append(x)
        elif x == 1:
            out.append(y)
        else:
            return None
    return tuple(out)


def _literal(node: ast.expr) -> float | None:
    """The value of a literal number, ``-2`` included; None otherwise."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        v = _literal(node.operand)
        return None if v is None else -v
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return float(node.value)
    return None


class _Rewriter:
    """One function body: the symbolic shape of every name, and a pool of work arrays."""

    def __init__(self, rows: set[str], ns: dict):
        self.ns = ns
        self.shapes: dict[str, Shape] = {name: (R,) for name in rows}
        self.buffers: list[Shape] = []  # work array i has shape buffers[i]
        self.free: list[int] = []
        self.owner: dict[str, int] = {}  # a name bound to a work array: which one
        self.pending: list[int] = []  # work arrays the statement being made reads
        self.last_read: dict[str, int] = {}  # the last statement that reads each name
        self.out: list[ast.stmt] = []

    # ------------------------------------------------------------------ shapes
    def shape(self, node: ast.expr) -> Shape | None:
        """The symbolic shape of ``node``'s value; None where it is not known."""
        if isinstance(node, ast.Name):
            if node.id in self.shapes:
                return self.shapes[node.id]
            v = self.ns.get(node.id)
            if isinstance(v, np.ndarray):
                return v.shape  # (a column of numbers of a stacked expression)
            return () if isinstance(v, (int, float)) else None
        if isinstance(node, ast.Constant):
            return () if type(node.value) in (int, float) else None
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and node.value.id == "_np_X":
            s = node.slice
            if isinstance(s, ast.Slice) and isinstance(s.lower, ast.Constant) and isinstance(s.upper, ast.Constant):
                return (s.upper.value - s.lower.value, R)
            if isinstance(s, ast.Name) and isinstance(self.ns.get(s.id), np.ndarray):
                return (len(self.ns[s.id]), R)
            return None
        parts = self._operation(node)
        if parts is None:
            return None
        shape: Shape | None = ()
        for a in parts[1]:
            sa = self.shape(a)
            shape = None if sa is None or shape is None else _broadcast(shape, sa)
        return shape

    def _operation(self, node: ast.expr) -> tuple[Callable, list[ast.expr]] | None:
        """``(ufunc, operands)`` for an operation this pass may rewrite, else None."""
        if isinstance(node, ast.BinOp):
            if type(node.op) in _BINOPS:
                return _BINOPS[type(node.op)], [node.left, node.right]
            if isinstance(node.op, ast.Pow):
                c = _literal(node.right)
                if c == 2.0:
                    return np.square, [node.left]
                if c is not None and c not in _SPECIAL_EXPONENTS:
                    return np.power, [node.left, node.right]
            return None
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return np.negative, [node.operand]
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.keywords:
            fn = self.ns.get(node.func.id)
            if fn in _FLOAT_UFUNCS and len(node.args) == fn.nin:
                return fn, list(node.args)
        return None

    # ------------------------------------------------------------------ work arrays
    def _take(self, shape: Shape, dying: list[int]) -> int:
        for i in dying:  # an operand that dies here: the result goes over it
            if self.buffers[i] == shape:
                dying.remove(i)
                return i
        for i in self.free:
            if self.buffers[i] == shape:
                self.free.remove(i)
                return i
        self.buffers.append(shape)
        return len(self.buffers) - 1

    def _ufunc_name(self, fn: Callable) -> str:
        key = f"_np_{fn.__name__}"
        self.ns[key] = fn
        return key

    def value(self, node: ast.expr) -> tuple[ast.expr, int | None]:
        """``node`` with its operations on rows written out as statements into work
        arrays: the expression that now stands for its value, and the work array that
        holds it (None: not a work array, e.g. a variable, a number, or an operation whose
        shape is not known, which makes its own array from operands in work arrays)."""
        parts = self._operation(node)
        if parts is None:  # (a variable, a number, or a call this pass leaves whole)
            return node, None
        shape = self.shape(node)
        if shape is not None and R not in shape:  # numbers only: as Python evaluates it
            return node, None
        fn, operands = parts
        refs, dying = [], []
        for a in operands:
            ref, buf = self.value(a)
            refs.append(ref)
            if buf is not None:
                dying.append(buf)
        call = ast.Call(ast.Name(self._ufunc_name(fn), ast.Load()), refs, [])
        if shape is None:
            # The statement reads these work arrays when it runs: none is reused before.
            self.pending.extend(dying)
            return call, None
        i = self._take(shape, dying)
        self.free.extend(dying)
        call.keywords = [ast.keyword("out", ast.Name(f"_np_b{i}", ast.Load()))]
        self.out.append(ast.Expr(call))
        return ast.Name(f"_np_b{i}", ast.Load()), i

    def statement(self, j: int, stmt: ast.stmt) -> None:
        """Rewrite statement ``j`` of the body."""
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
            name = stmt.targets[0].id
            ref, buf = self.value(stmt.value)
            if buf is not None:  # the statement that made it now binds the name as well
                stmt = ast.Assign([ast.Name(name, ast.Store())], self.out.pop().value)
                self.owner[name] = buf
                self.shapes[name] = self.buffers[buf]
            else:
                stmt.value = ref
                shape = self.shape(ref)
                if shape is not None:
                    self.shapes[name] = shape
        elif isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
            stmt.value.args = [self._operand(a) for a in stmt.value.args]
        elif isinstance(stmt, ast.Assign):
            stmt.value = self._operand(stmt.value)
        self.out.append(stmt)
        # Work arrays the statement read, and those of names no later statement reads,
        # go back to the pool.
        self.free.extend(self.pending)
        self.pending.clear()
        for name in [n for n, i in self.owner.items() if self.last_read.get(n, -1) <= j]:
            self.free.append(self.owner.pop(name))

    def _operand(self, node: ast.expr) -> ast.expr:
        ref, buf = self.value(node)
        if buf is not None:
            self.pending.append(buf)
        return ref


def rewrite(fdef: ast.FunctionDef, rows: set[str], ns: dict) -> None:
    """Rewrite ``fdef``'s body (from ``lambdify_into``: names in ``rows`` are the rows of
    ``_np_X``) so that operations on rows write into work arrays, and add at its top the
    line that fetches them, ``_np_b0, … = _np_work(_np_X.shape[1])``; ``ns`` (the
    function's namespace) gains the ufuncs and ``_np_work``."""
    rw = _Rewriter(rows, ns)
    body = fdef.body
    for j, stmt in enumerate(body):
        for n in ast.walk(stmt):
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load):
                rw.last_read[n.id] = j
    for j, stmt in enumerate(body):
        rw.statement(j, stmt)
    if not rw.buffers:
        return
    ns["_np_work"] = _pool(rw.buffers)
    names = ", ".join(f"_np_b{i}" for i in range(len(rw.buffers)))
    fetch = ast.parse(f"{names}, = _np_work(_np_X.shape[1])").body[0]
    fdef.body = [fetch, *rw.out]
    ast.fix_missing_locations(fdef)


def _pool(shapes: list[Shape]) -> Callable[[int], tuple[np.ndarray, ...]]:
    """``work(r)``: the work arrays for a batch of ``r`` runs, made once per size and
    thread (the engine calls one function for groups of several sizes; two threads
    descending on one objective must not share them)."""
    made: dict[tuple[int, int], tuple[np.ndarray, ...]] = {}

    def work(r: int) -> tuple[np.ndarray, ...]:
        key = (r, get_ident())
        arrays = made.get(key)
        if arrays is None:
            if len(made) >= 16:  # batches shrink as runs end: drop the sizes of the past
                made.clear()
            arrays = made[key] = tuple(np.empty(tuple(r if d == R else d for d in s)) for s in shapes)
        return arrays

    return work
