"""Computational graphs: the chain rule node by node (forward values, backward adjoints,
forward-mode tangents and sums over paths), for scalars and for shaped variables.

A graph is built from the parsed syntax tree the way a learner draws it: one node per
operation as written (``a - y`` is a subtraction, ``x/y`` a division), every identical
subexpression once, numeric literals folded into the operation that uses them. Each
node's *local* derivative with respect to each input is a small sparse Jacobian; the
backward pass multiplies adjoints by them (vector-Jacobian products), forward mode
multiplies tangents (Jacobian-vector products). Everything is exact (SymPy); floats are
the last step.

>>> g = build("x**2*y + 3*y")
>>> [(n.name, n.label) for n in g.nodes]
[('x', 'x'), ('t1', 'x ** 2'), ('y', 'y'), ('t2', 't1 * y'), ('t3', '3 * y'), ('f', 't2 + t3')]
>>> r = backprop(g, {"x": (2,), "y": (5,)})
>>> [(n.node.name, n.adjoint[0].exact) for n in r.nodes if n.node.op == "input"]
[('x', 20), ('y', 7)]
"""

from __future__ import annotations

import ast
import math
import re
from dataclasses import dataclass, replace
from functools import cached_property, lru_cache
from typing import Any, Iterable, Mapping, Sequence

import sympy

from gradlab.calculus import derivatives as d
from gradlab.calculus.derivatives import Value
from gradlab.errors import BadInput, LimitExceeded, Undefined
from gradlab.calculus.parsing import (CONSTANTS, FUNCTIONS, MAX_NODES, Context, _GradlabPrinter, _NOT_ALLOWED, _UNARY, _Walker,
                             _check_text, _closest, _syntax_tree, symbol, to_text)
from gradlab.calculus.shapes import (MAX_JACOBIAN_ENTRIES, Shape, check_name, check_total, component_name, components,
                            natural_order, nest, parse_shape, shape_text, size)

SLOTS = tuple(sympy.Symbol(f"_s{k}", real=True) for k in range(64))
MAX_PATHS = 200  # paths listed by "why this adjoint"
SELF_CHECK_LIMIT = 200  # leaf components differentiated again by SymPy for the self-check
MAX_STEPS = 200

_SYMBOLS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**"}
_REDUCE = ("sum", "mean")
_VECTOR_FNS = ("softmax", "logsumexp", "cross_entropy")


@dataclass(frozen=True)
class Node:
    """One node: ``name = label``.

    ``op`` is ``input`` for a leaf, ``const``, ``+ - * / **``, ``neg``, ``=`` (a named
    copy), a function name (``sigmoid``, ``exp``, … applied elementwise), ``@``, ``T``,
    ``index``, ``stack``, ``sum``, ``mean``, ``softmax``, ``logsumexp`` or
    ``cross_entropy``. Elementwise nodes carry ``template``, their formula over the slot
    symbols ``_s0, _s1, …`` (one per input, literals inline); ``param`` is the class of
    ``cross_entropy`` or the flat position of ``index``.
    """

    name: str
    op: str
    inputs: tuple[str, ...]
    shape: Shape
    label: str
    template: sympy.Expr | None = None
    param: int | None = None

    @property
    def is_leaf(self) -> bool:
        return self.op == "input"

    @property
    def elementwise(self) -> bool:
        return self.template is not None


@dataclass(frozen=True)
class Graph:
    """Nodes in topological order, the output node, and the leaves (variables) in order."""

    text: str
    nodes: tuple[Node, ...]
    output: str
    leaves: tuple[str, ...]

    def node(self, name: str) -> Node:
        return self._index[name]

    @cached_property
    def _index(self) -> dict[str, Node]:
        return {n.name: n for n in self.nodes}

    @cached_property
    def _out_edges(self) -> dict[str, list[tuple[Node, int]]]:
        out: dict[str, list[tuple[Node, int]]] = {n.name: [] for n in self.nodes}
        for n in self.nodes:
            for k, u in enumerate(n.inputs):
                out[u].append((n, k))
        return out

    def consumers(self, name: str) -> list[tuple[Node, int]]:
        """Every edge out of ``name``: (consumer, input slot), in topological order."""
        return list(self._out_edges[name])

    @property
    def shapes(self) -> dict[str, Shape]:
        return {name: self.node(name).shape for name in self.leaves}


# --------------------------------------------------------------------------- building
_STEP = re.compile(r"\s*([A-Za-z][A-Za-z0-9_]*)\s*=(?!=)(.*)\Z", re.S)
_DECL = re.compile(r"\s*([A-Za-z][A-Za-z0-9_]*)\s*:\s*([0-9xX×* ]+|scalar)\s*\Z")


class _Builder:
    def __init__(self, text: str, shapes: Mapping[str, Shape], where: str):
        self.text, self.where = text, where
        self.shapes = dict(shapes)
        self.nodes: dict[str, Node] = {}
        self.keys: dict[tuple, str] = {}
        self.bound: dict[str, str] = {}  # step name → node
        self.taken = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", text))
        self.counter = 0
        self.src = ""

    def fail(self, what: str, node: ast.AST | None = None) -> BadInput:
        return BadInput(what, self.where)

    # ---- nodes
    def fresh(self) -> str:
        # a temporary name no user can write; build() numbers the survivors t1, t2, …
        self.counter += 1
        return f"#{self.counter}"

    def add(self, op: str, inputs: Sequence[str], shape: Shape, label: str,
            template: sympy.Expr | None = None, param: int | None = None) -> str:
        key = (op, tuple(inputs), sympy.srepr(template) if template is not None else None, param)
        if key in self.keys:  # a shared subexpression: one node, used twice
            return self.keys[key]
        if len(self.nodes) >= MAX_NODES:
            raise LimitExceeded(f"the graph has more than {MAX_NODES} nodes", self.where)
        name = self.fresh()
        self.nodes[name] = Node(name, op, tuple(inputs), shape, label, template, param)
        self.keys[key] = name
        return name

    def leaf(self, name: str, ast_node: ast.AST) -> str:
        if name in self.nodes:
            return name
        check_name(name, self.where)
        shape = self.shapes.get(name, ())
        self.nodes[name] = Node(name, "input", (), shape, "")
        return name

    # ---- expressions: each returns ("node", name) or ("const", value, text)
    def constant(self, sub: ast.AST) -> bool:
        for n in ast.walk(sub):
            if isinstance(n, ast.Name) and n.id not in CONSTANTS and not self._is_call_name(sub, n):
                return False
            if isinstance(n, (ast.Subscript, ast.Attribute, ast.List, ast.Tuple)) or (
                    isinstance(n, ast.BinOp) and isinstance(n.op, ast.MatMult)):
                return False
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id not in _UNARY:
                return False
        return True

    @staticmethod
    def _is_call_name(root: ast.AST, name: ast.Name) -> bool:
        return any(isinstance(c, ast.Call) and c.func is name for c in ast.walk(root))

    def walk(self, sub: ast.AST):
        if self.constant(sub):
            value = _Walker(self.src, self.where, Context(), constant_only=True).walk(sub)
            return ("const", value, ast.get_source_segment(self.src, sub) or to_text(value))
        if isinstance(sub, ast.Name):
            if sub.id in self.bound:
                return ("node", self.bound[sub.id])
            if sub.id in FUNCTIONS or sub.id in _REDUCE or sub.id in _VECTOR_FNS:
                raise self.fail(f"{sub.id} is a function; call it as {sub.id}(...)")
            return ("node", self.leaf(sub.id, sub))
        if isinstance(sub, ast.UnaryOp) and isinstance(sub.op, (ast.USub, ast.UAdd)):
            inner = self.walk(sub.operand)
            if isinstance(sub.op, ast.UAdd):
                return inner
            return self.elementwise("neg", [inner], lambda s: -s[0], lambda t: f"-{t[0]}")
        if isinstance(sub, ast.BinOp) and type(sub.op) in _SYMBOLS:
            sym = _SYMBOLS[type(sub.op)]
            left, right = self.walk(sub.left), self.walk(sub.right)
            if sym == "**" and right[0] == "const":  # x**(10**8): refused as the parser refuses it
                _Walker(self.src, self.where, Context()).check_power(SLOTS[0], right[1], sub)
            return self.elementwise(sym, [left, right], _BUILD[sym], lambda t: f"{t[0]} {sym} {t[1]}")
        if isinstance(sub, ast.BinOp) and isinstance(sub.op, ast.MatMult):
            return self.matmul(self.walk(sub.left), self.walk(sub.right))
        if isinstance(sub, ast.Attribute):
            if sub.attr != "T":
                raise self.fail(f"attribute .{sub.attr} not allowed; only .T (transpose)")
            a = self.need_node(self.walk(sub.value), ".T")
            shape = self.nodes[a].shape
            out = shape[::-1] if len(shape) == 2 else shape
            return ("node", self.add("T", [a], out, "{0}.T"))
        if isinstance(sub, ast.Subscript):
            return self.index(sub)
        if isinstance(sub, ast.Call):
            return self.call(sub)
        if isinstance(sub, ast.BinOp):
            raise self.fail(f"operator {type(sub.op).__name__} not allowed; use + - * / ** @ and function calls")
        kind = next((v for k, v in _NOT_ALLOWED.items() if isinstance(sub, k)), None)
        raise self.fail(f"{kind or type(sub).__name__} not allowed")

    def show(self, name: str) -> str:
        """A node as the user wrote it, for error messages (temporary names spelled out)."""
        n = self.nodes[name]
        if not name.startswith("#"):
            return name
        return "(" + n.label.format(*(self.show(u) for u in n.inputs)) + ")"

    def need_node(self, item, what: str) -> str:
        if item[0] != "node":
            raise self.fail(f"{what} needs a variable or an expression of variables, not the number {item[2]}")
        return item[1]

    def elementwise(self, op: str, items: list, build, labeller):
        names = [i[1] for i in items if i[0] == "node"]
        shapes = [self.nodes[n].shape for n in names]
        shaped = [s for s in shapes if s]
        if any(s != shaped[0] for s in shaped):
            a, b = shaped[0], next(s for s in shaped if s != shaped[0])
            texts = [i[2] if i[0] == "const" else self.show(i[1]) for i in items]
            raise self.fail(f"{op} of shapes {shape_text(a)} and {shape_text(b)} does not fit "
                            f"({' and '.join(texts)}); elementwise operations need equal shapes or a scalar")
        slots, k = [], 0
        for i in items:
            if i[0] == "node":
                slots.append(SLOTS[k])
                k += 1
            else:
                slots.append(i[1])
        template = build(slots)
        texts, k = [], 0
        for i in items:
            if i[0] == "node":
                texts.append("{%d}" % k)
                k += 1
            else:
                texts.append(_wrap(i[2]))
        return ("node", self.add(op, names, shaped[0] if shaped else (), labeller(texts), template))

    def matmul(self, left, right):
        a, b = self.need_node(left, "@"), self.need_node(right, "@")
        sa, sb = self.nodes[a].shape, self.nodes[b].shape
        a_, b_ = self.show(a), self.show(b)
        if not sa or not sb:
            raise self.fail(f"{a_} @ {b_}: @ needs vectors or matrices, got shapes {shape_text(sa)} and {shape_text(sb)}; "
                            "use * for a scalar")
        if sa[-1] != sb[0]:
            raise self.fail(f"{a_} @ {b_}: shapes {shape_text(sa)} and {shape_text(sb)} do not fit "
                            f"({a_} has {sa[-1]} columns, {b_} has {sb[0]} rows)")
        out = sa[:-1] + sb[1:]
        return ("node", self.add("@", [a, b], out, "{0} @ {1}"))

    def index(self, sub: ast.Subscript):
        a = self.need_node(self.walk(sub.value), "indexing")
        shape = self.nodes[a].shape
        idx = sub.slice.elts if isinstance(sub.slice, ast.Tuple) else [sub.slice]
        if len(idx) != len(shape):
            raise self.fail(f"{self.show(a)} has shape {shape_text(shape)}: index it with {len(shape) or 'no'} whole number(s)")
        ks = []
        for i, n in zip(idx, shape):
            item = self.walk(i)
            if item[0] != "const" or not item[1].is_Integer or not 0 <= int(item[1]) < n:
                raise self.fail(f"index {ast.get_source_segment(self.src, i)} of {self.show(a)} must be a whole number from 0 to {n - 1}")
            ks.append(int(item[1]))
        flat = ks[0] if len(ks) == 1 else ks[0] * shape[1] + ks[1]
        return ("node", self.add("index", [a], (), "{0}" + f"[{','.join(map(str, ks))}]", param=flat))

    def call(self, sub: ast.Call):
        if not isinstance(sub.func, ast.Name):
            raise self.fail("only named functions can be called")
        name = sub.func.id
        if sub.keywords or any(isinstance(a, ast.Starred) for a in sub.args):
            raise self.fail(f"{name}() takes plain arguments only")
        args = [self.walk(a) for a in sub.args]
        if name in _UNARY:
            if len(args) != 1:
                raise self.fail(f"{name}() takes exactly one argument, got {len(args)}")
            fn = _UNARY[name]
            return self.elementwise(name, args, lambda s: fn(s[0]), lambda t: f"{name}({t[0]})")
        if name in _REDUCE:
            if len(args) != 1:
                raise self.fail(f"{name}() takes one vector or matrix here")
            a = self.need_node(args[0], f"{name}()")
            return ("node", self.add(name, [a], (), name + "({0})"))
        if name in ("softmax", "logsumexp"):
            v = self.vector_arg(name, args)
            shape = self.nodes[v].shape if name == "softmax" else ()
            return ("node", self.add(name, [v], shape, name + "({0})"))
        if name == "cross_entropy":
            if len(args) != 2:
                raise self.fail("cross_entropy(logits, k) takes the logits vector and the class k (from 0)")
            v = self.need_node(args[0], "cross_entropy()")
            n = self.nodes[v].shape
            k = args[1]
            if len(n) != 1:
                raise self.fail(f"cross_entropy needs a vector of logits, got shape {shape_text(n)}")
            if k[0] != "const" or not k[1].is_Integer or not 0 <= int(k[1]) < n[0]:
                raise self.fail(f"the class of cross_entropy must be a whole number from 0 to {n[0] - 1}")
            return ("node", self.add("cross_entropy", [v], (), "cross_entropy({0}, %d)" % int(k[1]), param=int(k[1])))
        hint = _closest(name, [*FUNCTIONS, *_REDUCE, "cross_entropy"])
        raise self.fail(f"unknown function {name!r}{hint}")

    def vector_arg(self, name: str, args: list) -> str:
        if not args:
            raise self.fail(f"{name}() needs a vector, or several numbers")
        if len(args) == 1:
            v = self.need_node(args[0], f"{name}()")
            if len(self.nodes[v].shape) != 1:
                raise self.fail(f"{name} needs a vector, got shape {shape_text(self.nodes[v].shape)}")
            return v
        names = []
        for a in args:  # softmax(a, b, c): the scalars stacked into a vector first
            if a[0] == "const":
                a = ("node", self.add("const", [], (), a[2], a[1]))
            if self.nodes[a[1]].shape:
                raise self.fail(f"{name}(a, b, …) takes scalars; give a vector as its only argument")
            names.append(a[1])
        return self.add("stack", names, (len(names),), "[" + ", ".join("{%d}" % k for k in range(len(names))) + "]")

    # ---- programs
    def step(self, name: str | None, expr: str, last: bool) -> str:
        self.src = _check_text(expr, self.where).strip()
        tree = _syntax_tree(expr, self.where)
        if isinstance(tree, ast.Tuple):
            raise self.fail("one expression per step (separate steps with ;)")
        before = len(self.nodes)
        item = self.walk(tree)
        if name is None:
            name = "f" if "f" not in self.taken else "out"
        else:
            check_name(name, self.where)
            if name in self.bound or name in self.nodes:
                raise self.fail(f"{name} is assigned twice, or used as an input before this step")
        if item[0] == "const":
            node = self.add("const", [], (), item[2], item[1])
        else:
            node = item[1]
        created = len(self.nodes) > before and list(self.nodes)[-1] == node and node.startswith("#")
        if created and node not in self.bound.values():
            # the step names the operation it just wrote: rename t7 to z
            n = self.nodes.pop(node)
            self.nodes[name] = replace(n, name=name)
            self.keys = {k: (name if v == node else v) for k, v in self.keys.items()}
        else:
            shape = self.nodes[node].shape
            self.nodes[name] = Node(name, "=", (node,), shape, "{0}", SLOTS[0])
        self.bound[name] = name
        self.taken.add(name)
        return name


def _named(nodes: Iterable[Node], taken: set[str]) -> tuple[Node, ...]:
    """Auto-named nodes numbered t1, t2, … in order (skipping names the text uses), and
    every label written out with its inputs' names."""
    rename, k = {}, 0
    for n in nodes:
        if n.name.startswith("#"):
            k += 1
            while f"t{k}" in taken:
                k += 1
            rename[n.name] = f"t{k}"
    out = []
    for n in nodes:
        inputs = tuple(rename.get(u, u) for u in n.inputs)
        name = rename.get(n.name, n.name)
        label = name if n.is_leaf else n.label.format(*inputs)
        out.append(replace(n, name=name, inputs=inputs, label=label))
    return tuple(out)


def _wrap(text: str) -> str:
    return f"({text})" if any(c in text for c in " +-*/") else text


_BUILD = {
    "+": lambda s: s[0] + s[1], "-": lambda s: s[0] - s[1], "*": lambda s: s[0] * s[1],
    "/": lambda s: s[0] / s[1], "**": lambda s: s[0] ** s[1],
}


def build(text: str, shapes: Mapping[str, Shape] | None = None, where: str = "expression") -> Graph:
    """The learner's graph of one expression, or of a program of named steps
    ``"z = w*x + b; a = sigmoid(z); L = (a - y)**2"`` (the last step is the output).
    Steps may declare shapes: ``W: 3x4; x: 4; y = W@x``.

    >>> g = build("z = w*x + b; a = sigmoid(z); L = (a - y)**2")
    >>> g.output, g.leaves, [n.op for n in g.nodes if not n.is_leaf]
    ('L', ('b', 'w', 'x', 'y'), ['*', '+', 'sigmoid', '-', '**'])
    """
    text = _check_text(text, where)
    steps = [s for s in re.split(r"[;\n]", text) if s.strip()]
    if len(steps) > MAX_STEPS:
        raise LimitExceeded(f"more than {MAX_STEPS} steps", where)
    shapes = dict(shapes or {})
    body = []
    for s in steps:
        m = _DECL.match(s)
        if m:
            name = check_name(m.group(1), where)
            if name in shapes:
                raise BadInput(f"the shape of {name} is declared twice", where)
            shapes[name] = parse_shape(m.group(2), where)
        else:
            body.append(s)
    check_total(shapes, where)
    if not body:
        raise BadInput("no expression to compute", where)
    b = _Builder(text, shapes, where)
    for k, s in enumerate(body):
        m = _STEP.match(s)
        last = k == len(body) - 1
        if m:
            b.step(m.group(1), m.group(2), last)
        elif last:
            b.step(None, s, last)
        else:
            raise BadInput(f"step {k + 1} ({s.strip()[:30]}) must be NAME = expression; only the last may be bare", where)
    nodes = _named(b.nodes.values(), b.taken)
    output = nodes[-1].name
    unused = [n for n in shapes if n not in b.nodes]
    if unused:
        raise BadInput(f"{', '.join(unused)} has a shape but is not used", "--shape")
    leaves = tuple(natural_order([n.name for n in nodes if n.is_leaf]))
    _check_entries(nodes)
    return Graph(text, nodes, output, leaves)


def _check_entries(nodes: Sequence[Node]) -> None:
    shape = {n.name: n.shape for n in nodes}
    total = 0
    for n in nodes:
        for u in n.inputs:
            if n.op == "@":
                a, b = (shape[x] for x in n.inputs)
                total += size(a) * (b[1] if len(b) == 2 else 1)
            elif n.op == "softmax":
                total += size(n.shape) ** 2
            else:
                total += max(size(shape[u]), size(n.shape))
    if total > MAX_JACOBIAN_ENTRIES:
        raise LimitExceeded(f"the graph's local derivatives have {total} entries; the limit is {MAX_JACOBIAN_ENTRIES}",
                            "expression")


# --------------------------------------------------------------------------- the maths of one node
Comps = tuple  # a node's components, row-major: SymPy expressions (symbolic or exact numbers)


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


# --------------------------------------------------------------------------- passes
def _num(v) -> sympy.Expr:
    return sympy.Integer(v) if isinstance(v, int) else v


def forward(graph: Graph, leaves: Mapping[str, Comps]) -> dict[str, Comps]:
    """Every node's components, from the leaves' (symbols or exact numbers)."""
    vals: dict[str, Comps] = {}
    for n in graph.nodes:
        vals[n.name] = tuple(_num(v) for v in leaves[n.name]) if n.is_leaf else apply(n, [vals[u] for u in n.inputs])
    return vals


def local_jacobians(graph: Graph, vals: Mapping[str, Comps]) -> dict[tuple[str, int], list]:
    return {(n.name, k): jacobian_entries(n, k, [vals[u] for u in n.inputs], vals[n.name])
            for n in graph.nodes for k in range(len(n.inputs))}


def backward(graph: Graph, vals: Mapping[str, Comps], jacs: Mapping[tuple[str, int], list],
             seed: Comps | None = None) -> tuple[dict[str, Comps], dict[tuple[str, int], Comps]]:
    """Adjoints ∂out/∂node of every node (reverse mode), and every edge's contribution
    Jᵀ·adjoint; a node's adjoint is the sum of the contributions of its out-edges."""
    out = graph.node(graph.output)
    adj: dict[str, Comps] = {out.name: seed or (sympy.S.One,) * size(out.shape)}
    terms: dict[str, list[Comps]] = {}
    contrib: dict[tuple[str, int], Comps] = {}
    for n in reversed(graph.nodes):
        if n.name != out.name:
            parts = terms.get(n.name, [])
            adj[n.name] = tuple(sympy.Add(*(p[j] for p in parts)) for j in range(size(n.shape))) if parts \
                else (sympy.S.Zero,) * size(n.shape)
        a = adj[n.name]
        for k, u in enumerate(n.inputs):
            acc: list[list] = [[] for _ in range(len(vals[u]))]
            for i, j, e in jacs[(n.name, k)]:
                if a[i] != 0:
                    acc[j].append(a[i] * e)
            c = tuple(sympy.Add(*t) for t in acc)
            contrib[(n.name, k)] = c
            terms.setdefault(u, []).append(c)
    return adj, contrib


def tangents(graph: Graph, jacs: Mapping[tuple[str, int], list], direction: Mapping[str, Comps]) -> dict[str, Comps]:
    """Forward mode: every node's tangent (directional derivative along ``direction``)."""
    tan: dict[str, Comps] = {}
    for n in graph.nodes:
        if n.is_leaf:
            tan[n.name] = tuple(_num(v) for v in direction[n.name])
            continue
        acc: list[list] = [[] for _ in range(size(n.shape))]
        for k, u in enumerate(n.inputs):
            for i, j, e in jacs[(n.name, k)]:
                if tan[u][j] != 0:
                    acc[i].append(e * tan[u][j])
        tan[n.name] = tuple(sympy.Add(*t) for t in acc)
    return tan


def leaf_symbols(graph: Graph) -> dict[str, Comps]:
    return {name: components(name, graph.node(name).shape) for name in graph.leaves}


# --------------------------------------------------------------------------- local derivatives, as a learner writes them
VJP = "vector-Jacobian product: "  # where a matrix derivative reads better as what it does to ḡ


def local_formula(graph: Graph, node: Node, slot: int) -> str:
    """∂node/∂input as a formula in node names: ``a*(1 - a)`` for a = sigmoid(z)."""
    u = node.inputs[slot]
    if node.elementwise:
        names = {SLOTS[k]: symbol(v) for k, v in enumerate(node.inputs)}
        dt = _dtemplate(node.template, slot).xreplace(names)
        dt = dt.xreplace({node.template.xreplace(names): symbol(node.name)}) if node.template.free_symbols else dt
        text = to_text(dt)
        return text if not node.shape else f"{text} (elementwise)"
    a = node.inputs[0]
    b = node.inputs[1] if len(node.inputs) > 1 else ""
    return {
        "@": f"{VJP}ḡ·{b}ᵀ" if slot == 0 else f"{VJP}{a}ᵀ·ḡ",
        "T": f"{VJP}ḡᵀ",
        "index": f"1 at {node.label[len(u):]}",
        "stack": "1",
        "sum": "1 for every component",
        "mean": f"1/{size(graph.node(u).shape)} for every component",
        "softmax": f"diag({node.name}) − {node.name}·{node.name}ᵀ",
        "logsumexp": f"softmax({u})",
        "cross_entropy": f"softmax({u}) − onehot({node.param})",
    }.get(node.op, "0")


PRECISION = 40  # digits of the numeric pass run beside the exact one
_BAD = (sympy.zoo, sympy.nan, sympy.oo, -sympy.oo)


def _hp(v: sympy.Expr) -> sympy.Expr:
    """A number to PRECISION digits: the numeric pass carries these instead of ever
    longer exact forms, so a float never needs SymPy to re-evaluate a deep expression."""
    v = _num(v)
    return sympy.Float(v, PRECISION) if v.is_Rational else sympy.N(v, PRECISION)


def _finite(a: Any) -> bool:
    return isinstance(a, sympy.Expr) and (a.is_Float or a.is_Rational) and math.isfinite(float(a))


def _value(e: sympy.Expr, what: str, approx: sympy.Expr | None = None) -> Value:
    """An exact number and its float: the float from ``approx`` (the numeric pass, 40
    digits) when it is a finite real; otherwise SymPy decides (and names what is undefined)."""
    e = _num(e)
    if e.is_Rational:
        f = float(e)
        if not math.isfinite(f):
            raise Undefined(f"{what} is too large for a float at the point")
        return Value(e, f)
    if approx is not None and _finite(approx) and not e.has(*_BAD):
        return Value(e, float(approx))
    return d.evaluate(e, {}, what)


def _values(comps: Comps, what: str, approx: Comps | None = None) -> tuple[Value, ...]:
    if approx is None:
        return tuple(_value(e, what) for e in comps)
    return tuple(_value(e, what, a) for e, a in zip(comps, approx))


def _close(a: sympy.Expr, b: sympy.Expr, digits: int = 25) -> bool:
    """Two numbers of the numeric pass agree to ``digits`` significant digits."""
    if not (_finite(a) and _finite(b)):
        return False
    return abs(a - b) <= sympy.Float(10, PRECISION) ** -digits * max(1, abs(a), abs(b))


def _same(a: sympy.Expr, b: sympy.Expr) -> bool:
    """Exact numbers equal: exactly, or (for transcendental forms) to 25 digits."""
    diff = a - b
    if diff == 0:
        return True
    if diff.is_Rational:
        return False
    return _close(sympy.N(a, PRECISION), sympy.N(b, PRECISION))


# --------------------------------------------------------------------------- results
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
class Path:
    """One path from the chosen node to the output: its nodes, each edge's local
    derivative (formula and value), and their product."""

    nodes: tuple[str, ...]
    locals: tuple[str, ...]
    symbolic: sympy.Expr
    product: Value
    approx: sympy.Expr = sympy.S.Zero  # the product to 40 digits
    values: tuple[float, ...] = ()  # each local derivative's value

    def to_record(self) -> dict[str, Any]:
        return {"nodes": list(self.nodes), "locals": list(self.locals), "symbolic": to_text(self.symbolic),
                "exact": str(self.product.exact), "value": self.product.value}


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


def _plain(vals: Sequence[Value] | None):
    if vals is None:
        return None
    return vals[0].value if len(vals) == 1 else tuple(v.value for v in vals)


def _point_text(graph: Graph, point: Mapping[str, Comps]) -> str:
    parts = []
    for name in graph.leaves:
        comps = point[name]
        parts.append(f"{name}={to_text(comps[0])}" if len(comps) == 1 else f"{name}={shape_text(graph.node(name).shape)}")
    return "(" + ", ".join(parts) + ")"


def _point_map(graph: Graph, point: Mapping[str, Comps]) -> dict[sympy.Symbol, sympy.Expr]:
    return {s: _num(v) for name in graph.leaves for s, v in zip(components(name, graph.node(name).shape), point[name])}


def _wrt(graph: Graph, wrt: str | Sequence[str] | None) -> tuple[str, ...]:
    if wrt is None or (isinstance(wrt, str) and not wrt.strip()):
        return graph.leaves
    names = [w.strip() for w in wrt.split(",")] if isinstance(wrt, str) else list(wrt)
    for w in names:
        if w not in graph.leaves:
            raise BadInput(f"{w!r} is not a variable of the function ({', '.join(graph.leaves)})", "--wrt")
    if len(set(names)) != len(names):
        raise BadInput("a variable is listed twice", "--wrt")
    return tuple(names)


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
class BackpropResult:
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
            "shapes": {n: list(g.node(n).shape) for n in g.leaves},
            "point": [nest([float(v) for v in self.point[n]], g.node(n).shape) for n in g.leaves],
            "point_exact": [nest([to_text(v) for v in self.point[n]], g.node(n).shape) for n in g.leaves],
            "variables": list(self.wrt),
            "nodes": [n.to_record() for n in self.nodes],
            "edges": [e.to_record() for e in self.edges],
            "gradient": _gradient_record(g, self.wrt, self.symbolic, self.gradient),
            "self_check": self.self_check.to_record(),
            "closed_forms": [c.to_record() for c in self.closed_forms],
            "cost": self.cost.to_record(),
        }
        if self.direction is not None:
            rec["direction"] = [nest([str(v) for v in self.direction[n]], g.node(n).shape) for n in g.leaves]
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
        at = _point_text(g, self.point)
        forward = self.mode == "forward"
        rows, plain = [], []
        for n in self.nodes:
            node = n.node
            definition = "input" if node.is_leaf else node.label
            if forward:
                rows.append((node.name, definition, _cell(n.value), _cell(n.tangent)))
                plain.append((node.name, node.op, ",".join(node.inputs), _plain(n.value), _plain(n.tangent)))
            else:
                rows.append((node.name, definition, _cell(n.value), _cell(n.adjoint), self._sum(node.name)))
                plain.append((node.name, node.op, ",".join(node.inputs), _plain(n.value), _plain(n.adjoint)))
        notes: list[str] = []
        if forward:
            cols = ("node", "definition", "value", "tangent ṅ")
            title = f"forward mode along v at {at}: {self._definition()}"
            t_out = self.node(out).tangent
            if t_out is not None and len(t_out) == 1:
                ok = math.isclose(t_out[0].value, sum(g.value * float(v) for gs, vs in zip(
                    self.gradient, [self.direction.get(w, (0,) * len(gs)) for w, gs in zip(self.wrt, self.gradient)])
                    for g, v in zip(gs, vs)), rel_tol=1e-12, abs_tol=1e-300)
                notes.append(f"tangent of {out} = ∇{out}·v = {_short(t_out[0])}"
                             f" ({'equals' if ok else 'DIFFERS FROM'} the reverse-mode gradient dotted with v)")
            notes.extend(self.cost.notes())
        else:
            cols = ("node", "definition", "value", f"∂{out}/∂node", f"= Σ ∂{out}/∂consumer × local")
            title = f"backprop at {at}: {self._definition()}"
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

    def _definition(self) -> str:
        text = " ".join(self.graph.text.split())
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
        ok = _close(approx, _hp(adj.exact) if adj.exact.is_Rational else sympy.Float(adj.value, PRECISION), 14)
        notes = (f"sum over the {len(self.paths)} path{'s' if len(self.paths) != 1 else ''}: "
                 f"{' + '.join(_short(p.product) for p in self.paths) or '0'} = {_short(_value(total, 'the sum', approx))}",
                 f"∂{out}/∂{name} from the backward pass = {_fmt(adj)} ({'equal' if ok else 'NOT EQUAL'})")

        return View(f"why ∂{out}/∂{name}: the sum over paths {name} → {out} of the products of local derivatives",
                    ("path", "local derivatives", "product", "value"), rows, notes=notes, plain_cells=plain)


def _local_cell(formula: str, value: float) -> str:
    shown = f"{value:.4g}"
    return f"({formula})" if formula == shown else f"({formula} = {shown})"


class _ManyPrinter(_GradlabPrinter):
    """gradlab's printer for many related forms: terms in SymPy's own order (sorting
    34,000 terms costs seconds) and each distinct sum printed once (the 1,024 entries of
    ∂L/∂W share 32 sums)."""

    def __init__(self) -> None:
        super().__init__({"order": "none"})
        self.memo: dict[sympy.Expr, str] = {}

    def _print_Add(self, expr, order=None):
        if expr not in self.memo:
            self.memo[expr] = super()._print_Add(expr, order)
        return self.memo[expr]


def texts(exprs: Sequence[sympy.Expr]) -> list[str]:
    """Expressions in gradlab's syntax; past a few dozen, with the faster printer."""
    if len(exprs) <= 64:
        return [to_text(e) for e in exprs]
    printer = _ManyPrinter()
    return [printer.doprint(e) for e in exprs]


def _gradient_record(graph: Graph, wrt: Sequence[str], symbolic: Sequence[Comps],
                     values: Sequence[Sequence[Value]] | None) -> dict[str, Any]:
    shapes = [graph.node(w).shape for w in wrt]
    rec: dict[str, Any] = {"symbolic": [nest(texts(s), sh) for s, sh in zip(symbolic, shapes)]}
    if values is not None:
        rec["exact"] = [nest([str(v.exact) for v in vs], sh) for vs, sh in zip(values, shapes)]
        rec["value"] = [nest([v.value for v in vs], sh) for vs, sh in zip(values, shapes)]
    return rec


def _paths(graph: Graph, start: str) -> list[list[tuple[str, int]]]:
    """Every path start → output as a list of edges (target, slot)."""
    count: dict[str, int] = {graph.output: 1}
    for n in reversed(graph.nodes):
        if n.name != graph.output:
            count[n.name] = sum(count.get(c.name, 0) for c, _ in graph.consumers(n.name))
    if count.get(start, 0) > MAX_PATHS:
        raise LimitExceeded(f"{start} reaches {graph.output} by {count[start]} paths; the limit is {MAX_PATHS}", "--why")
    out: list[list[tuple[str, int]]] = []

    def walk(name: str, trail: list) -> None:
        if name == graph.output:
            out.append(list(trail))
            return
        for c, k in graph.consumers(name):
            if count.get(c.name, 0):
                trail.append((c.name, k))
                walk(c.name, trail)
                trail.pop()

    walk(start, [])
    return out


def backprop(graph: Graph, point: Mapping[str, Comps], wrt: str | Sequence[str] | None = None,
             direction: Mapping[str, Comps] | None = None, why: str | None = None) -> BackpropResult:
    """The forward and backward pass at ``point`` ({leaf: components}), with forward-mode
    tangents along ``direction`` when given, and the paths to ``why``'s adjoint.

    >>> g = build("x*x + x")
    >>> r = backprop(g, {"x": (3,)})
    >>> r.gradient[0][0].exact, r.self_check.passed
    (7, True)
    """
    out = graph.node(graph.output)
    if out.shape:
        raise BadInput(f"the output {out.name} has shape {shape_text(out.shape)}; backprop needs a scalar "
                       f"(wrap it in sum(...) or mean(...))", "expression")
    wrt_names = _wrt(graph, wrt)
    exact = forward(graph, point)
    hpoint = {n: tuple(_hp(v) for v in point[n]) for n in graph.leaves}
    approx = forward(graph, hpoint)
    values = {n.name: _values(exact[n.name], f"node {n.name} = {n.label}", approx[n.name]) for n in graph.nodes}
    jacs = local_jacobians(graph, exact)
    jacs_hp = local_jacobians(graph, approx)
    adj, contrib = backward(graph, exact, jacs)
    adj_hp, contrib_hp = backward(graph, approx, jacs_hp)
    adjoints = {name: _values(c, f"the adjoint of {name}", adj_hp[name]) for name, c in adj.items()}
    syms = leaf_symbols(graph)
    composed = forward(graph, syms)
    gradient = tuple(adjoints[w] for w in wrt_names)
    pm = _point_map(graph, point)
    hpm = {s: _hp(v) for s, v in pm.items()}
    n_wrt = sum(size(graph.node(w).shape) for w in wrt_names)
    if n_wrt <= SELF_CHECK_LIMIT:
        # SymPy's own derivatives of the composed function: the symbolic gradient `grad`
        # prints, and the reference the backward pass is checked against.
        symbolic = tuple(tuple(d.derivative(composed[graph.output][0], s) for s in syms[w]) for w in wrt_names)
        check = _self_check(graph, wrt_names, symbolic, pm, hpm, gradient, adj_hp)
    else:
        sym_adj, _ = backward(graph, composed, local_jacobians(graph, composed))
        symbolic = tuple(sym_adj[w] for w in wrt_names)
        check = SelfCheck(None, f"{n_wrt} components; SymPy re-differentiates at most {SELF_CHECK_LIMIT}")
    tangent = None
    if direction is not None:
        full = {n: direction.get(n, (0,) * size(graph.node(n).shape)) for n in graph.leaves}
        tangent_c = tangents(graph, jacs, full)
        tangent_hp = tangents(graph, jacs_hp, full)
        tangent = {name: _values(c, f"the tangent of {name}", tangent_hp[name]) for name, c in tangent_c.items()}
    nodes = tuple(NodeResult(n, values[n.name], adjoints[n.name], tangent[n.name] if tangent else None)
                  for n in graph.nodes)
    edges = []
    for n in graph.nodes:
        for k, u in enumerate(n.inputs):
            scalar = not n.shape and not graph.node(u).shape
            lv = _value(jacs[(n.name, k)][0][2], f"∂{n.name}/∂{u}", jacs_hp[(n.name, k)][0][2]) \
                if scalar and jacs[(n.name, k)] else None
            edges.append(EdgeResult(u, n.name, k, local_formula(graph, n, k), lv,
                                    _values(contrib[(n.name, k)], f"∂{graph.output}/∂{u}", contrib_hp[(n.name, k)]),
                                    graph.node(u).shape))
    paths: tuple[Path, ...] = ()
    if why is not None:
        paths = _why(graph, why, jacs, jacs_hp)
    entries = sum(len(j) for j in jacs.values())
    cost = Cost(sum(size(graph.node(w).shape) for w in wrt_names), entries)
    closed = closed_forms(graph, wrt_names, exact, adj)
    warnings = d.kink_warnings([composed[graph.output][0]], pm)
    return BackpropResult(graph, dict(point), nodes, tuple(edges), wrt_names, symbolic, gradient, check, cost, closed,
                          "forward" if direction is not None else "reverse", direction, why, paths, warnings)


def _self_check(graph: Graph, wrt: Sequence[str], reference: Sequence[Comps], pm: Mapping, hpm: Mapping,
                gradient: Sequence[Sequence[Value]], adj_hp: Mapping[str, Comps]) -> SelfCheck:
    """SymPy's derivatives of the composed function (``reference``) at the point, against
    the adjoints: compared exactly when both are rational, else to 25 digits (40-digit
    evaluation)."""
    all_exact = True
    rational = all(v.is_Rational for v in pm.values())
    for w, refs, vals in zip(wrt, reference, gradient):
        for s, r, v, a in zip(components(w, graph.node(w).shape), refs, vals, adj_hp[w]):
            exact = rational and v.exact.is_Rational
            ref = r.xreplace(pm if exact else hpm)
            if exact and ref.is_Rational:
                ok = ref == v.exact
            else:
                all_exact = False
                ok = _close(sympy.N(ref, PRECISION) if not ref.is_Float else ref, a)
            if not ok:
                return SelfCheck(False, f"∂{graph.output}/∂{s}: SymPy gives {ref}, the backward pass {v.exact}")
    return SelfCheck(True, "compared exactly" if all_exact else "agree to 25 digits")


def _why(graph: Graph, name: str, jacs, jacs_hp) -> tuple[Path, ...]:
    if name not in {n.name for n in graph.nodes}:
        raise BadInput(f"{name!r} is not a node ({', '.join(n.name for n in graph.nodes)})", "--why")
    nodes = {n.name: n for n in graph.nodes}
    result = []
    for trail in _paths(graph, name):
        names, locs, sym, prod, approx, vals = [name], [], [], sympy.S.One, sympy.S.One, []
        prev = name
        for target, k in trail:
            t = nodes[target]
            if t.shape or nodes[prev].shape:
                raise BadInput(f"the path {prev} → {target} carries a vector or matrix; --why sums over scalar "
                               "paths only (ask for a scalar node)", "--why")
            locs.append(local_formula(graph, t, k))
            sym.append(_local_expr(t, k))
            prod *= jacs[(target, k)][0][2] if jacs[(target, k)] else 0
            approx *= jacs_hp[(target, k)][0][2] if jacs_hp[(target, k)] else 0
            vals.append(float(jacs_hp[(target, k)][0][2]) if jacs_hp[(target, k)] else 0.0)
            names.append(target)
            prev = target
        result.append(Path(tuple(names), tuple(locs), sympy.Mul(*sym),
                           _value(prod, "a product of local derivatives", approx), approx, tuple(vals)))
    return tuple(result)


def _local_expr(node: Node, slot: int) -> sympy.Expr:
    if node.elementwise:
        names = {SLOTS[k]: symbol(v) for k, v in enumerate(node.inputs)}
        dt = _dtemplate(node.template, slot).xreplace(names)
        return dt.xreplace({node.template.xreplace(names): symbol(node.name)}) if node.template.free_symbols else dt
    return sympy.S.One  # index, stack on scalars


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
                                    _all_same(want, adj[v]), f"δ = {_brief(delta)}"))
        elif c.op == "@" and k == 1 and len(graph.node(c.inputs[0]).shape) == 2 and len(node.shape) == 1:
            a = c.inputs[0]
            A = exact[a]
            m, n = graph.node(a).shape
            want = [sympy.Add(*(A[i * n + j] * delta[i] for i in range(m))) for j in range(n)]
            forms.append(ClosedForm(v, f"∂{out}/∂{v} = {a}ᵀ·δ with δ = ∂{out}/∂({c.label})", layout,
                                    _all_same(want, adj[v]), f"δ = {_brief(delta)}"))
        elif c.op == "cross_entropy":
            s = apply(Node("s", "softmax", (v,), node.shape, ""), [exact[v]])
            y = [1 if j == c.param else 0 for j in range(len(s))]
            scale = delta[0]
            want = [(si - yi) * scale for si, yi in zip(s, y)]
            head = f"∂{out}/∂{v} = ŷ − y" if c.name == out else f"∂{out}/∂{v} = (ŷ − y)·∂{out}/∂{c.name}"
            forms.append(ClosedForm(v, f"{head}, ŷ = softmax({v}), y = onehot({c.param})", layout,
                                    _all_same(want, adj[v]), "",
                                    ((f"ŷ = softmax({v})", tuple(float(sympy.N(x, 17)) for x in s)),
                                     (f"y = onehot({c.param})", tuple(float(x) for x in y)))))
        elif c.op == "softmax":
            s = exact[c.name]
            dot = sympy.Add(*(si * bi for si, bi in zip(s, delta)))
            want = [si * (bi - dot) for si, bi in zip(s, delta)]
            forms.append(ClosedForm(v, f"∂{out}/∂{v} = (diag(s) − s·sᵀ)·s̄ with s = softmax({v}), s̄ = ∂{out}/∂{c.name}",
                                    layout, _all_same(want, adj[v]), f"s = {_brief(s)}"))
    return tuple(forms)


def _all_same(a: Sequence[sympy.Expr], b: Sequence[sympy.Expr]) -> bool:
    return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))


def _brief(comps: Sequence[sympy.Expr], most: int = 8) -> str:
    vals = [f"{float(sympy.N(c, 17)):.4g}" for c in comps[:most]]
    return "[" + ", ".join(vals) + (", …" if len(comps) > most else "") + "]"


# --------------------------------------------------------------------------- shaped grad and jacobian
MAX_JACOBIAN_CELLS = 10_000
MAX_FLAT = {"hessian": 60, "check": 1_000}  # components SymPy differentiates one by one


def _shaped_head(command: str, graph: Graph, point: Mapping[str, Comps] | None, wrt: Sequence[str]) -> dict[str, Any]:
    rec: dict[str, Any] = {"command": command, "expression": graph.text, "variables": list(wrt),
                           "inputs": list(graph.leaves),
                           "shapes": {n: list(graph.node(n).shape) for n in graph.leaves}}
    if point is not None:
        rec["point"] = [nest([float(v) for v in point[n]], graph.node(n).shape) for n in graph.leaves]
        rec["point_exact"] = [nest([to_text(v) for v in point[n]], graph.node(n).shape) for n in graph.leaves]
    return rec


def _matrix_rows(label: str, shape: Shape, cells: Sequence) -> list[tuple]:
    """A variable's cells laid out in its shape: one table row per matrix row."""
    if len(shape) == 2:
        m, n = shape
        return [(f"{label}[{i},:]" if m > 1 else label, *cells[i * n:(i + 1) * n]) for i in range(m)]
    return [(label, *cells)]


@dataclass(frozen=True)
class ShapedGradResult:
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
        rec["gradient"] = _gradient_record(self.graph, self.wrt, self.symbolic, self.values)
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
        at = " at the given values" if self.point is not None else ""
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
        return View(f"∇{out} at {_point_text(self.graph, self.point)} for {out} = {self.graph.text}",
                    ("variable", f"∂{out}/∂variable", "exact", "value"), rows, plain=(0, 1, 3),
                    notes=(f"‖∇{out}‖ over {', '.join(self.wrt)} = {self.norm.exact} ≈ {self.norm.value!r}",))


def _composed(graph: Graph) -> tuple[dict[str, Comps], dict[str, Comps]]:
    syms = leaf_symbols(graph)
    return syms, forward(graph, syms)


def shaped_grad(graph: Graph, point: Mapping[str, Comps] | None, wrt: str | Sequence[str] | None = None) -> ShapedGradResult:
    """∂out/∂v for each variable v, on the components, in v's shape (reverse mode).

    >>> g = build("sum(W@x)", {"W": (2, 2), "x": (2,)})
    >>> r = shaped_grad(g, None, "W")
    >>> [str(e) for e in r.symbolic[0]]
    ['x[0]', 'x[1]', 'x[0]', 'x[1]']
    """
    out = graph.node(graph.output)
    if out.shape:
        raise BadInput(f"grad needs a scalar function; {out.name} has shape {shape_text(out.shape)} "
                       "(wrap it in sum(...) or mean(...), or use jacobian)", "expression")
    names = _wrt(graph, wrt)
    syms, composed = _composed(graph)
    sym_adj, _ = backward(graph, composed, local_jacobians(graph, composed))
    symbolic = tuple(sym_adj[w] for w in names)
    if point is None:
        return ShapedGradResult(graph, names, symbolic)
    exact = forward(graph, point)
    adj, _ = backward(graph, exact, local_jacobians(graph, exact))
    if all(v.is_Rational for comps in (*exact.values(), *adj.values()) for v in comps):
        approx, adj_hp = exact, adj  # rational all the way: the floats come straight from the fractions
    else:
        approx = forward(graph, {n: tuple(_hp(v) for v in point[n]) for n in graph.leaves})
        adj_hp, _ = backward(graph, approx, local_jacobians(graph, approx))
    for n in graph.nodes:
        if not n.is_leaf:
            _values(exact[n.name], f"node {n.label}", approx[n.name])  # undefined anywhere: exit 1, naming where
    values = tuple(_values(adj[w], f"∂{graph.output}/∂{w}", adj_hp[w]) for w in names)
    square = sympy.Add(*(v.exact * v.exact for vs in values for v in vs))
    approx_square = square if square.is_Rational else sympy.Add(*(_hp(a) * _hp(a) for w in names for a in adj_hp[w]))
    norm = _value(sympy.sqrt(square), "the gradient's norm", sympy.sqrt(_hp(approx_square)))
    closed = closed_forms(graph, names, exact, adj)
    warnings = d.kink_warnings([composed[graph.output][0]], _point_map(graph, point)) if size_of(graph) <= 500 else ()
    return ShapedGradResult(graph, names, symbolic, dict(point), values, norm, closed, warnings)


def size_of(graph: Graph) -> int:
    return sum(size(graph.node(n).shape) for n in graph.leaves)


@dataclass(frozen=True)
class ShapedJacobianResult:
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
        at = " at the given values" if self.point is not None else ""
        notes = tuple(c.note() for c in self.closed_forms) or ("rows = outputs, columns = variables (numerator layout)",)
        return View(f"Jacobian ({m}×{n}){at} of {self.graph.text}", ("", *self.columns), rows, notes=notes,
                    plain_cells=tuple(tuple(r) for r in body))


def shaped_jacobian(graph: Graph, point: Mapping[str, Comps] | None, wrt: str | Sequence[str] | None = None) -> ShapedJacobianResult:
    """The Jacobian of the output's components with respect to ``wrt``'s components,
    differentiated by SymPy on the composed components.

    >>> g = build("W@x + b", {"W": (2, 2), "x": (2,), "b": (2,)})
    >>> r = shaped_jacobian(g, None, "x")
    >>> r.matrix, r.closed_forms[0].formula
    (((W[0,0], W[0,1]), (W[1,0], W[1,1])), 'J = W')
    """
    names = _wrt(graph, wrt)
    out = graph.node(graph.output)
    syms, composed = _composed(graph)
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
        pm = _point_map(graph, point)
        for o in outs:
            d.evaluate(o, pm, f"the output {out.name}")
        values = tuple(tuple(d.evaluate(e, pm, "a partial derivative") for e in r) for r in matrix)
    forms = _jacobian_forms(graph, names, syms, composed, matrix, values, pm)
    warnings = d.kink_warnings(list(outs), pm) if pm is not None else ()
    return ShapedJacobianResult(graph, names, rows, colnames, matrix, dict(point) if point else None, values, forms, warnings)


def _jacobian_forms(graph, names, syms, composed, matrix, values, pm) -> tuple[ClosedForm, ...]:
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
            ok = _all_same([d.evaluate(w, pm).exact for w in want], [v.exact for r in values for v in r])
        else:
            ok = all(sympy.cancel(a - b) == 0 for a, b in zip(want, flat))
        detail = f"s = {_brief([d.evaluate(x, pm).exact for x in s])}" if pm is not None else ""
        forms.append(ClosedForm(names[0], f"J = diag(s) − s·sᵀ with s = softmax({names[0]})", layout, ok, detail))
    return tuple(forms)


def flattened(graph: Graph, point: Mapping[str, Comps] | None, command: str):
    """The scalar function as an ordinary :class:`~gradlab.parsing.Parsed` over every
    component (for hessian and check), and the point flattened likewise."""
    from gradlab.calculus.parsing import Parsed

    out = graph.node(graph.output)
    if out.shape:
        raise BadInput(f"{command} needs a scalar function; {out.name} has shape {shape_text(out.shape)} "
                       "(wrap it in sum(...) or mean(...))", "expression")
    n = size_of(graph)
    if n > MAX_FLAT[command]:
        raise LimitExceeded(f"{command} on {n} components; the limit is {MAX_FLAT[command]}", "--shape")
    syms, composed = _composed(graph)
    variables = tuple(s for name in graph.leaves for s in syms[name])
    parsed = Parsed(graph.text, (composed[out.name][0],), variables)
    flat = tuple(v for name in graph.leaves for v in point[name]) if point is not None else None
    return parsed, flat
