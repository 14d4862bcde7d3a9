"""``gradlab surfaces``: the catalogue as a list, or one surface in detail.

>>> from gradlab.surfaces import builtin
>>> detail = surface_detail(builtin()["booth"])
>>> detail.minima[0][2]
[2.0, 18.0]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from gradlab.calculus import derivatives as d
from gradlab.calculus.parsing import to_text
from gradlab.calculus.pointwise import point_fields
from gradlab.surfaces import Surface
from gradlab.views import View
from gradlab.present import Presentable  # to_dict, LaTeX and rich for notebooks


def _point(p, key: str = "point") -> dict[str, Any]:
    return point_fields(p, key)


def _short(p) -> str:
    return "(" + ", ".join(str(v) if len(str(v)) <= 12 else f"{float(v):.6g}" for v in p) + ")"


def _summary(s: Surface) -> dict[str, Any]:
    return {
        "name": s.name, "description": s.description, "dims": len(s.parsed.variables),
        "variable_dims": s.dims is not None, "variables": [v.name for v in s.parsed.variables],
        "expression": s.text, **_point(s.start, "start"), "window": list(s.window),
        "minima": [{**_point(m.point), "f": {"exact": str(m.f), "value": float(m.f)}, "kink": m.kink}
                   for m in s.minima],
        "lr": s.lr, "steps": s.steps,
    }


def _minimum(m) -> str:
    return f"f{_short(m.point)} = {m.f if len(str(m.f)) < 12 else format(float(m.f), '.6g')}"


def _minima(s: Surface, every: bool = False) -> str:
    """The first known minimum and how many more (a table: ``gradlab surfaces NAME``
    lists them all), or ``every`` one (plain output)."""
    if not s.minima:
        return "none"
    if every:
        return "; ".join(_minimum(m) for m in s.minima)
    return _minimum(s.minima[0]) + (f" and {len(s.minima) - 1} more" if len(s.minima) > 1 else "")


@dataclass(frozen=True)
class SurfaceList(Presentable):
    """Every surface of a catalogue, in file order."""

    surfaces: tuple[Surface, ...]

    def to_record(self) -> dict[str, Any]:
        return {"command": "surfaces", "surfaces": [_summary(s) for s in self.surfaces]}

    def view(self) -> View:
        rows = [(s.name, f"{len(s.parsed.variables)}{' (--dims)' if s.dims else ''}", s.text) for s in self.surfaces]
        return View("surfaces", ("name", "dims", "expression", "minima"),
                    tuple((*r, _minima(s)) for r, s in zip(rows, self.surfaces)),
                    plain_cells=tuple((*r, _minima(s, every=True)) for r, s in zip(rows, self.surfaces)))


def surface_list(cat: Mapping[str, Surface]) -> SurfaceList:
    return SurfaceList(tuple(cat[name] for name in cat))


@dataclass(frozen=True)
class SurfaceDetail(Presentable):
    """One surface with its gradient, Hessian and, at each known minimum, the Hessian's
    eigenvalues (``minima`` rows: point, f, eigenvalues, classification)."""

    surface: Surface
    gradient: tuple
    hessian: tuple
    minima: tuple

    def to_record(self) -> dict[str, Any]:
        rec = {"command": "surfaces", **_summary(self.surface)}
        rec["gradient"] = {"symbolic": [to_text(g) for g in self.gradient]}
        rec["hessian"] = {"symbolic": [[to_text(e) for e in row] for row in self.hessian]}
        for m, (_, _, eig, cls) in zip(rec["minima"], self.minima):
            m["eigenvalues"], m["classification"] = eig, cls
        return rec

    def view(self) -> View:
        s = self.surface
        names = [v.name for v in s.parsed.variables]
        rows: list[tuple] = [("expression", s.text), ("variables", ", ".join(names)),
                             ("start", _short(s.start)), ("window", ", ".join(f"{w:g}" for w in s.window))]
        rows += [(f"∂f/∂{n}", to_text(g)) for n, g in zip(names, self.gradient)]
        rows += [(f"Hessian row {n}", ",  ".join(to_text(e) for e in row)) for n, row in zip(names, self.hessian)]
        for point, f, eig, cls in self.minima:
            eigs = ", ".join(f"{v:.6g}" for v in eig) if eig else "—"
            rows.append((f"minimum {_short(point)}", f"f = {f}; eigenvalues {eigs}; {cls}"))
        return View(f"{s.name}: {s.description}", ("", ""), tuple(rows))


def surface_detail(s: Surface) -> SurfaceDetail:
    """Derivatives of ``s`` and the second-derivative test at each known minimum."""
    import numpy as np

    from gradlab.calculus.numeric import Compiled, eigenvalues

    grad = d.gradient(s.parsed.expr, s.parsed.variables)
    hess = d.hessian(s.parsed.expr, s.parsed.variables)
    n = len(s.parsed.variables)
    H = Compiled([e for row in hess for e in row], s.parsed.variables)
    minima = []
    for m in s.minima:
        if m.kink:
            minima.append((m.point, m.f, [], "minimum (f is not differentiable here)"))
            continue
        values = H(np.array([float(v) for v in m.point], dtype=float)).reshape(n, n)
        eig = eigenvalues(values) if np.all(np.isfinite(values)) else []
        minima.append((m.point, m.f, eig, d.classify(eig) if eig else "undefined"))
    return SurfaceDetail(s, grad, hess, tuple(minima))
