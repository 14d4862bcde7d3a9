"""Command-line glue for the training-dynamics sweeps and the ``taylor`` command.

``cli.py`` keeps the options; this module turns them into one library call and names the
figure that draws its result. Nothing here prints: the CLI renders.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from gradlab.errors import BadInput


def special_sweep(surface, optimizers: Sequence[str], lr_range, beta_range, lr_min, lr_max, num: int,
                  linear: bool, x0, steps, tol: float, hyper: dict, batch_size, seeds, epochs, schedule,
                  plotting: bool, progress_factory: Callable) -> tuple[Any, Callable]:
    """A stability map (``--momentum C:D``) or a mini-batch sweep over seeds
    (``--batch-size``/``--seeds``): the result and the function that draws it."""
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
        update, close = progress_factory()
        try:
            result = stability_map(surface, optimizers[0], lr_range[:2], beta_range[:2],
                                   lr_range[2] or min(num, 60), beta_range[2] or 40, steps, tol, x0, log=False,
                                   progress=update)
        finally:
            close()
        from gradlab.render.training_plots import stability_map_figure

        return result, stability_map_figure

    from gradlab.descent.training import Settings, parse_seeds, run_seed_sweep

    if len(optimizers) != 1:
        raise BadInput("a mini-batch sweep runs one optimizer at a time", "--optimizer")
    seed_list = parse_seeds(seeds) if seeds is not None else list(range(5))
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
    update, close = progress_factory()
    try:
        result = run_seed_sweep(surface, optimizers[0], [float(v) for v in lrs], seed_list, settings, steps, tol,
                                hyper, x0, progress=update)
    finally:
        close()
    from gradlab.render.training_plots import seed_sweep_figure

    return result, seed_sweep_figure
