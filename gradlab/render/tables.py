"""The rich table renderer: a :class:`~gradlab.views.View` drawn for a terminal.

A table never breaks a number or a word. It is laid out for the console's width in
three steps, stopping at the first that fits:

1. every column at its natural width, floats with the view's digits (at most);
2. floats with fewer significant digits (down to :data:`MIN_DIGITS`), the widest
   column first, then text columns wrapped at spaces, never narrower than their
   longest word;
3. a vertical layout: one block per record, one ``field: value`` line per cell.

A column listed in ``View.fold`` whose cells are the same in every row moves to the
title. Plain and JSON output keep every digit; only the table rounds.

>>> from io import StringIO
>>> from rich.console import Console
>>> from gradlab.views import View
>>> out = StringIO()
>>> render(View("t", ("a", "b"), (("x", 1.5),)), Console(file=out, width=40))
>>> "1.5" in out.getvalue()
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from rich import box
from rich.cells import cell_len
from rich.console import Console
from rich.table import Table
from rich.text import Text

from gradlab.views import Cell, View

MIN_DIGITS = 3  # fewer significant digits than this and a table stops teaching anything
NOTE_INDENT = 2
POINT = 20  # a point this short is never wrapped inside a table

_STATUS = {"converged": "green", "diverged": "red", "max_steps": "yellow", "minimum": "green",
           "maximum": "magenta", "saddle": "yellow", "inconclusive": "dim", "stable": "green",
           "right": "green", "WRONG": "bold red", "PASS": "green", "FAIL": "bold red"}


# --------------------------------------------------------------------------- cells
def number(value: float, digits: int) -> str:
    """``value`` with at most ``digits`` significant digits and a short exponent.

    >>> number(2.4772117005987604e-13, 3), number(1677721600.74, 3), number(0.01, 3)
    ('2.48e-13', '1.68e9', '0.01')
    """
    if not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    text = f"{value:.{digits}g}"
    if "e" in text:
        mantissa, exponent = text.split("e")
        text = f"{mantissa}e{int(exponent)}"
    return text


def cell_text(cell: Cell, digits: int) -> str:
    """One cell as the table shows it (``None`` is a dash, a tuple a point)."""
    if cell is None:
        return "—"
    if isinstance(cell, bool):
        return "yes" if cell else "no"
    if isinstance(cell, float):
        return number(cell, digits)
    if isinstance(cell, tuple):
        return "(" + ", ".join(number(v, digits) if isinstance(v, float) else str(v) for v in cell) + ")"
    return str(cell)


def _has_floats(cell: Cell) -> bool:
    return isinstance(cell, float) or (isinstance(cell, tuple) and any(isinstance(v, float) for v in cell))


def _numeric(cell: Cell) -> bool:
    return isinstance(cell, (int, float)) and not isinstance(cell, bool)


def _words(text: str) -> list[str]:
    return text.split()


def _longest_word(text: str) -> int:
    return max((cell_len(w) for w in _words(text)), default=0)


def _longest_line(text: str) -> int:
    return max((cell_len(line) for line in text.split("\n")), default=0)


# --------------------------------------------------------------------------- layout
@dataclass
class Layout:
    """What :func:`layout` decided: the title, the columns kept, each cell's text, the
    column widths (``None``: the vertical layout) and the digits of each column."""

    title: str
    columns: list[str]
    cells: list[list[str]]
    raw: list[list[Cell]]
    widths: list[int] | None
    digits: list[int]
    right: list[bool]

    @property
    def vertical(self) -> bool:
        return self.widths is None


def overhead(ncols: int) -> int:
    """Characters a table spends outside its cells: a space at each edge, three between
    columns (padding, divider, padding)."""
    return 2 + 3 * (ncols - 1) if ncols else 0


def _fold(view: View) -> tuple[str, list[int]]:
    """The title with constant foldable columns moved into it, and the columns kept."""
    title = view.title
    keep = list(range(len(view.columns)))
    if len(view.rows) > 1:
        moved = []
        for i in view.fold:
            values = {cell_text(r[i], 17) for r in view.rows}
            if len(values) == 1:
                moved.append(f"{view.columns[i]} {values.pop()}")
                keep.remove(i)
        if moved:
            title = f"{title} · {' · '.join(moved)}"
    return title, keep


def layout(view: View, width: int) -> Layout:
    """Choose digits and column widths so the table fits ``width`` characters, or the
    vertical layout when even the narrowest table would not."""
    title, keep = _fold(view)
    columns = [view.columns[i] for i in keep]
    raw = [[row[i] for i in keep] for row in view.rows]
    n = len(columns)
    digits = [view.digits] * n
    floats = [any(_has_floats(r[j]) for r in raw) for j in range(n)]
    right = [any(_numeric(r[j]) for r in raw) and all(_numeric(r[j]) or r[j] is None for r in raw)
             for j in range(n)]
    nowrap = {keep.index(i) for i in view.nowrap if i in keep}

    def texts(j: int) -> list[str]:
        return [cell_text(r[j], digits[j]) for r in raw]

    cells_by_col = [texts(j) for j in range(n)]

    def natural(j: int) -> int:
        return max([_longest_line(columns[j])] + [_longest_line(t) for t in cells_by_col[j]])

    def minimum(j: int, whole_points: bool) -> int:
        if j in nowrap:  # the cells stay whole; a header of several words may still wrap between them
            return max([_longest_word(columns[j])] + [_longest_line(t) for t in cells_by_col[j]])
        # a short point such as (-2, 0) reads best as one word: kept whole unless that
        # is what stops the table from fitting
        return max([_longest_word(columns[j])] + [
            cell_len(t) if whole_points and isinstance(r[j], tuple) and cell_len(t) <= POINT else _longest_word(t)
            for r, t in zip(raw, cells_by_col[j])])

    def total(ws: list[int]) -> int:
        return sum(ws) + overhead(n)

    widths = [natural(j) for j in range(n)]
    # Step 2a: fewer digits, taking from the widest float column first.
    while total(widths) > width:
        candidates = [j for j in range(n) if floats[j] and digits[j] > MIN_DIGITS]
        if not candidates:
            break
        j = max(candidates, key=lambda k: (widths[k], -k))
        digits[j] -= 1
        cells_by_col[j] = texts(j)
        widths[j] = natural(j)
    # Step 2b: wrap text at spaces, never below a column's longest word, each time
    # narrowing the column that adds the fewest lines (the widest on a tie).
    for whole_points in (True, False):
        if total(widths) <= width:
            break
        floor = [minimum(j, whole_points) for j in range(n)]
        heights = [[len(wrap(t, widths[j])) for t in cells_by_col[j]] for j in range(n)]
        rows = [max(h[i] for h in heights) for i in range(len(raw))] if n else []
        careful = len(raw) <= 200  # beyond that, just the widest first: bounded time
        while total(widths) > width:
            candidates = [j for j in range(n) if widths[j] > floor[j]]
            if not candidates:
                break
            best, best_cost, best_h = None, None, None
            for j in (candidates if careful else [max(candidates, key=lambda k: widths[k])]):
                h = [len(wrap(t, widths[j] - 1)) for t in cells_by_col[j]] if careful else heights[j]
                cost = sum(max(r, hj) - r for r, hj in zip(rows, h))
                key = (cost, -widths[j])
                if best_cost is None or key < best_cost:
                    best, best_cost, best_h = j, key, h
            widths[best] -= 1
            heights[best] = best_h
            rows = [max(h[i] for h in heights) for i in range(len(raw))]
    cells = [[cells_by_col[j][i] for j in range(n)] for i in range(len(raw))]
    fits = total(widths) <= width
    return Layout(title, columns, cells, raw, widths if fits else None, digits, right)


# --------------------------------------------------------------------------- drawing
def wrap(text: str, width: int, first: str = "", rest: str = "") -> list[str]:
    """Lines of at most ``width`` characters, broken at spaces only; ``first`` and
    ``rest`` prefix the first and later lines. A word longer than a line is folded, the
    one case where nothing else can fit.

    >>> wrap("a bb ccc", 5)
    ['a bb', 'ccc']
    """
    lines: list[str] = []
    for para in text.split("\n"):
        line, started = (first if not lines else rest), False
        for word in para.split():
            candidate = f"{line} {word}" if started else line + word
            if cell_len(candidate) <= width:
                line, started = candidate, True
                continue
            if started:
                lines.append(line)
                line = rest
            room = max(width - cell_len(line), 1)
            while cell_len(word) > room:  # longer than any line: fold (unavoidable)
                lines.append(line + word[:room])
                line, word = rest, word[room:]
                room = max(width - cell_len(line), 1)
            line, started = line + word, True
        lines.append(line)
    return lines


def _style(raw: Cell, text: str) -> str:
    return _STATUS.get(text, "") if isinstance(raw, str) else ""


def _print_lines(console: Console, lines: list[str], style: str = "") -> None:
    for line in lines:
        console.print(Text(line, style=style), soft_wrap=True, highlight=False)


def _table(lay: Layout) -> Table:
    table = Table(header_style="bold", box=box.SIMPLE_HEAD, pad_edge=False, show_header=any(lay.columns),
                  expand=False)
    for j, col in enumerate(lay.columns):
        table.add_column(Text(col), justify="right" if lay.right[j] else "left", width=lay.widths[j],
                         min_width=lay.widths[j], max_width=lay.widths[j], overflow="fold", no_wrap=False)
    for raw, texts in zip(lay.raw, lay.cells):
        table.add_row(*(Text(t, style=_style(c, t)) for c, t in zip(raw, texts)))
    return table


def _vertical(console: Console, lay: Layout, width: int) -> None:
    """One block per record: the first cell as its head, then ``field: value`` pairs,
    as many to a line as fit, a pair never split unless it is longer than a line."""
    indent, gap = "   ", "   "
    for i, (raw, texts) in enumerate(zip(lay.raw, lay.cells)):
        if i:
            console.print()
        head = f"{lay.columns[0]}: {texts[0]}" if lay.columns[0] else texts[0]
        _print_lines(console, wrap(head, width, " ", "   "), "bold")
        line = Text(indent)
        for col, t, c in zip(lay.columns[1:], texts[1:], raw[1:]):
            label = f"{col}: " if col else ""
            pair = cell_len(label) + cell_len(t)
            if line.cell_len > len(indent) and line.cell_len + len(gap) + pair <= width:
                line.append(gap)
            elif line.cell_len > len(indent):
                console.print(line, soft_wrap=True, highlight=False)
                line = Text(indent)
            if line.cell_len + pair <= width:
                line.append(label)
                line.append(t, style=_style(c, t))
                continue
            for k, part in enumerate(wrap(label + t, width, indent, indent + "  ")):
                if k:
                    console.print(line, soft_wrap=True, highlight=False)
                line = Text(part)
        if line.cell_len > len(indent):
            console.print(line, soft_wrap=True, highlight=False)


def render(view: View, console: Console) -> None:
    """Draw ``view`` for ``console``'s width: its title, the table (or one block per
    record when no table fits), then its notes."""
    width = max(console.width, 20)
    lay = layout(view, width)
    _print_lines(console, wrap(lay.title, width), "bold")
    if lay.vertical:
        console.print()
        _vertical(console, lay, width)
        if view.notes:
            console.print()
    else:
        console.print(_table(lay), soft_wrap=False)
    for note in view.notes:
        lead = " " * (NOTE_INDENT + len(note) - len(note.lstrip(" ")))  # a note's own indent is kept
        _print_lines(console, wrap(note, width, lead, lead + "  "))
