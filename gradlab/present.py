"""How a result presents itself outside the terminal: as the CLI's JSON (``to_dict``), as
text in a plain REPL (``str``: the terminal's table), as LaTeX and HTML in a notebook
(``_repr_latex_``, ``_repr_html_``), as a rich table (``__rich_console__``).

Every result class mixes in :class:`Presentable`; it asks only for the ``to_record()``
and ``view()`` each result already has, so the CLI and a notebook show the same facts:
the HTML is a table of the very cells, title and notes the terminal draws, and the LaTeX
of a symbolic result carries them too (a Hessian's eigenvalues and classification, each
step's rule of a derivation).

>>> from gradlab.calculus.pointwise import hessian_report
>>> from gradlab.calculus.parsing import parse, parse_point
>>> r = hessian_report(parse("x**2 - y**2"), parse_point("0,0", 2))
>>> r.to_dict()["hessian"]["classification"]
'saddle'
>>> "saddle" in r._repr_latex_() and "saddle" in r._repr_html_() and "saddle" in str(r)
True
>>> r
<HessianResult: Hessian at (0, 0) of f = x**2 - y**2>
"""

from __future__ import annotations

import html
from typing import Any

#: ``str(result)`` draws the table for a console this wide (a plain REPL's usual width).
STR_WIDTH = 80
#: The longest ``repr``: the class and the title, cut with an ellipsis beyond this.
REPR_WIDTH = 100


class Presentable:
    """Mixin: ``to_dict``, ``str``, a short ``repr``, LaTeX, HTML and rich rendering from
    ``to_record`` and ``view``."""

    __slots__ = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # @dataclass writes its field-by-field __repr__ (pages of SymPy matrices) unless
        # the class already has one in its own namespace; this runs before the decorator,
        # so every result keeps the short one below.
        if "__repr__" not in cls.__dict__:
            cls.__repr__ = Presentable.__repr__  # type: ignore[method-assign]

    def to_dict(self) -> dict[str, Any]:
        """Exactly the CLI's ``--format json`` document, as Python values (non-finite
        numbers are None with a ``<key>_nonfinite`` field saying which)."""
        from gradlab.render.formats import stable_keys
        from gradlab.render.output import json_safe

        return json_safe(stable_keys(self.to_record()))  # type: ignore[attr-defined]

    def __str__(self) -> str:
        """The terminal's table, at :data:`STR_WIDTH` columns, without colour."""
        import io

        from rich.console import Console

        from gradlab.render.tables import render

        buf = io.StringIO()
        console = Console(file=buf, width=STR_WIDTH, color_system=None, force_terminal=False, highlight=False,
                          soft_wrap=False, emoji=False)
        render(self._full_view(), console)
        return "\n".join(line.rstrip() for line in buf.getvalue().rstrip("\n").splitlines())

    def __repr__(self) -> str:
        title = " ".join(self.view().title.split())  # type: ignore[attr-defined]
        head = f"<{type(self).__name__}: "
        room = REPR_WIDTH - len(head) - 1
        if len(title) > room:
            title = title[:room - 1] + "…"
        return f"{head}{title}>"

    def _full_view(self):
        """The view, with the warnings the CLI prints on stderr as notes under it."""
        import dataclasses

        view = self.view()  # type: ignore[attr-defined]
        warnings = tuple(f"warning: {w}" for w in getattr(self, "warnings", ()) or ())
        return dataclasses.replace(view, notes=tuple(view.notes) + warnings) if warnings else view

    def _latex_lines(self) -> list[str] | None:
        from gradlab.render.formats import latex

        try:
            lines = latex(self)
        except TypeError:
            return None  # not a symbolic result: shown as a table
        return _annotated(self, lines, self._full_view().notes)

    def latex_lines(self) -> list[str] | None:
        """The equations of ``_repr_latex_``, one a line, without delimiters (the CLI's
        ``--format latex``); None for a result that is not symbolic."""
        return self._latex_lines()

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

    def _repr_html_(self) -> str:
        """The terminal's table as an HTML table: its title, every cell (with the
        table's digits) and its notes."""
        return view_html(self._full_view())


def _annotated(result: Any, lines: list[str], notes: tuple[str, ...]) -> list[str]:
    """The LaTeX equations with what the table adds: a derivation's rule beside each
    step; under a Hessian at a point, its notes (eigenvalues, ∇f = 0, classification)."""
    kind = type(result).__name__
    if kind == "Explanation":
        rules = [s.rule for s in result.steps] + ["simplify" if result.result != result.raw else "result"]
        return [line + r"\quad " + latex_text(f"({rule})") for line, rule in zip(lines, rules)]
    if kind == "HessianResult":
        return lines + [latex_text(n) for n in notes]
    return lines + [latex_text(n) for n in notes if n.startswith("warning: ")]


_TEX_SPECIAL = {"\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "$": r"\$", "&": r"\&", "#": r"\#",
                "_": r"\_", "%": r"\%", "^": r"\textasciicircum{}", "~": r"\textasciitilde{}"}


def latex_text(text: str) -> str:
    """``text`` as a LaTeX ``\\text{...}``, its special characters escaped.

    >>> latex_text("eigenvalues: -2, 2 (x_1 & 50%)")
    '\\\\text{eigenvalues: -2, 2 (x\\\\_1 \\\\& 50\\\\%)}'
    """
    return r"\text{" + "".join(_TEX_SPECIAL.get(c, c) for c in text) + "}"


def view_html(view: Any) -> str:
    """A :class:`~gradlab.views.View` as HTML: the title, a table of the cells the
    terminal shows (columns folded into the title, floats to the view's digits, numbers
    right-aligned) and the notes.

    >>> from gradlab.views import View
    >>> print(view_html(View("t < u", ("a", "b"), (("x", 1.5),), notes=("n",))))
    <div class="gradlab"><p><b>t &lt; u</b></p><table><thead><tr><th style="text-align:left">a</th><th style="text-align:right">b</th></tr></thead><tbody><tr><td style="text-align:left">x</td><td style="text-align:right">1.5</td></tr></tbody></table><p style="white-space:pre-wrap">n</p></div>
    """
    from gradlab.render.tables import layout

    lay = layout(view, 10**9)  # as wide as it needs: every column at its natural width

    def cell(tag: str, text: str, right: bool) -> str:
        body = "<br>".join(html.escape(t) for t in text.split("\n"))
        return f'<{tag} style="text-align:{"right" if right else "left"}">{body}</{tag}>'

    parts = [f'<div class="gradlab"><p><b>{html.escape(lay.title)}</b></p>']
    if lay.columns:
        parts.append("<table><thead><tr>" + "".join(cell("th", c, r) for c, r in zip(lay.columns, lay.right))
                     + "</tr></thead><tbody>")
        parts.extend("<tr>" + "".join(cell("td", t, r) for t, r in zip(row, lay.right)) + "</tr>"
                     for row in lay.cells)
        parts.append("</tbody></table>")
    parts.extend(f'<p style="white-space:pre-wrap">{html.escape(n)}</p>' for n in view.notes)
    parts.append("</div>")
    return "".join(parts)
