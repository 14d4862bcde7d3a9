"""Text → SymPy: the only door for user text (DESIGN.md §3).

Text is read with Python's ``tokenize`` and ``ast`` and the tree is walked with an
allowlist; SymPy objects are built here, by hand. ``sympify``/``parse_expr``/``eval`` are
never called on user text. Every limit is checked before SymPy does any work.

>>> p = parse("x**2*y + 3*y")
>>> p.exprs[0], [str(v) for v in p.variables]
(x**2*y + 3*y, ['x', 'y'])
>>> parse_point("-1,1/2,pi", 3)
(-1, 1/2, pi)
"""

from __future__ import annotations

import ast
import io
import keyword
import math
import re
import tokenize
import warnings
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Iterable, Mapping, Sequence

import mpmath
import sympy
from sympy.printing.str import StrPrinter

from gradlab.calculus import rows
from gradlab.errors import BadInput, LimitExceeded
from gradlab.calculus.functions import Abs, logsumexp, mp_value, relu, sigmoid, sign, sign_of, softmax, softplus, step

# Limits, all checked before SymPy builds anything large (README: "What gradlab refuses").
MAX_CHARS = 10_000
MAX_NODES = 2_000
MAX_DEPTH = 60
MAX_LITERAL_DIGITS = 100
MAX_LITERAL_EXPONENT = 300
MAX_NUMBER_DIGITS = 10_000  # any exact constant built while parsing
MAX_SYMBOLIC_EXPONENT = 10_000  # |q| in x**q
MAX_EXPANSION = 200_000  # nodes visited while expanding sums and means
MAX_NAME = 32

_UNARY = {
    "sin": sympy.sin, "cos": sympy.cos, "tan": sympy.tan,
    "asin": sympy.asin, "acos": sympy.acos, "atan": sympy.atan,
    "sinh": sympy.sinh, "cosh": sympy.cosh, "tanh": sympy.tanh,
    "asinh": sympy.asinh, "acosh": sympy.acosh, "atanh": sympy.atanh,
    "exp": sympy.exp, "log": sympy.log, "sqrt": sympy.sqrt, "abs": Abs,
    "sigmoid": sigmoid, "relu": relu, "softplus": softplus,
    # What gradlab can print must read back in (README, "Names gradlab knows"): sign and
    # step are the derivatives of abs and relu; re, im,
    # lambertw come out of SymPy's calculus and solve. max and min are built from relu
# (max(a, b) = b + relu(a - b)), which knows its kink and is defined at every real point.
    "sign": sign, "step": step, "re": sympy.re, "im": sympy.im, "lambertw": sympy.LambertW,
}
# name -> (fewest, most) arguments; None is no upper bound
_VARIADIC = {"logsumexp": (1, None), "softmax": (1, None), "max": (1, None), "min": (1, None), "atan2": (2, 2)}
FUNCTIONS = tuple(sorted([*_UNARY, *_VARIADIC]))
CONSTANTS = {"pi": sympy.pi, "e": sympy.E}
# SymPy's own spellings, which its str() prints in exact values (JSON "exact"): read as
# gradlab's names, so every printed result parses back.
ALIASES = {"E": "e", "Abs": "abs", "LambertW": "lambertw", "Max": "max", "Min": "min"}
# Names that look like numbers or SymPy internals: refused rather than made variables.
_RESERVED = {"nan", "inf", "infinity", "oo", "zoo", "I", "true", "false", "none"}
# Names from other tools, with what to write instead.
_INSTEAD = {
    "ln": "log", "log10": "log(x)/log(10)", "log2": "log(x)/log(2)", "arcsin": "asin", "arccos": "acos",
    "arctan": "atan", "arcsinh": "asinh", "arccosh": "acosh", "arctanh": "atanh", "pow": "x**y",
    "power": "x**y", "sgn": "sign", "fabs": "abs", "absolute": "abs", "expit": "sigmoid", "logistic": "sigmoid",
    "cot": "1/tan(x)", "sec": "1/cos(x)", "csc": "1/sin(x)", "atan2d": "atan2", "heaviside": "step (step(0) = 0)", "Heaviside": "step (step(0) = 0)",
    "maximum": "max", "minimum": "min", "amax": "max", "amin": "min",
}
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")
_NUMBER = re.compile(r"(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\Z")


@dataclass(frozen=True)
class Parsed:
    """A parsed function: its text, its components and its variables in order.

    ``exprs`` has one entry for a scalar function and m entries for a map ℝⁿ → ℝᵐ.
    """

    text: str
    exprs: tuple[sympy.Expr, ...]
    variables: tuple[sympy.Symbol, ...]

    @property
    def expr(self) -> sympy.Expr:
        """The single component of a scalar function."""
        if len(self.exprs) != 1:
            raise BadInput(f"expected one function, got {len(self.exprs)}", "expression")
        return self.exprs[0]


@dataclass(frozen=True)
class Context:
    """What a surface catalogue adds to the grammar (see README, "Surfaces").

    ``columns`` are data columns that ``mean(...)``/``sum(...)`` range over; ``vector``
    is the name of an indexed variable ``x[i]`` with ``dims`` components, summed with
    ``sum(body, i, lo, hi)``, where ``n`` is the dimension. Over more than
    ``expand_rows`` rows, ``mean(...)``/``sum(...)`` stay one row's expression summed with
    NumPy (:mod:`gradlab.calculus.rows`); up to it they are written out term by term.
    """

    columns: Mapping[str, tuple[sympy.Rational, ...]] = field(default_factory=dict)
    vector: str | None = None
    dims: int | None = None
    expand_rows: int | None = None  # None: rows.EXPAND_ROWS


def symbol(name: str) -> sympy.Symbol:
    """The real SymPy symbol gradlab uses for a variable name."""
    return sympy.Symbol(name, real=True)


def natural_key(name: str) -> tuple:
    """Sort key that puts ``x2`` before ``x10``.

    >>> sorted(["x10", "y", "x2"], key=natural_key)
    ['x2', 'x10', 'y']
    """
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in re.split(r"(\d+)", name) if p)


# --------------------------------------------------------------------------- text checks
def _check_text(text: str, where: str) -> str:
    if not isinstance(text, str):
        raise BadInput("expected text", where)
    if len(text) > MAX_CHARS:
        raise LimitExceeded(f"text is {len(text)} characters long; the limit is {MAX_CHARS}", where)
    for i, ch in enumerate(text):
        if ch == "\x00" or (ord(ch) < 32 and ch not in " \t\n\r"):
            raise BadInput(f"control character {ch!r} at column {i + 1}", where)
        if ord(ch) > 127:
            raise BadInput(f"non-ASCII character {ch!r} at column {i + 1}; use plain letters and digits", where)
    if not text.strip():
        raise BadInput("empty expression", where)
    return text.replace("^", "**")


_OPERAND_END = (tokenize.NUMBER, tokenize.NAME)


def _is_operand(tok: tokenize.TokenInfo) -> bool:
    return tok.type in _OPERAND_END and not keyword.iskeyword(tok.string)


def _check_tokens(text: str, where: str) -> None:
    """Literal and nesting limits, checked on tokens before ``ast`` builds a tree, and
    the mistakes people make most (``2x``, ``(a)(b)``, an unclosed bracket), named with
    their fix before Python's parser words them its own way."""
    depth, prev = 0, None
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type in (tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT, tokenize.ENDMARKER,
                            tokenize.INDENT, tokenize.DEDENT):
                continue
            col = tok.start[1] + 1
            if tok.type == tokenize.OP and tok.string in "([{":
                depth += 1
                if depth > MAX_DEPTH:
                    raise LimitExceeded(f"nesting deeper than {MAX_DEPTH} levels", where)
            elif tok.type == tokenize.OP and tok.string in ")]}":
                depth -= 1
                if depth < 0:
                    raise BadInput(f"unmatched {tok.string!r} at column {col}", where)
            elif tok.type == tokenize.NUMBER:
                _check_literal(tok.string, where)
            elif tok.type == tokenize.STRING:
                raise BadInput("strings are not allowed", where)
            elif tok.type == tokenize.OP and tok.string in ("=", ";") and (depth == 0 or tok.string == ";"):
                raise BadInput(f"{tok.string!r} at column {col} is not allowed: give one expression "
                               "(a point is written x=2,y=5 only after --at)", where)
            elif tok.type == tokenize.ERRORTOKEN and tok.string.strip():
                raise BadInput(f"character {tok.string!r} at column {col} is not part of an expression", where)
            _check_juxtaposed(prev, tok, where)
            prev = tok
    except tokenize.TokenError:
        missing = "')'" if depth > 0 else "something"
        raise BadInput(f"syntax error: the expression is unfinished: missing {missing}?", where) from None
    except (SyntaxError, IndentationError) as exc:  # tokenize raises these for bad indents
        raise BadInput(f"syntax error: {exc.msg}", where) from None
    if prev is not None and prev.type == tokenize.OP and prev.string in ("+", "-", "*", "/", "**", "^", ","):
        raise BadInput(f"syntax error: the expression ends with {prev.string!r}: something is missing after it", where)


def _check_juxtaposed(prev: tokenize.TokenInfo | None, tok: tokenize.TokenInfo, where: str) -> None:
    """Two operands side by side (``2x``, ``2 x``, ``x y``, ``(a)(b)``, ``2(x)``): a
    product written as in a textbook; say how to write it."""
    if prev is None:
        return
    left_ends = _is_operand(prev) or (prev.type == tokenize.OP and prev.string == ")")
    right_starts = _is_operand(tok) or (tok.type == tokenize.OP and tok.string == "(")
    if not (left_ends and right_starts):
        return
    if prev.type == tokenize.NAME and tok.string == "(":
        return  # a call: f(x)
    a = prev.string if prev.string != ")" else "(...)"
    b = tok.string if tok.string != "(" else "(...)"
    raise BadInput(f"{a} and {b} are side by side at column {tok.start[1] + 1}: write {a}*{b}", where)


def _check_literal(lit: str, where: str) -> None:
    if not _NUMBER.match(lit):
        raise BadInput(f"number {lit!r} is not a plain decimal (use digits, '.', 'e')", where)
    mantissa, _, exponent = lit.lower().partition("e")
    digits = sum(c.isdigit() for c in mantissa)
    if digits > MAX_LITERAL_DIGITS:
        raise LimitExceeded(f"a number has {digits} digits; the limit is {MAX_LITERAL_DIGITS}", where)
    if exponent and abs(int(exponent)) > MAX_LITERAL_EXPONENT:
        raise LimitExceeded(f"number {lit} is out of range (exponent limit {MAX_LITERAL_EXPONENT})", where)


def _syntax_tree(text: str, where: str) -> ast.expr:
    text = _check_text(text, where)
    _check_tokens(text, where)
    try:
        with warnings.catch_warnings():
            # Python warns (on stderr) about things like "1if x"; gradlab refuses them instead.
            warnings.simplefilter("error")
            tree = ast.parse(text.strip(), mode="eval")
    except SyntaxWarning as exc:
        raise BadInput(f"syntax error: {exc}", where) from None
    except SyntaxError as exc:
        col = f" at column {exc.offset}" if exc.offset else ""
        msg = exc.msg.split(". Perhaps")[0]  # Python's guesses ("forgot a comma?") mislead here
        if "'='" in msg or "assignment" in msg or "expression cannot contain" in msg:
            msg = "'=' is not allowed; give the expression only (or x=2,y=5 for a point)"
        raise BadInput(f"syntax error{col}: {msg}", where) from None
    except (RecursionError, MemoryError, ValueError):
        raise LimitExceeded("expression is too complex to read", where) from None
    nodes, stack = 0, [(tree.body, 1)]
    while stack:  # iterative, so a deep tree cannot exhaust Python's stack here
        node, depth = stack.pop()
        nodes += isinstance(node, ast.expr)  # operators and contexts are not parts
        if nodes > MAX_NODES:
            raise LimitExceeded(f"expression has more than {MAX_NODES} parts", where)
        if depth > MAX_DEPTH:
            raise LimitExceeded(f"expression is nested deeper than {MAX_DEPTH} levels", where)
        family = _family(node)
        # a + b + c is a left-deep chain in ast, but one level of nesting to a reader
        stack.extend((child, depth if family and _family(child) == family else depth + 1)
                     for child in ast.iter_child_nodes(node))
    return tree.body


def _family(node: ast.AST) -> str | None:
    if isinstance(node, ast.BinOp):
        if isinstance(node.op, (ast.Add, ast.Sub)):
            return "add"
        if isinstance(node.op, (ast.Mult, ast.Div)):
            return "mul"
    return None


def _chain(node: ast.BinOp) -> list[tuple[bool, ast.AST]]:
    """The operands of a chain a ± b ± c (or a */ b */ c), left to right, each with
    whether it is subtracted (divided); walked without recursion."""
    family, out = _family(node), []
    while _family(node) == family:
        out.append((isinstance(node.op, (ast.Sub, ast.Div)), node.right))
        node = node.left
    out.append((False, node))
    return out[::-1]


# --------------------------------------------------------------------------- the walker
_BINOPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**"}
_NOT_ALLOWED = {
    ast.Attribute: "attribute access", ast.Subscript: "subscripts", ast.Lambda: "lambdas",
    ast.Compare: "comparisons", ast.BoolOp: "boolean operators", ast.IfExp: "conditional expressions",
    ast.JoinedStr: "f-strings", ast.List: "lists", ast.Dict: "dictionaries", ast.Set: "sets",
    ast.ListComp: "comprehensions", ast.GeneratorExp: "generators", ast.Starred: "starred arguments",
    ast.NamedExpr: "assignments", ast.Await: "await", ast.Slice: "slices",
}


class _Walker:
    """Builds SymPy objects from an allowlisted ``ast`` tree."""

    def __init__(self, text: str, where: str, ctx: Context, constant_only: bool = False):
        self.text, self.where, self.ctx, self.constant_only = text, where, ctx, constant_only
        self.env: dict[str, sympy.Expr] = {}
        if ctx.dims is not None:
            self.env["n"] = sympy.Integer(ctx.dims)
        self.visits = 0

    def fail(self, what: str, node: ast.AST | None = None) -> BadInput:
        col = f" at column {node.col_offset + 1}" if node is not None and hasattr(node, "col_offset") else ""
        return BadInput(f"{what}{col}", self.where)

    def walk(self, node: ast.AST) -> sympy.Expr:
        self.visits += 1
        if self.visits > MAX_EXPANSION:
            raise LimitExceeded(f"expression expands to more than {MAX_EXPANSION} parts", self.where)
        if isinstance(node, ast.Constant):
            return self.number(node)
        if isinstance(node, ast.Name):
            return self.name(node)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            value = self.walk(node.operand)
            return -value if isinstance(node.op, ast.USub) else value
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            return self.binop(node)
        if isinstance(node, ast.Call):
            return self.call(node)
        if isinstance(node, ast.Subscript) and self.ctx.vector:
            return self.subscript(node)
        if isinstance(node, ast.BinOp):
            return self.invalid(f"operator {type(node.op).__name__}", node)
        kind = next((v for k, v in _NOT_ALLOWED.items() if isinstance(node, k)), None)
        raise self.fail(f"{kind or type(node).__name__} not allowed", node)

    def invalid(self, what: str, node: ast.AST) -> sympy.Expr:
        raise self.fail(f"{what} not allowed; use + - * / ** and function calls", node)

    def number(self, node: ast.Constant) -> sympy.Expr:
        if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
            raise self.fail(f"{type(node.value).__name__} literals not allowed", node)
        lit = ast.get_source_segment(self.text, node) or repr(node.value)
        frac = Fraction(lit)  # exact: 0.1 is 1/10, never the float 0.1000000000000000055…
        return sympy.Rational(frac.numerator, frac.denominator)

    def name(self, node: ast.Name) -> sympy.Expr:
        name = node.id
        if name in self.env:
            return self.env[name]
        name = ALIASES.get(name, name)
        if name in CONSTANTS:
            return CONSTANTS[name]
        if name in _UNARY or name in _VARIADIC:
            raise self.fail(f"{name} is a function; call it as {name}(...)", node)
        if name in self.ctx.columns:
            raise self.fail(f"data column {name!r} can only be used inside mean(...) or sum(...)", node)
        if name == self.ctx.vector:
            raise self.fail(f"{name} is indexed; write {name}[i]", node)
        if not _NAME.match(name) or name.startswith("_"):
            raise self.fail(f"name {name!r} not allowed; names start with a letter", node)
        if len(name) > MAX_NAME:
            raise self.fail(f"name {name[:12]}… is longer than {MAX_NAME} characters", node)
        if name in _RESERVED or name.lower() in _RESERVED:
            raise self.fail(f"{name!r} is not a number or variable gradlab accepts", node)
        if self.constant_only:
            raise self.fail(f"unknown name {name!r} in a number (allowed: pi, e)", node)
        return symbol(name)

    def binop(self, node: ast.BinOp) -> sympy.Expr:
        family = _family(node)
        if family is not None:
            # Flatten the chain: no deep recursion, and one Add/Mul instead of n nested ones.
            parts, bits = [], 0
            for inverted, operand in _chain(node):
                value = self.walk(operand)
                if inverted and family == "mul" and _is_zero(value):
                    raise self.fail("division by zero", operand)
                if family == "mul" and value.is_Rational:
                    # a product's digits add up: refuse before SymPy multiplies them out
                    bits += max(int(abs(value.p)).bit_length(), int(value.q).bit_length())
                    if bits > MAX_NUMBER_DIGITS * 3.33:
                        raise LimitExceeded(f"a number grows past {MAX_NUMBER_DIGITS} digits", self.where)
                parts.append((-value if family == "add" else 1 / value) if inverted else value)
            result = sympy.Add(*parts) if family == "add" else sympy.Mul(*parts)
            return self.check_size(result, node)
        left, right = self.walk(node.left), self.walk(node.right)
        self.check_power(left, right, node)
        if _is_zero(left) and right.is_extended_negative:
            raise self.fail("division by zero (0 to a negative power)", node)
        if left.is_number and left.is_extended_negative and not right.is_number:
            # (-2)**x is complex at every non-integer x: not a function gradlab can draw
            raise self.fail(f"{ast.get_source_segment(self.text, node) or 'the power'} is not real when the "
                            "exponent is not a whole number; use a positive base", node)
        return self.check_real(self.check_size(self.build(sympy.Pow, (left, right), node), node), node)

    def build(self, fn, args, node: ast.AST) -> sympy.Expr:
        """``fn(*args)``, checked against verified numerics when every argument is a number."""
        value = fn(*args)
        if all(a.is_number for a in args) and not all(a.is_Rational for a in args):
            self.verify(fn, args, value, node)
        return value

    def verify(self, fn, args, value: sympy.Expr, node: ast.AST) -> None:
        """SymPy simplifies a function of a number on a 2-digit guess: it takes
        10**20*acos(tanh(30)) (about 1.9e7) for 0, so asin of it "is" 0. Recompute the
        unevaluated call with mpmath at 256 and 512 bits and refuse what SymPy got wrong:
        a non-real value, or a value that does not match."""
        try:
            raw = fn(*args, evaluate=False)
        except TypeError:
            return  # a Python helper (max, min): built from relu, which decides signs itself
        lo, hi = mp_value(raw, 256), mp_value(raw, 512)
        if lo is None or hi is None or abs(hi - lo) > abs(hi) * 2.0**-30 + 2.0**-120:
            return  # no verified value with bounded work: SymPy's stands
        text = ast.get_source_segment(self.text, node) or to_text(raw)
        if isinstance(hi, mpmath.mpc) and abs(hi.imag) > abs(hi) * 2.0**-30 + 2.0**-120:
            raise self.fail(f"{text} is not a real number", node)
        got = mp_value(value, 512)
        if got is None or abs(got - hi) > abs(hi) * 2.0**-30 + 2.0**-120:
            raise self.fail(f"{text} cannot be computed exactly (SymPy simplifies it to {to_text(value)}, "
                            f"but it is {mpmath.nstr(mpmath.re(hi), 6)})", node)

    def check_real(self, value: sympy.Expr, node: ast.AST) -> sympy.Expr:
        """Refuse a constant that is not a finite real number (``sqrt(-1)``, ``log(0)``,
        ``asin(pi)``), where it is written, as surface files do: gradlab's maths is real."""
        if value.is_Rational or not value.is_number:
            return value
        text = ast.get_source_segment(self.text, node) or to_text(value)
        if value.has(sympy.zoo, sympy.nan, sympy.oo, -sympy.oo):
            raise self.fail(f"{text} is undefined (a pole, such as division by zero or log(0))", node)
        # verified numerics first: SymPy's is_extended_real guesses from 2 digits
        lo, hi = mp_value(value, 256), mp_value(value, 512)
        if lo is not None and hi is not None and abs(hi - lo) <= abs(hi) * 2.0**-30 + 2.0**-120:
            real = not (isinstance(hi, mpmath.mpc) and abs(hi.imag) > abs(hi) * 2.0**-30 + 2.0**-120)
        else:
            real = value.is_extended_real is not False
        if not real:
            raise self.fail(f"{text} is not a real number", node)
        return value

    def check_power(self, base: sympy.Expr, exponent: sympy.Expr, node: ast.AST) -> None:
        """Refuse powers whose exact value would be enormous, before computing them."""
        if not exponent.is_Number:
            return
        q = abs(float(exponent))
        if base.is_Number:
            if base == 0 or abs(base) == 1:
                return
            p, r = sympy.fraction(abs(base))
            digits = q * max(math.log10(int(p)) if p > 1 else 0.0, math.log10(int(r)) if r > 1 else 0.0)
            if digits > MAX_NUMBER_DIGITS:
                raise LimitExceeded(f"power has about {digits:.3g} digits; the limit is {MAX_NUMBER_DIGITS}", self.where)
        elif q > MAX_SYMBOLIC_EXPONENT:
            raise LimitExceeded(f"exponent {exponent} is larger than {MAX_SYMBOLIC_EXPONENT}", self.where)

    def check_size(self, value: sympy.Expr, node: ast.AST) -> sympy.Expr:
        if value.is_Rational:
            p, q = value.as_numer_denom() if not value.is_Integer else (value, 1)
            bits = max(int(abs(p)).bit_length(), int(q).bit_length())
            if bits > MAX_NUMBER_DIGITS * 3.33:
                raise LimitExceeded(f"a number grows past {MAX_NUMBER_DIGITS} digits", self.where)
        return value

    def call(self, node: ast.Call) -> sympy.Expr:
        if not isinstance(node.func, ast.Name):
            raise self.fail("only named functions can be called; for a product write (...)*(...)", node)
        name = ALIASES.get(node.func.id, node.func.id)
        if node.keywords or any(isinstance(a, ast.Starred) for a in node.args):
            raise self.fail(f"{name}() takes plain arguments only", node)
        if name in ("sum", "mean") and (self.ctx.columns or self.ctx.vector):
            return self.aggregate(name, node)
        if name == "softmax":
            raise self.fail("softmax is vector-valued; use it on its own in jacobian", node)
        if name not in _UNARY and name not in _VARIADIC:
            raise self.fail(_unknown_function(name, self.env, self.ctx), node)
        args = [self.walk(a) for a in node.args]
        if name in _VARIADIC:
            lo, hi = _VARIADIC[name]
            if len(args) < lo or (hi is not None and len(args) > hi):
                want = f"exactly {lo}" if lo == hi else f"at least {lo}"
                raise self.fail(f"{name}() takes {want} argument{'s' if lo != 1 else ''}, got {len(args)}", node)
            fn = {"logsumexp": logsumexp, "max": _max, "min": _min, "atan2": sympy.atan2}[name]
            return self.check_real(self.build(fn, args, node), node)
        if name == "lambertw" and len(args) == 2:  # the printed form LambertW(u, k)
            if not args[1].is_Integer:
                raise self.fail("the branch k of lambertw(u, k) is a whole number", node)
            return self.check_real(self.build(sympy.LambertW, args, node), node)
        if len(args) != 1:
            raise self.fail(f"{name}() takes exactly one argument, got {len(args)}", node)
        return self.check_real(self.build(_UNARY[name], args, node), node)

    def constant_int(self, node: ast.AST, what: str) -> int:
        value = self.walk(node)
        if not value.is_Integer:
            raise self.fail(f"{what} must be a whole number, got {value}", node)
        return int(value)

    def subscript(self, node: ast.Subscript) -> sympy.Expr:
        if not (isinstance(node.value, ast.Name) and node.value.id == self.ctx.vector):
            raise self.fail(f"only {self.ctx.vector}[i] can be indexed", node)
        k = self.constant_int(node.slice, "an index")
        if not 1 <= k <= (self.ctx.dims or 0):
            raise self.fail(f"index {k} is outside 1..{self.ctx.dims}", node)
        return symbol(f"{self.ctx.vector}{k}")

    def aggregate(self, name: str, node: ast.Call) -> sympy.Expr:
        """``mean(body)``/``sum(body)`` over data rows, or ``sum(body, i, lo, hi)``."""
        if len(node.args) == 4:
            body, index, lo_node, hi_node = node.args
            if not isinstance(index, ast.Name) or not _NAME.match(index.id) or index.id == "n":
                raise self.fail("the index of sum(body, i, lo, hi) must be a plain name", node)
            lo, hi = self.constant_int(lo_node, "a lower bound"), self.constant_int(hi_node, "an upper bound")
            if hi - lo + 1 > MAX_EXPANSION:
                raise LimitExceeded(f"sum has more than {MAX_EXPANSION} terms", self.where)
            from gradlab.calculus.renaming import add

            terms = self.terms(body, index.id, range(lo, hi + 1))
            return add(terms) if name == "sum" else add(terms) / max(len(terms), 1)
        if len(node.args) != 1:
            raise self.fail(f"{name}() takes one expression over the data rows, or (body, i, lo, hi)", node)
        if not self.ctx.columns:
            raise self.fail(f"{name}(...) over rows needs data columns", node)
        n_rows = len(next(iter(self.ctx.columns.values())))
        if n_rows > (rows.EXPAND_ROWS if self.ctx.expand_rows is None else self.ctx.expand_rows):
            # One row's body in column symbols, averaged by NumPy: O(1) symbolic work in
            # the number of rows (a 10,000-term sum takes SymPy half a minute).
            table = rows.table_for(self.ctx.columns)
            body = self.with_env(dict(zip(table.names, table.symbols)), node.args[0])
            mean = rows.row_mean(body, table)
            return mean if name == "mean" else n_rows * mean
        terms = [
            self.with_env({c: vals[r] for c, vals in self.ctx.columns.items()}, node.args[0]) for r in range(n_rows)
        ]
        total = sympy.Add(*terms)
        return total / n_rows if name == "mean" else total

    def terms(self, body: ast.AST, index: str, ks: range) -> list[sympy.Expr]:
        """The terms of ``sum(body, index, lo, hi)``. Where the index occurs only inside
        subscripts ``x[…]`` (Rosenbrock's ``x[i+1] - x[i]**2``), most terms are another
        term renamed (``renaming.expand_sum``: the same expressions, in a fraction of the
        time); else each is walked."""
        walk = lambda k: self.with_env({index: sympy.Integer(k)}, body)  # noqa: E731
        subs = [n for n in ast.walk(body) if isinstance(n, ast.Subscript)]
        inside = {id(n) for s in subs for n in ast.walk(s.slice)}
        if len(ks) < 2 or not subs or any(
                (isinstance(n, ast.Call) and not (isinstance(n.func, ast.Name)  # a nested sum: walked
                                                  and ALIASES.get(n.func.id, n.func.id) not in ("sum", "mean")))
                or (isinstance(n, ast.Name) and n.id == index and id(n) not in inside)
                for n in ast.walk(body)) or not all(
                isinstance(s.value, ast.Name) and s.value.id == self.ctx.vector for s in subs):
            return [walk(k) for k in ks]
        from gradlab.calculus import renaming

        def indices(k: int) -> list[int] | None:
            count = self.visits
            try:
                values = [self.with_env({index: sympy.Integer(k)}, s.slice) for s in subs]
            except BadInput:
                return None  # the term's own walk says what is wrong
            finally:
                self.visits = count
            if not all(v.is_Integer and 1 <= v <= (self.ctx.dims or 0) for v in values):
                return None
            return [int(v) for v in values]

        def charge(cost: int) -> None:
            self.visits += cost
            if self.visits > MAX_EXPANSION:
                raise LimitExceeded(f"expression expands to more than {MAX_EXPANSION} parts", self.where)

        return renaming.expand_sum(walk, indices, lambda j: symbol(f"{self.ctx.vector}{j}"), ks,
                                   lambda: self.visits, charge)

    def with_env(self, binding: dict[str, sympy.Expr], node: ast.AST) -> sympy.Expr:
        saved = dict(self.env)
        self.env.update(binding)
        try:
            return self.walk(node)
        finally:
            self.env = saved


def _is_zero(v: sympy.Expr) -> bool:
    """Exactly 0, decided by :func:`sign_of` for numbers (SymPy's ``is_zero`` guesses
    from 2 digits and takes 10**20*acos(tanh(30)) for 0)."""
    if v.is_Rational:
        return v == 0
    return v.is_number and sign_of(v) == 0


def _max(*args: sympy.Expr) -> sympy.Expr:
    out = args[0]
    for a in args[1:]:
        out = a + relu(out - a)
    return out


def _min(*args: sympy.Expr) -> sympy.Expr:
    out = args[0]
    for a in args[1:]:
        out = out - relu(out - a)
    return out


def _unknown_function(name: str, env: Mapping[str, sympy.Expr], ctx: Context) -> str:
    """Why ``name(...)`` is not a call gradlab knows, and what to write instead."""
    if name in _INSTEAD:
        return f"unknown function {name!r}: use {_INSTEAD[name]}"
    if name in ("sum", "mean"):
        return f"{name}(...) is only for data columns and vectors of a surface file"
    hint = _closest(name, FUNCTIONS)
    if name in CONSTANTS or name in env or (len(name) <= 2 and not hint):
        return f"unknown function {name!r}; for a product write {name}*(...)"
    return f"unknown function {name!r}{hint}"


def _closest(name: str, choices: Iterable[str]) -> str:
    import difflib

    if name.lower() in choices and name.lower() != name:
        return f"; did you mean {name.lower()}?"
    close = difflib.get_close_matches(name, list(choices), n=3, cutoff=0.6)
    return f"; did you mean {', '.join(close)}?" if close else ""


# --------------------------------------------------------------------------- public API
def _split_top(text: str) -> list[str]:
    """Split on commas outside parentheses and brackets."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts


def parse_scalar(text: str, where: str = "expression", ctx: Context | None = None) -> sympy.Expr:
    """Parse one scalar expression.

    >>> parse_scalar("0.1*x^2")
    x**2/10
    """
    tree = _syntax_tree(text, where)
    if isinstance(tree, ast.Tuple):
        raise BadInput("expected one expression, found a comma-separated list", where)
    cleaned = _check_text(text, where).strip()
    return _own(_Walker(cleaned, where, ctx or Context()).walk(tree))


def _own(e: sympy.Expr) -> sympy.Expr:
    """SymPy makes its own Abs and sign (sqrt(x**2) is Abs(x)): use gradlab's, whose
    signs of numbers are sound, so one expression never mixes the two."""
    if any(type(a) in (sympy.Abs, sympy.sign) for a in e.atoms(sympy.Abs, sympy.sign)):
        e = e.replace(lambda a: type(a) is sympy.Abs, lambda a: Abs(a.args[0]))
        e = e.replace(lambda a: type(a) is sympy.sign, lambda a: sign(a.args[0]))
    return e


def parse_components(text: str, where: str = "expression", ctx: Context | None = None) -> list[sympy.Expr]:
    """Parse ``f1, f2, ...`` (or ``softmax(a, b, c)``) into its components.

    >>> parse_components("x*y, x + y")
    [x*y, x + y]
    """
    _check_text(text, where)
    pieces = _split_top(text)
    out: list[sympy.Expr] = []
    for k, piece in enumerate(pieces, 1):
        if not piece.strip():
            raise BadInput(f"component {k} is empty", where)
        stripped = piece.strip()
        if stripped.startswith("softmax") and stripped[7:].lstrip().startswith("("):
            out.extend(_softmax(stripped, where, ctx))
        else:
            out.append(parse_scalar(piece, where, ctx))
    return out


def _softmax(text: str, where: str, ctx: Context | None) -> list[sympy.Expr]:
    tree = _syntax_tree(text, where)
    if not (isinstance(tree, ast.Call) and isinstance(tree.func, ast.Name) and tree.func.id == "softmax"):
        raise BadInput("softmax is vector-valued; use it on its own as a component", where)
    walker = _Walker(_check_text(text, where).strip(), where, ctx or Context())
    if tree.keywords or not tree.args:
        raise BadInput("softmax() needs one or more plain arguments", where)
    return [_own(c) for c in softmax([walker.walk(a) for a in tree.args])]


def variables_of(exprs: Sequence[sympy.Expr], declared: str | None = None,
                 where: str = "--vars") -> tuple[sympy.Symbol, ...]:
    """The variables in natural order, or in the order ``declared`` (``"y,x"``) gives.

    >>> variables_of([symbol("x10") + symbol("x2")])
    (x2, x10)
    """
    free = set().union(*(e.free_symbols for e in exprs)) if exprs else set()
    if declared is None or not declared.strip():
        return tuple(sorted(free, key=lambda s: natural_key(s.name)))
    names = [n.strip() for n in declared.split(",")]
    for n in names:
        if not _NAME.match(n) or n in CONSTANTS or n in ALIASES or n in _UNARY or n in _RESERVED or len(n) > MAX_NAME:
            raise BadInput(f"{n!r} is not a variable name", where)
    if len(set(names)) != len(names):
        raise BadInput("a variable is listed twice", where)
    syms = tuple(symbol(n) for n in names)
    missing = sorted((s.name for s in free - set(syms)), key=natural_key)
    if missing:
        raise BadInput(f"the expression uses {', '.join(missing)}, which the variables do not list", where)
    return syms


def parse(text: str, variables: str | None = None, vector: bool = False, ctx: Context | None = None) -> Parsed:
    """Parse a scalar function (or, with ``vector=True``, a comma-separated map)."""
    exprs = parse_components(text, ctx=ctx) if vector else [parse_scalar(text, ctx=ctx)]
    return Parsed(text=text, exprs=tuple(exprs), variables=variables_of(exprs, variables))


def looks_like_name(text: str) -> bool:
    """Whether ``text`` could be a surface name (``six-hump-camel``) rather than an
    expression; only then is the catalogue (and PyYAML) loaded.

    >>> looks_like_name("six-hump-camel"), looks_like_name("x**2")
    (True, False)
    """
    t = text.strip()
    return bool(t) and t[0].isalpha() and all(c.isalnum() or c in "-_" for c in t)


def parse_number(text: str, where: str) -> sympy.Expr:
    """One exact real constant: ``-1``, ``1/2``, ``pi/4``, ``sqrt(2)``, ``1e-3``.

    >>> parse_number("-3/4", "--at")
    -3/4
    """
    tree = _syntax_tree(text, where)
    if isinstance(tree, ast.Tuple):
        raise BadInput("expected one number", where)
    value = _own(_Walker(_check_text(text, where).strip(), where, Context(), constant_only=True).walk(tree))
    if value.is_extended_real is False or value.has(sympy.zoo, sympy.nan, sympy.oo, -sympy.oo):
        raise BadInput(f"{text.strip()} is not a finite real number", where)
    if not math.isfinite(float(sympy.N(value, 20))):
        raise BadInput(f"{text.strip()} is too large for a float", where)
    return value


_NUMBER_WORD = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?(/\d+)?\Z")


def _coordinate(text: str, where: str) -> sympy.Expr:
    """One coordinate of a list; numbers side by side (``1 2``) are a missing comma, and
    the error says so rather than suggesting a product."""
    try:
        return parse_number(text, where)
    except BadInput:
        words = text.split()
        if len(words) > 1 and all(_NUMBER_WORD.match(w) for w in words):
            raise BadInput(f"{text.strip()!r} has numbers separated by spaces: separate them with commas "
                           f"({','.join(words)})", where) from None
        raise


def parse_point(text: str, dims: int | None = None, names: Sequence[str] | None = None,
                where: str = "--at", what: str = "point") -> tuple[sympy.Expr, ...]:
    """A point: ``2,5``, ``-1,1/2,pi`` or ``x=2,y=5`` (named, any order).

    ``dims`` is the dimension expected; ``names`` the variable names, for the named form;
    ``what`` names the list in messages (``direction``: its entries are components).

    >>> parse_point("y=5, x=2", 2, ["x", "y"])
    (2, 5)
    """
    _check_text(text, where)
    bare = text.strip()
    if len(bare) > 1 and (bare[0], bare[-1]) in (("(", ")"), ("[", "]")) and len(_split_top(bare[1:-1])) > 1:
        raise BadInput(f"write the point without brackets: {where} {bare[1:-1].strip()}", where)
    pieces = _split_top(text)
    if any(not p.strip() for p in pieces):
        raise BadInput("a coordinate is empty (check for doubled or trailing commas)", where)
    named = ["=" in p for p in pieces]
    if any(named) and not all(named):
        raise BadInput("mix of named (x=2) and positional coordinates", where)
    if all(named):
        values: dict[str, sympy.Expr] = {}
        for p in pieces:
            key, _, val = p.partition("=")
            key = key.strip()
            if names is not None and key not in names:
                raise BadInput(f"{key!r} is not a variable of the function ({', '.join(names)})", where)
            if key in values:
                raise BadInput(f"{key} is given twice", where)
            values[key] = _coordinate(val, where)
        order = list(names) if names is not None else sorted(values, key=natural_key)
        missing = [n for n in order if n not in values]
        if missing:
            raise BadInput(f"no value for {', '.join(missing)}", where)
        point = tuple(values[n] for n in order)
    else:
        point = tuple(_coordinate(p, where) for p in pieces)
    if dims is not None and len(point) != dims:
        entry = "coordinate" if what == "point" else "component"
        raise BadInput(f"the {what} has {len(point)} {entry}{'s' if len(point) != 1 else ''}; the function has "
                       f"{dims} variable{'s' if dims != 1 else ''}", where)
    return point


# --------------------------------------------------------------------------- printing
class _GradlabPrinter(StrPrinter):
    """SymPy's str printer, speaking gradlab's input syntax: every name it prints is one
    :func:`parse_scalar` reads (``abs``, ``e``, ``max``, ``lambertw``; Heaviside as step
    and sign)."""

    def __init__(self, settings=None):
        super().__init__(settings)
        self._memo: dict = {}

    def _print(self, expr, **kwargs):
        # A derivative of a deep chain shares its subtrees (a DAG): print each once, or
        # the 58-deep sin chain's Hessian costs seconds for a text of 0.5 MB.
        if kwargs or not isinstance(expr, sympy.Basic) or not expr.args:
            return super()._print(expr, **kwargs)
        hit = self._memo.get(expr)
        if hit is None:
            hit = self._memo[expr] = super()._print(expr)
        return hit

    def _print_Abs(self, expr):
        return f"abs({self._print(expr.args[0])})"

    def _print_Exp1(self, expr):
        return "e"

    def _print_Float(self, expr):  # gradlab never builds floats, but keep them parseable
        return repr(float(expr))

    def _call(self, name: str, args) -> str:
        return f"{name}({', '.join(self._print(a) for a in args)})"

    def _print_Max(self, expr):
        return self._call("max", expr.args)

    def _print_Min(self, expr):
        return self._call("min", expr.args)

    def _print_Heaviside(self, expr):
        # H(u) with H(0) = h0 is step(u) + h0·[u = 0]; SymPy's default h0 = 1/2 is (1 + sign(u))/2
        arg, h0 = expr.args[0], expr.args[1] if len(expr.args) > 1 else sympy.S.Half
        u = self._print(arg)
        if h0 == 0:
            return f"step({u})"
        if h0 == 1:
            return f"(1 - step(-({u})))"
        if h0 == sympy.S.Half:
            return f"(1 + sign({u}))/2"
        return f"(step({u}) + {self._print(h0)}*(1 - abs(sign({u}))))"

    def _print_LambertW(self, expr):
        return self._call("lambertw", expr.args if len(expr.args) > 1 and expr.args[1] != 0 else expr.args[:1])

    # Integers and fractions longer than the parser reads in one literal are written as
    # exact literals (1e-300 for 10**-300, 1/3e300, 7*10**-305), so they read back in.
    long_digits = MAX_LITERAL_DIGITS
    mantissa_digits = MAX_LITERAL_DIGITS

    def _int_text(self, n: int) -> str:
        """n in digits, or as a short exact literal when longer than ``long_digits``
        (with more significant digits than ``mantissa_digits``, still when the digits
        would be more than a literal may have, so that it reads back in)."""
        if n.bit_length() <= 3 * self.long_digits:
            return str(n)
        digits = len(str(abs(n)))
        if digits <= self.long_digits:
            return str(n)
        short = _short_int(n, self.mantissa_digits)
        if short is None and digits > MAX_LITERAL_DIGITS:
            short = _short_int(n, MAX_LITERAL_DIGITS)
        return short or str(n)

    def _print_Integer(self, expr):
        text = self._int_text(int(expr))
        return f"({text})" if "*" in text else text

    def _print_Rational(self, expr):
        p, q = int(expr.p), int(expr.q)
        if q == 1:
            return self._print_Integer(expr)
        if max(abs(p), q).bit_length() <= 3 * self.long_digits:
            return super()._print_Rational(expr)
        digits = str(q)
        if digits == "1" + "0" * (len(digits) - 1) and len(digits) > self.long_digits:
            # p/10^k: one literal, m e-k (1e-300), while the exponent is a literal's
            k = len(digits) - 1
            if len(str(abs(p))) <= self.mantissa_digits or (len(str(abs(p))) <= MAX_LITERAL_DIGITS < len(digits)):
                if k <= MAX_LITERAL_EXPONENT:
                    return f"{p}e-{k}"
                return f"{p}*10**-{k}" if abs(p) != 1 else f"{'-' if p < 0 else ''}10**-{k}"
        ps, qs = self._int_text(p), self._int_text(q)
        if "*" in qs or "e" not in qs and "e" not in ps and ps == str(p) and qs == digits:
            return f"{ps}/({qs})" if "*" in qs else super()._print_Rational(expr)
        return f"{ps}/{qs}"


def to_text(expr: sympy.Expr) -> str:
    """An expression in gradlab's own syntax: ``parse_scalar(to_text(e)) == e``.

    >>> to_text(sympy.Abs(symbol("x")) + sympy.E)
    'abs(x) + e'
    >>> to_text(sympy.Max(symbol("x"), 0) + sympy.LambertW(2))
    'max(0, x) + lambertw(2)'
    """
    # A number's terms print in SymPy's own order: sorting them ("lex") evaluates each
    # one numerically, which for exp(10**8) would need tens of millions of digits. So do
    # large expressions: sorting a product's factors compares deep subtrees (seconds for
    # the Hessian of a 58-deep chain), and nobody reads such a text for its order.
    plain = _is_number(expr) or _larger_than(expr, PRINT_SORTED)
    return _GradlabPrinter({"order": "none" if plain else None}).doprint(expr)


#: Expressions with more nodes than this print their terms and factors unsorted.
PRINT_SORTED = 5_000


def _larger_than(expr: object, limit: int) -> bool:
    if not isinstance(expr, sympy.Basic):
        return False
    seen, stack = 0, [expr]
    while stack:
        e = stack.pop()
        seen += 1
        if seen > limit:
            return True
        stack.extend(e.args)
    return False


def _is_number(expr: object) -> bool:
    return isinstance(expr, sympy.Basic) and bool(getattr(expr, "is_number", False))


def number_text(expr: sympy.Expr) -> str:
    """An exact number in gradlab's own syntax (``sqrt(2)/2``, ``-1 + e``), printed
    without evaluating it (SymPy's term order, not a sorted one): bounded for any number
    gradlab can build, and it reads back in.

    >>> number_text(sympy.exp(10**8) - 1), number_text(sympy.E - 1)
    ('-1 + exp(100000000)', '-1 + e')
    """
    return to_text(expr) if _is_number(expr) else str(expr)


# --------------------------------------------------------------------------- short exact numbers
#: Digits an integer (a numerator, a denominator) keeps before it is written compactly.
SHORT_DIGITS = 20
#: Most significant digits a compact integer keeps (m in m·10^k); beyond, no exact short form.
SHORT_MANTISSA = 17


def _short_int(n: int, most: int = SHORT_MANTISSA) -> str | None:
    """``n`` as an exact decimal literal ``me+k`` (``3e300``; gradlab reads it exactly) or,
    beyond the literal's exponent limit, ``m*10**k``; None when n has too many
    significant digits (more than ``most``) for a short form.

    >>> _short_int(3 * 10**300), _short_int(10**400), _short_int(2**100)
    ('3e300', '10**400', None)
    """
    digits = str(abs(n))
    mantissa = digits.rstrip("0")
    k = len(digits) - len(mantissa)
    if len(mantissa) > most or k == 0:
        return None
    sign = "-" if n < 0 else ""
    if k <= MAX_LITERAL_EXPONENT:
        return f"{sign}{mantissa}e{k}"
    return f"{sign}{mantissa}*10**{k}" if mantissa != "1" else f"{sign}10**{k}"


class _ShortPrinter(_GradlabPrinter):
    """gradlab syntax with integers and fractions of more than :data:`SHORT_DIGITS`
    digits written compactly and exactly (``1e-300`` for 10⁻³⁰⁰, ``1/3e300``): a table
    cell or a title stays one short word, and it still reads back in."""

    long_digits = SHORT_DIGITS
    mantissa_digits = SHORT_MANTISSA


def short_text(expr: sympy.Expr) -> str:
    """An exact value for a table or a title: :func:`number_text`, with integers and
    fractions of more than :data:`SHORT_DIGITS` digits written as exact literals
    (``1e-300``, ``3e300``, ``1/3e300``), so that no cell or title breaks a number over
    lines. It reads back in to the same value; JSON keeps :func:`number_text`.

    >>> short_text(sympy.Rational(1, 10**300)), short_text(sympy.Rational(3, 10**301) + symbol("x"))
    ('1e-300', 'x + 3*10**-301')
    """
    if not _is_number(expr):
        return _ShortPrinter({"order": "none" if _larger_than(expr, PRINT_SORTED) else None}).doprint(expr)
    return _ShortPrinter({"order": "none"}).doprint(expr)


#: Characters an exact value may take in a table cell or a title; a longer one (2**1000 has
#: 302 digits) is shown as its float, and JSON keeps it exactly.
SHOWN = 40


def shown_text(expr: sympy.Expr, value: float | None = None) -> str:
    """An exact value as a table cell or a title shows it: :func:`short_text`, or when
    that is still longer than :data:`SHOWN` characters and its float ``value`` is known,
    ``≈ value (exact in json)``.

    >>> shown_text(sympy.Rational(1, 10**300), 1e-300), shown_text(sympy.Integer(2)**1000, 2.0**1000)
    ('1e-300', '≈ 1.0715086071862673e+301 (exact in json)')
    """
    text = short_text(expr)
    if len(text) <= SHOWN or value is None:
        return text
    return f"≈ {value!r} (exact in json)"
