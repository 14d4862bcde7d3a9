"""The process's streams and signals, made safe for any environment.

gradlab's output goes to pipes, files, closed descriptors, full disks and terminals that
cannot show ``∇``. This module holds what makes each of those one clear outcome:

* :func:`write_out`: every byte of data goes through here; a full disk or a closed
  stdout becomes :class:`~gradlab.errors.WriteFailed` (exit 1), a reader that went away
  (``| head``) stays a ``BrokenPipeError`` for the CLI to end quietly;
* :func:`prepare`: at start-up, a closed stdout or stderr is replaced by a stream that
  says so, an ASCII-only stream writes ``grad`` for ``∇`` instead of dying of
  ``UnicodeEncodeError``, SIGTERM becomes :class:`Terminated` (so ``finally`` blocks
  remove temporary files and stop worker processes), and an unusable matplotlib config
  directory is replaced by one gradlab removes itself;
* :func:`terminal_width`: ``COLUMNS=0`` or ``COLUMNS=abc`` is ignored, not obeyed.

>>> "‖∇f‖ ≈ 1".encode("ascii", "gradlab-ascii")
b'|grad f| ~ 1'
"""

from __future__ import annotations

import codecs
import errno
import os
import re
import signal
import sys
from typing import Any

from gradlab.errors import WriteFailed

# Characters gradlab prints in notes and tables, and what an ASCII terminal shows instead.
_ASCII = {
    "∇": "grad ", "‖": "|", "≈": "~", "∂": "d", "λ": "lambda", "β": "beta", "ε": "eps", "—": "-",
    "–": "-", "×": "x", "≠": "!=", "≤": "<=", "≥": ">=", "→": "->", "…": "...", "²": "^2", "³": "^3",
    "ⁿ": "^n", "₁": "1", "₂": "2", "ᵢ": "i", "ⱼ": "j", "·": "*", "√": "sqrt", "∞": "inf", "±": "+/-",
    "κ": "kappa", "η": "eta", "α": "alpha", "μ": "mu", "σ": "sigma", "θ": "theta", "Σ": "sum",
    "│": "|", "─": "-", "━": "-", "┃": "|", "╭": "+", "╮": "+", "╰": "+", "╯": "+", "•": "*",
    "∈": "in", "ℝ": "R",  # (superscripts: see _ascii_errors)
    "ᵀ": "^T", "δ": "delta", "ḡ": "gbar", "\u0304": "bar",  # backprop: (∂t/∂W)ᵀ·ḡ, δ = …
}


_SUPERSCRIPT = re.compile("[⁰¹²³⁴⁵⁶⁷⁸⁹ˣ]+")
_PLAIN_SCRIPT = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹ˣ", "0123456789x")


def _ascii_errors(exc: UnicodeError) -> tuple[str, int]:
    """The ASCII spelling of a run of characters the stream cannot encode; a run of
    superscripts is one exponent (ℝ¹³ˣ²: R^13x2)."""
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    bad = exc.object[exc.start:exc.end]
    parts = _SUPERSCRIPT.split(bad)
    scripts = ["^" + m.translate(_PLAIN_SCRIPT) for m in _SUPERSCRIPT.findall(bad)]
    text = "".join(_ASCII.get(c, "?") for c in parts[0])
    for script, part in zip(scripts, parts[1:]):
        text += script + "".join(_ASCII.get(c, "?") for c in part)
    return text, exc.end


codecs.register_error("gradlab-ascii", _ascii_errors)


class Terminated(BaseException):
    """SIGTERM arrived: unwind (``finally`` blocks run), then exit 143.

    A BaseException, like KeyboardInterrupt, so no ``except Exception`` swallows it.
    """


class _Closed:
    """Stands in for a standard stream whose descriptor was closed (``>&-``)."""

    encoding = "utf-8"
    errors = "strict"

    def __init__(self, name: str) -> None:
        self.name = name

    def write(self, text: str) -> int:
        raise OSError(errno.EBADF, f"standard {self.name} is closed")

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        raise OSError(errno.EBADF, f"standard {self.name} is closed")


class _Guarded:
    """stdout, with any failure but a closed pipe turned into :class:`WriteFailed`."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise WriteFailed(f"cannot write to standard output: {exc.strerror or exc}") from None

    def flush(self) -> None:
        try:
            self._stream.flush()
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise WriteFailed(f"cannot write to standard output: {exc.strerror or exc}") from None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


class _Quiet(_Closed):
    def write(self, text: str) -> int:
        return len(text)  # no stderr: errors have nowhere to go, and must not crash


_tempdirs: list[str] = []


def _on_sigterm(signum: int, frame: Any) -> None:
    raise Terminated()


def prepare() -> None:
    """Make the standard streams and signals safe; call once, before any output."""
    if sys.stdout is None:
        sys.stdout = _Closed("output")
    # Help, --version and rich write to sys.stdout themselves: guard the stream itself,
    # so a full disk or a closed descriptor is WriteFailed wherever the write comes from.
    sys.stdout = _Guarded(sys.stdout)
    if sys.stderr is None:
        sys.stderr = _Quiet("error")
    for stream in (sys.stdout, sys.stderr):
        enc = (getattr(stream, "encoding", None) or "").lower().replace("_", "-")
        if enc and not enc.startswith("utf") and hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="gradlab-ascii")
    try:
        signal.signal(signal.SIGTERM, _on_sigterm)
    except (ValueError, OSError):  # not the main thread (a test runner): leave it be
        pass
    _matplotlib_config()


def cleanup() -> None:
    """Remove what :func:`prepare` created (call at exit; ``os._exit`` skips atexit)."""
    if _tempdirs:
        import shutil

        while _tempdirs:
            shutil.rmtree(_tempdirs.pop(), ignore_errors=True)


def _matplotlib_config() -> None:
    # matplotlib falls back to a fresh temporary directory when its config directory is
    # unusable and removes it with atexit, which gradlab's fast exit (os._exit) skips: one
    # leaked directory per run. Give it one gradlab removes itself.
    configured = os.environ.get("MPLCONFIGDIR")
    if configured:
        folder = configured
    else:
        base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
        folder = os.path.join(base, "matplotlib")
    if _usable(folder):
        return
    import tempfile  # only now: it is not free, and almost every run skips it

    try:
        tmp = tempfile.mkdtemp(prefix="gradlab-mpl-")
    except OSError:
        return
    _tempdirs.append(tmp)
    os.environ["MPLCONFIGDIR"] = tmp


def _usable(folder: str) -> bool:
    # What matplotlib itself tries: create the directory, then ask for write access.
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError:
        return False
    return os.path.isdir(folder) and os.access(folder, os.W_OK | os.X_OK)


def ascii_only(stream: Any = None) -> bool:
    """Whether ``stream`` (stdout) cannot encode Unicode."""
    enc = (getattr(stream or sys.stdout, "encoding", None) or "utf-8").lower().replace("_", "-")
    return not enc.startswith("utf")


def write_out(text: str) -> None:
    """Write ``text`` to stdout and flush: the one door for data.

    A closed reader raises BrokenPipeError (the CLI ends quietly); any other failure
    (a full disk, a closed descriptor) is :class:`WriteFailed`.
    """
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except (BrokenPipeError, WriteFailed):
        raise
    except OSError as exc:
        raise WriteFailed(f"cannot write to standard output: {exc.strerror or exc}") from None


class Out:
    """A file-like view of stdout for renderers (rich) that write themselves."""

    def write(self, text: str) -> int:
        write_out(text)
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        try:
            return sys.stdout.isatty()
        except (AttributeError, ValueError):
            return False

    @property
    def encoding(self) -> str:
        return "ascii" if ascii_only() else "utf-8"

    def fileno(self) -> int:
        return sys.stdout.fileno()


def terminal_width() -> int:
    """Columns for a table: ``COLUMNS`` when it is a positive number, else the
    terminal's own width, else 80."""
    import shutil

    return shutil.get_terminal_size((80, 24)).columns or 80
