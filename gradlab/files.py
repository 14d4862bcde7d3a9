"""Atomic file writing: a file is either the complete new one or untouched.

>>> import tempfile, os
>>> d = tempfile.mkdtemp()
>>> atomic_write(os.path.join(d, "a.txt"), lambda fh: fh.write(b"hi"))
>>> open(os.path.join(d, "a.txt")).read()
'hi'
"""

from __future__ import annotations

import os
import tempfile
from typing import BinaryIO, Callable

from gradlab.errors import BadInput, WriteFailed


def check_writable(path: str, endings: tuple[str, ...], option: str) -> str:
    """Refuse, before any work, a path gradlab cannot write (exit 2 for a bad ending,
    exit 1 for a missing or unwritable directory)."""
    if not path or path.endswith(os.sep) or os.path.isdir(path):
        raise BadInput(f"{path!r} is not a file name", option)
    if not path.lower().endswith(endings):
        raise BadInput(f"the file must end in {' or '.join(endings)}", option)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise WriteFailed(f"cannot write {path}: directory {folder} does not exist", option)
    if not os.access(folder, os.W_OK):
        raise WriteFailed(f"cannot write {path}: directory {folder} is not writable", option)
    return path


def atomic_write(path: str, write: Callable[[BinaryIO], object]) -> None:
    """Write through ``write(fh)`` into a temporary file beside ``path``, then rename it
    over ``path``; on any failure the temporary file is removed and ``path`` is untouched."""
    folder = os.path.dirname(os.path.abspath(path))
    try:
        fd, tmp = tempfile.mkstemp(prefix=".gradlab-", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise WriteFailed(f"cannot write {path}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        mode = os.stat(path).st_mode & 0o777 if os.path.exists(path) else 0o666 & ~_umask()
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise WriteFailed(f"cannot write {path}: {exc.strerror or exc}") from None
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
