"""A job's own process: runs one tool and reports to its supervisor over a pipe.

Job processes are forked from a warm fork server (started once per worker, with
the engine's modules already imported), so a job starts in milliseconds rather
than paying for a fresh interpreter. Each one becomes the leader of a new process
group at once, so cancelling kills the tool and everything it started. Its output
goes to the job's log. If its supervisor's side goes away, the group kills itself:
no tool outlives the worker that ran it.

Nor does a tool outlive its lease. The first thing a job's process does is fork
a watchdog: a process of its own, so that neither its worker's state (stopped,
swapping, cut off from the database) nor a tool that holds the interpreter's lock
in a long native call can delay it. The watchdog reads what the supervisor sends:
``GO``, which it passes on to the job's process, and after each renewal of the
job's lease the time (``time.monotonic``) by which the next must arrive. When that
time passes, when the supervisor's end of the pipe closes, or when the job's
process ends, it kills the whole group, itself included.
"""

from __future__ import annotations

import os
import signal
import threading
import time
import traceback
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, NoReturn

from ..jobs.errors import ValidationError
from ..jobs.provenance import model_record
from ..store import codec
from ..tools.base import RunContext
from ..tools.registry import ToolRegistry
from ..tools.warm_host import HostScope
from .cpu import use_threads, without_huge_pages

#: What the supervisor sends once the job is PROCESSING; anything else means stop.
GO = "go"
#: How often the watchdog and the job's process look whether their parent is gone.
PARENT_POLL_S = 0.2


def lease_message(until: float) -> dict[str, Any]:
    """Tells the watchdog that the job's process may run until ``until``
    (``time.monotonic``) unless told again."""
    return {"type": "lease", "until": until}


def _watch_parent(parent: int) -> None:
    while True:
        time.sleep(PARENT_POLL_S)
        if os.getppid() != parent:
            os.killpg(0, signal.SIGKILL)


def _watchdog(conn: Connection, go: int, job_process: int) -> NoReturn:
    """The body of the watchdog process (see the module's description). Before
    the first lease message there is no deadline: the job's process waits for
    ``GO``, which the supervisor sends after the lease, so no tool runs unwatched
    under a supervisor that sends leases."""
    until: float | None = None
    try:
        while os.getppid() == job_process:
            now = time.monotonic()
            if until is not None and now >= until:
                break
            timeout = PARENT_POLL_S if until is None else min(PARENT_POLL_S, until - now)
            if not conn.poll(timeout):
                continue
            message = conn.recv()
            if isinstance(message, dict) and message.get("type") == "lease":
                until = float(message["until"])
            elif message == GO and go >= 0 and (until is None or time.monotonic() < until):
                os.write(go, GO.encode())
                os.close(go)
                go = -1
            else:
                break
    except BaseException:  # whatever went wrong, the group goes
        pass
    finally:
        os.killpg(0, signal.SIGKILL)
    os._exit(0)


def _start_watchdog(conn: Connection) -> int:
    """Fork the watchdog (while this process has one thread, so the fork is
    clean); returns the end of the pipe on which it passes ``GO`` on."""
    go_read, go_write = os.pipe()
    job_process = os.getpid()
    if os.fork() == 0:
        os.close(go_read)
        _watchdog(conn, go_write, job_process)
    os.close(go_write)
    return go_read


def _wait_for_go(go: int) -> bool:
    received = b""
    while len(received) < len(GO):
        chunk = os.read(go, len(GO) - len(received))
        if not chunk:
            return False
        received += chunk
    os.close(go)
    return received == GO.encode()


def _redirect_output(log_path: str) -> None:
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)


def run_tool(request: dict[str, Any], conn: Connection) -> None:
    """The body of a job's process (the target the supervisor starts)."""
    os.setsid()
    go = _start_watchdog(conn)
    threading.Thread(target=_watch_parent, args=(os.getppid(),), daemon=True).start()
    _redirect_output(request["log"])
    try:
        registry = ToolRegistry.from_entry_points(request["extra_tools"], only=request["tool"])
        tool = registry.get(request["tool"])
        if not _wait_for_go(go):
            os._exit(0)
        threads = request.get("threads")
        if threads:
            use_threads(threads)
        if not tool.huge_pages:
            without_huge_pages()
        context = RunContext(
            workdir=Path(request["workdir"]),
            cache_root=Path(request["cache"]),
            threads=threads,
            report=lambda fraction, message: conn.send(
                {"type": "progress", "fraction": fraction, "message": message}
            ),
            report_estimate=lambda fraction, message, eta_s: conn.send(
                {
                    "type": "progress",
                    "fraction": fraction,
                    "message": message,
                    "estimated": True,
                    "eta_s": eta_s,
                }
            ),
            expected_s=request.get("expected_s"),
            report_models=lambda models: conn.send(
                {"type": "models", "models": [model_record(m) for m in models]}
            ),
            report_use=lambda credits: conn.send({"type": "usage", "credits": credits}),
            host_scope=HostScope.of_job_process(),
        )
        inputs = codec.decode_inputs(request["inputs"])
        result = tool.run(inputs, tool.parse_settings(request["settings"]), context)
    except ValidationError as exc:
        conn.send({"type": "error", "message": exc.message, "input_error": True})
        os._exit(3)
    except BaseException as exc:
        traceback.print_exc()
        conn.send({"type": "error", "message": f"{type(exc).__name__}: {exc}"})
        os._exit(1)
    conn.send({"type": "result", "result": codec.encode_result(result)})
    conn.close()
    os._exit(0)
