"""The gradlab command line: options in, one library call, one renderer out.

One module per command family, all registered on the one Typer app of
:mod:`gradlab.cli.app` (which alone touches stdout/stderr, the TTY test and exit codes):
:mod:`~gradlab.cli.calculus` (grad … explain), :mod:`~gradlab.cli.descent` (surfaces,
descend, sweep, plot, taylor), :mod:`~gradlab.cli.backprop`. Importing this package
registers every command.
"""

from gradlab.cli.app import app, main
from gradlab.cli import backprop, calculus, descent  # noqa: F401  (each registers its commands on app)

__all__ = ["app", "main"]
