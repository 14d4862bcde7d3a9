"""The gradlab command line: options in, one library call, one renderer out.

One module per command family, all registered on the one Typer app of
:mod:`gradlab.cli.app` (which alone touches stdout/stderr, the TTY test and exit codes):
:mod:`~gradlab.cli.calculus` (grad … explain), :mod:`~gradlab.cli.descent` (surfaces,
descend, sweep, plot, taylor), :mod:`~gradlab.cli.backprop`. Importing this package
registers every command.
"""

from gradlab.cli.app import app, main
# Each family registers its commands on app; the import order is the order of --help.
from gradlab.cli import calculus  # noqa: F401,I001
from gradlab.cli import descent  # noqa: F401
from gradlab.cli import backprop  # noqa: F401

__all__ = ["app", "main"]
