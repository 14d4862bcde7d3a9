"""Computational graphs as a learner draws them: the node and graph structure, and the
builder that makes one from the parsed syntax tree.

One node per operation as written (``a - y`` is a subtraction, ``x/y`` a division), every
identical subexpression once, numeric literals folded into the operation that uses them.
What the graph computes lives beside it: one node's maths in :mod:`~gradlab.calculus.nodemath`,
the forward, backward and forward-mode passes in :mod:`~gradlab.calculus.passes`, the
``backprop`` report in :mod:`~gradlab.calculus.backprop`, the shaped ``grad``/``jacobian``
in :mod:`~gradlab.calculus.shaped`.

>>> g = build("x**2*y + 3*y")
>>> [(n.name, n.label) for n in g.nodes]
[('x', 'x'), ('t1', 'x ** 2'), ('y', 'y'), ('t2', 't1 * y'), ('t3', '3 * y'), ('f', 't2 + t3')]
>>> g.leaves, g.consumers("y")[0][0].name
(('x', 'y'), 't2')
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Iterable, Mapping, Sequence

import sympy

from gradlab.calculus.parsing import (CONSTANTS, FUNCTIONS, MAX_NODES, Context, _NOT_ALLOWED, _UNARY, _Walker,
                                      _check_text, _closest, _syntax_tree, to_text)
from gradlab.calculus.shapes import (MAX_JACOBIAN_ENTRIES, Shape, check_name, check_total, natural_order,
                                     parse_shape, shape_text, size)
from gradlab.errors import BadInput, LimitExceeded

Comps = tuple  # a node's components, row-major: SymPy expressions (symbolic or exact numbers)

SLOTS = tuple(sympy.Symbol(f"_s{k}", real=True) for k in range(64))

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



def steps_text(text: str) -> str:
    """A program on one line without its shape declarations (the shapes show elsewhere).

    >>> steps_text("W: 3x4; x: 4; z = W@x;  L = sum(z)")
    'z = W@x; L = sum(z)'
    """
    steps = [" ".join(s.split()) for s in re.split(r"[;\n]", text) if s.strip() and not _DECL.match(s)]
    return "; ".join(steps)

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

    def fail(self, what: str) -> BadInput:
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

    def leaf(self, name: str) -> str:
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
            return ("node", self.leaf(sub.id))
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
    def step(self, name: str | None, expr: str) -> str:
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
            b.step(m.group(1), m.group(2))
        elif last:
            b.step(None, s)
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


def wrt_names(graph: Graph, wrt: str | Sequence[str] | None) -> tuple[str, ...]:
    """The leaves ``--wrt`` names (``"W,b"`` or a list), checked; all of them when None.

    >>> wrt_names(build("x*y + z"), "z,x")
    ('z', 'x')
    """
    if wrt is None or (isinstance(wrt, str) and not wrt.strip()):
        return graph.leaves
    names = [w.strip() for w in wrt.split(",")] if isinstance(wrt, str) else list(wrt)
    for w in names:
        if w not in graph.leaves:
            raise BadInput(f"{w!r} is not a variable of the function ({', '.join(graph.leaves)})", "--wrt")
    if len(set(names)) != len(names):
        raise BadInput("a variable is listed twice", "--wrt")
    return tuple(names)
