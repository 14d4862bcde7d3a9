"""Command-line glue for the training-dynamics sweeps and the ``taylor`` command.

``cli.py`` keeps the options; this module turns them into one library call and names the
figure that draws its result. Nothing here prints: the CLI renders.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence


def special_sweep(surface, optimizers: Sequence[str], lr_range, beta_range, lr_min, lr_max, num: int,
                  linear: bool, x0, steps, tol: float, hyper: dict, batch_size, seeds, epochs, schedule,
                  plotting: bool, progress_factory: Callable) -> tuple[Any, Callable]:
    """A stability map (``--momentum C:D``) or a mini-batch sweep over seeds
    (``--batch-size``/``--seeds``): the result and the function that draws it."""
    from gradlab.descent import special
    from gradlab.render import training_plots

    update, close = progress_factory()
    try:
        result = special.special_sweep(surface, optimizers, lr_range, beta_range, lr_min, lr_max, num, linear, x0,
                                       steps, tol, hyper, batch_size, seeds, epochs, schedule, progress=update)
    finally:
        close()
    figure = training_plots.stability_map_figure if beta_range is not None else training_plots.seed_sweep_figure
    return result, figure
