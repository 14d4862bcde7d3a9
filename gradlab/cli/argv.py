"""Command-line words made unambiguous before the parser sees them.

Three habits of option parsers bite a calculator:

* a function that starts with a minus (``-x**2 - y**2``) is read as an unknown option;
* an option given twice silently keeps the last value (``--lr 0.1 --lr 0.2``);
* an empty value (``--lr ""``, a script's variable that came back empty) silently means
  the default.

:func:`normalise` fixes the first (every positional word moves behind ``--``; a ``--`` of the
user's own marks the one word after it as positional) and refuses
the other two with a :class:`~gradlab.errors.BadInput` (exit 2). It knows only each
option's names, whether it takes a value and whether it may be repeated, so it is
independent of the parser library.

>>> spec = {"--at": Opt(True, True), "--format": Opt(True, False), "-f": Opt(True, False)}
>>> normalise(["grad", "-x**2 - y**2", "--at", "1,2"], spec)
['grad', '--at', '1,2', '--', '-x**2 - y**2']
>>> normalise(["grad", "x", "-f", "json", "--format", "csv"], spec, {"-f": "--format"})
Traceback (most recent call last):
...
gradlab.errors.BadInput: --format is given twice; give it once (--format)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping, Sequence

from gradlab.errors import BadInput

# A word that names an option (``--lr``, ``-o``, ``--lr=0.1``, ``-ojson``), as opposed to
# an expression such as ``-x**2`` or ``-(x+y)``, or a number such as ``-1``.
_OPTION_WORD = re.compile(r"--?[A-Za-z][A-Za-z0-9-]*(=.*)?\Z", re.S)


@dataclass(frozen=True)
class Opt:
    """What the normaliser needs to know of one option."""

    takes_value: bool
    repeatable: bool = False


def normalise(args: Sequence[str], spec: Mapping[str, Opt], aliases: Mapping[str, str] | None = None,
              flags: Mapping[str, str] | None = None, required: int = 0) -> list[str]:
    """``args`` (the command name first) with every positional word after ``--``.

    ``spec`` maps each option name (long and short) to its :class:`Opt`; ``aliases`` maps
    a short name to its long name, so ``-f`` and ``--format`` count as one option.

    ``flags`` maps a short global flag (``-q``) to its long name (``--quiet``). Such a word
    could also be an expression (f = −q), so it is the flag only when the other positional
    words fill the command's ``required`` arguments; its long name then leads the result
    (before the command's name), where the root reads it.

    >>> at = {"--at": Opt(True, True)}
    >>> normalise(["grad", "x", "--at", "1", "-q"], at, flags={"-q": "--quiet"}, required=1)
    ['--quiet', 'grad', '--at', '1', '--', 'x']
    >>> normalise(["grad", "-q", "--at", "1"], at, flags={"-q": "--quiet"}, required=1)
    ['grad', '--at', '1', '--', '-q']
    """
    flags = dict(flags or {})
    aliases = dict(aliases or {})
    head, rest = list(args[:1]), list(args[1:])
    options: list[str] = []
    positional: list[str] = []
    seen: set[str] = set()
    moved = False
    i = 0
    while i < len(rest):
        word = rest[i]
        if word == "--":
            # The next word is the expression, whatever it starts with; options may
            # still follow it (gradlab grad -- -x**2 --at 1).
            positional.extend(rest[i + 1:i + 2])
            moved = True
            i += 2
            continue
        name, value, attached = _option(word, spec)
        if name is None:
            if word.startswith("-") and word != "-":
                if word.startswith("--") and _OPTION_WORD.match(word):
                    options.append(word)  # an unknown --option: the parser names it
                    i += 1
                    continue
                moved = True
            positional.append(word)
            i += 1
            continue
        opt = spec[name]
        canonical = aliases.get(name, name)
        if not opt.repeatable:
            if canonical in seen:
                raise BadInput(f"{canonical} is given twice; give it once", canonical)
            seen.add(canonical)
        if not opt.takes_value:
            options.append(word)
            i += 1
            continue
        if not attached:
            if i + 1 >= len(rest):
                options.append(word)  # the parser says the value is missing
                i += 1
                continue
            value = rest[i + 1]
            i += 2
        else:
            i += 1
        if not value.strip():
            raise BadInput(f"the value of {canonical} is empty", canonical)
        options.extend([name, value])
    lead: list[str] = []
    found = [w for w in positional if w in flags]
    if found and len(positional) - len(found) >= required:
        lead = list(dict.fromkeys(flags[w] for w in found))
        positional = [w for w in positional if w not in flags]
    if not moved:
        return list(args)
    return lead + head + options + ["--"] + positional


def _option(word: str, spec: Mapping[str, Opt]) -> tuple[str | None, str, bool]:
    """``(name, attached value, whether a value was attached)`` when ``word`` is a known
    option: ``--lr``, ``--lr=0.1``, ``-o``, ``-ojson``."""
    if word in spec:
        return word, "", False
    if word.startswith("--") and "=" in word:
        name, _, value = word.partition("=")
        if name in spec and spec[name].takes_value:
            return name, value, True
        return None, "", False
    if len(word) > 2 and word[0] == "-" and word[1] != "-":
        name = word[:2]
        # -ojson is -o json; -o*x or -x**2 is an expression.
        if name in spec and spec[name].takes_value and re.fullmatch(r"[A-Za-z0-9_,.-]+", word[2:]):
            return name, word[2:], True
    return None, "", False
