"""gradlab: a command-line gradient lab, and the same library from Python.

Exact derivatives with SymPy, optimizers on NumPy arrays, and plots with matplotlib.
``import gradlab`` is cheap (nothing heavy is imported until a call needs it); the
calls are those of :mod:`gradlab.api`, with the CLI's options as keywords:

>>> import gradlab
>>> gradlab.grad("x**2*y + 3*y", at=(2, 5)).to_dict()["gradient"]["value"]
[20.0, 7.0]
>>> gradlab.descend("elongated", lr=[0.01, 0.03, 0.06, 0.08]).runs[0].status
'converged'

Results are the CLI's own objects: ``to_dict()`` is the CLI's JSON, notebooks show
LaTeX or a table, plots are matplotlib Figures.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

# name → module that defines it; looked up on first use (PEP 562), so that
# ``import gradlab`` costs a few milliseconds, not SymPy's import.
_LAZY = {name: "gradlab.api" for name in (
    "grad", "jacobian", "hessian", "directional", "evaluate", "check", "explain", "critical", "backprop", "taylor",
    "descend", "sweep", "catalogue", "surface", "plot", "plot_descent", "plot_loss", "plot_3d", "plot_sweep",
    "plot_check", "plot_backprop", "plot_taylor",
)}
_LAZY.update({"GradlabError": "gradlab.errors", "BadInput": "gradlab.errors", "Undefined": "gradlab.errors"})

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'gradlab' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # next time, a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
