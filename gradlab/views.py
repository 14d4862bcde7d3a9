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
    each entry's derivation).
    """

    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]
    plain: tuple[int, ...] | None = None
    notes: tuple[str, ...] = ()
    plain_cells: tuple[tuple[Cell, ...], ...] | None = None
    digits: int = 10  # significant digits of floats in tables (plain keeps them all)
    nowrap: tuple[int, ...] = ()  # table columns that must not wrap (short phrases)

    def plain_rows(self) -> list[tuple[Cell, ...]]:
        if self.plain_cells is not None:
            return [tuple(r) for r in self.plain_cells]
        if self.plain is None:
            return [tuple(r) for r in self.rows]
        return [tuple(r[i] for i in self.plain) for r in self.rows]
