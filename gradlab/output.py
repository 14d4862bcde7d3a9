"""Plain (tab-separated) and JSON renderers.

Floats are printed with ``repr`` so that they read back to the same float64.

>>> plain_line(("x", "2*x*y", 20.0))
'x\\t2*x*y\\t20.0'
"""

from __future__ import annotations

import json
import math
from typing import Any, Iterable

from gradlab.views import Cell, View


def cell_text(cell: Cell) -> str:
    """One cell as plain text: floats round-trip, ``None`` is empty."""
    if cell is None:
        return ""
    if isinstance(cell, float):
        return repr(float(cell))  # float(): NumPy 2 scalars repr as np.float64(...)
    if isinstance(cell, tuple):
        return ",".join(cell_text(c) for c in cell)
    return " ".join(str(cell).split())  # a tab or newline inside a cell would break TSV


def plain_line(cells: Iterable[Cell]) -> str:
    return "\t".join(cell_text(c) for c in cells)


def render_plain(views: Iterable[View]) -> str:
    """Every view's rows, one record per line, no header."""
    lines = [plain_line(r) for v in views for r in v.plain_rows()]
    return "\n".join(lines) + ("\n" if lines else "")


def _json_safe(value: Any) -> Any:
    # JSON has no NaN or infinity: a non-finite float is written as null.
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def render_json(record: dict[str, Any], ascii: bool = False) -> str:
    """One JSON document, strict (no NaN), floats round-trip; ``ascii`` escapes non-ASCII
    characters (``\\u2207``) for a stream that cannot encode them."""
    return json.dumps(_json_safe(record), indent=2, allow_nan=False, ensure_ascii=ascii) + "\n"


def trajectory_csv(runs, variables) -> bytes:
    """Every iterate of every run: ``run,optimizer,lr,step,<variables…>,f``."""
    import io

    buf = io.StringIO()
    buf.write(",".join(["run", "optimizer", "lr", "step", *variables, "f"]) + "\n")
    for i, r in enumerate(runs):
        traj = r.trajectory
        for k, (row, f) in enumerate(zip(traj, r.trajectory_f)):
            buf.write(",".join([str(i), r.optimizer, repr(r.lr), str(k), *(repr(float(v)) for v in row), repr(float(f))]) + "\n")
    return buf.getvalue().encode()


def trajectory_json(runs, variables) -> bytes:
    """Every iterate of every run as JSON: ``{"variables", "runs": [{..., "points", "f"}]}``."""
    doc = {
        "variables": list(variables),
        "runs": [
            {"optimizer": r.optimizer, "lr": r.lr, "start": list(r.start), "status": r.status,
             "points": r.trajectory.tolist(), "f": [float(v) for v in r.trajectory_f]}
            for r in runs
        ],
    }
    return json.dumps(_json_safe(doc), allow_nan=False).encode()
