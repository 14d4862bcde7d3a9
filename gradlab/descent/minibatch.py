"""Mini-batches on surfaces with data: one row's loss, batch gradients, reproducible batches.

A data surface's f is ``mean(ℓ)`` over its rows (plus, optionally, terms without data such
as a penalty on the weights). Parsing the expression with *one* row of symbolic data gives
ℓ(θ; d) plus those terms, so f is the mean over the rows of that one-row function, and a
mini-batch's loss is its mean over the batch's rows. Its gradient is exact: the mean of
the exact per-row gradients, compiled once. The form is checked at random points, and a
surface whose f is not such a mean (``sqrt(mean(...))``) is refused for mini-batches.

Batches are drawn as PyTorch's ``DataLoader(shuffle=True)`` does: each epoch a fresh
permutation of the rows (NumPy's ``default_rng(seed)``), cut into consecutive batches of
``batch_size``; the last batch of an epoch is smaller when the rows do not divide evenly.

>>> from gradlab.surfaces import builtin
>>> rows = RowLoss(builtin()["linear-regression"])
>>> rows.n_rows, rows.batches_per_epoch(4)
(6, 2)
>>> import numpy as np
>>> bool(np.allclose(rows.grad(np.zeros(2), np.arange(6)), [-2 * 160.6 / 6, -2 * 36 / 6]))
True
"""

from __future__ import annotations

import math
from typing import Iterator

import numpy as np
import sympy

from gradlab.errors import BadInput

MAX_SEED = 2**63 - 1
SMALL_BATCH = 32


class RowLoss:
    """The surface's f as a mean over its data rows of one compiled row function.

    ``data`` has shape ``(columns, rows)``; ``grad(x, rows)`` is the gradient of the
    batch's mean loss at ``x`` (shape ``(n,)``) and ``loss(x, rows)`` that loss.
    """

    def __init__(self, surface, where: str = "--batch-size"):
        from gradlab.calculus import derivatives as d
        from gradlab.calculus.numeric import Compiled
        from gradlab.calculus.parsing import Context, parse_number, parse_scalar

        spec = surface.spec or {}
        data = spec.get("data")
        if not data:
            raise BadInput(f"mini-batches need a surface with data rows (such as linear-regression or "
                           f"logistic-regression); {surface.name or 'this expression'} has none", where)
        self.names = [str(c) for c in data]
        cols = []
        for c in data.values():
            cols.append([float(v) if isinstance(v, (int, float)) and not isinstance(v, bool)
                         else float(parse_number(str(v), "data")) for v in c])
        self.data = np.array(cols, dtype=float)
        self.n_rows = self.data.shape[1]
        self._rows = [tuple(r) for r in self.data.T.tolist()]
        self.variables = tuple(surface.parsed.variables)
        dims = surface.dims if spec.get("dims") is not None else None

        def rows_of(k: int) -> tuple[sympy.Expr, list[list[sympy.Dummy]]]:
            dummies = [[sympy.Dummy(f"{c}_{r}", real=True) for r in range(k)] for c in self.names]
            # written out term by term (symbols, not numbers, stand in each row)
            ctx = Context(columns={c: tuple(ds) for c, ds in zip(self.names, dummies)},
                          vector=spec.get("vector") if dims else None, dims=dims, expand_rows=k)
            return parse_scalar(spec["expression"], "expression", ctx), dummies

        one, dummies1 = rows_of(1)
        self.row_expr = one
        self.data_symbols = tuple(ds[0] for ds in dummies1)
        args = [*self.variables, *self.data_symbols]
        self._f = Compiled([one], args)
        self._g = Compiled(d.gradient(one, self.variables), args)
        self._check_mean_form(rows_of(2))

    def _check_mean_form(self, two: tuple[sympy.Expr, list[list[sympy.Dummy]]]) -> None:
        """f over two rows must equal the mean of the one-row function over them."""
        from gradlab.calculus.numeric import Compiled

        expr2, dummies2 = two
        a = [ds[0] for ds in dummies2]
        b = [ds[1] for ds in dummies2]
        f2 = Compiled([expr2], [*self.variables, *a, *b])
        rng = np.random.default_rng(0)
        n = len(self.variables)
        for _ in range(3):
            theta = rng.normal(size=n) * 0.5
            i, j = rng.integers(0, self.n_rows, size=2)
            da, db = self.data[:, i], self.data[:, j]
            with np.errstate(all="ignore"):
                both = float(f2(np.concatenate([theta, da, db]))[0])
                mean = 0.5 * (float(self._f(np.concatenate([theta, da]))[0]) +
                              float(self._f(np.concatenate([theta, db]))[0]))
            if math.isfinite(both) and math.isfinite(mean) and abs(both - mean) > 1e-9 * max(1.0, abs(both)):
                raise BadInput("mini-batches need f = mean(...) over the rows (plus terms without data); "
                               "this surface's f is not such a mean", "--batch-size")

    def batches_per_epoch(self, batch_size: int) -> int:
        return math.ceil(self.n_rows / batch_size)

    def _args(self, x: np.ndarray, rows: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=float).reshape(-1)
        return np.concatenate([np.repeat(x[:, None], len(rows), axis=1), self.data[:, rows]])

    def grad(self, x: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """∇ of the mean loss over ``rows`` at ``x``: the mean of the rows' exact gradients."""
        xs = np.asarray(x, dtype=float).reshape(-1).tolist()
        if len(rows) <= SMALL_BATCH:
            # Python floats, row by row: NumPy's per-call cost dominates on a few rows.
            try:
                total = [0.0] * len(xs)
                for r in rows.tolist():
                    for i, v in enumerate(self._g.scalar(*xs, *self._rows[r])):
                        total[i] += v
                return np.array(total) / len(rows)
            except (ValueError, OverflowError, ZeroDivisionError, TypeError):
                pass  # a pole or an overflow: NumPy gives inf or nan instead
        # x as Python floats broadcast against the batch's columns: no (n, B) copy of x.
        parts = self._g.function(*xs, *self.data[:, rows])
        out = np.empty(len(parts))
        for i, v in enumerate(parts):
            out[i] = v.mean() if isinstance(v, np.ndarray) else v
        return out

    def loss(self, x: np.ndarray, rows: np.ndarray) -> float:
        """The mean loss over ``rows`` at ``x``."""
        with np.errstate(all="ignore"):
            return float(self._f(self._args(x, rows))[0].mean())

    def losses(self, points: np.ndarray, batches_: list[np.ndarray]) -> np.ndarray:
        """The mean loss of batch k at ``points[k]``, for every k, in one evaluation."""
        if not len(batches_):
            return np.array([])
        sizes = np.array([len(b) for b in batches_])
        rows = np.concatenate(batches_)
        X = np.repeat(np.asarray(points, dtype=float)[: len(batches_)], sizes, axis=0).T
        with np.errstate(all="ignore"):
            per_row = self._f(np.concatenate([X, self.data[:, rows]]))[0]
        starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        return np.add.reduceat(np.broadcast_to(per_row, rows.shape), starts) / sizes


def check_batch(batch_size: int | None, n_rows: int, where: str = "--batch-size") -> int:
    """The batch size, checked against the data (``None``: the full batch)."""
    if batch_size is None:
        return n_rows
    if not 1 <= batch_size <= n_rows:
        raise BadInput(f"the batch size must be from 1 to {n_rows} (the data has {n_rows} rows), "
                       f"got {batch_size}", where)
    return batch_size


def check_seed(seed: int | None, where: str = "--seed") -> int:
    if seed is None:
        return 0
    if not 0 <= seed <= MAX_SEED:
        raise BadInput(f"the seed must be a whole number from 0 to 2**63 − 1, got {seed}", where)
    return seed


def batches(n_rows: int, batch_size: int, seed: int) -> Iterator[np.ndarray]:
    """Row indices of each batch, epoch after epoch, forever: a new permutation per
    epoch from ``default_rng(seed)``. The full batch is the rows in order (no draws).

    >>> it = batches(5, 2, seed=1)
    >>> sorted(np.concatenate([next(it) for _ in range(3)]).tolist())
    [0, 1, 2, 3, 4]
    """
    if batch_size >= n_rows:
        rows = np.arange(n_rows)
        while True:
            yield rows
    rng = np.random.default_rng(seed)
    while True:
        perm = rng.permutation(n_rows)
        for i in range(0, n_rows, batch_size):
            yield perm[i:i + batch_size]
