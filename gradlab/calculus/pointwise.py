"""The calculus commands as library calls: grad, jacobian, hessian, directional, eval.

Each function takes parsed values and returns a frozen result with ``to_record()`` (the
JSON document) and ``view()`` (what a table shows).

>>> from gradlab.calculus.parsing import parse, parse_point
>>> p = parse("x**2*y + 3*y")
>>> r = grad_report(p, parse_point("2,5", 2))
>>> [v.value for v in r.values], r.norm.exact
([20.0, 7.0], sqrt(449))
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import sympy

from gradlab.calculus import budget
from gradlab.calculus import derivatives as d
from gradlab.calculus.derivatives import Value
from gradlab.errors import BadInput
from gradlab.calculus.parsing import Parsed, number_text, shown_text, to_text
from gradlab.views import View
from gradlab.present import Presentable  # to_dict, LaTeX and rich for notebooks

Matrix = tuple[tuple[sympy.Expr, ...], ...]


def _strs(xs: Sequence[sympy.Expr]) -> list[str]:
    return [str(x) for x in xs]


def point_fields(point: Sequence[sympy.Expr], key: str = "point") -> dict[str, Any]:
    """A point in JSON, one shape everywhere: ``point``, its coordinates as floats, and
    ``point_exact``, the same coordinates exactly in gradlab's own syntax (they read back
    in: ``e``, not SymPy's ``E``).

    >>> point_fields([sympy.Rational(1, 2), sympy.E])
    {'point': [0.5, 2.718281828459045], 'point_exact': ['1/2', 'e']}
    """
    return {key: [float(x) for x in point], f"{key}_exact": [to_text(x) for x in point]}


NAMED_POINT = 48  # characters: a named point longer than this goes unnamed in a title


def _at(point: Sequence[sympy.Expr], variables: Sequence[sympy.Symbol] = ()) -> str:
    """A point for a title, in gradlab's own syntax (long numbers written short:
    ``1e-300``). From three variables on, the coordinates are named, ``(x=1, y=2, z=3)``,
    as error messages name them, while that stays short enough for a title.

    >>> from gradlab.calculus.parsing import symbol
    >>> _at([sympy.Integer(1), sympy.Integer(2)], [symbol("x"), symbol("y")])
    '(1, 2)'
    >>> _at([sympy.Integer(1), sympy.Integer(2), sympy.Rational(1, 2)], [symbol("x"), symbol("y"), symbol("z")])
    '(x=1, y=2, z=1/2)'
    """
    coords = [_coordinate(x) for x in point]
    if len(variables) >= 3 and len(variables) == len(coords):
        named = "(" + ", ".join(f"{v.name}={c}" for v, c in zip(variables, coords)) + ")"
        if len(named) <= NAMED_POINT:
            return named
    return "(" + ", ".join(coords) + ")"


def _coordinate(x: sympy.Expr) -> str:
    try:
        value = float(x)
    except (TypeError, ValueError, OverflowError):
        value = None
    return shown_text(x, value)


def _head(command: str, parsed: Parsed, point: Sequence[sympy.Expr] | None) -> dict[str, Any]:
    rec: dict[str, Any] = {
        "command": command,
        "expression": parsed.text,
        "variables": [v.name for v in parsed.variables],
    }
    if point is not None:
        rec.update(point_fields(point))
    return rec


def _point_map(parsed: Parsed, point: Sequence[sympy.Expr]) -> dict[sympy.Symbol, sympy.Expr]:
    return dict(zip(parsed.variables, point))


def _evaluate_all(exprs: Sequence[sympy.Expr], pm: dict, what: str) -> tuple[Value, ...]:
    return tuple(d.evaluate(e, pm, what, overflow=True) for e in exprs)


def _matrix_at(matrix: Matrix, pm: dict, what: str) -> tuple[tuple[Value, ...], ...]:
    return tuple(_evaluate_all(row, pm, what) for row in matrix)


def _derived(symbolic: Any, values: Any | None) -> dict[str, Any]:
    """``{"symbolic", "exact", "value"}``, nested like ``symbolic``."""

    def walk(x, f):
        return [walk(i, f) for i in x] if isinstance(x, (list, tuple)) else f(x)

    out = {"symbolic": walk(symbolic, to_text)}
    if values is not None:
        out["exact"] = walk(values, _exact)
        out["value"] = walk(values, lambda v: v.value)
        reasons = _missing(values)
        if reasons:  # an exact entry is null: say why, next to it
            out["exact_reason"] = "; ".join(reasons)
    return out


def _exact(v: Value) -> str | None:
    """The exact value as text for JSON: None when it was too large to build."""
    return None if v.exact is None else number_text(v.exact)


def _pair(v: Value) -> dict[str, Any]:
    """``{"exact", "value"}``, plus ``exact_reason`` when the exact value is null."""
    out: dict[str, Any] = {"exact": _exact(v), "value": v.value}
    if v.exact is None:
        out["exact_reason"] = v.reason
    return out


def _shown(v: Value) -> str:
    """The exact value for a table or a note: ``≈ float`` when there is none."""
    return f"≈ {v.value!r}" if v.exact is None else shown_text(v.exact, v.value)


def _approx(v: Value) -> str:
    """``= exact ≈ float`` for a note, or ``≈ float`` alone when no exact form is shown."""
    shown = _shown(v)
    return shown if shown.startswith("≈") else f"= {shown} ≈ {v.value!r}"


def _missing(*groups: Any) -> tuple[str, ...]:
    """A warning for values shown without their exact form (JSON ``exact: null``)."""
    flat: list[Value] = []

    def walk(x):
        if isinstance(x, Value):
            flat.append(x)
        elif isinstance(x, (list, tuple)):
            for i in x:
                walk(i)

    walk(groups)
    reasons = sorted({v.reason for v in flat if v.exact is None and v.reason})
    return tuple(f"no exact value ({r})" for r in reasons)


def _norm(values: Sequence[Value]) -> Value:
    """‖v‖ exactly, or from the floats when an exact value is missing."""
    if any(v.exact is None for v in values):
        import math

        return Value(None, math.hypot(*(v.value for v in values)), "an exact component is missing")
    return d.evaluate(d.norm([v.exact for v in values]), {}, "the gradient's norm", overflow=True)


def _cell(expr: sympy.Expr, value: Value | None) -> str:
    text = to_text(expr)
    if value is None:
        return text
    if value.exact is None:
        return f"{text} ≈ {value.value:.10g}"
    exact = shown_text(value.exact, value.value)
    if exact.startswith("≈"):
        return f"{text} ≈ {value.value:.10g}"
    if exact == text:
        return exact
    if value.exact.is_Rational:  # 12, 1/2: the exact value says it all
        return f"{text} = {exact}"
    return f"{text} = {exact} ≈ {value.value:.10g}"


# --------------------------------------------------------------------------- grad
@dataclass(frozen=True)
class GradResult(Presentable):
    """The gradient of a scalar function, and its value at a point when one is given.

    ``partials`` are the symbolic partial derivatives in variable order; ``values`` and
    ``norm`` are ``None`` without a point; ``warnings`` name kink conventions used.
    """

    parsed: Parsed
    partials: tuple[sympy.Expr, ...]
    point: tuple[sympy.Expr, ...] | None = None
    values: tuple[Value, ...] | None = None
    norm: Value | None = None
    warnings: tuple[str, ...] = ()

    def to_record(self) -> dict[str, Any]:
        rec = _head("grad", self.parsed, self.point)
        rec["gradient"] = _derived(self.partials, self.values)
        if self.norm is not None:
            rec["norm"] = _pair(self.norm)
        return rec

    def view(self) -> View:
        names = [v.name for v in self.parsed.variables]
        if self.values is None:
            rows = tuple((n, to_text(p)) for n, p in zip(names, self.partials))
            return View(f"∇f for f = {self.parsed.text}", ("variable", "∂f/∂variable"), rows)
        rows = tuple(
            (n, to_text(p), _shown(v), v.value) for n, p, v in zip(names, self.partials, self.values)
        )
        notes = (f"‖∇f‖ {_approx(self.norm)}",) if self.norm else ()
        return View(
            f"∇f at {_at(self.point, self.parsed.variables)} for f = {self.parsed.text}",
            ("variable", "∂f/∂variable", "exact", "value"),
            rows, plain=(0, 1, 3), notes=notes,
        )


def _needs_variables(parsed: Parsed) -> None:
    if not parsed.variables:
        raise BadInput("the function has no variables to differentiate by (name some with --vars)", "expression")


def grad_report(parsed: Parsed, point: Sequence[sympy.Expr] | None = None) -> GradResult:
    """Partial derivatives, their values at ``point`` and the gradient's norm."""
    _needs_variables(parsed)
    partials = d.gradient(parsed.expr, parsed.variables)
    if point is None:
        return GradResult(parsed, partials)
    pm = _point_map(parsed, point)
    d.evaluate(parsed.expr, pm, overflow=True)  # a gradient where f itself is undefined means nothing
    values = _evaluate_all(partials, pm, "a partial derivative")
    norm = _norm(values)
    return GradResult(parsed, partials, tuple(point), values, norm,
                      d.kink_warnings([parsed.expr], pm) + _missing(values))


# --------------------------------------------------------------------------- jacobian
def _matrix_view(title: str, parsed: Parsed, labels: Sequence[str], matrix: Matrix,
                 values: tuple[tuple[Value, ...], ...] | None, notes: tuple[str, ...] = ()) -> View:
    cols = ("", *[v.name for v in parsed.variables])
    if values is None:
        rows = tuple((lab, *[to_text(e) for e in row]) for lab, row in zip(labels, matrix))
        return View(title, cols, rows, plain=tuple(range(1, len(cols))), notes=notes)
    # Plain output wants the numbers; the table shows each entry's derivation too.
    plain = tuple(tuple(v.value for v in vrow) for vrow in values)
    table_rows = tuple((lab, *[_cell(e, v) for e, v in zip(row, vrow)])
                       for lab, row, vrow in zip(labels, matrix, values))
    return View(title, cols, table_rows, notes=notes, plain_cells=plain)


@dataclass(frozen=True)
class JacobianResult(Presentable):
    """The m×n Jacobian of a map ℝⁿ → ℝᵐ: ``matrix[i][j]`` = ∂fᵢ/∂xⱼ."""

    parsed: Parsed
    matrix: Matrix
    point: tuple[sympy.Expr, ...] | None = None
    values: tuple[tuple[Value, ...], ...] | None = None
    warnings: tuple[str, ...] = ()

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.matrix), len(self.parsed.variables)

    def to_record(self) -> dict[str, Any]:
        rec = _head("jacobian", self.parsed, self.point)
        rec["outputs"] = [to_text(e) for e in self.parsed.exprs]
        rec["jacobian"] = {"shape": list(self.shape), **_derived(self.matrix, self.values)}
        return rec

    def view(self) -> View:
        m, n = self.shape
        at = f" at {_at(self.point, self.parsed.variables)}" if self.point is not None else ""
        labels = [f"f{i + 1} = {to_text(e)}" for i, e in enumerate(self.parsed.exprs)]
        return _matrix_view(f"Jacobian ({m}×{n}){at}", self.parsed, labels, self.matrix, self.values)


def jacobian_report(parsed: Parsed, point: Sequence[sympy.Expr] | None = None) -> JacobianResult:
    """The Jacobian of ``parsed.exprs``, rows = outputs, evaluated at ``point`` if given."""
    _needs_variables(parsed)
    matrix = d.jacobian(parsed.exprs, parsed.variables)
    if point is None:
        return JacobianResult(parsed, matrix)
    pm = _point_map(parsed, point)
    _evaluate_all(parsed.exprs, pm, "the function")
    values = _matrix_at(matrix, pm, "a partial derivative")
    return JacobianResult(parsed, matrix, tuple(point), values, d.kink_warnings(parsed.exprs, pm) + _missing(values))


# --------------------------------------------------------------------------- hessian
@dataclass(frozen=True)
class HessianResult(Presentable):
    """The Hessian; at a point also its eigenvalues (ascending, float64), whether the
    point is critical (∇f = 0 there), the curvature (``Inertia.curvature``: positive
    definite, negative definite, indefinite, positive/negative semidefinite, zero) and
    the classification: at a critical point the second-derivative test's ``minimum |
    maximum | saddle | inconclusive``; elsewhere only the curvature's ``convex | concave
    | indefinite | degenerate``. ``decided`` says how the eigenvalues' signs were
    decided (``exact``, ``numeric`` to 45 digits, or ``float``)."""

    parsed: Parsed
    matrix: Matrix
    point: tuple[sympy.Expr, ...] | None = None
    values: tuple[tuple[Value, ...], ...] | None = None
    eigenvalues: tuple[float, ...] | None = None
    critical: bool | None = None
    classification: str | None = None
    warnings: tuple[str, ...] = ()
    curvature: str | None = None
    decided: str | None = None

    def to_record(self) -> dict[str, Any]:
        rec = _head("hessian", self.parsed, self.point)
        rec["hessian"] = _derived(self.matrix, self.values)
        if self.point is not None:
            rec["hessian"].update(
                eigenvalues=list(self.eigenvalues), classification=self.classification, critical=self.critical,
                curvature=self.curvature, signs_decided=self.decided,
            )
        return rec

    def view(self) -> View:
        notes: tuple[str, ...] = ()
        at = ""
        if self.point is not None:
            at = f" at {_at(self.point, self.parsed.variables)}"
            eig = ", ".join(f"{v:.10g}" for v in self.eigenvalues)
            crit = "∇f = 0 here: a critical point" if self.critical else "∇f ≠ 0 here: not a critical point"
            notes = (f"eigenvalues: {eig} ({self.curvature}; signs decided {_DECIDED[self.decided]})", crit)
            if self.critical:
                notes += (f"classification: {self.classification}",)
            else:
                notes += (f"curvature: {self.classification} (only a critical point is a minimum, maximum "
                          "or saddle)",)
        labels = [v.name for v in self.parsed.variables]
        return _matrix_view(f"Hessian{at} of f = {self.parsed.text}", self.parsed, labels, self.matrix,
                            self.values, notes)


_DECIDED = {"exact": "exactly", "numeric": "to 45 digits", "certified": "in float64 within error bounds",
            "float": "in float64"}


def hessian_report(parsed: Parsed, point: Sequence[sympy.Expr] | None = None) -> HessianResult:
    """The Hessian, and at ``point`` its eigenvalues, curvature and classification."""
    _needs_variables(parsed)
    matrix = d.hessian(parsed.expr, parsed.variables)
    if point is None:
        return HessianResult(parsed, matrix)
    pm = _point_map(parsed, point)
    d.evaluate(parsed.expr, pm, overflow=True)
    grad = d.gradient(parsed.expr, parsed.variables)
    grad_values = _evaluate_all(grad, pm, "a partial derivative")
    values = _matrix_at(matrix, pm, "a second derivative")
    eig = _eigenvalues(matrix, values, pm)
    zeros = [d.is_zero_at(g, v, pm) for g, v in zip(grad, grad_values)]
    critical = all(z for z, _ in zeros)
    warnings = d.kink_warnings([parsed.expr], pm) + _missing(values)
    if critical and not all(proven for _, proven in zeros):
        warnings += ("∇f is 0 here to more than 300 digits, but that was not proven exactly",)
    inert = d.inertia(matrix, pm, eig, [[v.exact for v in row] for row in values])
    return HessianResult(parsed, matrix, tuple(point), values, eig, critical, inert.classification(critical),
                         warnings, inert.curvature, inert.how)


def _eigenvalues(matrix: Matrix, values: Sequence[Sequence[Value]], pm: dict) -> tuple[float, ...]:
    """The Hessian's eigenvalues, ascending: from the floats, or, where an entry is too
    large for a float (its exact value is finite), from the entries to 60 digits, each
    eigenvalue then rounded to a float (±inf where it is too large too)."""
    from gradlab.calculus.numeric import eigenvalues  # numpy only when a point asks for numbers

    floats = [[v.value for v in row] for row in values]
    if all(math.isfinite(x) for row in floats for x in row):
        return tuple(eigenvalues(floats))
    import mpmath

    from gradlab.calculus import precise

    with mpmath.workdps(60):
        entries = [[precise.value(e, pm).number for e in row] for row in matrix]
        if any(x is None for row in entries for x in row):
            return tuple(eigenvalues(floats))
        ev = mpmath.eigsy(mpmath.matrix(entries), eigvals_only=True)
        return tuple(sorted(float(x) for x in ev))


# --------------------------------------------------------------------------- directional
@dataclass(frozen=True)
class DirectionalResult(Presentable):
    """D_u f = ∇f · u for the unit vector u along the given direction.

    ``steepest`` is ‖∇f‖, the largest rate over all directions (along ∇f itself).
    """

    parsed: Parsed
    point: tuple[sympy.Expr, ...]
    direction: tuple[sympy.Expr, ...]
    unit: tuple[sympy.Expr, ...]
    symbolic: sympy.Expr
    gradient: tuple[Value, ...]
    result: Value
    steepest: Value
    warnings: tuple[str, ...] = ()

    def to_record(self) -> dict[str, Any]:
        rec = _head("directional", self.parsed, self.point)
        rec["direction"] = _strs(self.direction)
        rec["unit_direction"] = {"exact": _strs(self.unit), "value": [float(u) for u in self.unit]}
        rec["gradient"] = {"exact": [_exact(g) for g in self.gradient], "value": [g.value for g in self.gradient]}
        rec["directional_derivative"] = {
            "symbolic": to_text(self.symbolic), **_pair(self.result),
        }
        rec["steepest"] = _pair(self.steepest)
        return rec

    def view(self) -> View:
        u = ", ".join(_strs(self.unit))
        rows = (("D_u f", _shown(self.result), self.result.value),)
        notes = (
            f"u = ({u}), the direction scaled to length 1",
            f"∇f = ({', '.join(_shown(g) for g in self.gradient)})",
            f"steepest rate ‖∇f‖ {_approx(self.steepest)} (along ∇f)",
        )
        return View(f"directional derivative of f = {self.parsed.text} at {_at(self.point, self.parsed.variables)}",
                    ("", "exact", "value"), rows, plain=(1, 2), notes=notes)


def directional_report(parsed: Parsed, point: Sequence[sympy.Expr], direction: Sequence[sympy.Expr]) -> DirectionalResult:
    """The derivative of f at ``point`` along ``direction`` (normalised)."""
    _needs_variables(parsed)
    unit = d.unit_vector(direction)
    grad = d.gradient(parsed.expr, parsed.variables)
    pm = _point_map(parsed, point)
    d.evaluate(parsed.expr, pm, overflow=True)
    gvals = _evaluate_all(grad, pm, "a partial derivative")
    symbolic = sum((g * u for g, u in zip(grad, unit)), sympy.S.Zero)
    if any(g.exact is None for g in gvals):
        value = sum(g.value * float(u) for g, u in zip(gvals, unit))
        result = Value(None, value, "an exact partial derivative is missing")
    else:
        raw = sum((g.exact * u for g, u in zip(gvals, unit)), sympy.S.Zero)
        exact = budget.attempt("radsimp", sympy.radsimp, raw, size=budget.size_of(raw), fallback=lambda: raw).value
        if exact.is_Float:  # a decimal point given as a float: its exact rational, within the budget
            exact = budget.attempt("nsimplify", sympy.nsimplify, exact, size=1, fallback=lambda: exact).value
        result = d.evaluate(exact, {}, "the directional derivative", overflow=True)
    steepest = _norm(gvals)
    return DirectionalResult(parsed, tuple(point), tuple(direction), unit, symbolic, gvals, result, steepest,
                             d.kink_warnings([parsed.expr], pm) + _missing(gvals))


# --------------------------------------------------------------------------- eval
@dataclass(frozen=True)
class EvalResult(Presentable):
    """f at a point, exact and as a float."""

    parsed: Parsed
    point: tuple[sympy.Expr, ...]
    result: Value
    warnings: tuple[str, ...] = ()

    def to_record(self) -> dict[str, Any]:
        rec = _head("eval", self.parsed, self.point)
        rec["result"] = {"symbolic": to_text(self.parsed.expr), **_pair(self.result),
                         "value": self.result.value}
        return rec

    def view(self) -> View:
        return View(f"f = {self.parsed.text} at {_at(self.point, self.parsed.variables)}", ("", "exact", "value"),
                    (("f", _shown(self.result), self.result.value),), plain=(1, 2))


def eval_report(parsed: Parsed, point: Sequence[sympy.Expr]) -> EvalResult:
    """The value of f at ``point``."""
    pm = _point_map(parsed, point)
    result = d.evaluate(parsed.expr, pm, overflow=True)
    return EvalResult(parsed, tuple(point), result, _missing(result))
