"""The sweeps that are not a line of learning rates: a stability map over (β, lr) and a
mini-batch sweep over seeds. One function checks the options both take and makes the
one the options ask for; the CLI (``sweep --momentum C:D``, ``sweep --batch-size`` /
``--seeds``) and the Python API (``gradlab.sweep``) both call it.

>>> from gradlab.surfaces import builtin
>>> m = special_sweep(builtin()["elongated"], ["momentum"], (0.01, 0.05, 3), (0.0, 0.9, 2), None, None, 50,
...                   False, None, 200, 1e-6, {}, None, None, None, None)
>>> type(m).__name__
'StabilityMap'
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from gradlab.errors import BadInput


def special_sweep(surface, optimizers: Sequence[str], lr_range, beta_range, lr_min, lr_max, num: int,
                  linear: bool, x0, steps, tol: float, hyper: dict, batch_size, seeds, epochs, schedule,
                  progress: Callable[[int, int], None] | None = None) -> Any:
    """A stability map (``beta_range`` given) or a mini-batch sweep over seeds (else),
    with the options' checks; ``seeds`` is the CLI's text ("0,1,2" or "0:9") or a
    sequence of ints."""
    if beta_range is not None:
        from gradlab.descent.stability import stability_map

        if batch_size is not None or seeds is not None or epochs is not None or schedule is not None:
            raise BadInput("a stability map runs full-batch descents; leave out --batch-size, --seeds, --epochs "
                           "and --schedule", "--momentum")
        if len(optimizers) != 1:
            raise BadInput("a stability map is drawn for one optimizer: -o momentum or -o nesterov", "--optimizer")
        if lr_range is None:
            if lr_min is None or lr_max is None:
                raise BadInput("a stability map needs the rates: --lr A:B (or A:B:N)", "--lr")
            lr_range = (lr_min, lr_max, None)
        return stability_map(surface, optimizers[0], lr_range[:2], beta_range[:2], lr_range[2] or min(num, 60),
                             beta_range[2] or 40, steps, tol, x0, log=False, progress=progress)

    from gradlab.descent.training import Settings, parse_seeds, run_seed_sweep

    if len(optimizers) != 1:
        raise BadInput("a mini-batch sweep runs one optimizer at a time", "--optimizer")
    if seeds is not None and not isinstance(seeds, (str, int)):
        seeds = ",".join(str(k) for k in seeds)
    seed_list = parse_seeds(str(seeds)) if seeds is not None else list(range(5))
    if lr_range is not None:
        lo, hi, n = lr_range[0], lr_range[1], lr_range[2] or 20
    else:
        lo = lr_min if lr_min is not None else 1e-3
        hi = lr_max if lr_max is not None else 1.0
        n = num if num != 50 else 20  # each rate runs once per seed, step by step: a smaller default grid
    if not (0 < lo < hi):
        raise BadInput(f"the rates must run from a smaller to a larger positive number, got {lo:g} and {hi:g}",
                       "--lr")
    if not 2 <= n <= 1000:
        raise BadInput(f"the number of rates must be from 2 to 1000, got {n}", "--num")
    lrs = np.linspace(lo, hi, n) if linear else np.geomspace(lo, hi, n)
    settings = Settings(batch_size=batch_size, epochs=epochs, schedule=schedule)
    return run_seed_sweep(surface, optimizers[0], [float(v) for v in lrs], seed_list, settings, steps, tol, hyper,
                          x0, progress=progress)
