"""Stream formats: csv, tsv, plain rows, jsonl and LaTeX, written from the same records.

Each command declares its columns once (:data:`SCHEMAS`): a list of :class:`Column`
built from the variables, each reading one cell from a row. Rows are the answers of a
many-point call (:class:`gradlab.calculus.batch.Answer`) or the entries of a command's JSON
document (a descent's runs, a sweep's runs, critical points, explanation steps). Every
writer (csv, tsv, plain, jsonl, the many-point table) reads the same rows through the
same columns, so the formats cannot drift apart.

Cells: floats round-trip (``repr``), booleans are ``true``/``false``, a missing value is
``NA`` (never an empty cell: ``IFS=$'\\t' read`` collapses empty fields).

>>> cell_text(None), cell_text(0.1), cell_text(True), cell_text(float("inf"))
('NA', '0.1', 'true', 'inf')
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Sequence

NA = "NA"


@dataclass(frozen=True)
class Column:
    """A named column (ASCII) and how to read its cell from a row."""

    name: str
    get: Callable[[Any], Any]


def cell_text(value: Any) -> str:
    """One cell as text: repr floats, true/false, NA for a missing value."""
    if value is None:
        return NA
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(float(value))
    if isinstance(value, int):
        return str(value)
    text = " ".join(str(value).split())  # a tab or newline inside a cell would break TSV
    return text or NA


def _at(obj: Any, *path: Any) -> Any:
    """``obj[p0][p1]…``, or None where any step is missing."""
    for p in path:
        if obj is None:
            return None
        try:
            obj = obj[p]
        except (KeyError, IndexError, TypeError):
            return None
    return obj


def _rec(answer) -> dict | None:
    return answer.record


# --------------------------------------------------------------------------- point schemas
def _point_cols(names: Sequence[str]) -> list[Column]:
    cols = [Column("expression", lambda a: a.expression)]
    cols += [Column(n, (lambda a, i=i: a.coords[i] if a.coords is not None else None)) for i, n in enumerate(names)]
    return cols


def _error_col() -> Column:
    return Column("error", lambda a: a.error.line() if a.error is not None else None)


def _exact(value: Any) -> Any:
    return value  # exact values are strings (SymPy's), null in float mode


def eval_columns(names: Sequence[str], meta: dict) -> list[Column]:
    return [*_point_cols(names),
            Column("f", lambda a: _at(_rec(a), "result", "value")),
            Column("f_exact", lambda a: _at(_rec(a), "result", "exact")),
            _error_col()]


def grad_columns(names: Sequence[str], meta: dict) -> list[Column]:
    cols = _point_cols(names)
    cols += [Column(f"grad_{n}", (lambda a, i=i: _at(_rec(a), "gradient", "value", i))) for i, n in enumerate(names)]
    cols += [Column("norm", lambda a: _at(_rec(a), "norm", "value"))]
    cols += [Column(f"grad_{n}_exact", (lambda a, i=i: _at(_rec(a), "gradient", "exact", i))) for i, n in enumerate(names)]
    cols += [Column("norm_exact", lambda a: _at(_rec(a), "norm", "exact")), _error_col()]
    return cols


def jacobian_columns(names: Sequence[str], meta: dict) -> list[Column]:
    m = int(meta.get("outputs", 1))
    cols = _point_cols(names)
    for key, suffix in (("value", ""), ("exact", "_exact")):
        cols += [Column(f"J_{r + 1}_{n}{suffix}", (lambda a, r=r, c=c, key=key: _at(_rec(a), "jacobian", key, r, c)))
                 for r in range(m) for c, n in enumerate(names)]
    return [*cols, _error_col()]


def hessian_columns(names: Sequence[str], meta: dict) -> list[Column]:
    n = len(names)
    cols = _point_cols(names)
    cols += [Column(f"H_{a}_{b}", (lambda x, r=r, c=c: _at(_rec(x), "hessian", "value", r, c)))
             for r, a in enumerate(names) for c, b in enumerate(names)]
    cols += [Column(f"eig_{k + 1}", (lambda x, k=k: _at(_rec(x), "hessian", "eigenvalues", k))) for k in range(n)]
    cols += [Column("critical", lambda x: _at(_rec(x), "hessian", "critical")),
             Column("classification", lambda x: _at(_rec(x), "hessian", "classification"))]
    cols += [Column(f"H_{a}_{b}_exact", (lambda x, r=r, c=c: _at(_rec(x), "hessian", "exact", r, c)))
             for r, a in enumerate(names) for c, b in enumerate(names)]
    return [*cols, _error_col()]


def directional_columns(names: Sequence[str], meta: dict) -> list[Column]:
    return [*_point_cols(names),
            Column("directional", lambda a: _at(_rec(a), "directional_derivative", "value")),
            Column("steepest", lambda a: _at(_rec(a), "steepest", "value")),
            Column("directional_exact", lambda a: _at(_rec(a), "directional_derivative", "exact")),
            Column("steepest_exact", lambda a: _at(_rec(a), "steepest", "exact")),
            _error_col()]


def _component(a, i: int, *path: str) -> Any:
    return _at(_rec(a), "components", i, *path)


def check_columns(names: Sequence[str], meta: dict) -> list[Column]:
    cols = [*_point_cols(names), Column("passed", lambda a: _at(_rec(a), "passed"))]
    for i, n in enumerate(names):
        cols += [Column(f"exact_{n}", (lambda a, i=i: _component(a, i, "exact", "value"))),
                 Column(f"central_{n}", (lambda a, i=i: _component(a, i, "central", "value"))),
                 Column(f"central_rel_error_{n}", (lambda a, i=i: _component(a, i, "central", "rel_error"))),
                 Column(f"forward_rel_error_{n}", (lambda a, i=i: _component(a, i, "forward", "rel_error"))),
                 Column(f"complex_step_rel_error_{n}",
                        (lambda a, i=i: _component(a, i, "complex_step", "rel_error"))),
                 Column(f"verdict_{n}", (lambda a, i=i: _component(a, i, "verdict")))]
        if meta.get("yours"):
            cols += [Column(f"yours_{n}", (lambda a, i=i: _component(a, i, "yours", "value"))),
                     Column(f"right_{n}", (lambda a, i=i: _component(a, i, "yours", "right")))]
    return [*cols, _error_col()]


def _coordinates_first(schema: Callable[[Sequence[str], dict], list[Column]]):
    """Rows start with the point's coordinates; the expression goes last but one, before
    the error, so that ``cut -f1`` is the first coordinate whatever the command."""
    def columns(names: Sequence[str], meta: dict) -> list[Column]:
        cols = schema(names, meta)
        expr = [c for c in cols if c.name == "expression"]
        rest = [c for c in cols if c.name not in ("expression", "error")]
        return rest + expr + [c for c in cols if c.name == "error"]
    columns.__doc__ = schema.__doc__
    return columns


def _or_symbolic(command: str, schema: Callable[[Sequence[str], dict], list[Column]]):
    """Without points (``meta["symbolic"]``: expressions from stdin, no ``--at``) a row is
    one expression's derivatives in gradlab's syntax: the columns of the same command
    without ``--at`` (:func:`symbolic_columns`), then the error."""
    def columns(names: Sequence[str], meta: dict) -> list[Column]:
        if meta.get("symbolic") and command in SYMBOLIC_COMMANDS:
            return [*symbolic_columns(command, names, int(meta.get("outputs", 1)), _rec),
                    Column("expression", lambda a: a.expression), _error_col()]
        return schema(names, meta)
    columns.__doc__ = schema.__doc__
    return columns


POINT_SCHEMAS: dict[str, Callable[[Sequence[str], dict], list[Column]]] = {
    name: _or_symbolic(name, _coordinates_first(schema)) for name, schema in {
        "eval": eval_columns, "grad": grad_columns, "jacobian": jacobian_columns, "hessian": hessian_columns,
        "directional": directional_columns, "check": check_columns}.items()
}


# --------------------------------------------------------------------------- document schemas
HYPER = ("momentum", "beta1", "beta2", "eps")


def descend_rows(doc: dict) -> tuple[list[dict], list[Column]]:
    names = doc["variables"]
    cols = [Column("optimizer", lambda r: r["optimizer"]), Column("lr", lambda r: r["lr"])]
    cols += [Column(f"start_{n}", (lambda r, i=i: _at(r, "start", i))) for i, n in enumerate(names)]
    cols += [Column(k, (lambda r, k=k: r.get(k))) for k in ("status", "steps")]
    cols += [Column(f"end_{n}", (lambda r, i=i: _at(r, "x", i))) for i, n in enumerate(names)]
    cols += [Column(k, (lambda r, k=k: r.get(k)))
             for k in ("f", "grad_norm", "diverged_at", "distance_to_minimum", "stability_bound", *HYPER)]
    return doc["runs"], cols


def sweep_rows(doc: dict) -> tuple[list[dict], list[Column]]:
    """A sweep's grid, one run a row; the special sweeps one grid cell a row: a stability
    map's (β, lr) run, a mini-batch sweep's rate (its spread over the seeds)."""
    kind = doc.get("kind")
    if kind in SPECIAL_SWEEPS:
        return SPECIAL_SWEEPS[kind](doc)
    cols = [Column(k, (lambda r, k=k: r.get(k))) for k in ("optimizer", "lr", "status", "steps", "f", "stable",
                                                           "predicted_steps")]
    cols += [Column("largest_stable_lr", lambda r: _at(doc, "largest_stable_lr", r["optimizer"])),
             Column("bound", lambda r: _at(doc, "theory", r["optimizer"], "bound"))]
    cols.append(Column("verdict", lambda r: r.get("verdict")))  # converged, settling, unbounded, escaping, …
    return doc["runs"], cols


def stability_map_rows(doc: dict) -> tuple[list[dict], list[Column]]:
    """One row per (β, lr) cell, β by β: its run's status, steps to the tolerance and rate,
    with the row's measured and theoretical edge (as a sweep repeats its answer)."""
    rows = [{"optimizer": doc["optimizer"], "momentum": b, "lr": lr, "status": _at(doc, "status", i, j),
             "steps_to_tol": _at(doc, "steps_to_tol", i, j), "rate": _at(doc, "rate", i, j),
             "edge": _at(doc, "edge", i), "theory_edge": _at(doc, "theory_edge", i)}
            for i, b in enumerate(doc["betas"]) for j, lr in enumerate(doc["lrs"])]
    names = ("optimizer", "momentum", "lr", "status", "steps_to_tol", "rate", "edge", "theory_edge")
    return rows, [Column(k, (lambda r, k=k: r[k])) for k in names]


def mini_batch_rows(doc: dict) -> tuple[list[dict], list[Column]]:
    """One row per rate: the final full f's median and spread over the seeds, how many
    seeds diverged, and whether every seed was stable."""
    seeds = len(doc["seeds"])
    cols = [Column("optimizer", lambda r: doc["optimizer"])]
    cols += [Column(k, (lambda r, k=k: r.get(k))) for k in ("lr", "median_f", "min_f", "max_f", "diverged")]
    cols += [Column("seeds", lambda r: seeds), Column("stable", lambda r: r.get("stable")),
             Column("largest_stable_lr", lambda r: doc.get("largest_stable_lr"))]
    return doc["lrs"], cols


SPECIAL_SWEEPS: dict[str, Callable[[dict], tuple[list[dict], list[Column]]]] = {
    "stability_map": stability_map_rows, "mini_batch": mini_batch_rows,
}


def critical_rows(doc: dict) -> tuple[list[dict], list[Column]]:
    names = doc["variables"]
    cols = [Column(n, (lambda r, i=i: _at(r, "point", i))) for i, n in enumerate(names)]
    cols += [Column("f", lambda r: r.get("f"))]
    cols += [Column(f"eig_{k + 1}", (lambda r, k=k: _at(r, "eigenvalues", k))) for k in range(len(names))]
    cols += [Column("classification", lambda r: r.get("classification")), Column("method", lambda r: r.get("method"))]
    cols += [Column(f"{n}_exact", (lambda r, i=i: _at(r, "point_exact", i))) for i, n in enumerate(names)]
    return doc["points"], cols


def explain_rows(doc: dict) -> tuple[list[dict], list[Column]]:
    rows = [{"step": i + 1, **s} for i, s in enumerate(doc["steps"])]
    rows.append({"step": len(rows) + 1, "rule": "simplify", "expression": doc["unsimplified"], "result": doc["result"]})
    cols = [Column("step", lambda r: r["step"]), Column("rule", lambda r: r["rule"]),
            Column("derivative_of", lambda r: r["expression"]), Column("gives", lambda r: r["result"])]
    return rows, cols


def surfaces_rows(doc: dict) -> tuple[list[dict], list[Column]]:
    """The catalogue, one surface a row; one surface (``surfaces NAME``) adds its start,
    gradient and Hessian, one column per coordinate or entry."""
    rows = doc["surfaces"] if "surfaces" in doc else [doc]
    cols = [Column(k, (lambda r, k=k: r.get(k))) for k in ("name", "dims", "variable_dims", "expression", "lr", "steps")]
    cols += [Column("minima", lambda r: len(r.get("minima") or ())),
             Column("min_f", lambda r: _at(r, "minima", 0, "f", "value")),
             Column("min_f_exact", lambda r: _at(r, "minima", 0, "f", "exact"))]
    if "surfaces" not in doc:
        names = doc["variables"]
        cols += [Column(f"start_{n}", (lambda r, i=i: _at(r, "start", i))) for i, n in enumerate(names)]
        cols += [Column(f"grad_{n}", (lambda r, i=i: _at(r, "gradient", "symbolic", i))) for i, n in enumerate(names)]
        cols += [Column(f"H_{a}_{b}", (lambda r, i=i, j=j: _at(r, "hessian", "symbolic", i, j)))
                 for i, a in enumerate(names) for j, b in enumerate(names)]
    return rows, cols


def symbolic_columns(kind: str, names: Sequence[str], outputs: int, record=lambda r: r) -> list[Column]:
    """The derivatives' columns without a point: ``grad_<v>…``, ``J_<i>_<v>…`` or
    ``H_<v>_<v>…``, each cell gradlab syntax read from ``record(row)``'s ``symbolic``."""
    if kind == "grad":
        return [Column(f"grad_{n}", (lambda r, i=i: _at(record(r), "gradient", "symbolic", i)))
                for i, n in enumerate(names)]
    if kind == "jacobian":
        return [Column(f"J_{k + 1}_{n}", (lambda r, k=k, i=i: _at(record(r), "jacobian", "symbolic", k, i)))
                for k in range(outputs) for i, n in enumerate(names)]
    return [Column(f"H_{a}_{b}", (lambda r, i=i, j=j: _at(record(r), "hessian", "symbolic", i, j)))
            for i, a in enumerate(names) for j, b in enumerate(names)]


def symbolic_rows(doc: dict) -> tuple[list[dict], list[Column]]:
    """``grad``, ``jacobian``, ``hessian`` without a point: one row of derivatives in
    gradlab's syntax (``grad_<v>``, ``J_<i>_<v>``, ``H_<v>_<v>``), then the expression and
    the error (``NA``: the columns of many expressions read from stdin)."""
    names, kind = doc["variables"], doc["command"]
    cols = symbolic_columns(kind, names, len(doc.get("outputs") or ()))
    return [doc], [*cols, Column("expression", lambda r: r["expression"]), Column("error", lambda r: None)]


SYMBOLIC_COMMANDS = ("grad", "jacobian", "hessian")


DOC_SCHEMAS: dict[str, Callable[[dict], tuple[list[dict], list[Column]]]] = {
    "descend": descend_rows, "sweep": sweep_rows, "critical": critical_rows, "explain": explain_rows,
    "surfaces": surfaces_rows,
}


# --------------------------------------------------------------------------- writers
def delimited(rows: Iterable[Any], columns: Sequence[Column], kind: str, header: bool = True) -> Iterable[str]:
    """csv (RFC 4180 quoting), tsv or plain (tsv without a header) lines, one per row."""
    if kind == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")

        def line(cells):
            buf.seek(0)
            buf.truncate()
            w.writerow(cells)
            return buf.getvalue()
    else:
        def line(cells):
            return "\t".join(cells) + "\n"
    if header and kind != "plain":
        yield line([c.name for c in columns])
    rows = rows if isinstance(rows, (list, tuple)) else list(rows)
    for start in range(0, len(rows), CHUNK):
        chunk = rows[start:start + CHUNK]
        # column by column: a column of floats (most of them) is written by one map of float.__repr__
        texts = [column_texts([c.get(r) for r in chunk]) for c in columns]
        if kind == "csv":
            yield "".join(line(cells) for cells in zip(*texts))
        else:
            yield "".join(["\t".join(cells) + "\n" for cells in zip(*texts)])


CHUNK = 512  # rows written at a time: a closed pipe is noticed early, memory stays flat


def column_texts(values: list) -> list[str]:
    """The cells of one column as :func:`cell_text` writes them, fast for the common
    columns (all floats, all ints, all missing).

    >>> column_texts([0.1, float("inf")]), column_texts([1, None, True])
    (['0.1', 'inf'], ['1', 'NA', 'true'])
    """
    kinds = set(map(type, values))
    if kinds == {float}:
        return list(map(float.__repr__, values))
    if kinds == {int}:
        return list(map(int.__repr__, values))
    if kinds == {type(None)}:
        return [NA] * len(values)
    return [cell_text(v) for v in values]


def stable_keys(record: dict) -> dict:
    """The JSON record with stable keys: every run has every key any run has, in one
    order, null where it does not apply (an optimizer's hyper-parameters, bfgs's line
    search on a gd run), and the hyper-parameters always.

    >>> stable_keys({"command": "descend", "runs": [{"optimizer": "gd"}]})["runs"]
    [{'optimizer': 'gd', 'momentum': None, 'beta1': None, 'beta2': None, 'eps': None}]
    >>> [list(r) for r in stable_keys({"command": "descend", "runs": [
    ...     {"optimizer": "gd", "lr": 0.1}, {"optimizer": "bfgs", "line_search": "wolfe", "lr": 1.0}]})["runs"]]
    ... # doctest: +NORMALIZE_WHITESPACE
    [['optimizer', 'lr', 'momentum', 'beta1', 'beta2', 'eps', 'line_search'],
     ['optimizer', 'lr', 'momentum', 'beta1', 'beta2', 'eps', 'line_search']]
    """
    if record.get("command") in ("descend", "sweep") and isinstance(record.get("runs"), list):
        runs = [{**r, **{k: r.get(k) for k in HYPER}} for r in record["runs"]]
        order = list(dict.fromkeys(k for r in runs for k in r))
        record = {**record, "runs": [r if len(r) == len(order) and list(r) == order else
                                     {k: r.get(k) for k in order} for r in runs]}
    return record


def jsonl_lines(records: Iterable[dict], ascii: bool = False) -> Iterable[str]:
    """One strict JSON object per line."""
    from gradlab.render.output import json_safe

    for rec in records:
        try:  # the common case, all finite: no need to walk the record
            yield json.dumps(rec, allow_nan=False, ensure_ascii=ascii, separators=(",", ":")) + "\n"
        except ValueError:
            yield json.dumps(json_safe(rec), allow_nan=False, ensure_ascii=ascii, separators=(",", ":")) + "\n"


def doc_jsonl_records(doc: dict) -> list[dict]:
    """A document's JSONL lines: one per run (descend, sweep) or critical point, each
    carrying the command and expression; other documents are one line."""
    if doc.get("kind") in SPECIAL_SWEEPS:  # a grid of cells (or rates), not of runs
        rows, _ = SPECIAL_SWEEPS[doc["kind"]](doc)
        head = {k: doc.get(k) for k in ("command", "kind", "surface", "expression", "optimizer")}
        return [{**head, **r} for r in rows]
    key = {"descend": "runs", "sweep": "runs", "critical": "points"}.get(doc.get("command", ""))
    if key is None:
        return [doc]
    head = {"command": doc["command"], "expression": doc.get("expression"), "variables": doc.get("variables")}
    return [{**head, **r} for r in doc[key]]


# --------------------------------------------------------------------------- LaTeX
def _tex(expr: Any) -> str:
    import sympy

    return sympy.latex(expr)


def _vector(items: Sequence[str]) -> str:
    return r"\begin{pmatrix} " + r" \\ ".join(items) + r" \end{pmatrix}"


def _matrix(rows: Sequence[Sequence[str]]) -> str:
    return r"\begin{pmatrix} " + r" \\ ".join(" & ".join(r) for r in rows) + r" \end{pmatrix}"


def _point_tex(point: Sequence[Any]) -> str:
    return r"\left(" + ", ".join(_tex(p) for p in point) + r"\right)"


def latex(result: Any) -> list[str]:
    """Display-math lines (no delimiters) for grad, jacobian, hessian and explain results.

    Each line is one equation, valid LaTeX (amsmath's ``pmatrix`` for vectors and
    matrices).
    """
    kind = type(result).__name__
    if kind == "GradResult":
        lines = [r"\nabla f = " + _vector([_tex(p) for p in result.partials])]
        if result.values is not None:
            lines.append(r"\nabla f" + _point_tex(result.point) + " = " + _vector([_tex(v.exact) for v in result.values]))
            lines.append(r"\left\|\nabla f" + _point_tex(result.point) + r"\right\| = " + _tex(result.norm.exact))
        return lines
    if kind in ("JacobianResult", "HessianResult"):
        name = "J" if kind == "JacobianResult" else "H"
        lines = [f"{name} = " + _matrix([[_tex(e) for e in row] for row in result.matrix])]
        if result.values is not None:
            lines.append(f"{name}" + _point_tex(result.point) + " = "
                         + _matrix([[_tex(v.exact) for v in row] for row in result.values]))
        return lines
    if kind == "Explanation":
        x = result.wrt
        d = r"\frac{\partial}{\partial " + x + "}"
        lines = [d + r"\left[" + _tex(s.expression) + r"\right] = " + _tex(s.result) for s in result.steps]
        lines.append(r"\frac{\partial f}{\partial " + x + "} = " + _tex(result.result))
        return lines
    raise TypeError(kind)


LATEX_COMMANDS = ("grad", "jacobian", "hessian", "explain")

#: Every command that prints a result writes these; ``auto`` is a table on a terminal, plain when piped.
STREAM_FORMATS = ("auto", "table", "plain", "json", "jsonl")


def command_formats(command: str) -> tuple[str, ...]:
    """The ``--format`` values ``command`` writes, in the order its help lists them: the
    one list its help is written from and its check refuses the others by.

    >>> command_formats("hessian")
    ('auto', 'table', 'plain', 'json', 'jsonl', 'csv', 'tsv', 'latex')
    >>> command_formats("taylor")
    ('auto', 'table', 'plain', 'json', 'jsonl')
    """
    kinds = STREAM_FORMATS
    if command in POINT_SCHEMAS or command in DOC_SCHEMAS:
        kinds += ("csv", "tsv")
    if command in LATEX_COMMANDS:
        kinds += ("latex",)
    return kinds
