"""Shaped variables: declarations (``W=3x4``), their components, and their values.

A variable of shape ``(3, 4)`` is 12 real symbols ``W[0,0] … W[2,3]`` (indices from 0,
as in NumPy and PyTorch); every derivative is computed on these components and shown
back in the variable's shape. Values come from ``--at`` (numbers or bracketed nested
lists), ``--seed N`` (seeded standard-normal values, rounded to two decimals so that they
stay short exact fractions) or a ``.json`` file of the same names. Every size is checked
before any SymPy work.

>>> parse_shapes("W=3x4,x=4,b=3")
{'W': (3, 4), 'x': (4,), 'b': (3,)}
>>> shape_text((3, 4)), shape_text(()), [s.name for s in components("x", (2,))]
('3×4', 'scalar', ['x[0]', 'x[1]'])
>>> parse_values("x=[1,2],c=1/2", {"x": (2,), "c": ()})
{'x': (1, 2), 'c': (1/2,)}
"""

from __future__ import annotations

import ast
import json
import math
import os
import re
from fractions import Fraction
from typing import Any, Mapping, Sequence

import sympy

from gradlab.errors import BadInput, LimitExceeded
from gradlab.calculus.parsing import (CONSTANTS, FUNCTIONS, MAX_NAME, _NAME, _RESERVED, _split_top, _syntax_tree,
                             natural_key, parse_number, symbol)

Shape = tuple[int, ...]

#: Scalar components over all shaped variables, refused before anything is built.
MAX_COMPONENTS = 10_000
#: Non-zero entries of all local Jacobians of a graph (a matmul of m×n by n×p has 2mnp).
MAX_JACOBIAN_ENTRIES = 200_000
MAX_VALUES_FILE = 5_000_000  # bytes of a --at .json file
SEED_DECIMALS = 2


def size(shape: Shape) -> int:
    """The number of scalar components of ``shape`` (1 for a scalar)."""
    return math.prod(shape)


def shape_text(shape: Shape) -> str:
    """``3×4``, ``4`` or ``scalar``: how errors and tables name a shape."""
    return "×".join(str(n) for n in shape) if shape else "scalar"


def check_name(name: str, where: str) -> str:
    """A variable name gradlab accepts (as the expression parser does)."""
    if (not _NAME.match(name) or name in CONSTANTS or name in FUNCTIONS or name in _RESERVED
            or name.lower() in _RESERVED or len(name) > MAX_NAME):
        raise BadInput(f"{name!r} is not a variable name", where)
    return name


def parse_shape(text: str, where: str = "--shape") -> Shape:
    """``3x4`` → (3, 4), ``4`` → (4,), ``1`` or ``scalar`` → ().

    >>> parse_shape("3x4"), parse_shape("5"), parse_shape("scalar")
    ((3, 4), (5,), ())
    """
    t = text.strip().lower()
    if t in ("scalar", "()", ""):
        return ()
    if not re.fullmatch(r"\d{1,6}(\s*[x×*]\s*\d{1,6})?", t):
        raise BadInput(f"shape {text.strip()!r} is not N or MxN (for example 4 or 3x4)", where)
    dims = tuple(int(p) for p in re.split(r"\s*[x×*]\s*", t))
    if any(d < 1 for d in dims):
        raise BadInput(f"shape {text.strip()} has a zero size", where)
    if size(dims) > MAX_COMPONENTS:
        raise LimitExceeded(f"shape {shape_text(dims)} has {size(dims)} components; the limit is {MAX_COMPONENTS}", where)
    return () if dims == (1,) else dims


def parse_shapes(text: str | None, where: str = "--shape") -> dict[str, Shape]:
    """``W=3x4,x=4,b=3`` → {name: shape}, total size checked against MAX_COMPONENTS."""
    out: dict[str, Shape] = {}
    if text is None or not text.strip():
        return out
    if len(text) > 2000:
        raise LimitExceeded("--shape is longer than 2000 characters", where)
    for piece in text.split(","):
        name, eq, dims = piece.partition("=")
        if not eq:
            raise BadInput(f"{piece.strip()!r} is not NAME=SHAPE (for example W=3x4)", where)
        name = check_name(name.strip(), where)
        if name in out:
            raise BadInput(f"{name} is given twice", where)
        out[name] = parse_shape(dims, where)
    check_total(out, where)
    return out


def check_total(shapes: Mapping[str, Shape], where: str) -> None:
    total = sum(size(s) for s in shapes.values())
    if total > MAX_COMPONENTS:
        raise LimitExceeded(f"the variables have {total} scalar components; the limit is {MAX_COMPONENTS}", where)


def component_name(name: str, shape: Shape, flat: int) -> str:
    """The name of one component: ``x[2]``, ``W[1,3]`` (indices from 0)."""
    if not shape:
        return name
    if len(shape) == 1:
        return f"{name}[{flat}]"
    return f"{name}[{flat // shape[1]},{flat % shape[1]}]"


def components(name: str, shape: Shape) -> tuple[sympy.Symbol, ...]:
    """The real symbols of a variable's components, row-major."""
    return tuple(symbol(component_name(name, shape, k)) for k in range(size(shape)))


def nest(flat: Sequence[Any], shape: Shape) -> Any:
    """Row-major components as nested lists of ``shape`` (a scalar stays a scalar).

    >>> nest([1, 2, 3, 4, 5, 6], (2, 3))
    [[1, 2, 3], [4, 5, 6]]
    """
    flat = list(flat)
    if not shape:
        return flat[0]
    if len(shape) == 1:
        return flat
    return [flat[i * shape[1]:(i + 1) * shape[1]] for i in range(shape[0])]


# --------------------------------------------------------------------------- values
def _nested(node: ast.AST, text: str, where: str) -> Any:
    """A bracketed nested list of numbers, each number read by gradlab's parser."""
    if isinstance(node, (ast.List, ast.Tuple)):
        return [_nested(e, text, where) for e in node.elts]
    segment = ast.get_source_segment(text, node)
    if segment is None:
        raise BadInput("a value could not be read", where)
    return parse_number(segment, where)


def _shape_of(value: Any, where: str, name: str) -> Shape:
    if not isinstance(value, list):
        return ()
    if not value:
        raise BadInput(f"the value of {name} is an empty list", where)
    inner = [_shape_of(v, where, name) for v in value]
    if any(s != inner[0] for s in inner):
        raise BadInput(f"the value of {name} is a ragged list (rows of different lengths)", where)
    return (len(value), *inner[0])


def _flatten(value: Any) -> list:
    return [x for v in value for x in _flatten(v)] if isinstance(value, list) else [value]


def _fit(name: str, value: Any, shape: Shape, where: str) -> tuple[sympy.Expr, ...]:
    got = _shape_of(value, where, name)
    if got == (1,) and shape == ():
        got = ()
    if got != shape:
        raise BadInput(f"the value of {name} has shape {shape_text(got)}; {name} is declared {shape_text(shape)}", where)
    return tuple(_flatten(value))


def _read_value(text: str, where: str) -> Any:
    t = text.strip()
    if not t.startswith("["):
        return parse_number(t, where)
    tree = _syntax_tree(t, where)  # the parser's limits: length, nesting, literal sizes
    return _nested(tree, t.replace("^", "**"), where)


def parse_values(text: str, shapes: Mapping[str, Shape], where: str = "--at") -> dict[str, tuple[sympy.Expr, ...]]:
    """Values for some or all variables: ``x=[1,2],W=[[1,0],[0,1]],c=1/2``, or positional
    values in the variables' order (``2,5``, ``[1,2],3``). Unnamed leftovers are errors;
    missing variables are simply absent (the caller decides)."""
    order = list(shapes)
    pieces = _split_top(text)
    if any(not p.strip() for p in pieces):
        raise BadInput("a value is empty (check for doubled or trailing commas)", where)
    named = ["=" in p for p in pieces]
    if any(named) and not all(named):
        raise BadInput("mix of named (x=2) and positional values", where)
    out: dict[str, tuple[sympy.Expr, ...]] = {}
    if all(named):
        for p in pieces:
            key, _, val = p.partition("=")
            key = key.strip()
            if key not in shapes:
                raise BadInput(f"{key!r} is not a variable of the function ({', '.join(order)})", where)
            if key in out:
                raise BadInput(f"{key} is given twice", where)
            out[key] = _fit(key, _read_value(val, where), shapes[key], where)
        return out
    if len(pieces) != len(order):
        raise BadInput(f"{len(pieces)} values given for {len(order)} variables ({', '.join(order)})", where)
    for key, p in zip(order, pieces):
        out[key] = _fit(key, _read_value(p, where), shapes[key], where)
    return out


def _json_number(v: Any, where: str) -> Any:
    if isinstance(v, list):
        return [_json_number(x, where) for x in v]
    if isinstance(v, bool) or v is None:
        raise BadInput(f"{json.dumps(v)} is not a number", where)
    if isinstance(v, int):
        return sympy.Integer(v)
    if isinstance(v, float):
        if not math.isfinite(v):
            raise BadInput("values must be finite numbers", where)
        frac = Fraction(repr(v))  # the decimal the file shows, exactly
        return sympy.Rational(frac.numerator, frac.denominator)
    if isinstance(v, str):
        return parse_number(v, where)
    raise BadInput(f"{type(v).__name__} is not a number", where)


def load_values(path: str, shapes: Mapping[str, Shape], where: str = "--at") -> dict[str, tuple[sympy.Expr, ...]]:
    """Values from a JSON object ``{"W": [[...]], "x": [...], "c": 0.5}``."""
    try:
        if os.path.getsize(path) > MAX_VALUES_FILE:
            raise LimitExceeded(f"{path} is larger than {MAX_VALUES_FILE} bytes", where)
        with open(path, encoding="utf-8") as fh:
            doc = json.load(fh)
    except OSError as exc:
        raise BadInput(f"cannot read {path}: {exc.strerror or exc}", where) from None
    except (ValueError, RecursionError) as exc:
        raise BadInput(f"{path} is not valid JSON: {exc}", where) from None
    if not isinstance(doc, dict):
        raise BadInput(f"{path} must hold one JSON object of NAME: value", where)
    out = {}
    for key, val in doc.items():
        if key not in shapes:
            raise BadInput(f"{key!r} in {path} is not a variable of the function ({', '.join(shapes)})", where)
        out[key] = _fit(key, _json_number(val, f"{path}: {key}"), shapes[key], f"{path}")
    return out


def seeded_values(seed: int, shapes: Mapping[str, Shape]) -> dict[str, tuple[sympy.Expr, ...]]:
    """Seeded standard-normal values, rounded to two decimals (exact short fractions).

    >>> a = seeded_values(0, {"x": (3,)}); a == seeded_values(0, {"x": (3,)}), len(a["x"])
    (True, 3)
    """
    import random

    rng = random.Random(seed)  # the standard library's: no NumPy import for a few numbers
    scale = 10**SEED_DECIMALS
    return {name: tuple(sympy.Rational(round(rng.gauss(0.0, 1.0) * scale), scale) for _ in range(size(shape)))
            for name, shape in shapes.items()}


def point_values(at: str | None, seed: int | None, shapes: Mapping[str, Shape],
                 required: bool = True, where: str = "--at") -> dict[str, tuple[sympy.Expr, ...]] | None:
    """Every variable's value from ``--seed`` then ``--at`` (text or a .json file) over it.

    Returns None when neither is given and ``required`` is false.
    """
    if seed is not None and not (0 <= seed < 2**32):
        raise BadInput(f"must be from 0 to 2**32 - 1, got {seed}", "--seed")
    if at is None and seed is None:
        if required and shapes:
            raise BadInput("values are required: --at NAME=VALUE,… or --seed N", where)
        return None if shapes else {}
    values = seeded_values(seed, shapes) if seed is not None else {}
    if at is not None:
        given = load_values(at, shapes, where) if at.strip().lower().endswith(".json") else parse_values(at, shapes, where)
        values.update(given)
    missing = [n for n in shapes if n not in values]
    if missing:
        raise BadInput(f"no value for {', '.join(missing)} (give it in --at, or use --seed N)", where)
    return {n: values[n] for n in shapes}


def natural_order(names: Sequence[str]) -> list[str]:
    """Variable names in gradlab's natural order (``x2`` before ``x10``)."""
    return sorted(names, key=natural_key)
