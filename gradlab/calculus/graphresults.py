"""What ``backprop`` reports: each node at the point (value, adjoint, tangent), each edge
(local derivative and its contribution), the self-check, the cost of forward against
reverse mode, and :class:`BackpropResult`, which holds them with the gradient, its closed
forms and the paths of ``--why``; its ``to_record()`` is the JSON, its ``view()`` the table.

>>> c = Cost(inputs=3, entries=10)
>>> c.to_record()["forward"], c.to_record()["reverse"]
({'passes': 3, 'multiply_adds': 30}, {'passes': 1, 'multiply_adds': 10})
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import sympy

from gradlab.calculus.closedforms import ClosedForm
from gradlab.calculus.derivatives import Value
from gradlab.calculus.graph import Comps, Graph, Node, steps_text
from gradlab.calculus.graphtext import gradient_record, point_exact_record, point_record, point_text, shapes_record
from gradlab.calculus.nodemath import VJP
from gradlab.calculus.parsing import to_text
from gradlab.calculus.paths import Path
from gradlab.calculus.shapes import Shape, nest
from gradlab.calculus.values import PRECISION, close, exact_value, hp, number, same
from gradlab.present import Presentable

@dataclass(frozen=True)
class NodeResult:
    """One node at the point: value, adjoint ∂out/∂node (reverse mode) and tangent
    (forward mode), each per component as exact/float :class:`Value`."""

    node: Node
    value: tuple[Value, ...]
    adjoint: tuple[Value, ...] | None = None
    tangent: tuple[Value, ...] | None = None

    def to_record(self) -> dict[str, Any]:
        n = self.node
        rec: dict[str, Any] = {"name": n.name, "op": n.op, "inputs": list(n.inputs), "label": n.label,
                               "shape": list(n.shape),
                               "value": nest([v.value for v in self.value], n.shape),
                               "value_exact": nest([str(v.exact) for v in self.value], n.shape)}
        for key, vals in (("adjoint", self.adjoint), ("tangent", self.tangent)):
            if vals is not None:
                rec[key] = nest([v.value for v in vals], n.shape)
                rec[f"{key}_exact"] = nest([str(v.exact) for v in vals], n.shape)
        return rec


@dataclass(frozen=True)
class EdgeResult:
    """The edge ``source → target`` (input ``slot`` of target): its local derivative as a
    formula in node names, its value (scalar edges), and in reverse mode its contribution
    adjoint(target)·∂target/∂source to the source's adjoint."""

    source: str
    target: str
    slot: int
    local: str
    local_value: Value | None
    contribution: tuple[Value, ...] | None
    source_shape: Shape = ()

    def to_record(self) -> dict[str, Any]:
        rec: dict[str, Any] = {"source": self.source, "target": self.target, "local": self.local,
                               "local_value": self.local_value.value if self.local_value else None,
                               "local_exact": str(self.local_value.exact) if self.local_value else None}
        if self.contribution is not None:
            rec["contribution"] = nest([v.value for v in self.contribution], self.source_shape)
        return rec



@dataclass(frozen=True)
class SelfCheck:
    """Whether the leaves' adjoints equal SymPy's exact gradient of the composed function
    (``passed`` None: skipped, ``method`` says why)."""

    passed: bool | None
    method: str

    def to_record(self) -> dict[str, Any]:
        return {"passed": self.passed, "method": self.method}

    def note(self) -> str:
        if self.passed is None:
            return f"self-check skipped: {self.method}"
        verdict = "=" if self.passed else "DIFFER FROM"
        return f"self-check: the leaves' adjoints {verdict} SymPy's gradient of the composed function ({self.method})"


def _fmt(v: Value) -> str:
    """A short number for a table cell: exact when it is a short fraction."""
    e = v.exact
    if e.is_Integer:
        return str(e)
    if e.is_Rational and len(str(e)) <= 12:
        return f"{e} = {v.value:.6g}"
    return f"{v.value:.10g}"


def _paren(text: str) -> str:
    return f"({text})" if text.startswith("-") else text


def _short(v: Value) -> str:
    return str(v.exact) if v.exact.is_Rational and len(str(v.exact)) <= 8 else f"{v.value:.4g}"


def _cell(vals: Sequence[Value] | None):
    if vals is None:
        return None
    if len(vals) == 1:
        return _fmt(vals[0])
    return tuple(v.value for v in vals)


def _matrix_cells(vals: Sequence[Value] | None, shape: Shape) -> list:
    """A node's cells for the table: one per matrix row, else the one :func:`_cell`."""
    if len(shape) != 2 or shape[0] == 1:
        return [_cell(vals)]
    if vals is None:
        return [None] * shape[0]
    n = shape[1]
    return [tuple(v.value for v in vals[i * n:(i + 1) * n]) for i in range(shape[0])]


def _plain(vals: Sequence[Value] | None):
    if vals is None:
        return None
    return vals[0].value if len(vals) == 1 else tuple(v.value for v in vals)



@dataclass(frozen=True)
class Cost:
    """What the gradient costs: n inputs (scalar components), E local-derivative entries
    (multiply-adds per pass). Forward mode needs n passes, reverse mode one."""

    inputs: int
    entries: int

    def to_record(self) -> dict[str, Any]:
        return {"inputs": self.inputs, "entries": self.entries,
                "forward": {"passes": self.inputs, "multiply_adds": self.inputs * self.entries},
                "reverse": {"passes": 1, "multiply_adds": self.entries}}

    def notes(self) -> tuple[str, ...]:
        n, e = self.inputs, self.entries
        return (f"cost of the whole gradient ({n} input{'s' if n != 1 else ''}, {e} local-derivative entries, scalar output):",
                f"  forward mode: {n} pass{'es' if n != 1 else ''} (one per input direction eᵢ), {n * e} multiply-adds",
                f"  reverse mode: 1 backward pass after the forward pass, {e} multiply-adds")


@dataclass(frozen=True)
class BackpropResult(Presentable):
    """A graph evaluated at a point: every node (value, adjoint, tangent), every edge
    (local derivative, contribution), the gradient of the output with respect to
    ``wrt`` (symbolic, exact, float, in each variable's shape), the self-check, closed
    matrix forms, and optionally forward-mode tangents with ``cost`` and the paths of
    ``why``."""

    graph: Graph
    point: Mapping[str, Comps]
    nodes: tuple[NodeResult, ...]
    edges: tuple[EdgeResult, ...]
    wrt: tuple[str, ...]
    symbolic: tuple[Comps, ...]
    gradient: tuple[tuple[Value, ...], ...]
    self_check: SelfCheck
    cost: Cost
    closed_forms: tuple[ClosedForm, ...] = ()
    mode: str = "reverse"
    direction: Mapping[str, Comps] | None = None
    why: str | None = None
    paths: tuple[Path, ...] = ()
    warnings: tuple[str, ...] = ()

    def node(self, name: str) -> NodeResult:
        return next(n for n in self.nodes if n.node.name == name)

    def to_record(self) -> dict[str, Any]:
        g = self.graph
        rec: dict[str, Any] = {
            "command": "backprop", "expression": g.text, "output": g.output, "mode": self.mode,
            "inputs": list(g.leaves),
            "shapes": shapes_record(g),
            "point": point_record(g, self.point),
            "point_exact": point_exact_record(g, self.point),
            "variables": list(self.wrt),
            "nodes": [n.to_record() for n in self.nodes],
            "edges": [e.to_record() for e in self.edges],
            "gradient": gradient_record(g, self.wrt, self.symbolic, self.gradient),
            "self_check": self.self_check.to_record(),
            "closed_forms": [c.to_record() for c in self.closed_forms],
            "cost": self.cost.to_record(),
        }
        if self.direction is not None:
            rec["direction"] = point_record(g, self.direction)
            rec["direction_exact"] = point_exact_record(g, self.direction)
        if self.why is not None:
            adj = self.node(self.why).adjoint[0]
            rec["why"] = {"node": self.why, "adjoint": {"exact": str(adj.exact), "value": adj.value},
                          "paths": [p.to_record() for p in self.paths]}
        return rec

    def view(self):
        from gradlab.views import View

        if self.why is not None:
            return self._why_view()
        g, out = self.graph, self.graph.output
        at = point_text(g, self.point)
        forward = self.mode == "forward"
        rows, plain = [], []
        for n in self.nodes:
            node = n.node
            definition = "input" if node.is_leaf else node.label
            second = n.tangent if forward else n.adjoint
            values, seconds = _matrix_cells(n.value, node.shape), _matrix_cells(second, node.shape)
            # a matrix one row per line, as W is written (a 3×4 W's adjoint is 3 rows of 4, not 12 numbers)
            for i, (v, a) in enumerate(zip(values, seconds)):
                head = (node.name, definition) if i == 0 else ("", "")
                rows.append((*head, v, a) if forward else (*head, v, a, self._sum(node.name) if i == 0 else ""))
            plain.append((node.name, node.op, ",".join(node.inputs), _plain(n.value), _plain(second)))
        notes: list[str] = []
        if forward:
            cols = ("node", "definition", "value", "tangent ṅ")
            title = f"forward mode along v {at}: {self._definition()}"
            t_out = self.node(out).tangent
            if t_out is not None and len(t_out) == 1:
                ok = self._tangent_is_dot(t_out[0])
                notes.append(f"tangent of {out} = ∇{out}·v = {_short(t_out[0])}"
                             f" ({'equals' if ok else 'DIFFERS FROM'} the reverse-mode gradient dotted with v)")
            notes.extend(self.cost.notes())
        else:
            cols = ("node", "definition", "value", f"∂{out}/∂node", f"= Σ ∂{out}/∂consumer × local")
            title = f"backprop {at}: {self._definition()}"
            for e in self.edges:
                if e.local.startswith(VJP):
                    notes.append(f"∂{out}/∂{e.source} gets {e.local[len(VJP):]} from {e.target} "
                                 f"(ḡ = ∂{out}/∂{e.target}, a {VJP[:-2]})")
                    continue
                val = f" = {_short(e.local_value)}" if e.local_value is not None else ""
                val = "" if val == f" = {e.local}" else val
                notes.append(f"∂{e.target}/∂{e.source} = {e.local}{val}")
            notes.append(self.self_check.note())
        notes.extend(c.note() for c in self.closed_forms)
        return View(title, cols, tuple(rows), notes=tuple(notes), plain_cells=tuple(plain))

    def _tangent_is_dot(self, tangent: Value) -> bool:
        """Whether the output's tangent equals ∇out·v, the adjoints of every leaf (not only
        the ``wrt`` ones: v may move the others) dotted with v; exactly where the forms are
        exact, else to 12 digits."""
        pairs = [(a, number(v)) for name in self.graph.leaves
                 for a, v in zip(self.node(name).adjoint, self.direction.get(name, (0,) * len(self.node(name).value)))]
        if tangent.exact is not None and all(a.exact is not None for a, _ in pairs):
            return same(tangent.exact, sympy.Add(*(a.exact * v for a, v in pairs)))
        return math.isclose(tangent.value, sum(a.value * float(v) for a, v in pairs), rel_tol=1e-12, abs_tol=1e-300)

    def _definition(self) -> str:
        text = steps_text(self.graph.text)
        if "=" not in text:
            text = f"{self.graph.output} = {text}"
        return text if len(text) <= 60 else text[:57] + "…"

    def _sum(self, name: str) -> str:
        if name == self.graph.output:
            return "1 (the seed)"
        parts = []
        for e in self.edges:
            if e.source != name:
                continue
            adj = self.node(e.target).adjoint
            if e.local_value is not None and adj is not None and len(adj) == 1:
                parts.append(f"{_paren(_short(adj[0]))} × {_paren(_short(e.local_value))}")
            else:
                parts.append(f"(∂{e.target}/∂{name})ᵀ·∂{self.graph.output}/∂{e.target}")
        return " + ".join(parts) if parts else "0 (unused)"

    def _why_view(self):
        from gradlab.views import View

        out, name = self.graph.output, self.why
        adj = self.node(name).adjoint[0]
        rows = tuple((" → ".join(p.nodes), " · ".join(_local_cell(s, v) for s, v in zip(p.locals, p.values)),
                      to_text(p.symbolic),
                      _fmt(p.product)) for p in self.paths)
        plain = tuple((" > ".join(p.nodes), to_text(p.symbolic), p.product.value) for p in self.paths)
        total = sympy.Add(*(p.product.exact for p in self.paths))
        approx = sympy.Add(*(p.approx for p in self.paths))
        ok = close(approx, hp(adj.exact) if adj.exact.is_Rational else sympy.Float(adj.value, PRECISION), 14)
        terms = [_short(p.product) if k == 0 else _paren(_short(p.product)) for k, p in enumerate(self.paths)]
        notes = (f"sum over the {len(self.paths)} path{'s' if len(self.paths) != 1 else ''}: "
                 f"{' + '.join(terms) or '0'} = {_short(exact_value(total, 'the sum', approx))}",
                 f"∂{out}/∂{name} from the backward pass = {_fmt(adj)} ({'equal' if ok else 'NOT EQUAL'})")
        return View(f"why ∂{out}/∂{name}: the sum over paths {name} → {out} of the products of local derivatives",
                    ("path", "local derivatives", "product", "value"), rows, notes=notes, plain_cells=plain)


def _local_cell(formula: str, value: float) -> str:
    shown = f"{value:.4g}"
    return f"({formula})" if formula == shown else f"({formula} = {shown})"
