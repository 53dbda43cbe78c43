"""Native work in a warm host: a process that outlives the job that started it and
does the same work for the jobs after it, one at a time, in memory it has already
touched.

A job's process is new, and so is every page its library allocates: Vina's grid
maps grow the heap to about 370 MB, which a new process first touches in 92,000
page faults (0.2 s of the kernel's time). A host keeps the heap its work freed
(up to ``KEEP_FREED_BYTES``, where glibc would hand it back at once), and docks in
2.7 s what takes 2.9 s in a new process.

What the host must not change is what ``apart`` gives: a crash of the library fails
the one job whose work crashed; and a job that is cancelled or loses its lease stops
its work at once, although the library holds the interpreter's lock for the whole
call. So:

* **Where it lives.** One host per worker's fork server (its ``HostScope``), in a
  session of its own, so the job's process group, which cancelling kills, does not
  take it along. It leaves when the fork server is gone, or after ``IDLE_S``
  seconds without work, handing its memory back.
* **Who may use it.** It listens on an abstract Unix socket named for its scope, and
  each side checks that the other runs as the same user. While it works it does not
  listen, and a job that finds it busy does its work apart, as without a host.
* **A job that goes away.** A monitor, forked when the host starts, watches the
  process the host is working for; when that process ends before its answer, the
  monitor kills the host, and the next job starts a new one.
* **A crash** of the host is a crash of the job's work ("docking crashed: ...").
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import select
import signal
import socket
import struct
import sys
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any, NoReturn, TypeVar, cast

from .apart import CrashedApart, outcome, run_apart

T = TypeVar("T")

#: Set in a worker's fork server: what makes its hosts' names its own.
HOST_TOKEN_ENV = "PIQ_HOST_TOKEN"
#: How long a host waits for work before it leaves and frees its memory, unless the
#: worker's ``PIQ_WARM_HOST_IDLE_S`` says otherwise (0: no warm hosts).
IDLE_S = 300.0
IDLE_ENV = "PIQ_WARM_HOST_IDLE_S"
#: The name a host goes by (``ps``, ``top``, ``/proc/PID/comm``), and its monitor's.
HOST_PROCESS_NAME = "piq-warm-host"
MONITOR_PROCESS_NAME = "piq-host-watch"
#: Free memory a host keeps for the work after (glibc's ``M_TRIM_THRESHOLD``): by
#: default glibc hands the top of the heap back as soon as 128 kB of it are free, and
#: even a process that has docked before then faults in Vina's maps anew (92,000
#: faults a docking, against 10 with the memory kept).
KEEP_FREED_BYTES = 1 << 30
#: Allocations up to this size come from the heap, and stay there when freed (the
#: largest ``M_MMAP_THRESHOLD`` glibc takes on 64-bit systems).
HEAP_ALLOCATIONS_UP_TO = 32 << 20
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_PR_SET_NAME = 15
_READY = b"r"
_CREDENTIALS = struct.Struct("3i")  # struct ucred: pid, uid, gid


@dataclass(frozen=True)
class HostScope:
    """Where a host may live: ``token`` names its sockets, and it leaves when the
    process ``owner`` (the worker's fork server) is gone."""

    token: str
    owner: int
    idle_s: float = IDLE_S

    @classmethod
    def of_job_process(cls) -> HostScope | None:
        """A job process's scope: its fork server's; None outside a job process of
        a fork server, where the system cannot watch processes (no pidfd), or
        where the worker turned warm hosts off."""
        token = os.environ.get(HOST_TOKEN_ENV)
        try:
            idle_s = idle_seconds()
        except ValueError:  # the requirements check of a tool that uses hosts says so
            return None
        if not token or not _supported() or idle_s == 0:
            return None
        return cls(token, os.getppid(), idle_s)

    def address(self, role: str) -> str:
        return f"\0proteiniq-host-{os.getuid()}-{self.token}-{role}"


def idle_seconds() -> float:
    """``PIQ_WARM_HOST_IDLE_S`` as seconds, else ``IDLE_S``."""
    text = os.environ.get(IDLE_ENV, "").strip()
    if not text:
        return IDLE_S
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds < float("inf"):
        raise ValueError(
            f"{IDLE_ENV} must be the seconds a warm host waits for work (0 turns warm "
            f"hosts off), not {text!r}"
        )
    return seconds


def _supported() -> bool:
    return sys.platform == "linux" and hasattr(os, "pidfd_open")


def run_warm(scope: HostScope | None, what: str, work: Callable[..., T], *args: Any) -> T:
    """``work(*args)`` in the scope's host, started here if there is none; apart
    (``run_apart``) when there is no scope or the host is busy. ``work`` and
    ``args`` go to the host pickled (``work`` by name)."""
    if scope is None or not _supported():
        return run_apart(what, work, *args)
    conn = _connect(scope)
    if conn is None:
        claim = _claim(scope)
        if claim is None:  # a host is there, and busy
            return run_apart(what, work, *args)
        conn = _start_host(scope, claim)
    with conn:
        try:
            conn.send((work, args))
            ok, value = conn.recv()
        except (EOFError, OSError):
            raise CrashedApart(
                f"{what} crashed: its host process ended without handing back a result"
            ) from None
    if not ok:
        raise value
    return cast(T, value)


def _peer(sock: socket.socket) -> tuple[int, int, int]:
    """The process at the other end of ``sock``: pid, uid, gid."""
    raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _CREDENTIALS.size)
    return cast(tuple[int, int, int], _CREDENTIALS.unpack(raw))


def _connect(scope: HostScope) -> Connection | None:
    """A connection to the scope's idle host, once it has said it is ready; None
    if no host listens, or it took other work first."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(scope.address("idle"))
        if _peer(sock)[1] != os.getuid() or sock.recv(1) != _READY:
            sock.close()
            return None
    except OSError:
        sock.close()
        return None
    return Connection(sock.detach())


def _claim(scope: HostScope) -> socket.socket | None:
    """The scope's ``alive`` name, bound, if no host holds it; the host started
    from here keeps it for its life."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(scope.address("alive"))
    except OSError:
        sock.close()
        return None
    return sock


def _start_host(scope: HostScope, claim: socket.socket) -> Connection:
    """Start the host (detached: a new session, not this process's child) and
    return a connection on which it takes this process's work first."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    pid = os.fork()
    if pid == 0:
        try:
            ours.close()
            os.setsid()
            if os.fork() == 0:
                _host(scope, claim, theirs)
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    claim.close()
    theirs.close()
    with contextlib.suppress(OSError):  # if it is gone, the work fails as a crash
        ours.recv(1)  # ready
    return Connection(ours.detach())


def _host(scope: HostScope, claim: socket.socket, first: socket.socket) -> NoReturn:
    """The host's body: its first work on ``first``, then work from the idle name
    until the owner is gone or no work comes for ``idle_s``."""
    code = 0
    try:
        keep = {claim.fileno(), first.fileno()}
        _close_others(keep)
        os.chdir("/")
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        _name_process(HOST_PROCESS_NAME)
        _keep_freed_memory()
        monitor = _start_monitor(keep)
        listener = _serve(first, monitor, scope)
        owner = os.pidfd_open(scope.owner)  # gone already: the host leaves, work done
        while True:
            ready, _, _ = select.select([listener.fileno(), owner], [], [], scope.idle_s)
            if listener.fileno() not in ready:
                break  # the owner is gone, or there was no work
            sock, _ = listener.accept()
            listener.close()  # busy: whoever connects now does its work apart
            listener = _serve(sock, monitor, scope)
    except BaseException:
        code = 1
    os._exit(code)


def _serve(sock: socket.socket, monitor: int, scope: HostScope) -> socket.socket:
    """One job's work, while the monitor watches the job's process. Returns the
    idle name's listener, bound before the answer goes back, so that the job after
    finds the host ready."""
    listener: socket.socket | None = None
    with contextlib.closing(sock):
        client, uid, _ = _peer(sock)
        if uid != os.getuid():
            return _listen(scope)
        os.write(monitor, struct.pack("i", client))
        watched = True
        try:
            sock.sendall(_READY)
            with Connection(os.dup(sock.fileno())) as conn:
                work, args = conn.recv()
                payload = outcome(work, args)
                # done before the job can read its answer and end
                os.write(monitor, struct.pack("i", 0))
                watched = False
                listener = _listen(scope)
                conn.send_bytes(payload)
        except (EOFError, OSError):
            pass  # the job went away
        finally:
            if watched:
                os.write(monitor, struct.pack("i", 0))
    return listener or _listen(scope)


def _listen(scope: HostScope) -> socket.socket:
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(scope.address("idle"))
    listener.listen(8)
    return listener


def _start_monitor(inherited: set[int]) -> int:
    """Fork the monitor; returns the pipe on which the host names the process it
    works for (0: the work is done)."""
    read_fd, write_fd = os.pipe()
    host = os.getpid()
    if os.fork() == 0:
        code = 0
        try:
            for fd in inherited | {write_fd}:
                os.close(fd)
            _name_process(MONITOR_PROCESS_NAME)
            _monitor(read_fd, host)
        except BaseException:
            code = 1
        os._exit(code)
    os.close(read_fd)
    return write_fd


def _monitor(pipe: int, host: int) -> None:
    """Kill the host when the process it works for ends before the work is done;
    leave when the host does."""
    size = struct.calcsize("i")
    while True:
        message = os.read(pipe, size)
        if len(message) < size:
            return  # the host is gone
        (client,) = struct.unpack("i", message)
        if client == 0:
            continue
        try:
            watched = os.pidfd_open(client)
        except OSError:  # already gone
            os.kill(host, signal.SIGKILL)
            return
        try:
            ready, _, _ = select.select([pipe, watched], [], [])
            if pipe not in ready:  # the job ended, and its work is not done
                os.kill(host, signal.SIGKILL)
                return
            message = os.read(pipe, size)
            if len(message) < size:
                return
        finally:
            os.close(watched)


def _libc() -> ctypes.CDLL | None:
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None


def _name_process(name: str) -> None:
    libc = _libc()
    if libc is not None and hasattr(libc, "prctl"):
        libc.prctl(_PR_SET_NAME, name.encode()[:15], 0, 0, 0)


def _keep_freed_memory() -> None:
    """Keep what the work frees in the heap, for the next work (glibc; elsewhere
    the allocator's own habits stand)."""
    libc = _libc()
    if libc is not None and hasattr(libc, "mallopt"):
        libc.mallopt(_M_TRIM_THRESHOLD, KEEP_FREED_BYTES)
        libc.mallopt(_M_MMAP_THRESHOLD, HEAP_ALLOCATIONS_UP_TO)


def _close_others(keep: set[int]) -> None:
    """Close every descriptor but ``keep`` (a job's pipes to its supervisor above
    all: its end must not wait on the host), with 0-2 on /dev/null."""
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)
    high = max(keep) + 1
    os.closerange(3, min(keep))
    for fd in range(min(keep) + 1, high):
        if fd not in keep:
            with contextlib.suppress(OSError):
                os.close(fd)
    os.closerange(high, _max_fd())


def _max_fd() -> int:
    try:
        return os.sysconf("SC_OPEN_MAX")
    except (ValueError, OSError):
        return 4096
