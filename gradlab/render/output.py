"""Plain (tab-separated) and JSON renderers.

Floats are printed with ``repr`` so that they read back to the same float64. Most
commands write plain output through their fixed columns (:mod:`gradlab.render.formats`);
:func:`render_plain` writes the cells of a table for the few that have none.

>>> plain_line(("x", "2*x*y", 20.0, (4.0, 1.0), ""))
'x\\t2*x*y\\t20.0\\t4.0\\t1.0\\tNA'
"""

from __future__ import annotations

import json
import math
import operator
from typing import Any, Callable, Iterable

from gradlab.views import Cell, View


def cell_text(cell: Cell) -> str:
    """One cell as plain text: floats round-trip, ``None`` is ``NA`` (never an empty
    field: ``IFS=$'\\t' read`` would collapse it and shift the columns)."""
    if cell is None:
        return "NA"
    if isinstance(cell, float):
        return repr(float(cell))  # float(): NumPy 2 scalars repr as np.float64(...)
    if isinstance(cell, tuple):
        return "\t".join(cell_text(c) for c in cell) if cell else "NA"  # a vector: a column per coordinate
    return " ".join(str(cell).split()) or "NA"  # a tab or newline inside a cell would break TSV


def plain_line(cells: Iterable[Cell]) -> str:
    return "\t".join(cell_text(c) for c in cells)


def render_plain(views: Iterable[View]) -> str:
    """Every view's rows, one record per line, no header."""
    lines = [plain_line(r) for v in views for r in v.plain_rows()]
    return "\n".join(lines) + ("\n" if lines else "")


def _nonfinite(value: float) -> str:
    return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")


def _has_nonfinite(value: Any) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, (list, tuple)):
        return any(_has_nonfinite(v) for v in value)
    return False


def _marks(value: Any) -> Any:
    if isinstance(value, float):
        return None if math.isfinite(value) else _nonfinite(value)
    if isinstance(value, (list, tuple)):
        return [_marks(v) for v in value]
    return None  # a string, a number that is finite, null: nothing to mark


def json_safe(value: Any) -> Any:
    """``value`` made valid JSON (RFC 8259): a non-finite float becomes null, and the key
    that held it gains a sibling ``<key>_nonfinite`` saying which (``"inf"``, ``"-inf"``,
    ``"nan"``; for a list, a list of those and nulls).

    >>> json_safe({"f": float("inf"), "x": [1.0, float("nan")]})
    {'f': None, 'f_nonfinite': 'inf', 'x': [1.0, None], 'x_nonfinite': [None, 'nan']}
    """
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            out[k] = json_safe(v)
            if _has_nonfinite(v) and not isinstance(v, dict):
                out[f"{k}_nonfinite"] = _marks(v)
        return out
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):  # a NumPy scalar
        return json_safe(value.item())
    return value


_json_safe = json_safe


def _pretty(value: Any, indent: str, ascii: bool) -> str:
    """Indented JSON with every list of numbers (or of null/strings) kept on one line.

    The reference layout, in plain recursive Python: :func:`_layout` writes the same
    text an order of magnitude faster and is tested against this one.
    """
    dumps = lambda v: json.dumps(v, allow_nan=False, ensure_ascii=ascii)  # noqa: E731
    if isinstance(value, dict):
        if not value:
            return "{}"
        inner = indent + "  "
        items = [f"{inner}{dumps(k)}: {_pretty(v, inner, ascii)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + indent + "}"
    if isinstance(value, list):
        if all(not isinstance(v, (dict, list)) for v in value) or all(
                isinstance(v, list) and all(not isinstance(w, (dict, list)) for w in v) for v in value):
            return dumps(value) if all(not isinstance(v, list) for v in value) else \
                "[" + ", ".join(dumps(v) for v in value) + "]"
        inner = indent + "  "
        return "[\n" + ",\n".join(inner + _pretty(v, inner, ascii) for v in value) + "\n" + indent + "]"
    return dumps(value)


class _NotPlain(Exception):
    """A value the fast layout does not handle (a NumPy scalar, a tuple): made JSON-safe first."""


_SCALARS = (str, float, int, bool, type(None))
# The item separator of the one C-encoder call. The encoder escapes every control
# character inside strings, so this one never occurs in its output except between items.
_SEP = "\x00"
_ENCODERS = {a: json.JSONEncoder(allow_nan=False, ensure_ascii=a, separators=(_SEP, ": ")) for a in (False, True)}


def _starts(parts: list[str], cols: list) -> list[int]:
    """The index in ``cols`` of each part's first scalar (a part holds one hole per
    scalar it writes)."""
    starts, at = [], 0
    for p in parts:
        starts.append(at)
        at += p.count("%s")
    return starts


def _layout(value: Any, ascii: bool) -> str:
    """:func:`_pretty`'s text, fast: one walk in Python builds a %-template of the layout
    with a ``%s`` hole for every scalar, the C encoder writes all scalars in one call, and
    ``%`` fills the holes. Raises :class:`_NotPlain` on anything but dict, list and JSON
    scalars, and ValueError on a non-finite float."""
    scalars: list[Any] = []  # waiting for the C encoder
    done: list[str] = []  # the scalars' texts, in the template's order
    out: list[str] = []
    keys: dict[str, str] = {}
    add, push, scalar = out.append, scalars.append, _SCALARS

    def flush() -> None:
        if scalars:
            done.extend(_ENCODERS[ascii].encode(scalars)[1:-1].split(_SEP))
            scalars.clear()

    def key(k: Any) -> str:
        text = keys.get(k)
        if text is None:
            text = keys[k] = json.dumps(k, ensure_ascii=ascii).replace("%", "%%")
        return text

    def leaf(v: list) -> bool:
        """A one-line list: of scalars, or of lists of scalars; written into the template."""
        if not v:
            add("[]")
            return True
        if all(type(w) in scalar for w in v):
            scalars.extend(v)
            add("[" + ", ".join(["%s"] * len(v)) + "]")
            return True
        if all(type(w) is list and all(type(u) in scalar for u in w) for w in v):
            parts = []
            for w in v:
                scalars.extend(w)
                parts.append("[" + ", ".join(["%s"] * len(w)) + "]")
            add("[" + ", ".join(parts) + "]")
            return True
        if any(type(w) not in (dict, list) and type(w) not in scalar for w in v):
            raise _NotPlain
        return False

    def table(rows: list, indent: str) -> bool:
        """A list of records with the same keys whose columns are each all scalars, or
        all lists of scalars of one length, null in some rows or none (a descent's runs):
        row templates, the scalars gathered column by column. False (nothing written)
        for anything else."""
        if len(rows) < 2 or type(rows[0]) is not dict or not rows[0]:
            return False
        names = tuple(rows[0])
        if set(map(type, rows)) != {dict} or not all(tuple(r) == names for r in rows):
            return False
        inner, cols, parts = indent + "    ", [], []
        # per column of lists that is null in some rows: (its first column in cols, its
        # length, the rows where it is null, the part's text when null)
        nullable: list[tuple[int, int, list[bool], str]] = []
        scalars_set = set(scalar)
        for k in names:
            col = [r[k] for r in rows]
            kinds = set(map(type, col))  # the type tests run in C: a column at a time
            if kinds <= scalars_set:
                cols.append(col)
                parts.append(inner + key(k) + ": %s")
                continue
            lists = col if kinds == {list} else [c for c in col if c is not None]
            if kinds - {type(None)} != {list} or len(lengths := set(map(len, lists))) != 1 or (n := lengths.pop()) < 1:
                return False
            items = [[None if c is None else c[i] for c in col] for i in range(n)]
            if not all(set(map(type, item)) <= scalars_set for item in items):
                return False
            if kinds != {list}:
                nullable.append((len(cols), n, [c is None for c in col], inner + key(k) + ": %s"))
            cols.extend(items)
            parts.append(inner + key(k) + ": [" + ", ".join(["%s"] * n) + "]")
        texts = [_texts(c, ascii) for c in cols]  # before anything is written: may refuse
        if not nullable:
            row = indent + "  {\n" + ",\n".join(parts) + "\n" + indent + "  }"
            add("[\n" + ",\n".join([row] * len(rows)) + "\n" + indent + "]")
            flush()
            done.extend([x for r in zip(*texts) for x in r])
            return True
        # One template for each pattern of nulls; a null list keeps its first text ("null")
        first_part = {start: j for j, start in enumerate(_starts(parts, cols))}
        templates: dict[tuple, tuple[str, Callable | None]] = {}
        chosen, values = [], []
        for flags, r in zip(zip(*(nulls for _, _, nulls, _ in nullable)), zip(*texts)):
            if flags not in templates:
                ps, drop = list(parts), set()
                for (start, n, _, text), null in zip(nullable, flags):
                    if null:
                        ps[first_part[start]] = text
                        drop.update(range(start + 1, start + n))
                # (the texts a null list leaves out, picked in C: itemgetter of the others)
                keep = operator.itemgetter(*[j for j in range(len(cols)) if j not in drop]) if drop else None
                templates[flags] = (indent + "  {\n" + ",\n".join(ps) + "\n" + indent + "  }", keep)
            tpl, keep = templates[flags]
            chosen.append(tpl)
            values.extend(keep(r) if keep is not None else r)
        add("[\n" + ",\n".join(chosen) + "\n" + indent + "]")
        flush()
        done.extend(values)
        return True

    def walk(v: Any, indent: str) -> None:
        t = type(v)
        if t in scalar:
            push(v)
            add("%s")
        elif t is dict:
            if not v:
                add("{}")
                return
            inner = indent + "  "
            add("{\n")
            first = True
            for k, item in v.items():
                if not first:
                    add(",\n")
                first = False
                add(inner + key(k) + ": ")
                if type(item) in scalar:
                    push(item)
                    add("%s")
                elif type(item) is list and leaf(item):
                    pass
                else:
                    walk(item, inner)
            add("\n" + indent + "}")
        elif t is list:
            if leaf(v) or table(v, indent):
                return
            inner = indent + "  "
            add("[\n")
            for i, item in enumerate(v):
                if i:
                    add(",\n")
                add(inner)
                walk(item, inner)
            add("\n" + indent + "]")
        else:
            raise _NotPlain

    walk(value, "")
    flush()
    return "".join(out) % tuple(done)


_STRING = {False: json.encoder.encode_basestring, True: json.encoder.encode_basestring_ascii}


def _texts(column: list, ascii: bool) -> list[str]:
    """One column of a table of records as JSON texts: a column of finite floats (most
    of them) is one map of ``float.__repr__``; others go through the C encoder."""
    kinds = set(map(type, column))
    if kinds == {float}:
        if not all(map(math.isfinite, column)):
            raise ValueError("a non-finite float")  # the caller makes the record JSON-safe first
        convert = float.__repr__
    elif kinds == {str}:
        convert = _STRING[ascii]
    elif kinds == {int}:
        convert = int.__repr__
    else:
        return _ENCODERS[ascii].encode(column)[1:-1].split(_SEP)
    # A column that repeats a few values (a status, a start, a message) converts each
    # once; not for floats with a zero: 0.0 and −0.0 are one key but two texts.
    distinct = dict.fromkeys(column)
    if 4 * len(distinct) < len(column) and not (kinds == {float} and 0.0 in distinct):
        for v in distinct:
            distinct[v] = convert(v)
        return list(map(distinct.__getitem__, column))
    return list(map(convert, column))


def render_json(record: dict[str, Any], ascii: bool = False, compact: bool = False) -> str:
    """One JSON document, strict (no NaN), floats round-trip; lists of numbers stay on
    one line; ``compact`` writes the whole document on one line; ``ascii`` escapes
    non-ASCII characters (``\\u2207``) for a stream that cannot encode them.

    >>> print(render_json({"x": [1.0, 2.0], "m": [[1, 2], [3, 4]]}))
    {
      "x": [1.0, 2.0],
      "m": [[1, 2], [3, 4]]
    }
    <BLANKLINE>
    """
    if compact:
        try:  # the common case, all finite: no need to walk the record first
            return json.dumps(record, allow_nan=False, ensure_ascii=ascii, separators=(",", ":")) + "\n"
        except (ValueError, TypeError):
            return json.dumps(json_safe(record), allow_nan=False, ensure_ascii=ascii, separators=(",", ":")) + "\n"
    try:
        return _layout(record, ascii) + "\n"
    except (_NotPlain, ValueError):
        safe = json_safe(record)
    try:
        return _layout(safe, ascii) + "\n"
    except _NotPlain:  # a type json_safe leaves alone: the reference layout
        return _pretty(safe, "", ascii) + "\n"


def trajectory_rows(runs, variables):
    """The CSV lines of :func:`trajectory_csv`, one at a time (for ``--trajectory -``)."""
    yield ",".join(["run", "optimizer", "lr", "step", *variables, "f"]) + "\n"
    for i, r in enumerate(runs):
        for k, (row, f) in enumerate(zip(r.trajectory, r.trajectory_f)):
            yield ",".join([str(i), r.optimizer, repr(r.lr), str(k), *(repr(float(v)) for v in row), repr(float(f))]) + "\n"


def trajectory_csv(runs, variables) -> bytes:
    """Every iterate of every run: ``run,optimizer,lr,step,<variables…>,f``."""
    import io

    buf = io.StringIO()
    buf.write(",".join(["run", "optimizer", "lr", "step", *variables, "f"]) + "\n")
    for i, r in enumerate(runs):
        traj = r.trajectory
        for k, (row, f) in enumerate(zip(traj, r.trajectory_f)):
            buf.write(",".join([str(i), r.optimizer, repr(r.lr), str(k), *(repr(float(v)) for v in row), repr(float(f))]) + "\n")
    return buf.getvalue().encode()


def trajectory_json(runs, variables) -> bytes:
    """Every iterate of every run as JSON: ``{"variables", "runs": [{..., "points", "f"}]}``."""
    doc = {
        "variables": list(variables),
        "runs": [
            {"optimizer": r.optimizer, "lr": r.lr, "start": list(r.start), "status": r.status,
             "points": r.trajectory.tolist(), "f": [float(v) for v in r.trajectory_f]}
            for r in runs
        ],
    }
    return json.dumps(_json_safe(doc), allow_nan=False).encode()
