"""From what a user typed (or passed from Python) to gradlab's values: a surface or an
expression, a point, the optimizers' hyper-parameters. The CLI and the Python API both
resolve their inputs here, so both read them the same way.

>>> function("x-y").text, surface("x-y") is None
('x-y', True)
>>> surface("surface:bowl").name
'bowl'
"""

from __future__ import annotations

from typing import Callable, Optional

from gradlab.errors import BadInput


def _ignore(message: str) -> None:
    pass


SURFACE_PREFIX = "surface:"


def surface(text: str, surfaces_file: Optional[str] = None, dims: Optional[int] = None,
            note: Callable[[str], None] = _ignore):
    """The surface ``text`` names, or None when it is an expression.

    A text is a surface only when the catalogue has that name (``x-y`` is an
    expression). ``surface:NAME`` forces the catalogue; parentheses, ``(rosenbrock)``,
    force an expression. From Python, a ``Surface`` (an entry of ``gradlab.catalogue()``)
    is itself.
    """
    from gradlab.calculus.parsing import looks_like_name

    if not isinstance(text, str):
        from gradlab.surfaces import Surface  # loads PyYAML: only for a Surface passed in

        if isinstance(text, Surface):
            return text.with_dims(dims) if dims is not None else text
        raise BadInput(f"a surface name, an expression or a Surface, not {type(text).__name__}", "target")
    t = text.strip()
    forced = t.startswith(SURFACE_PREFIX)
    if forced:
        t = t[len(SURFACE_PREFIX):].strip()
    elif not looks_like_name(t):
        if dims is not None:
            raise BadInput("--dims needs a surface that declares dims", "--dims")
        return None  # an expression: no need to read the catalogue
    from gradlab.surfaces import resolve

    found, notes = resolve(t, surfaces_file, dims, forced)
    for n in notes:
        note(n)
    return found


def target(text: str, start: Optional[str], variables: Optional[str], surfaces_file: Optional[str],
           dims: Optional[int], note: Callable[[str], None] = _ignore):
    """A surface by name, or an expression made a surface around ``start`` (required)."""
    from gradlab.descent.descend import inline_surface
    from gradlab.calculus.parsing import parse, parse_point

    found = surface(text, surfaces_file, dims, note)
    if found is not None:
        return found
    parsed = parse(text, variables)
    if not start:
        raise BadInput("an expression needs a start point: --start 1,2", "--start")
    return inline_surface(parsed, parse_point(start, len(parsed.variables),
                                              [v.name for v in parsed.variables], "--start"))


def hyper(momentum, beta1, beta2, eps) -> dict:
    """The optimizers' hyper-parameters, checked (None: each optimizer's default)."""
    import math

    for name, v in (("--momentum", momentum), ("--beta1", beta1), ("--beta2", beta2)):
        if v is not None and not (0 <= v < 1):
            raise BadInput(f"must be in [0, 1), got {v}", name)
    if eps is not None and not (math.isfinite(eps) and eps > 0):
        raise BadInput(f"must be a positive number, got {eps}", "--eps")
    return {"momentum": momentum, "beta1": beta1, "beta2": beta2, "eps": eps}


def function(text: str, variables: Optional[str] = None, vector: bool = False, surfaces_file: Optional[str] = None,
             dims: Optional[int] = None, note: Callable[[str], None] = _ignore):
    """A surface name or an expression, parsed."""
    from gradlab.calculus.parsing import Parsed, parse, variables_of

    found = surface(text, surfaces_file, dims, note)
    if found is not None:
        p = found.parsed
        if variables:
            return Parsed(p.text, p.exprs, variables_of(p.exprs, variables))
        return p
    return parse(text, variables, vector=vector)


def point(text: Optional[str], parsed, where: str = "--at", required: bool = False):
    from gradlab.calculus.parsing import parse_point

    what = "direction" if where == "--dir" else "point"
    if text is None:
        if required:
            raise BadInput(f"a {what} is required", where)
        return None
    return parse_point(text, len(parsed.variables), [v.name for v in parsed.variables], where, what)
