"""Many inputs in one call: points from ``--at`` (repeated or ``-``), ``--points FILE.csv``,
and expressions from standard input.

Every input keeps where it came from (``line 3``, ``--at #2``, ``pts.csv:4``) so that a
bad one is reported by name while the others go on.

Points are read fast: a coordinate that is a plain decimal number (``2``, ``-0.25``,
``1e-3``) becomes a float and an exact fraction without SymPy; anything else (``1/2``,
``pi``, ``sqrt(2)``) goes through :func:`gradlab.calculus.parsing.parse_point` like a single
``--at``. Ten thousand points then cost milliseconds, not seconds.

>>> p = read_point(Line("--at", "0.1, 2"), ["x", "y"])
>>> p.values, p.exact
((0.1, 2.0), ('1/10', '2'))
>>> [l.text for l in lines_of("# points\\n1 2\\n\\n3,4\\n", "stdin")]
['1,2', '3,4']
"""

from __future__ import annotations

import csv
import io
import math
import re
from dataclasses import dataclass
from typing import Iterable, Sequence, TextIO

from gradlab.errors import BadInput, GradlabError

MAX_LINES = 1_000_000  # inputs per call: bounded memory, bounded time
MAX_LINE = 10_000  # characters per line, as for an expression

# A plain decimal literal with a modest exponent: read without SymPy.
_DECIMAL = re.compile(r"[+-]?(\d{1,40}\.?\d{0,40}|\.\d{1,40})([eE][+-]?\d{1,3})?\Z")


@dataclass(frozen=True)
class Line:
    """One input: its label for messages (``line 3``) and its text."""

    where: str
    text: str


@dataclass(frozen=True)
class Point:
    """A point read from a line: float coordinates and their exact forms (as text)."""

    line: Line
    values: tuple[float, ...]
    exact: tuple[str, ...]
    sympy_point: tuple | None = None  # the parsed point when SymPy was needed


@dataclass(frozen=True)
class Failed:
    """An input that could not be read or answered: the error for its record and line."""

    line: Line
    error: GradlabError


def lines_of(text_or_stream: str | TextIO, source: str) -> list[Line]:
    """Non-blank, non-comment lines, whitespace-separated values made comma-separated.

    ``source`` labels them: ``stdin`` gives ``line 3``; a file name gives ``file:3``.
    """
    stream = io.StringIO(text_or_stream) if isinstance(text_or_stream, str) else text_or_stream
    return [Line(f"line {number}" if source == "stdin" else f"{source}:{number}",
                 text if "," in text else ",".join(text.split()))
            for number, text in _numbered(stream, "inputs", source)]


def _numbered(stream: TextIO, what: str, source: str) -> list[tuple[int, str]]:
    """The non-blank, non-comment lines with their line numbers, at most MAX_LINES."""
    out: list[tuple[int, str]] = []
    for number, raw in enumerate(stream, 1):
        text = raw.strip()
        if not text or text.startswith("#"):
            continue
        if len(out) >= MAX_LINES:
            raise BadInput(f"more than {MAX_LINES:,} {what}; split the input", source)
        out.append((number, text))
    return out


def expression_lines(stream: TextIO) -> list[Line]:
    """One expression per line (blank lines and ``#`` comments skipped), as typed."""
    return [Line(f"line {number}", text) for number, text in _numbered(stream, "expressions", "stdin")]


def csv_points(path: str, names: Sequence[str]) -> list[Line]:
    """The rows of a CSV file whose header names the variables, as point lines.

    Columns may come in any order; a column that is not a variable is refused (a typo in
    a variable's name must not go unnoticed).
    """
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            rows = list(csv.reader(fh))
    except OSError as exc:
        raise GradlabError(f"cannot read {path}: {exc.strerror or exc}", "--points") from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise BadInput(f"{path} is not a CSV file: {exc}", "--points") from None
    if not rows:
        raise BadInput(f"{path} is empty: it needs a header naming the variables", "--points")
    header = [h.strip() for h in rows[0]]
    unknown = [h for h in header if h not in names]
    if unknown:
        raise BadInput(f"{path}: column {unknown[0]!r} is not a variable of the function ({', '.join(names)})",
                       "--points")
    missing = [n for n in names if n not in header]
    if missing:
        raise BadInput(f"{path}: no column for {', '.join(missing)}", "--points")
    if len(rows) - 1 > MAX_LINES:
        raise BadInput(f"more than {MAX_LINES:,} points; split the file", "--points")
    out = []
    for number, row in enumerate(rows[1:], 2):
        if not any(c.strip() for c in row):
            continue
        if len(row) != len(header):
            out.append(Line(f"{path}:{number}", ",".join(row) + ("," if len(row) < len(header) else "")))
            continue
        out.append(Line(f"{path}:{number}", ",".join(f"{h}={c.strip()}" for h, c in zip(header, row))))
    return out


_PARTS = re.compile(r"\s*([+-]?)(\d*)\.?(\d*)(?:[eE]([+-]?\d+))?\s*\Z")


def _exact_decimal(text: str) -> str:
    """The exact value of a decimal literal as SymPy writes it: ``0.25`` → ``1/4``.

    >>> _exact_decimal("-0.25"), _exact_decimal("1.5e3"), _exact_decimal("007")
    ('-1/4', '1500', '7')
    """
    sign, whole, frac, exp = _PARTS.match(text).groups()
    num = int((whole or "0") + frac)
    shift = int(exp or 0) - len(frac)
    if abs(shift) > 60:  # a long number: written as the single call writes it, so it reads back in
        import sympy

        from gradlab.calculus.parsing import number_text

        value = sympy.Integer(num) * sympy.Integer(10) ** shift
        return number_text(-value if sign == "-" else value)
    if shift >= 0:
        return f"{'-' if sign == '-' and num else ''}{num * 10 ** shift}"
    den = 10 ** -shift
    g = math.gcd(num, den)
    num, den = num // g, den // g
    text = f"{num}" if den == 1 else f"{num}/{den}"
    return f"-{text}" if sign == "-" and num else text


def _fast(text: str) -> tuple[float, str] | None:
    """``(float, exact text)`` for a plain decimal literal, else None."""
    t = text.strip()
    if not _DECIMAL.match(t):
        return None
    exponent = t.lower().partition("e")[2]
    if exponent and abs(int(exponent)) > 300:
        return None  # let the parser refuse it with its own words
    value = float(t)
    if not math.isfinite(value):
        return None
    return value, _exact_decimal(t)


def read_point(line: Line, names: Sequence[str], need_sympy: bool = False) -> Point:
    """The point on ``line`` for a function of ``names`` (BadInput naming the line)."""
    if len(line.text) > MAX_LINE:
        raise BadInput("the line is too long", line.where)
    pieces = line.text.split(",")
    if not need_sympy and "(" not in line.text:
        named = ["=" in p for p in pieces]
        if all(named) and len(pieces) == len(names):
            values = {}
            for p in pieces:
                key, _, val = p.partition("=")
                values[key.strip()] = val
            if set(values) == set(names):
                pieces = [values[n] for n in names]
        fast = [_fast(p) for p in pieces]
        if all(f is not None for f in fast) and len(fast) == len(names):
            return Point(line, tuple(f[0] for f in fast), tuple(f[1] for f in fast))
    from gradlab.calculus.parsing import parse_point

    # An empty cell (a CSV row "3,", a line "3,,4") is a missing coordinate, named as
    # such: the parser alone would call it an empty expression.
    if "(" not in line.text and len(pieces) > 1:
        for k, p in enumerate(line.text.split(",")):
            key, eq, val = p.partition("=")
            if not (val if eq else key).strip():
                name = key.strip() if eq else (names[k] if k < len(names) else None)
                what = f"the coordinate for {name} is empty" if name else f"coordinate {k + 1} is empty"
                raise BadInput(what, line.where)
    try:
        point = parse_point(line.text, len(names), list(names), "--at")
    except BadInput as exc:
        raise BadInput(exc.what, line.where) from None
    values = []
    for p in point:
        try:
            values.append(float(p))
        except (TypeError, ValueError, OverflowError):
            raise BadInput(f"{p} is not a real number", line.where) from None
    return Point(line, tuple(values), tuple(str(p) for p in point), tuple(point))


def at_lines(at: Sequence[str], read_stdin) -> list[Line]:
    """The ``--at`` values as lines: ``-`` reads standard input (once)."""
    out: list[Line] = []
    for k, text in enumerate(at, 1):
        if text.strip() == "-":
            out.extend(lines_of(read_stdin(), "stdin"))
        else:
            out.append(Line(f"--at #{k}" if len(at) > 1 else "--at", text))
    return out


def labels(lines: Iterable[Line]) -> list[str]:
    return [l.where for l in lines]
