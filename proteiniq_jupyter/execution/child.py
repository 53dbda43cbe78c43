"""A job's own process: runs one tool and reports to its supervisor over a pipe.

Job processes are forked from a warm fork server (started once per worker, with
the engine's modules already imported), so a job starts in milliseconds rather
than paying for a fresh interpreter. Each one becomes the leader of a new process
group at once, so cancelling kills the tool and everything it started. Its output
goes to the job's log. If its supervisor's side goes away, the group kills itself:
no tool outlives the worker that ran it.
"""

from __future__ import annotations

import os
import signal
import threading
import time
import traceback
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from ..jobs.errors import ValidationError
from ..store import codec
from ..tools.base import RunContext
from ..tools.registry import ToolRegistry

#: What the supervisor sends once the job is PROCESSING; anything else means stop.
GO = "go"


def _watch_parent(parent: int) -> None:
    while True:
        time.sleep(0.2)
        if os.getppid() != parent:
            os.killpg(0, signal.SIGKILL)


def _redirect_output(log_path: str) -> None:
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)


def run_tool(request: dict[str, Any], conn: Connection) -> None:
    """The body of a job's process (the target the supervisor starts)."""
    os.setsid()
    threading.Thread(target=_watch_parent, args=(os.getppid(),), daemon=True).start()
    _redirect_output(request["log"])
    try:
        registry = ToolRegistry.from_entry_points(request["extra_tools"], only=request["tool"])
        tool = registry.get(request["tool"])
        if conn.recv() != GO:
            os._exit(0)
        context = RunContext(
            workdir=Path(request["workdir"]),
            cache_root=Path(request["cache"]),
            report=lambda fraction, message: conn.send(
                {"type": "progress", "fraction": fraction, "message": message}
            ),
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
