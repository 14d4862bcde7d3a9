"""A renderer-neutral picture of a result: a titled table of cells plus notes.

Results build a :class:`View`; ``output.py`` prints its cells as TSV and ``tables.py``
draws it with rich. Neither computes anything.

>>> v = View("gradient", ("variable", "value"), (("x", 20.0),))
>>> v.plain_rows()
[('x', 20.0)]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union

Cell = Union[str, float, int, None, tuple]  # a tuple is a vector of floats


@dataclass(frozen=True)
class View:
    """What a table shows.

    ``plain`` lists the column indices that plain output prints (all when ``None``);
    ``notes`` are lines under the table that plain output leaves out; ``plain_cells``,
    when set, replaces the rows in plain output (a matrix's floats where the table shows
    each entry's derivation). ``digits`` is the most a table shows of a float: fewer on a
    narrow terminal. ``fold`` lists columns that a table moves into its title when they
    are the same in every row (one optimizer, one start); plain output keeps them.
    """

    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]
    plain: tuple[int, ...] | None = None
    notes: tuple[str, ...] = ()
    plain_cells: tuple[tuple[Cell, ...], ...] | None = None
    digits: int = 10  # at most this many significant digits in tables (plain keeps them all)
    nowrap: tuple[int, ...] = ()  # table columns that must not wrap (short phrases)
    fold: tuple[int, ...] = ()  # columns that move to the title when every row has the same cell

    def plain_rows(self) -> list[tuple[Cell, ...]]:
        if self.plain_cells is not None:
            return [tuple(r) for r in self.plain_cells]
        if self.plain is None:
            return [tuple(r) for r in self.rows]
        return [tuple(r[i] for i in self.plain) for r in self.rows]


def plural(count: int, word: str, many: str | None = None) -> str:
    """``count`` and ``word``, plural unless the count is one.

    >>> plural(1, "step"), plural(3, "step"), plural(2, "run", "runs")
    ('1 step', '3 steps', '2 runs')
    """
    return f"{count} {word if count == 1 else (many or word + 's')}"
