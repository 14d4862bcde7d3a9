"""How a result presents itself outside the terminal: as the CLI's JSON (``to_dict``), as
LaTeX in a notebook (``_repr_latex_``), as a rich table (``__rich_console__``, and HTML
for notebooks that do not load rich).

Every result class mixes in :class:`Presentable`; it asks only for the ``to_record()``
and ``view()`` each result already has, so the CLI and a notebook show the same thing.

>>> from gradlab.calculus.pointwise import grad_report
>>> from gradlab.calculus.parsing import parse, parse_point
>>> r = grad_report(parse("x**2*y + 3*y"), parse_point("2,5", 2))
>>> r.to_dict()["gradient"]["value"]
[20.0, 7.0]
>>> r._repr_latex_().startswith("$$")
True
"""

from __future__ import annotations

from typing import Any


class Presentable:
    """Mixin: ``to_dict``, ``_repr_latex_``, rich and HTML rendering from ``to_record``
    and ``view``."""

    __slots__ = ()

    def to_dict(self) -> dict[str, Any]:
        """Exactly the CLI's ``--format json`` document, as Python values (non-finite
        numbers are None with a ``<key>_nonfinite`` field saying which)."""
        from gradlab.render.formats import stable_keys
        from gradlab.render.output import json_safe

        return json_safe(stable_keys(self.to_record()))  # type: ignore[attr-defined]

    def _latex_lines(self) -> list[str] | None:
        from gradlab.render.formats import latex

        try:
            return latex(self)
        except TypeError:
            return None  # not a symbolic result: shown as a table

    def _repr_latex_(self) -> str | None:
        lines = self._latex_lines()
        if not lines:
            return None
        return "$$\\begin{gathered}" + " \\\\ ".join(lines) + "\\end{gathered}$$"

    def __rich_console__(self, console: Any, options: Any):
        import io

        from rich.console import Console
        from rich.text import Text

        from gradlab.render.tables import render

        buf = io.StringIO()
        inner = Console(file=buf, width=options.max_width, force_terminal=console.is_terminal,
                        color_system=console.color_system, highlight=False, soft_wrap=False)
        render(self.view(), inner)  # type: ignore[attr-defined]
        yield Text.from_ansi(buf.getvalue().rstrip("\n"))

    def _repr_html_(self) -> str | None:
        if self._latex_lines():
            return None  # the notebook shows the LaTeX
        from rich.console import Console

        from gradlab.render.tables import render

        console = Console(record=True, width=120, force_terminal=True, file=_Null())
        render(self.view(), console)  # type: ignore[attr-defined]
        return console.export_html(inline_styles=True, code_format="<pre style=\"font-family:monospace\">{code}</pre>")


class _Null:
    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False
