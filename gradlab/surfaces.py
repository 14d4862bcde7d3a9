"""Surface catalogues: YAML files of named functions, loaded safely and validated.

The loader is PyYAML's safe loader with aliases, anchors and duplicate keys refused;
every error names ``file:line:column`` and the surface. Expressions go through the safe
parser, with the catalogue's data columns and indexed variables (see ``surfaces.yaml``).

>>> cat = builtin()
>>> s = cat["elongated"]
>>> str(s.parsed.expr), s.start
('x**2 + 25*y**2', (-4, 2))
"""

from __future__ import annotations

import math
import os
import re
from fractions import Fraction
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Mapping

import sympy
import yaml

from gradlab.errors import BadInput, LimitExceeded
from gradlab.calculus.parsing import Context, Parsed, looks_like_name, parse_number, parse_scalar, symbol, variables_of

MAX_FILE_BYTES = 1_000_000
MAX_DIMS = 1_000
MAX_ROWS = 10_000
FIELDS = {"description", "expression", "variables", "start", "window", "minima", "lr", "steps", "data",
          "dims", "vector"}
REQUIRED = {"description", "expression", "start"}
MINIMUM_FIELDS = {"point", "f", "kink"}
#: Nesting of YAML lists and mappings: a catalogue needs 4; libyaml's loader recurses
#: once per level in C, and 30,000 levels crash the process.
MAX_YAML_DEPTH = 50


@dataclass(frozen=True)
class Minimum:
    """A known minimum: its point and f there, exact where the catalogue is; ``kink``
    when f is not differentiable there (Ackley's cone at the origin)."""

    point: tuple[sympy.Expr, ...]
    f: sympy.Expr
    kink: bool = False


@dataclass(frozen=True)
class Surface:
    """One catalogue entry, with its expression parsed for ``dims`` dimensions.

    ``where`` is ``file:line`` of its definition; ``start`` and the minima are already
    of the right dimension; ``window`` is (xmin, xmax, ymin, ymax) for plots.
    """

    name: str
    description: str
    text: str
    parsed: Parsed
    start: tuple[sympy.Expr, ...]
    window: tuple[float, float, float, float]
    minima: tuple[Minimum, ...]
    where: str
    lr: float | None = None
    steps: int | None = None
    dims: int | None = None
    spec: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def with_dims(self, n: int) -> "Surface":
        """The same family in ``n`` dimensions (only for surfaces that declare ``dims``)."""
        if self.dims is None:
            raise BadInput(f"surface {self.name} has a fixed dimension ({len(self.parsed.variables)})", "--dims")
        if n == self.dims:
            return self
        return _build(self.name, self.spec, self.where, n)


# --------------------------------------------------------------------------- YAML
def _mark(path: str, mark: Any) -> str:
    return f"{path}:{mark.line + 1}:{mark.column + 1}"


# libyaml's C parser when PyYAML has it: the pure-Python one costs 70 ms at every start.
_Base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_Base):  # type: ignore[misc, valid-type]
    """Safe loader that refuses duplicate keys (aliases are refused before composing)."""

    path = "<catalogue>"

    def construct_mapping(self, node, deep=False):
        seen: dict[Any, Any] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, (str, int, float, bool)) or key is None:
                raise BadInput("mapping keys must be plain names", _mark(self.path, key_node.start_mark))
            if key in seen:
                raise BadInput(f"duplicate key {key!r}", _mark(self.path, key_node.start_mark))
            seen[key] = True
        return super().construct_mapping(node, deep=deep)


def _refuse_aliases(text: str, path: str) -> None:
    """Anchors and aliases (&name, *name) are refused outright: they are how a few
    hundred bytes of YAML expand to gigabytes ("billion laughs"). So is nesting deeper
    than MAX_YAML_DEPTH, before the recursive loader sees it (the event parser does not
    recurse)."""
    depth = 0
    for event in yaml.parse(text, Loader=_Base):
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            raise BadInput("YAML anchors and aliases (&name, *name) are not allowed", _mark(path, event.start_mark))
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_YAML_DEPTH:
                raise LimitExceeded(f"lists and mappings nested deeper than {MAX_YAML_DEPTH} levels",
                                    _mark(path, event.start_mark))
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def _read(path: str) -> str:
    try:
        if os.path.isdir(path):
            raise BadInput("is a directory, not a YAML file", path)
        size = os.path.getsize(path)
        if size > MAX_FILE_BYTES:
            raise LimitExceeded(f"file is {size} bytes; the limit is {MAX_FILE_BYTES}", path)
        with open(path, "rb") as fh:
            raw = fh.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise BadInput(f"cannot read: {exc.strerror or exc}", path) from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadInput(f"not UTF-8 (byte {exc.start})", path) from None


def _load_nodes(text: str, path: str) -> tuple[dict, dict]:
    """The document as Python values and, per surface, the YAML node (for line numbers)."""
    loader = None
    try:
        _refuse_aliases(text, path)
        loader = _Loader(text)
        loader.path = path
        node = loader.get_single_node()
        if node is None:
            raise BadInput("the catalogue is empty", path)
        if not isinstance(node, yaml.MappingNode):
            raise BadInput("the catalogue must be a mapping of surface names to surfaces", _mark(path, node.start_mark))
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = _mark(path, mark) if mark else path
        raise BadInput(f"YAML: {exc.problem or exc.context}", where) from None
    except yaml.YAMLError as exc:
        raise BadInput(f"YAML: {exc}", path) from None
    finally:
        if loader is not None:
            loader.dispose()
    nodes = {k.value: v for k, v in node.value if isinstance(k, yaml.ScalarNode)}
    return data, nodes


# --------------------------------------------------------------------------- validation
def _field_where(surface_node: Any, key: str, path: str) -> str:
    if isinstance(surface_node, yaml.MappingNode):
        for k, v in surface_node.value:
            if k.value == key:
                return _mark(path, v.start_mark)
        return _mark(path, surface_node.start_mark)
    return path


_DECIMAL = re.compile(r"(-?)(\d+)(?:\.(\d*))?(?:e([+-]?\d+))?")


def _decimal(text: str) -> sympy.Rational:
    """A float's repr read exactly (``Fraction(text)`` costs 10 µs: a data column has
    up to 10,000 of them).

    >>> _decimal("-1.25e-3"), _decimal("2.5"), _decimal("1e+22")
    (-1/800, 5/2, 10000000000000000000000)
    """
    m = _DECIMAL.fullmatch(text)
    if m is None:
        frac = Fraction(text)
        return sympy.Rational(frac.numerator, frac.denominator)
    sign, whole, part, exp = m.groups()
    part = part or ""
    shift = int(exp or 0) - len(part)
    digits = int(whole + part) * (-1 if sign else 1)
    return sympy.Rational(digits * 10**shift) if shift >= 0 else sympy.Rational(digits, 10**-shift)


def _number(value: Any, where: str) -> sympy.Expr:
    if isinstance(value, bool) or value is None:
        raise BadInput(f"expected a number, got {value!r}", where)
    if isinstance(value, (int, float)):
        if isinstance(value, float) and not math.isfinite(value):
            raise BadInput(f"{value} is not a finite number", where)
        if abs(value) > 1e300:
            raise BadInput(f"{value} is too large", where)
        if isinstance(value, int):
            return sympy.Integer(value)
        # A number YAML has already read: its shortest repr, read exactly (0.1 is 1/10).
        return _decimal(repr(value))
    if not isinstance(value, str):
        raise BadInput(f"expected a number, got {type(value).__name__}", where)
    return parse_number(value, where)


def _numbers(value: Any, where: str, what: str) -> tuple[sympy.Expr, ...]:
    if not isinstance(value, list) or not value:
        raise BadInput(f"{what} must be a non-empty list of numbers", where)
    return tuple(_number(v, where) for v in value)


def _tile(values: tuple, n: int) -> tuple:
    return tuple(values[i % len(values)] for i in range(n))


def _build(name: str, spec: Mapping[str, Any], where: str, dims: int | None = None,
           check_minima: bool = False) -> Surface:
    """Validate one surface and parse its expression (for ``dims`` dimensions);
    ``check_minima`` also proves each declared minimum is a critical point with the
    declared f (see :func:`_check_minimum`)."""
    loc = spec.get("__where__", {})

    def at(key: str) -> str:
        return f"{loc.get(key, where)} (surface {name}, {key})"

    if not isinstance(spec, Mapping):
        raise BadInput(f"surface {name} must be a mapping of fields", where)
    unknown = sorted(set(spec) - FIELDS - {"__where__"})
    if unknown:
        raise BadInput(f"unknown field {unknown[0]!r} (fields: {', '.join(sorted(FIELDS))})", at(unknown[0]))
    missing = sorted(REQUIRED - set(spec))
    if missing:
        raise BadInput(f"missing field {missing[0]!r}", f"{where} (surface {name})")
    for key in ("description", "expression"):
        if not isinstance(spec[key], str) or not spec[key].strip():
            raise BadInput(f"{key} must be text", at(key))

    columns: dict[str, tuple[sympy.Rational, ...]] = {}
    if "data" in spec:
        data = spec["data"]
        if not isinstance(data, Mapping) or not data:
            raise BadInput("data must map column names to lists of numbers", at("data"))
        lengths = set()
        for col, vals in data.items():
            if isinstance(vals, list) and len(vals) > MAX_ROWS:
                raise LimitExceeded(f"more than {MAX_ROWS} data rows", at("data"))
            columns[str(col)] = _numbers(vals, at("data"), f"data column {col}")
            lengths.add(len(vals))
        if len(lengths) != 1:
            raise BadInput("data columns have different lengths", at("data"))
        if lengths.pop() > MAX_ROWS:
            raise LimitExceeded(f"more than {MAX_ROWS} data rows", at("data"))

    vector = None
    if "dims" in spec:
        default = spec["dims"]
        if isinstance(default, bool) or not isinstance(default, int) or not 1 <= default <= MAX_DIMS:
            raise BadInput(f"dims must be a whole number from 1 to {MAX_DIMS}", at("dims"))
        dims = default if dims is None else dims
        vector = spec.get("vector", "x")
        if not isinstance(vector, str):
            raise BadInput("vector must be a name", at("vector"))
    elif "vector" in spec:
        raise BadInput("vector needs dims", at("vector"))
    if dims is not None and not 1 <= dims <= MAX_DIMS:
        raise LimitExceeded(f"--dims must be from 1 to {MAX_DIMS}", "--dims")

    ctx = Context(columns=columns, vector=vector, dims=dims)
    expr = parse_scalar(spec["expression"], at("expression"), ctx)
    if expr.has(sympy.nan, sympy.zoo, sympy.oo):
        raise BadInput(f"the expression is undefined for n = {dims}", at("expression"))
    if vector:
        variables = tuple(symbol(f"{vector}{i}") for i in range(1, dims + 1))
        if expr.free_symbols - set(variables):
            extra = sorted(s.name for s in expr.free_symbols - set(variables))
            raise BadInput(f"unknown variables {', '.join(extra)}", at("expression"))
    else:
        declared = spec.get("variables")
        if not isinstance(declared, list) or not all(isinstance(v, str) for v in declared):
            raise BadInput("variables must be a list of names", at("variables"))
        variables = variables_of([expr], ",".join(declared), at("variables")) if declared else ()
        if not variables:
            raise BadInput("a surface needs at least one variable", at("variables"))
    n = len(variables)
    parsed = Parsed(text=spec["expression"], exprs=(expr,), variables=variables)

    start = _numbers(spec["start"], at("start"), "start")
    if vector:
        start = _tile(start, n)
    if len(start) != n:
        raise BadInput(f"start has {len(start)} coordinates; the surface has {n} variables", at("start"))

    window_spec = spec.get("window")
    if window_spec is None:
        window = (-5.0, 5.0, -5.0, 5.0)
    else:
        w = _numbers(window_spec, at("window"), "window")
        if len(w) != 4 or not (w[0] < w[1] and w[2] < w[3]):
            raise BadInput("window must be [xmin, xmax, ymin, ymax] with min < max", at("window"))
        window = tuple(float(v) for v in w)

    minima = []
    for m in spec.get("minima") or []:
        if not isinstance(m, Mapping) or "point" not in m:
            raise BadInput("each minimum needs a point: {point: [...], f: ...}", at("minima"))
        if set(m) - MINIMUM_FIELDS:
            raise BadInput(f"unknown field {sorted(set(m) - MINIMUM_FIELDS)[0]!r} in a minimum", at("minima"))
        point = _numbers(m["point"], at("minima"), "a minimum's point")
        if vector:
            point = _tile(point, n)
        if len(point) != n:
            raise BadInput(f"a minimum has {len(point)} coordinates; the surface has {n} variables", at("minima"))
        at_point = expr.xreplace(dict(zip(variables, point)))
        _check_real(at_point, point, at("minima"))
        f_value = _number(m["f"], at("minima")) if "f" in m else at_point
        if check_minima:
            written = m["point"] if isinstance(m["point"], list) else [m["point"]]
            _check_minimum(name, parsed, point, f_value if "f" in m else None, bool(m.get("kink", False)),
                           loc.get("minima", where), ", ".join(str(v) for v in written))
        minima.append(Minimum(point, f_value, bool(m.get("kink", False))))

    lr = spec.get("lr")
    if lr is not None:
        lr = float(_number(lr, at("lr")))
        if not lr > 0:
            raise BadInput("lr must be positive", at("lr"))
    steps = spec.get("steps")
    if steps is not None and (isinstance(steps, bool) or not isinstance(steps, int) or steps < 1):
        raise BadInput("steps must be a positive whole number", at("steps"))
    return Surface(name, spec["description"].strip(), spec["expression"], parsed, start, window,
                   tuple(minima), where, lr, steps, dims, spec)


def _check_real(value: sympy.Expr, point: tuple, where: str) -> None:
    """Refuse a minimum where f is not a real number (sqrt(x) at x = −1, 1/x at 0)."""
    try:
        v = complex(sympy.N(value, 15))
    except (TypeError, ValueError):  # zoo, nan: not a number at all
        v = complex(math.nan)
    if not (math.isfinite(v.real) and math.isfinite(v.imag) and abs(v.imag) <= 1e-12 * max(1.0, abs(v.real))):
        shown = ", ".join(str(p) for p in point)
        raise BadInput(f"f is not a real number at the minimum ({shown})", where)


#: A declared minimum need not be exact: Himmelblau's are decimals, 16 digits of
#: irrational points. When ∇f there is not exactly 0, the point is accepted as such a
#: rounding if every partial is within MINIMUM_GRAD_TOL × (1 + |f|) of 0; a declared f
#: that is not exactly f at the point, if it is within MINIMUM_F_TOL × max(1, |f|).
#: Both are floats correctly rounded from SymPy's exact values, or (when the exact work
#: is over the budget of gradlab.calculus.budget, GRADLAB_EXACT_SIZE nodes) float64
#: values of the compiled expressions.
MINIMUM_GRAD_TOL = 1e-6
MINIMUM_F_TOL = 1e-6


def _check_minimum(name: str, parsed: Parsed, point: tuple, declared_f: sympy.Expr | None, kink: bool,
                   where: str, shown: str | None = None) -> None:
    """Refuse a declared minimum that is not a critical point (∇f ≠ 0; skipped for a
    ``kink``, where f has no gradient) or whose declared f is not f there. ``shown`` is
    the point as the file writes it (for the message).

    >>> x = symbol("x")
    >>> _check_minimum("a", Parsed("x**2", (x**2,), (x,)), (sympy.Integer(1),), sympy.Integer(0), False, "a.yaml:3:5")
    Traceback (most recent call last):
    ...
    gradlab.errors.BadInput: a.yaml:3:5: surface 'a': declared minimum (1) is not a critical point (∇f = (2))
    """
    from gradlab.calculus import budget, derivatives
    from gradlab.errors import Undefined

    variables, expr = parsed.variables, parsed.expr
    grads = () if kink else derivatives.gradient(expr, variables)
    shown = shown if shown is not None else ", ".join(str(p) for p in point)
    head = f"{where}: surface '{name}': declared minimum ({shown})"
    exact = budget.size_of(expr, *grads, cap=budget.limits().size) <= budget.limits().size
    try:
        if exact:
            pm = dict(zip(variables, point))
            f_val = derivatives.evaluate(expr, pm)
            g_vals = [derivatives.evaluate(g, pm, "∇f") for g in grads]
            f_float = f_val.value
            g_zero = [derivatives.is_zero_at(g, v, pm)[0] for g, v in zip(grads, g_vals)]
            g_float = [v.value for v in g_vals]
            g_text = [_short(v.exact) if v.exact is not None and v.exact.is_Number else repr(v.value) for v in g_vals]
        else:
            import numpy as np

            from gradlab.calculus.numeric import Compiled

            values = Compiled([expr, *grads], variables)(np.array([[float(p)] for p in point]))[:, 0]
            f_float, g_float = float(values[0]), [float(v) for v in values[1:]]
            g_zero = [v == 0.0 for v in g_float]
            g_text = [repr(v) for v in g_float]
    except Undefined:
        raise BadInput(f"{head}: ∇f is undefined there (mark a kink with kink: true)", None) from None
    if not all(map(math.isfinite, [f_float, *g_float])):
        raise BadInput(f"{head}: f or ∇f is not finite there", None)
    if not all(z or abs(v) <= MINIMUM_GRAD_TOL * (1 + abs(f_float)) for z, v in zip(g_zero, g_float)):
        raise BadInput(f"{head} is not a critical point (∇f = ({', '.join(g_text)}))", None)
    if declared_f is None:
        return
    if exact and f_val.exact is not None and (f_val.exact - declared_f) == 0:
        return
    want = float(declared_f)
    if abs(f_float - want) > MINIMUM_F_TOL * max(1.0, abs(want)):
        actual = _short(f_val.exact) if exact and f_val.exact is not None and f_val.exact.is_Number \
            else repr(f_float)
        raise BadInput(f"{head} has f = {actual}, not the declared {_short(declared_f)}", None)


def _short(v: sympy.Expr) -> str:
    """An exact number for a message: as it is when short, else its float."""
    text = str(v)
    return text if len(text) <= 24 else repr(float(v))


class Catalogue(Mapping[str, Surface]):
    """Surfaces by name, each validated and parsed the first time it is asked for.

    The built-in catalogue is read lazily (start-up time); a user's file is checked
    whole as soon as it is loaded, so every mistake in it shows at once.
    """

    def __init__(self, check_minima: bool = False) -> None:
        self._specs: dict[str, tuple[dict, str]] = {}
        self._built: dict[str, Surface] = {}
        self._check_minima = check_minima  # a user's file: prove its minima (built-ins: tests do)

    def add(self, name: str, spec: dict, where: str) -> None:
        self._specs[name] = (spec, where)
        self._built.pop(name, None)

    def where(self, name: str) -> str:
        return self._specs[name][1]

    def __getitem__(self, name: str) -> Surface:
        if name not in self._built:
            spec, where = self._specs[name]
            self._built[name] = _build(name, spec, where, check_minima=self._check_minima)
        return self._built[name]

    def __iter__(self):
        return iter(self._specs)

    def __len__(self) -> int:
        return len(self._specs)

    def __contains__(self, name: object) -> bool:
        return name in self._specs


def load(text: str, path: str, eager: bool = True) -> Catalogue:
    """Parse a catalogue given as text (``path`` is for messages); ``eager`` validates
    every surface now, declared minima included (the built-in catalogue, lazy, has its
    minima proven by the tests instead, to keep start-up fast)."""
    data, nodes = _load_nodes(text, path)
    out = Catalogue(check_minima=eager)
    for name, spec in data.items():
        node = nodes.get(name)
        where = _mark(path, node.start_mark) if node is not None else path
        if not isinstance(name, str) or not name or not all(c.isalnum() or c in "-_" for c in name):
            raise BadInput(f"surface name {name!r} must be letters, digits, '-' or '_'", where)
        if not isinstance(spec, Mapping):
            raise BadInput(f"surface {name} must be a mapping of fields", where)
        located = dict(spec)
        located["__where__"] = {k: _field_where(node, k, path) for k in spec}
        out.add(name, located, f"{path}:{node.start_mark.line + 1}" if node is not None else path)
    if eager:
        for name in out:
            out[name]
    return out


def load_file(path: str) -> Catalogue:
    """Load and validate a user's catalogue file."""
    return load(_read(path), path)


_BUILTIN: Catalogue | None = None


def builtin() -> Catalogue:
    """gradlab's own catalogue (``surfaces.yaml``, shipped inside the package)."""
    global _BUILTIN
    if _BUILTIN is None:
        text = resources.files("gradlab").joinpath("surfaces.yaml").read_text(encoding="utf-8")
        _BUILTIN = load(text, "surfaces.yaml", eager=False)
    return _BUILTIN


def catalogue(user_file: str | None = None) -> tuple[Catalogue, list[str]]:
    """The built-in catalogue with a user's file over it, and notes on what it replaced."""
    base = builtin()
    if not user_file:
        return base, []
    cat = Catalogue()
    for name in base:
        cat.add(name, *base._specs[name])
    notes: list[str] = []
    user = load_file(user_file)
    for name in user:
        if name in cat:
            notes.append(f"{user.where(name)}: surface {name} replaces the built-in one")
        cat.add(name, *user._specs[name])
        cat._built[name] = user[name]
    return cat, notes


def lookup(name: str, cat: Mapping[str, Surface]) -> Surface:
    """The surface called ``name``, or a BadInput that names the closest ones."""
    if name in cat:
        return cat[name]
    import difflib

    close = difflib.get_close_matches(name, list(cat), n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(close)}?" if close else f"; known: {', '.join(sorted(cat))}"
    raise BadInput(f"unknown surface {name!r}{hint}", "surface")


def _close(name: str, names: list[str]) -> bool:
    import difflib

    return bool(difflib.get_close_matches(name, names, n=1, cutoff=0.8))


def resolve(text: str, user_file: str | None = None, dims: int | None = None,
            forced: bool = False) -> tuple[Surface | None, list[str]]:
    """The surface ``text`` names, if the catalogue has that name (``None``: an expression).

    ``x-y`` is an expression unless a surface has that very name; a near miss of a name
    ("rosenbrok") is refused as a misspelt surface; ``forced`` (``surface:NAME``) refuses
    anything but a catalogued name.

    >>> resolve("x-y")[0] is None and resolve("bowl")[0].name == "bowl"
    True
    """
    name = text.strip()
    if not forced and not looks_like_name(name):
        if dims is not None:
            raise BadInput("--dims needs a surface that declares dims", "--dims")
        return None, []
    try:
        cat, notes = catalogue(user_file)
    except BadInput as exc:
        # A missing file (often from GRADLAB_SURFACES) cannot hold the name: text that is
        # no built-in name and does not look like one is an expression, with a note that
        # the file was skipped. A file that exists but is broken is always an error.
        base = builtin()
        if forced or not user_file or os.access(user_file, os.R_OK) or name in base or \
                _close(name, list(base)):
            raise
        return None, [f"note: skipped the surfaces file: {exc.line()}"]
    if name not in cat:
        if forced or _close(name, list(cat)):  # "rosenbrok" is a misspelt name
            try:
                lookup(name, cat)
            except BadInput as exc:
                raise BadInput(f"{exc.what} (for an expression, write ({name}))", "surface") from None
        if dims is not None:
            raise BadInput("--dims needs a surface that declares dims", "--dims")
        return None, notes
    surface = cat[name]
    if dims is not None:
        surface = surface.with_dims(dims)
    return surface, notes
