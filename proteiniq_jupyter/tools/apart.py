"""Native work in a forked process of its own: a crash of the library (a
segmentation fault in C++ code) ends that process, and the caller gets an
exception that says what crashed and how, instead of losing its own process (a
notebook's kernel, ``piq run --wait``, a worker's job process mid-report).

A library that holds the interpreter's lock for the whole of a long call (Vina's
docking) also stops every other thread of the caller; apart, the waiting thread
sleeps in a read and lets them run (a job's progress among them)."""

from __future__ import annotations

import os
import pickle
import signal
import threading
from collections.abc import Callable
from typing import Any, TypeVar, cast

T = TypeVar("T")


class CrashedApart(RuntimeError):
    """The process doing the work ended without handing back a result."""


def run_apart(what: str, work: Callable[..., T], *args: Any) -> T:
    """``work(*args)`` in a forked process where the system has fork; its result,
    or the exception it raised, comes back through a pipe. ``what`` names the work
    in the message of a crash ("preparing the receptor").

    The child dies with an interrupt (Ctrl-C) as a whole process group would,
    without Python's handler, and a cancelled job's process group takes it along."""
    if not hasattr(os, "fork"):
        return work(*args)
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: do the work, hand back its outcome, and leave at once
        code = 0
        try:
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            os.close(read_fd)
            payload = outcome(work, args)
            with os.fdopen(write_fd, "wb") as out:
                out.write(payload)
        except BaseException:
            code = 1
        finally:
            os._exit(code)
    os.close(write_fd)
    try:
        with os.fdopen(read_fd, "rb") as pipe:
            payload = pipe.read()
    except BaseException:
        os.waitpid(pid, 0)
        raise
    if not payload:
        _, status = os.waitpid(pid, 0)
        raise CrashedApart(f"{what} crashed: {_how_it_ended(status)}")
    # The child has handed its outcome back and is leaving: the kernel's freeing of
    # its memory (Vina's grid maps, hundreds of megabytes: 20 to 90 ms) goes on
    # while this process carries on, and a thread reaps the child when it is gone.
    threading.Thread(target=os.waitpid, args=(pid, 0), name="piq-reap", daemon=True).start()
    ok, value = pickle.loads(payload)
    if not ok:
        raise value
    return cast(T, value)


def outcome(work: Callable[..., Any], args: tuple[Any, ...]) -> bytes:
    """``work(*args)`` pickled for the caller: ``(True, its result)``, or ``(False,
    the exception it raised)`` (in words, if the exception does not pickle)."""
    try:
        return pickle.dumps((True, work(*args)))
    except BaseException as exc:
        try:
            return pickle.dumps((False, exc))
        except Exception:
            return pickle.dumps((False, RuntimeError(f"{type(exc).__name__}: {exc}")))


def _how_it_ended(status: int) -> str:
    """How the process ended: killed by which signal, or its exit status."""
    code = os.waitstatus_to_exitcode(status)
    if code >= 0:
        return f"its process exited with status {code} before handing back a result"
    try:
        number = signal.Signals(-code)
    except ValueError:
        return f"its process was killed by signal {-code}"
    description = signal.strsignal(number)
    return f"its process was killed by {number.name}" + (f" ({description})" if description else "")
