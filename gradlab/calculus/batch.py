"""Many points (and many expressions) in one call, evaluated together.

The symbolic work (derivatives, compilation) is done once per expression; the points
are then evaluated as one float64 array. Each answer is a record shaped like the single
call's JSON (``exact`` is null unless exact values were asked for), plus ``input`` (where
the point came from) and ``error`` (null, or why this point has no answer).

A point where the float of f or of a derivative is not finite is answered as a single
call answers it, exactly: a value past a float's range (``exp(1000)``) is an answer, its
exact value beside the float ±inf, and a pole or ``log(0)`` is an error for that point
only, in the single call's words; the others go on. A point gives the same answer alone
and among many.

>>> from gradlab.calculus.parsing import parse
>>> from gradlab.calculus.inputs import Line, read_point
>>> p = parse("x**2*y + 3*y")
>>> pts = [read_point(Line("line 1", "2,5"), ["x", "y"]), read_point(Line("line 2", "1,1"), ["x", "y"])]
>>> [a.record["gradient"]["value"] for a in grad_many(p, pts)]
[[20.0, 7.0], [2.0, 4.0]]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from gradlab.errors import BadInput, GradlabError
from gradlab.calculus import pointwise
from gradlab.calculus.inputs import Failed, Line, Point
from gradlab.calculus.parsing import Parsed, to_text
from gradlab.present import Presentable


@dataclass(frozen=True)
class Answer:
    """One input's answer: its record (the JSON object) or its error, and its coordinates."""

    line: Line
    command: str
    expression: str
    variables: tuple[str, ...]
    coords: tuple[float, ...] | None
    record: dict[str, Any] | None
    error: GradlabError | None = None
    exact: tuple[str, ...] | None = None  # the point exactly, when it was read

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_record(self) -> dict[str, Any]:
        if self.record is not None:
            return {**self.record, "input": self.line.where, "error": None}
        # a point has one shape everywhere: null only when the line itself could not be read
        read = self.coords is not None and self.exact is not None
        return {"command": self.command, "expression": self.expression, "variables": list(self.variables),
                "point": list(self.coords) if read else None, "point_exact": list(self.exact) if read else None,
                "input": self.line.where, "text": self.line.text, "error": self.error.line(),
                "exit_code": self.error.exit_code}


def failed(command: str, item: Failed, expression: str = "", variables: Sequence[str] = ()) -> Answer:
    return Answer(item.line, command, expression, tuple(variables), None, None, item.error)


def relabel(answer: Answer, where: str) -> Answer:
    """The same failed answer, its error naming ``where``."""
    return Answer(answer.line, answer.command, answer.expression, answer.variables, answer.coords, None,
                  type(answer.error)(answer.error.what, where), answer.exact)


def _head(command: str, parsed: Parsed, p: Point) -> dict[str, Any]:
    return {"command": command, "expression": parsed.text, "variables": [v.name for v in parsed.variables],
            "point": list(p.values), "point_exact": list(p.exact)}


def _compiled(exprs, variables) -> Callable[[np.ndarray], np.ndarray]:
    from gradlab.calculus.numeric import Compiled

    return Compiled(list(exprs), list(variables))


def _evaluate(parsed: Parsed, exprs: Sequence, points: Sequence[Point]) -> tuple[np.ndarray, list[bool]]:
    """``(values (m, N), finite)``: the expressions at every point, and whether every value
    at each point is a finite float (where not, the point goes to the single call)."""
    X = np.array([p.values for p in points], dtype=float).T.reshape(len(parsed.variables), len(points))
    with np.errstate(all="ignore"):
        V = _compiled(exprs, parsed.variables)(X)
    V = np.real_if_close(V) if np.iscomplexobj(V) else V
    return V, np.isfinite(V).all(axis=0).tolist()


def _single(command: str, parsed: Parsed, p: Point, report: Callable[[Any], Any]) -> Answer:
    """``p`` answered by the single-point call ``report(sympy_point)``: its record, or its
    error naming the line."""
    from gradlab.calculus.inputs import read_point

    names = tuple(v.name for v in parsed.variables)
    try:
        sp = p.sympy_point or read_point(p.line, names, need_sympy=True).sympy_point
        return Answer(p.line, command, parsed.text, names, p.values, report(sp).to_record(), None, p.exact)
    except GradlabError as exc:
        return Answer(p.line, command, parsed.text, names, p.values, None, _at(exc, p.line), p.exact)


def _answers(command: str, parsed: Parsed, points, build, report: Callable[[Any], Any]) -> list[Answer]:
    """Split points from failures, evaluate the points with ``build``, keep input order.

    ``build(points)`` yields each point's record, or None where a float is not finite:
    that point is answered by ``report`` (the single call), exactly, so that it gets the
    single call's answer (``exp(1000)`` beside ``inf``) or error (a pole) and not a
    guess from the float (inf is a pole or an overflow; nan is ``log(-1)`` or inf − inf).
    """
    names = tuple(v.name for v in parsed.variables)
    good = [p for p in points if isinstance(p, Point)]
    built = iter(build(good) if good else [])
    out = []
    for p in points:
        if isinstance(p, Failed):
            out.append(failed(command, p, parsed.text, names))
            continue
        rec = next(built)
        out.append(Answer(p.line, command, parsed.text, names, p.values, rec, None, p.exact) if rec is not None
                   else _single(command, parsed, p, report))
    return out


def _f_and(parsed: Parsed, extra: Sequence, points):
    return _evaluate(parsed, [parsed.expr, *extra], points)


# --------------------------------------------------------------------------- commands
def eval_many(parsed: Parsed, points) -> list[Answer]:
    """f at every point."""
    symbolic = to_text(parsed.expr)

    def build(pts):
        V, finite = _evaluate(parsed, [parsed.expr], pts)
        for j, (p, v) in enumerate(zip(pts, V[0].tolist())):
            if not finite[j]:
                yield None
                continue
            rec = _head("eval", parsed, p)
            rec["result"] = {"symbolic": symbolic, "exact": None, "value": v}
            yield rec

    return _answers("eval", parsed, points, build, lambda sp: pointwise.eval_report(parsed, sp))


def grad_many(parsed: Parsed, points) -> list[Answer]:
    """The gradient and its norm at every point."""
    from gradlab.calculus import derivatives as d

    _needs_variables(parsed)
    partials = d.gradient(parsed.expr, parsed.variables)
    symbolic = [to_text(g) for g in partials]
    n = len(partials)

    def build(pts):
        V, finite = _f_and(parsed, partials, pts)
        G = V[1:]
        with np.errstate(all="ignore"):  # a norm past a float's range: that point goes to the single call
            N = np.sqrt(np.sum(G * G, axis=0)) if n else np.zeros(len(pts))
        norms = N.tolist()
        finite = (np.asarray(finite) & np.isfinite(N)).tolist()
        for j, (p, g) in enumerate(zip(pts, G.T.tolist())):  # tolist: Python floats, at C speed
            if not finite[j]:
                yield None
                continue
            rec = _head("grad", parsed, p)
            rec["gradient"] = {"symbolic": symbolic, "exact": None, "value": g}
            rec["norm"] = {"exact": None, "value": norms[j]}
            yield rec

    return _answers("grad", parsed, points, build, lambda sp: pointwise.grad_report(parsed, sp))


def jacobian_many(parsed: Parsed, points) -> list[Answer]:
    """The Jacobian at every point (rows = outputs)."""
    from gradlab.calculus import derivatives as d

    _needs_variables(parsed)
    matrix = d.jacobian(parsed.exprs, parsed.variables)
    m, n = len(matrix), len(parsed.variables)
    flat = [e for row in matrix for e in row]
    symbolic = [[to_text(e) for e in row] for row in matrix]
    outputs = [to_text(e) for e in parsed.exprs]

    def build(pts):
        V, finite = _evaluate(parsed, [*parsed.exprs, *flat], pts)
        J = V[m:]
        for j, p in enumerate(pts):
            if not finite[j]:
                yield None
                continue
            rec = _head("jacobian", parsed, p)
            rec["outputs"] = outputs
            rec["jacobian"] = {"shape": [m, n], "symbolic": symbolic, "exact": None,
                               "value": [[float(J[r * n + c, j]) for c in range(n)] for r in range(m)]}
            yield rec

    return _answers("jacobian", parsed, points, build, lambda sp: pointwise.jacobian_report(parsed, sp))


def hessian_many(parsed: Parsed, points) -> list[Answer]:
    """The Hessian, its eigenvalues and the second-derivative test at every point.

    ``critical`` here means the float gradient is exactly 0 at the point (exact values,
    and an exact test, with ``--exact``).
    """
    from gradlab.calculus import derivatives as d

    _needs_variables(parsed)
    matrix = d.hessian(parsed.expr, parsed.variables)
    grad = d.gradient(parsed.expr, parsed.variables)
    n = len(parsed.variables)
    flat = [e for row in matrix for e in row]
    symbolic = [[to_text(e) for e in row] for row in matrix]

    def build(pts):
        V, finite = _f_and(parsed, [*grad, *flat], pts)
        G, H = V[1:1 + n], V[1 + n:]
        Hs = np.moveaxis(H.reshape(n, n, len(pts)), 2, 0)
        ok = np.asarray(finite, dtype=bool)
        eig = np.full((len(pts), n), np.nan)
        if ok.any():
            eig[ok] = np.linalg.eigvalsh(Hs[ok])
        for j, p in enumerate(pts):
            if not ok[j]:
                yield None
                continue
            rec = _head("hessian", parsed, p)
            values = [[float(H[r * n + c, j]) for c in range(n)] for r in range(n)]
            e = [float(v) for v in eig[j]]
            critical = bool(np.all(G[:, j] == 0))
            # as a single call says: the second-derivative test at a critical point, else the curvature
            rec["hessian"] = {"symbolic": symbolic, "exact": None, "value": values, "eigenvalues": e,
                              "classification": d.classify_floats(e).classification(critical),
                              "critical": critical}
            yield rec

    return _answers("hessian", parsed, points, build, lambda sp: pointwise.hessian_report(parsed, sp))


def directional_many(parsed: Parsed, points, direction: Sequence) -> list[Answer]:
    """The derivative along ``direction`` (made unit length, exactly) at every point."""
    from gradlab.calculus import derivatives as d

    _needs_variables(parsed)
    unit = d.unit_vector(direction)
    u = np.array([float(c) for c in unit])
    grad = d.gradient(parsed.expr, parsed.variables)
    symbolic = to_text(sum((g * c for g, c in zip(grad, unit)), 0 * parsed.expr))

    def build(pts):
        V, finite = _f_and(parsed, grad, pts)
        G = V[1:]
        with np.errstate(all="ignore"):  # past a float's range: that point goes to the single call
            D = u @ G
            norms = np.sqrt(np.sum(G * G, axis=0))
        finite = np.asarray(finite, dtype=bool) & np.isfinite(D) & np.isfinite(norms)
        for j, p in enumerate(pts):
            if not finite[j]:
                yield None
                continue
            rec = _head("directional", parsed, p)
            rec["direction"] = [str(c) for c in direction]
            rec["unit_direction"] = {"exact": [str(c) for c in unit], "value": [float(c) for c in u]}
            rec["gradient"] = {"exact": None, "value": [float(g) for g in G[:, j]]}
            rec["directional_derivative"] = {"symbolic": symbolic, "exact": None, "value": float(D[j])}
            rec["steepest"] = {"exact": None, "value": float(norms[j])}
            yield rec

    return _answers("directional", parsed, points, build,
                    lambda sp: pointwise.directional_report(parsed, sp, direction))


def exact_many(command: str, parsed: Parsed, points, report: Callable[[Any], Any]) -> list[Answer]:
    """Any single-point report at every point (exact values; one SymPy evaluation each).

    ``report(sympy_point)`` returns a result with ``to_record()``; a GradlabError is that
    point's error.
    """
    names = tuple(v.name for v in parsed.variables)
    return [failed(command, p, parsed.text, names) if isinstance(p, Failed) else _single(command, parsed, p, report)
            for p in points]


def _at(exc: GradlabError, line: Line) -> GradlabError:
    if exc.where == line.where:
        return exc
    new = type(exc)(exc.what, line.where)
    return new


def _needs_variables(parsed: Parsed) -> None:
    if not parsed.variables:
        raise BadInput("the function has no variables to differentiate by (name some with --vars)", "expression")


@dataclass(frozen=True)
class Batch(Presentable):
    """Every answer of a many-input call, in input order.

    ``to_record()`` is the JSON document: the command and ``results``, one record per
    input (the JSONL lines are those records).
    """

    command: str
    answers: tuple[Answer, ...]
    variables: tuple[str, ...]
    meta: dict[str, Any] = field(default_factory=dict)  # what the columns depend on

    @property
    def failures(self) -> int:
        return sum(not a.ok for a in self.answers)

    def to_record(self) -> dict[str, Any]:
        return {"command": self.command, "variables": list(self.variables),
                "count": len(self.answers), "failed": self.failures,
                "results": [a.to_record() for a in self.answers]}

    def view(self, columns=None):
        """A table of the answers: the stream's columns, less those that are empty in
        every row (exact values in float mode, the error column when nothing failed).

        For reading, the table gathers what the stream splits: the point is one cell,
        ``at (1, 2)`` (the head of each block when the table is too wide for the
        terminal), and so are the eigenvalues; headers are the maths' names (``∂f/∂x``,
        ``‖∇f‖``, ``H_xy``), and a Hessian shows its upper triangle only.
        """
        from gradlab.render.formats import POINT_SCHEMAS
        from gradlab.views import View

        columns = columns or POINT_SCHEMAS[self.command](self.variables, self.meta)
        table = [[c.get(a) for c in columns] for a in self.answers]
        names = [c.name for c in columns]
        v = self.variables
        lower = {f"H_{a}_{b}" for k, a in enumerate(v) for b in v[:k]}
        coords = [names.index(n) for n in v if n in names] if len(v) > 1 else []
        eigs = [i for i, n in enumerate(names) if n.startswith("eig_")]
        groups: list[tuple[str, list[int]]] = []  # (header, stream columns) of each table column
        for i, name in enumerate(names):
            if name in lower or (name == "expression" and len({a.expression for a in self.answers}) == 1):
                continue
            if i in coords or i in eigs:
                group = coords if i in coords else eigs
                if i == group[0]:
                    groups.append(("at" if group is coords else "eigenvalues", group))
                continue
            groups.append((_label(name, v), [i]))
        cells = [tuple(row[g[0]] if len(g) == 1 else (tuple(row[k] for k in g) if row[g[0]] is not None else None)
                       for _, g in groups) for row in table]
        keep = [k for k in range(len(groups)) if any(r[k] is not None for r in cells)]
        expressions = sorted({a.expression for a in self.answers})
        title = f"{self.command} of f = {expressions[0]}" if len(expressions) == 1 else f"{self.command}"
        title += f" at {len(self.answers)} input{'s' if len(self.answers) != 1 else ''}"
        notes = (f"{self.failures} failed: see the error column",) if self.failures else ()
        heads = tuple(groups[k][0] for k in keep)
        # Full precision is in csv/tsv/json; a table reads better with 6 digits and
        # short words kept whole.
        nowrap = tuple(k for k, n in enumerate(heads) if n not in ("error", "expression"))
        return View(title, heads, tuple(tuple(r[k] for k in keep) for r in cells), notes=notes, digits=6,
                    nowrap=nowrap)


def _label(name: str, variables: Sequence[str]) -> str:
    """A stream column's name as a table header: the maths' own notation.

    >>> [_label(n, ("x", "y")) for n in ("grad_x", "norm_exact", "H_x_y", "J_2_y", "central_rel_error_y")]
    ['∂f/∂x', '‖∇f‖ exact', 'H_xy', '∂f2/∂y', 'central rel. error y']
    """
    exact = name.endswith("_exact")
    base = name[: -len("_exact")] if exact else name
    parts = base.split("_")
    if parts[0] == "grad" and len(parts) == 2:
        text = f"∂f/∂{parts[1]}"
    elif parts[0] == "H" and len(parts) == 3:
        text = f"H_{parts[1]}{parts[2]}"
    elif parts[0] == "J" and len(parts) == 3:
        text = f"∂f{parts[1]}/∂{parts[2]}"
    elif base == "norm":
        text = "‖∇f‖"
    elif base.endswith(tuple(f"_{n}" for n in variables)):  # check's per-variable columns
        text = base.replace("_rel_error_", " rel. error ").replace("complex_step", "complex step").replace("_", " ")
    else:
        text = base.replace("_", " ")
    return f"{text} exact" if exact else text
