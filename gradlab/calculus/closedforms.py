"""Textbook matrix forms of derivatives (δ·xᵀ, Wᵀ·δ, ŷ − y, diag(s) − s·sᵀ, J = W), each
shown only once it is verified on the components the graph computed: a form is a claim
to check, never an answer to trust (SymPy's matrix calculus silently returns 0 for some
inputs).

>>> from gradlab.calculus.graph import build
>>> from gradlab.calculus.passes import backward, forward, local_jacobians
>>> g = build("L = cross_entropy(z, 0)", {"z": (2,)})
>>> exact = forward(g, {"z": (0, 0)})
>>> adj, _ = backward(g, exact, local_jacobians(g, exact))
>>> [(c.formula, c.verified) for c in closed_forms(g, ("z",), exact, adj)]
[('∂L/∂z = ŷ − y, ŷ = softmax(z), y = onehot(0)', True)]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import sympy

from gradlab.calculus import derivatives as d
from gradlab.calculus.derivatives import Value
from gradlab.calculus.graph import Comps, Graph, Node
from gradlab.calculus.nodemath import apply
from gradlab.calculus.shapes import shape_text
from gradlab.calculus.values import same

@dataclass(frozen=True)
class ClosedForm:
    """A textbook matrix form of a derivative, verified on the components."""

    variable: str
    formula: str
    layout: str
    verified: bool
    detail: str = ""
    rows: tuple[tuple[str, tuple[float, ...]], ...] = ()  # named vectors the form is made of (ŷ, y)

    def to_record(self) -> dict[str, Any]:
        rec = {"variable": self.variable, "formula": self.formula, "layout": self.layout,
               "verified": self.verified, "detail": self.detail}
        rec.update({name.split(" = ")[0]: list(vals) for name, vals in self.rows})
        return rec

    def note(self) -> str:
        mark = "verified on every component" if self.verified else "NOT confirmed on the components"
        return f"{self.formula} ({self.layout}; {mark}){'; ' + self.detail if self.detail else ''}"


# --------------------------------------------------------------------------- closed matrix forms
def closed_forms(graph: Graph, wrt: Sequence[str], exact: Mapping[str, Comps],
                 adj: Mapping[str, Comps]) -> tuple[ClosedForm, ...]:
    """The textbook forms of ∂out/∂v for a variable used once, by a matmul, softmax or
    cross-entropy, each compared with the components the backward pass computed."""
    out = graph.output
    forms = []
    for v in wrt:
        node = graph.node(v)
        cons = graph.consumers(v)
        if len(cons) != 1 or not node.shape:
            continue
        c, k = cons[0]
        layout = f"denominator layout: the gradient has the shape of {v}, {shape_text(node.shape)}"
        delta = adj[c.name]
        if c.op == "@" and k == 0 and len(node.shape) == 2:
            other = c.inputs[1]
            x = exact[other]
            m, n = node.shape
            p = len(x) // n
            want = [sympy.Add(*(delta[i * p + q] * x[j * p + q] for q in range(p))) for i in range(m) for j in range(n)]
            forms.append(ClosedForm(v, f"∂{out}/∂{v} = δ·{other}ᵀ with δ = ∂{out}/∂({c.label})", layout,
                                    all_same(want, adj[v]), f"δ = {brief(delta)}"))
        elif c.op == "@" and k == 1 and len(graph.node(c.inputs[0]).shape) == 2 and len(node.shape) == 1:
            a = c.inputs[0]
            A = exact[a]
            m, n = graph.node(a).shape
            want = [sympy.Add(*(A[i * n + j] * delta[i] for i in range(m))) for j in range(n)]
            forms.append(ClosedForm(v, f"∂{out}/∂{v} = {a}ᵀ·δ with δ = ∂{out}/∂({c.label})", layout,
                                    all_same(want, adj[v]), f"δ = {brief(delta)}"))
        elif c.op == "cross_entropy":
            s = apply(Node("s", "softmax", (v,), node.shape, ""), [exact[v]])
            y = [1 if j == c.param else 0 for j in range(len(s))]
            scale = delta[0]
            want = [(si - yi) * scale for si, yi in zip(s, y)]
            head = f"∂{out}/∂{v} = ŷ − y" if c.name == out else f"∂{out}/∂{v} = (ŷ − y)·∂{out}/∂{c.name}"
            forms.append(ClosedForm(v, f"{head}, ŷ = softmax({v}), y = onehot({c.param})", layout,
                                    all_same(want, adj[v]), "",
                                    ((f"ŷ = softmax({v})", tuple(float(sympy.N(x, 17)) for x in s)),
                                     (f"y = onehot({c.param})", tuple(float(x) for x in y)))))
        elif c.op == "softmax":
            s = exact[c.name]
            dot = sympy.Add(*(si * bi for si, bi in zip(s, delta)))
            want = [si * (bi - dot) for si, bi in zip(s, delta)]
            forms.append(ClosedForm(v, f"∂{out}/∂{v} = (diag(s) − s·sᵀ)·s̄ with s = softmax({v}), s̄ = ∂{out}/∂{c.name}",
                                    layout, all_same(want, adj[v]), f"s = {brief(s)}"))
    return tuple(forms)


def all_same(a: Sequence[sympy.Expr], b: Sequence[sympy.Expr]) -> bool:
    """Equal lengths, and every pair :func:`~gradlab.calculus.values.same`."""
    return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))


def brief(comps: Sequence[sympy.Expr], most: int = 8) -> str:
    """A vector's first few values, for a note: ``[0.2369, 0.08714, …]``."""
    vals = [f"{float(sympy.N(c, 17)):.4g}" for c in comps[:most]]
    return "[" + ", ".join(vals) + (", …" if len(comps) > most else "") + "]"


def jacobian_forms(graph: Graph, names: Sequence[str], syms: Mapping[str, Comps], composed: Mapping[str, Comps],
                   matrix: Sequence[Sequence[sympy.Expr]], values: Sequence[Sequence[Value]] | None,
                   pm: Mapping | None) -> tuple[ClosedForm, ...]:
    """The Jacobian's textbook forms: ``J = W`` where it is a matrix variable itself (the
    Jacobian of W@x + b with respect to x), and softmax's diag(s) − s·sᵀ, each verified."""
    out = graph.node(graph.output)
    flat = [e for r in matrix for e in r]
    layout = "numerator layout: rows = outputs, columns = variables"
    forms = []
    if len(names) == 1:
        for leaf in graph.leaves:  # the Jacobian of W@x + b with respect to x is W itself
            node = graph.node(leaf)
            if len(node.shape) == 2 and node.shape == (len(matrix), len(matrix[0])) and \
                    all(a == b for a, b in zip(flat, syms[leaf])):
                forms.append(ClosedForm(names[0], f"J = {leaf}", layout, True))
    if out.op == "softmax" and len(names) == 1 and out.inputs[0] == names[0]:
        s = composed[out.name]
        want = [s[i] * ((1 if i == j else 0) - s[j]) for i in range(len(s)) for j in range(len(s))]
        if pm is not None:
            ok = all_same([d.evaluate(w, pm).exact for w in want], [v.exact for r in values for v in r])
        else:
            ok = all(sympy.cancel(a - b) == 0 for a, b in zip(want, flat))
        detail = f"s = {brief([d.evaluate(x, pm).exact for x in s])}" if pm is not None else ""
        forms.append(ClosedForm(names[0], f"J = diag(s) − s·sᵀ with s = softmax({names[0]})", layout, ok, detail))
    return tuple(forms)
