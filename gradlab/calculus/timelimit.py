"""Run an expensive SymPy call (solve, simplify) under a time limit.

The call runs in a forked child process, so a call that never returns is simply killed:
SymPy spends its time in long C-level big-integer work and loops that no signal handler
can interrupt reliably. Where ``fork`` is not available the call runs inline, unlimited.

>>> within(2.0, pow, 2, 10)
(True, 1024)
"""

from __future__ import annotations

import multiprocessing
import pickle
import time
from typing import Any, Callable


def _die_with_parent() -> None:
    """Ask Linux to kill this worker when its parent dies (SIGTERM to gradlab must not
    leave a solver holding the CPU and the output pipe)."""
    try:
        import ctypes
        import signal

        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass  # not Linux: the parent's finally-block still kills the worker


def _child(conn, fn, args, kwargs) -> None:
    import signal

    # The parent's SIGTERM handler (raise, unwind, clean up) is not the child's job: a
    # terminated worker just ends, and the parent's ``finally`` kills it anyway.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _die_with_parent()
    try:
        result = (True, fn(*args, **kwargs))
    except Exception as exc:  # the parent decides what a failure means
        result = (False, f"{type(exc).__name__}: {exc}")
    try:
        conn.send_bytes(pickle.dumps(result))
    except Exception as exc:  # an unpicklable answer counts as no answer
        conn.send_bytes(pickle.dumps((False, f"unpicklable result: {exc}")))
    finally:
        conn.close()


def within(seconds: float, fn: Callable, *args: Any, tick: Callable[[], None] | None = None,
           **kwargs: Any) -> tuple[bool, Any]:
    """``(True, fn(*args))`` if it finished within ``seconds``, else ``(False, reason)``.

    ``tick()``, if given, is called every quarter second while waiting (a progress bar).
    """
    try:
        ctx = multiprocessing.get_context("fork")
    except ValueError:
        try:
            return True, fn(*args, **kwargs)
        except Exception as exc:
            return False, f"{type(exc).__name__}: {exc}"
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(child, fn, args, kwargs), daemon=True)
    proc.start()
    child.close()
    try:
        deadline = time.monotonic() + seconds
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return False, f"timed out after {seconds:g} s"
            if parent.poll(min(left, 0.25) if tick else left):
                try:
                    return pickle.loads(parent.recv_bytes())
                except (EOFError, OSError):
                    return False, "the worker died"
            if tick:
                tick()
    finally:
        if proc.is_alive():
            proc.kill()
        proc.join(1)
        parent.close()
