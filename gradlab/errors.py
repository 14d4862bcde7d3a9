"""gradlab's errors: each one is a single line for the user and an exit code.

The CLI turns any :class:`GradlabError` into ``gradlab: error: <what> (<where>)`` on
stderr and exits with :attr:`GradlabError.exit_code`; nothing else is ever shown to a
user unless ``--debug`` is given.

>>> str(BadInput("unknown function 'foo'", where="expression"))
"unknown function 'foo' (expression)"
"""

from __future__ import annotations


class GradlabError(Exception):
    """Base of every error gradlab reports to a user.

    ``where`` names the input that caused it (an option, a file:line:column), so the
    user knows what to fix.
    """

    exit_code: int = 1

    def __init__(self, what: str, where: str | None = None) -> None:
        # One line, always: a newline in user text must not split the error message.
        self.what = " ".join(str(what).split())
        self.where = " ".join(str(where).split()) if where else None
        super().__init__(self.line())

    def line(self) -> str:
        return f"{self.what} ({self.where})" if self.where else self.what


class BadInput(GradlabError):
    """The user's input is wrong: syntax, names, dimensions, flags, files (exit 2)."""

    exit_code = 2


class LimitExceeded(BadInput):
    """The input is too large or too deep to handle safely (exit 2)."""


class Undefined(GradlabError):
    """The mathematics is undefined or failed: a pole, log(0), no critical point (exit 1)."""

    exit_code = 1


class WriteFailed(GradlabError):
    """An output file could not be written (exit 1)."""

    exit_code = 1
