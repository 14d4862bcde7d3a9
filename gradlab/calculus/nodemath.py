"""The maths of one node of a computational graph: its components from its inputs'
(:func:`apply`), its local Jacobian with respect to each input as sparse entries
(:func:`jacobian_entries`), and that local derivative as a learner writes it, in node
names (:func:`local_formula`). Everything exact (SymPy).

>>> from gradlab.calculus.graph import build
>>> g = build("a = sigmoid(z)")
>>> local_formula(g, g.node("a"), 0)
'a*(1 - a)'
>>> [e for _, _, e in jacobian_entries(g.node("a"), 0, [(0,)], apply(g.node("a"), [(0,)]))]
[1/4]
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Mapping, Sequence

import sympy

from gradlab.calculus import derivatives as d
from gradlab.calculus.graph import SLOTS, Comps, Graph, Node
from gradlab.calculus.parsing import symbol, to_text
from gradlab.calculus.shapes import Shape, size
from gradlab.errors import Undefined

def _pick(vals: Sequence, idx: int):
    return vals[idx] if len(vals) > 1 else vals[0]


# Below Python's 4,300-digit limit on printing integers, so every exact value can be shown.
MAX_EXACT_DIGITS = 4_000
MAX_EXACT_BITS = int(MAX_EXACT_DIGITS * 3.33)


def _replace(t: sympy.Expr, sub: Mapping, node: Node) -> sympy.Expr:
    """``t.xreplace(sub)``, refusing an exact power too large to compute (3**(10**8))."""
    if t in sub:
        return sub[t]
    if not t.args:
        return t
    args = [_replace(a, sub, node) for a in t.args]
    if t.is_Pow and args[0].is_Rational and args[1].is_Rational and abs(args[0]) not in (0, 1):
        p, q = abs(args[0].p), args[0].q
        digits = abs(float(args[1])) * max(math.log10(p) if p > 1 else 0.0, math.log10(q) if q > 1 else 0.0)
        if digits > MAX_EXACT_DIGITS:
            raise Undefined(f"node {node.name} = {node.label} has about {digits:.3g} digits at this point: "
                            "too large to compute exactly")
    return t.func(*args)


def _check_size(node: Node, comps: Comps) -> Comps:
    for c in comps:
        if c.is_Rational and max(abs(c.p).bit_length(), c.q.bit_length()) > MAX_EXACT_BITS:
            raise Undefined(f"node {node.name} = {node.label} has more than {MAX_EXACT_DIGITS} digits at this "
                            "point: too large to compute exactly")
    return comps


def apply(node: Node, ins: Sequence[Comps]) -> Comps:
    """The node's components from its inputs' components."""
    return _check_size(node, _apply(node, ins))


def _apply(node: Node, ins: Sequence[Comps]) -> Comps:
    op = node.op
    if node.elementwise:
        n = size(node.shape)
        t = node.template
        if t.has(sympy.Pow):
            return tuple(_replace(t, {SLOTS[k]: _pick(v, i) for k, v in enumerate(ins)}, node) for i in range(n))
        return tuple(t.xreplace({SLOTS[k]: _pick(v, i) for k, v in enumerate(ins)}) for i in range(n))
    if op == "const":
        return (node.template,)
    if op == "@":
        return tuple(sympy.Add(*(a * b for a, b in row)) for row in _matmul_rows(node, ins))
    if op == "T":
        (a,) = ins
        if len(node.shape) != 2:
            return a  # a vector's (or scalar's) transpose is itself, as in NumPy
        rows, cols = node.shape  # the input is cols × rows
        return tuple(a[c * rows + r] for r in range(rows) for c in range(cols))
    if op == "index":
        return (ins[0][node.param],)
    if op == "stack":
        return tuple(v[0] for v in ins)
    if op == "sum":
        return (sympy.Add(*ins[0]),)
    if op == "mean":
        return (sympy.Add(*ins[0]) / len(ins[0]),)
    if op == "softmax":
        e = [sympy.exp(v) for v in ins[0]]
        total = sympy.Add(*e)
        return tuple(x / total for x in e)
    if op == "logsumexp":
        return (sympy.log(sympy.Add(*(sympy.exp(v) for v in ins[0]))),)
    if op == "cross_entropy":
        return (sympy.log(sympy.Add(*(sympy.exp(v) for v in ins[0]))) - ins[0][node.param],)
    raise AssertionError(f"no rule for {op}")  # every op the builder makes has a rule


def _matmul_index(node: Node, shapes: Sequence[Shape]):
    """(out, a, b) flat positions of every product a·b in A @ B."""
    sa, sb = shapes
    m = sa[0] if len(sa) == 2 else 1
    n = sa[-1]
    p = sb[1] if len(sb) == 2 else 1
    for i in range(m):
        for j in range(p):
            yield i * p + j, [(i * n + k, k * p + j) for k in range(n)]


def _matmul_rows(node: Node, ins: Sequence[Comps]):
    a, b = ins
    shapes = _in_shapes(node, ins)
    return [[(a[x], b[y]) for x, y in pairs] for _, pairs in _matmul_index(node, shapes)]


def _in_shapes(node: Node, ins: Sequence[Comps]) -> tuple[Shape, Shape]:
    # A's and B's shapes follow from the output shape and the component counts.
    na, nb = len(ins[0]), len(ins[1])
    out = node.shape
    if len(out) == 2:
        m, p = out
        return (m, na // m), (nb // p, p)
    if len(out) == 1 and na > nb:  # matrix @ vector
        return (out[0], nb), (nb,)
    if len(out) == 1:  # vector @ matrix
        return (na,), (na, out[0])
    return (na,), (nb,)


@lru_cache(maxsize=4096)
def _dtemplate(template: sympy.Expr, slot: int) -> sympy.Expr:
    return d.derivative(template, SLOTS[slot])


def jacobian_entries(node: Node, slot: int, ins: Sequence[Comps], out: Comps) -> list[tuple[int, int, sympy.Expr]]:
    """The non-zero entries (i, j, ∂out_i/∂in_j) of the local Jacobian with respect to
    input ``slot``, built from the inputs' and the node's components."""
    op = node.op
    if node.elementwise:
        dt = _dtemplate(node.template, slot)
        n, scalar_in = size(node.shape), len(ins[slot]) == 1
        return [(i, 0 if scalar_in else i, dt.xreplace({SLOTS[k]: _pick(v, i) for k, v in enumerate(ins)}))
                for i in range(n)]
    if op == "@":
        a, b = ins
        rows = list(_matmul_index(node, _in_shapes(node, ins)))
        if slot == 0:
            return [(o, x, b[y]) for o, pairs in rows for x, y in pairs]
        return [(o, y, a[x]) for o, pairs in rows for x, y in pairs]
    if op == "T":
        if len(node.shape) != 2:
            return [(i, i, sympy.S.One) for i in range(len(out))]
        n_rows, n_cols = node.shape  # out is n_rows × n_cols, the input n_cols × n_rows
        return [(i * n_cols + j, j * n_rows + i, sympy.S.One) for i in range(n_rows) for j in range(n_cols)]
    if op == "index":
        return [(0, node.param, sympy.S.One)]
    if op == "stack":
        return [(slot, 0, sympy.S.One)]
    if op == "sum":
        return [(0, j, sympy.S.One) for j in range(len(ins[0]))]
    if op == "mean":
        w = sympy.Rational(1, len(ins[0]))
        return [(0, j, w) for j in range(len(ins[0]))]
    if op == "softmax":
        return [(i, j, out[i] * ((1 if i == j else 0) - out[j])) for i in range(len(out)) for j in range(len(out))]
    if op in ("logsumexp", "cross_entropy"):
        e = [sympy.exp(v) for v in ins[0]]
        total = sympy.Add(*e)
        k = node.param if op == "cross_entropy" else None
        return [(0, j, e[j] / total - (1 if j == k else 0)) for j in range(len(e))]
    return []  # const


# --------------------------------------------------------------------------- local derivatives, as a learner writes them
VJP = "vector-Jacobian product: "  # where a matrix derivative reads better as what it does to ḡ


def local_expr(node: Node, slot: int) -> sympy.Expr:
    """A scalar local derivative ∂node/∂input over node names, the node's own name put
    back where its formula reappears (σ′ reads ``a*(1 - a)``, not ``σ(z)*(1 - σ(z))``);
    1 for indexing and stacking."""
    if not node.elementwise:
        return sympy.S.One  # index, stack on scalars
    names = {SLOTS[k]: symbol(v) for k, v in enumerate(node.inputs)}
    dt = _dtemplate(node.template, slot).xreplace(names)
    return dt.xreplace({node.template.xreplace(names): symbol(node.name)}) if node.template.free_symbols else dt


def local_formula(graph: Graph, node: Node, slot: int) -> str:
    """∂node/∂input as a formula in node names: ``a*(1 - a)`` for a = sigmoid(z)."""
    u = node.inputs[slot]
    if node.elementwise:
        text = to_text(local_expr(node, slot))
        return text if not node.shape else f"{text} (elementwise)"
    a = node.inputs[0]
    b = node.inputs[1] if len(node.inputs) > 1 else ""
    return {
        "@": f"{VJP}ḡ·{b}ᵀ" if slot == 0 else f"{VJP}{a}ᵀ·ḡ",
        "T": f"{VJP}ḡᵀ",
        "index": f"1 at {node.label[len(u):]}",
        "stack": f"1 at [{slot}]",  # ∂[a, b, c]/∂b is the unit vector e₁, not the number 1
        "sum": "1 for every component",
        "mean": f"{sympy.Rational(1, size(graph.node(u).shape))} for every component",
        "softmax": f"diag({node.name}) − {node.name}·{node.name}ᵀ",
        "logsumexp": f"softmax({u})",
        "cross_entropy": f"softmax({u}) − onehot({node.param})",
    }.get(node.op, "0")
