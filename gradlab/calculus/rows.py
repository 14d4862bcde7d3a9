"""``mean(body)`` over many data rows, kept as one row's expression and summed with NumPy.

Expanding ``mean((w*x + b - y)**2)`` over 10,000 rows builds a SymPy sum of 10,000 terms:
seconds to differentiate, a recursion to compile. Here the body stays symbolic for *one*
row, in column symbols, and the mean is an opaque SymPy function of the parameters,
``RowMean(key, w, b)``, whose ``key`` names the body and its data table:

- differentiating it differentiates the body once: ∂/∂w mean(ℓ) = mean(∂ℓ/∂w);
- compiled (``lambdify``), it calls :func:`mean_over_rows`, which evaluates the body on
  every row with NumPy, in chunks, and averages (pairwise summation);
- at a point it prints as ``mean(...)`` of the body at that point, evaluated to an exact
  rational where the body is a polynomial in the columns (power sums), and is evaluated to
  any precision by :func:`mp_mean` for :mod:`gradlab.calculus.precise`.

The parser chooses this form above :data:`EXPAND_ROWS` rows (``Context.expand_rows``);
below it ``mean(...)`` is written out term by term, as exact as before.

>>> import sympy
>>> from gradlab.calculus.parsing import symbol
>>> t = table_for({"x": (sympy.Integer(1), sympy.Integer(2), sympy.Integer(3))})
>>> w = symbol("w")
>>> f = row_mean((w * t.symbol("x") - 1) ** 2, t)
>>> f, sympy.diff(f, w)
(mean((w*x - 1)**2), mean(2*x*(w*x - 1)))
>>> f.subs(w, 1), float(mean_over_rows(int(f.args[0]), 1.0))
(5/3, 1.6666666666666667)
"""

from __future__ import annotations

import hashlib
import math
import threading
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Mapping, Sequence

import sympy

#: Above this many rows the parser keeps ``mean(...)``/``sum(...)`` in row form.
EXPAND_ROWS = 200
#: Elements (rows × points) NumPy evaluates at once: bounds memory on a plot's grid.
CHUNK = 1 << 18
#: A polynomial body at a point is summed exactly (power sums) up to this many monomials.
MAX_MONOMIALS = 64


@dataclass(eq=False)
class Table:
    """A data set: column names, one real symbol per column, exact and float values."""

    names: tuple[str, ...]
    symbols: tuple[sympy.Symbol, ...]
    exact: tuple[tuple[sympy.Rational, ...], ...]
    digest: str
    _power_sums: dict = field(default_factory=dict)
    _mp: dict = field(default_factory=dict)
    _floats: Any = None

    @property
    def n_rows(self) -> int:
        return len(self.exact[0])

    @property
    def floats(self):
        """The columns as a float64 array of shape (columns, rows); NumPy is imported only
        when a mean is computed (plain commands do not load it)."""
        if self._floats is None:
            import numpy as np

            self._floats = np.array([[float(v) for v in col] for col in self.exact], dtype=float)
        return self._floats

    def mp_columns(self, prec: int) -> list[list]:
        """The columns as mpmath numbers at ``prec`` bits (made once per precision)."""
        import mpmath

        hit = self._mp.get(prec)
        if hit is None:
            with mpmath.workprec(prec):
                hit = [[mpmath.mpf(int(v.p)) / int(v.q) for v in col] for col in self.exact]
            if len(self._mp) > 4:
                self._mp.clear()
            self._mp[prec] = hit
        return hit

    def symbol(self, name: str) -> sympy.Symbol:
        return self.symbols[self.names.index(name)]

    def power_sum(self, exponents: tuple[int, ...]) -> sympy.Rational:
        """Σ over rows of Π column**exponent, exactly (integers, one common denominator)."""
        hit = self._power_sums.get(exponents)
        if hit is None:
            num, den = [], []
            for col, k in zip(self.exact, exponents):
                if k:
                    num.append([int(v.p) ** k for v in col])
                    den.append([int(v.q) ** k for v in col])
            acc = Fraction(0)
            for r in range(self.n_rows):
                p = q = 1
                for nc, dc in zip(num, den):
                    p *= nc[r]
                    q *= dc[r]
                acc += Fraction(p, q)
            hit = self._power_sums[exponents] = sympy.Rational(acc.numerator, acc.denominator)
        return hit


_TABLES: dict[str, Table] = {}
_LOCK = threading.Lock()


def table_for(columns: Mapping[str, Sequence[sympy.Rational]]) -> Table:
    """The one :class:`Table` for these columns (the same values give the same table)."""
    names = tuple(str(c) for c in columns)
    exact = tuple(tuple(sympy.Rational(v) for v in vals) for vals in columns.values())
    h = hashlib.sha256(repr((names, [[(int(v.p), int(v.q)) for v in col] for col in exact])).encode())
    digest = h.hexdigest()[:16]
    with _LOCK:
        hit = _TABLES.get(digest)
        if hit is None:
            # Plain symbols, so mean(...) prints the column names; the parser never lets
            # a variable share a name with a column.
            symbols = tuple(sympy.Symbol(n, real=True) for n in names)
            hit = _TABLES[digest] = Table(names, symbols, exact, digest)
    return hit


@dataclass(eq=False)
class _Body:
    """One row's expression in placeholders ``_p0, _p1, …`` (the parameters) and columns."""

    body: sympy.Expr
    params: tuple[sympy.Symbol, ...]
    table: Table
    compiled: dict = field(default_factory=dict)
    derivatives: dict = field(default_factory=dict)
    polynomial: Any = None  # None unknown, False no, else [(coeff in params, exponents)]
    memo: dict = field(default_factory=dict)


_BODIES: dict[int, _Body] = {}


class NotReal(ArithmeticError):
    """Some row's value is not a real number (a root or log of a negative)."""


def _placeholders(k: int) -> tuple[sympy.Symbol, ...]:
    return tuple(sympy.Symbol(f"_p{i}", real=True) for i in range(k))


def _key_of(body: sympy.Expr, table: Table) -> int:
    # From the content, so a forked child (timelimit) and its parent agree on every key.
    h = hashlib.sha256(f"{table.digest}|{sympy.srepr(body)}".encode()).digest()
    return int.from_bytes(h[:7], "big")


def row_mean(body: sympy.Expr, table: Table) -> sympy.Expr:
    """mean over the table's rows of ``body`` (an expression in the table's column symbols
    and any parameters), in row form."""
    columns = set(table.symbols)
    free = sorted(body.free_symbols - columns, key=lambda s: s.name)
    if not body.free_symbols & columns:
        return body  # the mean of a row-independent value is that value
    params = _placeholders(len(free))
    canonical = body.xreplace(dict(zip(free, params)))
    key = _key_of(canonical, table)
    with _LOCK:
        if key not in _BODIES:
            _BODIES[key] = _Body(canonical, params, table)
    return RowMean(sympy.Integer(key), *free)


def _entry(key: int) -> _Body:
    try:
        return _BODIES[key]
    except KeyError:
        raise LookupError(f"no data rows registered under {key}") from None


class RowMean(sympy.Function):
    """mean over a data table's rows of one row's expression; args ``(key, *parameters)``.

    The body lives in a registry under ``key`` (so SymPy's tree walks, CSE and
    substitutions only ever see the parameters); see the module docstring.
    """

    is_extended_real = True

    @classmethod
    def eval(cls, key, *args):
        if not all(a.is_Rational for a in args):
            return None
        return _exact_at(_entry(int(key)), args)

    def body_at(self) -> sympy.Expr:
        """The body with this call's arguments in place of the placeholders."""
        e = _entry(int(self.args[0]))
        return e.body.xreplace(dict(zip(e.params, self.args[1:])))

    def fdiff(self, argindex=1):
        if argindex == 1:
            return sympy.S.Zero
        e = _entry(int(self.args[0]))
        i = argindex - 2
        d = e.derivatives.get(i)
        if d is None:
            from gradlab.calculus.derivatives import derivative

            d = e.derivatives[i] = derivative(e.body, e.params[i])
        return row_mean(d.xreplace(dict(zip(e.params, self.args[1:]))), e.table) if d.free_symbols & set(
            e.table.symbols) else d.xreplace(dict(zip(e.params, self.args[1:])))

    @property
    def n_rows(self) -> int:
        return _entry(int(self.args[0])).table.n_rows

    @property
    def table(self) -> Table:
        return _entry(int(self.args[0])).table

    def _eval_evalf(self, prec):
        """SymPy's ``N``/``evalf``: the mean at ``prec`` bits (None when it has no real value)."""
        import mpmath

        args = [a.evalf(prec) for a in self.args[1:]]
        if not all(a.is_Float or a.is_Integer for a in args):
            return None
        try:
            with mpmath.workprec(prec + 20):
                got = mp_mean(int(self.args[0]), [mpmath.mpf(a._mpf_) if a.is_Float else mpmath.mpf(int(a))
                                                  for a in args], prec + 20)
        except (NotReal, ZeroDivisionError, ValueError, OverflowError):
            return None
        return sympy.Float._new(got._mpf_, prec) if mpmath.isfinite(got) else None

    def _sympystr(self, printer) -> str:
        return f"mean({printer._print(self.body_at())})"

    def _latex(self, printer) -> str:
        return r"\operatorname{mean}\left(" + printer._print(self.body_at()) + r"\right)"

    def _code(self, printer) -> str:
        fn = printer._module_format("gradlab.calculus.rows.mean_over_rows")
        return f"{fn}({int(self.args[0])}, {', '.join(printer._print(a) for a in self.args[1:])})"

    _numpycode = _code
    _pythoncode = _code


def _compiled(entry: _Body, complex_safe: bool):
    fn = entry.compiled.get(complex_safe)
    if fn is None:
        from gradlab.calculus.numeric import lambdify

        fn = entry.compiled[complex_safe] = lambdify([*entry.params, *entry.table.symbols], [entry.body], complex_safe)
    return fn


def mean_over_rows(key: int, *params: Any) -> Any:
    """The mean over the rows of body ``key`` at ``params`` (floats or arrays that
    broadcast together): a float for floats, else an array of their broadcast shape.

    >>> import sympy
    >>> from gradlab.calculus.parsing import symbol
    >>> t = table_for({"x": tuple(sympy.Integer(k) for k in range(1, 5))})
    >>> f = row_mean(symbol("w") * t.symbol("x"), t)
    >>> import numpy as np
    >>> mean_over_rows(int(f.args[0]), np.array([1.0, 2.0]))
    array([2.5, 5. ])
    """
    import numpy as np

    entry = _entry(key)
    arrays = [np.asarray(p) for p in params]
    shape = np.broadcast_shapes(*(a.shape for a in arrays)) if arrays else ()
    complex_safe = any(np.iscomplexobj(a) for a in arrays)
    fn = _compiled(entry, complex_safe)
    lead = (1,) * len(shape)
    ps = [a.reshape((1, *a.shape)) if a.ndim else a for a in arrays]
    size = max(1, math.prod(shape))
    step = max(1, CHUNK // size)
    cols = entry.table.floats
    n = cols.shape[1]
    total = np.zeros(shape, dtype=complex if complex_safe else float)
    with np.errstate(all="ignore"):
        for lo in range(0, n, step):
            block = [c[lo:lo + step].reshape((-1, *lead)) for c in cols]
            v = fn(*ps, *block)[0]
            total = total + np.sum(np.broadcast_to(v, (len(block[0]) if block else 1, *shape)), axis=0)
    out = total / n
    if not shape and not any(isinstance(p, np.ndarray) for p in params):
        return complex(out) if complex_safe else float(out)
    return out


# ------------------------------------------------------------------ exact and precise values
def _polynomial(entry: _Body):
    """The body as Σ coeff(params)·Π column**k, or False when it is not a small polynomial
    in the columns (then its mean at a point stays ``mean(...)``)."""
    if entry.polynomial is None:
        entry.polynomial = False
        cols = entry.table.symbols
        body = entry.body
        if body.is_polynomial(*cols) and sympy.count_ops(body) <= 200:
            terms = sympy.Poly(sympy.expand(body), *cols).as_dict(native=False)
            if len(terms) <= MAX_MONOMIALS:
                entry.polynomial = [(coeff, exps) for exps, coeff in terms.items()]
    return entry.polynomial


def _exact_at(entry: _Body, args: Sequence[sympy.Expr]) -> sympy.Expr | None:
    """The exact mean at a rational point when the body is a polynomial in the columns."""
    terms = _polynomial(entry)
    if not terms:
        return None
    n = entry.table.n_rows
    at = dict(zip(entry.params, args))
    total = sympy.Integer(0)
    for coeff, exps in terms:
        c = coeff.xreplace(at)
        if not c.is_Rational:
            return None
        if c:
            total += c * entry.table.power_sum(tuple(exps))
    return total / n


def _mp_table() -> dict:
    """mpmath implementations by printed name, for the row bodies' mpmath code."""
    import mpmath

    from gradlab.calculus.functions import _mp_functions

    table = {getattr(k, "__name__", str(k)): v for k, v in _mp_functions().items()}
    # Rows hold data of at most 100 digits, so exp cannot need a huge exponent: plain
    # mpmath (the guarded helpers cost a third of the time on 10,000 rows).
    table.update(exp=mpmath.exp, sigmoid=lambda v: 1 / (1 + mpmath.exp(-v)),
                 softplus=lambda v: v + mpmath.log1p(mpmath.exp(-v)) if v > 0 else mpmath.log1p(mpmath.exp(v)))
    return table


def mp_mean(key: int, args: Sequence[Any], prec: int) -> Any:
    """The mean at ``args`` (mpmath numbers), correct to at least ``prec`` bits; raises
    :class:`NotReal` when some row's value is not real, ``ZeroDivisionError`` (or gives
    ±inf) at a row's pole.

    One pass over the rows serves two rungs of :mod:`gradlab.calculus.precise`'s ladder:
    it runs at 2·prec + 96 bits and measures how much the sum cancelled, and the value is
    reused for any later request within the bits it is good for.
    """
    import mpmath

    entry = _entry(key)
    memo_key = tuple(args)
    hit = entry.memo.get(memo_key)
    if hit is not None and hit[1] >= prec:
        return hit[0]
    terms = _polynomial(entry)
    n = entry.table.n_rows
    work = 2 * prec + 96  # enough for the next rung too, after the margins below
    while True:
        with mpmath.workprec(work):
            if terms:
                # Σ coeff(args)·(power sum)/n: as many terms as monomials, not rows; the
                # power sums are exact.
                fn = entry.compiled.get("mp-coefficients")
                if fn is None:
                    fn = entry.compiled["mp-coefficients"] = sympy.lambdify(
                        entry.params, [c for c, _ in terms], modules="mpmath")
                sums = [entry.table.power_sum(tuple(e)) for _, e in terms]
                vals = [c * (mpmath.mpf(int(p.p)) / int(p.q)) for c, p in zip(fn(*args), sums)]
            else:
                fn = entry.compiled.get("mpmath")
                if fn is None:
                    fn = entry.compiled["mpmath"] = sympy.lambdify(
                        [*entry.params, *entry.table.symbols], entry.body, modules=[_mp_table(), "mpmath"], cse=True)
                cols = entry.table.mp_columns(work)
                vals = [fn(*args, *row) for row in zip(*cols)]
                if any(isinstance(v, mpmath.mpc) and v.imag != 0 for v in vals):
                    raise NotReal("a row's value is not real")
                vals = [mpmath.re(v) for v in vals]
            total = mpmath.fsum(vals)
            if not mpmath.isfinite(total):
                return total / n
            size = mpmath.fsum(abs(v) for v in vals)
        # bits lost to cancellation in the sum, and a margin for rounding in each row
        lost = 0 if size == 0 else (work if total == 0 else max(0, int(mpmath.log(size / abs(total), 2)) + 1))
        good = work - lost - len(vals).bit_length() - 32
        if good >= prec or work > 8 * 8192:
            break
        work = 2 * work + lost
    with mpmath.workprec(work):
        out = total / n
    if len(entry.memo) > 64:
        entry.memo.clear()
    entry.memo[memo_key] = (out, good)
    return out
