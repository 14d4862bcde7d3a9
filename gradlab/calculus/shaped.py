"""``grad`` and ``jacobian`` of functions of vectors and matrices (``--shape``), reported
in each variable's shape, with the textbook matrix forms that check out on the
components; ``hessian`` and ``check`` get the function flattened over its components.

>>> from gradlab.calculus.graph import build
>>> parsed, point = flattened(build("sum(x**2)", {"x": (2,)}), {"x": (1, 2)}, "hessian")
>>> parsed.variables, point
((x[0], x[1]), (1, 2))
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import sympy

from gradlab.calculus import derivatives as d
from gradlab.calculus.closedforms import ClosedForm, closed_forms, jacobian_forms
from gradlab.calculus.derivatives import Value
from gradlab.calculus.graph import Comps, Graph, wrt_names
from gradlab.calculus.graphtext import gradient_record, point_exact_record, point_record, point_text, shapes_record
from gradlab.calculus.parsing import to_text
from gradlab.calculus.passes import backward, compose, forward, hp_point, local_jacobians, point_map
from gradlab.calculus.shapes import Shape, component_name, shape_text, size
from gradlab.calculus.values import exact_value, exact_values, hp
from gradlab.errors import BadInput, LimitExceeded
from gradlab.present import Presentable

MAX_JACOBIAN_CELLS = 10_000
MAX_FLAT = {"hessian": 60, "check": 1_000}  # components SymPy differentiates one by one


def _need_scalar(graph: Graph, command: str, hint: str = "") -> None:
    out = graph.node(graph.output)
    if out.shape:
        raise BadInput(f"{command} needs a scalar function; {out.name} has shape {shape_text(out.shape)} "
                       f"(wrap it in sum(...) or mean(...){hint})", "expression")


def _shaped_head(command: str, graph: Graph, point: Mapping[str, Comps] | None, wrt: Sequence[str]) -> dict[str, Any]:
    rec: dict[str, Any] = {"command": command, "expression": graph.text, "variables": list(wrt),
                           "inputs": list(graph.leaves), "shapes": shapes_record(graph)}
    if point is not None:
        rec["point"] = point_record(graph, point)
        rec["point_exact"] = point_exact_record(graph, point)
    return rec


def _matrix_rows(label: str, shape: Shape, cells: Sequence) -> list[tuple]:
    """A variable's cells laid out in its shape: one table row per matrix row."""
    if len(shape) == 2:
        m, n = shape
        return [(f"{label}[{i},:]" if m > 1 else label, *cells[i * n:(i + 1) * n]) for i in range(m)]
    return [(label, *cells)]


@dataclass(frozen=True)
class ShapedGradResult(Presentable):
    """The gradient of a scalar function of shaped variables: for each variable in
    ``wrt``, its partial derivatives component by component (``symbolic``; ``values``
    at the point), in the variable's shape; ``closed_forms`` are textbook matrix forms
    verified on those components."""

    graph: Graph
    wrt: tuple[str, ...]
    symbolic: tuple[Comps, ...]
    point: Mapping[str, Comps] | None = None
    values: tuple[tuple[Value, ...], ...] | None = None
    norm: Value | None = None
    closed_forms: tuple[ClosedForm, ...] = ()
    warnings: tuple[str, ...] = ()

    def to_record(self) -> dict[str, Any]:
        rec = _shaped_head("grad", self.graph, self.point, self.wrt)
        rec["gradient"] = gradient_record(self.graph, self.wrt, self.symbolic, self.values)
        if self.norm is not None:
            rec["norm"] = {"exact": str(self.norm.exact), "value": self.norm.value}
        rec["closed_forms"] = [c.to_record() for c in self.closed_forms]
        return rec

    def view(self):
        from gradlab.views import View

        out = self.graph.output
        if all(not self.graph.node(w).shape for w in self.wrt):
            return self._scalar_view()
        rows: list[tuple] = []
        plain: list[tuple] = []
        for k, w in enumerate(self.wrt):
            shape = self.graph.node(w).shape
            cells = [v.value for v in self.values[k]] if self.values is not None else [to_text(e) for e in self.symbolic[k]]
            for c in self.closed_forms:
                if c.variable == w:
                    rows.extend((name, *vals) for name, vals in c.rows)
            label = f"∂{out}/∂{w}" + (" = ŷ − y" if any(c.variable == w and c.rows for c in self.closed_forms) else "")
            rows.extend(_matrix_rows(label, shape, cells))
            plain.extend(_matrix_rows(f"∂{out}/∂{w}", shape, cells))
        width = max(len(r) for r in rows)
        cols = ("", *[str(j) for j in range(width - 1)])
        padded = tuple(r + (None,) * (width - len(r)) for r in rows)
        at = f" {point_text(self.graph, self.point)}" if self.point is not None else ""
        notes = [c.note() for c in self.closed_forms]
        if self.norm is not None:
            notes.append(f"‖∇{out}‖ = {self.norm.value!r}")
        notes.append(f"each block has its variable's shape ({', '.join(f'{w}: {shape_text(self.graph.node(w).shape)}' for w in self.wrt)}); "
                     "exact values and symbolic forms: --format json")
        return View(f"∇{out}{at} for {out} = {self.graph.text}", cols, padded, notes=tuple(notes),
                    plain_cells=tuple(plain))

    def _scalar_view(self):
        from gradlab.views import View

        out = self.graph.output
        if self.values is None:
            rows = tuple((w, to_text(s[0])) for w, s in zip(self.wrt, self.symbolic))
            return View(f"∇{out} for {out} = {self.graph.text}", ("variable", f"∂{out}/∂variable"), rows)
        rows = tuple((w, to_text(s[0]), str(v[0].exact), v[0].value) for w, s, v in zip(self.wrt, self.symbolic, self.values))
        return View(f"∇{out} {point_text(self.graph, self.point)} for {out} = {self.graph.text}",
                    ("variable", f"∂{out}/∂variable", "exact", "value"), rows, plain=(0, 1, 3),
                    notes=(f"‖∇{out}‖ over {', '.join(self.wrt)} = {self.norm.exact} ≈ {self.norm.value!r}",))


def shaped_grad(graph: Graph, point: Mapping[str, Comps] | None, wrt: str | Sequence[str] | None = None) -> ShapedGradResult:
    """∂out/∂v for each variable v, on the components, in v's shape (reverse mode).

    >>> from gradlab.calculus.graph import build
    >>> g = build("sum(W@x)", {"W": (2, 2), "x": (2,)})
    >>> r = shaped_grad(g, None, "W")
    >>> [str(e) for e in r.symbolic[0]]
    ['x[0]', 'x[1]', 'x[0]', 'x[1]']
    """
    _need_scalar(graph, "grad", ", or use jacobian")
    names = wrt_names(graph, wrt)
    syms, composed = compose(graph)
    sym_adj, _ = backward(graph, composed, local_jacobians(graph, composed))
    symbolic = tuple(sym_adj[w] for w in names)
    if point is None:
        return ShapedGradResult(graph, names, symbolic)
    exact = forward(graph, point)
    adj, _ = backward(graph, exact, local_jacobians(graph, exact))
    if all(v.is_Rational for comps in (*exact.values(), *adj.values()) for v in comps):
        approx, adj_hp = exact, adj  # rational all the way: the floats come straight from the fractions
    else:
        approx = forward(graph, hp_point(graph, point))
        adj_hp, _ = backward(graph, approx, local_jacobians(graph, approx))
    for n in graph.nodes:
        if not n.is_leaf:
            exact_values(exact[n.name], f"node {n.label}", approx[n.name])  # undefined anywhere: exit 1, naming where
    values = tuple(exact_values(adj[w], f"∂{graph.output}/∂{w}", adj_hp[w]) for w in names)
    square = sympy.Add(*(v.exact * v.exact for vs in values for v in vs))
    approx_square = square if square.is_Rational else sympy.Add(*(hp(a) * hp(a) for w in names for a in adj_hp[w]))
    norm = exact_value(sympy.sqrt(square), "the gradient's norm", sympy.sqrt(hp(approx_square)))
    closed = closed_forms(graph, names, exact, adj)
    warnings = d.kink_warnings([composed[graph.output][0]], point_map(graph, point)) if size_of(graph) <= 500 else ()
    return ShapedGradResult(graph, names, symbolic, dict(point), values, norm, closed, warnings)


def size_of(graph: Graph) -> int:
    """The scalar components of all the leaves together."""
    return sum(size(graph.node(n).shape) for n in graph.leaves)


@dataclass(frozen=True)
class ShapedJacobianResult(Presentable):
    """The Jacobian of a (vector or matrix) output with respect to the components of
    ``wrt``: rows = the output's components, columns = the variables' components
    (numerator layout); ``closed_forms`` name it where a textbook form is verified."""

    graph: Graph
    wrt: tuple[str, ...]
    rows: tuple[str, ...]
    columns: tuple[str, ...]
    matrix: tuple[tuple[sympy.Expr, ...], ...]
    point: Mapping[str, Comps] | None = None
    values: tuple[tuple[Value, ...], ...] | None = None
    closed_forms: tuple[ClosedForm, ...] = ()
    warnings: tuple[str, ...] = ()

    def to_record(self) -> dict[str, Any]:
        rec = _shaped_head("jacobian", self.graph, self.point, self.wrt)
        rec["outputs"] = list(self.rows)
        rec["columns"] = list(self.columns)
        jac: dict[str, Any] = {"shape": [len(self.rows), len(self.columns)],
                               "symbolic": [[to_text(e) for e in r] for r in self.matrix]}
        if self.values is not None:
            jac["exact"] = [[str(v.exact) for v in r] for r in self.values]
            jac["value"] = [[v.value for v in r] for r in self.values]
        rec["jacobian"] = jac
        rec["closed_forms"] = [c.to_record() for c in self.closed_forms]
        return rec

    def view(self):
        from gradlab.views import View

        m, n = len(self.rows), len(self.columns)
        if self.values is not None:
            body = [[v.value for v in r] for r in self.values]
        else:
            body = [[to_text(e) for e in r] for r in self.matrix]
        rows = tuple((lab, *r) for lab, r in zip(self.rows, body))
        at = f" {point_text(self.graph, self.point)}" if self.point is not None else ""
        notes = tuple(c.note() for c in self.closed_forms) or ("rows = outputs, columns = variables (numerator layout)",)
        return View(f"Jacobian ({m}×{n}){at} of {self.graph.text}", ("", *self.columns), rows, notes=notes,
                    plain_cells=tuple(tuple(r) for r in body))


def shaped_jacobian(graph: Graph, point: Mapping[str, Comps] | None, wrt: str | Sequence[str] | None = None) -> ShapedJacobianResult:
    """The Jacobian of the output's components with respect to ``wrt``'s components,
    differentiated by SymPy on the composed components.

    >>> from gradlab.calculus.graph import build
    >>> g = build("W@x + b", {"W": (2, 2), "x": (2,), "b": (2,)})
    >>> r = shaped_jacobian(g, None, "x")
    >>> r.matrix, r.closed_forms[0].formula
    (((W[0,0], W[0,1]), (W[1,0], W[1,1])), 'J = W')
    """
    names = wrt_names(graph, wrt)
    out = graph.node(graph.output)
    syms, composed = compose(graph)
    cols = [s for w in names for s in syms[w]]
    outs = composed[out.name]
    if len(outs) * len(cols) > MAX_JACOBIAN_CELLS:
        raise LimitExceeded(f"the Jacobian has {len(outs)}×{len(cols)} entries; the limit is {MAX_JACOBIAN_CELLS} "
                            "(choose fewer variables with --wrt)", "expression")
    matrix = tuple(tuple(d.derivative(o, c) for c in cols) for o in outs)
    rows = tuple(component_name(out.name, out.shape, i) for i in range(len(outs)))
    colnames = tuple(c.name for c in cols)
    values = None
    pm = None
    if point is not None:
        pm = point_map(graph, point)
        for o in outs:
            d.evaluate(o, pm, f"the output {out.name}")
        values = tuple(tuple(d.evaluate(e, pm, "a partial derivative") for e in r) for r in matrix)
    forms = jacobian_forms(graph, names, syms, composed, matrix, values, pm)
    warnings = d.kink_warnings(list(outs), pm) if pm is not None else ()
    return ShapedJacobianResult(graph, names, rows, colnames, matrix, dict(point) if point else None, values, forms, warnings)



def flattened(graph: Graph, point: Mapping[str, Comps] | None, command: str):
    """The scalar function as an ordinary :class:`~gradlab.parsing.Parsed` over every
    component (for hessian and check), and the point flattened likewise."""
    from gradlab.calculus.parsing import Parsed

    _need_scalar(graph, command)
    out = graph.node(graph.output)
    n = size_of(graph)
    if n > MAX_FLAT[command]:
        raise LimitExceeded(f"{command} on {n} components; the limit is {MAX_FLAT[command]}", "--shape")
    syms, composed = compose(graph)
    variables = tuple(s for name in graph.leaves for s in syms[name])
    parsed = Parsed(graph.text, (composed[out.name][0],), variables)
    flat = tuple(v for name in graph.leaves for v in point[name]) if point is not None else None
    return parsed, flat
