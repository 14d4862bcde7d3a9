"""gradlab's ``--help`` pages: a layout that reads well at any terminal width.

Typer's rich layout sets options in a five-column table (long names, short names,
negative names, type, help). At 80 columns the help is left a third of the width, and a
word longer than its column (``exponential:decay_rate=R,``) is cut with "…". This
layout has two columns: the option with a short metavar (``--lr LR``), and its help,
wrapped between words. An option longer than the first column puts its help on the lines
below; a help word too long for the column moves that help under the option, at the full
width; below about 60 columns every help goes under its option. Nothing is ever cut,
and no line is wider than the terminal (or 100 columns: longer lines are hard to read).

Options are grouped by their ``rich_help_panel`` (Options, Optimizer settings, Many
inputs, Plots, Output); a default that the help does not already state is added as
``(default: …)``.

>>> for line in rows([("--lr LR", "Learning rates, comma-separated."),
...                   ("--schedule SPEC", "step:decay_rate=R,transition_steps=K")], 50):
...     print(line)
  --lr LR          Learning rates,
                   comma-separated.
  --schedule SPEC
      step:decay_rate=R,transition_steps=K
"""

from __future__ import annotations

import os
import re
import textwrap
from typing import Any, Iterable, Optional, Sequence

INDENT = 2  # before an option or a command name
GAP = 2  # between the two columns
HANG = 6  # a help set under its option
LABEL_MAX = 24  # the widest first column; a longer option puts its help below
MIN_HELP = 30  # narrower than this, every help goes under its option
MAX_WIDTH = 100  # a wider terminal still gets lines that are easy to read
PANELS = ("Options", "Optimizer settings", "Many inputs", "Plots", "Output")


def page_width() -> int:
    """The terminal's width (``COLUMNS`` first), at most :data:`MAX_WIDTH`."""
    from gradlab.cli.streams import terminal_width

    return max(20, min(terminal_width(), MAX_WIDTH))


def _wrap(text: str, width: int, force: bool = False) -> Optional[list[str]]:
    """``text`` in lines of at most ``width``, broken between words; None where one word
    is longer than that (unless ``force``: then, and only then, inside it)."""
    lines = textwrap.wrap(text, width, break_long_words=False, break_on_hyphens=False) or [""]
    if all(len(line) <= width for line in lines):
        return lines
    if not force:
        return None
    return textwrap.wrap(text, max(width, 1), break_long_words=True, break_on_hyphens=False)


def rows(items: Sequence[tuple[str, str]], width: int, col: Optional[int] = None) -> list[str]:
    """Two columns, label and help, in ``width`` characters (see the module's doc)."""
    if not items:
        return []
    col = col if col is not None else min(max(len(label) for label, _ in items), LABEL_MAX)
    left = INDENT + col + GAP
    side_by_side = width - left >= MIN_HELP
    out: list[str] = []
    for label, text in items:
        lines = _wrap(text, width - left) if side_by_side and text else None
        if lines is not None:
            if len(label) <= col:
                out.append(" " * INDENT + label.ljust(col) + " " * GAP + lines[0])
                lines = lines[1:]
            else:
                out.append(" " * INDENT + label)
            out.extend(" " * left + line for line in lines)
            continue
        out.append(" " * INDENT + label)
        if text:
            out.extend(" " * HANG + line for line in _wrap(text, width - HANG, force=True))
    return out


_WORD = re.compile(r"""(?:"[^"]*"|'[^']*'|\S)+""")


def example(text: str, width: int) -> list[str]:
    """An ``Example: gradlab …`` paragraph. On one line where it fits; else the command
    under ``Example:``, broken between shell words with ``\\`` so that it still pastes."""
    one = " " * INDENT + text
    if len(one) <= width:
        return [one]
    head, _, command = text.partition(" ")
    words: list[str] = []
    for word in _WORD.findall(command):  # an option stays with its value: --at 1,2
        if words and words[-1].startswith("-") and " " not in words[-1] and not word.startswith("-"):
            words[-1] += " " + word
        else:
            words.append(word)
    lines, line = [], ""
    for word in words:
        indent = INDENT + 2 if not lines else INDENT + 4
        if line and indent + len(line) + 1 + len(word) + 2 > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    lines.append(line)
    out = [" " * INDENT + head]
    for k, line in enumerate(lines):
        indent = INDENT + 2 if k == 0 else INDENT + 4
        out.append(" " * indent + line + (" \\" if k < len(lines) - 1 else ""))
    if any(len(line) > width for line in out):  # a quoted word longer than the page: plain wrapping
        return [" " * INDENT + line for line in _wrap(text, width - INDENT, force=True)]
    return out


def paragraphs(doc: str) -> list[str]:
    """A docstring's paragraphs, each on one line."""
    import inspect

    return [" ".join(p.split()) for p in inspect.cleandoc(doc or "").split("\n\n") if p.strip()]


def description(doc: str, width: int) -> list[str]:
    out: list[str] = []
    for p in paragraphs(doc):
        if out:
            out.append("")
        if p.startswith("Example: "):
            out.extend(example(p, width))
        else:
            out.extend(" " * INDENT + line for line in _wrap(p, width - INDENT, force=True))
    return out


# ----------------------------------------------------------------------------- parameters
def metavar(param: Any) -> str:
    """The short name of an option's value: its own ``metavar``, else one from its type."""
    if getattr(param, "metavar", None):
        return param.metavar
    name = getattr(getattr(param, "type", None), "name", "")
    return {"integer": "N", "float": "X"}.get(name, "VALUE")


def label(param: Any) -> str:
    """``-o, --optimizer NAMES``; ``--header / --no-header``; an argument's metavar."""
    if param.param_type_name == "argument":
        name = param.metavar or (param.name or "").upper()
        return name
    names = sorted(param.opts, key=lambda n: (n.startswith("--"), n))
    text = ", ".join(names)
    if param.secondary_opts:
        text += " / " + ", ".join(param.secondary_opts)
    if not (getattr(param, "is_flag", False) or getattr(param, "count", False)):
        text += " " + metavar(param)
    return text


def _default_text(param: Any) -> Optional[str]:
    default = param.default
    if default is None or callable(default):
        return None
    if getattr(param, "is_flag", False):
        if param.secondary_opts:  # --header/--no-header: the default is one of the two
            return param.opts[0] if default else param.secondary_opts[0]
        return None  # a plain flag is off unless given
    if getattr(default, "value", None) is not None:  # an enum (--format)
        default = default.value
    if isinstance(default, (list, tuple)):
        return None
    return str(default)


def help_of(param: Any) -> str:
    """The option's help, with its default, environment variable and requiredness where
    the help does not say them already."""
    text = " ".join((getattr(param, "help", None) or "").split())
    extra = []
    default = _default_text(param)
    if default is not None and "default" not in text.lower():
        extra.append(f"default: {default}")
    envvar = getattr(param, "envvar", None)
    if envvar and envvar not in text:
        extra.append(f"or set {envvar}")
    if param.required and param.param_type_name == "option":
        extra.append("required")
    if not extra:
        return text
    if not text:
        return "; ".join(extra).capitalize() + "."
    end = "." if text.endswith(".") else ""
    return f"{text[: len(text) - len(end)]} ({'; '.join(extra)}){end}"


def usage(ctx: Any, command: Any) -> str:
    pieces = []
    for p in command.params:
        if p.param_type_name == "argument":
            name = label(p)
            pieces.append(name if p.required else f"[{name}]")
    return " ".join([ctx.command_path, "[OPTIONS]", *pieces])


def _usage(text: str, width: int) -> list[str]:
    if len("Usage: " + text) <= width:
        return [_heading("Usage: ") + text]
    return [_heading("Usage:"), *(" " * INDENT + line for line in _wrap(text, width - INDENT, force=True))]


def _style(text: str, **kw: Any) -> str:
    if os.environ.get("NO_COLOR"):
        return text
    import typer

    return typer.style(text, **kw)


def _heading(text: str) -> str:
    return _style(text, bold=True)


def _page(width: int, sections: Iterable[tuple[str, list[tuple[str, str]]]], head: list[str]) -> str:
    sections = [(title, items) for title, items in sections if items]
    col = min(max((len(label) for _, items in sections for label, _ in items), default=0), LABEL_MAX)
    out = list(head)
    for title, items in sections:
        out += ["", _heading(f"{title}:")]
        out += [_bold_label(line, label) for line, label in zip_labels(rows(items, width, col), items)]
    return "\n".join(out) + "\n"


def zip_labels(lines: list[str], items: Sequence[tuple[str, str]]):
    """Each line with the label it starts with (None for a continuation line)."""
    labels = [label for label, _ in items]
    k = 0
    for line in lines:
        if k < len(labels) and line[INDENT:].startswith(labels[k]) and line[:INDENT].isspace():
            yield line, labels[k]
            k += 1
        else:
            yield line, None


def _bold_label(line: str, label: Optional[str]) -> str:
    if label is None:
        return line
    return " " * INDENT + _style(label, bold=True) + line[INDENT + len(label):]


def command_help(ctx: Any, command: Any) -> str:
    """The ``--help`` page of one command."""
    width = page_width()
    head = [*_usage(usage(ctx, command), width), "", *description(command.help or "", width)]
    arguments = [(label(p), help_of(p)) for p in command.params
                 if p.param_type_name == "argument" and not getattr(p, "hidden", False)]
    panels: dict[str, list[tuple[str, str]]] = {}
    for p in command.get_params(ctx):
        if p.param_type_name != "option" or getattr(p, "hidden", False):
            continue
        if p.name == "help":
            panels.setdefault("Options", []).append((label(p), "Show this help."))
            continue
        panels.setdefault(getattr(p, "rich_help_panel", None) or "Options", []).append((label(p), help_of(p)))
    if "Options" in panels:  # --help last among the command's own options
        panels["Options"].sort(key=lambda item: item[0] == "-h, --help")
    order = [*PANELS, *(t for t in panels if t not in PANELS)]
    return _page(width, [("Arguments", arguments), *((t, panels.get(t, [])) for t in order)], head)


def group_help(ctx: Any, group: Any, epilog: str = "") -> str:
    """The ``gradlab --help`` page: the description, the commands (each with its first
    paragraph, whole), the options."""
    width = page_width()
    head = [*_usage(f"{ctx.command_path} [OPTIONS] COMMAND [ARGS]...", width), "",
            *description(group.help or "", width)]
    commands = []
    for name in group.list_commands(ctx):
        cmd = group.get_command(ctx, name)
        if cmd is None or getattr(cmd, "hidden", False):
            continue
        first = paragraphs(cmd.help or "")
        commands.append((name, first[0] if first else ""))
    options = [(label(p), "Show this help." if p.name == "help" else help_of(p))
               for p in group.get_params(ctx) if p.param_type_name == "option" and not getattr(p, "hidden", False)]
    page = _page(width, [("Commands", commands), ("Options", options)], head)
    if epilog:
        page += "\n" + "\n".join(description(epilog, width)) + "\n"
    return page
