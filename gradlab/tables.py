"""The rich table renderer: a :class:`~gradlab.views.View` drawn for a terminal.

>>> from io import StringIO
>>> from rich.console import Console
>>> from gradlab.views import View
>>> out = StringIO()
>>> render(View("t", ("a", "b"), (("x", 1.5),)), Console(file=out, width=40))
>>> "1.5" in out.getvalue()
True
"""

from __future__ import annotations

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from gradlab.views import Cell, View


_STATUS = {"converged": "green", "diverged": "red", "max_steps": "yellow", "minimum": "green",
           "maximum": "magenta", "saddle": "yellow", "inconclusive": "dim", "stable": "green"}


def _text(cell: Cell, digits: int = 10) -> str:
    # Tables are for reading; plain and JSON output keep every digit.
    if cell is None:
        return "—"
    if isinstance(cell, bool):
        return "yes" if cell else "no"
    if isinstance(cell, float):
        return f"{cell:.{digits}g}"
    if isinstance(cell, tuple):
        return "(" + ", ".join(f"{v:.3g}" if isinstance(v, float) else str(v) for v in cell) + ")"
    text = escape(str(cell))  # user text must not be read as rich markup
    colour = _STATUS.get(str(cell))
    return f"[{colour}]{text}[/{colour}]" if colour else text


def render(view: View, console: Console) -> None:
    """Draw ``view`` as a table, then its notes."""
    console.print(f"[bold]{escape(view.title)}[/bold]", highlight=False)
    table = Table(header_style="bold", box=box.SIMPLE_HEAD, pad_edge=False, show_header=any(view.columns))
    for i, col in enumerate(view.columns):
        numeric = any(isinstance(r[i], (int, float)) and not isinstance(r[i], bool) for r in view.rows)
        table.add_column(escape(col), justify="right" if numeric else "left", overflow="fold",
                         no_wrap=i in view.nowrap)
    for row in view.rows:
        table.add_row(*(_text(c, view.digits) for c in row))
    console.print(table)
    for note in view.notes:
        console.print(f"  {escape(note)}", highlight=False)
